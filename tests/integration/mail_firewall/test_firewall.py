# SPDX-License-Identifier: MIT
"""The firewall as the client, the attacker and the controller meet it on each MX host: default drop, the admin port
for the allowlist only, the mail ports open to the world, a port nothing opens dropped without a reset, and the
ruleset's working files readable by root alone. Read-only: the attacker's few connections are taken out of the meter
again."""

from __future__ import annotations

import pytest
from firewall_facts import (
    RULESET,
    SSH_PORT,
    STATE_DIR,
    counter,
    mail_ports,
    port_states,
    set_elements,
    table,
)
from lab import ADDRESSES, CLIENT, GATEWAY
from probes import address

pytestmark = pytest.mark.readonly

# A port nothing listens on: the policy decides what a stranger sees there.
UNUSED_PORT = 2525


def test_input_policy_is_drop(host):
    chain = table(host)["chain"]["input"]

    assert (chain["hook"], chain["policy"]) == ("input", "drop")


def test_the_ruleset_in_force_is_the_one_loaded_at_boot(host):
    assert host.run(f"nft -c -f {RULESET}").rc == 0
    unit = host.service("mailfort-firewall")
    assert unit.is_enabled


def test_client_reaches_the_mail_ports_and_ssh(host, client):
    ports = [SSH_PORT, *mail_ports(host)]

    states = port_states(client, host, ports)

    assert states == dict.fromkeys(ports, "open")


def test_attacker_reaches_the_mail_ports_but_not_ssh(host, unmetered_attacker):
    ports = mail_ports(host)

    states = port_states(unmetered_attacker, host, [SSH_PORT, *ports])

    assert states[SSH_PORT] == "dropped"
    assert {port: states[port] for port in ports} == dict.fromkeys(ports, "open")


def test_a_port_no_service_opens_is_dropped_and_counted(host, attacker):
    before = counter(host, "dropped")

    states = port_states(attacker, host, [UNUSED_PORT])

    assert states[UNUSED_PORT] == "dropped", "a closed port must not answer with a reset either"
    assert counter(host, "dropped") > before


def test_the_controller_is_on_the_admin_allowlist(host):
    gateway = host.check_output("ip route show default").split()[2]
    admins = set_elements(host, "allow_admin_v4")

    assert gateway == GATEWAY, "the controller is the lab network's gateway"
    assert GATEWAY in admins
    assert ADDRESSES[CLIENT] in admins
    assert address(host) not in admins


def test_no_working_file_is_readable_by_others(host):
    candidate = f"{STATE_DIR}/candidate"
    for path in (RULESET, candidate, f"{candidate}/firewall.nft", f"{STATE_DIR}/rollback.nft"):
        assert host.file(path).mode & 0o077 == 0, path
