# SPDX-License-Identifier: MIT
"""The outbound quota policy service (roles/postfix_hardening/files/usr/local/lib/mailfort/mailfort_quota.py): its
configuration rules, sliding-window counting per login, overrides, the answers and log lines, the saved state."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles/postfix_hardening/files/usr/local/lib/mailfort/mailfort_quota.py"
_spec = importlib.util.spec_from_file_location("mailfort_quota", SCRIPT)
quota = importlib.util.module_from_spec(_spec)
sys.modules["mailfort_quota"] = quota  # dataclasses look their module up there
_spec.loader.exec_module(quota)

CONFIG = """
# comment
[defaults]
limits = 60:3:5 3600:10:20   # per minute and per hour

[login Newsletter@Example.org]
limits = 60:100:1000

[login exempt@example.org]
limits =
"""


def _request(login: str = "alice@example.org", recipients: int = 1, state: str = "END-OF-MESSAGE") -> dict:
    return {
        "request": "smtpd_access_policy",
        "protocol_state": state,
        "sasl_username": login,
        "recipient_count": str(recipients),
        "client_address": "192.0.2.7",
        "queue_id": "4XyZ1",
    }


@pytest.fixture
def ledger():
    return quota.Ledger(quota.parse_config(CONFIG))


def test_config_gives_defaults_sorted_by_window_and_overrides_by_lower_case_login():
    quotas = quota.parse_config(CONFIG)

    assert quotas.defaults == (quota.Limit(60, 3, 5), quota.Limit(3600, 10, 20))
    assert quotas.for_login("NEWSLETTER@example.org") == (quota.Limit(60, 100, 1000),)
    assert quotas.for_login("exempt@example.org") == ()
    assert quotas.for_login("bob@example.org") == quotas.defaults


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[login a@example.org]\nlimits = 60:1:1\n", r"\[defaults\] section is missing"),
        ("[defaults]\nlimits =\n", r"at least one window"),
        ("[defaults]\nlimits = 60:0:5\n", r"messages and recipients must be between 1"),
        ("[defaults]\nlimits = 60:5:-1\n", r"is not WINDOW:MESSAGES:RECIPIENTS"),
        ("[defaults]\nlimits = 0:5:5\n", r"window 0 must be between 1 and 604800"),
        ("[defaults]\nlimits = 604801:5:5\n", r"window 604801 must be between"),
        ("[defaults]\nlimits = 60:5:5 60:6:6\n", r"window 60 is given twice"),
        ("[defaults]\nlimits = 60:5.5:5\n", r"'60:5.5:5' is not WINDOW"),
        ("[defaults]\nlimits = 60:5:5\nburst = 3\n", r"\[defaults\]: unknown key\(s\) burst"),
        ("[defaults]\nlimits = 60:5:5\n[user bob]\nlimits = 60:1:1\n", r"\[user bob\]: a section is"),
        ("[defaults]\nlimits = 60:5:5\n[login bob@example.org]\n", r"\[login bob@example.org\]: limits is missing"),
        ("limits = 60:5:5\n", r"not readable as INI"),
    ],
    ids=[
        "no defaults",
        "empty defaults",
        "zero messages",
        "negative recipients",
        "zero window",
        "window too long",
        "window twice",
        "not a whole number",
        "unknown key",
        "unknown section",
        "override without limits key",
        "no section",
    ],
)
def test_bad_config_is_refused_naming_the_rule(text, match):
    with pytest.raises(quota.QuotaConfigError, match=match):
        quota.parse_config(text)


def test_messages_up_to_the_limit_pass_and_the_next_is_deferred_with_a_log_line(ledger):
    answers = [ledger.decide(_request(), now=1000.0 + i) for i in range(4)]

    assert [a.action for a in answers[:3]] == ["DUNNO"] * 3
    assert answers[3].action.startswith("451 4.7.1 Outbound quota reached: at most 3 messages in 60 seconds")
    assert answers[3].log == (
        "refused: sasl_username=alice@example.org client=192.0.2.7 queue_id=4XyZ1 limit=messages 3/60s"
        " sent=3 messages, 3 recipients; this message 1 recipients"
    )
    assert all(a.log is None for a in answers[:3])


def test_recipients_are_counted_per_message(ledger):
    assert ledger.decide(_request(recipients=4), now=1000.0).action == "DUNNO"
    refused = ledger.decide(_request(recipients=2), now=1001.0)

    assert refused.action.startswith("451 4.7.1 Outbound quota reached: at most 5 recipients in 60 seconds")
    assert ledger.decide(_request(recipients=1), now=1002.0).action == "DUNNO"


def test_the_window_slides_and_a_refused_message_is_not_counted(ledger):
    for i in range(3):
        ledger.decide(_request(), now=1000.0 + i)
    assert ledger.decide(_request(), now=1059.0).action.startswith("451 ")

    # 60 s after the first message it has left the window; the refused attempts never entered it.
    assert ledger.decide(_request(), now=1060.5).action == "DUNNO"
    assert ledger.decide(_request(), now=1061.5).action == "DUNNO"
    assert ledger.decide(_request(), now=1061.9).action.startswith("451 ")


def test_the_longer_window_holds_when_the_short_one_allows(ledger):
    answers = [ledger.decide(_request(), now=1000.0 + 61 * i).action for i in range(11)]

    assert answers[:10] == ["DUNNO"] * 10
    assert answers[10].startswith("451 4.7.1 Outbound quota reached: at most 10 messages in 3600 seconds")


def test_another_login_is_unaffected(ledger):
    for i in range(4):
        ledger.decide(_request(), now=1000.0 + i)

    assert ledger.decide(_request("bob@example.org"), now=1004.0).action == "DUNNO"


def test_override_raises_the_quota_and_an_empty_override_lifts_it(ledger):
    assert all(ledger.decide(_request("newsletter@example.org"), now=1000.0).action == "DUNNO" for _ in range(50))
    assert all(ledger.decide(_request("exempt@example.org", 100), now=1000.0).action == "DUNNO" for _ in range(50))
    assert "exempt@example.org" not in ledger.history


@pytest.mark.parametrize(
    "request_",
    [
        _request(state="RCPT"),
        _request(state="DATA"),
        _request(login=""),
        {**_request(), "request": "something_else"},
    ],
    ids=["rcpt stage", "data stage", "not logged in", "other request type"],
)
def test_anything_but_a_logged_in_end_of_message_is_neither_counted_nor_refused(ledger, request_):
    for i in range(10):
        assert ledger.decide(request_, now=1000.0 + i).action == "DUNNO"
    assert sum(len(events) for events in ledger.history.values()) == 0


def test_a_malformed_recipient_count_counts_as_one(ledger):
    assert ledger.decide({**_request(), "recipient_count": "many"}, now=1000.0).action == "DUNNO"
    assert list(ledger.history["alice@example.org"]) == [(1000.0, 1)]


def test_request_lines_are_parsed_and_values_may_hold_equals_signs():
    assert quota.parse_request(["request=smtpd_access_policy", "sender=a=b@example.org", "junk"]) == {
        "request": "smtpd_access_policy",
        "sender": "a=b@example.org",
    }


def test_state_survives_a_save_and_load_and_forget_clears_one_login(ledger, tmp_path, monkeypatch):
    monkeypatch.setattr(quota.time, "time", lambda: 1010.0)
    for i in range(3):
        ledger.decide(_request(), now=1000.0 + i)
        ledger.decide(_request("bob@example.org"), now=1000.0 + i)
    state = tmp_path / "state.json"
    quota.save_state(str(state), ledger)

    reloaded = quota.Ledger(ledger.quotas, quota.load_state(str(state)))
    assert reloaded.decide(_request(), now=1005.0).action.startswith("451 ")
    assert reloaded.forget("ALICE@example.org")
    assert reloaded.decide(_request(), now=1005.0).action == "DUNNO"
    assert set(json.loads(state.read_text())) == {"alice@example.org", "bob@example.org"}


def test_an_unreadable_state_file_starts_empty(tmp_path, capsys):
    state = tmp_path / "state.json"
    state.write_text("{not json")

    assert quota.load_state(str(state)) == {}
    assert quota.load_state(str(tmp_path / "missing.json")) == {}
    assert "unreadable, starting with empty counters" in capsys.readouterr().err


def test_check_mode_accepts_a_good_file_and_refuses_a_bad_one(tmp_path, capsys):
    good, bad = tmp_path / "good.conf", tmp_path / "bad.conf"
    good.write_text(CONFIG)
    bad.write_text("[defaults]\nlimits = 60:0:1\n")

    assert quota.main(["--config", str(good), "--check"]) == 0
    assert quota.main(["--config", str(bad), "--check"]) == 1
    assert "messages and recipients must be between 1" in capsys.readouterr().err


def test_forget_from_the_command_line_rewrites_the_state_file(tmp_path):
    config, state = tmp_path / "quota.conf", tmp_path / "state.json"
    config.write_text(CONFIG)
    now = quota.time.time()
    state.write_text(json.dumps({"alice@example.org": [[now, 1]], "bob@example.org": [[now, 2]]}))

    assert quota.main(["--config", str(config), "--state", str(state), "--forget", "alice@example.org"]) == 0
    assert set(json.loads(state.read_text())) == {"bob@example.org"}


def test_serving_without_a_socket_from_systemd_refuses_to_start(tmp_path, monkeypatch):
    config = tmp_path / "quota.conf"
    config.write_text(CONFIG)
    monkeypatch.delenv("LISTEN_FDS", raising=False)

    assert quota.main(["--config", str(config), "--state", str(tmp_path / "s.json")]) == 2
