#!/usr/bin/python
# SPDX-License-Identifier: MIT
"""Ask a DNS server, from the mail host itself, a list of questions, and return what a mail admin needs to prove
that the host's resolver answers and validates: the rcode, the AD flag and the answers in presentation form. Python's
standard library only: the mail hosts have no dnspython, and the resolver to judge is the one Postfix uses."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mail_dns_query
short_description: Ask a DNS server questions from the managed host and return its answers and DNSSEC status
version_added: "0.1.0"
description:
  - Sends each question of O(queries), in order, to the DNS server O(server) (by default the host's own resolver on
    C(127.0.0.1)) and returns, per question, the reply's rcode, its C(AD), C(AA) and C(RA) flags and its answer
    section in presentation form. A role asserts on the result (for example that a signed name comes back with
    C(AD) and that a name whose signature is broken comes back C(SERVFAIL)).
  - Every query asks for recursion (C(RD)) and sets C(AD) (RFC 6840, so that a validating resolver reports whether
    it validated the answer); with O(dnssec) it carries an EDNS0 record offering 1232 octets and setting C(DO).
  - Asks over UDP first; a reply with C(TC) set is asked again over TCP. A datagram whose id or question is not the
    query's is ignored, and the module keeps waiting until the try's timeout.
  - Fails only on bad input and when the server gives no usable reply to a question after O(tries) tries (no
    reply, connection refused); the message names the server, the port and the question. An rcode other than
    C(NOERROR) is a result, not a failure.
  - Reads only; never changes anything, so it runs in check mode too, and always returns C(changed=false).
  - Standard library only on the host (no dnspython).
options:
  queries:
    description:
      - The questions, asked in this order. Each is a dictionary with C(name) and optionally C(type).
      - An empty list asks nothing and returns an empty RV(results).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The name to ask about, with or without its final dot (C(.) is the root). Printable ASCII without
            spaces or backslashes; an international name as its C(xn--) form. At most 63 octets per label and 255
            in all, no empty label.
          - For C(PTR), the reverse name (C(7.2.0.192.in-addr.arpa)); an address is not reversed for you.
        type: str
        required: true
      type:
        description:
          - The record type to ask for, in upper or lower case. One of C(A), C(AAAA), C(TXT), C(MX), C(SOA),
            C(NS), C(DNSKEY), C(DS), C(TLSA), C(PTR) and C(CNAME); any other is refused.
        type: str
        default: A
  server:
    description: The IPv4 or IPv6 address of the server to ask; a host name is refused, not resolved.
    type: str
    default: 127.0.0.1
  port:
    description: The server's port, for UDP and TCP.
    type: int
    default: 53
  timeout:
    description: Seconds to wait for a reply, per try.
    type: float
    default: 3
  tries:
    description: How many times a question is sent (over UDP, then over TCP when the reply is truncated) before the
      module gives up on the server.
    type: int
    default: 2
  dnssec:
    description:
      - Send an EDNS0 OPT record (RFC 6891) offering a UDP payload of 1232 octets, with the C(DO) bit, so that the
        server returns RRSIG records beside the answers.
      - With V(false), the query carries no OPT record (plain DNS, 512-octet UDP replies); C(AD) is still set in
        the query, so a validating resolver still reports validation.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: Reads only.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Each question gets a new random id; its tries reuse it, so a late reply to an earlier try is accepted.
  - Only the answer section is returned; the authority and additional sections are read past.
seealso:
  - module: mailfort.mail.mail_dns_update
author:
  - mailfort contributors
"""

EXAMPLES = r"""
- name: resolver | Ask the host's resolver about signed and broken names
  mailfort.mail.mail_dns_query:
    queries:
      - name: internetsociety.org
        type: A
      - name: _25._tcp.mx1.example.org
        type: TLSA
      - name: dnssec-failed.org
  register: __mail_dns_resolver_answers

- name: resolver | The resolver validates
  ansible.builtin.assert:
    that:
      - __mail_dns_resolver_answers.results[0].rcode == 'NOERROR'
      - __mail_dns_resolver_answers.results[0].ad
      - __mail_dns_resolver_answers.results[2].rcode == 'SERVFAIL'
    quiet: true

- name: resolver | Read the domain's SPF record from another server, over IPv6
  mailfort.mail.mail_dns_query:
    server: "2001:db8::53"
    queries: [{name: example.org, type: TXT}]
    dnssec: false
  register: __mail_dns_spf
"""

