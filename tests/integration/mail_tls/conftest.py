# SPDX-License-Identifier: MIT
"""Fixtures of the mail_tls suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab import CLIENT, PROVIDED
from tls_facts import PROVIDED_PKI


@pytest.fixture(scope="session")
def provided_pki() -> Path:
    """The PKI that molecule/lab/prepare.yml made on the controller for the provided-certificate host."""
    assert (PROVIDED_PKI / "root.pem").is_file(), f"no provided PKI in {PROVIDED_PKI}: is the lab prepared?"
    return PROVIDED_PKI


@pytest.fixture(scope="session")
def provided(podman_host):
    """The provided-certificate host, which the testinfra `host` fixture (the two MX hosts) does not cover."""
    return podman_host(PROVIDED)


@pytest.fixture(scope="session")
def client(podman_host):
    """The client container: every handshake comes from there, as a mail client's would."""
    return podman_host(CLIENT)
