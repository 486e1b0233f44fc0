# SPDX-License-Identifier: MIT
"""TLS as a client meets it: the intermediate profile on submission, 465 with implicit TLS and 587 after
STARTTLS, on both hosts; on port 25 the profile where the MX policy is strict (MX1, the default), and TLS 1.0 still
accepted where it is interop (MX2: an old MTA that cannot do TLS 1.2 would otherwise send in cleartext).

A refusal counts only when it comes from the server: the probes lower the client's OpenSSL security level, and each
refusal is paired with a handshake from the same client code that must succeed.
"""

from __future__ import annotations

import pytest
from postfix_facts import (
    CLIENT_HELO,
    MX_TLS_POLICY,
    SMTP_PORT,
    STARTTLS_TLS_PROBE,
    SUBMISSION_PORT,
    SUBMISSIONS_PORT,
)
from probes import (
    ANY_SUITE,
    CIPHER_SCAN_PROBE,
    GOOD_TLS12_SUITES,
    TLS_PROBE,
    WEAK_TLS12_SUITES,
    handshakes,
    host_name,
    refused_by_server,
    run_probe,
    weak_suites,
)

pytestmark = pytest.mark.readonly

SUBMISSION_PORTS = [SUBMISSIONS_PORT, SUBMISSION_PORT]


def _handshakes(client, host, port: int, *attempts: tuple[str, str]) -> list[dict]:
    """Implicit TLS on 465; EHLO and STARTTLS first on 25 and 587."""
    probe = TLS_PROBE if port == SUBMISSIONS_PORT else STARTTLS_TLS_PROBE
    return handshakes(client, host, port, *attempts, probe=probe, helo=CLIENT_HELO)


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_submission_accepts_tls_1_2_and_1_3_with_a_verified_certificate(host, port, client):
    name = host_name(host)
    tls12, tls13 = _handshakes(client, host, port, ("TLSv1_2", ""), ("TLSv1_3", ""))
    assert (tls12["outcome"], tls12.get("version")) == ("established", "TLSv1.2"), f"{name}:{port}: {tls12}"
    assert (tls13["outcome"], tls13.get("version")) == ("established", "TLSv1.3"), f"{name}:{port}: {tls13}"


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_submission_refuses_tls_1_0_and_1_1(host, port, client):
    name = host_name(host)
    control, tls10, tls11 = _handshakes(
        client, host, port, ("TLSv1_2", ANY_SUITE), ("TLSv1", ANY_SUITE), ("TLSv1_1", ANY_SUITE)
    )
    assert control["outcome"] == "established", f"{name}:{port}: the control handshake with TLS 1.2 failed: {control}"
    assert refused_by_server(tls10), f"{name}:{port}: TLS 1.0: {tls10}"
    assert refused_by_server(tls11), f"{name}:{port}: TLS 1.1: {tls11}"


@pytest.mark.parametrize("weakness", WEAK_TLS12_SUITES)
@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_submission_refuses_weak_tls_1_2_suites(host, port, weakness, client):
    name = host_name(host)
    control, weak = _handshakes(
        client,
        host,
        port,
        ("TLSv1_2", GOOD_TLS12_SUITES),
        ("TLSv1_2", f"{WEAK_TLS12_SUITES[weakness]}:@SECLEVEL=0"),
    )
    assert control["outcome"] == "established", f"{name}:{port}: the control handshake failed: {control}"
    assert refused_by_server(weak), f"{name}:{port}: a client limited to {weakness} suites got: {weak}"


def test_465_accepts_only_ecdhe_aead_suites_with_tls_1_2(host, client):
    """Every TLS 1.2 suite the client's OpenSSL knows, offered one at a time."""
    name = host_name(host)
    scan = run_probe(client, CIPHER_SCAN_PROBE, host, port=SUBMISSIONS_PORT)
    assert scan["accepted"], f"{name}: none of the {scan['offered']} suites offered was accepted"
    weak = weak_suites(scan)
    assert not weak, f"{name}:465 accepts TLS 1.2 suites without ECDHE, a certificate or AEAD: {weak}"


def test_port_25_starttls_accepts_tls_1_2_and_1_3(host, client):
    name = host_name(host)
    tls12, tls13 = _handshakes(client, host, SMTP_PORT, ("TLSv1_2", ""), ("TLSv1_3", ""))
    assert (tls12["outcome"], tls12.get("version")) == ("established", "TLSv1.2"), f"{name}:25: {tls12}"
    assert (tls13["outcome"], tls13.get("version")) == ("established", "TLSv1.3"), f"{name}:25: {tls13}"


def test_port_25_old_tls_is_refused_or_accepted_as_the_mx_tls_policy_says(host, client):
    """strict (MX1): TLS 1.0 and 1.1 refused by the server, beside a TLS 1.2 control handshake. interop (MX2): the
    same old client that 587 and 465 refuse (test_submission_refuses_tls_1_0_and_1_1) gets TLS 1.0."""
    name = host_name(host)
    if MX_TLS_POLICY[name] == "strict":
        control, tls10, tls11 = _handshakes(
            client, host, SMTP_PORT, ("TLSv1_2", ANY_SUITE), ("TLSv1", ANY_SUITE), ("TLSv1_1", ANY_SUITE)
        )
        assert control["outcome"] == "established", f"{name}:25: the control handshake with TLS 1.2 failed: {control}"
        assert refused_by_server(tls10), f"{name}:25: TLS 1.0: {tls10}"
        assert refused_by_server(tls11), f"{name}:25: TLS 1.1: {tls11}"
    else:
        assert MX_TLS_POLICY[name] == "interop", f"{name}: unknown MX TLS policy {MX_TLS_POLICY[name]!r}"
        (tls10,) = _handshakes(client, host, SMTP_PORT, ("TLSv1", ANY_SUITE))
        assert (tls10["outcome"], tls10.get("version")) == ("established", "TLSv1"), f"{name}:25: TLS 1.0: {tls10}"
