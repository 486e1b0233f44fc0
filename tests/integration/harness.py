# SPDX-License-Identifier: MIT
"""Helpers every scenario's suite uses: a fingerprint of what a role manages, the checks of a refused run, and where
a secret must never turn up."""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pytest owns the conftest module; import it for the annotation only
    from conftest import PlaybookRun


def tree_state(host, paths: Iterable[str], must_contain: str) -> str:
    """Every entry below PATHS with its mode, owner, inode and mtime, and the digest of every regular file.

    Two equal states mean nothing there was written, replaced or re-created (a restarted daemon's sockets get new
    inodes). MUST_CONTAIN guards against comparing two empty listings.
    """
    dirs = " ".join(paths)
    listing = host.check_output(
        f"find {dirs} -printf '%p %m %u:%g %i %T@\\n' | sort && "
        f"find {dirs} -type f -print0 | sort -z | xargs -0 -r sha256sum"
    )
    assert must_contain in listing, f"{must_contain} is missing on {host.backend.name}"
    return listing


# Where Ansible reports a failed task: "fatal: [host]", or "failed: [host] (item=...)" for one item of a loop.
FAILURE = re.compile(r"^(?:fatal|failed): \[", re.MULTILINE)


def assert_refused(case: str, run: PlaybookRun, must_name: Iterable[str]) -> str:
    """The run failed on purpose, and its error names every word in MUST_NAME; returns the error text."""
    assert run.returncode != 0, f"{case}: the play succeeded:\n{run.output[-3000:]}"
    failed = FAILURE.search(run.output)
    assert failed, run.output[-3000:]
    failure = run.output[failed.start() :]
    flat = " ".join(failure.split())  # the YAML callback folds long messages over several lines
    for word in must_name:
        assert " ".join(word.split()) in flat, f"{case}: the error does not name {word!r}:\n{failure[:3000]}"
    return failure


def secrets_in_journal(host, secrets: dict[str, str]) -> list[str]:
    """Which of the secrets (what it is -> value) the host's journal holds, by what they are, never by value."""
    patterns = " ".join(f"-e {shlex.quote(value)}" for value in secrets.values())
    found = set(host.check_output(f"journalctl --no-pager | grep -oF {patterns} | sort -u || true").split())
    return [what for what, value in secrets.items() if value in found]


def files_holding_secrets(host, secrets: dict[str, str], directory: str) -> dict[str, list[str]]:
    """The files below DIRECTORY that hold each secret (what it is -> value), for the secrets found."""
    found = {}
    for what, value in secrets.items():
        result = host.run("grep -rlF -- %s %s", value, directory)
        assert result.rc in (0, 1), result.stderr
        if result.stdout.strip():
            found[what] = result.stdout.split()
    return found


def one_case_per_host(cases: dict[str, tuple]) -> list[dict[str, str]]:
    """Bad-input cases (case -> (host, ...)) grouped into playbook runs, at most one case for each host in a run
    (host -> case): a host stops at its first refused value, so each run refuses one case on each host."""
    runs: list[dict[str, str]] = []
    for case, (target, *_) in cases.items():
        run = next((r for r in runs if target not in r), None)
        if run is None:
            runs.append(run := {})
        run[target] = case
    return runs


# A line of a task's result for one host ("ok: [host]", "fatal: [host]: FAILED! =>", "failed: [host] (item=...)");
# the YAML callback indents the result's details on the lines below it.
RESULT = re.compile(r"^[a-z]+: \[(?P<host>[^\]]+)\]")


def results_of(run: PlaybookRun, name: str) -> PlaybookRun:
    """The run's output as one host had it: that host's result lines with their details, nothing of the other
    host's (whose error must not pass for this one's)."""
    kept, keep = [], False
    for line in run.output.splitlines():
        if line[:1].isspace() or not line:
            if keep:
                kept.append(line)
            continue
        match = RESULT.match(line)
        keep = bool(match) and match["host"] == name
        if keep:
            kept.append(line)
    return dataclasses.replace(run, output="\n".join(kept))
