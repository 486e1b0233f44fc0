# SPDX-License-Identifier: MIT
"""postscreen on port 25: the provided host (a mail server of another domain), on the lab's DNS list
(dnsbl.mailfort.test, prepare.yml), is refused every recipient with a reply that names the neutral list name and
never the list's domain; the outsider, whom the list
answers 127.255.255.254 (a public-resolver refusal), is served; a client that talks before the banner (the
attacker, on no list) is caught;
STARTTLS through tlsproxy is the TLS smtpd gives; 587 and 465 never meet postscreen.

Timing: postscreen makes a client it has not seen pass wait postscreen_greet_wait (6 s) before smtpd greets it,
once a day; the DNS list's answer is kept at least 60 s. Every session here allows 20 s (the probes' timeout).
Readonly in the lab's sense: the listed host is refused one recipient per host and run, which fail2ban's postfix jail
counts once (maxretry 2 in the lab: no ban), and no other test connects from it; the attacker's pregreeting session
ends in postscreen's protocol error, which no jail counts; the outsider passes postscreen, as the rate limit test's
flood expects.
"""

from __future__ import annotations

import re
import time

import pytest
from lab import ADDRESSES, ATTACKER, BOB, OUTSIDER, PROVIDED
from postfix_facts import (
    REMOTE_SENDER,
    SMTP_PORT,
    SUBMISSION_PORT,
    SUBMISSIONS_PORT,
    answered,
    now,
    postconf,
    raw_smtp,
    session,
    show,
    smtp,
    step,
    wait_for_journal,
)
from probes import host_name

pytestmark = pytest.mark.readonly

ATTACKER_IP, OUTSIDER_IP, LISTED_IP = ADDRESSES[ATTACKER], ADDRESSES[OUTSIDER], ADDRESSES[PROVIDED]
DNSBL_ZONE = "dnsbl.mailfort.test"  # the lab's own list (group_vars/mail_servers.yml)
REPLY_NAME = "dnsbl"  # postfix_hardening_postscreen_dnsbl_reply_name, the role's default
# The port-25 TLS parameters tlsproxy must take from smtpd (Postfix's tlsproxy_tls_* default to $smtpd_tls_*).
TLS_PAIRS = ("protocols", "ciphers", "exclude_ciphers", "security_level", "chain_files", "loglevel")


@pytest.fixture(scope="module")
def attacker(podman_host):
    return podman_host(ATTACKER)


def _envelope() -> tuple[list, list, list]:
    return ["ehlo"], ["cmd", f"MAIL FROM:<{REMOTE_SENDER}>"], ["cmd", f"RCPT TO:<{BOB}>"]


@pytest.fixture(scope="module")
def listed(host, podman_host):
    """The listed host's session on 25: STARTTLS (postscreen hands it to tlsproxy), then an envelope for bob."""
    since = now(host)
    (result,) = smtp(podman_host(PROVIDED), host, session(SMTP_PORT, "starttls", *_envelope(), ["cmd", "QUIT"]))
    journal = wait_for_journal(host, since, f"blocked using {REPLY_NAME}")
    return result, journal


def test_postscreen_listens_on_25_and_hands_clients_to_smtpd(host):
    services = postconf(host, "-M")
    assert re.search(r"^smtp\s+inet\s+n\s+-\s+y\s+-\s+1\s+postscreen$", services, re.MULTILINE), services
    assert re.search(r"^smtpd\s+pass\s+-\s+-\s+y\s+-\s+-\s+smtpd$", services, re.MULTILINE), services
    assert re.search(r"^dnsblog\s+unix\s.*\sdnsblog$", services, re.MULTILINE), services
    assert re.search(r"^tlsproxy\s+unix\s.*\stlsproxy$", services, re.MULTILINE), services
    assert not re.search(r"^(submission|submissions)\s+inet\s.*postscreen", services, re.MULTILINE), services


def test_a_listed_client_is_refused_with_the_neutral_name_and_never_the_lists_domain(host, listed):
    result, journal = listed
    rcpt = step(result, 2)
    expected = f"Service unavailable; client [{LISTED_IP}] blocked using {REPLY_NAME}"
    assert answered(rcpt, 550, "5.7.1", expected), f"{host_name(host)}: the listed host got in:\n{show(result)}"
    everything = show(result)
    assert DNSBL_ZONE not in everything, f"{host_name(host)}: the reply names the list's domain:\n{everything}"
    assert f"blocked using {REPLY_NAME}" in journal, journal


