# SPDX-License-Identifier: MIT
"""The audit's evidence lookups for OpenDKIM's settings and nftables' sets (plugins/plugin_utils/audit_evidence.py), and
the host's activity (plugins/plugin_utils/audit.py), on evidence written by hand; then the catalogue's DKIM and firewall
checks templated as the mail_audit action templates them, judged against OpenDKIM configurations rendered from the dkim
role's own templates and nft's listing of the sets the mail_firewall role fills: the role's output passes, a hand edit
fails."""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.mailfort.mail.plugins.action import mail_audit
from ansible_collections.mailfort.mail.plugins.module_utils import opendkim_conf
from ansible_collections.mailfort.mail.plugins.plugin_utils import audit, audit_evidence
from hypothesis import given, settings
from hypothesis import strategies as st
from mail_net import mail_net_allowlist

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = yaml.safe_load((ROOT / "controls.yml").read_text())["controls"]


def _set(name: str, family: str, *elements, **extra) -> dict:
    found = {"family": "inet", "name": name, "table": "mailfort", "type": f"{family}_addr", **extra}
    return {"set": found | ({"elem": list(elements)} if elements else {})}


NFT = [
    {"table": {"family": "inet", "name": "mailfort"}},
    _set("allow_admin_v4", "ipv4", "198.51.100.1", "198.51.100.5", flags=["interval"], **{"auto-merge": True}),
    _set("allow_admin_v6", "ipv6", {"prefix": {"addr": "2001:db8:1::", "len": 48}}, flags=["interval"]),
    # auto-merge joins adjacent intervals, and nft lists what is no prefix as a range.
    _set("rate_exempt_v4", "ipv4", {"range": ["192.0.2.1", "192.0.2.3"]}, {"prefix": {"addr": "10.0.0.0", "len": 8}}),
    _set("rate_exempt_v6", "ipv6"),
    _set("ban_sshd_v4", "ipv4", "203.0.113.9"),
    # A meter: dynamic elements with their timeouts.
    _set("flood_v4", "ipv4", {"elem": {"val": "203.0.113.7", "timeout": 60, "expires": 41}}, flags=["dynamic"]),
    {"set": {"family": "inet", "name": "ports", "table": "mailfort", "type": "inet_service", "elem": [587, 25]}},
]


def test_nft_sets_give_each_address_set_as_collapsed_cidrs_in_address_order():
    sets = audit_evidence.nft_sets(NFT)
    assert sets["allow_admin_v4"] == ["198.51.100.1/32", "198.51.100.5/32"]
    assert sets["allow_admin_v6"] == ["2001:db8:1::/48"]
    assert sets["rate_exempt_v4"] == ["10.0.0.0/8", "192.0.2.1/32", "192.0.2.2/31"]
    assert sets["rate_exempt_v6"] == []
    assert sets["flood_v4"] == ["203.0.113.7/32"]
    assert sets["ports"] == ["25", "587"]
    assert audit_evidence.nft_sets(None) == {}
    assert audit_evidence.nft_summary(NFT)["sets"] == sets


def _as_nft_lists(networks: list[ipaddress.IPv4Network]) -> list:
    """NETWORKS as nft lists an interval set with auto-merge: adjacent or overlapping intervals joined, each shown
    as an address, a prefix or a range."""
    merged: list[list[int]] = []
    for network in sorted(networks, key=lambda n: int(n.network_address)):
        first, last = int(network.network_address), int(network.broadcast_address)
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    shown: list = []
    for first, last in merged:
        blocks = list(ipaddress.summarize_address_range(ipaddress.IPv4Address(first), ipaddress.IPv4Address(last)))
        if len(blocks) > 1:
            shown.append({"range": [str(ipaddress.IPv4Address(first)), str(ipaddress.IPv4Address(last))]})
        elif blocks[0].prefixlen == 32:
            shown.append(str(blocks[0].network_address))
        else:
            shown.append({"prefix": {"addr": str(blocks[0].network_address), "len": blocks[0].prefixlen}})
    return shown


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**12 - 1), st.integers(20, 32)), max_size=12))
def test_a_set_nft_filled_from_an_allowlist_reads_back_as_mail_net_allowlist_gives_it(entries):
    networks = [ipaddress.ip_network((0xC0000000 + (value << 8), length), strict=False) for value, length in entries]
    allowlist = mail_net_allowlist([str(network) for network in networks], "allowlist")
    listed = [_set("allow_x_v4", "ipv4", *_as_nft_lists(networks), flags=["interval"])]
    assert audit_evidence.nft_sets(listed)["allow_x_v4"] == allowlist["ipv4"]


