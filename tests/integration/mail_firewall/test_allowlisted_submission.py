# SPDX-License-Identifier: MIT
"""A host that relays only for known application servers: submission and IMAP restricted to the allowlist (the
client), port 25 still open for MX. The scenario converges with both open; this module re-applies the firewall
restricted and puts it back afterwards."""

from __future__ import annotations

import json

import pytest
from firewall_facts import (
    IMAPS_PORT,
    MAIL_HOSTS,
    SMTP_PORT,
    SUBMISSION_PORT,
    SUBMISSIONS_PORT,
    port_states,
    set_elements,
)
from probes import address, handshakes


@pytest.fixture(scope="module")
def mail_hosts(podman_host):
    return {name: podman_host(name) for name in MAIL_HOSTS}


@pytest.fixture(scope="module")
def allowlisted_submission(run_playbook, mail_hosts, client):
    """Both hosts re-applied with submission and IMAP for the client only; back to open afterwards."""
    only_client = [address(client)]
    restricted = run_playbook(
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
    assert restricted.returncode == 0, restricted.output[-4000:]
    yield restricted
    restored = run_playbook()
    assert restored.returncode == 0, restored.output[-4000:]


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_allowlisted_submission_admits_the_client_only(name, allowlisted_submission, mail_hosts, client, attacker):
    host = mail_hosts[name]
    ports = [SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT, IMAPS_PORT]

    from_client = port_states(client, host, ports)
    from_attacker = port_states(attacker, host, ports)

    assert from_client == dict.fromkeys(ports, "open")
    assert from_attacker == {
        SMTP_PORT: "open",  # MX stays open to the world
        SUBMISSION_PORT: "dropped",
        SUBMISSIONS_PORT: "dropped",
        IMAPS_PORT: "dropped",
    }
    assert set_elements(host, "allow_submission_v4") == [address(client)]


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_the_allowlisted_client_completes_a_tls_handshake_on_465_and_993(
    name, allowlisted_submission, mail_hosts, client
):
    host = mail_hosts[name]

    for port in (SUBMISSIONS_PORT, IMAPS_PORT):
        (result,) = handshakes(client, host, port, ("default", ""))
        assert result["outcome"] == "established", (port, result)
