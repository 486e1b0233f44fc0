# SPDX-License-Identifier: MIT
"""mail_resolver on the converged MX hosts: unbound answers the host on its loopback address only, validates
DNSSEC (a name of the lab's signed zone is answered validated, a name whose chain of trust is broken is refused),
is the host's only nameserver (Postfix's chroot copy too), and cannot be reached from the network; bad input is
refused before the host changes.

The lab's zone lab.mailfort.test is signed by the lab's BIND, and its DS record is the MX hosts' trust anchor
(molecule/lab/prepare.yml, group_vars/mail_servers.yml). bogus.lab.mailfort.test is delegated with a DS record no key
matches: its answers are bogus, as an attacker's forged answers would be.
"""

from __future__ import annotations

import pytest
from harness import assert_refused, tree_state
from lab import ADDRESSES, ATTACKER, CLIENT, DOMAIN, MX1, MX2, NAMES, PROJECT_DIR

PLAYBOOK = PROJECT_DIR / "playbooks" / "mail_resolver.yml"
POSTFIX_RESOLV_CONF = "/var/spool/postfix/etc/resolv.conf"


def _dig(host, *args: str) -> str:
    """dig's full answer from the host's own resolver (127.0.0.1), with DNSSEC records asked for."""
    result = host.run("dig @127.0.0.1 +dnssec +time=5 +tries=1 " + " ".join(args))
    assert result.rc == 0, result.stdout + result.stderr
    return result.stdout


def _flags(answer: str) -> set[str]:
    """The header flags of a dig answer (qr rd ra ad ...)."""
    for line in answer.splitlines():
        if line.startswith(";; flags:"):
            return set(line.split(":", 2)[1].split(";")[0].split())
    raise AssertionError(f"no flags in {answer}")


def _status(answer: str) -> str:
    for line in answer.splitlines():
        if "status:" in line:
            return line.split("status:", 1)[1].split(",", 1)[0].strip()
    raise AssertionError(f"no status in {answer}")


def _nameservers(text: str) -> list[str]:
    return [line.split()[1] for line in text.splitlines() if line.split()[:1] == ["nameserver"]]


@pytest.mark.readonly
def test_unbound_listens_on_loopback_only(host):
    assert host.service("unbound.service").is_running
    assert host.service("unbound.service").is_enabled
    # Every socket on port 53, TCP and UDP: the loopback address alone.
    sockets = host.check_output("ss -Hlnut 'sport = :53' | awk '{print $5}'").split()
    assert sockets, "nothing listens on port 53"
    assert set(sockets) == {"127.0.0.1:53"}, sockets


@pytest.mark.readonly
def test_the_host_and_postfix_ask_unbound_alone(host):
    assert _nameservers(host.file("/etc/resolv.conf").content_string) == ["127.0.0.1"]
    assert _nameservers(host.file(POSTFIX_RESOLV_CONF).content_string) == ["127.0.0.1"]
    # The name Postfix looks up for the domain's mail, through the C library as Postfix does.
    assert host.check_output(f"getent ahostsv4 {NAMES[MX1]} | awk 'NR == 1 {{print $1}}'") == ADDRESSES[MX1]


@pytest.mark.readonly
def test_a_name_of_the_signed_zone_is_answered_validated(host):
    answer = _dig(host, NAMES[MX1], "A")
    assert _status(answer) == "NOERROR", answer
    assert "ad" in _flags(answer), answer
    assert ADDRESSES[MX1] in answer.split("ANSWER SECTION:", 1)[1]
    # A name the zone proves absent is validated too (a signed denial of existence), not just answered.
    missing = _dig(host, f"no-such-host.{DOMAIN}", "A")
    assert _status(missing) == "NXDOMAIN", missing
    assert "ad" in _flags(missing), missing


@pytest.mark.readonly
def test_a_bogus_answer_is_refused(host):
    """The zone's parent vouches for a key the child does not have: validation fails and the resolver answers
    SERVFAIL. With checking disabled (+cd) the same resolver hands the record over: what stopped it is validation,
    not the zone's reachability."""
    refused = _dig(host, f"www.bogus.{DOMAIN}", "A")
    assert _status(refused) == "SERVFAIL", refused
    assert "192.0.2.80" not in refused
    unchecked = _dig(host, "+cd", f"www.bogus.{DOMAIN}", "A")
    assert _status(unchecked) == "NOERROR", unchecked
    assert "192.0.2.80" in unchecked
    assert "ad" not in _flags(unchecked)


@pytest.mark.readonly
@pytest.mark.parametrize("peer", [CLIENT, ATTACKER])
def test_the_resolver_is_not_reachable_from_the_network(podman_host, peer):
    """Neither a host on every allowlist nor one on none gets an answer on the MX hosts' port 53, UDP or TCP."""
    outside = podman_host(peer)
    for mx in (MX1, MX2):
        for transport in ("+notcp", "+tcp"):
            result = outside.run(f"dig @{ADDRESSES[mx]} {transport} +time=2 +tries=1 {NAMES[MX1]} A")
            # dig exits 9 when nothing answers (the firewall drops the query); an answer must be a refusal.
            assert result.rc != 0 or "status: NOERROR" not in result.stdout, (mx, transport, result.stdout)


@pytest.mark.bad_input
def test_bad_resolver_input_is_refused_before_the_host_changes(run_playbook, podman_host):
    mx1 = podman_host(MX1)
    trees = ["/etc/unbound", "/etc/resolv.conf"]
    before = tree_state(mx1, trees, "unbound.conf")
    run = run_playbook(
        "-l",
        MX1,
        "-e",
        '{"mail_resolver_forwarders": ["192.0.2.300", "9.9.9.9@53"],'
        ' "mail_resolver_zones": [{"name": "corp..example", "servers": ["10.0.0.53"]},'
        ' {"name": "lab.mailfort.test", "servers": []}, {"name": "LAB.mailfort.test.", "servers": ["10.0.0.1"]}],'
        ' "mail_resolver_trust_anchors": ["lab.mailfort.test. IN DS 1 13 2 ABCD"],'
        ' "mail_resolver_root_trust_anchor": true}',
        playbook=PLAYBOOK,
    )
    assert_refused(
        "bad resolver input",
        run,
        [
            "mail_resolver: 6 input errors, nothing on the host was changed",
            "mail_resolver_forwarders[0] = '192.0.2.300' must be an IP address",
            "mail_resolver_zones[0].name = 'corp..example' must be a DNS zone name",
            "mail_resolver_zones[1].servers = [] must name at least one server of the zone",
            "mail_resolver_zones[1].name = 'lab.mailfort.test' is listed twice",
            "mail_resolver_zones[2].name = 'LAB.mailfort.test.' is listed twice",
            "mail_resolver_trust_anchors[0] = 'lab.mailfort.test. IN DS 1 13 2 ABCD' must be a DS record",
        ],
    )
    # The root's key off without its acknowledgement (the lab's own inventory acknowledges it).
    run = run_playbook(
        "-l", MX1, "-e", '{"mail_resolver_root_trust_anchor_off_acknowledged": false}', playbook=PLAYBOOK
    )
    assert_refused(
        "root anchor off, unacknowledged",
        run,
        ["mail_resolver_root_trust_anchor = False turns DNSSEC validation off", "off_acknowledged"],
    )
    assert tree_state(mx1, trees, "unbound.conf") == before
