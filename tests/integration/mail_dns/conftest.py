# SPDX-License-Identifier: MIT
"""Fixtures of the mail_dns suite (the dkim and mail_dns roles in the shared lab). The re-run of site.yml its rerun
checks read is the shared `rerun` fixture (tests/integration/conftest.py)."""

from __future__ import annotations

import pytest
from dns_facts import KEY_DIR, inventory_keys
from lab import CLIENT, LAB_CA, NAMESERVER, address
from probes import host_name


@pytest.fixture(scope="session")
def client(podman_host):
    """The client container: it submits mail on 587 as a mail program would."""
    return podman_host(CLIENT)


@pytest.fixture(scope="session")
def nameserver() -> str:
    """Address of the lab's authoritative server for the lab domain (BIND in its own container)."""
    return address(NAMESERVER)


@pytest.fixture(scope="module")
def anchor(host) -> str:
    """The lab CA that signed the host's certificate."""
    return host.file(LAB_CA).content_string


@pytest.fixture(scope="module")
def keys(host) -> list[dict]:
    """The host's present keys from the lab's inventory, each with its file paths."""
    present = [k for k in inventory_keys(host_name(host)) if k["state"] == "present"]
    for key in present:
        base = f"{KEY_DIR}/{key['domain']}/{key['selector']}"
        key["private"], key["public"] = f"{base}.private", f"{base}.pub"
    assert present, f"{host_name(host)} has no present key in the inventory"
    return present
