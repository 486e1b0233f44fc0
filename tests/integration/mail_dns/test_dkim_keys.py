# SPDX-License-Identifier: MIT
"""The dkim role on the host: keys made there, readable by the signer alone and of the kind asked for; one OpenDKIM
process per algorithm on a socket only Postfix reaches, each on a configuration opendkim -n accepts; Postfix handing
every message to both. That a re-run regenerates no key is in test_rerun.py, bad input in test_bad_input.py.

The keys the lab asks for are read from its inventory (dkim_keys of each host), not from the host.
"""

from __future__ import annotations

import os

import pytest
from dns_facts import KEY_DIR, SIGNERS, SOCKET_DIR

pytestmark = pytest.mark.readonly


def test_each_private_key_is_readable_by_the_signer_alone(host, keys):
    for key in keys:
        private, public = host.file(key["private"]), host.file(key["public"])
        assert (private.user, private.group, private.mode) == ("opendkim", "opendkim", 0o600), key["private"]
        assert (public.user, public.mode) == ("root", 0o644), key["public"]
        directory = host.file(os.path.dirname(key["private"]))
        assert (directory.user, directory.group, directory.mode) == ("root", "opendkim", 0o750), directory.path
    top = host.file(KEY_DIR)
    assert (top.user, top.group, top.mode) == ("root", "opendkim", 0o750)


def test_no_key_file_is_open_to_others(host):
    private_open = host.check_output("find %s -name '*.private' -perm /077", KEY_DIR)
    writable = host.check_output("find %s -perm /022", KEY_DIR)
    assert private_open == "", f"private keys readable by group or others: {private_open}"
    assert writable == "", f"writable by group or others: {writable}"


def test_each_key_has_the_algorithm_and_size_asked_for(host, keys):
    for key in keys:
        # Only the public half is printed: the private key never leaves openssl.
        text = host.check_output("openssl pkey -in %s -pubout | openssl pkey -pubin -noout -text", key["private"])
        if key["algorithm"] == "rsa":
            assert f"Public-Key: ({key['bits']} bit)" in text, key["selector"]
        else:
            assert text.startswith("ED25519 Public-Key"), key["selector"]


def test_each_public_key_file_belongs_to_its_private_key(host, keys):
    for key in keys:
        derived = host.check_output("openssl pkey -in %s -pubout", key["private"])
        assert derived.strip() == host.file(key["public"]).content_string.strip(), key["selector"]


def test_each_signer_runs_as_opendkim_on_its_configuration_file_alone(host, keys):
    for algorithm in sorted({k["algorithm"] for k in keys if k["signing"]}):
        unit, config, _, _ = SIGNERS[algorithm]
        assert host.service(unit).is_running, unit
        assert host.service(unit).is_enabled, unit
        command = host.check_output("systemctl show -P ExecStart %s", unit)
        assert f"/usr/sbin/opendkim -x {config}" in command, command
        assert " -p " not in command, command
        assert " -u " not in command, command
        pid = host.check_output("systemctl show -P MainPID %s", unit)
        assert host.check_output("ps -o user= -p %s", pid) == "opendkim", unit


def test_the_live_configuration_passes_opendkim_check(host, keys):
    for algorithm in sorted({k["algorithm"] for k in keys if k["signing"]}):
        _, config, _, _ = SIGNERS[algorithm]
        result = host.run("opendkim -n -x %s", config)
        assert result.rc == 0, f"{config}: {result.stderr}"


def test_only_the_signers_and_postfix_reach_the_sockets(host, keys):
    connect = "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])"
    for algorithm in sorted({k["algorithm"] for k in keys if k["signing"]}):
        _, _, path, _ = SIGNERS[algorithm]
        socket_file = host.file(path)
        assert socket_file.is_socket, path
        assert (socket_file.user, socket_file.group, socket_file.mode) == ("opendkim", "postfix", 0o770), path
        assert host.run("runuser -u postfix -- python3 -c %s %s", connect, path).rc == 0, f"postfix: {path}"
        refused = host.run("runuser -u nobody -- python3 -c %s %s", connect, path)
        assert refused.rc != 0, f"nobody reached {path}"
        assert "PermissionError" in refused.stderr, refused.stderr
    directory = host.file(SOCKET_DIR)
    assert (directory.user, directory.group, directory.mode) == ("opendkim", "postfix", 0o2750)


def test_postfix_hands_every_message_to_each_signer(host, keys):
    for parameter in ("smtpd_milters", "non_smtpd_milters"):
        milters = host.check_output("postconf -h %s", parameter).replace(",", " ").split()
        for algorithm in sorted({k["algorithm"] for k in keys if k["signing"]}):
            assert SIGNERS[algorithm][3] in milters, f"{parameter} = {milters}"
    assert host.check_output("postconf -h milter_default_action") == "tempfail"
    assert host.check_output("postconf -h milter_protocol") == "6"
