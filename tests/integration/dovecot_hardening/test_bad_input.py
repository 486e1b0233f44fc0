# SPDX-License-Identifier: MIT
"""Bad input stops the play with a message that names the variable and the user, never a password, before anything
on the host changes.

Extra vars replace the whole user list, so every case gives a complete one: the lab's, with one flaw. The checks run
before any task touches a host, so one host per case is enough, and one run refuses two cases at once, one on each
host: every variable a case sets is read per host from that run's extra vars, where the other host keeps the value
it has anyway (UNCHANGED). The runs go side by side; each is a play that fails within seconds, and each host's
own error must name its own case.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml
from dovecot_facts import USERS, dovecot_state
from harness import assert_refused, one_case_per_host, results_of
from lab import ALICE, ALICE_APPS, ALICE_MAIN, BOB, BOB_MAIN, CREDENTIALS, DOMAIN, MAIL_HOSTS, MX1, MX2, PROJECT_DIR

pytestmark = pytest.mark.bad_input

# The concern's own playbook: it validates mail_tls and dovecot_hardening only, so it fails sooner than site.yml.
PLAYBOOK = PROJECT_DIR / "playbooks" / "dovecot_hardening.yml"
USERS_VAR = "dovecot_hardening_users"
SCHEME_VAR = "dovecot_hardening_password_scheme"
# What a host keeps of a variable that only the other host's case sets: the inventory's users, the role's scheme.
ROLE_DEFAULTS = yaml.safe_load((PROJECT_DIR / "roles" / "dovecot_hardening" / "defaults" / "main.yml").read_text())
CLEARTEXT_VAR = "dovecot_hardening_cleartext_auth_networks"
ACK_VAR = "dovecot_hardening_trust_acknowledged"
UNCHANGED = {USERS_VAR: USERS, SCHEME_VAR: ROLE_DEFAULTS[SCHEME_VAR], CLEARTEXT_VAR: [], ACK_VAR: []}
# Valid and unused elsewhere, where a case needs one more password than the lab users have.
SPARE_PASSWORD = "Walnut-Meteor-Ripple-19"  # noqa: S105  (a lab value, for bad input only)
MALFORMED_NAME = f"bad user@{DOMAIN}"


def _alice(*app_passwords: tuple[str, str]) -> dict:
    return {
        "name": ALICE,
        "password": ALICE_MAIN,
        "mail_login": False,
        "app_passwords": [{"label": label, "password": password} for label, password in app_passwords],
    }


def _bob(password: str = BOB_MAIN) -> dict:
    return {"name": BOB, "password": password, "mail_login": True}


OTHERS = USERS[2:]  # the lab's users after alice and bob, as they are

# case: (host, extra vars, words the host's error must contain). The cases alternate between the two hosts, so
# that each run (RUNS) takes one case for each.
CASES: dict[str, tuple[str, dict, list[str]]] = {
    "unknown hash scheme": (MX1, {SCHEME_VAR: "MD5"}, [SCHEME_VAR, "MD5"]),
    "duplicate user": (MX2, {USERS_VAR: [*USERS, _bob(SPARE_PASSWORD)]}, [USERS_VAR, BOB]),
    "weak password": (MX1, {USERS_VAR: [USERS[0], _bob("password123456"), *OTHERS]}, [USERS_VAR, BOB]),
    "malformed user name": (
        MX2,
        {USERS_VAR: [*USERS, {"name": MALFORMED_NAME, "password": SPARE_PASSWORD, "mail_login": True}]},
        [f"{USERS_VAR}[{len(USERS)}].name =", MALFORMED_NAME, "is not a valid login name"],
    ),
    # Every user's mistake in one run, each named by its index and field, never by its password.
    "two bad users together": (
        MX1,
        {USERS_VAR: [USERS[0], _bob("password123456"), {"name": MALFORMED_NAME, "password": SPARE_PASSWORD}]},
        [
            "dovecot_hardening: 2 input errors, nothing on the host was changed",
            f"{USERS_VAR}[1].password ({BOB}, the main password) is a common password with digits or symbols appended",
            f"{USERS_VAR}[2].name =",
            "is not a valid login name",
        ],
    ),
    # A stale permit: it would accept the whole internet the day someone lists it.
    "acknowledgement of no entry": (
        MX2,
        {ACK_VAR: ["0.0.0.0/0"]},
        [f"{ACK_VAR}[0] =", f"names no entry of {CLEARTEXT_VAR}; remove it"],
    ),
    "app password label clash": (
        MX1,
        {USERS_VAR: [_alice(("laptop", ALICE_APPS["laptop"]), ("laptop", ALICE_APPS["phone"])), _bob(), *OTHERS]},
        [USERS_VAR, ALICE, "laptop"],
    ),
    # A trust list covering the internet: passwords without TLS from anywhere.
    "cleartext authentication from everywhere": (
        MX1,
        {CLEARTEXT_VAR: ["::/0"]},
        # The words around the value: the YAML callback doubles the quotes of a single-quoted message.
        [
            f"{CLEARTEXT_VAR}[0] =",
            "covers public address space wider than a /48 (the whole internet)",
            "may send its password without TLS",
            "to dovecot_hardening_trust_acknowledged",
        ],
    ),
    "password reused for two credentials": (
        MX2,
        {USERS_VAR: [_alice(("laptop", ALICE_APPS["laptop"]), ("phone", ALICE_APPS["laptop"])), _bob(), *OTHERS]},
        [USERS_VAR, ALICE],
    ),
}


RUNS = one_case_per_host(CASES)


def _extra_vars(run: dict[str, str]) -> dict:
    """One run's extra vars: each host's values under lab_bad_input.<host> (its case's, or UNCHANGED for what only
    the other case sets), and every variable the run's cases set templated from there, so that each host reads its
    own."""
    names = sorted({var for case in run.values() for var in CASES[case][1]})
    per_host = {target: {var: CASES[case][1].get(var, UNCHANGED[var]) for var in names} for target, case in run.items()}
    return {"lab_bad_input": per_host, **{var: f"{{{{ lab_bad_input[inventory_hostname].{var} }}}}" for var in names}}


def _passwords(value) -> set[str]:
    """Every password and password hash in the extra vars, however deep they sit."""
    if isinstance(value, dict):
        found = {v for k, v in value.items() if k in ("password", "password_hash") and isinstance(v, str)}
        return found.union(*(_passwords(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_passwords(v) for v in value))
    return set()


@pytest.fixture(scope="module")
def refused(run_playbook, podman_host, tmp_path_factory):
    """Every run (RUNS), by the cases it holds, with the state of both hosts before and after all of them."""
    hosts = {name: podman_host(name) for name in MAIL_HOSTS}
    before = {name: dovecot_state(h) for name, h in hosts.items()}
    directory = tmp_path_factory.mktemp("dovecot-bad-input")

    def refuse(index: int, run: dict[str, str]):
        extra_vars = _extra_vars(run)
        vars_file = directory / f"run-{index}.yml"
        vars_file.write_text(yaml.safe_dump(extra_vars))
        return extra_vars, run_playbook("--limit", ",".join(run), "-e", f"@{vars_file}", playbook=PLAYBOOK)

    with ThreadPoolExecutor(max_workers=len(RUNS)) as pool:
        done = list(pool.map(refuse, range(len(RUNS)), RUNS))
    after = {name: dovecot_state(h) for name, h in hosts.items()}
    by_case = {case: result for run, result in zip(RUNS, done, strict=True) for case in run.values()}
    return by_case, before, after


@pytest.mark.parametrize("case", CASES)
def test_bad_input_fails_clearly_and_leaves_host_unchanged(case, refused):
    by_case, before, after = refused
    target, _, must_name = CASES[case]
    extra_vars, run = by_case[case]

    assert_refused(case, results_of(run, target), must_name)
    # The inventory's passwords are still in play where the extra vars leave the user list alone.
    shown = sum(p in run.output for p in _passwords(extra_vars) | set(CREDENTIALS.values()))  # a count: no secret
    assert shown == 0, f"{case}: {shown} password(s) in the output"
    assert run.recap.get(target, {}).get("changed") == 0, f"{case}: {run.changed_tasks() or run.recap}"
    assert after[target] == before[target], f"{case}: the host changed"
