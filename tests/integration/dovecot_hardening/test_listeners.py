# SPDX-License-Identifier: MIT
"""Which ports Dovecot serves: as the client finds them on the network, as the mail host finds them on its own
address, and as it lists its sockets.

From the client, a mail port Dovecot leaves off gets no answer at all: mail_firewall opens only the ports the
daemons serve and drops the rest. The host itself is not filtered (loopback), so there such a port is refused:
nothing listens on it.
"""

from __future__ import annotations

import re

import pytest
from dovecot_facts import MAIL_PORTS, POSTFIX_PORTS, SERVICES, port_states
from probes import host_name

pytestmark = pytest.mark.readonly


def _dovecot_tcp_ports(host) -> set[int]:
    """The TCP ports a Dovecot process listens on: the master holds the sockets, login processes share them."""
    ports = set()
    for line in host.check_output("ss -Hltnp").splitlines():
        fields = line.split()
        processes = re.findall(r'\("([^"]+)"', line)
        if any(p == "dovecot" or p.endswith("-login") for p in processes):
            ports.add(int(fields[3].rsplit(":", 1)[1]))
    return ports


def test_client_finds_only_the_enabled_mail_ports_open(host, client):
    expected = {port: "open" if port in SERVICES[host_name(host)].values() else "dropped" for port in MAIL_PORTS}
    assert port_states(client, host, MAIL_PORTS) == expected


def test_nothing_listens_on_the_mail_ports_left_off(host):
    """On the host's own address, which the firewall leaves alone, the mail ports Dovecot leaves off refuse a
    connection: no process at all listens there, Dovecot or another."""
    expected = {port: "open" if port in SERVICES[host_name(host)].values() else "refused" for port in MAIL_PORTS}
    assert port_states(host, host, MAIL_PORTS) == expected


def test_dovecot_does_not_listen_on_postfix_ports(host):
    taken = _dovecot_tcp_ports(host) & set(POSTFIX_PORTS)
    assert not taken, f"{host_name(host)}: Dovecot listens on {sorted(taken)}, which belong to Postfix"


def test_dovecot_listens_on_no_other_tcp_port(host):
    """Nothing beyond IMAP and POP3 as configured: no ManageSieve, no LMTP or doveadm over TCP."""
    assert _dovecot_tcp_ports(host) == set(SERVICES[host_name(host)].values())
