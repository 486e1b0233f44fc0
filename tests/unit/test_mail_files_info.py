# SPDX-License-Identifier: MIT
"""mailfort.mail.mail_files_info: many files looked at in one module call, in order, with their content if asked."""

from __future__ import annotations

import base64
import grp
import hashlib
import os
import pwd
import socket
from pathlib import Path

import pytest
from module_play import load_module, run_module

mail_files_info = load_module("mail_files_info")

PARAMS = {"content": True, "checksum": True, "glob": False, "max_size": 1048576}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    for name in ("passdb-1", "passdb-2", "passdb-10", "users"):
        (tmp_path / name).write_text(f"{name}\n")
    (tmp_path / "passdb-2").chmod(0o640)
    (tmp_path / "sub").mkdir()
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    return tmp_path


def test_a_file_is_described_with_its_content_and_checksum(files):
    found = mail_files_info.look(str(files / "passdb-2"), PARAMS)

    assert found["exists"] is True
    assert (found["type"], found["mode"], found["size"]) == ("file", "0640", len("passdb-2\n"))
    assert base64.b64decode(found["content"]) == b"passdb-2\n"
    assert found["checksum"] == hashlib.sha256(b"passdb-2\n").hexdigest()
    assert found["owner"] == pwd.getpwuid(os.getuid()).pw_name
    assert found["group"] == grp.getgrgid(os.getgid()).gr_name


@pytest.mark.parametrize("name", ["missing", "dangling", "passdb-1/below-a-file"])
def test_what_is_not_there_does_not_exist(files, name):
    assert mail_files_info.look(str(files / name), PARAMS) == {"path": str(files / name), "exists": False}


def test_a_directory_has_no_content(files):
    found = mail_files_info.look(str(files / "sub"), PARAMS)
    assert found["type"] == "directory"
    assert "content" not in found
    assert "checksum" not in found


def test_a_socket_is_a_socket_with_its_mode_and_no_content(tmp_path):
    path = tmp_path / "signer.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        path.chmod(0o660)
        found = mail_files_info.look(str(path), PARAMS)
    assert (found["type"], found["mode"]) == ("socket", "0660")
    assert "content" not in found


def test_content_is_only_read_when_asked(files):
    found = mail_files_info.look(str(files / "users"), PARAMS | {"content": False, "checksum": False})
    assert "content" not in found
    assert "checksum" not in found


def test_a_file_larger_than_max_size_is_refused_naming_it(files):
    with pytest.raises(ValueError, match=r"users is 6 bytes, more than max_size \(5\)"):
        mail_files_info.look(str(files / "users"), PARAMS | {"max_size": 5})


def test_glob_sorts_numbers_as_numbers_and_a_pattern_without_match_adds_nothing(files):
    paths = mail_files_info.expand([str(files / "passdb-*"), str(files / "nothing-*")], use_glob=True)
    assert [Path(path).name for path in paths] == ["passdb-1", "passdb-2", "passdb-10"]


def test_without_glob_a_pattern_is_a_name(files):
    assert mail_files_info.expand([str(files / "passdb-*")], use_glob=False) == [str(files / "passdb-*")]


def test_one_call_looks_at_every_path_in_order_and_changes_nothing(files, tmp_path):
    paths = [str(files / "passdb-*"), str(files / "users")]
    result, _ = run_module(tmp_path, "mail_files_info", {"paths": paths, "glob": True, "content": True})

    assert result["changed"] is False
    assert [Path(f["path"]).name for f in result["files"]] == ["passdb-1", "passdb-2", "passdb-10", "users"]
    assert [base64.b64decode(f["content"]).decode() for f in result["files"]][-1] == "users\n"


def test_check_mode_reads_too(files, tmp_path):
    result, _ = run_module(
        tmp_path, "mail_files_info", {"paths": [str(files / "users"), str(files / "missing")]}, "--check"
    )
    assert [f["exists"] for f in result["files"]] == [True, False]


def test_a_relative_path_is_refused_naming_it(tmp_path):
    result, _ = run_module(tmp_path, "mail_files_info", {"paths": ["etc/passwd"]})
    assert result["failed"] is True
    assert result["msg"] == "mail_files_info: paths must be absolute: 'etc/passwd' is not"