RETURN = r"""
results:
  description: One entry per question of O(queries), in order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The name asked about, absolute (with its final dot).
      type: str
      returned: always
      sample: example.org.
    type:
      description: The record type asked for, in upper case.
      type: str
      returned: always
      sample: MX
    rcode:
      description:
        - The reply's response code, C(NOERROR), C(FORMERR), C(SERVFAIL), C(NXDOMAIN), C(NOTIMP) or C(REFUSED),
          or its number as a string for any other (extended rcodes of an EDNS0 reply included).
      type: str
      returned: always
      sample: NOERROR
    ad:
      description: Whether the reply has C(AD) set, that is the server validated the answer with DNSSEC.
      type: bool
      returned: always
      sample: true
    aa:
      description: Whether the reply is authoritative (C(AA)).
      type: bool
      returned: always
      sample: false
    ra:
      description: Whether the server offers recursion (C(RA)).
      type: bool
      returned: always
      sample: true
    tc:
      description: Whether the reply over UDP was truncated (C(TC)), so that the question was asked again over TCP.
      type: bool
      returned: always
      sample: false
    transport:
      description: Where the reply returned came from, C(udp) or C(tcp).
      type: str
      returned: always
      sample: udp
    time_ms:
      description: Milliseconds from the first datagram sent to the reply used, retries and TCP included.
      type: float
      returned: always
      sample: 12.4
    answers:
      description: The answer section, in the reply's order (RRSIG records included when O(dnssec)).
      type: list
      elements: dict
      returned: always
      contains:
        name:
          description: The owner name, absolute.
          type: str
          returned: always
          sample: example.org.
        type:
          description: The record type, its mnemonic or C(TYPEnnn) (RFC 3597).
          type: str
          returned: always
          sample: MX
        ttl:
          description: The time to live, in seconds.
          type: int
          returned: always
          sample: 3600
        data:
          description:
            - The record's data in presentation form. A and AAAA an address; MX C(preference host.); NS, CNAME and
              PTR C(host.); SOA C(mname. rname. serial refresh retry expire minimum); TXT its character-strings
              joined into one string; DS and TLSA their numbers then the digest or certificate data in upper-case
              hexadecimal; DNSKEY its numbers then the key in base64; RRSIG its full presentation form, starting
              with the type it covers; any other type the generic form of RFC 3597 (C(\# length hex)).
            - Bytes of TXT strings that are not UTF-8 are shown as C(\xNN).
          type: str
          returned: always
          sample: 10 mx1.example.org.
        strings:
          description: The character-strings of a TXT record, each on its own.
          type: list
          elements: str
          returned: for TXT records
          sample: ["v=DKIM1; k=rsa; p=MIIBIjANBgkqh...", "...IDAQAB"]
        covered:
          description: The type an RRSIG record covers.
          type: str
          returned: for RRSIG records
          sample: MX
"""

import ipaddress  # noqa: E402
import os  # noqa: E402
import select  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.mailfort.mail.plugins.module_utils.dns_wire import (  # noqa: E402
    FLAG_TC,
    QUERY_TYPES,
    DnsWireError,
    absolute_name,
    build_query,
    mismatch,
    read_header,
    read_reply,
)

# The largest reply a UDP datagram or a TCP message can hold.
MAX_MESSAGE = 65535
QUERY_KEYS = {"name", "type"}


class NoReplyError(Exception):
    """The server gave no usable reply to a question in any try."""


def check_queries(queries: list) -> list[tuple[str, str]]:
    """(name, TYPE) of each question of QUERIES; raises ValueError naming queries[i] and the rule it broke.

    Checked here rather than by suboptions in the argument spec: Ansible's messages for suboptions do not say which
    entry of the list is wrong, and a list of twenty questions needs that.
    """
    checked = []
    for index, query in enumerate(queries):
        where = f"queries[{index}]"
        if not isinstance(query, dict):
            raise ValueError(f"{where} must be a dictionary with name and type, not {query!r}")
        unknown = sorted(set(query) - QUERY_KEYS)
        if unknown:
            raise ValueError(f"{where} has unknown keys {', '.join(map(str, unknown))}: only name and type")
        if "name" not in query or query["name"] is None:
            raise ValueError(f"{where}.name is required")
        name = query["name"]
        try:
            absolute_name(name)
        except DnsWireError as error:
            raise ValueError(f"{where}.name {name!r} {error}") from error
        qtype = query.get("type")
        qtype = "A" if qtype is None else qtype
        if not isinstance(qtype, str) or qtype.upper() not in QUERY_TYPES:
            raise ValueError(f"{where}.type {qtype!r} is not one of {', '.join(QUERY_TYPES)}")
        checked.append((name, qtype.upper()))
    return checked


def check_server(params: dict) -> None:
    """Raise ValueError when the server, port, timeout or tries cannot be used."""
    try:
        ipaddress.ip_address(params["server"])
    except ValueError as error:
        raise ValueError(
            f"server {params['server']!r} is not an IPv4 or IPv6 address (a name is not resolved)"
        ) from error
    if not 1 <= params["port"] <= 65535:
        raise ValueError(f"port {params['port']} is not between 1 and 65535")
    if not params["timeout"] > 0:
        raise ValueError(f"timeout {params['timeout']} must be more than 0 seconds")
    if params["tries"] < 1:
        raise ValueError(f"tries {params['tries']} must be at least 1")


def _address(server: str, port: int) -> tuple[int, tuple]:
    """The socket family and address of SERVER (an IP literal, an IPv6 one with its zone if it has one)."""
    family = socket.AF_INET6 if ipaddress.ip_address(server).version == 6 else socket.AF_INET
    info = socket.getaddrinfo(server, port, family, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)
    return family, info[0][4]


