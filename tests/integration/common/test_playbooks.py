# SPDX-License-Identifier: MIT
"""Every playbook in playbooks/ runs with both inventories the project ships: inventories/lab (the demo lab's) and
inventories/example (with its vault replaced by a test vars file, and the certificate files it names made by a
throwaway CA).

Each pair gets `--syntax-check`, then a check-mode run against a lab host through every input check the play has:
the run selects a tag no task has, so that only the tasks tagged `always` run (facts, every role's validation in
the play's pre_tasks and again at the role's start, Ansible's argument spec checks). That is where a variable the
inventory names but the play does not define (`dkim_postfix_milter` in a play without the dkim role) breaks a run.
The full check-mode runs of site.yml and postfix_hardening.yml on converged hosts are in the rerun phase; a full
check-mode run of every playbook with both inventories would take longer than the whole suite's budget allows.

The shipped inventories name hosts this lab does not have: an inventory given after the shipped one points them at
lab containers (later inventories win), changing nothing else of what the user would run.
"""

from __future__ import annotations

import datetime
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lab import GATEWAY, MX1, MX2

pytestmark = pytest.mark.readonly

PROJECT_DIR = Path(__file__).resolve().parents[3]
PLAYBOOKS = sorted((PROJECT_DIR / "playbooks").glob("*.yml"))
INVENTORIES = ("lab", "example")
EXAMPLE_HOST = "mail1.example.org"
# A tag no task has: only the tasks tagged `always` run.
INPUT_CHECKS_ONLY = "mailfort_no_such_tag"
# The demo's own playbooks (its containers, its report), with no input check: their check-mode run has nothing to
# do, their syntax check is what is proven.
WITHOUT_INPUT_CHECKS = {"lab.yml", "demo_report.yml"}


def _certificate(subject: str, issuer_key, public_key, issuer: str, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _example_certificates(directory: Path) -> str:
    """cert.pem and chain.pem for the example's host from a throwaway root and intermediate; returns the key."""
    root_key, intermediate_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    intermediate = _certificate("test intermediate", root_key, intermediate_key.public_key(), "test root", ca=True)
    leaf = _certificate(EXAMPLE_HOST, intermediate_key, leaf_key.public_key(), "test intermediate", ca=False)
    directory.mkdir(parents=True)
    (directory / "cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (directory / "chain.pem").write_bytes(intermediate.public_bytes(serialization.Encoding.PEM))
    return leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _example_inventory(directory: Path) -> list[Path]:
    """A copy of inventories/example with a test vault (vault.yml, as a user makes it from vault.yml.example, left
    unencrypted here) and its certificate files, plus the inventory that points its host at MX1."""
    copy = directory / "example"
    shutil.copytree(PROJECT_DIR / "inventories" / "example", copy)
    key = _example_certificates(copy / "files" / EXAMPLE_HOST)
    vault = {
        "vault_mail_tls_key_pem": key,
        "vault_dovecot_passwords": {
            "alice@example.org": {
                "main": "Saffron-Glacier-Tundra-64",
                "laptop": "Pebble-Monsoon-Orchid-29",
                "phone": "Walnut-Comet-Ferry-83",
            },
            "invoices@example.org": {"main": "Mosaic-Harvest-Beacon-47"},
        },
        "vault_mail_dns_tsig_secret": "dGVzdCBvbmx5OiBub3QgYSByZWFsIFRTSUcga2V5IQ==",
    }
    example = yaml.safe_load((copy / "group_vars" / "mail_servers" / "vault.yml.example").read_text(encoding="utf-8"))
    assert sorted(vault) == sorted(example), "the test vault must hold what vault.yml.example documents"
    (copy / "group_vars" / "mail_servers" / "vault.yml").write_text(json.dumps(vault), encoding="utf-8")
    lab = directory / "example-on-the-lab.yml"
    # The example reaches its host over SSH as "deploy"; here it is a lab container, entered as root.
    lab.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {
                        EXAMPLE_HOST: {"ansible_host": MX1, "ansible_connection": "podman", "ansible_user": "root"}
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    return [copy, lab]


def _lab_inventory(directory: Path) -> list[Path]:
    """inventories/lab as shipped, plus the inventory that points the demo lab's hosts at this lab's."""
    directory.mkdir(parents=True)
    lab = directory / "demo-on-the-test-lab.yml"
    lab.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {
                        "mailfort-lab-mx": {
                            "ansible_host": MX2,
                            # The shipped value reads the network of the demo lab (make demo), which this lab does
                            # not create; make demo runs the shipped value.
                            "mail_firewall_admin_allowlist": ["10.89.60.0/24"],
                            "lab_controller_address": GATEWAY,
                        },
                        "mailfort-lab-client": {"ansible_host": "mailfort-client"},
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    return [PROJECT_DIR / "inventories" / "lab", lab]


@pytest.fixture(scope="module")
def inventories(tmp_path_factory) -> dict[str, list[Path]]:
    directory = tmp_path_factory.mktemp("shipped-inventories")
    return {"lab": _lab_inventory(directory / "lab"), "example": _example_inventory(directory / "example")}


@pytest.fixture(scope="module")
def runs(inventories, run_playbook) -> dict[tuple[str, str, str], object]:
    """Every playbook with every inventory, syntax check and check-mode input checks, four runs at a time."""
    jobs = {}
    for playbook in PLAYBOOKS:
        for name in INVENTORIES:
            shipped, *overlays = inventories[name]
            given = [arg for path in overlays for arg in ("-i", str(path))]
            jobs[(playbook.name, name, "syntax")] = (shipped, (*given, "--syntax-check"))
            jobs[(playbook.name, name, "check")] = (shipped, (*given, "--check", "--tags", INPUT_CHECKS_ONLY))

    def run(key):
        shipped, args = jobs[key]
        return run_playbook(*args, playbook=PROJECT_DIR / "playbooks" / key[0], inventory=shipped)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(jobs, pool.map(run, jobs), strict=True))


def test_every_playbook_is_tested():
    assert len(PLAYBOOKS) >= 10, [p.name for p in PLAYBOOKS]


@pytest.mark.parametrize("inventory", INVENTORIES)
@pytest.mark.parametrize("playbook", [p.name for p in PLAYBOOKS])
def test_playbook_passes_the_syntax_check_with_the_shipped_inventory(playbook, inventory, runs):
    run = runs[(playbook, inventory, "syntax")]
    assert run.returncode == 0, run.output[-3000:]


@pytest.mark.parametrize("inventory", INVENTORIES)
@pytest.mark.parametrize("playbook", [p.name for p in PLAYBOOKS])
def test_playbook_checks_its_input_in_check_mode_with_the_shipped_inventory(playbook, inventory, runs):
    run = runs[(playbook, inventory, "check")]
    assert run.returncode == 0, run.output[-3000:]
    # The demo's own playbooks address the demo lab's groups, which only inventories/lab has.
    if playbook not in WITHOUT_INPUT_CHECKS:
        assert "[WARNING]: Could not match supplied host pattern" not in run.output, run.output[-3000:]
    assert "as an inventory source" not in run.output, run.output[-3000:]
    recap = run.recap
    if playbook not in WITHOUT_INPUT_CHECKS:
        assert recap, run.output[-3000:]
        assert all(counts["failed"] == 0 and counts["unreachable"] == 0 for counts in recap.values()), recap
        # Check mode with nothing but checks: nothing would change.
        assert all(counts["changed"] == 0 for counts in recap.values()), run.changed_tasks()
