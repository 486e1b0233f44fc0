# SPDX-License-Identifier: MIT
"""Bad input stops the play with a message that names the record, key entry or variable and the rule it broke,
before anything changes: the keys, the signers' configuration and processes, the written records and the zone on
the lab's DNS server (its serial) stay as they were. A supplied private key that is refused is never shown.

The checks run before any task touches a host (the one that compares a key with the key on the host runs before
anything is written), so each case needs one host, and one run of playbooks/mail_dns.yml (the dkim and mail_dns
roles: the quickest play that validates them) refuses two cases at once, one per MX host. Each host gets its case
as host variables from an inventory of its own given after the lab's (a later inventory's host_vars win), so that
the other host keeps the lab's values; each case's error is looked for in what its own host reported. The runs go
side by side."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from itertools import zip_longest
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from dns_facts import DKIM_MANAGED, DNS_MANAGED, inventory_keys, serial, signer_pids
from harness import assert_refused, tree_state
from lab import DOMAIN, MAIL_HOSTS, MX1, MX2

pytestmark = pytest.mark.bad_input

# Records: case -> (host, host variables, the words the error must contain). JSON keeps numbers numbers.
RECORD_CASES: dict[str, tuple[str, dict, list[str]]] = {
    "SPF over ten lookups": (
        MX1,
        {"mail_dns_spf": {"mechanisms": [f"include:_spf{i}.example.net" for i in range(11)], "all": "-all"}},
        ["mail_dns_spf", f"SPF record for {DOMAIN}", "more than 10 DNS lookups", "RFC 7208 section 4.6.4"],
    ),
    "SPF that passes everyone": (
        MX2,
        {"mail_dns_spf": {"mechanisms": ["mx"], "all": "+all"}},
        ["mail_dns_spf", f"SPF record for {DOMAIN}", "+all"],
    ),
    "invalid DMARC policy": (
        MX2,
        {"mail_dns_dmarc": {"p": "block"}},
        ["mail_dns_dmarc", f"DMARC record for {DOMAIN}", "block", "is not one of", "RFC 9989"],
    ),
    "DMARC report URI that is no mailto": (
        MX1,
        {"mail_dns_dmarc": {"p": "reject", "rua": ["https://reports.example.net/dmarc"]}},
        ["mail_dns_dmarc", "rua[0]", "must be mailto: URIs"],
    ),
    "DMARC tag removed by RFC 9989": (
        MX2,
        {"mail_dns_dmarc": {"p": "quarantine", "pct": 50}},
        ["mail_dns_dmarc", "pct", "removed by RFC 9989"],
    ),
    "MTA-STS max_age over a year": (
        MX1,
        {"mail_dns_mta_sts": {"mode": "enforce", "max_age": 40000000}},
        ["mail_dns_mta_sts", "max_age = 40000000", "RFC 8461 section 3.2"],
    ),
    "publishing without a TSIG key": (
        MX2,
        {"mail_dns_update_key_secret": ""},
        ["mail_dns_update_key_secret", "unsigned updates are never sent"],
    ),
}

# Keys: case -> (host, the words the error must name); the host's dkim_keys for each case are built from its own keys
# in the inventory (_bad_keys). The supplied key of the wrong type is made here, once, and searched for in the output.
KEY_CASES: dict[str, tuple[str, list[str]]] = {
    "selector with an underscore": (MX1, ["dkim_keys[", "].selector", "mx_2026", "is not a DKIM selector", "'_'"]),
    "RSA key below 2048 bits": (MX2, ["].bits = 1024 is too small", "RFC 8301"]),
    "Ed25519 signing without RSA": (MX1, ["with Ed25519 only", "RFC 8463"]),
    "the same selector twice": (MX2, ["repeats selector", "a selector names one key"]),
    "supplied key of the wrong type": (MX1, ["].private_key is an Ed25519 key, but", ".algorithm is rsa"]),
    # Checked on the host, against the key there, still before anything changes.
    "a new size under an existing selector": (
        MX1,
        ["asks for RSA 3072 bits", "holds RSA 2048 bits", "new selector"],
    ),
}
WRONG_TYPE_KEY = (
    ed25519.Ed25519PrivateKey.generate()
    .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    .decode()
)

CASE_HOSTS = {case: spec[0] for case, spec in {**RECORD_CASES, **KEY_CASES}.items()}
# The runs: each refuses one case per host, the hosts' cases paired in order (MX1 has one more: it runs alone).
RUNS: list[dict[str, str]] = [
    {name: case for name, case in zip(MAIL_HOSTS, pair, strict=True) if case}
    for pair in zip_longest(*([c for c, h in CASE_HOSTS.items() if h == name] for name in MAIL_HOSTS))
]


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


def case_vars(case: str) -> dict:
    """The host variables that make CASE: a record case's own, or the host's keys made bad."""
    if case in RECORD_CASES:
        return RECORD_CASES[case][1]
    present = [k for k in inventory_keys(CASE_HOSTS[case]) if k["state"] == "present"]
    return {"dkim_keys": _bad_keys(case, present)}


def case_inventory(directory: Path, run: dict[str, str]) -> Path:
    """An inventory that gives each host of RUN its case's variables (host_vars/<host>.json beside it); named after
    the lab's, it overrides the lab's values for these hosts and these variables alone."""
    (directory / "host_vars").mkdir()
    for name, case in run.items():
        (directory / "host_vars" / f"{name}.json").write_text(json.dumps(case_vars(case)))
    hosts = directory / "hosts.yml"
    hosts.write_text(json.dumps({"all": {"hosts": dict.fromkeys(run)}}))
    return hosts


def host_failure(output: str, name: str) -> str:
    """What a run reported for the host's failed tasks: every `fatal: [name]` or `failed: [name]` entry with the
    indented lines that follow it, so that one host's error is never taken for the other's."""
    entries = re.findall(rf"^(?:fatal|failed): \[{re.escape(name)}\].*(?:\n(?:[ \t].*)?)*", output, re.MULTILINE)
    return "\n".join(entries)


def _state(hosts) -> dict:
    return {
        name: {
            "records": tree_state(h, DNS_MANAGED, "/etc/opendkim/keys"),
            "keys": tree_state(h, DKIM_MANAGED, "KeyTable"),
            "signers": signer_pids(h),
        }
        for name, h in hosts.items()
    }


@pytest.fixture(scope="module")
def refused(run_playbook, podman_host, project_dir, nameserver, tmp_path_factory):
    """Every run at once (each stops before a host changes), with both hosts' managed trees and signer processes
    and the zone's serial before and after; per case, its run and its host's part of the output."""
    hosts = {name: podman_host(name) for name in MAIL_HOSTS}
    playbook = project_dir / "playbooks" / "mail_dns.yml"
    inventories = [case_inventory(tmp_path_factory.mktemp("bad-input"), run) for run in RUNS]
    before, serial_before = _state(hosts), serial(nameserver)
    with ThreadPoolExecutor(max_workers=len(RUNS)) as pool:
        results = list(
            pool.map(
                lambda run, inventory: run_playbook("-i", str(inventory), "--limit", ",".join(run), playbook=playbook),
                RUNS,
                inventories,
            )
        )
    after, serial_after = _state(hosts), serial(nameserver)
    cases = {
        case: {"run": result, "failure": host_failure(result.output, name)}
        for run, result in zip(RUNS, results, strict=True)
        for name, case in run.items()
    }
    return {"cases": cases, "runs": results, "before": before, "after": after, "serial": (serial_before, serial_after)}


def _assert_refused_on_its_host(refused: dict, case: str, words: list[str]) -> None:
    run, failure = refused["cases"][case]["run"], refused["cases"][case]["failure"]
    name = CASE_HOSTS[case]
    assert failure, f"{case}: {name} reported no failure:\n{run.output[-3000:]}"
    assert_refused(case, SimpleNamespace(returncode=run.returncode, output=failure), words)
    recap = run.recap.get(name, {})
    assert recap.get("failed") == 1, f"{case}: {name}: {recap}"
    assert recap.get("changed") == 0, f"{case}: {run.changed_tasks()}"


@pytest.mark.parametrize("case", RECORD_CASES)
def test_bad_input_is_refused_naming_the_record_and_the_rule(refused, case):
    _assert_refused_on_its_host(refused, case, RECORD_CASES[case][2])


@pytest.mark.parametrize("case", KEY_CASES)
def test_bad_dkim_keys_are_refused_naming_the_entry_and_the_rule(refused, case):
    _assert_refused_on_its_host(refused, case, KEY_CASES[case][1])


def test_a_refused_run_changes_nothing_on_the_hosts(refused):
    for name in MAIL_HOSTS:
        assert refused["after"][name]["records"] == refused["before"][name]["records"], name


def test_a_refused_run_leaves_the_keys_configuration_and_signers_alone(refused):
    for name in MAIL_HOSTS:
        before, after = refused["before"][name], refused["after"][name]
        assert after["keys"] == before["keys"], f"{name}: the keys or the configuration changed"
        assert after["signers"] == before["signers"], f"{name}: a signer was restarted"


def test_a_refused_run_sends_nothing_to_the_dns_server(refused):
    before, after = refused["serial"]

    assert after == before


def test_a_refused_supplied_key_is_never_shown(refused):
    body = WRONG_TYPE_KEY.splitlines()[1]
    assert all(body not in run.output for run in refused["runs"])
