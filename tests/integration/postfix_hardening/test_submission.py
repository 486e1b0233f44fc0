# SPDX-License-Identifier: MIT
"""Submission on 587 (STARTTLS) and 465 (implicit TLS) as a mail client meets it: no password before TLS, logins
with the credentials Dovecot allows for mail, each login sending only as the addresses it owns, nothing at all for a
client that did not log in, and submitted mail delivered to the recipient's mailbox: through the DKIM signers'
milter, which must answer (milter_default_action tempfail would defer the message otherwise)."""

from __future__ import annotations

import pytest
from lab import ALICE, ALICE_MAIN, BILLING_APP, BILLING_APP_PASSWORD, BOB, BOB_MAIN
from postfix_facts import (
    ALICE_LAPTOP,
    BILLING,
    SUBMISSION_PORT,
    SUBMISSIONS_PORT,
    answered,
    mailbox,
    message,
    session,
    show,
    smtp_sessions,
    step,
    token,
)
from probes import host_name

pytestmark = pytest.mark.readonly

SUBMISSION = {"587": (SUBMISSION_PORT, "starttls"), "465": (SUBMISSIONS_PORT, "implicit")}


def _send(user: str, password: str, sender: str, subject: str) -> list[list]:
    return [
        ["ehlo"],
        ["auth", user, password],
        ["cmd", f"MAIL FROM:<{sender}>"],
        ["cmd", f"RCPT TO:<{BOB}>"],
        ["data", message(sender, BOB, subject)],
        ["cmd", "QUIT"],
    ]


@pytest.fixture(scope="module")
def submission(host, client):
    """One session per question on 587 and 465 of one host, in one probe run; the subjects of the sent messages."""
    subjects = {port: f"submitted on {port} {token()}" for port in SUBMISSION}
    sessions = {
        "587 before starttls": session(
            SUBMISSION_PORT, "none", ["ehlo"], ["auth", ALICE, ALICE_LAPTOP], ["cmd", f"MAIL FROM:<{ALICE}>"]
        ),
        **{
            f"{port} without login": session(
                number, tls, ["ehlo"], ["cmd", f"MAIL FROM:<{ALICE}>"], ["cmd", f"RCPT TO:<{BOB}>"], ["cmd", "DATA"]
            )
            for port, (number, tls) in SUBMISSION.items()
        },
        **{
            f"{port} send": session(number, tls, *_send(ALICE, ALICE_LAPTOP, ALICE, subjects[port]))
            for port, (number, tls) in SUBMISSION.items()
        },
        "587 sender not owned": session(
            SUBMISSION_PORT,
            "starttls",
            ["ehlo"],
            ["auth", ALICE, ALICE_LAPTOP],
            ["cmd", f"MAIL FROM:<{BOB}>"],
            ["cmd", f"RCPT TO:<{BOB}>"],
        ),
        "587 application account": session(
            SUBMISSION_PORT,
            "starttls",
            ["ehlo"],
            ["auth", BILLING_APP, BILLING_APP_PASSWORD],
            ["cmd", f"MAIL FROM:<{BILLING}>"],
            ["cmd", f"RCPT TO:<{BOB}>"],
            ["cmd", "RSET"],
            ["cmd", f"MAIL FROM:<{ALICE}>"],
            ["cmd", f"RCPT TO:<{BOB}>"],
        ),
        # Last: Dovecot answers a failed login after its failure delay, and delays the next ones from the client.
        "587 main password barred from mail": session(
            SUBMISSION_PORT, "starttls", ["ehlo"], ["auth", ALICE, ALICE_MAIN]
        ),
    }
    return smtp_sessions(client, host, sessions), subjects


def test_587_offers_no_auth_before_starttls(host, submission):
    result = submission[0]["587 before starttls"]
    ehlo = step(result, 0)
    assert "STARTTLS" in ehlo["keywords"], show(result)
    offered = [k for k in ehlo["keywords"] if k.startswith("AUTH")]
    assert not offered, f"{host_name(host)}: 587 offers {offered} in cleartext:\n{show(result)}"


def test_587_refuses_auth_and_mail_before_starttls_even_with_a_valid_password(host, submission):
    result = submission[0]["587 before starttls"]
    auth, mail = step(result, 1), step(result, 2)
    assert answered(auth, 530, "5.7.0", "Must issue a STARTTLS command first"), f"{host_name(host)}:\n{show(result)}"
    assert answered(mail, 530, "5.7.0"), f"{host_name(host)}:\n{show(result)}"


@pytest.mark.parametrize("port", SUBMISSION)
def test_submission_offers_auth_after_tls(host, submission, port):
    result = submission[0][f"{port} send"]
    assert result.get("tls_version") in ("TLSv1.2", "TLSv1.3"), show(result)
    assert "AUTH PLAIN LOGIN" in step(result, 0)["keywords"], f"{host_name(host)} {port}:\n{show(result)}"


@pytest.mark.parametrize("port", SUBMISSION)
def test_client_that_did_not_log_in_cannot_send(host, submission, port):
    result = submission[0][f"{port} without login"]
    rcpt = step(result, 2)
    assert answered(rcpt, 554, "5.7.1", "Access denied"), f"{host_name(host)} {port}:\n{show(result)}"
    # DATA without an accepted recipient
    assert step(result, 3)["code"] // 100 == 5, f"{host_name(host)} {port}:\n{show(result)}"


@pytest.mark.parametrize("port", SUBMISSION)
def test_app_password_logs_in_and_sends(host, submission, port):
    result = submission[0][f"{port} send"]
    assert answered(step(result, 1), 235, "2.7.0"), f"{host_name(host)} {port}: alice's app password:\n{show(result)}"
    assert answered(step(result, 3), 250, "2.1.5"), show(result)
    assert answered(step(result, 4), 250, "2.0.0"), f"{host_name(host)} {port}: the message:\n{show(result)}"


def test_submitted_mail_is_delivered_to_the_recipients_mailbox(host, client, submission):
    """Read back over IMAPS as bob, with his own password: one message per submission port."""
    subjects = submission[1]
    for port, subject in subjects.items():
        delivered = mailbox(client, host, BOB, BOB_MAIN, subject.split()[-1])
        assert [m["subject"] for m in delivered] == [subject], f"{host_name(host)} {port}: {BOB}'s INBOX: {delivered}"


def test_main_password_barred_from_mail_is_refused(host, submission):
    result = submission[0]["587 main password barred from mail"]
    assert answered(step(result, 1), 535, "5.7.8"), f"{host_name(host)}: alice's main password:\n{show(result)}"


def test_login_cannot_send_as_an_address_it_does_not_own(host, submission):
    result = submission[0]["587 sender not owned"]
    assert answered(step(result, 1), 235), show(result)
    rcpt = step(result, 3)
    assert answered(rcpt, 553, "5.7.1", "not owned by user", ALICE), f"{host_name(host)}:\n{show(result)}"


def test_application_account_sends_as_its_listed_address_only(host, submission):
    result = submission[0]["587 application account"]
    assert answered(step(result, 1), 235), f"{host_name(host)}: {BILLING_APP} cannot log in:\n{show(result)}"
    assert answered(step(result, 3), 250, "2.1.5"), f"{host_name(host)}: {BILLING_APP} as {BILLING}:\n{show(result)}"
    refused = step(result, 6)
    assert answered(refused, 553, "5.7.1", "not owned by user", BILLING_APP), (
        f"{host_name(host)}: {BILLING_APP} as {ALICE}:\n{show(result)}"
    )
