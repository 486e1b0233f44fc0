# SPDX-License-Identifier: MIT
"""Drift (plugins/plugin_utils/audit_drift.py): a check run's results as file changes, and the controls they touch."""

from __future__ import annotations

import pytest
from ansible_collections.mailfort.mail.plugins.plugin_utils import audit, audit_drift

MAIN_CF_BEFORE = "# managed\nsmtpd_tls_auth_only = no\nsmtpd_banner = $myhostname ESMTP\n"
MAIN_CF_AFTER = "# managed\nsmtpd_tls_auth_only = yes\nsmtpd_banner = $myhostname ESMTP\n"


def mail_config_result(path: str, before: str, after: str, differs: list[str] | None = None) -> dict:
    """What mailfort.mail.mail_config returns under --check --diff for one differing file."""
    return {
        "changed": True,
        "changed_files": [path.rsplit("/", 1)[-1]],
        "changes": [{"dest": path.rsplit("/", 1)[-1], "path": path, "differs": differs or ["content"]}],
        "diff": [{"before_header": path, "after_header": path, "before": before, "after": after}],
    }


@pytest.mark.parametrize(
    ("line", "keys"),
    [
        ("smtpd_tls_auth_only = yes", {"smtpd_tls_auth_only"}),
        ("  ssl_min_protocol = TLSv1.2", {"ssl_min_protocol"}),
        ("Canonicalization relaxed/simple", {"Canonicalization"}),
        ("submission inet n - y - - smtpd", {"submission"}),
        (
            "  -o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes",
            {"smtpd_tls_security_level", "smtpd_sasl_auth_enable"},
        ),
        ("maxretry = 2", {"maxretry"}),
        ("# smtpd_tls_auth_only = no", set()),
        ("; a comment", set()),
        ("[postfix]", set()),
        ("", set()),
    ],
)
def test_line_keys_names_the_settings_a_line_sets(line: str, keys: set[str]) -> None:
    assert audit_drift.line_keys(line) == keys


def test_changed_lines_are_the_diff_without_context_or_headers() -> None:
    assert audit_drift.changed_lines(MAIN_CF_BEFORE, MAIN_CF_AFTER) == [
        "-smtpd_tls_auth_only = no",
        "+smtpd_tls_auth_only = yes",
    ]


def test_changed_lines_keep_a_removed_line_that_starts_with_dashes() -> None:
    assert audit_drift.changed_lines("a\n-- b\n", "a\n") == ["--- b"]


def test_a_mail_config_result_becomes_one_change_with_its_keys() -> None:
    [change] = audit_drift.changes_of_result(mail_config_result("/etc/postfix/main.cf", MAIN_CF_BEFORE, MAIN_CF_AFTER))
    assert change["path"] == "/etc/postfix/main.cf"
    assert change["differs"] == ["content"]
    assert change["keys"] == ["smtpd_tls_auth_only"]
    assert change["lines"] == ["-smtpd_tls_auth_only = no", "+smtpd_tls_auth_only = yes"]


def test_an_attribute_diff_says_what_would_change() -> None:
    result = {
        "changed": True,
        "changes": [{"path": "/etc/dovecot/mailfort/passdb-1", "differs": ["mode"]}],
        "diff": [
            {
                "before_header": "/etc/dovecot/mailfort/passdb-1",
                "after_header": "/etc/dovecot/mailfort/passdb-1",
                "before": {"mode": "0644"},
                "after": {"mode": "0640"},
            }
        ],
    }
    [change] = audit_drift.changes_of_result(result)
    assert change["differs"] == ["mode"]
    assert change["lines"] == ["mode: 0644 -> 0640"]


def test_a_secret_file_shows_only_the_placeholder_the_role_put_in_its_diff() -> None:
    hidden = mail_config_result(
        "/etc/dovecot/mailfort/passdb-1",
        "(secret: the live content is not shown)\n",
        "(secret: the new content is not shown)\n",
    )
    [change] = audit_drift.changes_of_result(hidden)
    assert all("secret" in line for line in change["lines"])
    assert change["keys"] == []


def test_a_no_log_result_reports_a_hidden_change_and_nothing_of_it() -> None:
    censored = {"changed": True, "censored": "the output has been hidden", "diff": [{"after": "password = x"}]}
    assert audit_drift.changes_of_result(censored) == [
        {"path": "", "differs": ["hidden (no_log)"], "lines": [], "keys": []}
    ]


def test_an_unchanged_result_and_a_loop_are_read_item_by_item() -> None:
    assert audit_drift.changes_of_result({"changed": False, "diff": []}) == []
    loop = {"changed": True, "results": [{"changed": False}, {"changed": True, "path": "/etc/mailfort"}]}
    assert [c["path"] for c in audit_drift.changes_of_result(loop)] == ["/etc/mailfort"]


