# SPDX-License-Identifier: MIT
"""The audit's judgement (plugin_utils/audit.py) and its reports (plugin_utils/audit_report.py), on evidence written
by hand; the catalogue's audit entries are checked in test_controls.py, the audit of live hosts in the lab
(tests/integration/common/test_audit.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
import yaml
from ansible_collections.mailfort.mail.plugins.plugin_utils import audit, audit_evidence, audit_probes

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = yaml.safe_load((ROOT / "controls.yml").read_text())["controls"]

NFT = [
    {"table": {"family": "inet", "name": "mailfort"}},
    {"chain": {"family": "inet", "table": "mailfort", "name": "input", "hook": "input", "policy": "drop"}},
    {
        "rule": {
            "chain": "input",
            "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iif"}}, "right": "lo"}}, {"accept": None}],
        }
    },
    {
        "rule": {
            "chain": "input",
            "expr": [
                {
                    "match": {
                        "op": "==",
                        "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                        "right": "@ban_sshd_v4",
                    }
                },
                {"counter": {"packets": 0, "bytes": 0}},
                {"drop": None},
            ],
        }
    },
    {
        "rule": {
            "chain": "input",
            "expr": [
                {
                    "match": {
                        "op": "==",
                        "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                        "right": {"set": [25, 587]},
                    }
                },
                {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "new"}},
                {"set": {"op": "update", "elem": {}, "set": "@flood_v4"}},
                {"drop": None},
            ],
        }
    },
    {
        "rule": {
            "chain": "input",
            "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}},
                {
                    "match": {
                        "op": "==",
                        "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                        "right": "@allow_admin_v4",
                    }
                },
                {"accept": None},
            ],
        }
    },
    {
        "rule": {
            "chain": "input",
            "expr": [
                {
                    "match": {
                        "op": "==",
                        "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                        "right": {"set": [25, {"range": [465, 466]}]},
                    }
                },
                {"accept": None},
            ],
        }
    },
]


def test_nft_summary_reads_policy_open_allowlisted_metered_ports_and_ban_sets():
    summary = audit_evidence.nft_summary(NFT)
    assert summary["policy"] == "drop"
    assert summary["open_ports"] == [25, 465, 466]
    assert summary["allowlisted_ports"] == {22: ["@allow_admin_v4"]}
    assert summary["metered_ports"] == [25, 587]
    assert summary["ban_sets"] == ["ban_sshd_v4"]
    assert summary["accepts_everything"] is False


def test_nft_summary_sees_a_rule_that_accepts_everything_and_a_missing_table():
    everything = [*NFT, {"rule": {"chain": "input", "expr": [{"accept": None}]}}]
    assert audit_evidence.nft_summary(everything)["accepts_everything"] is True
    assert audit_evidence.nft_summary(None)["exists"] is False


EVIDENCE = {
    "versions": {"postfix": "3.7.11", "dovecot": "2.3.19.1"},
    "postconf": {
        "smtpd_tls_auth_only": "yes",
        "tls_ssl_options": "NO_COMPRESSION, NO_RENEGOTIATION",
        "smtpd_client_connection_rate_limit": "60",
    },
    "postconf_services": {"submission/inet": {"smtpd_tls_auth_only": "no"}},
    "doveconf": {"auth_failure_delay": "3 secs"},
    "files": {"/k": {"exists": True, "type": "file", "mode": "0640", "owner": "root", "group": "root"}},
    "certificates": {"/c": {"exists": True, "days_left": 5, "names": ["mx.example.org"]}},
    "units": {"postfix.service": {"active": "active", "enabled": "enabled"}},
    "fail2ban": {"running": True, "jails": {"sshd": {"bantime": 600, "banned": 0}}},
    "config_checks": {"postfix": {"passed": False, "output": "warning: bad"}},
    "probes": {
        "smtp:587": {"auth_before_tls": [], "verified": True},
        "relay:25": {"skipped": "not probed: the auditor is not ignored"},
        "smtp:25": {"error": "TimeoutError: timed out"},
    },
    "nft": NFT,
    "updates": {
        "origins": ["origin=Debian,codename=${distro_codename}-security,label=Debian-Security"],
        "periodic": {"Update-Package-Lists": "1", "Unattended-Upgrade": "0"},
        "needrestart_restart": "l",
    },
}


@pytest.mark.parametrize(
    ("check", "passed"),
    [
        ({"postconf": "smtpd_tls_auth_only", "equals": "yes"}, True),
        ({"postconf": "smtpd_tls_auth_only", "service": "submission/inet", "equals": "yes"}, False),
        ({"postconf": "tls_ssl_options", "contains": ["NO_COMPRESSION", "NO_RENEGOTIATION"]}, True),
        ({"postconf": "tls_ssl_options", "excludes": ["NO_TICKET"]}, True),
        ({"postconf": "smtpd_client_connection_rate_limit", "at_most": 60, "at_least": 10}, True),
        ({"postconf": "no_such_parameter", "equals": ""}, False),
        ({"doveconf": "auth_failure_delay", "at_least": 2}, True),
        ({"doveconf": "auth_failure_delay", "at_least": 4}, False),
        ({"file": "/k", "owner": "root", "mode_at_most": "0600"}, False),
        ({"file": "/k", "owner": "root", "mode_at_most": "0640"}, True),
        ({"file": "/missing", "owner": "root"}, False),
        ({"certificate": "/c", "field": "days_left", "at_least": 14}, False),
        ({"certificate": "/c", "field": "names", "superset_of": ["mx.example.org"]}, True),
        ({"unit": "postfix.service", "equals": "active"}, True),
        ({"unit": "postfix.service", "field": "enabled", "equals": "enabled"}, True),
        ({"fail2ban": "jails", "superset_of": ["sshd", "postfix"]}, False),
        ({"fail2ban": "sshd", "field": "bantime", "at_least": 600}, True),
        ({"config_check": "postfix", "equals": "passed"}, False),
        ({"probe": "smtp:587", "field": "auth_before_tls", "equals": []}, True),
        ({"probe": "smtp:25", "field": "starttls", "equals": True}, False),
        ({"probe": "relay:25", "field": "relay_refused", "equals": True}, None),
        ({"nft": "open_ports", "subset_of": [25, 465, 466, 587]}, True),
        ({"nft": "open_ports", "excludes": [22]}, True),
        ({"nft": "allowlisted_ports", "superset_of": [22]}, True),
        ({"value": "", "matches": "."}, False),
        (
            {
                "updates": "origins",
                "contains": ["origin=Debian,codename=${distro_codename}-security,label=Debian-Security"],
            },
            True,
        ),
        ({"updates": "periodic.Update-Package-Lists", "equals": "1"}, True),
        ({"updates": "periodic.Unattended-Upgrade", "equals": "1"}, False),
        ({"updates": "periodic.AutocleanInterval", "equals": "7"}, False),
        ({"updates": "needrestart_restart", "equals": "a"}, False),
        ({"doveconf": "auth_allow_cleartext", "when_version": {"dovecot": ">=2.4"}, "equals": "no"}, None),
    ],
    ids=lambda value: str(value)[:60] if isinstance(value, dict) else str(value),
)
def test_a_check_passes_fails_or_is_not_judged_on_the_evidence(check, passed):
    assert audit.evaluate_check(check, EVIDENCE)["passed"] is passed


def test_a_failed_check_says_what_was_seen_and_what_was_wanted():
    line = audit.evaluate_check({"certificate": "/c", "field": "days_left", "at_least": 14}, EVIDENCE)
    assert line == {"what": "certificate /c days_left", "seen": "5", "wanted": "at least 14", "passed": False}


CONTROL = {
    "id": "PFX-01",
    "title": "Submission only with TLS",
    "role": "postfix_hardening",
    "enabled_by": "postfix_hardening_submission_enabled",
}


@pytest.mark.parametrize(
    ("definition", "status"),
    [
        ({"applies_when": True, "checks": [{"postconf": "smtpd_tls_auth_only", "equals": "yes"}]}, "pass"),
        ({"applies_when": True, "checks": [{"postconf": "smtpd_tls_auth_only", "equals": "no"}]}, "fail"),
        ({"applies_when": False, "checks": []}, "not applicable"),
        (
            {
                "applies_when": True,
                "waived_when": True,
                "checks": [{"postconf": "smtpd_tls_auth_only", "equals": "no"}],
            },
            "waived",
        ),
        ({"applies_when": True, "checks": [{"postconf": "x", "when": False, "equals": "no"}]}, "not applicable"),
    ],
)
def test_a_control_is_pass_fail_waived_or_not_applicable(definition, status):
    result = audit.evaluate_control(CONTROL, {"remediation": "r", **definition}, EVIDENCE)
    assert result["status"] == status
    if status == "not applicable" and definition["applies_when"] is False:
        assert result["reason"] == "off: postfix_hardening_submission_enabled"


def test_a_control_whose_evidence_was_not_gathered_says_why_instead_of_looking_switched_off():
    skipped = {"probes": {"relay:25": {"skipped": "not probed: the auditor is not exempt (fail2ban_ignore_networks)"}}}
    definition = {
        "applies_when": True,
        "remediation": "r",
        "checks": [{"probe": "relay:25", "field": "relay_refused", "equals": True}],
    }
    result = audit.evaluate_control(CONTROL, definition, skipped)
    assert result["status"] == "not applicable"
    assert result["reason"] == "not checked; not probed: the auditor is not exempt (fail2ban_ignore_networks)"


def test_a_pass_that_rests_on_part_of_the_checks_names_what_was_not_checked():
    evidence = {**EVIDENCE, "probes": {"relay:25": {"skipped": "not probed: no address (mail_audit_address)"}}}
    definition = {
        "applies_when": True,
        "remediation": "r",
        "checks": [
            {"postconf": "smtpd_tls_auth_only", "equals": "yes"},
            {"probe": "relay:25", "field": "relay_refused", "equals": True},
            {"probe": "relay:25", "field": "reply", "matches": "^554"},
        ],
    }
    result = audit.evaluate_control(CONTROL, definition, evidence)
    assert result["status"] == "pass"
    assert result["reason"] == "partly checked; not probed: no address (mail_audit_address)"
    full = audit.evaluate_control(CONTROL, {**definition, "checks": definition["checks"][:1]}, evidence)
    assert (full["status"], full["reason"]) == ("pass", "")


def test_a_list_of_files_is_one_check_a_file_and_when_false_drops_a_check():
    checks = audit.expand_checks([{"file": ["/a", "/b"], "owner": "root"}, {"unit": "x", "when": False, "equals": 1}])
    assert checks == [{"file": "/a", "owner": "root"}, {"file": "/b", "owner": "root"}]


@pytest.mark.parametrize(
    ("found", "wanted", "holds"),
    [("2.3.19.1", "<2.4", True), ("2.4.1-4", ">=2.4", True), ("2.4.1-4", "<2.4", False), (None, ">=2.4", False)],
)
def test_version_conditions(found, wanted, holds):
    assert audit.version_matches(found, wanted) is holds


def test_a_version_condition_that_is_no_comparison_is_a_catalogue_defect():
    with pytest.raises(audit.AuditDefinitionError, match="is not OP VERSION"):
        audit.version_matches("2.4", "about 2.4")


@pytest.mark.parametrize(
    ("audit_entry", "problem"),
    [
        (None, "every control needs an audit check"),
        ({"checks": [], "remediation": "r"}, "checks must be a non-empty list"),
        ({"checks": [{"equals": 1}], "remediation": "r"}, "exactly one evidence key"),
        ({"checks": [{"postconf": "a", "doveconf": "b", "equals": 1}], "remediation": "r"}, "exactly one evidence"),
        ({"checks": [{"postconf": "a"}], "remediation": "r"}, "at least one expectation"),
        ({"checks": [{"postconf": "a", "equals": 1, "colour": "red"}], "remediation": "r"}, "unknown keys"),
        ({"checks": [{"postconf": "a", "equals": 1}]}, "remediation must say"),
        ({"checks": [{"postconf": "a", "equals": 1}], "remediation": "r", "later": 1}, "unknown keys"),
    ],
)
def test_a_bad_audit_definition_is_named_with_its_control(audit_entry, problem):
    control = {"id": "XX-01", **({"audit": audit_entry} if audit_entry is not None else {})}
    problems = audit.definition_problems(control)
    assert any(problem in p and p.startswith("XX-01.audit") for p in problems), problems


def test_summary_line_counts_every_status():
    results = [{"status": s} for s in ("pass", "pass", "fail", "waived", "not applicable")]
    assert audit.summary_line(audit.summarise("mx1", results)) == ("mx1: 5 controls, 2 pass, 1 waived, 1 n/a, 1 fail")


DNS = {
    "lab.example. TXT": {
        "expected": ["v=spf1 mx -all"],
        "served": ["v=spf1 mx -all"],
        "agree": True,
        "match": "v=spf1",
    },
    "_dmarc.lab.example. TXT": {"expected": ["v=DMARC1; p=reject"], "served": [], "agree": False, "match": "v=dmarc1"},
    "_25._tcp.mx.lab.example. TLSA": {
        "expected": ["3 1 1 ab"],
        "served": ["3 1 1 ab", "3 1 1 cd"],
        "agree": False,
        "match": "",
    },
}


@pytest.mark.parametrize(
    ("kind", "seen", "passed"),
    [
        ("v=spf1", "served as generated", True),
        ("v=DMARC1", "_dmarc.lab.example. TXT: served [], generated ['v=DMARC1; p=reject']", False),
        ("TLSA", "_25._tcp.mx.lab.example. TLSA: served ['3 1 1 ab', '3 1 1 cd'], generated ['3 1 1 ab']", False),
        ("v=TLSRPTv1", "absent", False),
    ],
)
def test_dns_records_are_judged_served_against_generated(kind, seen, passed):
    line = audit.evaluate_check({"dns": kind, "equals": "served as generated"}, {"dns": DNS})
    assert line["passed"] is passed
    assert line["seen"] == seen


def test_dns_without_a_server_is_not_judged_and_says_why():
    line = audit.evaluate_check({"dns": "v=spf1", "equals": "served as generated"}, {"dns": {"skipped": "no server"}})
    assert line["passed"] is None
    assert line["seen"] == "no server"


@pytest.mark.parametrize(("spki", "passed"), [("cd", True), ("ef", False), ("", False)])
def test_a_served_tlsa_record_must_hold_the_key_served_on_port_25(spki, passed):
    evidence = {"dns": DNS, "probes": {"smtp:25": {"spki_sha256": spki}}}
    assert audit.evaluate_check({"dns": "tlsa_covers_served", "equals": True}, evidence)["passed"] is passed


def test_probe_dns_compares_only_records_of_the_same_kind(monkeypatch):
    served = {
        ("lab.example.", "TXT"): ['"v=spf1 mx " "-all"', '"google-site-verification=x"'],
        ("_25._tcp.mx.lab.example.", "TLSA"): ["3 1 1 AB"],
    }
    monkeypatch.setattr(audit_probes, "served_records", lambda server, name, rdtype, timeout: served[(name, rdtype)])
    found = audit_probes.probe_dns(
        "192.0.2.53",
        [
            {"name": "lab.example.", "type": "TXT", "values": ['"v=spf1 mx -all"'], "match": "v=spf1"},
            {"name": "_25._tcp.mx.lab.example.", "type": "TLSA", "values": ["3 1 1 ab"]},
        ],
    )
    assert found["lab.example. TXT"]["agree"] is True
    assert found["lab.example. TXT"]["served"] == ["v=spf1 mx -all"]
    assert found["_25._tcp.mx.lab.example. TLSA"]["agree"] is True


def _catalogue_probes() -> dict[str, set[str]]:
    """Every probe the catalogue can ask for, every feature on (sslyze's scan:... left out: they run only for an
    auditor the meters exempt, test_mail_audit_scan) -> the conditions (`when`) it is asked under."""
    probes: dict[str, set[str]] = {}
    for control in CATALOGUE:
        for check in control["audit"]["checks"]:
            if "probe" in check and not check["probe"].startswith("scan:"):
                probes.setdefault(check["probe"], set()).add(str(check.get("when", "")))
    return probes


def _connections(probes: Iterable[str], accepts: Callable[[int], set[str]], *, chain_verifies: bool) -> dict:
    """Per port, the connections PROBES open against a host whose port P takes the TLS versions ACCEPTS(P),
    counted with the audit's own version scan (audit_probes.scan_versions) answered as that host would: a session
    opens one connection, two when the chain does not verify, and what it negotiates (its client offers TLS 1.2 and
    newer) is the first answer of its port's scan; the relay and a closed port one each."""
    versions = list(audit_probes.VERSIONS)
    counts: dict[int, int] = {}
    for probe in probes:
        kind, port = probe.partition(":")[0], audit_probes.port_of(probe)
        taken = accepts(port)
        if kind == "tls":
            asked: list[str] = []

            def ask(lowest: str, highest: str, taken: set[str] = taken, asked: list[str] = asked) -> str | None:
                asked.append(lowest)
                answers = [v for v in versions[versions.index(lowest) : versions.index(highest) + 1] if v in taken]
                return answers[-1] if answers else None

            sessions = [
                p for p in probes if p.split(":")[0] in audit_probes.SESSIONS and audit_probes.port_of(p) == port
            ]
            negotiated = [v for v in ("TLSv1.2", "TLSv1.3") if v in taken] if sessions else []
            audit_probes.scan_versions(ask, versions, negotiated[-1] if negotiated else None)
            count = len(asked)
        else:
            count = 1 if kind not in audit_probes.SESSIONS or chain_verifies else 2
        counts[port] = counts.get(port, 0) + count
    return counts