EVIDENCE = {"nft": NFT, "nft_summary": audit_evidence.nft_summary(NFT)}


@pytest.mark.parametrize(
    ("check", "what", "passed"),
    [
        (
            {"nft_set": "allow_admin_v4", "equals": ["198.51.100.1/32", "198.51.100.5/32"]},
            "nft set allow_admin_v4",
            True,
        ),
        ({"nft_set": "allow_admin_v4", "equals": ["198.51.100.1/32"]}, "nft set allow_admin_v4", False),
        ({"nft_set": "allow_admin_v4", "superset_of": ["198.51.100.5/32"]}, "nft set allow_admin_v4", True),
        (
            {
                "nft_set": ["allow_admin_v4", "allow_admin_v6"],
                "equals": {
                    "allow_admin_v6": ["2001:db8:1::/48"],
                    "allow_admin_v4": ["198.51.100.1/32", "198.51.100.5/32"],
                },
            },
            "nft sets allow_admin_v4, allow_admin_v6",
            True,
        ),
        ({"nft_set": ["allow_admin_v4", "allow_admin_v6"], "field": "count", "at_most": 2}, None, False),
        ({"nft_set": ["allow_admin_v4", "allow_admin_v6"], "field": "count", "at_most": 3}, None, True),
        ({"nft_set": "allow_submission_v4", "equals": []}, "nft set allow_submission_v4", False),
    ],
)
def test_nft_set_evidence_is_a_set_its_sets_or_their_count(check, what, passed):
    line = audit.evaluate_check(check, EVIDENCE)
    assert line["passed"] is passed, line
    if what:
        assert line["what"] == what


def test_a_missing_set_or_table_is_absent():
    assert audit.evaluate_check({"nft_set": "allow_submission_v4", "equals": []}, EVIDENCE)["seen"] == "absent"
    line = audit.evaluate_check({"nft_set": ["allow_admin_v4", "allow_x_v6"], "equals": {}}, EVIDENCE)
    assert (line["what"], line["seen"]) == ("nft set allow_x_v6", "absent")
    line = audit.evaluate_check({"nft_set": "allow_admin_v4", "equals": []}, {"nft": None})
    assert (line["what"], line["seen"]) == ("nft table", "absent")


OPENDKIM = {
    "/etc/opendkim.conf": {
        "exists": True,
        "files": ["/etc/opendkim.conf"],
        "settings": {"Mode": "s", "umask": "0007", "InternalHosts": "file:/etc/opendkim/TrustedHosts"},
        "hosts": {"InternalHosts": ["127.0.0.1", "::1"]},
    },
    "/etc/opendkim-ed25519.conf": {
        "exists": True,
        "files": ["/etc/opendkim-ed25519.conf"],
        "settings": {"Mode": "sv", "UMask": "0002"},
        "hosts": {},
    },
    "/etc/opendkim-broken.conf": {"exists": True, "files": [], "error": "Include nested more than 5 deep at x"},
}


