# SPDX-License-Identifier: MIT
"""mail_audit_facts: its parsers, with OpenDKIM's configuration parser (module_utils/opendkim_conf.py) and the journal
counters (module_utils/audit_journal.py), on lines written by hand (the shapes Postfix, Dovecot 2.3 and 2.4 and
fail2ban log), its certificate facts on certificates made here, and one run as a task on this machine, which has
none of the mail daemons: every part says what is missing instead of failing."""

from __future__ import annotations

import datetime

import pytest
from ansible_collections.mailfort.mail.plugins.module_utils import audit_journal, opendkim_conf
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


# Journal lines (journalctl -o short) in the shapes the daemons log on Debian 12 and 13: Postfix 3.7 and 3.10 name the
# master.cf service in the syslog name (postfix/submission on 587, postfix/submissions on 465, none on 25), Dovecot
# 2.3 and 2.4 log each failed attempt from the auth process and the connection's end from its login process, with
# the same session id, and fail2ban 1.0 and 1.1 write "[jail] Ban ADDRESS" to the journal.
POSTFIX = {
    "submission": "Dec 02 21:50:01 mx1 postfix/submission/smtpd[812]: warning: unknown[192.0.2.7]: SASL PLAIN "
    "authentication failed: (reason unavailable), sasl_username=alice@lab.mailfort.test",
    "submissions": "Dec 02 21:50:01 mx1 postfix/submissions/smtpd[813]: warning: unknown[2001:db8::7]: SASL LOGIN "
    "authentication failed: UGFzc3dvcmQ6, sasl_username=bob@lab.mailfort.test",
    "smtp": "Dec 02 21:50:01 mx1 postfix/smtpd[700]: warning: mail.example.net[198.51.100.4]: SASL PLAIN "
    "authentication failed: (reason unavailable)",
    "lost": "Dec 02 21:50:01 mx1 postfix/submission/smtpd[812]: warning: unknown[192.0.2.7]: SASL LOGIN "
    "authentication failed: Connection lost to authentication server",
    "relay": "Dec 02 21:50:03 mx1 postfix/smtpd[900]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 "
    "<audit@example.com>: Relay access denied; from=<> to=<audit@example.com> proto=ESMTP helo=<x>",
    "quota": "Dec 02 21:50:04 mx1 postfix/submission/smtpd[901]: 4F1C2: reject: END-OF-MESSAGE from "
    "unknown[192.0.2.10]: 451 4.7.1 Outbound quota exceeded for campaign@lab.mailfort.test; proto=ESMTP",
}
DOVECOT_23 = [
    "Dec 02 21:50:02 mx1 dovecot[500]: auth: passwd-file(alice@lab.mailfort.test,192.0.2.8,<ip0HK91gVsAKWQAE>): "
    "Password mismatch",
    "Dec 02 21:50:02 mx1 dovecot[500]: auth: passwd-file(mallory@lab.mailfort.test,192.0.2.8,<ip0HK91gVsAKWQAE>): "
    "unknown user",
    "Dec 02 21:50:05 mx1 dovecot[500]: imap-login: Disconnected (auth failed, 2 attempts in 4 secs): "
    "user=<mallory@lab.mailfort.test>, method=PLAIN, rip=192.0.2.8, lip=10.89.60.10, TLS, session=<ip0HK91gVsAKWQAE>",
    "Dec 02 21:51:02 mx1 dovecot[500]: auth: passwd-file(bob@lab.mailfort.test,192.0.2.12,<Q9HTgk0UuwAly9Zo>): "
    "Password mismatch",
    "Dec 02 21:51:04 mx1 dovecot[500]: pop3-login: Aborted login (auth failed, 1 attempts in 2 secs): "
    "user=<bob@lab.mailfort.test>, method=PLAIN, rip=192.0.2.12, lip=10.89.60.10, TLS, session=<Q9HTgk0UuwAly9Zo>",
    # Postfix's own SASL request: no session id, counted from Postfix's line instead.
    "Dec 02 21:50:01 mx1 dovecot[500]: auth: passwd-file(alice@lab.mailfort.test,192.0.2.7): Password mismatch",
]
DOVECOT_24 = [
    "Dec 02 21:50:02 mx2 dovecot[600]: auth(alice@lab.mailfort.test,192.0.2.8,sasl:plain)<hpCrLd1gwogKWQAE>: slot1: "
    "Password mismatch",
    "Dec 02 21:50:04 mx2 dovecot[600]: imap-login: Login aborted: Connection closed (auth failed, 1 attempts in 2 "
    "secs) (auth_failed): user=<alice@lab.mailfort.test>, method=PLAIN, rip=192.0.2.8, lip=10.89.60.11, TLS, "
    "session=<hpCrLd1gwogKWQAE>",
    "Dec 02 21:51:02 mx2 dovecot[600]: auth(bob@lab.mailfort.test,2001:db8::12,sasl:plain)<R7v1Qd1gyogKWQAE>: slot1: "
    "Password mismatch",
    "Dec 02 21:51:04 mx2 dovecot[600]: pop3-login: Login aborted: Connection closed (auth failed, 1 attempts in 2 "
    "secs) (auth_failed): user=<bob@lab.mailfort.test>, method=PLAIN, rip=2001:db8::12, lip=2001:db8::25, TLS, "
    "session=<R7v1Qd1gyogKWQAE>",
    # A session still open when the journal was read: its protocol is not known yet.
    "Dec 02 21:52:02 mx2 dovecot[600]: auth(carol@lab.mailfort.test,192.0.2.13,sasl:plain)<S8w2Re1gzogKWQAE>: "
    "slot1: Password mismatch",
    "Dec 02 21:50:01 mx2 dovecot[600]: auth(alice@lab.mailfort.test,192.0.2.7,sasl:plain): slot1: Password mismatch",
]
FAIL2BAN = [
    "Dec 02 21:50:05 mx1 fail2ban-server[300]: [postfix-sasl] Ban 192.0.2.7",
    "Dec 02 21:50:06 mx2 fail2ban-server[301]: [dovecot] Ban 2001:db8::12",
    # The form of a log file (fail2ban's own format), should the journal get fail2ban's standard output.
    "Dec 02 21:50:06 mx1 fail2ban-server[300]: 2026-12-02 21:50:06,123 fail2ban.actions        [300]: NOTICE  "
    "[sshd] Ban 198.51.100.20",
    "Dec 02 22:50:05 mx1 fail2ban-server[300]: [postfix-sasl] Unban 192.0.2.7",
    # Not new bans: a ban restored after a restart, the increment's notice beside a ban, a failure found.
    "Dec 02 21:55:00 mx1 fail2ban-server[300]: [sshd] Restore Ban 192.0.2.30",
    "Dec 02 21:56:00 mx1 fail2ban-server[300]: [postfix-sasl] Increase Ban 192.0.2.7 (2 # 2:00:00 -> 2026-12-03)",
    "Dec 02 21:50:04 mx1 fail2ban-server[300]: [postfix-sasl] Found 192.0.2.7 - 2026-12-02 21:50:01",
]


