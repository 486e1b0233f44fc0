# SPDX-License-Identifier: MIT
"""A lab certificate close to expiry is renewed by the next run, with the same key and a backup of the old one.

Runs last in the scenario (file order): it changes the hosts on purpose.
"""

from __future__ import annotations

import datetime as dt

import pytest
from tls_facts import CERT, KEY, LAB_CA, LAB_CA_HOSTS, LAB_CA_KEY, load_certs


def _expire_soon(host) -> int:
    """Replace the certificate with one for the same key and names that expires in five days."""
    leaf = load_certs(host.file(CERT).content_string)[0]
    work = host.check_output("mktemp -d")
    try:
        host.check_output(
            f"openssl req -new -key {KEY} -subj /CN=mx.lab.mailfort.test "
            f"-addext subjectAltName=DNS:mx.lab.mailfort.test,DNS:mail.lab.mailfort.test -out {work}/r.pem"
        )
        host.check_output(
            f"openssl x509 -req -in {work}/r.pem -CA {LAB_CA} -CAkey {LAB_CA_KEY} -days 5 -copy_extensions copy "
            f"-out {CERT} 2>/dev/null"
        )
    finally:
        host.run(f"rm -rf {work}")
    short = load_certs(host.file(CERT).content_string)[0]
    assert short.serial_number != leaf.serial_number
    return short.serial_number


@pytest.fixture(scope="module")
def renewal(run_playbook, podman_host):
    hosts = {name: podman_host(name) for name in LAB_CA_HOSTS}
    before = {
        name: {
            "short_serial": _expire_soon(h),
            "key": h.file(KEY).sha256sum,
            "backups": set(h.check_output(f"ls -1 {CERT}.*~ 2>/dev/null || true").split()),
        }
        for name, h in hosts.items()
    }
    run = run_playbook("--limit", ",".join(LAB_CA_HOSTS))
    return before, run


def test_renewal_run_succeeds_and_reports_the_change(renewal):
    _, run = renewal
    assert run.returncode == 0, run.output[-4000:]
    assert all(run.recap[name]["changed"] > 0 for name in LAB_CA_HOSTS), run.output[-4000:]


# Provided certificates are renewed by whoever provides them; only the lab CA hosts renew their own.
@pytest.mark.parametrize("name", LAB_CA_HOSTS)
def test_certificate_close_to_expiry_is_renewed_for_a_full_lifetime(name, podman_host, renewal):
    before, _ = renewal
    host = podman_host(name)
    leaf = load_certs(host.file(CERT).content_string)[0]
    assert leaf.serial_number != before[name]["short_serial"]
    assert leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=360)
    assert host.run(f"openssl verify -CAfile {LAB_CA} {CERT}").rc == 0


@pytest.mark.parametrize("name", LAB_CA_HOSTS)
def test_renewal_keeps_the_key_and_backs_up_the_old_certificate(name, podman_host, renewal):
    before, _ = renewal
    host = podman_host(name)
    assert host.file(KEY).sha256sum == before[name]["key"]
    backups = set(host.check_output(f"ls -1 {CERT}.*~ 2>/dev/null || true").split())
    assert backups - before[name]["backups"], "no backup of the replaced certificate"
