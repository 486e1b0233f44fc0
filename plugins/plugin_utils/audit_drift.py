# SPDX-License-Identifier: MIT
"""Drift: what `site.yml --check --diff` would change on a host, and the controls those changes touch.

The callback mail_drift (plugins/callback/mail_drift.py) turns the task results of such a run into file changes
with `changes_of_result`; the action mail_audit maps them onto the controls with `controls_touched`, using what
each control's audit entry already names: the Postfix and Dovecot parameters it reads (`postconf`, `doveconf`), the
files and certificates it looks at (`file`, `certificate`), and the globs of its `drift_files`. A change no control
names is reported as drift of its role, never dropped.

A change shows the lines that differ, as the diff of the task showed them, at most LINES_MAX a file: the roles hide
the content of every secret file from their diffs (mail_config's `secret`), and a no_log task's result reaches a
callback censored, so a change shows no more than `--diff` itself would.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from typing import Any

LINES_MAX = 20
# A setting's name at the start of a line (`name = value`, `Name value`, `[section]` is none), and every `-o name=`
# of a master.cf service.
_KEY = re.compile(r"^\s*([A-Za-z_][\w.-]*)\s*(?:=|\s|$)")
_OPTION = re.compile(r"(?:^|\s)-o\s+([A-Za-z_]\w*)=")
# The parameters of `postconf`/`doveconf` checks live in the files under these directories.
PARAMETER_DIRS = {"postconf": "/etc/postfix/", "doveconf": "/etc/dovecot/"}


def changed_lines(before: str, after: str) -> list[str]:
    """The lines of a unified diff from BEFORE (the host) to AFTER (what site.yml would write), without context."""
    diff = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0))
    return [line for line in diff[2:] if not line.startswith("@@")]


def line_keys(line: str) -> set[str]:
    """The setting names a configuration line sets (the line without its diff sign); none for comments."""
    text = line.strip()
    if not text or text.startswith(("#", ";")):
        return set()
    keys = set(_OPTION.findall(text))
    match = _KEY.match(text)
    if match:
        keys.add(match.group(1))
    return keys


def _attribute_lines(before: dict, after: dict) -> list[str]:
    return [f"{name}: {before.get(name)} -> {after.get(name)}" for name in sorted({*before, *after})]


def _file_change(path: str, diffs: list[dict], differs: list[str]) -> dict:
    lines: list[str] = []
    for diff in diffs:
        before, after = diff.get("before", ""), diff.get("after", "")
        if isinstance(before, dict) or isinstance(after, dict):
            lines.extend(_attribute_lines(before or {}, after or {}))
        elif isinstance(before, str) and isinstance(after, str):
            lines.extend(changed_lines(before, after))
        else:
            lines.append("(content not shown: too large or binary)")
    lines, spacing = substantive(lines)
    keys = sorted({key for line in lines if line[:1] in "+-" for key in line_keys(line[1:])})
    shown = lines[:LINES_MAX] + ([f"... {len(lines) - LINES_MAX} more lines"] if len(lines) > LINES_MAX else [])
    if spacing:
        shown.append(f"({spacing} lines differ only in spacing)")
    return {"path": path, "differs": differs or ["content"], "lines": shown, "keys": keys}


def _words(line: str) -> str:
    return " ".join(line.split())


def substantive(lines: list[str]) -> tuple[list[str], int]:
    """LINES without the removed and added lines that differ only in spacing (a file rewritten by `postconf -P`,
    say), and how many were dropped: what is left is what a reader needs, and the only lines whose keys count."""
    removed = {_words(line[1:]) for line in lines if line.startswith("-")}
    added = {_words(line[1:]) for line in lines if line.startswith("+")}
    kept = [
        line
        for line in lines
        if not (line.startswith("-") and _words(line[1:]) in added)
        and not (line.startswith("+") and _words(line[1:]) in removed)
    ]
    return kept, len(lines) - len(kept)


def _diffs_of(result: dict) -> list[dict]:
    diff = result.get("diff")
    if isinstance(diff, dict):
        return [diff]
    return [entry for entry in diff or [] if isinstance(entry, dict)]


def changes_of_result(result: dict) -> list[dict]:
    """The file changes one task result (or each changed item of a loop) reports: path, what differs, the lines.

    A changed result without any file (a service to start, a package to install) is one change with an empty path.
    """
    if not isinstance(result, dict) or not result.get("changed"):
        return []
    if isinstance(result.get("results"), list):
        return [change for item in result["results"] for change in changes_of_result(item)]
    if result.get("censored") or result.get("_ansible_no_log"):
        return [{"path": "", "differs": ["hidden (no_log)"], "lines": [], "keys": []}]
    by_path: dict[str, list[dict]] = {}
    for diff in _diffs_of(result):
        path = str(diff.get("after_header") or diff.get("before_header") or "")
        by_path.setdefault(path, []).append(diff)
    differs = {str(c.get("path")): list(c.get("differs", [])) for c in result.get("changes", []) if isinstance(c, dict)}
    for path in differs:
        by_path.setdefault(path, [])
    if not by_path:
        path = str(result.get("dest") or result.get("path") or "")
        by_path[path] = []
    return [_file_change(path, diffs, differs.get(path, [])) for path, diffs in by_path.items()]


def _names(checks: list[dict], source: str) -> set[str]:
    return {str(check[source]).rsplit("/", 1)[-1] for check in checks if source in check}


def _paths(checks: list[dict]) -> set[str]:
    found: set[str] = set()
    for check in checks:
        for key in ("file", "certificate"):
            value = check.get(key)
            for path in value if isinstance(value, list) else [value]:
                if path:
                    found.add(str(path).rstrip("/"))
    return found


def touches(change: dict, checks: list[dict], drift_files: list[str]) -> bool:
    """Whether CHANGE concerns a control whose (templated, expanded) audit CHECKS and DRIFT_FILES globs these are."""
    path = change.get("path") or ""
    if not path:
        return False
    keys = set(change.get("keys", []))
    for source, directory in PARAMETER_DIRS.items():
        if path.startswith(directory) and keys & _names(checks, source):
            return True
    if any(path == known or path.startswith(known + "/") for known in _paths(checks)):
        return True
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in drift_files)


def controls_touched(changes: list[dict], controls: list[tuple[str, list[dict], list[str]]]) -> list[dict]:
    """CHANGES, each with `controls`: the ids of CONTROLS ((id, checks, drift_files) each) that it touches."""
    return [
        {**change, "controls": [cid for cid, checks, globs in controls if touches(change, checks, globs)]}
        for change in changes
    ]


def drift_summary(drift: dict | None) -> str:
    """A few words for the summary line: how many files site.yml would change, or why drift was not compared."""
    if not drift:
        return ""
    if drift.get("error"):
        return "drift: not compared"
    changes = drift.get("changes", [])
    if not changes:
        return "no drift"
    return f"drift: {len(changes)} change{'s' if len(changes) != 1 else ''}"


def plain_drift(value: Any) -> dict:
    """A host's drift record as the callback wrote it, reduced to the keys the audit uses (anything else dropped)."""
    if not isinstance(value, dict):
        return {"error": "no drift record for this host"}
    record: dict[str, Any] = {"error": str(value.get("error") or "")}
    record["changes"] = [
        {
            "role": str(change.get("role", "")),
            "task": str(change.get("task", "")),
            "path": str(change.get("path", "")),
            "differs": [str(item) for item in change.get("differs", [])],
            "lines": [str(line) for line in change.get("lines", [])][: LINES_MAX + 1],
            "keys": [str(key) for key in change.get("keys", [])],
        }
        for change in value.get("changes", [])
        if isinstance(change, dict)
    ]
    return record