@pytest.mark.parametrize(
    ("line", "service"),
    [
        (POSTFIX["submission"], "smtp/submission"),
        (POSTFIX["submissions"], "smtp/submissions"),
        (POSTFIX["smtp"], "smtp"),
    ],
)
def test_failed_smtp_auth_is_counted_under_postfix_service_name(line, service):
    counted = audit_journal.count_journal(line)
    assert counted[f"failed_login:{service}"]["count"] == 1
    assert counted["failed_login"]["count"] == 1


def test_a_lost_connection_to_the_auth_server_is_no_failed_login():
    assert audit_journal.count_journal(POSTFIX["lost"])["failed_login"] == {"count": 0, "sources": {}}


@pytest.mark.parametrize("lines", [DOVECOT_23, DOVECOT_24], ids=["dovecot-2.3", "dovecot-2.4"])
def test_failed_dovecot_logins_are_counted_per_protocol_from_their_session(lines):
    counted = audit_journal.count_journal("\n".join(lines))
    imap = {"192.0.2.8": 2} if lines is DOVECOT_23 else {"192.0.2.8": 1}
    assert counted["failed_login:imap"] == {"count": sum(imap.values()), "sources": imap}
    assert counted["failed_login:pop3"]["count"] == 1
    # Postfix's SASL requests to Dovecot are not counted twice.
    assert "192.0.2.7" not in counted["failed_login"]["sources"]
    if lines is DOVECOT_24:
        assert counted["failed_login:pop3"]["sources"] == {"2001:db8::12": 1}
        assert counted["failed_login:dovecot"] == {"count": 1, "sources": {"192.0.2.13": 1}}
    else:
        assert "failed_login:dovecot" not in counted


