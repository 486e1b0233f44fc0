# SPDX-License-Identifier: MIT
"""Who gets a DKIM signature: mail submitted with a login on 587 and 465 and mail from local programs is signed by
both signers (rsa-sha256 and ed25519-sha256, d= the domain, s= the host's selectors); mail arriving on port 25
without a login is not, even when its From names our domain. No private key ever reaches the journal.

The probes run on the mail host itself and connect to its own address on the lab network: that address is neither
loopback nor in dkim_internal_hosts, so Postfix and OpenDKIM see a remote client, and only a login makes the
difference. dkimpy's verdict on the signatures, against the published records, is in test_published_records.py.
"""

from __future__ import annotations

import re
import secrets
import time

import pytest
from dns_facts import KEY_DIR, selectors
from harness import secrets_in_journal
from lab import ALICE, BOB, BOB_MAIN, DOMAIN
from probes import address, host_name, run_probe

pytestmark = pytest.mark.readonly

# Bob's mailbox on the host; the probes log in as Bob, whose main password may send (mail_login: true in the lab).
MAILDIR = f"/var/vmail/{DOMAIN}/bob/Maildir"

# Sends one message from the mail host to its own address: 465 with implicit TLS, 587 with STARTTLS, 25 in clear.
# The chain is checked against the lab CA; the name is not, because the probe connects to an address.
SEND_PROBE = """
import base64, json, smtplib, ssl, sys
spec = json.loads(base64.b64decode(sys.argv[1]))
context = ssl.create_default_context(cadata=spec["anchor"])
context.check_hostname = False
try:
    if spec["port"] == 465:
        smtp = smtplib.SMTP_SSL(spec["address"], 465, local_hostname=spec["helo"], context=context, timeout=30)
    else:
        smtp = smtplib.SMTP(spec["address"], spec["port"], local_hostname=spec["helo"], timeout=30)
        if spec["port"] == 587:
            smtp.starttls(context=context)
    if spec["user"]:
        smtp.login(spec["user"], spec["password"])
    smtp.sendmail(spec["sender"], [spec["recipient"]], spec["message"].encode())
    smtp.quit()
    print(json.dumps({"sent": True}))
except (OSError, smtplib.SMTPException) as error:
    print(json.dumps({"sent": False, "error": repr(error)}))
"""


def message(subject: str, sender: str = BOB) -> str:
    message_id = f"<{subject.rsplit(maxsplit=1)[-1]}@{DOMAIN}>"
    return (
        f"From: {sender}\r\nTo: {BOB}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n\r\n"
        "A message for the DKIM tests.\r\n"
    )


def delivered(host, subject: str, timeout: float = 30) -> str:
    """The message with SUBJECT as Bob's mailbox holds it."""
    deadline = time.monotonic() + timeout
    while True:
        found = host.run("grep -rlF %s %s/new %s/cur", subject, MAILDIR, MAILDIR).stdout.split()
        if found:
            return host.file(found[0]).content_string
        assert time.monotonic() < deadline, f"{subject!r} did not reach Bob's mailbox on {host_name(host)}"
        time.sleep(0.5)


def signatures(text: str) -> list[dict[str, str]]:
    """The tags of each DKIM-Signature header of a message (unfolded)."""
    head = text.split("\n\n", 1)[0]
    fields = re.findall(r"^DKIM-Signature:(.*(?:\n[ \t].*)*)", head, re.MULTILINE | re.IGNORECASE)
    return [dict(t.split("=", 1) for t in re.sub(r"\s+", "", f).split(";") if "=" in t) for f in fields]


def send(host, port: int, subject: str, *, user: str = "", sender: str = BOB, header_from: str = BOB) -> None:
    result = run_probe(
        host,
        SEND_PROBE,
        host,
        port=port,
        helo="probe.example.net",
        user=user,
        password=BOB_MAIN if user else "",
        sender=sender,
        recipient=BOB,
        message=message(subject, header_from),
    )
    assert result["sent"], f"port {port} on {host_name(host)}: {result}"


def token() -> str:
    return secrets.token_hex(6)


def test_the_probe_comes_from_an_address_the_signers_do_not_trust(host):
    trusted = host.file("/etc/opendkim/TrustedHosts").content_string
    assert address(host) not in trusted
    assert address(host) not in host.check_output("postconf -h mynetworks")


@pytest.mark.parametrize("port", [587, 465])
def test_mail_submitted_with_a_login_carries_both_signatures(host, port):
    subject = f"dkim login {port} {token()}"

    send(host, port, subject, user=BOB)

    found = {(s.get("a"), s.get("d"), s.get("s")) for s in signatures(delivered(host, subject))}
    wanted = selectors(host_name(host))
    assert found == {
        ("rsa-sha256", DOMAIN, wanted["rsa"]),
        ("ed25519-sha256", DOMAIN, wanted["ed25519"]),
    }


def test_signatures_are_relaxed_and_oversign_from(host):
    subject = f"dkim tags {token()}"
    send(host, 587, subject, user=BOB)

    for signature in signatures(delivered(host, subject)):
        assert signature["c"] == "relaxed/relaxed", signature
        assert signature["h"].lower().split(":").count("from") == 2, signature


def test_mail_from_local_programs_is_signed(host):
    subject = f"dkim sendmail {token()}"

    host.check_output("printf %s | /usr/sbin/sendmail -f %s %s", message(subject).replace("\r\n", "\n"), BOB, BOB)

    assert {s.get("a") for s in signatures(delivered(host, subject))} == {"rsa-sha256", "ed25519-sha256"}


def test_mail_on_25_without_a_login_is_not_signed_even_from_our_domain(host):
    subject = f"dkim port 25 {token()}"

    # A bounce (null sender) needs no resolvable sender domain; its From header claims one of our addresses.
    send(host, 25, subject, sender="", header_from=ALICE)

    assert signatures(delivered(host, subject)) == []


def test_no_private_key_reaches_the_journal(host):
    paths = host.check_output("find %s -name '*.private'", KEY_DIR).split()
    assert paths
    lines = {path: host.file(path).content_string.splitlines()[1] for path in paths}
    assert secrets_in_journal(host, lines) == []
