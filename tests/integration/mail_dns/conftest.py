# SPDX-License-Identifier: MIT
"""Fixtures of the mail_dns scenario."""

from __future__ import annotations

import pytest
from dns_facts import CLIENT, LAB_CA, MX, NAMESERVER, container_address
from harness import tree_state


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


@pytest.fixture(scope="session")
def rerun(run_playbook, podman_host) -> dict:
    """One more real run of the scenario's playbook (dkim and mail_dns) on both converged hosts, at -vvv so that
    every module argument and result is printed, with each host's DKIM keys (modes, inodes, digests) before and
    after: shared by the checks that keys are never regenerated and that no secret is ever shown."""
    hosts = {name: podman_host(name) for name in MX}
    before = {name: tree_state(h, ["/etc/opendkim/keys"], ".private") for name, h in hosts.items()}
    run = run_playbook("-vvv")
    after = {name: tree_state(h, ["/etc/opendkim/keys"], ".private") for name, h in hosts.items()}
    return {"run": run, "before": before, "after": after}
