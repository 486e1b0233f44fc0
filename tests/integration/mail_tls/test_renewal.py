# SPDX-License-Identifier: MIT
"""A lab certificate close to expiry is renewed by the next run, with the same key and a backup of the old one, and
the daemons serve the renewed certificate at once (the handlers of "mail_tls certificate changed").

Mutator: the certificate on both MX hosts is swapped for one that expires in five days, then `site.yml --tags
mail_tls` renews it; the hosts end with a valid certificate for a full lifetime, which the checks below prove.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from lab import MAIL_HOSTS
from probes import host_name, wait_for
from tls_facts import (
    CERT,
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

pytestmark = pytest.mark.mutator


def _expire_soon(host) -> int:
    """Replace the certificate with one that differs only in its serial and dates: the same key, subject and
    extensions, signed by the lab CA, expiring in five days. Expiry is then the only reason to renew it."""
    leaf = load_certs(host.file(CERT).content_string)[0]
    ca = load_certs(host.file(LAB_CA).content_string)[0]
    ca_key = serialization.load_pem_private_key(host.file(LAB_CA_KEY).content_string.encode(), None)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(leaf.subject)
        .issuer_name(ca.subject)
        .public_key(leaf.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=5))
    )
    for extension in leaf.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    short = builder.sign(ca_key, hashes.SHA256())
    pem = short.public_bytes(serialization.Encoding.PEM)
    # Written into the existing file, which keeps its owner and mode.
    host.check_output("echo %s | base64 -d > %s", base64.b64encode(pem).decode(), CERT)
    assert load_certs(host.file(CERT).content_string)[0].serial_number == short.serial_number != leaf.serial_number
    return short.serial_number


@pytest.fixture(scope="module")
def renewal(run_playbook, podman_host):
    hosts = {name: podman_host(name) for name in MAIL_HOSTS}
    before = {
        name: {
            "short_serial": _expire_soon(h),
            "key": h.file(KEY).sha256sum,
            "backups": set(h.check_output(f"ls -1 {CERT}.*~ 2>/dev/null || true").split()),
        }
        for name, h in hosts.items()
    }
    run = run_playbook("--tags", "mail_tls")
    return before, run


def test_renewal_run_succeeds_and_reports_the_change(renewal):
    _, run = renewal
    assert run.returncode == 0, run.output[-4000:]
    assert all(run.recap[name]["changed"] > 0 for name in MAIL_HOSTS), run.output[-4000:]


# Provided certificates are renewed by whoever provides them; only the lab CA hosts renew their own.
def test_certificate_close_to_expiry_is_renewed_for_a_full_lifetime(host, renewal):
    before, _ = renewal
    leaf = load_certs(host.file(CERT).content_string)[0]
    assert leaf.serial_number != before[host_name(host)]["short_serial"]
    assert leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=360)
    assert host.run(f"openssl verify -CAfile {LAB_CA} {CERT}").rc == 0
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == LAB_CA_HOSTS[host_name(host)]


def test_renewal_keeps_the_key_and_backs_up_the_old_certificate(host, renewal):
    before, _ = renewal
    assert host.file(KEY).sha256sum == before[host_name(host)]["key"]
    backups = set(host.check_output(f"ls -1 {CERT}.*~ 2>/dev/null || true").split())
    assert backups - before[host_name(host)]["backups"], "no backup of the replaced certificate"


@pytest.mark.parametrize("port", TLS_PORTS.values(), ids=TLS_PORTS.keys())
def test_daemons_serve_the_renewed_certificate(host, port, renewal, client):
    """The full chain is rewritten and Postfix (465) and Dovecot (993) were reloaded: a new connection gets the
    renewed certificate, verified against the lab CA."""
    renewed = load_certs(host.file(CERT).content_string)
    assert load_certs(host.file(FULLCHAIN).content_string) == renewed
    name = LAB_CA_HOSTS[host_name(host)][0]

    def served():
        outcome = served_certificates(client, lab_ca_spec(host), port, [name])[name]
        return outcome if outcome.get("leaf") == der(renewed[0]) else None

    # A reload lets busy processes finish; a new connection may meet an old one for a moment.
    outcome = wait_for(served, timeout=15, interval=1)
    assert outcome, f"{host_name(host)}:{port} does not serve the renewed certificate"
    assert outcome["outcome"] == "verified"
