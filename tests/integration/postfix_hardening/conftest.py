# SPDX-License-Identifier: MIT
"""Fixtures of the postfix_hardening scenario."""

from __future__ import annotations

import pytest
from postfix_facts import CLIENT, OUTSIDER


@pytest.fixture(scope="session")
def client(podman_host):
    """The client container: every probe speaks SMTP or IMAP from there, so Postfix sees a remote peer. Exempt from
    the rate limits (postfix_hardening_rate_limit_exceptions)."""
    return podman_host(CLIENT)


@pytest.fixture(scope="session")
def outsider(podman_host):
    """A second client on the same network that is not exempt from the rate limits: it floods."""
    return podman_host(OUTSIDER)
