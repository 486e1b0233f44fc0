# SPDX-License-Identifier: MIT
"""Checks every scenario shares: a converged host is stable under a dry run."""

from __future__ import annotations


def test_check_diff_run_on_converged_hosts_succeeds(check_diff_run):
    assert check_diff_run.returncode == 0, check_diff_run.output[-4000:]
    assert check_diff_run.recap, "ansible-playbook printed no PLAY RECAP:\n" + check_diff_run.output[-4000:]


def test_check_diff_run_on_converged_hosts_reports_no_change(check_diff_run):
    changed = {host: r["changed"] for host, r in check_diff_run.recap.items() if r["changed"]}
    assert not changed, "a dry run on converged hosts would change:\n" + "\n".join(check_diff_run.changed_tasks())


def test_check_diff_run_on_converged_hosts_shows_no_diff(check_diff_run):
    diff_lines = [line for line in check_diff_run.output.splitlines() if line.startswith(("--- before", "+++ after"))]
    assert not diff_lines, "a dry run on converged hosts printed diffs:\n" + "\n".join(diff_lines)
