# SPDX-License-Identifier: MIT
"""Bad input stops the play with a message that names the variable, before anything on the host changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from harness import assert_refused
from tls_facts import tls_dir_state

LAB_HOST = "mailfort-tls-bookworm"
PROVIDED_HOST = "mailfort-tls-provided"


def _key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _sign(subject_key, issuer_key, issuer_name: x509.Name | None, days: int, name: str) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or subject)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _body(pem: str) -> list[str]:
    """The base64 lines of a PEM block: what would show if it leaked."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


@dataclass(frozen=True)
class Material:
    """Keys and certificates the bad inputs are made of."""

    stray_key: rsa.RSAPrivateKey
    stray_cert: x509.Certificate
    long_lived: dict[str, str]


@pytest.fixture(scope="module")
def material(provided_pki) -> Material:
    stray_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # A certificate from the scenario's own issuing CA that lives 400 days, with its own key.
    issuer_key = serialization.load_pem_private_key((provided_pki / "intermediate-key.pem").read_bytes(), None)
    issuer = x509.load_pem_x509_certificate((provided_pki / "intermediate.pem").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    long_lived = _sign(key, issuer_key, issuer.subject, 400, "smtp.provided.mailfort.test")
    return Material(
        stray_key=stray_key,
        stray_cert=_sign(stray_key, stray_key, None, 30, "stray.example.org"),
        long_lived={"mail_tls_cert_pem": _pem(long_lived), "mail_tls_key_pem": _key_pem(key)},
    )


# case: (host, extra vars made from the material, words the error must contain)
CASES: dict[str, tuple[str, Callable[[Material], dict], list[str]]] = {
    "unknown profile": (LAB_HOST, lambda m: {"mail_tls_profile": "legacy"}, ["mail_tls_profile", "legacy"]),
    "lifetime over 366 days": (LAB_HOST, lambda m: {"mail_tls_lifetime_days": 400}, ["mail_tls_lifetime_days", "366"]),
    "malformed name": (LAB_HOST, lambda m: {"mail_tls_san_dns": ["mail..example.org"]}, ["mail_tls_san_dns"]),
    "no names": (LAB_HOST, lambda m: {"mail_tls_san_dns": []}, ["mail_tls_san_dns"]),
    "renewal after expiry": (LAB_HOST, lambda m: {"mail_tls_renew_days": 365}, ["mail_tls_renew_days"]),
    "malformed PEM": (
        PROVIDED_HOST,
        lambda m: {"mail_tls_cert_pem": "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"},
        ["mail_tls_cert"],
    ),
    "key of another certificate": (
        PROVIDED_HOST,
        lambda m: {"mail_tls_key_pem": _key_pem(m.stray_key)},
        ["mail_tls_key"],
    ),
    "chain that does not verify": (
        PROVIDED_HOST,
        lambda m: {"mail_tls_chain_pem": _pem(m.stray_cert)},
        ["mail_tls_chain"],
    ),
    "provided lifetime over 366 days": (PROVIDED_HOST, lambda m: m.long_lived, ["mail_tls_cert", "366"]),
    "certificate not covering a name": (
        PROVIDED_HOST,
        lambda m: {"mail_tls_san_dns": ["smtp.provided.mailfort.test", "pop.provided.mailfort.test"]},
        ["mail_tls_san_dns", "pop.provided.mailfort.test"],
    ),
    "certificate without key": (PROVIDED_HOST, lambda m: {"mail_tls_key_src": ""}, ["mail_tls_key_pem"]),
    "no certificate and no lab CA": (
        PROVIDED_HOST,
        lambda m: {"mail_tls_cert_src": "", "mail_tls_key_src": "", "mail_tls_chain_src": ""},
        ["mail_tls_lab_ca_allowed"],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_fails_clearly_and_leaves_host_unchanged(case, material, run_playbook, podman_host, tmp_path):
    target, make_vars, must_name = CASES[case]
    extra_vars = make_vars(material)
    host = podman_host(target)
    before = tls_dir_state(host)
    vars_file = tmp_path / "extra.yml"
    vars_file.write_text(yaml.safe_dump(extra_vars))

    run = run_playbook("--limit", target, "-e", f"@{vars_file}")

    assert_refused(case, run, must_name)
    for pem in (v for v in extra_vars.values() if isinstance(v, str) and "PRIVATE KEY" in v):
        assert not any(line in run.output for line in _body(pem)), f"{case}: key material in the output"
    assert tls_dir_state(host) == before, f"{case}: the host changed"
