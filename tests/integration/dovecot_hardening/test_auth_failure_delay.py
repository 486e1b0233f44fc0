# SPDX-License-Identifier: MIT
"""A wrong password is answered only after the failure delay; a right one is answered at once.

Dovecot also delays every login from an address with recent failures (its auth penalty), so the probe first logs in
with a valid password, which waits out and clears any penalty an earlier test left, and only then times one good
and one bad login; a last valid login clears the penalty the bad one earned, for the tests after this one.
"""

from __future__ import annotations

import pytest
from dovecot_facts import (
    AUTH_FAILURE_DELAY,
    AUTH_FAILURE_DELAY_MIN,
    PROMPT_LOGIN_MAX,
    RESET_LOGIN,
    WRONG_PASSWORD,
    describe,
    is_auth_failure,
    login,
)
from lab import BOB, BOB_MAIN
from probes import host_name

pytestmark = pytest.mark.readonly


@pytest.fixture(scope="module")
def timed_logins(host, client):
    warm_up, good, bad, _ = login(
        client, host, "imaps", (BOB, BOB_MAIN), (BOB, BOB_MAIN), (BOB, WRONG_PASSWORD), RESET_LOGIN
    )
    assert warm_up["outcome"] == "accepted", f"{host_name(host)}: bob cannot log in at all: {describe(warm_up)}"
    return good, bad


def test_successful_login_is_answered_at_once(host, timed_logins):
    good, _ = timed_logins
    assert good["outcome"] == "accepted", f"{host_name(host)}: {describe(good)}"
    assert good["seconds"] < PROMPT_LOGIN_MAX, f"{host_name(host)}: a valid login took {describe(good)}"


def test_failed_login_is_answered_after_the_failure_delay(host, timed_logins):
    _, bad = timed_logins
    assert is_auth_failure(bad), f"{host_name(host)}: a wrong password was not refused: {describe(bad)}"
    assert bad["seconds"] >= AUTH_FAILURE_DELAY_MIN, (
        f"{host_name(host)}: a failed login was answered too soon for a {AUTH_FAILURE_DELAY} s delay: {describe(bad)}"
    )
    # Longer would be some other wait (a penalty, a timeout), not the configured delay.
    assert bad["seconds"] < AUTH_FAILURE_DELAY + 2, f"{host_name(host)}: {describe(bad)}"
