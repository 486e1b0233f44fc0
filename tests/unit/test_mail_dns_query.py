# SPDX-License-Identifier: MIT
"""mailfort.mail.mail_dns_query and its wire format (module_utils/dns_wire.py), against a small DNS server on the
loopback that answers UDP and TCP with replies written here byte by byte, compression pointers included."""

from __future__ import annotations

import base64
import socket
import struct
import threading

import pytest
from ansible_collections.mailfort.mail.plugins.module_utils import dns_wire
from hypothesis import given, settings
from hypothesis import strategies as st
from module_play import load_module, run_module

mail_dns_query = load_module("mail_dns_query")

# -------------------------------------------------------------------------------------------- replies, by hand

QR, AA, TC, RD, RA, AD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0020
QNAME = b"\xc0\x0c"  # a pointer to the question's name, which starts right after the header
DNSKEY_KEY = bytes(range(64))
DS_DIGEST = bytes.fromhex("2bb183af5f22588179a53b0a98631fad1a292118ab6b9f48a8d2bab1c4a6a6cb")
TLSA_DATA = bytes.fromhex("8cb0fc6c527506a053f4f14c8464bebbd6dede1738d11468dd953d5b1ea3e2e1")
TYPE = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "OPT": 41, "DS": 43}
TYPE |= {"RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "TLSA": 52}


def labels(*parts: str, end: bytes = b"\x00") -> bytes:
    """Uncompressed labels, then END: the root's zero octet or a compression pointer."""
    return b"".join(bytes([len(part)]) + part.encode() for part in parts) + end


def question_end(query: bytes) -> int:
    """Where the (uncompressed) question of QUERY ends."""
    offset = 12
    while query[offset]:
        offset += query[offset] + 1
    return offset + 5


def record(owner: bytes, rtype: int, rdata: bytes, ttl: int = 300) -> bytes:
    return owner + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def reply(query: bytes, records: list[bytes] = (), flags: int = RA, rcode: int = 0, qid: int | None = None) -> bytes:
    """A reply to QUERY: its id (or QID), QR and RD set, FLAGS and RCODE, its question, RECORDS as the answers."""
    qid = struct.unpack_from("!H", query)[0] if qid is None else qid
    header = struct.pack("!HHHHHH", qid, QR | RD | flags | rcode, 1, len(records), 0, 0)
    return header + query[12 : question_end(query)] + b"".join(records)


def rrsig(covered: str) -> bytes:
    """An RRSIG of COVERED by key 4242 of example.org, valid 2024-01-01 to 2024-02-01; its signer uncompressed."""
    fixed = struct.pack("!HBBIIIH", TYPE[covered], 13, 2, 300, 1706745600, 1704067200, 4242)
    return record(QNAME, TYPE["RRSIG"], fixed + labels("example", "org") + b"\x01\x02\x03")


def _mx(first: int) -> list[bytes]:
    """Two MX records: mx1 + a pointer to the question's name; the second's host points into the first's data."""
    mx1 = record(QNAME, TYPE["MX"], struct.pack("!H", 10) + labels("mx1", end=QNAME))
    mx1_host = first + 2 + 2 + 2 + 4 + 2 + 2  # after the owner, type, class, TTL, RDLENGTH and preference
    return [
        mx1,
        record(QNAME, TYPE["MX"], struct.pack("!H", 20) + labels("backup", end=struct.pack("!H", 0xC000 | mx1_host))),
    ]


def _soa() -> list[bytes]:
    names = labels("ns1", end=QNAME) + labels("hostmaster", end=QNAME)
    return [record(QNAME, TYPE["SOA"], names + struct.pack("!5I", 2026050701, 7200, 3600, 1209600, 300), ttl=3600)]


def _txt() -> list[bytes]:
    strings = [b"v=spf1 mx ", b"-all", "caf\u00e9".encode(), b"\xff"]
    return [
        record(QNAME, TYPE["TXT"], b"".join(bytes([len(s)]) + s for s in strings)),
        record(QNAME, 65534, b"\x0d\x00\x01"),  # a type nobody names
        record(QNAME, TYPE["NSEC"], b""),  # a named type without a text form here, and no data
    ]


# Good answers by question type, each owned by the question's name through a pointer. Each takes the offset where
# the answers start in the reply: after the header (12 octets) and the question (the query's).
ANSWERS = {
    TYPE["A"]: lambda _: [record(QNAME, TYPE["A"], bytes([192, 0, 2, 25]))],
    TYPE["AAAA"]: lambda _: [record(QNAME, TYPE["AAAA"], bytes.fromhex("20010db8000000000000000000000025"))],
    TYPE["MX"]: _mx,
    TYPE["NS"]: lambda _: [
        record(QNAME, TYPE["NS"], labels("ns1", end=QNAME)),
        record(QNAME, TYPE["NS"], labels("ns2", "example", "net")),
    ],
    TYPE["SOA"]: lambda _: _soa(),
    TYPE["TXT"]: lambda _: _txt(),
    TYPE["DNSKEY"]: lambda _: [
        record(QNAME, TYPE["DNSKEY"], struct.pack("!HBB", 257, 3, 13) + DNSKEY_KEY),
        rrsig("DNSKEY"),
    ],
    TYPE["DS"]: lambda _: [record(QNAME, TYPE["DS"], struct.pack("!HBB", 12345, 13, 2) + DS_DIGEST)],
    TYPE["TLSA"]: lambda _: [record(QNAME, TYPE["TLSA"], bytes([3, 1, 1]) + TLSA_DATA)],
    TYPE["PTR"]: lambda _: [record(QNAME, TYPE["PTR"], labels("mx1", "example", "org"))],
    TYPE["CNAME"]: lambda _: [record(QNAME, TYPE["CNAME"], labels("www", end=QNAME))],
}


def answers(query: bytes) -> list[bytes]:
    """Good answers for the question of QUERY."""
    qtype = struct.unpack_from("!H", query, question_end(query) - 4)[0]
    return ANSWERS[qtype](question_end(query))


def good(query: bytes, transport: str) -> list[bytes]:
    """A validating resolver's reply: the answers, with AD, and an RRSIG for A."""
    records = answers(query)
    if struct.unpack_from("!H", query, question_end(query) - 4)[0] == TYPE["A"]:
        records.append(rrsig("A"))
    return [reply(query, records, flags=RA | AD)]


# -------------------------------------------------------------------------------------------- the server


class FakeServer:
    """A DNS server on 127.0.0.1, UDP and TCP on one port, in threads. `handler(query, transport)` returns the
    messages to send back, in order (none: silence); every query received is kept in `queries`."""

    def __init__(self) -> None:
        self.handler = good
        self.queries: list[tuple[str, bytes]] = []
        self.stopped = threading.Event()
        for _ in range(20):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        self.tcp.listen(5)
        self.udp.settimeout(0.1)
        self.tcp.settimeout(0.1)
        self.threads = [threading.Thread(target=loop, daemon=True) for loop in (self._serve_udp, self._serve_tcp)]
        for thread in self.threads:
            thread.start()

    def _serve_udp(self) -> None:
        while not self.stopped.is_set():
            try:
                query, peer = self.udp.recvfrom(65535)
            except TimeoutError:
                continue
            self.queries.append(("udp", query))
            for message in self.handler(query, "udp"):
                self.udp.sendto(message, peer)

    def _serve_tcp(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.tcp.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(2)
                (length,) = struct.unpack("!H", connection.recv(2, socket.MSG_WAITALL))
                query = connection.recv(length, socket.MSG_WAITALL)
                self.queries.append(("tcp", query))
                for message in self.handler(query, "tcp"):
                    connection.sendall(struct.pack("!H", len(message)) + message)

    def close(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()
        self.udp.close()
        self.tcp.close()


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.close()


def params(server: FakeServer, **overrides) -> dict:
    return {"server": "127.0.0.1", "port": server.port, "timeout": 0.5, "tries": 2, "dnssec": True} | overrides


def ask(server: FakeServer, name: str, qtype: str = "A", **overrides) -> dict:
    return mail_dns_query.ask(params(server, **overrides), name, qtype)


# -------------------------------------------------------------------------------------------- the query


def test_the_query_asks_for_recursion_and_validation_with_do_and_a_1232_octet_payload():
    query = dns_wire.build_query(0xBEEF, "mx1.example.org", "TLSA")
    qid, flags, qdcount, ancount, nscount, arcount = struct.unpack_from("!HHHHHH", query)

    assert (qid, qdcount, ancount, nscount, arcount) == (0xBEEF, 1, 0, 0, 1)
    assert flags == RD | AD  # a query: no QR, opcode 0, no other flag
    end = question_end(query)
    assert query[12:end] == labels("mx1", "example", "org") + struct.pack("!HH", 52, 1)
    # The OPT record: root owner, type 41, the payload in the class, DO in the TTL's flags, no options.
    assert query[end:] == b"\x00" + struct.pack("!HHIH", 41, 1232, 0x8000, 0)


def test_without_dnssec_the_query_has_no_opt_record_and_still_sets_ad():
    query = dns_wire.build_query(1, "example.org.", "A", dnssec=False)
    assert struct.unpack_from("!HHHHHH", query) == (1, RD | AD, 1, 0, 0, 0)
    assert len(query) == question_end(query)


def test_the_module_sends_that_query_with_an_id_from_the_system_random_source(server, monkeypatch):
    monkeypatch.setattr(mail_dns_query.os, "urandom", lambda size: b"\xab\xcd"[:size])
    ask(server, "example.org", "MX")
    ask(server, "example.org", "MX", dnssec=False)

    assert [query for _, query in server.queries] == [
        dns_wire.build_query(0xABCD, "example.org", "MX"),
        dns_wire.build_query(0xABCD, "example.org", "MX", dnssec=False),
    ]


# -------------------------------------------------------------------------------------------- good answers


@pytest.mark.parametrize(
    ("name", "qtype", "expected"),
    [
        ("example.org", "A", [("example.org.", "A", "192.0.2.25")]),
        ("example.org.", "AAAA", [("example.org.", "AAAA", "2001:db8::25")]),
        (
            "Example.ORG",
            "MX",
            [("Example.ORG.", "MX", "10 mx1.Example.ORG."), ("Example.ORG.", "MX", "20 backup.mx1.Example.ORG.")],
        ),
        ("example.org", "NS", [("example.org.", "NS", "ns1.example.org."), ("example.org.", "NS", "ns2.example.net.")]),
        (
            "example.org",
            "SOA",
            [("example.org.", "SOA", "ns1.example.org. hostmaster.example.org. 2026050701 7200 3600 1209600 300")],
        ),
        ("example.org", "DS", [("example.org.", "DS", f"12345 13 2 {DS_DIGEST.hex().upper()}")]),
        (
            "_25._tcp.mx1.example.org",
            "TLSA",
            [("_25._tcp.mx1.example.org.", "TLSA", f"3 1 1 {TLSA_DATA.hex().upper()}")],
        ),
        ("25.2.0.192.in-addr.arpa", "PTR", [("25.2.0.192.in-addr.arpa.", "PTR", "mx1.example.org.")]),
        ("mail.example.org", "CNAME", [("mail.example.org.", "CNAME", "www.mail.example.org.")]),
        (".", "NS", [(".", "NS", "ns1."), (".", "NS", "ns2.example.net.")]),
    ],
)
def test_answers_of_each_type_are_read_into_presentation_form_through_compression(server, name, qtype, expected):
    result = ask(server, name, qtype)

    assert [(a["name"], a["type"], a["data"]) for a in result["answers"] if a["type"] != "RRSIG"] == expected
    assert result["name"] == (name if name.endswith(".") else name + ".")
    assert (result["type"], result["rcode"], result["ad"], result["tc"], result["transport"]) == (
        qtype,
        "NOERROR",
        True,
        False,
        "udp",
    )
    assert result["ra"] is True
    assert result["aa"] is False
    assert isinstance(result["time_ms"], float)


def test_txt_strings_are_joined_and_kept_and_other_types_take_the_generic_form(server):
    txt, unknown, nsec = ask(server, "example.org", "TXT")["answers"]

    assert txt == {
        "name": "example.org.",
        "type": "TXT",
        "ttl": 300,
        "data": "v=spf1 mx -allcaf\u00e9\\xff",
        "strings": ["v=spf1 mx ", "-all", "caf\u00e9", "\\xff"],
    }
    assert unknown == {"name": "example.org.", "type": "TYPE65534", "ttl": 300, "data": "\\# 3 0D0001"}
    assert nsec["data"] == "\\# 0"


def test_dnskey_is_base64_and_its_rrsig_names_what_it_covers(server):
    dnskey, signature = ask(server, "example.org", "DNSKEY")["answers"]

    assert dnskey["data"] == f"257 3 13 {base64.b64encode(DNSKEY_KEY).decode()}"
    assert signature["type"] == "RRSIG"
    assert signature["covered"] == "DNSKEY"
    assert signature["data"] == "DNSKEY 13 2 300 20240201000000 20240101000000 4242 example.org. AQID"


def test_an_answer_with_an_rrsig_comes_with_ad(server):
    result = ask(server, "example.org", "A")
    assert [a["type"] for a in result["answers"]] == ["A", "RRSIG"]
    assert result["answers"][1]["covered"] == "A"
    assert result["ad"] is True


# -------------------------------------------------------------------------------------------- rcodes and flags


@pytest.mark.parametrize(
    ("rcode", "flags", "text"),
    [
        (2, RA, "SERVFAIL"),
        (3, RA | AA, "NXDOMAIN"),
        (5, 0, "REFUSED"),
        (1, 0, "FORMERR"),
        (4, 0, "NOTIMP"),
        (9, 0, "9"),
    ],
)
def test_an_error_rcode_is_a_result_not_a_failure(server, rcode, flags, text):
    server.handler = lambda query, _: [reply(query, flags=flags, rcode=rcode)]
    result = ask(server, "dnssec-failed.example.org", "A")

    assert (result["rcode"], result["ad"], result["aa"], result["ra"], result["answers"]) == (
        text,
        False,
        bool(flags & AA),
        bool(flags & RA),
        [],
    )


def test_the_extended_rcode_of_an_opt_record_is_read(server):
    def badvers(query, _):
        opt = b"\x00" + struct.pack("!HHIH", TYPE["OPT"], 1232, 1 << 24, 0)
        message = bytearray(reply(query) + opt)
        message[11] = 1  # ARCOUNT
        return [bytes(message)]

    server.handler = badvers
    assert ask(server, "example.org")["rcode"] == "16"  # BADVERS


def test_a_formerr_without_a_question_is_accepted_on_its_id(server):
    server.handler = lambda query, _: [query[:2] + struct.pack("!HHHHH", QR | 1, 0, 0, 0, 0)]
    assert ask(server, "example.org")["rcode"] == "FORMERR"


# -------------------------------------------------------------------------------------------- transports


def test_a_truncated_udp_reply_is_asked_again_over_tcp(server):
    server.handler = lambda query, transport: (
        [reply(query, flags=RA | TC)] if transport == "udp" else good(query, transport)
    )
    result = ask(server, "example.org", "MX")

    assert (result["tc"], result["transport"], result["rcode"]) == (True, "tcp", "NOERROR")
    assert [a["data"] for a in result["answers"]] == ["10 mx1.example.org.", "20 backup.mx1.example.org."]
    assert [transport for transport, _ in server.queries] == ["udp", "tcp"]
    assert server.queries[0][1] == server.queries[1][1]  # the same question, the same id


def test_a_wrong_id_and_a_wrong_question_are_ignored_until_the_right_reply(server):
    def noisy(query, _):
        qid = struct.unpack_from("!H", query)[0]
        other = dns_wire.build_query(qid, "example.net", "A")
        return [reply(query, answers(query), qid=qid ^ 1), reply(other, answers(other)), *good(query, "udp")]

    server.handler = noisy
    result = ask(server, "example.org", "A")

    assert result["answers"][0]["data"] == "192.0.2.25"
    assert len(server.queries) == 1  # answered in the first try


def test_no_reply_fails_naming_the_server_port_and_question(server):
    server.handler = lambda query, _: []
    with pytest.raises(mail_dns_query.NoReplyError) as raised:
        ask(server, "example.org", "MX", timeout=0.2, tries=3)

    assert str(raised.value) == (
        f"mail_dns_query: no usable reply from 127.0.0.1 port {server.port} over UDP to example.org. MX after 3 tries "
        "of 0.2 s: no reply"
    )
    assert len(server.queries) == 3


def test_only_wrong_replies_fail_with_the_last_reason(server):
    server.handler = lambda query, _: [reply(query, qid=struct.unpack_from("!H", query)[0] ^ 0xFFFF)]
    with pytest.raises(mail_dns_query.NoReplyError, match=r"no matching reply \(last datagram ignored: id \d+ instead"):
        ask(server, "example.org", timeout=0.2, tries=1)


def test_a_closed_port_fails_as_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(
        mail_dns_query.NoReplyError, match=rf"from 127\.0\.0\.1 port {port} over UDP .*: connection refused"
    ):
        mail_dns_query.ask(
            {"server": "127.0.0.1", "port": port, "timeout": 0.5, "tries": 1, "dnssec": True}, "example.org", "A"
        )


def test_an_ipv6_server_is_asked_over_ipv6():
    family, address = mail_dns_query._address("::1", 5353)
    assert (family, address[:2]) == (socket.AF_INET6, ("::1", 5353))


def test_a_tcp_server_that_does_not_answer_fails_naming_tcp(server):
    server.handler = lambda query, transport: [reply(query, flags=TC)] if transport == "udp" else []
    with pytest.raises(mail_dns_query.NoReplyError, match=r"over TCP to example\.org\. TXT after 2 tries"):
        ask(server, "example.org", "TXT", timeout=0.3)


# -------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("queries", "message"),
    [
        ([{"name": "example.org"}, {"name": "a..b"}], r"^queries\[1\]\.name 'a\.\.b' has an empty label"),
        ([{"name": ""}], r"^queries\[0\]\.name '' has an empty label"),
        ([{"name": ".example.org"}], r"^queries\[0\]\.name '\.example\.org' has an empty label"),
        ([{"name": "x" * 64 + ".org"}], r"^queries\[0\]\.name 'x{64}\.org' has a label of 64 octets, more than 63"),
        (
            [{"name": ".".join(["x" * 63] * 4)}],
            r"^queries\[0\]\.name 'x{63}.* is 257 octets on the wire, more than 255",
        ),
        ([{"name": "mx 1.example.org"}], r"^queries\[0\]\.name 'mx 1\.example\.org' holds ' ': only printable ASCII"),
        ([{"name": "b\u00fccher.example"}], r"^queries\[0\]\.name .* xn-- form"),
        ([{"name": 5}], r"^queries\[0\]\.name 5 is not a string"),
        ([{"type": "A"}], r"^queries\[0\]\.name is required"),
        ([{"name": "a", "type": "A"}, {"name": "b", "type": "SPF"}], r"^queries\[1\]\.type 'SPF' is not one of A, "),
        ([{"name": "a", "kind": "A"}], r"^queries\[0\] has unknown keys kind"),
        (["example.org"], r"^queries\[0\] must be a dictionary"),
    ],
)
def test_bad_questions_are_refused_naming_their_index_and_value(queries, message):
    with pytest.raises(ValueError, match=message):
        mail_dns_query.check_queries(queries)


def test_types_are_read_in_any_case_and_default_to_a():
    assert mail_dns_query.check_queries(
        [{"name": "a"}, {"name": "b", "type": "tlsa"}, {"name": "c", "type": None}]
    ) == [
        ("a", "A"),
        ("b", "TLSA"),
        ("c", "A"),
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"server": "localhost"}, r"server 'localhost' is not an IPv4 or IPv6 address"),
        ({"server": "127.0.0.1:53"}, r"server '127\.0\.0\.1:53' is not"),
        ({"port": 0}, r"port 0 is not between 1 and 65535"),
        ({"port": 65536}, r"port 65536 is not"),
        ({"timeout": 0.0}, r"timeout 0\.0 must be more than 0 seconds"),
        ({"tries": 0}, r"tries 0 must be at least 1"),
    ],
)
def test_a_bad_server_port_timeout_or_tries_is_refused(overrides, message):
    base = {"server": "::1", "port": 53, "timeout": 3.0, "tries": 2, "dnssec": True}
    with pytest.raises(ValueError, match=message):
        mail_dns_query.check_server(base | overrides)


