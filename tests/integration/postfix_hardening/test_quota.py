# SPDX-License-Identifier: MIT
"""Outbound quotas per SASL login (mailfort-quota): campaign@, under a quota of its own of 3 messages and 5 recipients
an hour, sends up to it on 587 and 465, and its next message gets a temporary 451 4.7.1 with one journal line;
bob, another login, still sends. Each test starts from cleared counters, as an administrator lifts a quota at once:
stop the socket and service, `--forget` the login, start them again (the procedure in the role's README).

A mutator: campaign@ ends its tests over quota for the next hour, so the module clears its counters again when it
is done, and its last test checks that the service is back as converged with nothing counted for campaign@. How
the service runs on the converged hosts is test_quota_service.py's, in the readonly phase.
"""

from __future__ import annotations

import json
import re

import pytest
from harness import secrets_in_journal
from lab import ALICE, BILLING_APP, BOB, BOB_MAIN, CAMPAIGN, CAMPAIGN_PASSWORD, CREDENTIALS
from postfix_facts import (
    CAMPAIGN_QUOTA_MESSAGES,
    CAMPAIGN_QUOTA_RECIPIENTS,
    CAMPAIGN_QUOTA_WINDOW,
    QUOTA_CONFIG,
    QUOTA_PROGRAM,
    QUOTA_STATE,
    QUOTA_UNITS,
    SUBMISSION_PORT,
    SUBMISSIONS_PORT,
    answered,
    assert_quota_service_as_converged,
    message,
    now,
    session,
    show,
    smtp,
    step,
    token,
)
from probes import address, host_name, wait_for

pytestmark = pytest.mark.mutator

# The sessions alternate between 587 and 465: the quota is the login's, whichever port it uses.
PORTS = [(SUBMISSION_PORT, "starttls"), (SUBMISSIONS_PORT, "implicit")]


def _send(index: int, user: str, password: str, recipients: list[str], subject: str) -> dict:
    port, tls = PORTS[index % 2]
    return session(
        port,
        tls,
        ["ehlo"],
        ["auth", user, password],
        ["cmd", f"MAIL FROM:<{user}>"],
        *[["cmd", f"RCPT TO:<{recipient}>"] for recipient in recipients],
        ["data", message(user, recipients[0], subject)],
        ["cmd", "QUIT"],
    )


def _data_reply(result: dict) -> dict:
    """The reply to the end of DATA: where the quota answers."""
    replies = [s for s in result["steps"] if s["step"] == "data"]
    assert replies, f"the session broke before DATA:\n{show(result)}"
    return replies[0]


def _quota_journal(host, since: float) -> str:
    return host.check_output(f"journalctl --no-pager --since @{since:.3f} -t mailfort-quota -o cat || true")


def _clear_counters(host, login: str) -> None:
    """The administrator's way to lift a login's quota at once."""
    units = " ".join(QUOTA_UNITS)
    host.check_output(
        f"systemctl stop {units} && python3 -I {QUOTA_PROGRAM} --config {QUOTA_CONFIG} --forget {login}"
        f" && systemctl start {units}"
    )


def _counted_logins(host) -> list[str]:
    """The logins the service's state file holds counters for (saved on stop, so current after a clear)."""
    state = host.check_output(f"cat {QUOTA_STATE} 2>/dev/null || echo '{{}}'")
    return sorted(json.loads(state))


@pytest.fixture(scope="module", autouse=True)
def restored(host):
    """Whatever the tests left, campaign@ goes back to nothing counted when the module is done with a host."""
    yield
    _clear_counters(host, CAMPAIGN)


@pytest.fixture
def cleared(host) -> float:
    """campaign@ starts from nothing counted; the journal is read from the time this returns."""
    _clear_counters(host, CAMPAIGN)
    return now(host)


def test_login_over_its_message_quota_gets_451_and_another_login_still_sends(host, client, cleared):
    subject = f"quota {token()}"
    sessions = [_send(i, CAMPAIGN, CAMPAIGN_PASSWORD, [BOB], subject) for i in range(CAMPAIGN_QUOTA_MESSAGES + 1)]
    sessions.append(_send(0, BOB, BOB_MAIN, [ALICE], subject))
    *within, over, other = smtp(client, host, *sessions)

    for result in within:
        assert answered(_data_reply(result), 250, "2.0.0"), f"{host_name(host)}: refused within quota:\n{show(result)}"
    refused = _data_reply(over)
    assert answered(refused, 451, "4.7.1", f"at most {CAMPAIGN_QUOTA_MESSAGES} messages"), (
        f"{host_name(host)}: message {CAMPAIGN_QUOTA_MESSAGES + 1} not deferred:\n{show(over)}"
    )
    assert answered(_data_reply(other), 250, "2.0.0"), f"{host_name(host)}: bob could not send:\n{show(other)}"


def test_login_over_its_recipient_quota_gets_451(host, client, cleared):
    subject = f"quota {token()}"
    four = [BOB, ALICE, BILLING_APP, CAMPAIGN]
    first, over, last = smtp(
        client,
        host,
        _send(0, CAMPAIGN, CAMPAIGN_PASSWORD, four, subject),
        _send(1, CAMPAIGN, CAMPAIGN_PASSWORD, [BOB, ALICE], subject),
        _send(0, CAMPAIGN, CAMPAIGN_PASSWORD, [BOB], subject),
    )

    assert answered(_data_reply(first), 250, "2.0.0"), f"{host_name(host)}:\n{show(first)}"
    assert answered(_data_reply(over), 451, "4.7.1", f"at most {CAMPAIGN_QUOTA_RECIPIENTS} recipients"), (
        f"{host_name(host)}: 6 recipients of 5 not deferred:\n{show(over)}"
    )
    # The refused message was not counted: one more recipient still fits.
    assert answered(_data_reply(last), 250, "2.0.0"), f"{host_name(host)}:\n{show(last)}"


def test_refusal_is_one_journal_line_naming_login_client_and_limit_without_a_password(host, client, cleared):
    sessions = [_send(i, CAMPAIGN, CAMPAIGN_PASSWORD, [BOB], token()) for i in range(CAMPAIGN_QUOTA_MESSAGES + 1)]
    result = smtp(client, host, *sessions)[-1]
    assert step(result, 1)["code"] == 235, show(result)

    line = re.compile(
        rf"^refused: sasl_username={re.escape(CAMPAIGN)} client={re.escape(address(client))} queue_id=\S+"
        rf" limit=messages {CAMPAIGN_QUOTA_MESSAGES}/{CAMPAIGN_QUOTA_WINDOW}s sent={CAMPAIGN_QUOTA_MESSAGES} messages",
        re.MULTILINE,
    )

    def logged() -> str:
        journal = _quota_journal(host, cleared)
        return journal if line.search(journal) else ""

    journal = wait_for(logged, timeout=10)
    assert journal, f"{host_name(host)}: no refusal line from mailfort-quota:\n{_quota_journal(host, cleared)}"
    assert len(line.findall(journal)) == 1, f"{host_name(host)}: not one refusal line:\n{journal}"
    assert secrets_in_journal(host, CREDENTIALS) == [], f"{host_name(host)}: a password is in the journal"


def test_clearing_leaves_the_service_as_converged_with_nothing_counted_for_the_login(host, cleared):
    """The state check: cleared as the module's teardown (`restored`) clears it, the stopped and restarted service
    runs as converged, and the quota tests leave no counter for campaign@ behind."""
    assert_quota_service_as_converged(host)
    counted = _counted_logins(host)
    assert CAMPAIGN not in counted, f"{host_name(host)}: {CAMPAIGN} still has counters: {counted}"
