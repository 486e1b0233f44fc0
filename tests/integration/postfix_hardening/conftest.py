# SPDX-License-Identifier: MIT
"""Fixtures of the postfix_hardening suite."""

from __future__ import annotations

import pytest
from lab import CLIENT, OUTSIDER


@pytest.fixture(scope="session")
def client(podman_host):
    """The client container: every probe speaks SMTP or IMAP from there, so Postfix sees a remote peer. Exempt from
    the rate limits (postfix_hardening_rate_limit_exceptions), the firewall's meter, and never banned."""
    return podman_host(CLIENT)


@pytest.fixture(scope="session")
def outsider(podman_host):
    """A second client on the lab network that Postfix's rate limits do not exempt: it floods. fail2ban ignores it,
    so that a flood measures Postfix's limits and not a ban."""
    return podman_host(OUTSIDER)
