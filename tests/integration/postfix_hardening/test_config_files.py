# SPDX-License-Identifier: MIT
"""The live configuration: what Postfix itself says about it, that it is the candidate the role checked, who may
change it, no password anywhere in it, and Postfix running on it with the three ports open."""

from __future__ import annotations

import shlex

import pytest
from harness import files_holding_secrets
from lab import CREDENTIALS
from postfix_facts import (
    CANDIDATE_DIR,
    CONFIG_DIR,
    MANAGED_FILES,
    SMTP_PORT,
    SUBMISSION_PORT,
    SUBMISSIONS_PORT,
    postfix_check,
)
from probes import host_name, port_states

pytestmark = pytest.mark.readonly


def test_postfix_check_finds_nothing(host):
    """Run with a terminal: Postfix 3.7 reports what `postfix check` finds only to syslog otherwise."""
    result = postfix_check(host)
    assert result.rc == 0, f"{host_name(host)}: postfix check failed: {result.stdout}{result.stderr}"
    assert not (result.stdout + result.stderr).strip(), f"{host_name(host)}: postfix check: {result.stdout}"


def test_postconf_has_no_warning_about_parameters_or_services(host):
    for directory in (CONFIG_DIR, CANDIDATE_DIR):
        for option in ("-n", "-M"):
            result = host.run("postconf -c %s %s", directory, option)
            assert result.rc == 0, f"{host_name(host)}: postconf -c {directory} {option}: {result.stderr}"
            assert not result.stderr, f"{host_name(host)}: postconf -c {directory} {option} warns: {result.stderr}"
            assert result.stdout.strip(), f"{host_name(host)}: postconf -c {directory} {option} printed nothing"


def _listing(host, command: str, paths: list[str]) -> dict[str, str]:
    """One command over many paths, in one round trip: path -> what the command printed for it."""
    output = host.check_output(f"{command} " + " ".join(shlex.quote(p) for p in paths))
    return {path: rest for rest, path in (line.rsplit(" ", 1) for line in output.splitlines())}


def test_live_files_are_the_checked_candidate(host):
    live = [f"{CONFIG_DIR}/{name}" for name in MANAGED_FILES]
    candidate = [f"{CANDIDATE_DIR}/{name}" for name in MANAGED_FILES]
    digests = {path: digest.strip() for path, digest in _listing(host, "sha256sum", live + candidate).items()}
    differ = [name for name, a, b in zip(MANAGED_FILES, live, candidate, strict=True) if digests[a] != digests[b]]
    assert not differ, f"{host_name(host)}: live files that are not the checked candidate: {differ}"


def test_managed_files_belong_to_root_and_only_root_writes_them(host):
    files = [f"{directory}/{name}" for directory in (CONFIG_DIR, CANDIDATE_DIR) for name in MANAGED_FILES]
    directories = [CONFIG_DIR, f"{CONFIG_DIR}/mailfort", f"{CANDIDATE_DIR}/mailfort"]
    seen = _listing(host, "stat -c '%F %U:%G %a %n'", [*files, *directories, CANDIDATE_DIR])
    expected = {
        **dict.fromkeys(files, "regular file root:root 644"),
        **dict.fromkeys(directories, "directory root:root 755"),
        # mail_config builds the candidate in a directory only root may enter
        CANDIDATE_DIR: "directory root:root 700",
    }
    wrong = {path: seen.get(path, "missing") for path, want in expected.items() if seen.get(path) != want}
    assert not wrong, f"{host_name(host)}: {wrong}"


def test_no_lab_password_in_any_file_under_etc_postfix(host):
    """Postfix asks Dovecot about logins and needs no password at all; many of its files are world-readable."""
    found = files_holding_secrets(host, CREDENTIALS, CONFIG_DIR)
    assert not found, f"{host_name(host)}: plaintext passwords in files: {found}"


def test_postfix_runs_now_and_at_boot(host):
    service = host.service("postfix")
    assert service.is_running
    assert service.is_enabled


def test_client_finds_the_three_smtp_ports_open(host, client):
    """Through the host's firewall (default drop), which opens what Postfix listens on."""
    ports = (SMTP_PORT, SUBMISSIONS_PORT, SUBMISSION_PORT)
    assert port_states(client, host, ports) == dict.fromkeys(ports, "open")