def test_starttls_through_tlsproxy_is_the_tls_smtpd_gives(host, client, listed):
    """The listed host's STARTTLS went through tlsproxy (postscreen talked to it itself); the client's, allowlisted,
    through smtpd: the same protocol, and the same effective parameters."""
    result, _ = listed
    assert answered(result["starttls"], 220, "2.0.0"), show(result)
    (direct,) = smtp(client, host, session(SMTP_PORT, "starttls", ["ehlo"]))
    assert result.get("tls_version") == direct.get("tls_version"), f"{show(result)}\n{show(direct)}"
    for name in TLS_PAIRS:
        smtpd = postconf(host, "-x", f"smtpd_tls_{name}")
        tlsproxy = postconf(host, "-x", f"tlsproxy_tls_{name}")
        assert tlsproxy.partition(" = ")[2] == smtpd.partition(" = ")[2], f"{host_name(host)}: {tlsproxy} / {smtpd}"


def test_a_client_the_list_answers_with_a_refusal_code_is_not_refused(host, outsider):
    """127.255.255.254 is what Spamhaus answers everybody asking through a public resolver: the filter
    127.0.0.[2..11] does not count it, and the outsider is handed to smtpd and may send to bob (no DATA here)."""
    since = now(host)
    (result,) = smtp(outsider, host, session(SMTP_PORT, "none", *_envelope(), ["cmd", "RSET"], ["cmd", "QUIT"]))
    assert answered(step(result, 2), 250, "2.1.5"), f"{host_name(host)}: the outsider was refused:\n{show(result)}"
    journal = wait_for_journal(host, since, f"[{OUTSIDER_IP}]")
    assert f"client [{OUTSIDER_IP}] blocked" not in journal, journal


def test_a_client_that_talks_before_the_banner_is_caught_and_delivers_nothing(host, attacker):
    since = now(host)
    replies = raw_smtp(
        attacker,
        host,
        SMTP_PORT,
        ("send", "EHLO attacker.example\r\n"),  # before the banner: postscreen's pregreet test
        ("reply",),  # the banner, 220- at once and the rest after postscreen_greet_wait; the early EHLO gets none
        ("send", "EHLO attacker.example\r\n"),
        ("reply",),
        ("send", f"MAIL FROM:<{REMOTE_SENDER}>\r\n"),
        ("reply",),
        ("send", f"RCPT TO:<{BOB}>\r\n"),
        ("reply",),
        ("send", "QUIT\r\n"),
        ("drain", 2),
    )
    rcpt = replies[3]
    assert rcpt.startswith("5"), f"{host_name(host)}: a pregreeting client got a recipient:\n{replies}"
    journal = wait_for_journal(host, since, "PREGREET")
    pregreet = [line for line in journal.splitlines() if "PREGREET" in line and f"[{ATTACKER_IP}]" in line]
    assert pregreet, f"{host_name(host)}: no PREGREET line for the attacker:\n{journal}"
    handed = [line for line in journal.splitlines() if "postfix/smtpd[" in line and ATTACKER_IP in line]
    assert not handed, f"{host_name(host)}: postscreen handed the pregreeting client to smtpd:\n{handed}"


@pytest.mark.parametrize(("port", "tls"), [(SUBMISSION_PORT, "starttls"), (SUBMISSIONS_PORT, "implicit")])
def test_submission_ports_greet_at_once_without_postscreen(host, outsider, port, tls):
    """The outsider (not allowlisted) is greeted on 587 and 465 in one line, without postscreen's wait."""
    since = now(host)
    started = time.monotonic()
    (result,) = smtp(outsider, host, session(port, tls, ["cmd", "QUIT"]))
    elapsed = time.monotonic() - started
    banner = result.get("banner") or {}
    assert banner.get("code") == 220, show(result)
    assert "\n" not in banner.get("text", ""), f"{host_name(host)}: a multi-line banner on {port}:\n{show(result)}"
    assert elapsed < 5, f"{host_name(host)}: {port} took {elapsed:.1f} s to greet (postscreen waits 6 s)"
    journal = wait_for_journal(host, since, f"[{OUTSIDER_IP}]")
    screened = [line for line in journal.splitlines() if "postfix/postscreen[" in line and f":{port}" in line]
    assert not screened, f"{host_name(host)}: postscreen saw port {port}:\n{screened}"
