# SPDX-License-Identifier: MIT
"""Fixtures of the mail_dns scenario."""

from __future__ import annotations

import pytest
from dns_facts import CLIENT, LAB_CA, NAMESERVER, container_address


@pytest.fixture(scope="session")
def client(podman_host):
    """The client container: it submits mail on 587 as a mail program would."""
    return podman_host(CLIENT)


@pytest.fixture(scope="session")
def nameserver() -> str:
    """Address of the lab's authoritative server for lab.mailfort.test (BIND in its own container)."""
    return container_address(NAMESERVER)


@pytest.fixture(scope="module")
def anchor(host) -> str:
    """The lab CA that signed the host's certificate."""
    return host.file(LAB_CA).content_string