@pytest.mark.parametrize(
    ("check", "seen", "passed"),
    [
        ({"opendkim": "/etc/opendkim.conf", "field": "Mode", "equals": "s"}, "s", True),
        ({"opendkim": "/etc/opendkim.conf", "field": "mode", "equals": "s"}, "s", True),
        ({"opendkim": "/etc/opendkim.conf", "field": "UMask", "equals": "0007"}, "0007", True),
        ({"opendkim": "/etc/opendkim-ed25519.conf", "field": "UMask", "equals": "0007"}, "0002", False),
        ({"opendkim": "/etc/opendkim.conf", "field": "Socket", "equals": "local:x"}, "absent", False),
        (
            {"opendkim": "/etc/opendkim.conf", "field": "InternalHosts.hosts", "subset_of": ["127.0.0.1", "::1"]},
            "['127.0.0.1', '::1']",
            True,
        ),
        (
            {"opendkim": "/etc/opendkim.conf", "field": "InternalHosts.hosts", "superset_of": ["192.0.2.0/24"]},
            "['127.0.0.1', '::1']",
            False,
        ),
        ({"opendkim": "/etc/opendkim-ed25519.conf", "field": "InternalHosts.hosts", "equals": []}, "absent", False),
        ({"opendkim": "/etc/opendkim.conf", "excludes": ["KeyFile"]}, "['InternalHosts', 'Mode', 'umask']", True),
        ({"opendkim": "/etc/opendkim-none.conf", "field": "Mode", "equals": "s"}, "absent", False),
        (
            {"opendkim": "/etc/opendkim-broken.conf", "field": "Mode", "equals": "s"},
            "Include nested more than 5 deep at x",
            False,
        ),
    ],
)
def test_opendkim_evidence_is_a_setting_as_opendkim_reads_it(check, seen, passed):
    line = audit.evaluate_check(check, {"opendkim": OPENDKIM})
    assert (line["seen"], line["passed"]) == (seen, passed), line


def test_a_list_of_opendkim_configurations_is_one_check_each():
    checks = audit.expand_checks(
        [{"opendkim": ["/etc/opendkim.conf", "/etc/opendkim-ed25519.conf"], "field": "Mode", "equals": "s"}]
    )
    lines = [audit.evaluate_check(check, {"opendkim": OPENDKIM}) for check in checks]
    assert [(line["what"], line["passed"]) for line in lines] == [
        ("OpenDKIM /etc/opendkim.conf Mode", True),
        ("OpenDKIM /etc/opendkim-ed25519.conf Mode", False),
    ]


def test_the_action_asks_the_module_for_the_opendkim_configurations_and_the_table_the_checks_name():
    checks = audit.expand_checks(
        [
            {"opendkim": ["/etc/opendkim.conf", "/etc/opendkim-ed25519.conf"], "field": "Mode", "equals": "s"},
            {"opendkim": "/etc/opendkim.conf", "field": "UMask", "equals": "0007"},
            {"nft_set": "allow_admin_v4", "equals": []},
        ]
    )
    needs = mail_audit.needs_of(checks)
    assert needs["opendkim"] == ["/etc/opendkim-ed25519.conf", "/etc/opendkim.conf"]
    assert needs["nft_table"] is True
    assert mail_audit.needs_of([{"opendkim": "/etc/opendkim.conf", "equals": "s"}]).get("nft_table") is None


def test_activity_is_the_journals_events_then_each_certificates_days_left():
    evidence = {
        "journal": {"failed_login": {"count": 2, "sources": {"192.0.2.7": 2}}},
        "certificates": {
            "/etc/ssl/mailfort/rsa.crt": {"exists": True, "days_left": 57, "not_after": "2027-01-28T00:00:00+00:00"},
            "/etc/ssl/mailfort/ca.crt": {"exists": True, "days_left": 3600, "not_after": "2036-10-10T00:00:00+00:00"},
            "/etc/ssl/mailfort/none.crt": {"exists": False},
            "/etc/ssl/mailfort/bad.crt": {"exists": True, "error": "not a PEM certificate"},
        },
    }
    found = audit.activity(evidence)
    assert list(found) == [
        "failed_login",
        "certificate_days_left:/etc/ssl/mailfort/ca.crt",
        "certificate_days_left:/etc/ssl/mailfort/rsa.crt",
    ]
    # Every entry has an event's shape (count, sources), which every report format shows.
    assert found["certificate_days_left:/etc/ssl/mailfort/rsa.crt"] == {
        "count": 57,
        "sources": {},
        "days_left": 57,
        "not_after": "2027-01-28T00:00:00+00:00",
    }
    assert audit.activity({}) == {}


