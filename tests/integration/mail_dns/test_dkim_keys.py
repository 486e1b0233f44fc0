# SPDX-License-Identifier: MIT
"""The dkim role on the host: keys made there, readable by the signer alone and never regenerated; one OpenDKIM
process per algorithm on a socket only Postfix reaches, each on a configuration opendkim -n accepts; Postfix handing
every message to both; bad input refused before anything on the host changes.

The keys the scenario asks for are read from molecule's inventory (dkim_keys of each host), not from the host.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from dns_facts import inventory_keys
from harness import assert_refused, tree_state
from probes import host_name

KEY_DIR = "/etc/opendkim/keys"
SOCKET_DIR = "/var/spool/postfix/opendkim"
# One signer process per algorithm (roles/dkim/vars/main.yml): unit, configuration file, socket, Postfix address.
SIGNERS = {
    "rsa": ("opendkim.service", "/etc/opendkim.conf", f"{SOCKET_DIR}/opendkim.sock", "unix:opendkim/opendkim.sock"),
    "ed25519": (
        "opendkim-ed25519.service",
        "/etc/opendkim-ed25519.conf",
        f"{SOCKET_DIR}/opendkim-ed25519.sock",
        "unix:opendkim/opendkim-ed25519.sock",
    ),
}
# Everything the role writes that a run must leave alone when nothing changed, and a refused run always.
MANAGED = [
    "/etc/opendkim",
    "/etc/opendkim.conf",
    "/etc/opendkim-ed25519.conf",
    "/etc/default/opendkim",
    "/etc/systemd/system/opendkim.service.d",
    "/etc/systemd/system/opendkim-ed25519.service",
]


@pytest.fixture(scope="module")
def keys(host) -> list[dict]:
    """The host's present keys from the inventory, each with its file paths."""
    present = [k for k in inventory_keys(host_name(host)) if k["state"] == "present"]
    for key in present:
        base = f"{KEY_DIR}/{key['domain']}/{key['selector']}"
        key["private"], key["public"] = f"{base}.private", f"{base}.pub"
    assert present, f"{host_name(host)} has no present key in the inventory"
    return present


def signer_pids(host) -> dict[str, str]:
    return {unit: host.check_output("systemctl show -P MainPID %s", unit) for unit, *_ in SIGNERS.values()}


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


def test_a_second_run_regenerates_no_key_and_shows_none(host, keys, rerun):
    secrets = [host.file(k["private"]).content_string.splitlines()[1] for k in keys]
    run = rerun["run"]

    assert run.returncode == 0, run.output[-3000:]
    assert [t for t in run.changed_tasks() if "dkim :" in t] == []
    assert rerun["after"][host_name(host)] == rerun["before"][host_name(host)]
    shown = sum(secret in run.output for secret in secrets)  # a count: no secret in the report
    assert shown == 0, f"{shown} private key line(s) in the playbook's output"


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


# Bad input: (case, extra dkim_keys built from the host's own keys, words the error must name). The supplied key of
# the wrong type is made here, once, and searched for in the output.
WRONG_TYPE_KEY = (
    ed25519.Ed25519PrivateKey.generate()
    .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    .decode()
)


def _bad_keys(case: str, keys: list[dict]) -> list[dict]:
    entries = [{"domain": k["domain"], "selector": k["selector"], "algorithm": k["algorithm"]} for k in keys]
    rsa = next(i for i, k in enumerate(entries) if k["algorithm"] == "rsa")
    domain = entries[rsa]["domain"]
    if case == "selector with an underscore":
        return [*entries, {"domain": domain, "selector": "mx_2026"}]
    if case == "RSA key below 2048 bits":
        return [*entries, {"domain": domain, "selector": "small2026", "bits": 1024}]
    if case == "Ed25519 signing without RSA":
        return [e | {"signing": False} if e["algorithm"] == "rsa" else e for e in entries] + [
            {"domain": domain, "selector": "edonly2026", "algorithm": "ed25519"}
        ]
    if case == "the same selector twice":
        return [*entries, {"domain": domain, "selector": entries[rsa]["selector"].upper()}]
    if case == "supplied key of the wrong type":
        return [*entries, {"domain": domain, "selector": "supplied2026", "private_key": WRONG_TYPE_KEY}]
    if case == "a new size under an existing selector":
        return [e | {"bits": 3072} if i == rsa else e for i, e in enumerate(entries)]
    raise AssertionError(case)


BAD_INPUT = {
    "selector with an underscore": ["dkim_keys[", "].selector", "mx_2026", "is not a DKIM selector", "'_'"],
    "RSA key below 2048 bits": ["].bits = 1024 is too small", "RFC 8301"],
    "Ed25519 signing without RSA": ["with Ed25519 only", "RFC 8463"],
    "the same selector twice": ["repeats selector", "a selector names one key"],
    "supplied key of the wrong type": ["].private_key is an Ed25519 key, but", ".algorithm is rsa"],
    # Checked on the host, against the key there, still before anything changes.
    "a new size under an existing selector": ["asks for RSA 3072 bits", "holds RSA 2048 bits", "new selector"],
}


# Each case runs against one host, the hosts alternating: the checks stop the play before any host changes.
CASE_HOSTS = {case: ("mailfort-dns-bookworm", "mailfort-dns-trixie")[i % 2] for i, case in enumerate(BAD_INPUT)}


def _present_keys(name: str) -> list[dict]:
    return [k for k in inventory_keys(name) if k["state"] == "present"]


@pytest.fixture(scope="module")
def refused_runs(podman_host, run_playbook):
    """Every bad-input run (at once: each stops before the host changes), and both hosts' configuration, keys and
    signer processes before and after."""
    hosts = {name: podman_host(name) for name in sorted(set(CASE_HOSTS.values()))}
    before = {name: (tree_state(h, MANAGED, "KeyTable"), signer_pids(h)) for name, h in hosts.items()}
    with ThreadPoolExecutor(max_workers=len(BAD_INPUT)) as pool:
        futures = {
            case: pool.submit(
                run_playbook,
                "--limit",
                CASE_HOSTS[case],
                "-e",
                json.dumps({"dkim_keys": _bad_keys(case, _present_keys(CASE_HOSTS[case]))}),
            )
            for case in BAD_INPUT
        }
        runs = {case: future.result() for case, future in futures.items()}
    after = {name: (tree_state(h, MANAGED, "KeyTable"), signer_pids(h)) for name, h in hosts.items()}
    return before, runs, after


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_dkim_keys_are_refused_naming_the_entry_and_the_rule(case, refused_runs):
    _, runs, _ = refused_runs
    assert_refused(case, runs[case], BAD_INPUT[case])
    assert runs[case].recap.get(CASE_HOSTS[case], {}).get("changed") == 0, f"{case}: {runs[case].changed_tasks()}"


def test_a_refused_run_leaves_the_keys_configuration_and_signers_alone(refused_runs):
    before, _, after = refused_runs
    for name in before:
        assert after[name][0] == before[name][0], f"{name}: the keys or the configuration changed"
        assert after[name][1] == before[name][1], f"{name}: a signer was restarted"


def test_a_refused_supplied_key_is_never_shown(refused_runs):
    _, runs, _ = refused_runs
    body = WRONG_TYPE_KEY.splitlines()[1]
    assert all(body not in run.output for run in runs.values())
