# SPDX-License-Identifier: MIT
"""mailfort.mail.mail_directories: several directories with owner, group and mode in one call."""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path

import pytest
from module_play import load_module, run_module

mail_directories = load_module("mail_directories")

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def _play(tmp_path: Path, directories: list[dict] | dict, *args: str) -> tuple[dict, str]:
    """One mail_directories task: DIRECTORIES as its directories option, or as all of its options."""
    options = directories if isinstance(directories, dict) else {"directories": directories}
    return run_module(tmp_path, "mail_directories", options, *args)


def _mode(path: Path) -> str:
    return f"{path.stat().st_mode & 0o7777:04o}"


def test_one_call_makes_every_directory_in_order_then_changes_nothing(tmp_path):
    top, key = tmp_path / "ssl" / "mailfort", tmp_path / "ssl" / "mailfort" / "private"
    wanted = [
        {"path": str(top), "mode": "0755", "owner": USER, "group": GROUP},
        {"path": str(key), "mode": "0700", "owner": USER, "group": GROUP},
    ]
    first, _ = _play(tmp_path, wanted)
    assert first["changed"] is True
    assert [entry["created"] for entry in first["directories"]] == [True, True]
    assert (_mode(top), _mode(key)) == ("0755", "0700")

    again, _ = _play(tmp_path, wanted, "--check", "--diff")
    assert again["changed"] is False
    assert [entry["changed"] for entry in again["directories"]] == [False, False]


def test_check_mode_reports_the_change_with_a_diff_and_changes_nothing(tmp_path):
    (tmp_path / "keys").mkdir(mode=0o755)
    result, output = _play(
        tmp_path,
        [
            {"path": str(tmp_path / "keys"), "mode": "0750", "owner": USER, "group": GROUP},
            {"path": str(tmp_path / "new"), "mode": "0700", "owner": USER, "group": GROUP},
        ],
        "--check",
        "--diff",
    )
    assert result["changed"] is True
    assert [(entry["created"], entry["changed"]) for entry in result["directories"]] == [(False, True), (True, True)]
    assert _mode(tmp_path / "keys") == "0755"
    assert not (tmp_path / "new").exists()
    for line in ("-mode: 0755", "+mode: 0750", "-state: absent", "+state: directory"):
        assert line in output


def test_a_mode_is_set_on_an_existing_directory(tmp_path):
    (tmp_path / "keys").mkdir(mode=0o777)
    result, _ = _play(tmp_path, [{"path": str(tmp_path / "keys"), "mode": "0750", "owner": USER, "group": GROUP}])
    assert result["directories"] == [{"path": str(tmp_path / "keys"), "created": False, "changed": True}]
    assert _mode(tmp_path / "keys") == "0750"


def test_every_problem_is_named_together_before_anything_changes(tmp_path):
    (tmp_path / "file").write_text("not a directory\n")
    result, _ = _play(
        tmp_path,
        [
            {"path": str(tmp_path / "first"), "mode": "0700", "owner": USER, "group": GROUP},
            {"path": str(tmp_path / "file"), "mode": "0700", "owner": USER, "group": GROUP},
            {"path": str(tmp_path / "x"), "mode": "rwx", "owner": USER, "group": GROUP},
            {"path": str(tmp_path / "y"), "mode": "0700", "owner": "mailfort-nobody", "group": GROUP},
            {"path": "relative/dir", "mode": "0700"},
        ],
    )
    assert result["failed"] is True
    for words in (
        f"directories[1] ({tmp_path / 'file'}): it exists and is not a directory",
        "directories[2]",
        "mode 'rwx' is not an octal mode",
        "directories[3]",
        "there is no user 'mailfort-nobody'",
        "directories[4] (relative/dir): the path must be absolute",
    ):
        assert words in result["msg"]
    assert not (tmp_path / "first").exists()


@pytest.mark.parametrize("mode", ["0750", "750", "2750"])
def test_octal_modes_with_or_without_the_leading_zero(mode, tmp_path):
    entry = {"path": str(tmp_path), "mode": mode, "owner": USER, "group": GROUP}
    directory, problem = mail_directories.wanted(entry, "x")
    assert problem is None
    assert directory["mode"] == int(mode, 8)


def test_paths_take_the_shared_attributes_and_an_entry_its_own(tmp_path):
    result, _ = _play(
        tmp_path,
        {
            "directories": [{"path": str(tmp_path / "own"), "mode": "0755"}],
            "paths": [str(tmp_path / "a"), str(tmp_path / "b")],
            "mode": "0750",
            "owner": USER,
            "group": GROUP,
        },
    )
    assert [Path(entry["path"]).name for entry in result["directories"]] == ["own", "a", "b"]
    assert [_mode(tmp_path / name) for name in ("own", "a", "b")] == ["0755", "0750", "0750"]


def test_a_directory_without_a_mode_anywhere_is_refused(tmp_path):
    result, _ = _play(tmp_path, {"paths": [str(tmp_path / "a")], "owner": USER, "group": GROUP})
    assert result["failed"] is True
    assert f"paths[0] ({tmp_path / 'a'}): no mode, and no mode for every directory" in result["msg"]