# The ports of the features the roles' defaults leave off: IMAP STARTTLS on 143, POP3 on 995 (and 110 probed closed).
OFF_BY_DEFAULT = {143, 995, 110}


@pytest.mark.parametrize(
    ("profile", "mx_policy", "every_feature", "by_default"),
    [
        ("intermediate", "strict", 20, 13),
        ("intermediate", "interop", 21, 14),
        ("modern", "strict", 14, 9),
        ("modern", "interop", 16, 11),
    ],
)
def test_the_catalogues_probes_stay_under_the_default_meters(profile, mx_policy, every_feature, by_default):
    """Every probe the catalogue can ask for, against a host as the roles make it (the profile's versions, port 25's
    as postfix_hardening_mx_tls_policy says, a chain that verifies): per port at most PORT_BUDGET connections and
    HOST_BUDGET in all, under the firewall's default burst (mail_firewall_rate_limit_burst: 30) and Postfix's
    default per-client rate (60 a minute and service), so that an audit never meets the meters it audits. The
    counts are those the README states (Auditing a host)."""
    profile_versions = {"TLSv1.3"} if profile == "modern" else {"TLSv1.2", "TLSv1.3"}

    def accepts(port: int) -> set[str]:
        return set(audit_probes.VERSIONS) if port == 25 and mx_policy == "interop" else profile_versions

    probes = _catalogue_probes()
    counts = _connections(probes, accepts, chain_verifies=True)
    assert max(counts.values()) <= audit_probes.PORT_BUDGET, counts
    assert sum(counts.values()) == every_feature <= audit_probes.HOST_BUDGET, counts
    assert sum(n for port, n in counts.items() if port not in OFF_BY_DEFAULT) == by_default, counts
    if (profile, mx_policy) == ("intermediate", "strict"):
        assert counts == {25: 4, 587: 3, 465: 3, 993: 3, 143: 3, 995: 3, 110: 1}


