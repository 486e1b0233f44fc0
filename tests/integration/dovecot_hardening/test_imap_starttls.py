# SPDX-License-Identifier: MIT
"""IMAP on port 143, where it is enabled (the `service` parameter: conftest.py deselects the hosts that leave it
off): nothing but STARTTLS before TLS, a normal login after it."""

from __future__ import annotations

import pytest
from dovecot_facts import STARTTLS_PROBE
from lab import BOB, BOB_MAIN
from probes import host_name, run_probe

CLEARTEXT_MECHANISMS = ("AUTH=PLAIN", "AUTH=LOGIN")

pytestmark = [pytest.mark.readonly, pytest.mark.parametrize("service", ["imap-starttls"], scope="module")]


@pytest.fixture(scope="module")
def starttls(host, client, service):
    """What the client saw on port 143 of the host, before and after STARTTLS. (`service` is what conftest.py keeps
    this to the hosts that serve it by.)"""
    return host_name(host), run_probe(client, STARTTLS_PROBE, host, user=BOB, password=BOB_MAIN)


def test_imap_before_starttls_announces_logindisabled(starttls):
    name, seen = starttls
    assert "STARTTLS" in seen["capabilities_before"], f"{name}: {seen['capabilities_before']}"
    assert "LOGINDISABLED" in seen["capabilities_before"], f"{name}: {seen['capabilities_before']}"


def test_imap_before_starttls_offers_no_cleartext_mechanism(starttls):
    name, seen = starttls
    offered = [m for m in CLEARTEXT_MECHANISMS if m in seen["capabilities_before"]]
    assert not offered, f"{name} offers {offered} before STARTTLS"


def test_imap_login_before_starttls_is_refused_even_with_a_valid_password(starttls):
    name, seen = starttls
    assert seen["login_before"].startswith("NO "), f"{name}: LOGIN before STARTTLS got {seen['login_before']!r}"


def test_imap_login_after_starttls_works(starttls):
    name, seen = starttls
    assert seen["tls_version"] in ("TLSv1.2", "TLSv1.3"), f"{name}: {seen['tls_version']}"
    assert "LOGINDISABLED" not in seen["capabilities_after"], f"{name}: {seen['capabilities_after']}"
    assert seen["login_after"].startswith("OK "), f"{name}: LOGIN after STARTTLS got {seen['login_after']!r}"