# -------------------------------------------------------------------------------------------- names on the wire


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"\xc0\x00", r"points forward"),  # a pointer to itself: the shortest loop
        (b"\x01a\xc0\x04\xc0\x00", r"points forward"),  # a pointer to a later pointer
        (b"\x03abc", r"runs past the end"),
        (b"\x05ab", r"runs past the end"),
        (b"\x40abc", r"unknown type bits 01"),
        (b"\xc0", r"compression pointer at offset 0 runs past the end"),
    ],
)
def test_malformed_names_are_refused(message, error):
    with pytest.raises(dns_wire.DnsWireError, match=error):
        dns_wire.read_name(message, 0)


def test_a_chain_of_pointers_longer_than_255_octets_is_refused():
    # Each name is one 63-octet label and a pointer to the previous one: the fourth is 4 * 64 + 1 = 257 octets.
    message = labels("x" * 63)
    starts = [0]
    for _ in range(3):
        starts.append(len(message))
        message += labels("x" * 63, end=struct.pack("!H", 0xC000 | starts[-2]))
    assert dns_wire.read_name(message, starts[2]) == (("x" * 63 + ".") * 3, starts[2] + 66)
    with pytest.raises(dns_wire.DnsWireError, match="longer than 255"):
        dns_wire.read_name(message, starts[3])


