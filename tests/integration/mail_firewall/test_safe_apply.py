# SPDX-License-Identifier: MIT
"""Safe apply: a ruleset nft rejects never goes live, one that cuts the controller off is rolled back at once, if
the controller disappears mid-apply the host rolls back by itself, and a changed ruleset keeps fail2ban's bans and
other tables. Each run is site.yml --tags mail_firewall on one host; each test ends with the host's table and
/etc/mailfort as they were."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import pytest
from firewall_facts import ROLLBACK_TIMER, RULESET, SSH_PORT, lab_setting, set_elements, stateless_table, table
from harness import assert_refused, tree_state
from lab import INVENTORY, MX1, MX2, PROJECT_DIR
from probes import address, wait_for

pytestmark = pytest.mark.mutator

FIREWALL_ONLY = ("--tags", "mail_firewall")


def controller_reaches(host, port: int = SSH_PORT, timeout: float = 3) -> bool:
    """This machine is the controller: can it open a TCP connection to the host?"""
    try:
        socket.create_connection((address(host), port), timeout=timeout).close()
    except OSError:
        return False
    return True


def state(host) -> tuple[str, str]:
    return stateless_table(host), tree_state(host, ["/etc/mailfort"], RULESET)


def test_a_ruleset_nft_rejects_is_never_applied(run_playbook, mail_hosts):
    host = mail_hosts[MX1]
    before = state(host)

    run = run_playbook(
        *FIREWALL_ONLY, "--limit", MX1, "-e", json.dumps({"mail_firewall_extra_rules": ["tcp dport 8080 acept"]})
    )

    failure = assert_refused("misspelt extra rule", run, ["refused the candidate configuration", "syntax error"])
    assert "Load the candidate" not in failure
    assert state(host) == before
    assert controller_reaches(host)


def test_a_ruleset_that_cuts_the_controller_off_is_rolled_back(run_playbook, mail_hosts):
    host = mail_hosts[MX2]
    before = state(host)

    started = time.monotonic()
    run = run_playbook(*FIREWALL_ONLY, "--limit", MX2, "-e", json.dumps({"mail_firewall_allow_controller": False}))
    took = time.monotonic() - started

    assert_refused("controller cut off", run, ["rolled back", "mail_firewall_admin_allowlist"])
    assert "apply | Roll back to the table that was in force" in run.output, "the controller did not roll back"
    assert state(host) == before
    assert controller_reaches(host)
    assert host.run(f"systemctl is-active {ROLLBACK_TIMER}").stdout.strip() != "active"
    # The rollback came from the controller once its probe gave up, not from the timer after it.
    timer = lab_setting(MX2, "mail_firewall_confirm_timeout")
    assert took < 120, f"the run took {took:.0f} s (the rollback timer fires after {timer} s)"


def test_the_host_rolls_back_by_itself_when_the_controller_vanishes(site_playbook, mail_hosts):
    """The controller is killed while it waits for its confirmation: the timer on the host restores the ruleset."""
    host = mail_hosts[MX1]
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
            str(INVENTORY),
            str(site_playbook),
            *FIREWALL_ONLY,
            "--limit",
            MX1,
            "-e",
            json.dumps(extra),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=PROJECT_DIR,
        # As conftest.ansible_playbook runs every other playbook of the lab.
        env={
            **os.environ,
            "ANSIBLE_CONFIG": str(PROJECT_DIR / "ansible.cfg"),
            "CONTAINERS_CONF": str(PROJECT_DIR / "lab" / "containers.conf"),
        },
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


def test_a_reapplied_ruleset_keeps_the_bans_and_other_tables(run_playbook, mail_hosts):
    """A changed ruleset replaces its own rules and allowlists, never what fail2ban put into the ban sets, and never
    a table someone else owns (a container runtime's, say)."""
    host = mail_hosts[MX1]
    before = state(host)
    banned = "192.0.2.77"  # TEST-NET-1: nobody real
    metrics = {"name": "metrics", "ports": [9100], "sources": ["192.0.2.0/28"]}
    # The lab's own extra services (the MTA-STS web server) stay; metrics comes on top.
    services = [*lab_setting(MX1, "mail_firewall_extra_services"), metrics]
    host.check_output(f"nft add element inet mailfort ban_sshd_v4 {{ {banned} }}")
    host.check_output("nft add table ip runtime")
    host.check_output("nft add chain ip runtime forward '{ type filter hook forward priority 0; }'")
    try:
        run = run_playbook(*FIREWALL_ONLY, "--limit", MX1, "-e", json.dumps({"mail_firewall_extra_services": services}))
        assert run.returncode == 0, run.output[-4000:]
        assert "9100" in host.check_output("nft list chain inet mailfort input")
        assert set_elements(host, "allow_metrics_v4") == ["192.0.2.0/28"]
        assert banned in set_elements(host, "ban_sshd_v4")
        assert host.run("nft list chain ip runtime forward").rc == 0
    finally:
        host.run(f"nft delete element inet mailfort ban_sshd_v4 {{ {banned} }}")
        host.run("nft delete table ip runtime")
        restored = run_playbook(*FIREWALL_ONLY, "--limit", MX1)
        assert restored.returncode == 0, restored.output[-4000:]
    assert "9100" not in host.check_output("nft list chain inet mailfort input")
    assert "allow_metrics_v4" not in table(host)["set"], "the removed service left its allowlist behind"
    assert state(host)[0] == before[0], "the restored table is not the one the lab had"
