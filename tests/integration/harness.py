# SPDX-License-Identifier: MIT
"""Helpers every scenario's suite uses: a fingerprint of what a role manages, and the checks of a refused run."""

from __future__ import annotations

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


def assert_refused(case: str, run: PlaybookRun, must_name: Iterable[str]) -> str:
    """The run failed on purpose, and its error names every word in MUST_NAME; returns the error text."""
    assert run.returncode != 0, f"{case}: the play succeeded:\n{run.output[-3000:]}"
    assert "fatal:" in run.output, run.output[-3000:]
    failure = run.output[run.output.find("fatal:") :]
    for word in must_name:
        assert word in failure, f"{case}: the error does not name {word!r}:\n{failure[:3000]}"
    return failure
