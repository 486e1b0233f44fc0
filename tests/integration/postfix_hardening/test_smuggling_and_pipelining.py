# SPDX-License-Identifier: MIT
"""SMTP smuggling and unauthorised pipelining on port 25, byte by byte from the client.

Smuggling (CVE-2023-51764): a message that holds <LF>.<LF> followed by SMTP commands. A server that takes the bare
LF for a line end ends the message there and runs the commands, which deliver a second message the client's outbound
server never checked. With smtpd_forbid_bare_newline = normalize, only <CR><LF>.<CR><LF> ends the message, and the
commands stay message text.

Pipelining: a client may send commands without waiting for the replies only after EHLO announced PIPELINING, and
never before the greeting (RFC 2920); spam bots and smuggling attempts do. smtpd_forbid_unauth_pipelining makes
Postfix hang up on them.
"""

from __future__ import annotations

import re

import pytest
from lab import BILLING_APP, BILLING_APP_PASSWORD, BOB, BOB_MAIN
from postfix_facts import (
    CLIENT_HELO,
    REMOTE_SENDER,
    SMTP_PORT,
    mailbox,
    now,
    postfix_journal,
    raw_smtp,
    smtpd_session,
    token,
    wait_for_journal,
)
from probes import address, host_name, wait_for

pytestmark = pytest.mark.readonly

PROTOCOL_ERROR = "554 5.5.0 Error: SMTP protocol synchronization"
QUEUED = re.compile(r"^250 2\.0\.0 Ok: queued as (?P<queue_id>[0-9A-F]+)\r?\n$")
ENVELOPE = f"MAIL FROM:<{REMOTE_SENDER}>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n"


@pytest.fixture(scope="module")
def smuggling(host, client):
    """A message to bob that smuggles a second one to billing-app; what the client got back, the journal, and the
    journal lines of the session itself."""
    word = token()
    carrier = f"From: <{REMOTE_SENDER}>\r\nTo: <{BOB}>\r\nSubject: carrier {word}\r\n\r\nThe carrier.\r\n"
    smuggled = (
        f"\n.\nMAIL FROM:<{REMOTE_SENDER}>\nRCPT TO:<{BILLING_APP}>\nDATA\n"
        f"From: <{REMOTE_SENDER}>\nTo: <{BILLING_APP}>\nSubject: smuggled {word}\n\nThe smuggled message.\n.\n"
    )
    since = now(host)
    received = raw_smtp(
        client,
        host,
        SMTP_PORT,
        ("reply",),
        ("send", f"EHLO {CLIENT_HELO}\r\n"),
        ("reply",),
        ("send", f"MAIL FROM:<{REMOTE_SENDER}>\r\n"),
        ("reply",),
        ("send", f"RCPT TO:<{BOB}>\r\n"),
        ("reply",),
        ("send", "DATA\r\n"),
        ("reply",),
        ("send", carrier + smuggled),
        ("send", "\r\n.\r\n"),
        ("reply",),  # the answer to the message: one only
        ("drain", 2),  # anything more is the answer to smuggled commands
        ("send", "QUIT\r\n"),
        ("reply",),
    )
    carried = mailbox(client, host, BOB, BOB_MAIN, f"carrier {word}")
    queued = QUEUED.match(received[5]) if len(received) > 5 else None
    session = []
    if queued:  # else test_smuggled_commands_get_no_answer says why
        session = wait_for(lambda: smtpd_session(postfix_journal(host, since), queued["queue_id"]), timeout=10)
    return word, received, carried, postfix_journal(host, since), session


def test_smuggled_commands_get_no_answer(host, smuggling):
    _, received, _, _, _ = smuggling
    assert received[4].startswith("354 "), f"{host_name(host)}: DATA was not accepted: {received}"
    assert QUEUED.match(received[5]), f"{host_name(host)}: the message was not queued: {received}"
    assert received[6] == "", f"{host_name(host)}: the server answered smuggled commands: {received[6]!r}"
    assert received[7].startswith("221 "), f"{host_name(host)}: {received}"


def test_smuggled_lines_stay_in_the_message_they_came_in(host, smuggling):
    word, _, carried, _, _ = smuggling
    assert [m["subject"] for m in carried] == [f"carrier {word}"], f"{host_name(host)}: {BOB}'s INBOX: {carried}"
    assert f"RCPT TO:<{BILLING_APP}>" in carried[0]["body"], f"{host_name(host)}: {carried[0]['body']!r}"


