# SPDX-License-Identifier: MIT
"""Bad input stops the play with a message that names the variable and the rule it broke, before anything on the
host changes: /etc/postfix stays as it was, and Postfix goes on running without a reload or restart.

The checks run before any task touches a host, so one host per case is enough (the cases alternate), and the cases
run side by side: each is a play that fails within seconds. A value that passes these checks but that Postfix
itself refuses is in test_updates_reload_or_restart.py, because the candidate directory keeps it.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from harness import assert_refused
from postfix_facts import BOOKWORM, CREDENTIALS, MAIL_HOSTS, TRIXIE, master_events, master_pid, now, postfix_state

# case: (host, extra vars as JSON, so that numbers stay numbers, and the words the error must contain)
CASES: dict[str, tuple[str, dict, list[str]]] = {
    "unknown TLS profile": (
        BOOKWORM,
        {"postfix_hardening_tls_profile": "ancient"},
        ["postfix_hardening_tls_profile", "ancient", "is not a TLS profile", "intermediate"],
    ),
    "malformed CIDR": (
        TRIXIE,
        {"postfix_hardening_mynetworks": ["192.0.2.0/24", "10.0.0.300/8"]},
        ["postfix_hardening_mynetworks[1]", "10.0.0.300/8", "is not a network in CIDR notation"],
    ),
    "negative message size limit": (
        BOOKWORM,
        {"postfix_hardening_message_size_limit": -1},
        ["postfix_hardening_message_size_limit", "-1", "must be a whole number of at least"],
    ),
    "misspelled extra parameter": (
        TRIXIE,
        {"postfix_hardening_extra": {"smtpd_tls_loglevl": "1"}},
        ["postfix_hardening_extra.smtpd_tls_loglevl", "is not a Postfix parameter", "smtpd_tls_loglevel"],
    ),
    "negative outbound quota": (
        TRIXIE,
        {"postfix_hardening_quota_limits": [{"window": 3600, "messages": -1, "recipients": 100}]},
        ["postfix_hardening_quota_limits[0].messages", "-1", "must be a whole number from 1"],
    ),
    "quota override for a login that is no mailbox": (
        BOOKWORM,
        {"postfix_hardening_quota_overrides": {"nobody@lab.mailfort.test": []}},
        ["postfix_hardening_quota_overrides.nobody@lab.mailfort.test", "is not one of the mailboxes"],
    ),
    "weakening extra without acknowledgement": (
        BOOKWORM,
        {"postfix_hardening_extra": {"smtpd_tls_auth_only": "no"}},
        ["postfix_hardening_extra.smtpd_tls_auth_only", "PFX-01", "postfix_hardening_extra_acknowledged"],
    ),
}


def _quota_pid(host) -> str:
    """The outbound quota service's main PID: a restart would change it."""
    return host.check_output("systemctl show -P MainPID mailfort-quota.service")


@pytest.fixture(scope="module")
def refused_runs(run_playbook, podman_host):
    """Every case's run, with the state of both hosts before and after all of them."""
    hosts = {name: podman_host(name) for name in MAIL_HOSTS}
    before = {name: (postfix_state(h), master_pid(h), now(h), _quota_pid(h)) for name, h in hosts.items()}
    with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
        futures = {
            case: pool.submit(run_playbook, "--limit", target, "-e", json.dumps(extra_vars))
            for case, (target, extra_vars, _) in CASES.items()
        }
        runs = {case: future.result() for case, future in futures.items()}
    after = {
        name: (postfix_state(h), master_pid(h), master_events(h, before[name][2]), _quota_pid(h))
        for name, h in hosts.items()
    }
    return before, runs, after


@pytest.mark.parametrize("case", CASES)
def test_bad_input_fails_naming_the_variable_and_the_rule(case, refused_runs):
    _, runs, _ = refused_runs
    target, _, must_name = CASES[case]
    assert_refused(case, runs[case], must_name)
    assert runs[case].recap.get(target, {}).get("changed") == 0, f"{case}: {runs[case].changed_tasks()}"


@pytest.mark.parametrize("case", CASES)
def test_bad_input_output_shows_no_password(case, refused_runs):
    _, runs, _ = refused_runs
    shown = sum(password in runs[case].output for password in CREDENTIALS.values())  # a count: no secret
    assert shown == 0, f"{case}: {shown} password(s) in the output"


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_bad_input_leaves_etc_postfix_and_the_running_postfix_alone(name, refused_runs):
    before, _, after = refused_runs
    assert after[name][0] == before[name][0], f"{name}: /etc/postfix changed"
    assert after[name][1] == before[name][1], f"{name}: Postfix was restarted"
    assert after[name][2] == [], f"{name}: Postfix's master logged {after[name][2]}"


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_bad_input_leaves_the_quota_service_running_as_it_was(name, refused_runs):
    before, _, after = refused_runs
    assert before[name][3] != "0", f"{name}: mailfort-quota was not running before the runs"
    assert after[name][3] == before[name][3], f"{name}: mailfort-quota was restarted or stopped"
