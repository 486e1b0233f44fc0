# SPDX-License-Identifier: MIT
"""A second real run changes nothing of Dovecot's on disk and never prints a password or a password hash, even at
-vvv: the lab's shared re-run of site.yml (the `rerun` fixture, tests/integration/conftest.py), with the state of
/etc/dovecot and Postfix's private socket directory before and after it, and the shared `check_diff_run`."""

from __future__ import annotations

import re

import pytest
from dovecot_facts import AUTH_SOCKET, CREDENTIALS_DIR, DOVECOT_CONF, LMTP_SOCKET, STATE_DIRS, credentials_in
from lab import MAIL_HOSTS
from probes import host_name

pytestmark = pytest.mark.rerun

HASH = re.compile(r"\{[A-Z0-9-]+\}[^\s:]+")


def test_second_run_succeeds_and_reports_no_change(rerun):
    run = rerun.run
    assert run.returncode == 0, run.output[-4000:]
    assert set(run.recap) >= set(MAIL_HOSTS)
    assert all(r["changed"] == 0 for r in run.recap.values()), "\n".join(run.changed_tasks())


def test_second_run_leaves_dovecot_files_and_sockets_untouched(host, rerun):
    """Every entry's mode, owner, inode and mtime, and every file's digest: a restarted Dovecot would have made its
    sockets for Postfix anew."""
    name = host_name(host)
    before = [line for tree in STATE_DIRS for line in rerun.entries(name, tree, when="before")]
    after = [line for tree in STATE_DIRS for line in rerun.entries(name, tree)]
    for path in (DOVECOT_CONF, AUTH_SOCKET, LMTP_SOCKET):
        assert any(line.startswith(f"{path} ") for line in before), f"{name}: {path} is not in the state before"
    changed = sorted(set(before) ^ set(after))
    assert after == before, f"{name}: the second run touched:\n" + "\n".join(changed[:40])


def test_passwords_never_appear_in_playbook_output(rerun, check_diff_run):
    for label, output in (("the -vvv run", rerun.run.output), ("the --check --diff run", check_diff_run.output)):
        assert not credentials_in(output), f"{label} printed: {', '.join(credentials_in(output))}"


def test_password_hashes_never_appear_in_playbook_output(host, rerun, check_diff_run):
    """Hashes can be attacked offline: the tasks that handle them must hide them as they hide passwords."""
    slots = host.check_output(f"cat {CREDENTIALS_DIR}/passdb-*").splitlines()
    hashes = [h for line in slots if not line.lstrip().startswith("#") for h in HASH.findall(line)]
    assert hashes, f"{host_name(host)}: no password hash in {CREDENTIALS_DIR}/passdb-*"
    for label, output in (("the -vvv run", rerun.run.output), ("the --check --diff run", check_diff_run.output)):
        leaked = sum(h in output for h in hashes)  # a count, so that pytest does not print the hashes either
        assert leaked == 0, f"{host_name(host)}: {label} printed {leaked} of the {len(hashes)} password hashes"
