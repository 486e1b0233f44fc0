# SPDX-License-Identifier: MIT
"""A second run changes neither the keys nor the records, and shows no secret: the lab's shared re-run of site.yml
at -vvv (the `rerun` fixture, tests/integration/conftest.py), which prints every module argument and result, and the
state of each host's DKIM keys (modes, inodes, digests) before and after it."""

from __future__ import annotations

import pytest
from dns_facts import KEY_DIR
from harness import files_holding_secrets, secrets_in_journal
from lab import MAIL_HOSTS, TSIG_SECRET
from probes import host_name

pytestmark = pytest.mark.rerun


def test_a_second_run_regenerates_no_key_and_shows_none(host, keys, rerun):
    secrets = [host.file(k["private"]).content_string.splitlines()[1] for k in keys]
    run = rerun.run

    assert run.returncode == 0, run.output[-3000:]
    assert [t for t in run.changed_tasks() if "dkim :" in t] == []
    before, after = rerun.entries(host_name(host), KEY_DIR, "before"), rerun.entries(host_name(host), KEY_DIR)
    assert any(".private" in line for line in before), f"no private key listed below {KEY_DIR}"
    assert after == before
    shown = sum(secret in run.output for secret in secrets)  # a count: no secret in the report
    assert shown == 0, f"{shown} private key line(s) in the playbook's output"


def test_the_tsig_secret_never_appears_in_output(rerun, podman_host):
    """A real run at -vvv prints module arguments and results: the TSIG secret is in none of them, nor on the hosts."""
    run = rerun.run

    assert run.returncode == 0, run.output[-3000:]
    assert "mail_dns_update" in run.output  # the publishing task ran and printed its arguments
    assert TSIG_SECRET not in run.output
    for name in MAIL_HOSTS:
        mail_host = podman_host(name)
        assert secrets_in_journal(mail_host, {"TSIG secret": TSIG_SECRET}) == []
        assert files_holding_secrets(mail_host, {"TSIG secret": TSIG_SECRET}, "/etc") == {}


def test_a_second_run_publishes_nothing(rerun):
    assert rerun.run.returncode == 0, rerun.run.output[-3000:]
    assert [t for t in rerun.run.changed_tasks() if "mail_dns :" in t] == []