def test_a_long_diff_is_cut_and_says_how_much_was_left_out() -> None:
    before = "".join(f"k{i} = 1\n" for i in range(30))
    [change] = audit_drift.changes_of_result(mail_config_result("/etc/postfix/main.cf", before, ""))
    assert len(change["lines"]) == audit_drift.LINES_MAX + 1
    assert change["lines"][-1] == "... 10 more lines"


CONTROLS = [
    ("PFX-01", [{"postconf": "smtpd_tls_auth_only", "equals": "yes"}], []),
    ("PFX-10", [{"config_check": "postfix", "equals": "passes"}], ["/etc/postfix/*"]),
    ("DOV-03", [{"doveconf": "ssl_min_protocol", "equals": "TLSv1.2"}], []),
    ("DOV-05", [{"file": "/etc/dovecot/mailfort", "equals": "x"}], []),
    ("TLS-04", [{"certificate": "/etc/mailfort/tls/mx.pem", "field": "key", "equals": "x"}], []),
]


def touched(path: str, keys: list[str]) -> list[str]:
    [change] = audit_drift.controls_touched([{"path": path, "keys": keys}], CONTROLS)
    return change["controls"]


def test_a_changed_postfix_parameter_touches_the_control_that_reads_it_and_the_config_control() -> None:
    assert touched("/etc/postfix/main.cf", ["smtpd_tls_auth_only"]) == ["PFX-01", "PFX-10"]


def test_a_parameter_name_counts_only_in_its_daemons_files() -> None:
    assert touched("/etc/dovecot/dovecot.conf", ["smtpd_tls_auth_only"]) == []
    assert touched("/etc/dovecot/dovecot.conf", ["ssl_min_protocol"]) == ["DOV-03"]


def test_a_file_under_a_checked_directory_and_a_checked_certificate_are_touched_by_path() -> None:
    assert touched("/etc/dovecot/mailfort/passdb-1", []) == ["DOV-05"]
    assert touched("/etc/mailfort/tls/mx.pem", []) == ["TLS-04"]
    assert touched("/etc/dovecot/mailfortx", []) == []


def test_a_change_without_a_file_touches_no_control() -> None:
    assert touched("", ["smtpd_tls_auth_only"]) == []


def test_drift_summary_counts_changes_or_says_why_not() -> None:
    assert audit_drift.drift_summary(None) == ""
    assert audit_drift.drift_summary({"error": "unreachable", "changes": []}) == "drift: not compared"
    assert audit_drift.drift_summary({"error": "", "changes": []}) == "no drift"
    assert audit_drift.drift_summary({"error": "", "changes": [{}, {}]}) == "drift: 2 changes"


def test_plain_drift_keeps_only_the_known_keys() -> None:
    record = audit_drift.plain_drift(
        {
            "error": None,
            "changes": [
                {
                    "role": "r",
                    "task": "t",
                    "path": "/p",
                    "differs": ["content"],
                    "lines": ["-a"],
                    "keys": ["a"],
                    "extra": "dropped",
                }
            ],
        }
    )
    assert record == {
        "error": "",
        "changes": [{"role": "r", "task": "t", "path": "/p", "differs": ["content"], "lines": ["-a"], "keys": ["a"]}],
    }
    assert audit_drift.plain_drift(None) == {"error": "no drift record for this host"}


def test_summary_line_carries_the_drift_only_when_asked_for() -> None:
    summary = {"host": "mx1", "controls": 2, "pass": 1, "waived": 0, "not applicable": 0, "fail": 1}
    assert audit.summary_line(summary) == "mx1: 2 controls, 1 pass, 0 waived, 0 n/a, 1 fail"
    assert audit.summary_line({**summary, "drift": "drift: 1 change"}).endswith("1 fail; drift: 1 change")


@pytest.mark.parametrize("bad", ["/etc/postfix/*", [""], [3]])
def test_a_drift_files_entry_that_is_no_list_of_globs_is_a_catalogue_defect(bad: object) -> None:
    control = {
        "id": "X-01",
        "audit": {"remediation": "r", "checks": [{"value": "1", "equals": "1"}], "drift_files": bad},
    }
    assert any("drift_files must be a list" in p for p in audit.definition_problems(control))


def test_lines_that_differ_only_in_spacing_are_counted_not_shown_and_set_no_key() -> None:
    before = "submission inet  n - y - - smtpd\n    -o smtpd_tls_auth_only=no\n    -o syslog_name=postfix/submission\n"
    after = "submission   inet n - y - - smtpd\n  -o smtpd_tls_auth_only=yes\n  -o syslog_name=postfix/submission\n"
    [change] = audit_drift.changes_of_result(mail_config_result("/etc/postfix/master.cf", before, after))
    assert change["keys"] == ["smtpd_tls_auth_only"]
    assert change["lines"] == [
        "-    -o smtpd_tls_auth_only=no",
        "+  -o smtpd_tls_auth_only=yes",
        "(4 lines differ only in spacing)",
    ]