def test_activity_ends_with_pending_security_updates_and_a_reboot_an_update_asked_for():
    evidence = {
        "journal": {"failed_login": {"count": 0, "sources": {}}},
        "updates": {
            "origins": [],
            "security_pending": ["libssl3", "openssl"],
            "reboot_required": True,
            "reboot_packages": ["libc6"],
        },
    }
    found = audit.activity(evidence)
    assert list(found) == ["failed_login", "security_updates_pending", "reboot_required"]
    assert found["security_updates_pending"] == {"count": 2, "sources": {}, "detail": "libssl3, openssl"}
    assert found["reboot_required"] == {"count": 1, "sources": {}, "detail": "libc6"}
    quiet = audit.activity({"updates": {"security_pending": [], "reboot_required": False, "reboot_packages": []}})
    assert quiet == {
        "security_updates_pending": {"count": 0, "sources": {}, "detail": ""},
        "reboot_required": {"count": 0, "sources": {}, "detail": ""},
    }


# --- the catalogue's checks, templated as the mail_audit action templates them ------------------------------------

# A host as the lab's mx1 has it: both signers, internal hosts, the admin and a submission allowlist, a service of
# its own open to a monitoring network, sources the meters exempt. Strings are templates, as in an inventory.
HOST = {
    "inventory_hostname": "mx1",
    "dkim_keys": [
        {"domain": "lab.example", "selector": "mx1r2026"},
        {"domain": "lab.example", "selector": "mx1e2026", "algorithm": "ed25519"},
    ],
    "dkim_internal_hosts": ["192.0.2.0/24", "2001:db8:5::/48"],
    "postfix_hardening_milters": ["{{ dkim_postfix_milter }}"],
    "mail_firewall_admin_allowlist": ["198.51.100.5", "2001:db8:1::/48"],
    "mail_firewall_controller_address": "198.51.100.1",
    "mail_firewall_submission_open": False,
    "mail_firewall_submission_allowlist": ["203.0.113.0/25", "203.0.113.128/25"],
    "mail_firewall_extra_services": [
        {"name": "mta_sts_web", "ports": [443], "proto": "tcp", "sources": "any"},
        {"name": "metrics", "ports": [9100], "sources": ["192.0.2.10", "2001:db8:9::/48"]},
    ],
    "mail_firewall_rate_limit_exempt": ["198.51.100.5", "{{ mail_firewall_controller_address }}"],
}
# nft's listing of the sets the role filled from HOST.
HOST_SETS = [
    _set("allow_admin_v4", "ipv4", "198.51.100.1", "198.51.100.5", flags=["interval"]),
    _set("allow_admin_v6", "ipv6", {"prefix": {"addr": "2001:db8:1::", "len": 48}}, flags=["interval"]),
    _set("allow_submission_v4", "ipv4", {"prefix": {"addr": "203.0.113.0", "len": 24}}, flags=["interval"]),
    _set("allow_submission_v6", "ipv6", flags=["interval"]),
    _set("allow_metrics_v4", "ipv4", "192.0.2.10", flags=["interval"]),
    _set("allow_metrics_v6", "ipv6", {"prefix": {"addr": "2001:db8:9::", "len": 48}}, flags=["interval"]),
    _set("rate_exempt_v4", "ipv4", "198.51.100.1", "198.51.100.5", flags=["interval"]),
    _set("rate_exempt_v6", "ipv6", flags=["interval"]),
]
# Run in a process of its own: Ansible's collection loader must import the collection itself, which this process has
# already imported as a plain package. It prints the checks of the controls named, as the mail_audit action makes
# them for the host (role defaults < host < role vars, templated), and each running signer's configuration and the
# host list as the dkim role renders them from its templates.
TEMPLATING = """
import json, sys
from pathlib import Path
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
root = Path(sys.argv[1])
_AnsibleCollectionFinder(paths=[str(root / "collections")])._install()
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible_collections.mailfort.mail.plugins.action import mail_audit as action
from ansible_collections.mailfort.mail.plugins.action import mail_audit
from ansible_collections.mailfort.mail.plugins.plugin_utils import audit
host, wanted = json.loads(sys.argv[2]), json.loads(sys.argv[3])
catalogue = [c for c in action.load_yaml(root / "controls.yml")["controls"] if c["id"] in wanted]

def templar(variables):
    return Templar(loader=DataLoader(), variables=action.trusted(variables))

def render(variables, text):
    return templar(variables).template(trust_as_template(text))

roles = sorted({c["role"] for c in catalogue})
layered = action.ActionModule._host_variables(None, host, roles)
judged = action.ActionModule._definitions(None, catalogue, templar(layered))
variables = action.ActionModule._host_variables(None, host | {"ansible_managed": "Ansible managed"}, ["dkim"])
templates = root / "roles" / "dkim" / "templates" / "etc"
internal = render(variables, "{{ dkim_internal_hosts | mailfort.mail.mail_net_cidrs('dkim_internal_hosts') }}")
signers = render(variables, "{{ __dkim_signers | mailfort.mail.mail_dkim_signers(dkim_keys"
                            " | mailfort.mail.mail_dkim_keys(dkim_key_dir)) | selectattr('active') | list }}")
print(json.dumps({
    "checks": {c["id"]: audit.expand_checks(d["checks"]) for c, d in judged},
    "trusted_hosts": render(variables | {"__dkim_internal_networks": internal},
                            (templates / "opendkim" / "TrustedHosts.j2").read_text()),
    "configs": {s["config"]: render(variables | {"__dkim_signer": s, "__dkim_table_dir": "/etc/opendkim"},
                                    (templates / "opendkim.conf.j2").read_text()) for s in signers},
}))
"""
JUDGED = ("DKIM-01", "DKIM-02", "DKIM-03", "DKIM-04", "FW-02", "FW-03", "FW-04")


