# SPDX-License-Identifier: MIT
"""Port 25 as another mail server on the internet meets it: a banner that gives nothing away, STARTTLS offered and
AUTH never, no open relay, no address harvesting, only well-formed and resolvable senders that are not the host's
own users, and mail for a local mailbox accepted and delivered into it."""

from __future__ import annotations

import re

import pytest
from lab import ALICE, BOB, BOB_MAIN
from postfix_facts import (
    CLIENT_HELO,
    OUTSIDE_RECIPIENT,
    REMOTE_SENDER,
    SMTP_PORT,
    UNKNOWN_MAILBOX,
    UNRESOLVABLE_SENDER,
    answered,
    mailbox,
    message,
    session,
    show,
    smtp_sessions,
    step,
    token,
)
from probes import host_name, server_name

pytestmark = pytest.mark.readonly

NON_FQDN_HELO = "client"
# A version number or the name of the software or the distribution; none belongs in the banner.
SOFTWARE = re.compile(r"postfix|debian|ubuntu|\b\d+\.\d+", re.IGNORECASE)


def _envelope(sender: str, recipient: str) -> tuple[list, list, list]:
    return ["ehlo"], ["cmd", f"MAIL FROM:<{sender}>"], ["cmd", f"RCPT TO:<{recipient}>"]


@pytest.fixture(scope="module")
def mx(host, client):
    """One session per question on port 25 of one host, all in one probe run; the delivered message's token."""
    subject = f"port 25 delivery {token()}"
    sessions = {
        "before ehlo": session(SMTP_PORT, "none", ["cmd", f"MAIL FROM:<{REMOTE_SENDER}>"]),
        "keywords": session(SMTP_PORT, "none", ["ehlo"], ["starttls"], ["ehlo"]),
        "vrfy": session(SMTP_PORT, "none", ["ehlo"], ["cmd", f"VRFY {BOB}"]),
        "relay": session(SMTP_PORT, "none", *_envelope(REMOTE_SENDER, OUTSIDE_RECIPIENT)),
        "unknown recipient": session(SMTP_PORT, "none", *_envelope(REMOTE_SENDER, UNKNOWN_MAILBOX)),
        "unresolvable sender": session(SMTP_PORT, "none", *_envelope(UNRESOLVABLE_SENDER, BOB)),
        "local sender": session(SMTP_PORT, "none", *_envelope(ALICE, BOB)),
        "non-fqdn helo": session(
            SMTP_PORT,
            "none",
            ["helo", NON_FQDN_HELO],
            ["cmd", f"MAIL FROM:<{REMOTE_SENDER}>"],
            ["cmd", f"RCPT TO:<{BOB}>"],
        ),
        "delivery": session(
            SMTP_PORT,
            "none",
            *_envelope(REMOTE_SENDER, BOB),
            ["data", message(REMOTE_SENDER, BOB, subject)],
            ["cmd", "QUIT"],
        ),
    }
    return smtp_sessions(client, host, sessions), subject


def test_banner_names_the_host_but_no_software_or_version(host, mx):
    """The host's own name (the first of its certificate, which the probes verify), as each MX host has its own."""
    banner = mx[0]["keywords"]["banner"]
    assert banner["code"] == 220, f"{host_name(host)}: {banner}"
    assert banner["text"].split()[0] == server_name(host), f"{host_name(host)}: {banner}"
    assert not SOFTWARE.search(banner["text"]), f"{host_name(host)}: the banner gives away {banner['text']!r}"


def test_mail_before_ehlo_is_refused(host, mx):
    result = mx[0]["before ehlo"]
    assert answered(step(result, 0), 503, "5.5.1"), f"{host_name(host)}:\n{show(result)}"


def test_port_25_offers_starttls_and_never_auth(host, mx):
    result = mx[0]["keywords"]
    before, starttls, after = step(result, 0), step(result, 1), step(result, 2)
    assert before["code"] == 250, show(result)
    assert "STARTTLS" in before["keywords"], f"{host_name(host)}: no STARTTLS on port 25:\n{show(result)}"
    assert answered(starttls, 220, "2.0.0"), show(result)
    assert after["code"] == 250, show(result)
    assert result.get("tls_version") in ("TLSv1.2", "TLSv1.3"), show(result)
    offered = [k for k in before["keywords"] + after["keywords"] if k.startswith("AUTH")]
    assert not offered, f"{host_name(host)}: port 25 offers {offered}:\n{show(result)}"


def test_vrfy_is_refused(host, mx):
    result = mx[0]["vrfy"]
    assert answered(step(result, 1), 502, "5.5.1"), f"{host_name(host)}: VRFY tells who exists:\n{show(result)}"


def test_relaying_to_an_outside_domain_without_login_is_refused(host, mx):
    result = mx[0]["relay"]
    assert step(result, 1)["code"] == 250, show(result)
    rcpt = step(result, 2)
    assert answered(rcpt, 554, "5.7.1", "Relay access denied"), f"{host_name(host)}: an open relay?\n{show(result)}"


def test_unknown_local_recipient_is_refused(host, mx):
    result = mx[0]["unknown recipient"]
    assert answered(step(result, 2), 550, "5.1.1", UNKNOWN_MAILBOX), f"{host_name(host)}:\n{show(result)}"


def test_sender_in_a_domain_that_does_not_resolve_is_deferred(host, mx):
    result = mx[0]["unresolvable sender"]
    assert answered(step(result, 2), 450, "4.1.8", "Domain not found"), f"{host_name(host)}:\n{show(result)}"


def test_sender_claiming_a_local_mailbox_is_refused_without_login(host, mx):
    """Only the owner of a local address may use it, and only after logging in on 587/465."""
    result = mx[0]["local sender"]
    rcpt = step(result, 2)
    assert rcpt["code"] // 100 == 5, f"{host_name(host)}: mail from {ALICE} accepted on port 25:\n{show(result)}"
    assert "5.7.1" in rcpt["text"], show(result)
    # the role's answer from mailfort/mx_protected_senders
    assert "Sender address rejected: This sender address sends only after login" in rcpt["text"], show(result)


def test_helo_without_a_fully_qualified_name_is_refused_at_rcpt(host, mx):
    result = mx[0]["non-fqdn helo"]
    assert step(result, 0)["code"] == 250, show(result)
    rcpt = step(result, 2)
    assert rcpt["code"] // 100 == 5, f"{host_name(host)}: HELO {NON_FQDN_HELO} was good enough:\n{show(result)}"
    assert "need fully-qualified hostname" in rcpt["text"], show(result)


def test_mail_to_a_local_mailbox_is_accepted_and_delivered(host, client, mx):
    result, subject = mx[0]["delivery"], mx[1]
    assert answered(step(result, 3), 250, "2.0.0"), f"{host_name(host)}: mail for {BOB} refused:\n{show(result)}"
    delivered = mailbox(client, host, BOB, BOB_MAIN, subject.split()[-1])
    assert [m["subject"] for m in delivered] == [subject], f"{host_name(host)}: {BOB}'s INBOX has {delivered}"
    assert any(CLIENT_HELO in r for r in delivered[0]["received"]), delivered[0]["received"]