def test_smuggled_message_is_not_delivered(host, client, smuggling):
    word, _, _, _, _ = smuggling
    smuggled = mailbox(client, host, BILLING_APP, BILLING_APP_PASSWORD, f"smuggled {word}", wait=0)
    assert not smuggled, f"{host_name(host)}: the smuggled message reached {BILLING_APP}: {smuggled}"
    in_bobs_box = mailbox(client, host, BOB, BOB_MAIN, f"smuggled {word}", wait=0)
    assert not in_bobs_box, f"{host_name(host)}: a smuggled message reached {BOB}: {in_bobs_box}"


def test_journal_shows_one_message_and_no_smuggled_recipient(host, client, smuggling):
    """In the session's own lines (other suites' sessions from the client may reach this host meanwhile): one
    message accepted, the carrier; and no delivery to the smuggled recipient at all."""
    _, received, _, journal, session = smuggling
    queue_id = QUEUED.match(received[5])["queue_id"]
    assert session, f"{host_name(host)}: no whole session that queued {queue_id} in the journal:\n{journal}"
    accepted = re.findall(
        rf"postfix/smtpd\[\d+\]: ([0-9A-F]+): client=unknown\[{re.escape(address(client))}\]", "\n".join(session)
    )
    assert accepted == [queue_id], f"{host_name(host)}: messages accepted in the session: {accepted}\n{journal}"
    assert f"to=<{BILLING_APP}>" not in journal, f"{host_name(host)}:\n{journal}"


# case: what the client sends at once, whether it waits for the greeting first, and after what Postfix logs the
# improper pipelining. Commands sent at once after connecting may reach smtpd before or after it wrote its
# greeting: before, it does not greet at all and logs CONNECT; after, it has read the EHLO and logs that.
PIPELINING = {
    "before the greeting": (f"EHLO {CLIENT_HELO}\r\n" + ENVELOPE, False, ("CONNECT", "EHLO")),
    "after HELO, which announces no pipelining": (f"HELO {CLIENT_HELO}\r\n" + ENVELOPE, True, ("HELO",)),
    "in one go with EHLO": (f"EHLO {CLIENT_HELO}\r\n" + ENVELOPE, True, ("EHLO",)),
}


@pytest.mark.parametrize("case", PIPELINING)
def test_unauthorised_pipelining_is_refused_and_disconnected(host, client, case):
    commands, wait_for_greeting, stages = PIPELINING[case]
    since = now(host)
    actions = [("reply",)] if wait_for_greeting else []
    # Everything the server sends after the commands, until it hangs up (or is quiet for 5 s).
    answer = raw_smtp(client, host, SMTP_PORT, *actions, ("send", commands), ("drain", 5))[-1]
    greeting = "(?:220 [^\r\n]*\r\n)?" if not wait_for_greeting else ""
    refused = re.fullmatch(f"{greeting}{re.escape(PROTOCOL_ERROR)}\r\n<EOF>", answer)
    assert refused, f"{host_name(host)} {case}: the server answered {answer!r}"
    logged = [f"improper command pipelining after {stage} from unknown[{address(client)}]" for stage in stages]
    journal = wait_for_journal(host, since, *logged)
    assert any(line in journal for line in logged), f"{host_name(host)} {case}:\n{journal}"


def test_pipelining_after_ehlo_announced_it_is_accepted(host, client):
    """The control: the same commands in one go, after the EHLO reply (RFC 2920), are answered one by one."""
    word = token()
    received = raw_smtp(
        client,
        host,
        SMTP_PORT,
        ("reply",),
        ("send", f"EHLO {CLIENT_HELO}\r\n"),
        ("reply",),
        ("send", ENVELOPE),
        ("reply",),
        ("reply",),
        ("reply",),
        ("send", f"Subject: pipelined {word}\r\n\r\nPipelined as RFC 2920 allows.\r\n.\r\nQUIT\r\n"),
        ("reply",),
        ("reply",),
    )
    assert "PIPELINING" in received[1], f"{host_name(host)}: {received}"
    assert [r[:4] for r in received[2:]] == ["250 ", "250 ", "354 ", "250 ", "221 "], f"{host_name(host)}: {received}"
