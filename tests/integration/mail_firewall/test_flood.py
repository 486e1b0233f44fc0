# SPDX-License-Identifier: MIT
"""The per-source meter on the mail ports: a connection flood from the attacker crosses it and has its excess dropped
by nftables while the client goes on, a mail client's pace never meets it, and the client, which the lab exempts
from it (mail_firewall_rate_limit_exempt), is never counted however fast it connects.

Read-only: each test starts with the attacker unknown to the meter and takes it out again afterwards
(unmetered_attacker); the exempt client leaves no count at all.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from firewall_facts import (
    FLOOD_TIMEOUT,
    SMTP_PORT,
    counter,
    flood,
    lab_setting,
    mail_ports,
    metered_sources,
    port_states,
    set_elements,
)
from lab import ADDRESSES, ATTACKER, CLIENT, GATEWAY
from probes import host_name

# One attacker floods both hosts: tests/integration/conftest.py (SERIAL_FILES) runs these tests one after another.
pytestmark = pytest.mark.readonly

# Rounds of one connection to each mail port, back to back: more than a mail client opens in a minute.
PACE_ROUNDS = 3
# SYNs dropped and sent again may find a token the meter refilled meanwhile (mail_firewall_rate_limit_per_minute:
# 2 a second in the lab): a few more get through than the burst.
SLACK = 5


def burst(host) -> int:
    """New connections the host's meter lets a source open at once (the inventory's mail_firewall_rate_limit_burst)."""
    return lab_setting(host_name(host), "mail_firewall_rate_limit_burst")


def test_a_connection_flood_is_cut_at_the_meter_and_the_client_gets_through(host, client, unmetered_attacker):
    at_once = 3 * burst(host)  # well over the burst
    ports = mail_ports(host)
    before = counter(host, "flood_dropped")

    with ThreadPoolExecutor(2) as pool:
        flooding = pool.submit(flood, unmetered_attacker, host, [SMTP_PORT], at_once)
        # The client expects every port open: it waits as long as the flood does.
        meanwhile = pool.submit(port_states, client, host, ports, FLOOD_TIMEOUT)
        outcome, client_states = flooding.result(), meanwhile.result()

    assert outcome.get("dropped", 0) >= at_once - burst(host) - SLACK, outcome
    assert outcome.get("open", 0) >= burst(host) - SLACK, outcome
    assert counter(host, "flood_dropped") - before >= outcome["dropped"]
    assert client_states == dict.fromkeys(ports, "open")


def test_a_mail_client_pace_never_meets_the_meter(host, unmetered_attacker):
    """At a mail client's pace even a source on no list (the attacker; the client is exempt) is counted and let
    through: nothing is dropped."""
    ports = mail_ports(host)
    before = counter(host, "flood_dropped")

    for _ in range(PACE_ROUNDS):
        assert port_states(unmetered_attacker, host, ports) == dict.fromkeys(ports, "open")

    assert ADDRESSES[ATTACKER] in metered_sources(host), "the attacker's connections were not counted"
    assert counter(host, "flood_dropped") == before


def test_the_exempt_client_bursts_past_the_meter_while_the_attacker_is_cut(host, client, unmetered_attacker):
    """The client opens three times the burst at once over every mail port, side by side with the attacker's flood:
    all of the client's connections are accepted and it never enters the meter, while the attacker's excess is
    dropped."""
    at_once = 3 * burst(host)
    before = counter(host, "flood_dropped")

    with ThreadPoolExecutor(2) as pool:
        from_client = pool.submit(flood, client, host, mail_ports(host), at_once)
        from_attacker = pool.submit(flood, unmetered_attacker, host, [SMTP_PORT], at_once)
        client_outcome, attacker_outcome = from_client.result(), from_attacker.result()
    metered = metered_sources(host)

    # The lab's exempt list: the client, and the controller, whose audit runs sslyze (group_vars/mail_servers.yml).
    assert sorted(set_elements(host, "rate_exempt_v4")) == sorted([GATEWAY, ADDRESSES[CLIENT]])
    assert client_outcome == {"open": at_once}, client_outcome
    assert ADDRESSES[CLIENT] not in metered, "the exempt client was counted"
    assert attacker_outcome.get("dropped", 0) >= at_once - burst(host) - SLACK, attacker_outcome
    assert ADDRESSES[ATTACKER] in metered
    assert counter(host, "flood_dropped") - before >= attacker_outcome["dropped"]
