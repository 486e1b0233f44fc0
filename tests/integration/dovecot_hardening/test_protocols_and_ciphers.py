# SPDX-License-Identifier: MIT
"""The intermediate TLS profile as a client meets it on every implicit-TLS port: TLS 1.2 and 1.3, and with TLS 1.2
only ECDHE key exchange with AEAD ciphers.

A refusal counts only when it comes from the server. Debian's OpenSSL on the client refuses old protocols and weak
suites by itself at its default security level, so the probes lower it (@SECLEVEL=0), and each refusal is paired
with a handshake from the same client code that must succeed.
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
    refused_by_server,
    run_probe,
    weak_suites,
)

PORT_IDS = [f"{name}-{port}" for name, port in IMPLICIT_TLS_PORTS]

pytestmark = pytest.mark.parametrize(("name", "port"), IMPLICIT_TLS_PORTS, ids=PORT_IDS)


def test_tls_1_2_and_1_3_are_accepted_with_a_verified_certificate(name, port, podman_host, client):
    tls12, tls13 = handshakes(client, podman_host(name), port, ("TLSv1_2", ""), ("TLSv1_3", ""))
    assert (tls12["outcome"], tls12.get("version")) == ("established", "TLSv1.2"), f"{name}:{port}: {tls12}"
    assert (tls13["outcome"], tls13.get("version")) == ("established", "TLSv1.3"), f"{name}:{port}: {tls13}"


def test_tls_1_0_and_1_1_are_refused_by_the_server(name, port, podman_host, client):
    control, tls10, tls11 = handshakes(
        client, podman_host(name), port, ("TLSv1_2", ANY_SUITE), ("TLSv1", ANY_SUITE), ("TLSv1_1", ANY_SUITE)
    )
    assert control["outcome"] == "established", f"{name}:{port}: the control handshake with TLS 1.2 failed: {control}"
    assert refused_by_server(tls10), f"{name}:{port}: TLS 1.0: {tls10}"
    assert refused_by_server(tls11), f"{name}:{port}: TLS 1.1: {tls11}"


@pytest.mark.parametrize("weakness", WEAK_TLS12_SUITES)
def test_weak_tls_1_2_suites_are_refused_by_the_server(name, port, weakness, podman_host, client):
    control, weak = handshakes(
        client,
        podman_host(name),
        port,
        ("TLSv1_2", GOOD_TLS12_SUITES),
        ("TLSv1_2", f"{WEAK_TLS12_SUITES[weakness]}:@SECLEVEL=0"),
    )
    assert control["outcome"] == "established", f"{name}:{port}: the control handshake failed: {control}"
    assert refused_by_server(weak), f"{name}:{port}: a client limited to {weakness} suites got: {weak}"


def test_tls_1_2_accepts_only_ecdhe_aead_suites(name, port, podman_host, client):
    """Every TLS 1.2 suite the client's OpenSSL knows, offered one at a time."""
    scan = run_probe(client, CIPHER_SCAN_PROBE, podman_host(name), port=port)
    assert scan["accepted"], f"{name}:{port}: none of the {scan['offered']} suites offered was accepted"
    weak = weak_suites(scan)
    assert not weak, f"{name}:{port}: accepts TLS 1.2 suites without ECDHE, a certificate or AEAD: {weak}"
