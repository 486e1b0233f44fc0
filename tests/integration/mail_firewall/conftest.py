# SPDX-License-Identifier: MIT
"""Fixtures of the mail_firewall scenario."""

from __future__ import annotations

import pytest
from firewall_facts import ATTACKER, CLIENT


@pytest.fixture(scope="session")
def client(podman_host):
    """The client container: on the admin allowlist and fail2ban's ignoreip; what it does must always work."""
    return podman_host(CLIENT)


@pytest.fixture(scope="session")
def attacker(podman_host):
    """The attacker container: on no allowlist; it knocks on the admin port, guesses passwords and floods."""
    return podman_host(ATTACKER)