def test_a_name_ends_after_its_first_pointer_and_odd_octets_are_escaped():
    message = labels("a.b", "c\\d", "e f\x00", end=b"") + b"\x00" + labels("x", end=b"\xc0\x00")
    assert dns_wire.read_name(message, 0) == ("a\\.b.c\\\\d.e\\032f\\000.", 14)
    assert dns_wire.read_name(message, 14) == ("x.a\\.b.c\\\\d.e\\032f\\000.", 18)


LABEL = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=".\\"), min_size=1)


@settings(max_examples=200, deadline=None)
@given(st.lists(LABEL.filter(lambda label: len(label) <= 63), max_size=6))
def test_a_name_read_back_from_the_wire_is_the_name_sent(parts):
    name = ".".join(parts) + "."
    if len(name) + 1 > 255:
        return
    wire = dns_wire.encode_name(name if parts else ".")
    assert dns_wire.read_name(wire, 0) == (name if parts else ".", len(wire))


def test_a_reply_shorter_than_its_counts_is_unreadable():
    query = dns_wire.build_query(7, "example.org", "A")
    message = reply(query, [record(QNAME, 1, b"\xc0\x00\x02")])
    with pytest.raises(dns_wire.DnsWireError, match="A record data of 3 octets, not 4"):
        dns_wire.read_reply(message)
    with pytest.raises(dns_wire.DnsWireError, match=r"the data of record 0 \(example\.org\. A\) runs past the end"):
        dns_wire.read_reply(message[:-1])


