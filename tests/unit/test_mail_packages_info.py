# SPDX-License-Identifier: MIT
"""mailfort.mail.mail_packages_info: which Debian packages dpkg has fully installed, in one call."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from module_play import load_module, run_module

mail_packages_info = load_module("mail_packages_info")

# What dpkg-query prints with the module's format: one line per package it knows, in its own order.
DPKG_OUTPUT = "\n".join(
    [
        "postfix\tpostfix\tii \t3.7.11-0+deb12u1",
        "libc6\tlibc6:amd64\thi \t2.36-9+deb12u10",
        "opendkim\topendkim\trc \t2.11.0~beta2-8",
        "dovecot-core\tdovecot-core\tiU \t1:2.3.19.1+dfsg1-2.1",
        "fail2ban\tfail2ban\tiiR\t1.0.1-1",
        "not a line of the format",
        "",
    ]
)


def test_installed_and_held_packages_count_and_the_rest_are_missing_in_order():
    names = ["opendkim", "postfix", "nftables", "libc6:amd64", "dovecot-core", "fail2ban", "nftables"]
    installed, missing = mail_packages_info.parse(DPKG_OUTPUT, names)

    assert installed == {"postfix": "3.7.11-0+deb12u1", "libc6:amd64": "2.36-9+deb12u10"}
    # removed with its configuration left, unpacked only, flagged for reinstall, unknown: each once, in order
    assert missing == ["opendkim", "nftables", "dovecot-core", "fail2ban"]


def test_a_name_matches_with_or_without_its_architecture():
    installed, missing = mail_packages_info.parse(DPKG_OUTPUT, ["libc6", "libc6:amd64"])
    assert (list(installed), missing) == (["libc6", "libc6:amd64"], [])


@pytest.mark.parametrize("name", ["postfix=3.7", "Postfix", "post*", "", "a", "postfix -y", 3])
def test_what_is_not_a_package_name_is_refused(name):
    assert mail_packages_info.bad_names(["postfix", name]) == [name]


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg (a Debian machine)")
def test_dpkg_answers_for_an_installed_and_an_unknown_package_in_check_mode_too(tmp_path):
    version = subprocess.run(
        ["dpkg-query", "--show", "--showformat=${Version}", "dpkg"], capture_output=True, text=True, check=True
    ).stdout
    for args in ((), ("--check",)):
        result, _ = run_module(tmp_path, "mail_packages_info", {"names": ["mailfort-no-such-package", "dpkg"]}, *args)
        assert result["changed"] is False
        assert result["installed"] == {"dpkg": version}
        assert result["missing"] == ["mailfort-no-such-package"]


def test_a_bad_name_fails_naming_it_and_the_rule(tmp_path):
    result, _ = run_module(tmp_path, "mail_packages_info", {"names": ["dpkg", "postfix=3.7"]})
    assert result["failed"] is True
    assert result["msg"].startswith("mail_packages_info: 'postfix=3.7' is not a Debian package name")
