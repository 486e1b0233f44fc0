# SPDX-License-Identifier: MIT
"""Bad firewall input stops the play in validation, naming the variable and the rule it breaks, before either host
changes.

The checks run before any task touches a host, so one host per case is enough, and one run refuses two cases at
once, one on each host: each run adds a second inventory source that gives each host its own case as host
variables, over the lab's group_vars (and no value of the lab is repeated for the host a variable is not about).
The runs go side by side, each a play of playbooks/mail_firewall.yml (it validates mail_firewall and fail2ban
only) that fails within seconds, and each host's own error must name its own case.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml
from firewall_facts import JAILS, RULESET, stateless_table
from harness import assert_refused, one_case_per_host, results_of, tree_state
from lab import MX1, MX2, PROJECT_DIR

pytestmark = pytest.mark.bad_input

PLAYBOOK = PROJECT_DIR / "playbooks" / "mail_firewall.yml"

# case: (host, variables, words the host's error must name). The cases alternate between the two hosts, so that
# each run (RUNS) takes one case for each.
BAD_INPUT: dict[str, tuple[str, dict, list[str]]] = {
    "malformed CIDR": (
        MX1,
        {"mail_firewall_admin_allowlist": ["192.0.2.0/24", "10.0.0.300/8"]},
        ["mail_firewall_admin_allowlist", "10.0.0.300/8"],
    ),
    "host bits set": (
        MX2,
        {"mail_firewall_submission_open": False, "mail_firewall_submission_allowlist": ["192.0.2.1/24"]},
        ["mail_firewall_submission_allowlist", "192.0.2.1/24", "192.0.2.0/24"],
    ),
    "port out of range": (
        MX1,
        {"mail_firewall_extra_services": [{"name": "metrics", "ports": [70000], "sources": "any"}]},
        ["mail_firewall_extra_services[0]", "70000", "ports are 1 to 65535"],
    ),
    "port in two services": (
        MX2,
        {"mail_firewall_extra_services": [{"name": "alt_smtp", "ports": [25], "sources": "any"}]},
        ["tcp port 25", "mail_firewall_mx_ports", "mail_firewall_extra_services[0]"],
    ),
    "negative rate": (
        MX1,
        {"mail_firewall_rate_limit_per_minute": -5},
        ["mail_firewall_rate_limit_per_minute", "-5", "whole number of at least 1"],
    ),
    # Trust lists covering public address space: nobody banned, nobody metered, SSH for a whole /8.
    "ban exemption for the whole internet": (
        MX1,
        {"fail2ban_ignore_networks": ["0.0.0.0/0"]},
        # The words around the value: the YAML callback doubles the quotes of a single-quoted message.
        [
            "fail2ban_ignore_networks[0] =",
            "covers public address space wider than a /24 (the whole internet)",
            "is never banned",
            "to fail2ban_trust_acknowledged",
        ],
    ),
    "admin access for a public /8": (
        MX2,
        {"mail_firewall_admin_allowlist": ["8.0.0.0/8"]},
        [
            "mail_firewall_admin_allowlist[0] =",
            "8.0.0.0/8",
            "covers public address space wider than a /24 (16,777,216 addresses)",
            "reaches SSH and the admin ports",
            "to mail_firewall_trust_acknowledged",
        ],
    ),
    "nobody may administer": (
        MX2,
        {
            "mail_firewall_admin_allowlist": [],
            "mail_firewall_controller_address": "",
            "mail_firewall_allow_controller": False,
        },
        ["mail_firewall_admin_allowlist is empty", "closed to everybody"],
    ),
    "no retries before a ban": (
        MX1,
        {"fail2ban_maxretry": 0},
        ["fail2ban_maxretry = 0 must be at least 1: it is how many failures within findtime ban an address"],
    ),
    "acknowledgement of no entry": (
        MX2,
        {"fail2ban_trust_acknowledged": ["0.0.0.0/0"]},
        ["fail2ban_trust_acknowledged[0] =", "names no entry of fail2ban_ignore_networks; remove it"],
    ),
    # Every mistake of one role in one run, and a refused argument spec names the option alone.
    "three mistakes together": (
        MX1,
        {
            "mail_firewall_rate_limit_burst": 0,
            "mail_firewall_table": "Bad-Name",
            "mail_firewall_submission_open": "perhaps",
        },
        [
            "mail_firewall: 3 input errors, nothing on the host was changed",
            "mail_firewall_submission_open = 'perhaps' must be true or false (the role's argument spec)",
            "mail_firewall_rate_limit_burst = 0 must be a whole number of at least 1",
            "mail_firewall_table = 'Bad-Name' must be a lower-case nftables name",
        ],
    ),
    # Every role's refusals of one run, together: the play checks all of its roles before it stops.
    "two roles refused together": (
        MX2,
        {"mail_firewall_table": "X", "fail2ban_maxretry": 0},
        [
            "2 roles refused their input, nothing on the host was changed",
            "mail_firewall: an input error",
            "mail_firewall_table = 'X' must be a lower-case nftables name",
            "fail2ban: an input error",
            "fail2ban_maxretry = 0 must be at least 1",
        ],
    ),
}

# What the user never has to read: Ansible's wrapping of a filter's error, the whole argument spec around a refused
# option, and the role's internal names.
PLUMBING = ("Finalization of task args", "The filter plugin", "argument_spec_data", "Error while resolving value")


RUNS = one_case_per_host(BAD_INPUT)


def state(host) -> tuple[str, str]:
    return stateless_table(host), tree_state(host, ["/etc/mailfort"], RULESET)


@pytest.fixture(scope="module")
def refused_runs(run_playbook, mail_hosts, tmp_path_factory):
    """Every run (RUNS) by the cases it holds, with the state of both hosts before and after all of them."""
    before = {name: state(h) for name, h in mail_hosts.items()}
    directory = tmp_path_factory.mktemp("firewall-bad-input")

    def refuse(index: int, run: dict[str, str]):
        # The lab's inventory first, then this one: its host variables win over the lab's group_vars.
        cases = directory / f"run-{index}.yml"
        cases.write_text(
            yaml.safe_dump({"all": {"hosts": {target: BAD_INPUT[case][1] for target, case in run.items()}}})
        )
        return run_playbook("-i", str(cases), playbook=PLAYBOOK)

    with ThreadPoolExecutor(max_workers=len(RUNS)) as pool:
        done = list(pool.map(refuse, range(len(RUNS)), RUNS))
    after = {name: state(h) for name, h in mail_hosts.items()}
    by_case = {case: result for run, result in zip(RUNS, done, strict=True) for case in run.values()}
    return before, by_case, after


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_fails_naming_the_variable_and_the_rule(case, refused_runs):
    _, runs, _ = refused_runs
    target, _, must_name = BAD_INPUT[case]

    assert_refused(case, results_of(runs[case], target), must_name)
    assert runs[case].recap.get(target, {}).get("changed") == 0, f"{case}: {runs[case].changed_tasks()}"


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_speaks_the_users_language(case, refused_runs):
    _, runs, _ = refused_runs
    target = BAD_INPUT[case][0]
    failure = results_of(runs[case], target).output
    assert [words for words in PLUMBING if words in runs[case].output] == [], failure[:3000]
    message = failure.split("msg:", 1)[-1]
    assert "__" not in message, message[:3000]


def test_bad_input_leaves_the_hosts_unchanged(refused_runs):
    before, _, after = refused_runs
    assert after == before


def test_jails_without_ban_sets_stop_fail2ban_naming_every_set(run_playbook, mail_hosts, tmp_path):
    """fail2ban pointed at a table the firewall does not have: its play stops before fail2ban's configuration
    changes, naming every missing set with its jail, and the host is as it was. The input is valid, so this is the
    host check after validation (one read of the family's sets), not the input check."""
    host = mail_hosts[MX1]
    table = "mailfort_elsewhere"
    before = tree_state(host, ["/etc/fail2ban", "/etc/mailfort"], "jail.d")
    variables = tmp_path / "no-sets.yml"
    variables.write_text(yaml.safe_dump({"all": {"hosts": {MX1: {"fail2ban_nftables_table": table}}}}))

    run = run_playbook("-i", str(variables), "--limit", MX1, playbook=PROJECT_DIR / "playbooks" / "fail2ban.yml")

    assert_refused(
        "ban sets missing",
        run,
        [
            *(
                f"The nftables set {ban_set}_{family} of the fail2ban jail {jail} does not exist in table inet {table}"
                for jail, ban_set in JAILS.items()
                for family in ("v4", "v6")
            ),
            "Apply mail_firewall first",
        ],
    )
    assert run.recap[MX1]["changed"] == 0, run.changed_tasks()
    assert tree_state(host, ["/etc/fail2ban", "/etc/mailfort"], "jail.d") == before
