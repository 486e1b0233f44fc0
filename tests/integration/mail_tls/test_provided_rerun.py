# SPDX-License-Identifier: MIT
"""The provided host is not in site.yml's reach (the shared `rerun` and `check_diff_run` cover the MX hosts only):
one more run of its own playbook, playbooks/postfix_hardening.yml through molecule/lab/provided, at -vvv and as a
dry run with --diff, changes nothing, would change nothing, and never prints the provided private key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from lab import PROVIDED
from tls_facts import CERT, KEY, secret_lines

if TYPE_CHECKING:  # pytest owns the conftest module; import it for the annotation only
    from conftest import PlaybookRun

pytestmark = pytest.mark.rerun


@dataclass(frozen=True)
class ProvidedRerun:
    run: PlaybookRun  # at -vvv
    check_diff: PlaybookRun  # --check --diff -v
    before: str
    after: str


@pytest.fixture(scope="module")
def provided_rerun(reruns) -> ProvidedRerun:
    """The provided host's two runs of the shared rerun phase (conftest.py: reruns)."""
    return ProvidedRerun(reruns.provided, reruns.provided_check_diff, reruns.before[PROVIDED], reruns.after[PROVIDED])


def test_provided_second_run_succeeds_and_reports_no_change(provided_rerun):
    run = provided_rerun.run
    assert run.returncode == 0, run.output[-4000:]
    assert PROVIDED in run.recap, run.output[-4000:]
    assert all(r["changed"] == 0 for r in run.recap.values()), "\n".join(run.changed_tasks())


def test_provided_second_run_leaves_certificate_and_daemon_files_untouched(provided_rerun):
    """Every entry of the TLS directory and the daemons' trees keeps its mode, owner, inode, mtime and content."""
    assert CERT in provided_rerun.before
    assert provided_rerun.after == provided_rerun.before


def test_provided_check_diff_run_succeeds(provided_rerun):
    check_diff = provided_rerun.check_diff
    assert check_diff.returncode == 0, check_diff.output[-4000:]
    assert PROVIDED in check_diff.recap, "ansible-playbook printed no PLAY RECAP:\n" + check_diff.output[-4000:]


def test_provided_check_diff_run_reports_no_change(provided_rerun):
    check_diff = provided_rerun.check_diff
    changed = {host: r["changed"] for host, r in check_diff.recap.items() if r["changed"]}
    assert not changed, "a dry run on the converged host would change:\n" + "\n".join(check_diff.changed_tasks())


def test_provided_check_diff_run_shows_no_diff(provided_rerun):
    lines = provided_rerun.check_diff.output.splitlines()
    diff_lines = [line for line in lines if line.startswith(("--- before", "+++ after"))]
    assert not diff_lines, "a dry run on the converged host printed diffs:\n" + "\n".join(diff_lines)


def test_provided_private_key_never_appears_in_verbose_output(provided_rerun, provided):
    secrets = secret_lines(provided.file(KEY).content_string, provided.file(CERT).content_string)
    outputs = {"the -vvv run": provided_rerun.run.output, "the --check --diff run": provided_rerun.check_diff.output}
    for label, output in outputs.items():
        leaked = sum(line in output for line in secrets)  # a count: pytest must not print the lines either
        assert leaked == 0, f"{PROVIDED}: {label} printed {leaked} lines of private key material"
