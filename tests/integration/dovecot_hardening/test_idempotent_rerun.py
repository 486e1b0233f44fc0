# SPDX-License-Identifier: MIT
"""A second real run changes nothing on disk and never prints a password or a password hash, even at -v."""

from __future__ import annotations

import re

import pytest
from dovecot_facts import CREDENTIALS_DIR, MAIL_HOSTS, credentials_in, dovecot_state
from probes import host_name

HASH = re.compile(r"\{[A-Z0-9-]+\}[^\s:]+")


@pytest.fixture(scope="module")
def rerun(run_playbook, podman_host):
    before = {name: dovecot_state(podman_host(name)) for name in MAIL_HOSTS}
    run = run_playbook("-v")
    after = {name: dovecot_state(podman_host(name)) for name in MAIL_HOSTS}
    return before, run, after


def test_second_run_succeeds_and_reports_no_change(rerun):
    _, run, _ = rerun
    assert run.returncode == 0, run.output[-4000:]
    assert set(run.recap) >= set(MAIL_HOSTS)
    assert all(r["changed"] == 0 for r in run.recap.values()), "\n".join(run.changed_tasks())


def test_second_run_leaves_dovecot_files_and_sockets_untouched(host, rerun):
    before, _, after = rerun
    assert after[host_name(host)] == before[host_name(host)]


def test_passwords_never_appear_in_playbook_output(rerun, check_diff_run):
    _, run, _ = rerun
    for label, output in (("the -v run", run.output), ("the --check --diff run", check_diff_run.output)):
        assert not credentials_in(output), f"{label} printed: {', '.join(credentials_in(output))}"


def test_password_hashes_never_appear_in_playbook_output(host, rerun, check_diff_run):
    """Hashes can be attacked offline: the tasks that handle them must hide them as they hide passwords."""
    _, run, _ = rerun
    slots = host.check_output(f"cat {CREDENTIALS_DIR}/passdb-*").splitlines()
    hashes = [h for line in slots if not line.lstrip().startswith("#") for h in HASH.findall(line)]
    assert hashes, f"{host_name(host)}: no password hash in {CREDENTIALS_DIR}/passdb-*"
    for label, output in (("the -v run", run.output), ("the --check --diff run", check_diff_run.output)):
        leaked = sum(h in output for h in hashes)  # a count, so that pytest does not print the hashes either
        assert leaked == 0, f"{host_name(host)}: {label} printed {leaked} of the {len(hashes)} password hashes"
