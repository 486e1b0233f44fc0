# SPDX-License-Identifier: MIT
"""A converged lab is stable: one more real run of site.yml (at -vvv) changes nothing, neither in its recap nor in
any tree site.yml manages on the MX hosts, and the dry run the README tells users to start with
(`site.yml --check --diff`) reports no change and prints no diff. Each role's input is checked once in the run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import MANAGED_TREES
from lab import MAIL_HOSTS
from probes import host_name

pytestmark = pytest.mark.rerun

ROLES = Path(__file__).resolve().parents[3] / "roles"


def test_rerun_succeeds_on_every_mx_host(rerun):
    assert rerun.run.returncode == 0, rerun.run.output[-4000:]
    assert set(rerun.run.recap) >= set(MAIL_HOSTS), rerun.run.output[-4000:]


def test_rerun_reports_no_change(rerun):
    changed = {host: r["changed"] for host, r in rerun.run.recap.items() if r["changed"]}
    assert not changed, "a second run changed:\n" + "\n".join(rerun.run.changed_tasks())


@pytest.mark.parametrize("tree", MANAGED_TREES)
def test_rerun_leaves_every_managed_tree_untouched(host, rerun, tree):
    before = rerun.entries(host_name(host), tree, when="before")
    after = rerun.entries(host_name(host), tree)
    assert before, f"{host_name(host)}: nothing below {tree} to compare"
    changed = sorted(set(before) ^ set(after))
    assert not changed, f"{host_name(host)}: the second run touched:\n" + "\n".join(changed[:40])


def test_check_diff_run_on_converged_hosts_succeeds(check_diff_run):
    assert check_diff_run.returncode == 0, check_diff_run.output[-4000:]
    assert set(check_diff_run.recap) >= set(MAIL_HOSTS), check_diff_run.output[-4000:]


def test_check_diff_run_on_converged_hosts_reports_no_change(check_diff_run):
    changed = {host: r["changed"] for host, r in check_diff_run.recap.items() if r["changed"]}
    assert not changed, "a dry run on converged hosts would change:\n" + "\n".join(check_diff_run.changed_tasks())


def test_check_diff_run_on_converged_hosts_shows_no_diff(check_diff_run):
    diff_lines = [line for line in check_diff_run.output.splitlines() if line.startswith(("--- before", "+++ after"))]
    assert not diff_lines, "a dry run on converged hosts printed diffs:\n" + "\n".join(diff_lines)


def _validate_task_lines() -> dict[str, int]:
    """Each role's input check: the line of its mail_validate task in roles/<role>/tasks/validate.yml."""
    lines = {}
    for validate in sorted(ROLES.glob("*/tasks/validate.yml")):
        tasks = yaml.compose(validate.read_text()).value
        for task in tasks:
            if any(key.value == "mailfort.mail.mail_validate" for key, _ in task.value):
                lines[validate.parts[-3]] = task.start_mark.line + 1
    return lines


def test_each_role_checks_its_input_once_per_play(rerun):
    # check_input.yml checks every role's input first; each role then skips its own check (tasks/main.yml).
    lines = _validate_task_lines()
    assert len(lines) == 9  # every role of site.yml
    results: dict[tuple[str, str], list[str]] = {}
    current = None
    for line in rerun.run.output.splitlines():
        path = re.match(r"task path: .*/roles/(?P<role>[a-z0-9_]+)/tasks/validate\.yml:(?P<line>\d+)$", line)
        if path or line.startswith("TASK ["):
            current = path["role"] if path and lines.get(path["role"]) == int(path["line"]) else None
            continue
        result = re.match(r"(?P<status>ok|changed|skipping|fatal): \[(?P<host>[^\]]+)\]", line)
        if current and result:
            results.setdefault((current, result["host"]), []).append(result["status"])

    for role in lines:
        for host in MAIL_HOSTS:
            assert results.get((role, host)) == ["ok", "skipping"], (role, host, results.get((role, host)))
