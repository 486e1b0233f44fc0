# SPDX-License-Identifier: MIT
"""Bad input stops the play with a message that names the variable and the rule it broke, before anything on the
host changes: /etc/postfix stays as it was, and Postfix and its quota service go on running without a reload or
restart.

The checks run before any task touches a host, and a host stops at its first refused value, so each run of site.yml
refuses one case on each MX host: each host gets its case as host variables from an inventory of its own given
after the lab's (a later inventory's host_vars win, and unlike -e they differ by host), and each case's message is
looked for in what its own host reported. The runs go side by side: each is a play that fails within seconds. A value
that passes these checks but that Postfix itself refuses is in test_updates_reload_or_restart.py, because the
candidate directory keeps it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from concurrent.futures import ThreadPoolExecutor
from itertools import zip_longest
from pathlib import Path

import pytest
import yaml
from harness import assert_refused
from lab import CREDENTIALS, DOMAIN, INVENTORY, MAIL_HOSTS, MX1, MX2
from postfix_facts import master_events, master_pid, now, postfix_state

# The lab's users as its inventory gives them.
LAB_USERS = yaml.safe_load((INVENTORY / "group_vars" / "mail_servers.yml").read_text(encoding="utf-8"))[
    "dovecot_hardening_users"
]

pytestmark = pytest.mark.bad_input

# case: (the host that refuses it, its variables, and the words the error must contain)
CASES: dict[str, tuple[str, dict, list[str]]] = {
    "unknown TLS profile": (
        MX1,
        {"postfix_hardening_tls_profile": "ancient"},
        ["postfix_hardening_tls_profile", "ancient", "is not a TLS profile", "intermediate"],
    ),
    "malformed CIDR": (
        MX2,
        {"postfix_hardening_mynetworks": ["192.0.2.0/24", "10.0.0.300/8"]},
        ["postfix_hardening_mynetworks[1]", "10.0.0.300/8", "is not a network in CIDR notation"],
    ),
    "negative message size limit": (
        MX1,
        {"postfix_hardening_message_size_limit": -1},
        ["postfix_hardening_message_size_limit", "-1", "must be a whole number of at least"],
    ),
    "misspelled extra parameter": (
        MX2,
        {"postfix_hardening_extra": {"smtpd_tls_loglevl": "1"}},
        ["postfix_hardening_extra.smtpd_tls_loglevl", "is not a Postfix parameter", "smtpd_tls_loglevel"],
    ),
    "negative outbound quota": (
        MX2,
        {"postfix_hardening_quota_limits": [{"window": 3600, "messages": -1, "recipients": 100}]},
        ["postfix_hardening_quota_limits[0].messages", "-1", "must be a whole number from 1"],
    ),
    "quota override for a login that is no mailbox": (
        MX1,
        {"postfix_hardening_quota_overrides": {f"nobody@{DOMAIN}": []}},
        [f"postfix_hardening_quota_overrides.nobody@{DOMAIN}", "is not one of the mailboxes"],
    ),
    # A trust list covering the internet: an open relay (mynetworks is checked before the exceptions).
    "relay networks covering the internet": (
        MX2,
        {"postfix_hardening_mynetworks": ["10.0.0.0/8", "0.0.0.0/0"]},
        # The words around the value: the YAML callback doubles the quotes of a single-quoted message.
        [
            "postfix_hardening_mynetworks[1] =",
            "0.0.0.0/0",
            "covers public address space wider than a /24 (the whole internet)",
            "may relay mail through this host without logging in",
            "to postfix_hardening_trust_acknowledged",
        ],
    ),
    # site.yml checks Dovecot's users before Postfix's mailboxes, which are taken from them: the mistake is named
    # where the user wrote it.
    "user name with a newline": (
        MX2,
        {
            "dovecot_hardening_users": [
                LAB_USERS[0],
                {"name": f"carol\nx@{DOMAIN}", "password": "Walnut-Meteor-Ripple-19", "mail_login": True},
                *LAB_USERS[1:],
            ]
        },
        ["dovecot_hardening_users[1].name =", "is not a valid login name: it contains whitespace or a control"],
    ),
    # A DNS list whose every answer counts, or whose filter takes the answer a list gives when it refuses the query:
    # either would reject every sender the day the list refuses the host's resolver.
    "DNS list without an answer filter": (
        MX1,
        {"postfix_hardening_postscreen_dnsbl_sites": ["zen.spamhaus.org*3"]},
        [
            "postfix_hardening_postscreen_dnsbl_sites[0] =",
            "zen.spamhaus.org*3",
            "has no answer filter, so any answer counts",
        ],
    ),
    "DNS list filter matching the refusal answers": (
        MX2,
        {
            "postfix_hardening_postscreen_dnsbl_sites": [
                "list.dnswl.org=127.0.[0..255].[1..3]*-4",
                "bl.example=127.[0..255].255.[250..255]",
            ]
        },
        ["postfix_hardening_postscreen_dnsbl_sites[1] =", "127.255.255.252", "it would reject every"],
    ),
    "weakening extra without acknowledgement": (
        MX1,
        {"postfix_hardening_extra": {"smtpd_tls_auth_only": "no"}},
        ["postfix_hardening_extra.smtpd_tls_auth_only", "PFX-01", "postfix_hardening_extra_acknowledged"],
    ),
}
# The runs: each host's cases in turn, one per host and run (a run with one case is limited to its host).
RUNS: list[dict[str, str]] = [
    {host: case for host, case in zip(MAIL_HOSTS, cases, strict=True) if case is not None}
    for cases in zip_longest(*([c for c, (h, _, _) in CASES.items() if h == host] for host in MAIL_HOSTS))
]


def _quota_pid(host) -> str:
    """The outbound quota service's main PID: a restart would change it."""
    return host.check_output("systemctl show -P MainPID mailfort-quota.service")


