# SPDX-License-Identifier: MIT
"""A connection flood from the attacker crosses the per-source meter and has its excess dropped by nftables, while
the client, connecting as a mail client does at the same time, is not affected."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from firewall_facts import MAIL_PORTS, RATE_LIMIT_BURST, SMTP_PORT, counter, flood, port_states

FLOOD = 3 * RATE_LIMIT_BURST  # connections opened at once, well over the burst


def test_a_connection_flood_is_cut_at_the_meter_and_the_client_gets_through(host, client, attacker):
    before = counter(host, "flood_dropped")

    with ThreadPoolExecutor(2) as pool:
        flooding = pool.submit(flood, attacker, host, SMTP_PORT, FLOOD)
        meanwhile = pool.submit(port_states, client, host, MAIL_PORTS)
        outcome, client_states = flooding.result(), meanwhile.result()

    assert outcome.get("dropped", 0) >= FLOOD - RATE_LIMIT_BURST - 5, outcome
    assert outcome.get("open", 0) >= RATE_LIMIT_BURST - 5, outcome
    assert counter(host, "flood_dropped") - before >= outcome["dropped"]
    assert client_states == dict.fromkeys(MAIL_PORTS, "open")


def test_a_mail_client_pace_never_meets_the_meter(host, client):
    before = counter(host, "flood_dropped")

    for _ in range(3):
        assert port_states(client, host, MAIL_PORTS) == dict.fromkeys(MAIL_PORTS, "open")

    assert counter(host, "flood_dropped") == before
