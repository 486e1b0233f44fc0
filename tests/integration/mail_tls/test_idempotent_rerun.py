# SPDX-License-Identifier: MIT
"""The rerun phase's one more run of site.yml on both MX hosts (the shared `rerun` fixture, -vvv) changes nothing
below the TLS directory, and neither it nor the shared `check_diff_run` ever prints a private key.

The provided host, converged with its own playbook: test_provided_rerun.py.
"""

from __future__ import annotations

import pytest
from lab import MAIL_HOSTS
from probes import host_name
from tls_facts import CERT, KEY, LAB_CA, LAB_CA_KEY, NEXT_KEY, TLS_DIR, secret_lines

pytestmark = pytest.mark.rerun


def test_second_run_succeeds_and_reports_no_change(rerun):
    run = rerun.run
    assert run.returncode == 0, run.output[-4000:]
    assert set(run.recap) >= set(MAIL_HOSTS)
    assert all(r["changed"] == 0 for r in run.recap.values()), "\n".join(run.changed_tasks())


def test_second_run_leaves_certificate_files_untouched(host, rerun):
    """Every file below the TLS directory keeps its mode, owner, inode, mtime and content."""
    before = rerun.entries(host_name(host), TLS_DIR, when="before")
    assert any(CERT in line for line in before), f"{CERT} is missing from the state of {host_name(host)}"
    assert rerun.entries(host_name(host), TLS_DIR) == before


def test_private_keys_never_appear_in_verbose_output(host, rerun, check_diff_run):
    """Not the server key, not the next server key, not the lab CA's key: neither at -vvv nor in a --diff."""
    secrets = (
        secret_lines(host.file(KEY).content_string, host.file(CERT).content_string)
        + secret_lines(host.file(NEXT_KEY).content_string)
        + secret_lines(host.file(LAB_CA_KEY).content_string, host.file(LAB_CA).content_string)
    )
    for label, output in (("the -vvv run", rerun.run.output), ("the --check --diff run", check_diff_run.output)):
        leaked = sum(line in output for line in secrets)  # a count: pytest must not print the lines either
        assert leaked == 0, f"{host_name(host)}: {label} printed {leaked} lines of private key material"
