# SPDX-License-Identifier: MIT
"""A host that relays only for known application servers: submission and IMAP restricted to the allowlist (the
client), port 25 still open for MX. The lab converges with both open; this module re-applies the firewall of both
hosts restricted (site.yml --tags mail_firewall) and puts it back afterwards, the table as it was."""

from __future__ import annotations

import json

import pytest
from firewall_facts import (
    IMAPS_PORT,
    SMTP_PORT,
    SUBMISSIONS_PORT,
    mail_ports,
    port_states,
    set_elements,
    stateless_table,
)
from lab import ADDRESSES, CLIENT, MAIL_HOSTS
from probes import handshakes

pytestmark = pytest.mark.mutator

FIREWALL_ONLY = ("--tags", "mail_firewall")


@pytest.fixture(scope="module")
def allowlisted_submission(run_playbook, mail_hosts):
    """Both hosts re-applied with submission and IMAP for the client only; back to open afterwards."""
    before = {name: stateless_table(h) for name, h in mail_hosts.items()}
    only_client = [ADDRESSES[CLIENT]]
    restricted = run_playbook(
        *FIREWALL_ONLY,
        "-e",
        json.dumps(
            {
                "mail_firewall_submission_open": False,
                "mail_firewall_submission_allowlist": only_client,
                "mail_firewall_mailbox_open": False,
                "mail_firewall_mailbox_allowlist": only_client,
            }
        ),
    )
    try:
        assert restricted.returncode == 0, restricted.output[-4000:]
        yield restricted
    finally:
        restored = run_playbook(*FIREWALL_ONLY)
        assert restored.returncode == 0, restored.output[-4000:]
        assert {name: stateless_table(h) for name, h in mail_hosts.items()} == before, "the firewall was not restored"


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_allowlisted_submission_admits_the_client_only(name, allowlisted_submission, mail_hosts, client, attacker):
    host = mail_hosts[name]
    ports = mail_ports(host)
    restricted = [port for port in ports if port != SMTP_PORT]  # submission and mailbox: 587, 465, 993 (and 143)

    from_client = port_states(client, host, ports)
    from_attacker = port_states(attacker, host, ports)

    assert from_client == dict.fromkeys(ports, "open")
    assert from_attacker == {SMTP_PORT: "open", **dict.fromkeys(restricted, "dropped")}  # MX stays open to the world
    assert set_elements(host, "allow_submission_v4") == [ADDRESSES[CLIENT]]
    assert set_elements(host, "allow_mailbox_v4") == [ADDRESSES[CLIENT]]


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_the_allowlisted_client_completes_a_tls_handshake_on_465_and_993(
    name, allowlisted_submission, mail_hosts, client
):
    host = mail_hosts[name]

    for port in (SUBMISSIONS_PORT, IMAPS_PORT):
        (result,) = handshakes(client, host, port, ("default", ""))
        assert result["outcome"] == "established", (port, result)
