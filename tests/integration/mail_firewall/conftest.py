# SPDX-License-Identifier: MIT
"""Fixtures of the mail_firewall suite (the firewall and fail2ban on both MX hosts of the lab).

The attacker is this suite's own: no other suite connects from it, so its count in a host's meter and its bans are
what this suite's tests made, and each test that made them takes them back (forget_meter, unban).
"""

from __future__ import annotations

import pytest
from firewall_facts import forget_meter
from lab import ATTACKER, CLIENT, MAIL_HOSTS


@pytest.fixture(scope="session")
def client(podman_host):
    """The client container: on the admin allowlist, the meter's exemption and fail2ban's ignoreip; what it does
    must always work."""
    return podman_host(CLIENT)


@pytest.fixture(scope="session")
def attacker(podman_host):
    """The attacker container: on no list at all; it knocks on the admin port, guesses passwords and floods."""
    return podman_host(ATTACKER)


@pytest.fixture(scope="session")
def mail_hosts(podman_host):
    """Both MX hosts by name, for the tests that run a playbook against both and are not testinfra's per host."""
    return {name: podman_host(name) for name in MAIL_HOSTS}


@pytest.fixture
def unmetered_attacker(host, attacker):
    """The attacker as a new source to the host's meter, before the test and again after it: a test that connects
    from it to the mail ports neither depends on nor leaves a count in the meter."""
    forget_meter(host, ATTACKER)
    yield attacker
    forget_meter(host, ATTACKER)