def test_whatever_a_host_answers_only_a_version_scan_can_meet_the_budget():
    """The most the catalogue's probes can open: every port takes every TLS version and no chain verifies. No port
    reaches PORT_BUDGET's limit, the sessions, the relay and the closed port stay far under HOST_BUDGET, and the
    two connections over it are refused by audit_probes.Connections, which cuts the last scan short and leaves it
    unjudged (test_audit_probes.py::test_no_connection_is_opened_beyond_the_budget_and_a_cut_scan_is_not_judged)."""
    probes = _catalogue_probes()
    worst = _connections(probes, lambda port: set(audit_probes.VERSIONS), chain_verifies=False)
    assert worst == {25: 6, 587: 5, 465: 5, 993: 5, 143: 5, 995: 5, 110: 1}
    assert max(worst.values()) <= audit_probes.PORT_BUDGET
    assert sum(worst.values()) == audit_probes.HOST_BUDGET + 2
    unscanned = _connections([p for p in probes if not p.startswith("tls:")], lambda port: set(), chain_verifies=False)
    assert sum(unscanned.values()) <= audit_probes.HOST_BUDGET // 2


def test_every_version_scan_starts_from_a_session_on_its_port():
    """A scan without its port's session costs one connection more: each runs under its session's conditions."""
    probes = _catalogue_probes()
    for probe, conditions in probes.items():
        if probe.startswith("tls:"):
            port = audit_probes.port_of(probe)
            sessions = [
                p for p in probes if p.split(":")[0] in audit_probes.SESSIONS and audit_probes.port_of(p) == port
            ]
            assert any(conditions <= probes[session] for session in sessions), (probe, conditions, sessions)


