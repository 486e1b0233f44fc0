# SPDX-License-Identifier: MIT
"""A failed login leaves a journal line that says who tried from where, and no password ever reaches the journal."""

from __future__ import annotations

import pytest
from dovecot_facts import WRONG_PASSWORD, describe, is_auth_failure, login_failing
from harness import secrets_in_journal
from lab import ALICE, CREDENTIALS
from probes import address, host_name, wait_for

pytestmark = pytest.mark.readonly


@pytest.fixture(scope="module")
def failed_login(host, client):
    """One failed login from the client, and the journal of the dovecot unit since just before it."""
    since = int(host.check_output("date +%s")) - 1
    result = login_failing(client, host, "imaps", (ALICE, WRONG_PASSWORD))[0]
    assert is_auth_failure(result), f"{host_name(host)}: {describe(result)}"
    peer = address(client)

    def lines():
        journal = host.check_output(f"journalctl -u dovecot --since @{since} --no-pager").splitlines()
        return [line for line in journal if ALICE in line and peer in line]

    # The login process writes its line once the client has gone; the journal may take a moment more.
    return wait_for(lines, timeout=15), host.check_output(f"journalctl -u dovecot --since @{since} --no-pager")


def test_failed_login_is_logged_with_user_and_client_address(host, client, failed_login):
    matching, journal = failed_login
    assert matching, (
        f"{host_name(host)}: no journal line names {ALICE} and the client {address(client)}:\n{journal[-3000:]}"
    )


def test_failed_login_does_not_log_the_tried_password(host, failed_login):
    _, journal = failed_login
    logged = WRONG_PASSWORD in journal  # a bool, so that pytest does not print the password either
    assert not logged, f"{host_name(host)}: the tried password is in the journal"


def test_journal_holds_no_lab_password(host):
    """Neither Dovecot nor a task of site.yml (Ansible logs module arguments unless no_log) wrote one."""
    named = secrets_in_journal(host, {**CREDENTIALS, "the wrong password of a failed login": WRONG_PASSWORD})
    assert not named, f"{host_name(host)}: in the journal: {', '.join(named)}"