def test_bans_and_unbans_are_counted_per_jail_and_restored_or_increased_bans_are_not():
    counted = audit_journal.count_journal("\n".join(FAIL2BAN))
    assert counted["fail2ban_ban"]["count"] == 3
    assert counted["fail2ban_ban:postfix-sasl"] == {"count": 1, "sources": {"192.0.2.7": 1}}
    assert counted["fail2ban_ban:dovecot"] == {"count": 1, "sources": {"2001:db8::12": 1}}
    assert counted["fail2ban_ban:sshd"] == {"count": 1, "sources": {"198.51.100.20": 1}}
    assert counted["fail2ban_unban"] == {"count": 1, "sources": {"192.0.2.7": 1}}
    assert counted["fail2ban_unban:postfix-sasl"]["count"] == 1
    assert "192.0.2.30" not in str(counted)


def test_refused_relays_and_quotas_are_still_counted():
    counted = audit_journal.count_journal("\n".join([POSTFIX["relay"], POSTFIX["quota"], POSTFIX["quota"]]))
    assert counted["relay_refused"] == {"count": 1, "sources": {"192.0.2.9": 1}}
    assert counted["quota_refused"] == {"count": 2, "sources": {"192.0.2.10": 2}}


def test_the_counts_hold_no_user_name_and_every_total_is_there_in_order():
    text = "\n".join([*POSTFIX.values(), *DOVECOT_23, *DOVECOT_24, *FAIL2BAN])
    counted = audit_journal.count_journal(text)
    assert not any(name in str(counted) for name in ("alice", "bob", "mallory", "carol", "campaign", "UGFzc3dvcmQ6"))
    events = list(counted)
    assert [event for event in events if ":" not in event] == list(audit_journal.JOURNAL_TOTALS)
    assert events.index("failed_login:imap") < events.index("relay_refused") < events.index("fail2ban_ban:sshd")
    assert audit_journal.count_journal("") == {
        event: {"count": 0, "sources": {}} for event in audit_journal.JOURNAL_TOTALS
    }


def test_only_the_ten_most_frequent_sources_are_kept():
    lines = [POSTFIX["submission"].replace("192.0.2.7", f"192.0.2.{n}") for n in range(1, 13) for _ in range(n)]
    counted = audit_journal.count_journal("\n".join(lines))["failed_login:smtp/submission"]
    assert counted["count"] == sum(range(1, 13))
    assert list(counted["sources"]) == [f"192.0.2.{n}" for n in range(12, 2, -1)]


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


def test_journal_is_read_in_one_call_of_the_mail_units_only():
    reader = _Reader("\n".join([POSTFIX["submission"]] * 3 + [FAIL2BAN[0], "unrelated line"]))
    counted = facts.read_journal(reader, "-24h")
    assert counted["failed_login:smtp/submission"] == {"count": 3, "sources": {"192.0.2.7": 3}}
    assert counted["fail2ban_ban"]["count"] == 1
    assert counted["relay_refused"] == {"count": 0, "sources": {}}
    assert reader.argv[reader.argv.index("-u") + 1] == "postfix*"
    assert reader.argv[reader.argv.index("--since") + 1] == "-24h"


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
    assert set(updates) == {
        "origins",
        "periodic",
        "needrestart_restart",
        "reboot_required",
        "reboot_packages",
        "security_pending",
    }
    assert isinstance(updates["reboot_required"], bool)
    assert all(isinstance(name, str) for name in updates["security_pending"])
    # This machine's apt has its own configuration; were unattended-upgrades there, its origins would be read.
    assert isinstance(updates["origins"], list)
    assert all(isinstance(value, str) for value in updates["periodic"].values())
    assert updates["needrestart_restart"] in {"unset", "a", "i", "l"}


# OpenDKIM 2.11's configuration as opendkim reads it: the first word names the setting (any case), blanks and a
# value follow, "#" starts a comment anywhere, the last line of a name wins, Include reads a file in its place.
OPENDKIM_CONF = (
    "# OpenDKIM's RSA signer\n"
    "Mode\t\t\tsv\n"
    "mode                    s   # sign only\r\n"
    "KeyTable                file:/etc/opendkim/KeyTable\n"
    "   SigningTable   refile:/etc/opendkim/SigningTable   \n"
    "RequireSafeKeys         True\n"
    "SubDomains              0\n"
    "UMask                   007\n"
    "Socket\n"
    "\n"
    "Canonicalization        relaxed/relaxed\n"
)