# -------------------------------------------------------------------------------------------- as a task


def test_the_task_returns_every_result_in_order_unchanged_in_check_mode_too(tmp_path, server):
    queries = [{"name": "example.org", "type": "mx"}, {"name": "example.org"}, {"name": "example.org", "type": "TXT"}]
    for args in ((), ("--check",)):
        result, _ = run_module(tmp_path, "mail_dns_query", {"queries": queries, "port": server.port}, *args)
        assert result["changed"] is False
        assert "failed" not in result or result["failed"] is False
        assert [(r["name"], r["type"], r["rcode"], r["ad"]) for r in result["results"]] == [
            ("example.org.", "MX", "NOERROR", True),
            ("example.org.", "A", "NOERROR", True),
            ("example.org.", "TXT", "NOERROR", True),
        ]
        assert result["results"][2]["answers"][0]["strings"][:2] == ["v=spf1 mx ", "-all"]


def test_the_task_fails_on_silence_with_the_results_so_far(tmp_path, server):
    server.handler = lambda query, transport: good(query, transport) if b"\x02ok" in query else []
    args = {"queries": [{"name": "ok.example.org"}, {"name": "quiet.example.org", "type": "AAAA"}]}
    result, _ = run_module(tmp_path, "mail_dns_query", args | {"port": server.port, "timeout": 0.2, "tries": 1})

    assert result["failed"] is True
    assert result["msg"] == (
        f"mail_dns_query: no usable reply from 127.0.0.1 port {server.port} over UDP to quiet.example.org. AAAA after "
        "1 try of 0.2 s: no reply"
    )
    assert [r["name"] for r in result["results"]] == ["ok.example.org."]


def test_the_task_refuses_a_bad_name_naming_its_index(tmp_path):
    result, _ = run_module(tmp_path, "mail_dns_query", {"queries": [{"name": "example.org"}, {"name": "a..b"}]})
    assert result["failed"] is True
    assert result["msg"].startswith("mail_dns_query: queries[1].name 'a..b' has an empty label")
