# SPDX-License-Identifier: MIT
"""What the journal tells an administrator and fail2ban: a failed login on 587 with the client's address, in the
line fail2ban's postfix-sasl filter matches, TLS sessions with their protocol and service, and never a password."""

from __future__ import annotations

import re

import pytest
from harness import secrets_in_journal
from lab import ALICE, CREDENTIALS
from postfix_facts import (
    ALICE_LAPTOP,
    SUBMISSION_PORT,
    SUBMISSIONS_PORT,
    WRONG_PASSWORD,
    answered,
    now,
    session,
    show,
    smtp,
    step,
    wait_for_journal,
)
from probes import address, host_name

pytestmark = pytest.mark.readonly


@pytest.fixture(scope="module")
def logged(host, client):
    """A failed login on 587 and a good one on 465, and the Postfix journal from just before them."""
    since = now(host)
    # The good login first: Dovecot delays logins from an address after a failed one.
    good, failed = smtp(
        client,
        host,
        session(SUBMISSIONS_PORT, "implicit", ["ehlo"], ["auth", ALICE, ALICE_LAPTOP]),
        session(SUBMISSION_PORT, "starttls", ["ehlo"], ["auth", ALICE, WRONG_PASSWORD]),
    )
    assert answered(step(failed, 1), 535, "5.7.8"), f"{host_name(host)}:\n{show(failed)}"
    assert answered(step(good, 1), 235), f"{host_name(host)}:\n{show(good)}"
    # The client's own failure: other suites' sessions may fail logins on this host too.
    journal = wait_for_journal(host, since, f"unknown[{address(client)}]: SASL PLAIN authentication failed")
    return failed, good, journal


def test_failed_login_is_logged_with_the_client_address_as_fail2ban_expects(host, client, logged):
    _, _, journal = logged
    # fail2ban's postfix-sasl filter (filter.d/postfix.conf, mode "auth"):
    # ^warning: [-._\w]+\[<HOST>\]: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed
    line = re.compile(
        rf"postfix/submission/smtpd\[\d+\]: warning: [-._\w]+\[{re.escape(address(client))}\]: "
        rf"SASL PLAIN authentication failed: .*sasl_username={re.escape(ALICE)}"
    )
    assert line.search(journal), f"{host_name(host)}: no line fail2ban would match:\n{journal[-3000:]}"


def test_tls_sessions_are_logged_with_protocol_cipher_and_service(host, client, logged):
    failed, good, journal = logged
    for service, result in (("submission", failed), ("submissions", good)):
        line = (
            f"postfix/{service}/smtpd\\[\\d+\\]: Anonymous TLS connection established from "
            f"unknown\\[{re.escape(address(client))}\\]: {re.escape(result['tls_version'])} with cipher \\S+"
        )
        assert re.search(line, journal), f"{host_name(host)}: no TLS line for {service}:\n{journal[-3000:]}"


def test_failed_login_does_not_log_the_tried_password(host, logged):
    _, _, journal = logged
    logged_password = WRONG_PASSWORD in journal  # a bool, so that pytest does not print the password either
    assert not logged_password, f"{host_name(host)}: the tried password is in the journal"


def test_journal_holds_no_lab_password(host):
    """Neither Postfix nor a task of the role (Ansible logs module arguments unless no_log) wrote one."""
    named = secrets_in_journal(host, {**CREDENTIALS, "the wrong password of a failed login": WRONG_PASSWORD})
    assert not named, f"{host_name(host)}: in the journal: {', '.join(named)}"