def test_opendkim_lines_are_name_blanks_value_with_comments_cut():
    assert opendkim_conf.opendkim_lines(OPENDKIM_CONF) == [
        ("Mode", "sv"),
        ("mode", "s"),
        ("KeyTable", "file:/etc/opendkim/KeyTable"),
        ("SigningTable", "refile:/etc/opendkim/SigningTable"),
        ("RequireSafeKeys", "True"),
        ("SubDomains", "0"),
        ("UMask", "007"),
        ("Canonicalization", "relaxed/relaxed"),
    ]


def test_opendkim_settings_are_the_last_of_each_name_with_booleans_and_umask_as_opendkim_reads_them(tmp_path):
    config = tmp_path / "opendkim.conf"
    config.write_text(OPENDKIM_CONF)
    found = opendkim_conf.read_opendkim(str(config))
    assert found["exists"] is True
    assert found["files"] == [str(config)]
    assert found["settings"] == {
        "mode": "s",
        "KeyTable": "file:/etc/opendkim/KeyTable",
        "SigningTable": "refile:/etc/opendkim/SigningTable",
        "RequireSafeKeys": "yes",
        "SubDomains": "no",
        "UMask": "0007",
        "Canonicalization": "relaxed/relaxed",
    }


@pytest.mark.parametrize(
    ("value", "shown"),
    [("007", "0007"), ("7", "0007"), ("0x3f", "0077"), ("0027", "0027"), ("077x", "077x")],
)
def test_umask_is_read_as_c_reads_a_number(value, shown):
    assert opendkim_conf.opendkim_value("UMask", value) == shown


def test_an_include_is_read_in_its_place_so_a_later_line_still_wins(tmp_path):
    extra = tmp_path / "extra.conf"
    extra.write_text("Mode sv\nUserID root\n")
    config = tmp_path / "opendkim.conf"
    config.write_text(f"Mode s\nUserID opendkim\nInclude {extra}\nUserID opendkim\n")
    found = opendkim_conf.read_opendkim(str(config))
    assert found["settings"] == {"Mode": "sv", "UserID": "opendkim"}
    assert found["files"] == [str(config), str(extra)]


def test_an_include_loop_or_a_missing_include_is_an_error_not_a_crash(tmp_path):
    config = tmp_path / "opendkim.conf"
    config.write_text(f"Include {config}\n")
    assert "nested more than" in opendkim_conf.read_opendkim(str(config))["error"]
    config.write_text(f"Include {tmp_path / 'absent.conf'}\n")
    assert "absent.conf" in opendkim_conf.read_opendkim(str(config))["error"]
    assert opendkim_conf.read_opendkim(str(tmp_path / "none.conf")) == {"exists": False}


def test_host_lists_are_read_from_their_file_or_list_and_a_database_is_not_queried(tmp_path):
    trusted = tmp_path / "TrustedHosts"
    trusted.write_text("# Hosts signed without a login\n127.0.0.1\n::1\n  192.0.2.0/24   # the application servers\n\n")
    config = tmp_path / "opendkim.conf"
    config.write_text(
        f"InternalHosts file:{trusted}\nExternalIgnoreList 127.0.0.1, 10.0.0.0/8\n"
        "PeerList dsn:mysql://dkim:Hunter2-Secret@db.example.org/opendkim/table=peers\n"
    )
    found = opendkim_conf.read_opendkim(str(config))
    assert found["hosts"] == {
        "InternalHosts": ["127.0.0.1", "::1", "192.0.2.0/24"],
        "ExternalIgnoreList": ["127.0.0.1", "10.0.0.0/8"],
    }
    # A database's password never leaves the host.
    assert found["settings"]["PeerList"] == "dsn:mysql://dkim:(withheld)@db.example.org/opendkim/table=peers"
    config.write_text(f"InternalHosts refile:{tmp_path / 'absent'}\n")
    assert opendkim_conf.read_opendkim(str(config))["hosts"]["InternalHosts"][0].startswith("unreadable: ")


