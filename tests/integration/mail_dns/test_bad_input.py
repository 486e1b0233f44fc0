# SPDX-License-Identifier: MIT
"""Bad input stops the play with a message that names the record (or variable) and the rule it broke, before
anything changes: the keys, the signer's configuration, the written records and the zone on the lab's DNS server
(its serial) stay as they were.

The checks run before any task touches a host, so one host per case is enough (the cases alternate) and the cases
run side by side, each a play that fails within seconds."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from dns_facts import DOMAIN, serial
from harness import assert_refused, tree_state

BOOKWORM, TRIXIE = "mailfort-dns-bookworm", "mailfort-dns-trixie"
MANAGED = ["/etc/opendkim", "/etc/mailfort/dns", "/var/www/mta-sts"]

# case: (host, extra vars as JSON, so that numbers stay numbers, and the words the error must contain)
CASES: dict[str, tuple[str, dict, list[str]]] = {
    "SPF over ten lookups": (
        BOOKWORM,
        {"mail_dns_spf": {"mechanisms": [f"include:_spf{i}.example.net" for i in range(11)], "all": "-all"}},
        ["mail_dns_spf", f"SPF record for {DOMAIN}", "more than 10 DNS lookups", "RFC 7208 section 4.6.4"],
    ),
    "SPF that passes everyone": (
        TRIXIE,
        {"mail_dns_spf": {"mechanisms": ["mx"], "all": "+all"}},
        ["mail_dns_spf", f"SPF record for {DOMAIN}", "+all"],
    ),
    "invalid DMARC policy": (
        TRIXIE,
        {"mail_dns_dmarc": {"p": "block"}},
        ["mail_dns_dmarc", f"DMARC record for {DOMAIN}", "block", "is not one of", "RFC 9989"],
    ),
    "DMARC report URI that is no mailto": (
        BOOKWORM,
        {"mail_dns_dmarc": {"p": "reject", "rua": ["https://reports.example.net/dmarc"]}},
        ["mail_dns_dmarc", "rua[0]", "must be mailto: URIs"],
    ),
    "DMARC tag removed by RFC 9989": (
        TRIXIE,
        {"mail_dns_dmarc": {"p": "quarantine", "pct": 50}},
        ["mail_dns_dmarc", "pct", "removed by RFC 9989"],
    ),
    "MTA-STS max_age over a year": (
        BOOKWORM,
        {"mail_dns_mta_sts": {"mode": "enforce", "max_age": 40000000}},
        ["mail_dns_mta_sts", "max_age = 40000000", "RFC 8461 section 3.2"],
    ),
    "publishing without a TSIG key": (
        TRIXIE,
        {"mail_dns_update_key_secret": ""},
        ["mail_dns_update_key_secret", "unsigned updates are never sent"],
    ),
}


@pytest.fixture(scope="module")
def refused(run_playbook, podman_host, nameserver):
    """Every case run once, side by side, with the managed trees and the zone's serial before and after."""
    hosts = {name: podman_host(name) for name in (BOOKWORM, TRIXIE)}
    before = {name: tree_state(h, MANAGED, "/etc/opendkim/keys") for name, h in hosts.items()}
    serial_before = serial(nameserver)
    with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
        runs = dict(
            zip(
                CASES,
                pool.map(lambda case: run_playbook("--limit", case[0], "-e", json.dumps(case[1])), CASES.values()),
                strict=True,
            )
        )
    after = {name: tree_state(h, MANAGED, "/etc/opendkim/keys") for name, h in hosts.items()}
    return {"runs": runs, "before": before, "after": after, "serial": (serial_before, serial(nameserver))}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_refused_naming_the_record_and_the_rule(refused, case):
    assert_refused(case, refused["runs"][case], CASES[case][2])


def test_a_refused_run_changes_nothing_on_the_hosts(refused):
    assert refused["after"] == refused["before"]


def test_a_refused_run_sends_nothing_to_the_dns_server(refused):
    before, after = refused["serial"]

    assert after == before
