# SPDX-License-Identifier: MIT
"""Fixtures of the dovecot_hardening suite, and which of its cases each MX host gets.

A readonly test runs on each host through testinfra's `host`, so that the tests of one host share a worker (the
shared conftest.py groups them by it) and never log in from the client while another test of the same host counts
Dovecot's delays. A test that is about one service or port takes it as a parameter named `service` (a key of
dovecot_facts.SERVICES) or `port` (an implicit-TLS port), and runs only on the hosts that offer it: the others'
cases are deselected here, as they would not exist on a host that leaves the service off.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dovecot_facts import offers
from lab import CLIENT

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def client(podman_host):
    """The client container: every probe speaks IMAP or POP3 from there, so Dovecot sees a remote peer."""
    return podman_host(CLIENT)


def _not_offered(item: pytest.Item) -> bool:
    """A case of this suite for a service or port its host does not serve."""
    if HERE not in item.path.parents:
        return False
    params = (getattr(item, "callspec", None) and item.callspec.params) or {}
    host = params.get("_testinfra_host")
    if host is None or ("service" not in params and "port" not in params):
        return False
    return not offers(host.backend.name, service=params.get("service"), port=params.get("port"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        (dropped if _not_offered(item) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
