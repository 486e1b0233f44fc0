# SPDX-License-Identifier: MIT
"""The certificates mail_tls deployed: chain, names, keys, lifetimes, file modes, and a real TLS handshake."""

from __future__ import annotations

import base64
import datetime as dt
import posixpath
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from tls_facts import (
    CERT,
    CHAIN,
    CLIENT,
    FULLCHAIN,
    KEY,
    LAB_CA,
    LAB_CA_KEY,
    expected_sans,
    host_name,
    is_lab_ca,
    load_certs,
)

PROBE_PORT = 8443

# Runs on the client container: a TLS handshake that verifies the server's chain against the given anchor and
# the host name, exactly as a mail client with certificate checking does.
CLIENT_PROBE = """
import base64, socket, ssl, sys
anchor, address, name = base64.b64decode(sys.argv[1]).decode(), sys.argv[2], sys.argv[3]
context = ssl.create_default_context(cadata=anchor)
try:
    with socket.create_connection((address, int(sys.argv[4])), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname=name) as tls:
            print("VERIFIED", tls.version())
except ssl.SSLCertVerificationError as error:
    print("REJECTED", error.verify_message)
    sys.exit(3)
"""


def test_private_key_is_root_only(host):
    key = host.file(KEY)
    assert key.exists
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)
    key_dir = host.file(posixpath.dirname(KEY))
    assert (key_dir.user, key_dir.mode) == ("root", 0o700)


def test_lab_ca_key_is_root_only(host):
    if not is_lab_ca(host):
        assert not host.file(LAB_CA_KEY).exists, "a provided certificate must not bring a lab CA along"
        return
    key = host.file(LAB_CA_KEY)
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)
    assert host.file(posixpath.dirname(LAB_CA_KEY)).mode == 0o700


@pytest.mark.parametrize("path", [CERT, FULLCHAIN])
def test_certificates_are_public_but_root_owned(host, path):
    cert = host.file(path)
    assert (cert.user, cert.group, cert.mode) == ("root", "root", 0o644)


def test_certificate_carries_the_configured_names(host):
    leaf = load_certs(host.file(CERT).content_string)[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == expected_sans(host)
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku


def test_key_has_the_configured_algorithm_and_size(host):
    public_key = load_certs(host.file(CERT).content_string)[0].public_key()
    if is_lab_ca(host):
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        assert public_key.curve.name == "secp256r1"
    else:
        assert isinstance(public_key, rsa.RSAPublicKey)
        assert public_key.key_size == 2048


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
    fullchain = load_certs(host.file(FULLCHAIN).content_string)
    chain = [] if is_lab_ca(host) else load_certs(host.file(CHAIN).content_string)
    assert fullchain == load_certs(host.file(CERT).content_string) + chain
    if not is_lab_ca(host):
        assert len(chain) == 1


def test_chain_verifies_against_its_trust_anchor(host, provided_pki, tmp_path):
    if is_lab_ca(host):
        result = host.run(f"openssl verify -x509_strict -purpose sslserver -CAfile {LAB_CA} {CERT}")
    else:
        # The trust anchor of a provided chain stays on the controller, as a public CA's root would.
        (tmp_path / "cert.pem").write_text(host.file(CERT).content_string)
        (tmp_path / "chain.pem").write_text(host.file(CHAIN).content_string)
        result = subprocess.run(
            ["openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", str(provided_pki / "root.pem"),
             "-untrusted", str(tmp_path / "chain.pem"), str(tmp_path / "cert.pem")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        result.rc = result.returncode
    assert result.rc == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": OK")


@pytest.fixture
def tls_probe_server(host):
    """openssl s_server on the mail host with the deployed key and full chain, for two handshakes."""
    unit = "mailfort-tls-probe"
    host.run(f"systemctl stop {unit}")
    host.check_output(
        f"systemd-run --unit={unit} --collect --property=RuntimeMaxSec=60 openssl s_server -quiet "
        f"-accept {PROBE_PORT} -cert {FULLCHAIN} -cert_chain {FULLCHAIN} -key {KEY} -naccept 2"
    )
    host.check_output(f"for i in $(seq 50); do ss -ltn | grep -q ':{PROBE_PORT} ' && exit 0; sleep 0.1; done; exit 1")
    yield host.interface("eth0").addresses[0]
    host.run(f"systemctl stop {unit}")


def test_client_verifies_the_served_chain_and_name(host, tls_probe_server, podman_host, provided_pki):
    anchor = host.file(LAB_CA).content_string if is_lab_ca(host) else (provided_pki / "root.pem").read_text()
    client = podman_host(CLIENT)
    args = [base64.b64encode(anchor.encode()).decode(), tls_probe_server]

    good = client.run("python3 -c %s %s %s %s %s", CLIENT_PROBE, *args, expected_sans(host)[0], str(PROBE_PORT))
    assert good.rc == 0, f"{host_name(host)}: {good.stdout}{good.stderr}"
    assert good.stdout.startswith("VERIFIED TLSv1.")

    wrong = client.run("python3 -c %s %s %s %s %s", CLIENT_PROBE, *args, "www.example.com", str(PROBE_PORT))
    assert wrong.rc == 3, wrong.stdout + wrong.stderr
    assert "Hostname mismatch" in wrong.stdout
