# SPDX-License-Identifier: MIT
"""A second real run changes nothing on disk and never prints a private key, even at -vvv."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from tls_facts import (
    CERT,
    KEY,
    LAB_CA,
    LAB_CA_HOSTS,
    LAB_CA_KEY,
    PROVIDED_HOSTS,
    host_name,
    is_lab_ca,
    load_certs,
    tls_dir_state,
)

MAIL_HOSTS = [*LAB_CA_HOSTS, *PROVIDED_HOSTS]


@pytest.fixture(scope="module")
def rerun(run_playbook, podman_host):
    before = {name: tls_dir_state(podman_host(name)) for name in MAIL_HOSTS}
    run = run_playbook("-vvv")
    after = {name: tls_dir_state(podman_host(name)) for name in MAIL_HOSTS}
    return before, run, after


def _secret_lines(key_pem: str, cert_pem: str) -> list[str]:
    """The key's PEM lines that carry private material.

    An EC key's encoding ends with its public point, which the certificate and the public key (SPKI) carry too,
    and both may be printed; a line that also stands in their base64 is therefore not a leak.
    """
    spki = load_certs(cert_pem)[0].public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    public = "".join(line for line in (cert_pem + spki.decode()).splitlines() if not line.startswith("-----"))
    lines = [line for line in key_pem.splitlines() if line and not line.startswith("-----") and line not in public]
    assert lines, "no private key material to look for"
    return lines


def test_second_run_succeeds_and_reports_no_change(rerun):
    _, run, _ = rerun
    assert run.returncode == 0, run.output[-4000:]
    assert set(run.recap) >= set(MAIL_HOSTS)
    assert all(r["changed"] == 0 for r in run.recap.values()), "\n".join(run.changed_tasks())


def test_second_run_leaves_certificate_files_untouched(host, rerun):
    before, _, after = rerun
    assert after[host_name(host)] == before[host_name(host)]


def test_private_keys_never_appear_in_verbose_output(host, rerun, check_diff_run):
    _, run, _ = rerun
    secrets = _secret_lines(host.file(KEY).content_string, host.file(CERT).content_string)
    if is_lab_ca(host):
        secrets += _secret_lines(host.file(LAB_CA_KEY).content_string, host.file(LAB_CA).content_string)
    for output in (run.output, check_diff_run.output):
        leaked = [line for line in secrets if line in output]
        assert not leaked, f"{host_name(host)}: private key lines in the playbook output"


def test_certificate_tag_runs_on_its_own_without_change(run_playbook):
    run = run_playbook("--tags", "mail_tls_certificate")
    assert run.returncode == 0, run.output[-4000:]
    assert set(run.recap) >= set(MAIL_HOSTS)
    assert "lab_ca | Sign the server certificate with the lab CA" in run.output
    assert all(r["changed"] == 0 for r in run.recap.values()), "\n".join(run.changed_tasks())
