# SPDX-License-Identifier: MIT
"""Who can log in with what, on every IMAP and POP3 service a host offers: app passwords work, a main password works
only where mail_login allows it, and a password opens only its own user's mailbox."""

from __future__ import annotations

import pytest
from dovecot_facts import (
    ALICE,
    ALICE_APPS,
    ALICE_MAIN,
    BOB,
    BOB_MAIN,
    SERVICE_CASES,
    SERVICE_IDS,
    describe,
    is_auth_failure,
    login,
)

UNKNOWN_USER = "carol@lab.mailfort.test"

pytestmark = pytest.mark.parametrize(("name", "service"), SERVICE_CASES, ids=SERVICE_IDS)


def test_every_app_password_logs_in(name, service, podman_host, client):
    results = login(client, podman_host(name), service, *((ALICE, password) for password in ALICE_APPS.values()))
    failed = {label: describe(r) for label, r in zip(ALICE_APPS, results, strict=True) if r["outcome"] != "accepted"}
    assert not failed, f"{name} {service}: alice's app passwords that did not log in: {failed}"


def test_main_password_barred_from_mail_does_not_log_in(name, service, podman_host, client):
    result = login(client, podman_host(name), service, (ALICE, ALICE_MAIN))[0]
    assert is_auth_failure(result), f"{name} {service}: alice's main password: {describe(result)}"


def test_main_password_allowed_for_mail_logs_in(name, service, podman_host, client):
    result = login(client, podman_host(name), service, (BOB, BOB_MAIN))[0]
    assert result["outcome"] == "accepted", f"{name} {service}: bob's main password: {describe(result)}"


def test_a_password_opens_only_its_own_users_mailbox(name, service, podman_host, client):
    crossed = {
        "bob with alice's laptop app password": (BOB, ALICE_APPS["laptop"]),
        "alice with bob's main password": (ALICE, BOB_MAIN),
    }
    results = login(client, podman_host(name), service, *crossed.values())
    let_in = {what: describe(r) for what, r in zip(crossed, results, strict=True) if not is_auth_failure(r)}
    assert not let_in, f"{name} {service}: {let_in}"


def test_unknown_user_does_not_log_in(name, service, podman_host, client):
    result = login(client, podman_host(name), service, (UNKNOWN_USER, BOB_MAIN))[0]
    assert is_auth_failure(result), f"{name} {service}: {UNKNOWN_USER}: {describe(result)}"
