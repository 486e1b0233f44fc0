# SPDX-License-Identifier: MIT
"""Bad input stops the play with a message that names the variable and the user, never a password, before anything
on the host changes.

Extra vars replace the whole user list, so every case gives a complete small one.
"""

from __future__ import annotations

import pytest
import yaml
from dovecot_facts import (
    ALICE,
    ALICE_APPS,
    ALICE_MAIN,
    BOB,
    BOB_MAIN,
    BOOKWORM,
    CREDENTIALS,
    TRIXIE,
    USERS,
    dovecot_state,
)
from harness import assert_refused

USERS_VAR = "dovecot_hardening_users"
# Valid and unused elsewhere, where a case needs one more password than the lab users have.
SPARE_PASSWORD = "Walnut-Meteor-Ripple-19"  # noqa: S105  (a lab value, for bad input only)
MALFORMED_NAME = "bad user@lab.mailfort.test"


def _alice(*app_passwords: tuple[str, str]) -> dict:
    return {
        "name": ALICE,
        "password": ALICE_MAIN,
        "mail_login": False,
        "app_passwords": [{"label": label, "password": password} for label, password in app_passwords],
    }


def _bob(password: str = BOB_MAIN) -> dict:
    return {"name": BOB, "password": password, "mail_login": True}


# case: (host, extra vars, words the error must contain). The checks run before any task touches a host, so one
# host per case is enough; the cases alternate between the two.
CASES: dict[str, tuple[str, dict, list[str]]] = {
    "unknown hash scheme": (
        BOOKWORM,
        {"dovecot_hardening_password_scheme": "MD5"},
        ["dovecot_hardening_password_scheme", "MD5"],
    ),
    "duplicate user": (TRIXIE, {USERS_VAR: [*USERS, _bob(SPARE_PASSWORD)]}, [USERS_VAR, BOB]),
    "weak password": (BOOKWORM, {USERS_VAR: [USERS[0], _bob("password123456")]}, [USERS_VAR, BOB]),
    "malformed user name": (
        TRIXIE,
        {USERS_VAR: [*USERS, {"name": MALFORMED_NAME, "password": SPARE_PASSWORD, "mail_login": True}]},
        [USERS_VAR, MALFORMED_NAME],
    ),
    "app password label clash": (
        BOOKWORM,
        {USERS_VAR: [_alice(("laptop", ALICE_APPS["laptop"]), ("laptop", ALICE_APPS["phone"])), _bob()]},
        [USERS_VAR, ALICE, "laptop"],
    ),
    "password reused for two credentials": (
        TRIXIE,
        {USERS_VAR: [_alice(("laptop", ALICE_APPS["laptop"]), ("phone", ALICE_APPS["laptop"])), _bob()]},
        [USERS_VAR, ALICE],
    ),
}


def _passwords(value) -> set[str]:
    """Every password and password hash in the extra vars, however deep they sit."""
    if isinstance(value, dict):
        found = {v for k, v in value.items() if k in ("password", "password_hash") and isinstance(v, str)}
        return found.union(*(_passwords(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_passwords(v) for v in value))
    return set()


@pytest.mark.parametrize("case", CASES)
def test_bad_input_fails_clearly_and_leaves_host_unchanged(case, run_playbook, podman_host, tmp_path):
    target, extra_vars, must_name = CASES[case]
    host = podman_host(target)
    before = dovecot_state(host)
    vars_file = tmp_path / "extra.yml"
    vars_file.write_text(yaml.safe_dump(extra_vars))

    run = run_playbook("--limit", target, "-e", f"@{vars_file}")

    assert_refused(case, run, must_name)
    # The inventory's passwords are still in play where the extra vars leave the user list alone.
    shown = sum(p in run.output for p in _passwords(extra_vars) | set(CREDENTIALS.values()))  # a count: no secret
    assert shown == 0, f"{case}: {shown} password(s) in the output"
    assert run.recap.get(target, {}).get("changed") == 0, f"{case}: {run.changed_tasks() or run.recap}"
    assert dovecot_state(host) == before, f"{case}: the host changed"
