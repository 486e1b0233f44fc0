# SPDX-License-Identifier: MIT
"""Which ports Dovecot serves: as the client finds them on the network, and as the mail host lists its sockets."""

from __future__ import annotations

import re

from dovecot_facts import MAIL_PORTS, POSTFIX_PORTS, SERVICES
from probes import host_name, port_states


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
    expected = {port: "open" if port in SERVICES[host_name(host)].values() else "refused" for port in MAIL_PORTS}
    assert port_states(client, host, MAIL_PORTS) == expected


def test_dovecot_does_not_listen_on_postfix_ports(host):
    taken = _dovecot_tcp_ports(host) & set(POSTFIX_PORTS)
    assert not taken, f"{host_name(host)}: Dovecot listens on {sorted(taken)}, which belong to Postfix"


def test_dovecot_listens_on_no_other_tcp_port(host):
    """Nothing beyond IMAP and POP3 as configured: no ManageSieve, no LMTP or doveadm over TCP."""
    assert _dovecot_tcp_ports(host) == set(SERVICES[host_name(host)].values())
