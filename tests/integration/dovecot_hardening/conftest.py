# SPDX-License-Identifier: MIT
"""Fixtures of the dovecot_hardening scenario."""

from __future__ import annotations

import pytest
from dovecot_facts import CLIENT


@pytest.fixture(scope="session")
def client(podman_host):
    """The client container: every probe speaks IMAP or POP3 from there, so Dovecot sees a remote peer."""
    return podman_host(CLIENT)