def _udp_try(sock: socket.socket, query: bytes, qid: int, name: str, qtype: str, *, timeout: float) -> bytes:
    """Send QUERY once and wait up to TIMEOUT seconds for the reply that matches it; raises NoReplyError with the
    reason when none comes. Datagrams that do not match are ignored, their reason kept for the message."""
    sock.send(query)
    deadline = time.monotonic() + timeout
    ignored = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            reason = "no reply" if ignored is None else f"no matching reply (last datagram ignored: {ignored})"
            raise NoReplyError(reason)
        try:
            datagram = sock.recv(MAX_MESSAGE)
        except ConnectionRefusedError as error:  # an ICMP port unreachable for the connected socket
            raise NoReplyError("connection refused") from error
        try:
            ignored = mismatch(read_header(datagram), qid, name, qtype)
        except DnsWireError as error:
            ignored = f"unreadable: {error}"
        if ignored is None:
            return datagram


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise NoReplyError(f"the server closed the TCP connection after {len(data)} of {size} octets")
        data += chunk
    return data


def _tcp_try(family: int, address: tuple, query: bytes, timeout: float) -> bytes:
    """QUERY over a new TCP connection (RFC 1035 4.2.2, RFC 7766: each message after its 2-octet length), within
    TIMEOUT seconds for connecting, sending and receiving each part."""
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(address)
        sock.sendall(struct.pack("!H", len(query)) + query)
        (length,) = struct.unpack("!H", _read_exactly(sock, 2))
        return _read_exactly(sock, length)


def ask(params: dict, name: str, qtype: str) -> dict:
    """One question to the server of PARAMS: the result the module returns for it. Raises NoReplyError with a message
    naming the server, the port and the question when no try brings a usable reply."""
    server, port, timeout, tries = params["server"], params["port"], params["timeout"], params["tries"]
    question = f"{absolute_name(name)} {qtype}"
    qid = int.from_bytes(os.urandom(2), "big")
    query = build_query(qid, name, qtype, dnssec=params["dnssec"])
    family, address = _address(server, port)
    started = time.monotonic()
    transport, truncated, reply, reason = "udp", False, None, "no try"
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        for _ in range(tries):
            try:
                # Connected, the socket takes datagrams from the server's address alone; connecting fails at once
                # when the host has no route to it (an IPv6 server on a host without IPv6).
                sock.connect(address)
                reply = _udp_try(sock, query, qid, name, qtype, timeout=timeout)
                break
            except NoReplyError as error:
                reason = str(error)
            except OSError as error:
                reason = error.strerror or str(error)
    if reply is not None and read_header(reply)["flags"] & FLAG_TC:
        transport, truncated, reply = "tcp", True, None
        for _ in range(tries):
            try:
                candidate = _tcp_try(family, address, query, timeout)
                problem = mismatch(read_header(candidate), qid, name, qtype)
            except NoReplyError as error:
                reason = str(error)
                continue
            except TimeoutError:
                reason = "no reply"
                continue
            except OSError as error:
                reason = error.strerror or str(error)
                continue
            except DnsWireError as error:
                problem = f"unreadable: {error}"
            if problem is None:
                reply = candidate
                break
            reason = f"a reply that does not match ({problem})"
    if reply is None:
        raise NoReplyError(
            f"mail_dns_query: no usable reply from {server} port {port} over {transport.upper()} to {question} "
            f"after {tries} {'try' if tries == 1 else 'tries'} of {timeout:g} s: {reason}"
        )
    elapsed = round((time.monotonic() - started) * 1000, 1)
    try:
        read = read_reply(reply)
    except DnsWireError as error:
        raise NoReplyError(
            f"mail_dns_query: the reply from {server} port {port} over {transport.upper()} to {question} cannot be "
            f"read: {error}"
        ) from error
    return {
        "name": absolute_name(name),
        "type": qtype,
        "rcode": read["rcode"],
        "ad": read["ad"],
        "aa": read["aa"],
        "ra": read["ra"],
        "tc": truncated,
        "transport": transport,
        "answers": read["answers"],
        "time_ms": elapsed,
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            # No suboptions: check_queries checks each entry and names its index (see there).
            "queries": {"type": "list", "elements": "dict", "required": True},
            "server": {"type": "str", "default": "127.0.0.1"},
            "port": {"type": "int", "default": 53},
            "timeout": {"type": "float", "default": 3},
            "tries": {"type": "int", "default": 2},
            "dnssec": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        check_server(params)
        questions = check_queries(params["queries"])
    except ValueError as error:
        module.fail_json(msg=f"mail_dns_query: {error}")
    results = []
    for name, qtype in questions:
        try:
            results.append(ask(params, name, qtype))
        except NoReplyError as error:
            module.fail_json(msg=str(error), results=results)
    module.exit_json(changed=False, results=results)


if __name__ == "__main__":
    main()
