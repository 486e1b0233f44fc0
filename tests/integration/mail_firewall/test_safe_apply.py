# SPDX-License-Identifier: MIT
"""Safe apply: a ruleset nft rejects never goes live, one that cuts the controller off is rolled back at once, and
if the controller disappears mid-apply the host rolls back by itself. Bad input stops before the host changes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from firewall_facts import (
    BOOKWORM,
    MAIL_HOSTS,
    ROLLBACK_TIMER,
    RULESET,
    SSH_PORT,
    STATE_DIR,
    TRIXIE,
    stateless_table,
)
from harness import assert_refused, tree_state
from probes import address, wait_for


def controller_reaches(host, port: int = SSH_PORT, timeout: float = 3) -> bool:
    """This machine is the controller: can it open a TCP connection to the host?"""
    try:
        socket.create_connection((address(host), port), timeout=timeout).close()
    except OSError:
        return False
    return True


def state(host) -> tuple[str, str]:
    return stateless_table(host), tree_state(host, ["/etc/mailfort"], RULESET)


@pytest.fixture(scope="module")
def mail_hosts(podman_host):
    return {name: podman_host(name) for name in MAIL_HOSTS}


def test_a_ruleset_nft_rejects_is_never_applied(run_playbook, mail_hosts):
    host = mail_hosts[BOOKWORM]
    before = state(host)

    run = run_playbook("--limit", BOOKWORM, "-e", json.dumps({"mail_firewall_extra_rules": ["tcp dport 8080 acept"]}))

    failure = assert_refused("misspelt extra rule", run, ["failed to validate", "syntax error"])
    assert "Load the candidate" not in failure
    assert state(host) == before
    assert controller_reaches(host)


def test_a_ruleset_that_cuts_the_controller_off_is_rolled_back(run_playbook, mail_hosts):
    host = mail_hosts[TRIXIE]
    before = state(host)

    started = time.monotonic()
    run = run_playbook("--limit", TRIXIE, "-e", json.dumps({"mail_firewall_allow_controller": False}))
    took = time.monotonic() - started

    assert_refused("controller cut off", run, ["rolled back", "mail_firewall_admin_allowlist"])
    assert state(host) == before
    assert controller_reaches(host)
    assert host.run(f"systemctl is-active {ROLLBACK_TIMER}").stdout.strip() != "active"
    # The rollback came from the controller at once, not from the timer (25 s) after it.
    assert took < 120, f"the run took {took:.0f} s"


def test_the_host_rolls_back_by_itself_when_the_controller_vanishes(scenario_playbook, mail_hosts):
    """The controller is killed while it waits for its confirmation: the timer on the host restores the ruleset."""
    host = mail_hosts[BOOKWORM]
    before = state(host)
    # The play would wait 9 s, then roll back by itself; it is killed first, so the timer (15 s) must do it.
    extra = {
        "mail_firewall_allow_controller": False,
        "mail_firewall_confirm_wait": 9,
        "mail_firewall_confirm_timeout": 15,
    }
    run = subprocess.Popen(
        [
            "ansible-playbook",
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            str(scenario_playbook),
            "--limit",
            BOOKWORM,
            "-e",
            json.dumps(extra),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        applied = wait_for(
            lambda: (
                host.run(f"systemctl is-active {ROLLBACK_TIMER}").stdout.strip() == "active"
                and not controller_reaches(host, timeout=1)
            ),
            timeout=180,
        )
        assert applied, "the cutting ruleset never went live with an armed rollback timer"
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()

    assert wait_for(lambda: controller_reaches(host, timeout=1), timeout=40), "the host did not roll back"
    assert state(host) == before
    assert wait_for(lambda: host.run(f"systemctl is-active {ROLLBACK_TIMER}").rc != 0, timeout=10)


# case: (host, extra vars as JSON, words the error must name)
BAD_INPUT = {
    "malformed CIDR": (
        BOOKWORM,
        {"mail_firewall_admin_allowlist": ["192.0.2.0/24", "10.0.0.300/8"]},
        ["mail_firewall_admin_allowlist", "10.0.0.300/8"],
    ),
    "host bits set": (
        TRIXIE,
        {"mail_firewall_submission_open": False, "mail_firewall_submission_allowlist": ["192.0.2.1/24"]},
        ["mail_firewall_submission_allowlist", "192.0.2.1/24", "192.0.2.0/24"],
    ),
    "port out of range": (
        BOOKWORM,
        {"mail_firewall_extra_services": [{"name": "metrics", "ports": [70000], "sources": "any"}]},
        ["mail_firewall_extra_services[0]", "70000", "ports are 1 to 65535"],
    ),
    "port in two services": (
        TRIXIE,
        {"mail_firewall_extra_services": [{"name": "alt_smtp", "ports": [25], "sources": "any"}]},
        ["tcp port 25", "mail_firewall_mx_ports", "mail_firewall_extra_services[0]"],
    ),
    "negative rate": (
        BOOKWORM,
        {"mail_firewall_rate_limit_per_minute": -5},
        ["mail_firewall_rate_limit_per_minute", "-5", "whole number of at least 1"],
    ),
    "nobody may administer": (
        TRIXIE,
        {
            "mail_firewall_admin_allowlist": [],
            "mail_firewall_controller_address": "",
            "mail_firewall_allow_controller": False,
        },
        ["mail_firewall_admin_allowlist is empty", "closed to everybody"],
    ),
}


@pytest.fixture(scope="module")
def refused_runs(run_playbook, mail_hosts):
    """Every bad-input run (at once: each stops in validation), with the state of both hosts before and after."""
    before = {name: state(h) for name, h in mail_hosts.items()}
    with ThreadPoolExecutor(max_workers=len(BAD_INPUT)) as pool:
        futures = {
            case: pool.submit(run_playbook, "--limit", target, "-e", json.dumps(extra))
            for case, (target, extra, _) in BAD_INPUT.items()
        }
        runs = {case: future.result() for case, future in futures.items()}
    after = {name: state(h) for name, h in mail_hosts.items()}
    return before, runs, after


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_fails_naming_the_variable_and_the_rule(case, refused_runs):
    _, runs, _ = refused_runs
    target, _, must_name = BAD_INPUT[case]
    assert_refused(case, runs[case], must_name)
    assert runs[case].recap.get(target, {}).get("changed") == 0, f"{case}: {runs[case].changed_tasks()}"


def test_bad_input_leaves_the_hosts_unchanged(refused_runs):
    before, _, after = refused_runs
    assert after == before


def test_no_working_file_is_readable_by_others(host):
    for path in (RULESET, f"{STATE_DIR}/candidate.nft", f"{STATE_DIR}/rollback.nft"):
        assert host.file(path).mode & 0o077 == 0, path
