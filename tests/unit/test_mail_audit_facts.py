# SPDX-License-Identifier: MIT
"""mail_audit_facts: its parsers and journal counters on lines written by hand (the shapes Postfix, Dovecot 2.3 and
2.4 and fail2ban log), its certificate facts on certificates made here, and one run as a task on this machine,
which has none of the mail daemons: every part says what is missing instead of failing."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from module_play import load_module, run_module

facts = load_module("mail_audit_facts")
NOW = datetime.datetime(2026, 12, 2, tzinfo=datetime.UTC)


def test_key_value_lines_reads_postconf_and_doveconf_output_with_empty_values():
    text = "smtpd_tls_auth_only = yes\nmynetworks = 127.0.0.0/8 [::1]/128\nrelayhost =\nnot a setting\n"
    assert facts.key_value_lines(text) == {
        "smtpd_tls_auth_only": "yes",
        "mynetworks": "127.0.0.0/8 [::1]/128",
        "relayhost": "",
    }


LINES = {
    "smtp_auth_failed": "Dec 02 21:50:01 mx1 postfix/submission/smtpd[812]: warning: unknown[192.0.2.7]: SASL PLAIN "
    "authentication failed: (reason unavailable), sasl_username=alice@lab.mailfort.test",
    "dovecot_auth_failed": "Dec 02 21:50:02 mx1 dovecot[500]: auth: passwd-file(alice@lab.mailfort.test,192.0.2.8,"
    "<ip0HK91gVsAKWQAE>): Password mismatch",
    "relay_refused": "Dec 02 21:50:03 mx1 postfix/smtpd[900]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 "
    "<audit@example.com>: Relay access denied; from=<> to=<audit@example.com> proto=ESMTP helo=<x>",
    "quota_refused": "Dec 02 21:50:04 mx1 postfix/submission/smtpd[901]: 4F1C2: reject: END-OF-MESSAGE from "
    "unknown[192.0.2.10]: 451 4.7.1 Outbound quota exceeded for campaign@lab.mailfort.test; proto=ESMTP",
    "fail2ban_ban": "Dec 02 21:50:05 mx1 fail2ban-server[300]: [sshd] Ban 192.0.2.11",
    "fail2ban_unban": "Dec 02 21:50:06 mx1 fail2ban-server[300]: [sshd] Unban 192.0.2.11",
}


@pytest.mark.parametrize("event", sorted(LINES))
def test_each_journal_event_is_recognised_with_its_source(event):
    match = facts.JOURNAL_EVENTS[event].search(LINES[event])
    assert match is not None
    assert (match.groupdict().get("source") or match.groupdict().get("source2")).startswith("192.0.2.")


def test_dovecot_24_failures_count_but_postfix_sasl_requests_to_dovecot_do_not():
    v24 = "dovecot[500]: auth(alice@lab.mailfort.test,192.0.2.8,sasl:plain)<hpCrLd1gwogKWQAE>: slot1: Password mismatch"
    match = facts.JOURNAL_EVENTS["dovecot_auth_failed"].search(v24)
    assert match is not None
    assert match.group("source2") == "192.0.2.8"
    sasl = "dovecot[500]: auth: passwd-file(alice@lab.mailfort.test,192.0.2.8): Password mismatch"
    assert facts.JOURNAL_EVENTS["dovecot_auth_failed"].search(sasl) is None


def test_a_restored_ban_is_no_new_ban():
    assert facts.JOURNAL_EVENTS["fail2ban_ban"].search("fail2ban-server[300]: [sshd] Restore Ban 192.0.2.11") is None


class _Reader:
    """A Reader whose one program prints OUTPUT."""

    def __init__(self, output: str):
        self.output = output
        self.argv: list[str] = []
        self.missing: list[str] = []

    def program(self, name):
        return f"/usr/bin/{name}"

    def run(self, argv):
        self.argv = argv
        return 0, self.output, ""


def test_journal_counts_events_and_top_sources_and_reads_only_the_mail_units():
    reader = _Reader("\n".join([LINES["smtp_auth_failed"]] * 3 + [LINES["fail2ban_ban"], "unrelated line"]))
    counted = facts.read_journal(reader, "-24h")
    assert counted["smtp_auth_failed"] == {"count": 3, "sources": {"192.0.2.7": 3}}
    assert counted["fail2ban_ban"]["count"] == 1
    assert counted["relay_refused"] == {"count": 0, "sources": {}}
    assert reader.argv[reader.argv.index("-u") + 1] == "postfix*"


def test_units_are_read_in_one_systemctl_call_in_the_order_asked():
    reader = _Reader(
        "Id=postfix.service\nActiveState=active\nUnitFileState=enabled\n\n"
        "Id=fail2ban.service\nActiveState=failed\nUnitFileState=enabled\n"
    )
    assert facts.read_units(reader, ["postfix.service", "fail2ban.service"]) == {
        "postfix.service": {"active": "active", "enabled": "enabled"},
        "fail2ban.service": {"active": "failed", "enabled": "enabled"},
    }


def _certificate(tmp_path, days: int, constraints: list[str] | None = None) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.example.org")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("mx.example.org")]), critical=False)
    )
    if constraints:
        builder = builder.add_extension(
            x509.NameConstraints(permitted_subtrees=[x509.DNSName(n) for n in constraints], excluded_subtrees=None),
            critical=True,
        )
    path = tmp_path / "cert.pem"
    pem = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(key_pem + pem)
    return str(path)


def test_certificate_facts_give_expiry_lifetime_key_and_name_constraints(tmp_path):
    found = facts.read_certificate(_certificate(tmp_path, 5, ["example.org"]), NOW, with_pem=True)
    assert found["days_left"] == 5
    assert found["lifetime_days"] == 6
    assert found["key"] == "ECDSA secp256r1 256"
    assert found["names"] == ["mx.example.org"]
    assert found["permitted_names"] == ["example.org"]
    assert found["name_constraints_critical"] is True
    # Only the certificate leaves the file, never the key beside it.
    assert found["pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in found["pem"]


def test_a_missing_or_broken_certificate_is_reported_not_raised(tmp_path):
    assert facts.read_certificate(str(tmp_path / "none.pem"), NOW, with_pem=False) == {"exists": False}
    (tmp_path / "bad.pem").write_text("not a certificate")
    assert "not a PEM certificate" in facts.read_certificate(str(tmp_path / "bad.pem"), NOW, with_pem=False)["error"]


def test_as_a_task_on_a_host_without_the_daemons_it_says_what_is_missing(tmp_path):
    result, _ = run_module(
        tmp_path,
        "mail_audit_facts",
        {
            "postconf": ["smtpd_tls_auth_only"],
            "doveconf": ["ssl"],
            "files": [str(tmp_path)],
            "config_checks": ["postfix"],
        },
        "--check",
    )
    assert result["changed"] is False
    # This machine has no Postfix (make setup installs none); were one there, its value would be read.
    assert "postconf" in result["missing"] or "smtpd_tls_auth_only" in result["postconf"]
    assert result["files"][str(tmp_path)]["type"] == "directory"
    assert result["config_checks"]["postfix"]["passed"] is ("postconf" not in result["missing"])


def test_the_files_mail_dns_wrote_are_read_whole_and_a_missing_one_is_null(tmp_path):
    records = tmp_path / "example.test.json"
    records.write_text('{"domain": "example.test", "records": []}')
    policy = tmp_path / "mta-sts.txt"
    policy.write_text("version: STSv1\r\nmode: enforce\r\n" + "#" * 70000)
    result, _ = run_module(
        tmp_path, "mail_audit_facts", {"dns_records": str(records), "mta_sts_policy": str(policy)}, "--check"
    )
    assert result["dns_records"] == {"domain": "example.test", "records": []}
    # Read as text, line ends aside (the audit compares lines), cut at RFC 8461's 64 KiB.
    assert result["mta_sts_policy"].startswith("version: STSv1\nmode: enforce\n")
    assert len(result["mta_sts_policy"]) == 64 * 1024
    result, _ = run_module(
        tmp_path,
        "mail_audit_facts",
        {"dns_records": str(tmp_path / "absent.json"), "mta_sts_policy": str(tmp_path / "absent.txt")},
        "--check",
    )
    assert result["dns_records"] is None
    assert result["mta_sts_policy"] is None


def test_update_policy_is_read_as_apt_reads_it(tmp_path):
    result, _ = run_module(tmp_path, "mail_audit_facts", {"updates": True}, "--check")
    updates = result["updates"]
    assert set(updates) == {"origins", "periodic", "needrestart_restart"}
    # This machine's apt has its own configuration; were unattended-upgrades there, its origins would be read.
    assert isinstance(updates["origins"], list)
    assert all(isinstance(value, str) for value in updates["periodic"].values())
    assert updates["needrestart_restart"] in {"unset", "a", "i", "l"}
