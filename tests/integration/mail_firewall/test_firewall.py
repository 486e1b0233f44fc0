# SPDX-License-Identifier: MIT
"""The firewall as the client, the attacker and the controller meet it: default drop, the admin port for the
allowlist only, the mail ports open or allowlisted, bans kept across a re-apply, and an unchanged ruleset left alone.
"""

from __future__ import annotations

import json

import pytest
from firewall_facts import (
    MAIL_HOSTS,
    MAIL_PORTS,
    RULESET,
    SSH_PORT,
    counter,
    port_states,
    set_elements,
    stateless_table,
    table,
)
from harness import tree_state
from probes import address

# A port nothing listens on: the policy decides what a stranger sees there.
UNUSED_PORT = 2525


@pytest.fixture(scope="module")
def mail_hosts(podman_host):
    return {name: podman_host(name) for name in MAIL_HOSTS}


def test_input_policy_is_drop(host):
    chain = table(host)["chain"]["input"]

    assert (chain["hook"], chain["policy"]) == ("input", "drop")


def test_the_ruleset_in_force_is_the_one_loaded_at_boot(host):
    assert host.run(f"nft -c -f {RULESET}").rc == 0
    unit = host.service("mailfort-firewall")
    assert unit.is_enabled


def test_client_reaches_the_mail_ports_and_ssh(host, client):
    states = port_states(client, host, [SSH_PORT, *MAIL_PORTS])

    assert states == dict.fromkeys([SSH_PORT, *MAIL_PORTS], "open")


def test_attacker_reaches_the_mail_ports_but_not_ssh(host, attacker):
    states = port_states(attacker, host, [SSH_PORT, *MAIL_PORTS])

    assert states[SSH_PORT] == "dropped"
    assert {port: states[port] for port in MAIL_PORTS} == dict.fromkeys(MAIL_PORTS, "open")


def test_a_port_no_service_opens_is_dropped_and_counted(host, attacker):
    before = counter(host, "dropped")

    states = port_states(attacker, host, [UNUSED_PORT], timeout=2)

    assert states[UNUSED_PORT] == "dropped", "a closed port must not answer with a reset either"
    assert counter(host, "dropped") > before


def test_the_controller_is_on_the_admin_allowlist(host):
    gateway = host.check_output("ip route show default").split()[2]
    assert f"{gateway}" in set_elements(host, "allow_admin_v4")
    assert address(host) not in set_elements(host, "allow_admin_v4")


def test_a_reapplied_ruleset_keeps_the_bans_and_other_tables(run_playbook, mail_hosts):
    """A changed ruleset replaces its own rules and allowlists, never what fail2ban put into the ban sets, and never
    a table someone else owns (a container runtime's, say)."""
    host = mail_hosts[MAIL_HOSTS[0]]
    banned = "192.0.2.77"  # TEST-NET-1: nobody real
    host.check_output(f"nft add element inet mailfort ban_sshd_v4 {{ {banned} }}")
    host.check_output("nft add table ip runtime")
    host.check_output("nft add chain ip runtime forward '{ type filter hook forward priority 0; }'")
    metrics = {"name": "metrics", "ports": [9100], "sources": ["192.0.2.0/28"]}
    try:
        run = run_playbook("--limit", MAIL_HOSTS[0], "-e", json.dumps({"mail_firewall_extra_services": [metrics]}))
        assert run.returncode == 0, run.output[-4000:]
        assert "9100" in host.check_output("nft list chain inet mailfort input")
        assert set_elements(host, "allow_metrics_v4") == ["192.0.2.0/28"]
        assert banned in set_elements(host, "ban_sshd_v4")
        assert host.run("nft list chain ip runtime forward").rc == 0
    finally:
        host.run(f"nft delete element inet mailfort ban_sshd_v4 {{ {banned} }}")
        host.run("nft delete table ip runtime")
        restored = run_playbook("--limit", MAIL_HOSTS[0])
        assert restored.returncode == 0, restored.output[-4000:]
    assert "9100" not in host.check_output("nft list chain inet mailfort input")
    assert "allow_metrics_v4" not in table(host)["set"], "the removed service left its allowlist behind"


def test_an_unchanged_ruleset_is_not_applied_again(run_playbook, mail_hosts):
    before = {name: (tree_state(h, ["/etc/mailfort"], RULESET), stateless_table(h)) for name, h in mail_hosts.items()}

    run = run_playbook()

    assert run.returncode == 0, run.output[-4000:]
    assert all(r["changed"] == 0 for r in run.recap.values()), run.changed_tasks()
    assert "Load the candidate" not in "".join(run.changed_tasks())
    after = {name: (tree_state(h, ["/etc/mailfort"], RULESET), stateless_table(h)) for name, h in mail_hosts.items()}
    assert after == before