def test_every_tls_port_the_host_serves_has_its_versions_and_its_chain_checked():
    """The ports sslyze judges (TLS-02, every TLS port the host serves) have their versions checked (TLS-01) and
    their chain and name (TLS-09), each under the same condition as the other."""
    checks = {control["id"]: control["audit"]["checks"] for control in CATALOGUE}
    served = {audit_probes.port_of(c["probe"]) for c in checks["TLS-02"] if c.get("probe", "").startswith("scan:")}
    versions = {audit_probes.port_of(c["probe"]): c["when"] for c in checks["TLS-01"] if "probe" in c}
    chains = {audit_probes.port_of(c["probe"]): c["when"] for c in checks["TLS-09"] if c.get("field") == "verified"}
    assert served == set(versions) == set(chains) == {25, 465, 587, 993, 143, 995}
    assert versions == chains


def test_update_evidence_names_what_apt_and_needrestart_read():
    line = audit.evaluate_check({"updates": "needrestart_restart", "equals": "a"}, EVIDENCE)
    assert line == {"what": "needrestart's restart mode", "seen": "l", "wanted": "equals a", "passed": False}
    assert audit.evaluate_check({"updates": "origins", "equals": []}, {})["seen"] == "absent"
    periodic = audit.evaluate_check({"updates": "periodic.Unattended-Upgrade", "equals": "1"}, EVIDENCE)
    assert periodic["what"] == "APT::Periodic::Unattended-Upgrade"
