# SPDX-License-Identifier: MIT
"""The lab CA certificates mail_tls deployed on both MX hosts (site.yml): chain, names, keys, lifetimes, file modes,
and real TLS handshakes with the daemons that serve them. The provided host: test_provided_certificate.py."""

from __future__ import annotations

import datetime as dt
import posixpath

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from probes import host_name
from tls_facts import (
    CERT,
    FOREIGN_NAME,
    FULLCHAIN,
    KEY,
    LAB_CA,
    LAB_CA_HOSTS,
    LAB_CA_KEY,
    TLS_PORTS,
    der,
    lab_ca_spec,
    load_certs,
    served_certificates,
)

pytestmark = pytest.mark.readonly


def test_private_key_is_root_only(host):
    key = host.file(KEY)
    assert key.exists
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)
    key_dir = host.file(posixpath.dirname(KEY))
    assert (key_dir.user, key_dir.mode) == ("root", 0o700)


def test_lab_ca_key_is_root_only(host):
    key = host.file(LAB_CA_KEY)
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)
    assert host.file(posixpath.dirname(LAB_CA_KEY)).mode == 0o700


@pytest.mark.parametrize("path", [CERT, FULLCHAIN])
def test_certificates_are_public_but_root_owned(host, path):
    cert = host.file(path)
    assert (cert.user, cert.group, cert.mode) == ("root", "root", 0o644)


def test_certificate_carries_the_configured_names(host):
    """The names of mail_tls_san_dns, the host's own first, and the server purpose."""
    leaf = load_certs(host.file(CERT).content_string)[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == LAB_CA_HOSTS[host_name(host)]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku


def test_key_has_the_configured_algorithm_and_size(host):
    """mail_tls_key_type's default: ECDSA on P-256."""
    public_key = load_certs(host.file(CERT).content_string)[0].public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"


def test_private_key_belongs_to_the_certificate(host):
    derived = host.check_output(f"openssl pkey -in {KEY} -pubout")
    served = load_certs(host.file(CERT).content_string)[0].public_key()
    pem = served.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert derived.strip() == pem.strip()


def test_certificate_lifetime_is_at_most_366_days(host):
    leaf = load_certs(host.file(CERT).content_string)[0]
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert lifetime <= dt.timedelta(days=366)
    assert leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=30)


def test_full_chain_is_certificate_then_chain(host):
    """The lab CA is the clients' trust anchor, so the full chain the daemons send is the certificate alone."""
    assert load_certs(host.file(FULLCHAIN).content_string) == load_certs(host.file(CERT).content_string)


def test_chain_verifies_against_its_trust_anchor(host):
    result = host.run(f"openssl verify -x509_strict -purpose sslserver -CAfile {LAB_CA} {CERT}")
    assert result.rc == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": OK")


@pytest.mark.parametrize("port", TLS_PORTS.values(), ids=TLS_PORTS.keys())
def test_client_verifies_the_served_chain_and_name(host, port, client):
    """Postfix (465) and Dovecot (993) serve the deployed certificate; a client that trusts the lab CA verifies the
    chain for every name on it, and refuses a name that is not."""
    names = LAB_CA_HOSTS[host_name(host)]
    served = served_certificates(client, lab_ca_spec(host), port, [*names, FOREIGN_NAME])
    deployed = der(load_certs(host.file(CERT).content_string)[0])

    for name in names:
        outcome = served[name]
        assert outcome["outcome"] == "verified", f"{host_name(host)}:{port} as {name}: {outcome}"
        assert outcome["version"].startswith("TLSv1.")
        assert outcome["leaf"] == deployed, f"{host_name(host)}:{port} serves another certificate than {CERT}"
    wrong = served[FOREIGN_NAME]
    assert wrong["outcome"] == "unverified", f"{host_name(host)}:{port} as {FOREIGN_NAME}: {wrong}"
    assert "Hostname mismatch" in wrong["reason"]
