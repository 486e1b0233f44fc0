# SPDX-License-Identifier: MIT
"""The intermediate TLS profile as a client meets it on every implicit-TLS port: TLS 1.2 and 1.3, and with TLS 1.2
only ECDHE key exchange with AEAD ciphers.

A refusal counts only when it comes from the server. Debian's OpenSSL on the client refuses old protocols and weak
suites by itself at its default security level, so the probes lower it (@SECLEVEL=0), and each refusal is paired
with a handshake from the same client code that must succeed. Each test runs on each host for each implicit-TLS
port it serves (conftest.py deselects the rest).
"""

from __future__ import annotations

import pytest
from dovecot_facts import IMPLICIT_TLS_PORTS
from probes import (
    ANY_SUITE,
    CIPHER_SCAN_PROBE,
    GOOD_TLS12_SUITES,
    WEAK_TLS12_SUITES,
    handshakes,
    host_name,
    refused_by_server,
    run_probe,
    weak_suites,
)

pytestmark = [pytest.mark.readonly, pytest.mark.parametrize("port", IMPLICIT_TLS_PORTS)]


def test_tls_1_2_and_1_3_are_accepted_with_a_verified_certificate(host, port, client):
    where = f"{host_name(host)}:{port}"
    tls12, tls13 = handshakes(client, host, port, ("TLSv1_2", ""), ("TLSv1_3", ""))
    assert (tls12["outcome"], tls12.get("version")) == ("established", "TLSv1.2"), f"{where}: {tls12}"
    assert (tls13["outcome"], tls13.get("version")) == ("established", "TLSv1.3"), f"{where}: {tls13}"


def test_tls_1_0_and_1_1_are_refused_by_the_server(host, port, client):
    where = f"{host_name(host)}:{port}"
    control, tls10, tls11 = handshakes(
        client, host, port, ("TLSv1_2", ANY_SUITE), ("TLSv1", ANY_SUITE), ("TLSv1_1", ANY_SUITE)
    )
    assert control["outcome"] == "established", f"{where}: the control handshake with TLS 1.2 failed: {control}"
    assert refused_by_server(tls10), f"{where}: TLS 1.0: {tls10}"
    assert refused_by_server(tls11), f"{where}: TLS 1.1: {tls11}"


@pytest.mark.parametrize("weakness", WEAK_TLS12_SUITES)
def test_weak_tls_1_2_suites_are_refused_by_the_server(host, port, weakness, client):
    where = f"{host_name(host)}:{port}"
    control, weak = handshakes(
        client,
        host,
        port,
        ("TLSv1_2", GOOD_TLS12_SUITES),
        ("TLSv1_2", f"{WEAK_TLS12_SUITES[weakness]}:@SECLEVEL=0"),
    )
    assert control["outcome"] == "established", f"{where}: the control handshake failed: {control}"
    assert refused_by_server(weak), f"{where}: a client limited to {weakness} suites got: {weak}"


def test_tls_1_2_accepts_only_ecdhe_aead_suites(host, port, client):
    """Every TLS 1.2 suite the client's OpenSSL knows, offered one at a time."""
    where = f"{host_name(host)}:{port}"
    scan = run_probe(client, CIPHER_SCAN_PROBE, host, port=port)
    assert scan["accepted"], f"{where}: none of the {scan['offered']} suites offered was accepted"
    weak = weak_suites(scan)
    assert not weak, f"{where}: accepts TLS 1.2 suites without ECDHE, a certificate or AEAD: {weak}"
