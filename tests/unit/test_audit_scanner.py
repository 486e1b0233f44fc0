# SPDX-License-Identifier: MIT
"""The audit's sslyze runs (plugins/plugin_utils/audit_scanner.py): names, argv, reading the verdicts, and failures
of the program itself, with a stand-in program that prints what sslyze prints."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from ansible_collections.mailfort.mail.plugins.action.mail_audit import ActionModule
from ansible_collections.mailfort.mail.plugins.plugin_utils import audit_scanner

COMPLIANT = """
 COMPLIANCE AGAINST MOZILLA TLS CONFIGURATION
 --------------------------------------------

    Checking results against Mozilla's "MozillaTlsConfigurationEnum.INTERMEDIATE" configuration. See
    https://ssl-config.mozilla.org/ for more details.

    mx1.lab.example:465: OK - Compliant.

    mx1.lab.example:993: FAILED - Not compliant.
        * tls_versions: TLS versions {'TLSv1.1'} are supported, but should be rejected.
        * ciphers: Cipher suites {'TLS_RSA_WITH_AES_128_CBC_SHA'} are supported, but should be rejected.
"""


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("scan:465", ("", 465)),
        ("scan:smtp:587", ("smtp", 587)),
        ("scan:imap:143", ("imap", 143)),
        ("scan:pop3:110", ("pop3", 110)),
        ("scan:ftp:21", None),
        ("scan:smtp", None),
        ("tls:465", None),
    ],
)
def test_parse_scan_reads_the_way_tls_starts_and_the_port(name, parsed):
    assert audit_scanner.parse_scan(name) == parsed


def test_parse_output_reads_each_verdict_and_its_reasons():
    verdicts = audit_scanner.parse_output(COMPLIANT)
    assert verdicts[465] == {"verdict": "compliant", "reasons": {}, "judged": "compliant"}
    assert verdicts[993]["verdict"] == "not compliant"
    assert set(verdicts[993]["reasons"]) == {"tls_versions", "ciphers"}
    assert verdicts[993]["judged"].startswith("not compliant (tls_versions: TLS versions {'TLSv1.1'} are supported")


def test_parse_output_of_anything_else_has_no_verdict():
    assert audit_scanner.parse_output("Connection refused\n    * tls_versions: orphan reason\n") == {}


def test_command_names_the_host_for_sni_and_connects_to_the_address():
    argv = audit_scanner.command(
        "/opt/sslyze",
        profile="modern",
        mode="smtp",
        name="mx.example",
        address="192.0.2.25",
        ports=[25, 587],
        ca_file="/srv/audit/ca.pem",
    )
    assert argv == [
        "/opt/sslyze",
        "--mozilla_config=modern",
        "--certinfo_ca_file",
        "/srv/audit/ca.pem",
        "--starttls",
        "smtp",
        "mx.example:25{192.0.2.25}",
        "mx.example:587{192.0.2.25}",
    ]


def _program(tmp_path: Path, script: str) -> str:
    path = tmp_path / "sslyze"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_run_scans_runs_once_per_way_tls_starts_and_hands_each_scan_its_verdict(tmp_path):
    log = tmp_path / "calls"
    program = _program(tmp_path, f'echo "$@" >> {log}\ncat <<"EOF"\n{COMPLIANT}\nEOF\n')
    found = audit_scanner.run_scans(
        program,
        ["scan:465", "scan:993", "scan:smtp:587"],
        address="192.0.2.25",
        name="mx1.lab.example",
        ca_pem="-----BEGIN CERTIFICATE-----\n",
        profile="intermediate",
    )
    assert found["scan:465"]["judged"] == "compliant"
    assert found["scan:993"]["verdict"] == "not compliant"
    # The smtp runs printed no verdict for 587, the second one neither: an error quoting what it said last.
    assert found["scan:smtp:587"]["error"].startswith("sslyze gave no verdict for 587 (exit 0: ")
    calls = sorted(log.read_text().splitlines())
    assert len(calls) == 3
    smtp = [call for call in calls if "--starttls smtp" in call]
    assert len(smtp) == 2
    assert smtp[0] == smtp[1]
    assert any("--starttls smtp mx1.lab.example:587{192.0.2.25}" in call for call in calls)
    assert any(call.endswith("mx1.lab.example:465{192.0.2.25} mx1.lab.example:993{192.0.2.25}") for call in calls)
    assert all("--certinfo_ca_file" in call for call in calls)


def test_a_port_without_a_verdict_is_scanned_once_more_alone_and_keeps_the_second_verdict(tmp_path):
    # The first run has no verdict for 993 (sslyze could not finish it); the second, for 993 alone, has one.
    log = tmp_path / "calls"
    once = tmp_path / "once"
    first = COMPLIANT.split("    mx1.lab.example:993", maxsplit=1)[0]
    program = _program(
        tmp_path,
        f'echo "$@" >> {log}\nif [ -e {once} ]; then cat <<"EOF"\n{COMPLIANT}\nEOF\n'
        f'else touch {once}; cat <<"EOF"\n{first}\nEOF\nfi\n',
    )
    found = audit_scanner.run_scans(
        program, ["scan:465", "scan:993"], address="192.0.2.25", name="mx1.lab.example", ca_pem="", profile="x"
    )
    assert found["scan:465"]["judged"] == "compliant"
    assert found["scan:993"]["verdict"] == "not compliant"
    calls = log.read_text().splitlines()
    assert len(calls) == 2
    assert calls[1].endswith("--mozilla_config=x mx1.lab.example:993{192.0.2.25}")


def test_a_program_that_fails_gives_an_error_per_scan_with_its_last_words(tmp_path):
    program = _program(tmp_path, 'echo "Error: Could not connect" >&2\nexit 1\n')
    found = audit_scanner.run_scans(program, ["scan:465"], address="192.0.2.25", name="mx", ca_pem="", profile="x")
    assert found == {"scan:465": {"error": "sslyze gave no verdict for 465 (exit 1: Error: Could not connect)"}}


def test_a_missing_program_and_a_bad_name_are_errors_not_exceptions(tmp_path):
    found = audit_scanner.run_scans(
        str(tmp_path / "nowhere"),
        ["scan:465", "scan:ftp:21"],
        address="192.0.2.25",
        name="mx",
        ca_pem="",
        profile="intermediate",
    )
    assert found["scan:465"]["error"].startswith("sslyze gave no verdict for 465 (FileNotFoundError")
    assert "is no scan" in found["scan:ftp:21"]["error"]


# The action's side (plugins/action/mail_audit.py): whether it may scan, and what it says when it does not.
EXEMPT = {
    "mail_firewall_rate_limit_exempt": ["10.89.60.1"],
    "postfix_hardening_rate_limit_exceptions": ["10.89.60.0/24"],
}
LISTS = "mail_firewall_rate_limit_exempt, postfix_hardening_rate_limit_exceptions, fail2ban_ignore_networks"


def _refusal(variables: dict, auditor: str, ignored: list, probes: dict | None = None) -> str:
    return ActionModule._scan_refusal(probes or {}, Templar(loader=DataLoader(), variables=variables), auditor, ignored)


def test_an_auditor_every_limit_exempts_may_scan():
    assert _refusal(EXEMPT, "10.89.60.1", ["10.89.60.1/32"]) == ""


def test_loopback_needs_no_exemption_from_the_meters():
    # The ruleset accepts loopback and anvil exempts it; fail2ban's ignore list still has to name it.
    assert _refusal({}, "127.0.0.1", ["127.0.0.0/8"]) == ""


@pytest.mark.parametrize(
    ("variables", "ignored", "missing"),
    [
        ({}, [], LISTS),
        (
            {"mail_firewall_rate_limit_exempt": ["10.89.60.1"]},
            ["10.89.60.1"],
            "postfix_hardening_rate_limit_exceptions",
        ),
        (
            {**EXEMPT, "mail_firewall_rate_limit_exempt": ["10.0.0.0/24"]},
            ["10.89.60.1"],
            "mail_firewall_rate_limit_exempt",
        ),
        (EXEMPT, ["192.0.2.0/24"], "fail2ban_ignore_networks"),
    ],
)
def test_an_auditor_a_limit_does_not_exempt_is_refused_naming_each_list(variables, ignored, missing):
    assert _refusal(variables, "10.89.60.1", ignored) == (
        "not scanned: sslyze opens dozens of connections a port, so the auditor's address 10.89.60.1 "
        f"must be in {missing}"
    )


def test_a_host_that_already_drops_the_auditor_is_not_scanned():
    probes = {"tls:465": {"error": "not probed: tls:587 timed out, the host drops this auditor (10.89.60.1)"}}
    assert _refusal(EXEMPT, "10.89.60.1", ["10.89.60.1"], probes) == (
        "not scanned: tls:587 timed out, the host drops this auditor (10.89.60.1)"
    )


def _scans(scans: list, address: str = "10.0.0.1", *, why_not: str = "", sslyze: str = "") -> dict:
    return ActionModule._scans(scans, address, "mx", "", why_not=why_not, sslyze=sslyze, profile="intermediate")


def test_scans_say_why_they_did_not_run(tmp_path):
    scans = ["scan:465", "scan:smtp:587"]
    absent = tmp_path / "sslyze"
    assert _scans([]) == {}
    assert _scans(scans, "") == {scan: {"error": "no address to probe (mail_audit_address)"} for scan in scans}
    assert _scans(scans, why_not="not scanned: x") == {scan: {"skipped": "not scanned: x"} for scan in scans}
    assert _scans(scans, sslyze=str(absent)) == {
        scan: {"skipped": f"not scanned: no sslyze on the controller at {absent} (mail_audit_sslyze)"} for scan in scans
    }