@functools.cache
def _templated(host: str) -> dict:
    """TEMPLATING's output for HOST (JSON)."""
    ran = subprocess.run(
        [sys.executable, "-c", TEMPLATING, str(ROOT), host, json.dumps(JUDGED)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    return json.loads(ran.stdout)


def _judged_checks(host: dict) -> dict[str, list[dict]]:
    return copy.deepcopy(_templated(json.dumps(host, sort_keys=True))["checks"])


def _rendered_opendkim(host: dict, tmp_path: Path) -> dict:
    """Each running signer's configuration as the dkim role renders it, read as mail_audit_facts reads it, with the
    host list the role renders (its TrustedHosts)."""
    templated = _templated(json.dumps(host, sort_keys=True))
    hosts_file = tmp_path / "TrustedHosts"
    hosts_file.write_text(templated["trusted_hosts"])
    found = {}
    for config, text in templated["configs"].items():
        local = tmp_path / Path(config).name
        local.write_text(text)
        found[config] = opendkim_conf.read_opendkim(str(local)) | {
            "hosts": {"InternalHosts": opendkim_conf.host_list(f"file:{hosts_file}")}
        }
    return found


def _host_evidence(host: dict, tmp_path: Path, sets: list) -> dict:
    milters = "unix:opendkim/opendkim.sock, unix:opendkim/opendkim-ed25519.sock"
    nft = [{"table": {"family": "inet", "name": "mailfort"}}, *sets]
    return {
        "opendkim": _rendered_opendkim(host, tmp_path),
        "nft": nft,
        "nft_summary": audit_evidence.nft_summary(nft),
        "postconf": {"smtpd_milters": milters, "non_smtpd_milters": milters},
        "units": {"opendkim-ed25519.service": {"active": "active", "enabled": "enabled"}},
    }


def _judge(checks: dict[str, list[dict]], evidence: dict) -> dict[str, list[dict]]:
    """The lines of the checks this evidence is about (OpenDKIM's settings, nft's sets, the milters, the signer's
    unit), per control."""
    about = {"opendkim", "nft_set"}
    return {
        control: [
            audit.evaluate_check(check, evidence)
            for check in found
            if about & set(check)
            or (check.get("postconf") in ("smtpd_milters", "non_smtpd_milters") and "contains" in check)
            or check.get("unit") == "opendkim-ed25519.service"
        ]
        for control, found in checks.items()
    }


def test_the_catalogue_judges_what_the_dkim_and_firewall_roles_make_as_passing(tmp_path):
    checks = _judged_checks(HOST)
    lines = _judge(checks, _host_evidence(HOST, tmp_path, HOST_SETS))
    failed = {control: [line for line in found if not line["passed"]] for control, found in lines.items()}
    assert not any(failed.values()), failed
    # Every control judges OpenDKIM's own settings or nft's sets now, for both signers.
    assert {control: len(found) for control, found in lines.items()} == {
        "DKIM-01": 15,
        "DKIM-02": 4,
        "DKIM-03": 4,
        "DKIM-04": 6,
        "FW-02": 2,
        "FW-03": 4,
        "FW-04": 2,
    }
    seen = {line["what"]: line["seen"] for found in lines.values() for line in found}
    assert (
        seen["OpenDKIM /etc/opendkim-ed25519.conf Socket"] == "local:/var/spool/postfix/opendkim/opendkim-ed25519.sock"
    )
    assert (
        seen["OpenDKIM /etc/opendkim.conf InternalHosts entries"]
        == "['127.0.0.1', '::1', '192.0.2.0/24', '2001:db8:5::/48']"
    )


def _replace_set(sets: list, name: str, *elements) -> list:
    return [_set(name, item["set"]["type"][:4], *elements) if item["set"]["name"] == name else item for item in sets]


@pytest.mark.parametrize(
    ("control", "sets"),
    [
        # An address added by hand to the admin allowlist, to the submission allowlist, to a service's own.
        ("FW-02", _replace_set(HOST_SETS, "allow_admin_v4", "198.51.100.1", "198.51.100.5", "203.0.113.66")),
        ("FW-03", _replace_set(HOST_SETS, "allow_submission_v6", {"prefix": {"addr": "2001:db8:66::", "len": 48}})),
        ("FW-03", _replace_set(HOST_SETS, "allow_metrics_v4", "192.0.2.10", "192.0.2.66")),
        # An exemption from the meters added by hand, and one taken away.
        ("FW-04", _replace_set(HOST_SETS, "rate_exempt_v4", "198.51.100.1", "198.51.100.5", "203.0.113.66")),
        ("FW-04", _replace_set(HOST_SETS, "rate_exempt_v4", "198.51.100.1")),
    ],
)
def test_a_set_edited_by_hand_fails_its_control_alone(tmp_path, control, sets):
    lines = _judge(_judged_checks(HOST), _host_evidence(HOST, tmp_path, sets))
    assert {name for name, found in lines.items() if any(not line["passed"] for line in found)} == {control}


@pytest.mark.parametrize(
    ("edit", "control", "what"),
    [
        ("Mode s\nMode sv", "DKIM-01", "OpenDKIM /etc/opendkim.conf Mode"),
        ("Canonicalization        relaxed/relaxed", "DKIM-01", "OpenDKIM /etc/opendkim.conf Canonicalization"),
        ("SubDomains              no\nSubDomains yes", "DKIM-01", "OpenDKIM /etc/opendkim.conf SubDomains"),
        ("InternalHosts           file:/etc/opendkim/TrustedHosts\nInternalHosts 0.0.0.0/0", "DKIM-02", None),
        ("RequireSafeKeys         yes\nRequireSafeKeys false", "DKIM-03", None),
        ("UMask                   007\nUMask 002", "DKIM-04", "OpenDKIM /etc/opendkim.conf UMask"),
        (
            "Socket                  local:/var/spool/postfix/opendkim/opendkim.sock\nSocket inet:8891@[0.0.0.0]",
            "DKIM-04",
            "OpenDKIM /etc/opendkim.conf Socket",
        ),
    ],
)
def test_an_opendkim_setting_edited_by_hand_fails_its_control(tmp_path, edit, control, what):
    checks = _judged_checks(HOST)
    evidence = _host_evidence(HOST, tmp_path, HOST_SETS)
    config = tmp_path / "opendkim.conf"
    original, _, added = edit.partition("\n")
    text = config.read_text()
    assert original.split()[0] in text
    config.write_text(text + added + "\n" if added else "\n".join(x for x in text.splitlines() if x != original))
    evidence["opendkim"]["/etc/opendkim.conf"] = opendkim_conf.read_opendkim(str(config)) | {
        "hosts": evidence["opendkim"]["/etc/opendkim.conf"]["hosts"]
    }
    failed = {
        name: [line["what"] for line in found if not line["passed"]]
        for name, found in _judge(checks, evidence).items()
        if any(not line["passed"] for line in found)
    }
    assert set(failed) == {control}, failed
    if what:
        assert failed[control] == [what]


def test_a_host_added_to_trustedhosts_by_hand_fails_dkim_02(tmp_path):
    checks = _judged_checks(HOST)
    evidence = _host_evidence(HOST, tmp_path, HOST_SETS)
    evidence["opendkim"]["/etc/opendkim.conf"]["hosts"]["InternalHosts"].append("10.0.0.0/8")
    lines = _judge(checks, evidence)["DKIM-02"]
    assert [line["what"] for line in lines if not line["passed"]] == [
        "OpenDKIM /etc/opendkim.conf InternalHosts entries"
    ]


def test_without_the_controllers_address_the_admin_sets_may_hold_one_entry_more(tmp_path):
    host = HOST | {"mail_firewall_controller_address": "", "mail_firewall_rate_limit_exempt": ["198.51.100.5"]}
    checks = _judged_checks(host)
    sets = _replace_set(HOST_SETS, "rate_exempt_v4", "198.51.100.5")
    lines = _judge(checks, _host_evidence(host, tmp_path, sets))["FW-02"]
    assert [line["what"] for line in lines] == [
        "the admin allowlist's IPv4 set holds mail_firewall_admin_allowlist",
        "the admin allowlist's IPv6 set holds mail_firewall_admin_allowlist",
        "entries of the admin allowlist sets: mail_firewall_admin_allowlist's and one for the controller, whose "
        "address the audit does not know (mail_firewall_controller_address)",
    ]
    assert all(line["passed"] for line in lines), lines
    # A second address beyond the allowlist is one too many.
    sets = _replace_set(sets, "allow_admin_v4", "198.51.100.1", "198.51.100.5", "203.0.113.66")
    lines = _judge(checks, _host_evidence(host, tmp_path, sets))["FW-02"]
    assert [line["passed"] for line in lines] == [True, True, False]


RESOLVER = {
    "resolver": {
        "nameservers": ["127.0.0.1"],
        "postfix_nameservers": ["127.0.0.1", "192.0.2.53"],
        "interface": ["127.0.0.1"],
        "module-config": "validator iterator",
        "auto-trust-anchor-file": "",
    }
}


@pytest.mark.parametrize(
    ("check", "what", "passed"),
    [
        ({"resolver": "nameservers", "equals": ["127.0.0.1"]}, "/etc/resolv.conf nameservers", True),
        ({"resolver": "postfix_nameservers", "equals": ["127.0.0.1"]}, "Postfix's chroot nameservers", False),
        ({"resolver": "interface", "equals": ["127.0.0.1"]}, "unbound interface", True),
        ({"resolver": "module-config", "matches": "^validator "}, "unbound module-config", True),
        ({"resolver": "auto-trust-anchor-file", "equals": "/var/lib/unbound/root.key"}, None, False),
    ],
)
def test_resolver_evidence_is_whom_the_host_asks_and_what_unbound_reads(check, what, passed):
    line = audit.evaluate_check(check, RESOLVER)
    assert line["passed"] is passed, line
    if what:
        assert line["what"] == what


def test_resolver_evidence_of_a_host_without_it_is_absent():
    assert audit.evaluate_check({"resolver": "interface", "equals": ["127.0.0.1"]}, {})["seen"] == "absent"
    line = audit.evaluate_check({"resolver": "nameservers", "equals": []}, {"resolver": {"nameservers": None}})
    assert line["seen"] == "absent"