def _failure_of(run, name: str):
    """The run with only NAME's failures in its output (a task's "fatal:" or a loop item's "failed:", each with its
    indented result; delegated or not), so that a case's words are looked for where its own host failed."""
    blocks = re.findall(
        rf"^(?:fatal|failed): \[{re.escape(name)}(?: -> [^\]]+)?\].*\n(?:[ \t].*\n|\n)*",
        run.output + "\n",
        flags=re.MULTILINE,
    )
    return dataclasses.replace(run, output="".join(blocks))


def _case_inventory(directory: Path, run: dict[str, str]) -> Path:
    """An inventory that gives each host of RUN its case's variables (host_vars/<host>.json beside it, JSON so that
    numbers stay numbers); named after the lab's, it overrides the lab's values for these hosts and variables alone."""
    (directory / "host_vars").mkdir()
    for name, case in run.items():
        (directory / "host_vars" / f"{name}.json").write_text(json.dumps(CASES[case][1]), encoding="utf-8")
    hosts = directory / "hosts.yml"
    hosts.write_text(json.dumps({"all": {"hosts": dict.fromkeys(run)}}), encoding="utf-8")
    return hosts


@pytest.fixture(scope="module")
def refused_runs(run_playbook, podman_host, tmp_path_factory):
    """Every case's run, by case, with the state of both hosts before and after all of them."""
    hosts = {name: podman_host(name) for name in MAIL_HOSTS}
    arguments = [
        ("-i", str(_case_inventory(tmp_path_factory.mktemp("postfix-bad-input"), run)), "--limit", ",".join(run))
        for run in RUNS
    ]
    before = {name: (postfix_state(h), master_pid(h), now(h), _quota_pid(h)) for name, h in hosts.items()}
    with ThreadPoolExecutor(max_workers=len(RUNS)) as pool:
        results = list(pool.map(lambda args: run_playbook(*args), arguments))
    after = {
        name: (postfix_state(h), master_pid(h), master_events(h, before[name][2]), _quota_pid(h))
        for name, h in hosts.items()
    }
    runs = {case: result for run, result in zip(RUNS, results, strict=True) for case in run.values()}
    return before, runs, after


def test_each_run_refuses_one_case_per_host():
    """The batching itself: every case in exactly one run, and no run with two cases for one host."""
    batched = [case for run in RUNS for case in run.values()]
    assert sorted(batched) == sorted(CASES), RUNS
    assert all(CASES[case][0] == name for run in RUNS for name, case in run.items()), RUNS


@pytest.mark.parametrize("case", CASES)
def test_bad_input_fails_naming_the_variable_and_the_rule(case, refused_runs):
    _, runs, _ = refused_runs
    target, _, must_name = CASES[case]
    failure = _failure_of(runs[case], target)
    assert failure.output, f"{case}: {target} did not fail:\n{runs[case].output[-3000:]}"
    assert_refused(case, failure, must_name)
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