def test_a_setting_named_like_a_secret_is_withheld():
    assert opendkim_conf.opendkim_value("LDAPAuthPassword", "Hunter2") == "(withheld)"
    assert (
        opendkim_conf.opendkim_value("KeyTable", "dsn:pgsql://dkim:pw@localhost/dkim")
        == "dsn:pgsql://dkim:(withheld)@localhost/dkim"
    )
    assert opendkim_conf.opendkim_value("KeyTable", "file:/etc/opendkim/KeyTable") == "file:/etc/opendkim/KeyTable"


def test_as_a_task_it_reads_opendkim_configurations_in_check_mode(tmp_path):
    config = tmp_path / "opendkim.conf"
    config.write_text("Mode s\nUMask 007\n")
    result, _ = run_module(
        tmp_path, "mail_audit_facts", {"opendkim": [str(config), str(tmp_path / "none.conf")]}, "--check"
    )
    assert result["changed"] is False
    assert result["opendkim"][str(config)]["settings"] == {"Mode": "s", "UMask": "0007"}
    assert result["opendkim"][str(tmp_path / "none.conf")] == {"exists": False}


def test_nameservers_are_the_nameserver_lines_in_order():
    text = "# managed\nsearch lab.example\nnameserver 127.0.0.1\n  nameserver\t::1\nnameserverx 1.2.3.4\noptions x\n"
    assert facts.nameservers(text) == ["127.0.0.1", "::1"]
    assert facts.nameservers("") == []


def test_resolver_reads_both_resolv_confs_and_unbounds_settings(tmp_path, monkeypatch):
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.1\nnameserver 192.0.2.53\n")
    monkeypatch.setattr(
        facts, "RESOLV_CONFS", {"nameservers": str(host), "postfix_nameservers": str(tmp_path / "missing")}
    )
    outputs = {"interface": "127.0.0.1\n::1\n", "module-config": "validator iterator\n", "auto-trust-anchor-file": ""}

    class Reader(_Reader):
        def run(self, argv):
            assert argv[1] == "-o"
            return 0, outputs[argv[2]], ""

    found = facts.read_resolver(Reader(""))
    assert found == {
        "nameservers": ["127.0.0.1", "192.0.2.53"],
        "postfix_nameservers": None,
        "interface": ["127.0.0.1", "::1"],
        "module-config": "validator iterator",
        "auto-trust-anchor-file": "",
    }


def test_resolver_without_unbound_shows_its_settings_as_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(facts, "RESOLV_CONFS", {"nameservers": str(tmp_path / "a"), "postfix_nameservers": "/x/y"})

    class Reader(_Reader):
        def program(self, name):
            return None

    found = facts.read_resolver(Reader(""))
    assert found["interface"] is None
    assert found["module-config"] is None
    assert found["nameservers"] is None


SIMULATED = """Reading package lists...
Building dependency tree...
The following packages will be upgraded:
  libssl3 openssl tzdata
Inst libssl3 [3.0.15-1~deb12u1] (3.0.17-1~deb12u2 Debian-Security:12/stable-security [amd64])
Inst openssl [3.0.15-1~deb12u1] (3.0.17-1~deb12u2 Debian:12.12/stable, Debian-Security:12/stable-security [amd64])
Inst tzdata [2025a-0+deb12u1] (2025b-0+deb12u1 Debian:12.12/stable [all])
Inst mailfort-canary [1.0] (1.1 mailfort-canary:canary/canary [all])
Conf libssl3 (3.0.17-1~deb12u2 Debian-Security:12/stable-security [amd64])
"""


def test_security_pending_names_the_packages_a_security_archive_would_update():
    assert facts.security_pending(SIMULATED) == ["libssl3", "openssl"]
    assert facts.security_pending("Reading package lists...\n0 upgraded, 0 newly installed.\n") == []


def test_reboot_required_reads_debians_flag_file_and_its_packages(tmp_path):
    flag = tmp_path / "reboot-required"
    assert facts.read_reboot_required(str(flag)) == (False, [])
    flag.write_text("*** System restart required ***\n")
    assert facts.read_reboot_required(str(flag)) == (True, [])
    (tmp_path / "reboot-required.pkgs").write_text("linux-image-amd64\nlibc6\nlibc6\n")
    assert facts.read_reboot_required(str(flag)) == (True, ["libc6", "linux-image-amd64"])
