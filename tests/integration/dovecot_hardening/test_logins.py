# SPDX-License-Identifier: MIT
"""Who can log in with what, on every IMAP and POP3 service a host offers: app passwords work, a main password works
only where mail_login allows it, and a password opens only its own user's mailbox.

Each test runs on each host for each service it offers (conftest.py deselects the rest). Every refused attempt is
followed by a good login that clears Dovecot's auth penalty (login_failing), so that no test waits out the
penalties of the ones before it.
"""

from __future__ import annotations

import pytest
from dovecot_facts import ALL_SERVICES, describe, is_auth_failure, login, login_failing
from lab import ALICE, ALICE_APPS, ALICE_MAIN, BOB, BOB_MAIN, DOMAIN
from probes import host_name

UNKNOWN_USER = f"carol@{DOMAIN}"

pytestmark = [pytest.mark.readonly, pytest.mark.parametrize("service", ALL_SERVICES)]


def test_every_app_password_logs_in(host, service, client):
    results = login(client, host, service, *((ALICE, password) for password in ALICE_APPS.values()))
    failed = {label: describe(r) for label, r in zip(ALICE_APPS, results, strict=True) if r["outcome"] != "accepted"}
    assert not failed, f"{host_name(host)} {service}: alice's app passwords that did not log in: {failed}"


def test_main_password_barred_from_mail_does_not_log_in(host, service, client):
    result = login_failing(client, host, service, (ALICE, ALICE_MAIN))[0]
    assert is_auth_failure(result), f"{host_name(host)} {service}: alice's main password: {describe(result)}"


def test_main_password_allowed_for_mail_logs_in(host, service, client):
    result = login(client, host, service, (BOB, BOB_MAIN))[0]
    assert result["outcome"] == "accepted", f"{host_name(host)} {service}: bob's main password: {describe(result)}"


def test_a_password_opens_only_its_own_users_mailbox(host, service, client):
    crossed = {
        "bob with alice's laptop app password": (BOB, ALICE_APPS["laptop"]),
        "alice with bob's main password": (ALICE, BOB_MAIN),
    }
    results = login_failing(client, host, service, *crossed.values())
    let_in = {what: describe(r) for what, r in zip(crossed, results, strict=True) if not is_auth_failure(r)}
    assert not let_in, f"{host_name(host)} {service}: {let_in}"


def test_unknown_user_does_not_log_in(host, service, client):
    result = login_failing(client, host, service, (UNKNOWN_USER, BOB_MAIN))[0]
    assert is_auth_failure(result), f"{host_name(host)} {service}: {UNKNOWN_USER}: {describe(result)}"
