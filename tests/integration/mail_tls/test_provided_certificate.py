# SPDX-License-Identifier: MIT
"""The provided certificate mail_tls deployed on the provided host (playbooks/postfix_hardening.yml with the PKI of
molecule/lab/prepare.yml): the files given, chain, names, key, lifetime, file modes, no lab CA, and real TLS
handshakes with the Postfix and Dovecot that serve it, verified against the PKI's root as a mail client would.

The testinfra `host` fixture covers the two MX hosts only: these tests take the provided host from podman_host.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from lab import PROVIDED
from tls_facts import (
    CERT,
    CHAIN,
    FOREIGN_NAME,
    FULLCHAIN,
    KEY,
    LAB_CA_DIR,
    PROVIDED_NAMES,
    TLS_PORTS,
    der,
    load_certs,
    provided_spec,
    served_certificates,
)

pytestmark = pytest.mark.readonly


def _public_pem(key) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_provided_private_key_is_root_only(provided):
    key = provided.file(KEY)
    assert key.exists
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)
    key_dir = provided.file(posixpath.dirname(KEY))
    assert (key_dir.user, key_dir.mode) == ("root", 0o700)


def test_provided_certificate_brings_no_lab_ca_along(provided):
    """With a certificate given and mail_tls_lab_ca_allowed false, no lab CA (nor its key) is made."""
    assert not provided.file(LAB_CA_DIR).exists, "a provided certificate must not bring a lab CA along"


@pytest.mark.parametrize("path", [CERT, CHAIN, FULLCHAIN])
def test_provided_certificates_are_public_but_root_owned(provided, path):
    cert = provided.file(path)
    assert (cert.user, cert.group, cert.mode) == ("root", "root", 0o644)


def test_provided_files_are_the_ones_given(provided, provided_pki):
    """The certificate, chain and key on the host are the PKI's leaf, intermediate and leaf key, as given."""
    assert load_certs(provided.file(CERT).content_string) == load_certs((provided_pki / "leaf.pem").read_text())
    assert load_certs(provided.file(CHAIN).content_string) == load_certs(
        (provided_pki / "intermediate.pem").read_text()
    )
    given = serialization.load_pem_private_key((provided_pki / "leaf-key.pem").read_bytes(), None)
    derived = provided.check_output(f"openssl pkey -in {KEY} -pubout")
    assert derived.strip() == _public_pem(given.public_key()).strip()


def test_provided_certificate_carries_the_given_names(provided):
    leaf = load_certs(provided.file(CERT).content_string)[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == PROVIDED_NAMES
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku


def test_provided_key_has_the_given_algorithm_and_size(provided):
    """The PKI's leaf has an RSA 2048 key, which mail_tls_key_type (for generated keys) does not change."""
    public_key = load_certs(provided.file(CERT).content_string)[0].public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 2048


def test_provided_private_key_belongs_to_the_certificate(provided):
    derived = provided.check_output(f"openssl pkey -in {KEY} -pubout")
    served = load_certs(provided.file(CERT).content_string)[0].public_key()
    assert derived.strip() == _public_pem(served).strip()


def test_provided_certificate_lifetime_is_at_most_366_days(provided):
    leaf = load_certs(provided.file(CERT).content_string)[0]
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert lifetime <= dt.timedelta(days=366)
    assert leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=30)


def test_provided_full_chain_is_certificate_then_chain(provided):
    fullchain = load_certs(provided.file(FULLCHAIN).content_string)
    chain = load_certs(provided.file(CHAIN).content_string)
    assert fullchain == load_certs(provided.file(CERT).content_string) + chain
    assert len(chain) == 1


def test_provided_chain_verifies_against_its_trust_anchor(provided, provided_pki, tmp_path):
    """The trust anchor of a provided chain stays on the controller, as a public CA's root would: the chain as
    deployed verifies against it there."""
    (tmp_path / "cert.pem").write_text(provided.file(CERT).content_string)
    (tmp_path / "chain.pem").write_text(provided.file(CHAIN).content_string)
    result = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", str(provided_pki / "root.pem"),
         "-untrusted", str(tmp_path / "chain.pem"), str(tmp_path / "cert.pem")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": OK")


@pytest.mark.parametrize("port", TLS_PORTS.values(), ids=TLS_PORTS.keys())
def test_client_verifies_the_provided_chain_and_name(provided, port, client, provided_pki):
    """Postfix (465) and Dovecot (993) on the provided host serve the provided certificate with its chain: a client
    that trusts only the PKI's root verifies it for every name on it, and refuses a name that is not."""
    served = served_certificates(client, provided_spec(), port, [*PROVIDED_NAMES, FOREIGN_NAME])
    deployed = der(load_certs(provided.file(CERT).content_string)[0])

    for name in PROVIDED_NAMES:
        outcome = served[name]
        assert outcome["outcome"] == "verified", f"{PROVIDED}:{port} as {name}: {outcome}"
        assert outcome["version"].startswith("TLSv1.")
        assert outcome["leaf"] == deployed, f"{PROVIDED}:{port} serves another certificate than {CERT}"
    wrong = served[FOREIGN_NAME]
    assert wrong["outcome"] == "unverified", f"{PROVIDED}:{port} as {FOREIGN_NAME}: {wrong}"
    assert "Hostname mismatch" in wrong["reason"]
