# SPDX-License-Identifier: MIT
"""DNS messages on the wire (RFC 1035, EDNS0 of RFC 6891, DNSSEC records of RFC 4034, TLSA of RFC 6698), for
plugins/modules/mail_dns_query.py: a query built, a reply read into text a mail admin can assert on.

Pure functions over bytes: no sockets, no clock, no randomness (the caller picks the id). Standard library only, for
the Python of Debian 12 and 13, where dnspython is not installed.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import struct

# Record types by mnemonic (IANA "Resource Record (RR) TYPEs"): the ones a reply is read into text for, and a few
# more that are only named (their data is shown in the generic form of RFC 3597).
TYPES = {
    "A": 1,
    "NS": 2,
    "CNAME": 5,
    "SOA": 6,
    "PTR": 12,
    "MX": 15,
    "TXT": 16,
    "AAAA": 28,
    "SRV": 33,
    "DNAME": 39,
    "OPT": 41,
    "DS": 43,
    "RRSIG": 46,
    "NSEC": 47,
    "DNSKEY": 48,
    "NSEC3": 50,
    "NSEC3PARAM": 51,
    "TLSA": 52,
    "SVCB": 64,
    "HTTPS": 65,
    "CAA": 257,
}
TYPE_NAMES = {number: name for name, number in TYPES.items()}
# What a query may ask for: the types whose answers are read into presentation form.
QUERY_TYPES = ("A", "AAAA", "TXT", "MX", "SOA", "NS", "DNSKEY", "DS", "TLSA", "PTR", "CNAME")
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
CLASS_IN = 1

# Header flags (RFC 1035 4.1.1, RFC 4035 3.2): QR, AA, TC, RD, RA, AD, CD.
FLAG_QR = 0x8000
FLAG_AA = 0x0400
FLAG_TC = 0x0200
FLAG_RD = 0x0100
FLAG_RA = 0x0080
FLAG_AD = 0x0020
FLAG_CD = 0x0010
# EDNS0: the UDP payload size that avoids IP fragmentation (DNS Flag Day 2020), and the DO bit of the OPT TTL.
EDNS_PAYLOAD = 1232
EDNS_DO = 0x8000

MAX_LABEL = 63
MAX_NAME = 255
HEADER = struct.Struct("!HHHHHH")
FIXED = struct.Struct("!HHIH")  # type, class, TTL, RDLENGTH after an owner name
QUESTION_FIXED = struct.Struct("!HH")


class DnsWireError(ValueError):
    """A name that cannot be sent, or a message that cannot be read."""


# ---------------------------------------------------------------------------------------------------------- names


def name_labels(name: str) -> list[bytes]:
    """The labels of NAME, a domain name in text ("mx.example.org", with or without the final dot; "." is the root).

    Only printable ASCII without spaces or backslashes: an internationalised name is given as its A-labels
    (xn--...), and the escapes of zone files are not read. Raises DnsWireError naming the rule NAME breaks.
    """
    if not isinstance(name, str):
        raise DnsWireError("is not a string")
    if name == ".":
        return []
    bad = sorted({char for char in name if not ("!" <= char <= "~") or char == "\\"})
    if bad:
        raise DnsWireError(
            f"holds {''.join(bad)!r}: only printable ASCII without spaces or backslashes (an international name as "
            "its xn-- form)"
        )
    text = name[:-1] if name.endswith(".") else name
    labels = [label.encode("ascii") for label in text.split(".")]
    if any(not label for label in labels):
        raise DnsWireError("has an empty label (two dots in a row, or a leading dot, or nothing at all)")
    long = next((label for label in labels if len(label) > MAX_LABEL), None)
    if long is not None:
        raise DnsWireError(f"has a label of {len(long)} octets, more than {MAX_LABEL}")
    size = sum(len(label) + 1 for label in labels) + 1
    if size > MAX_NAME:
        raise DnsWireError(f"is {size} octets on the wire, more than {MAX_NAME}")
    return labels


def absolute_name(name: str) -> str:
    """NAME with its final dot ("." for the root), after checking it as name_labels does."""
    labels = name_labels(name)
    return "".join(label.decode("ascii") + "." for label in labels) or "."


def encode_name(name: str) -> bytes:
    """NAME in wire form, uncompressed."""
    return b"".join(bytes([len(label)]) + label for label in name_labels(name)) + b"\x00"


def _label_text(label: bytes) -> str:
    """A label in presentation form (RFC 4343 2.1): dots and backslashes escaped, other bytes that are not printable
    ASCII as \\DDD."""
    out = []
    for byte in label:
        char = chr(byte)
        if char in ".\\":
            out.append("\\" + char)
        elif 0x21 <= byte <= 0x7E:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return "".join(out)


def read_name(message: bytes, offset: int) -> tuple[str, int]:
    """The name at OFFSET of MESSAGE in presentation form (absolute, with its final dot), and the offset after it.

    Follows compression pointers (RFC 1035 4.1.4). A pointer must point before itself, so every jump goes back and
    a loop cannot happen; the name's length is bounded by MAX_NAME as well.
    """
    labels: list[str] = []
    size = 1
    end = None  # where the name ends in the message: after its first pointer, or after its final zero octet
    position = offset
    while True:
        if position >= len(message):
            raise DnsWireError(f"a name at offset {offset} runs past the end of the message")
        length = message[position]
        kind = length & 0xC0
        if kind == 0xC0:
            if position + 1 >= len(message):
                raise DnsWireError(f"a compression pointer at offset {position} runs past the end of the message")
            target = ((length & 0x3F) << 8) | message[position + 1]
            if target >= position:
                raise DnsWireError(f"a compression pointer at offset {position} points forward (to {target})")
            if end is None:
                end = position + 2
            position = target
            continue
        if kind:
            raise DnsWireError(f"a label at offset {position} has the unknown type bits {kind >> 6:02b}")
        if length == 0:
            break
        label = message[position + 1 : position + 1 + length]
        if len(label) < length:
            raise DnsWireError(f"a label at offset {position} runs past the end of the message")
        size += length + 1
        if size > MAX_NAME:
            raise DnsWireError(f"the name at offset {offset} is longer than {MAX_NAME} octets")
        labels.append(_label_text(label))
        position += 1 + length
    if end is None:
        end = position + 1
    return "".join(label + "." for label in labels) or ".", end


def same_name(one: str, other: str) -> bool:
    """Whether two names in presentation form are the same name: DNS compares ASCII letters without case."""
    return one.encode("ascii").lower() == other.encode("ascii").lower()


def type_name(number: int) -> str:
    """The mnemonic of a record type, or TYPEnnn (RFC 3597 5) for a type this module does not name."""
    return TYPE_NAMES.get(number, f"TYPE{number}")


def rcode_text(number: int) -> str:
    return RCODES.get(number, str(number))


# ---------------------------------------------------------------------------------------------------------- query


def build_query(qid: int, name: str, qtype: str, dnssec: bool = True) -> bytes:
    """A query for NAME (text) of type QTYPE (a mnemonic), class IN, with the id QID.

    RD asks for recursion. AD is set in the query too: RFC 6840 5.7 says a validating resolver then reports in the
    AD bit of its reply whether the answer was validated, whether or not the query asked for DNSSEC records. With
    DNSSEC, an EDNS0 OPT record (RFC 6891) offers EDNS_PAYLOAD octets over UDP and sets DO, asking for the RRSIG
    records beside the answer.
    """
    if not 0 <= qid <= 0xFFFF:
        raise DnsWireError(f"the query id {qid} is not a 16-bit number")
    if qtype not in TYPES:
        raise DnsWireError(f"{qtype!r} is not a record type this module knows")
    flags = FLAG_RD | FLAG_AD
    header = HEADER.pack(qid, flags, 1, 0, 0, 1 if dnssec else 0)
    question = encode_name(name) + QUESTION_FIXED.pack(TYPES[qtype], CLASS_IN)
    # The OPT pseudo-record: the root as owner, the payload size in place of the class, and in place of the TTL the
    # extended rcode (0), the EDNS version (0) and the flags (DO).
    opt = b"\x00" + FIXED.pack(TYPES["OPT"], EDNS_PAYLOAD, EDNS_DO, 0) if dnssec else b""
    return header + question + opt


# ---------------------------------------------------------------------------------------------------------- reply


def read_header(message: bytes) -> dict:
    """The header of MESSAGE: id, flags, the four counts, and the question (name, type, class) when it has one."""
    if len(message) < HEADER.size:
        raise DnsWireError(f"{len(message)} octets, shorter than a DNS header ({HEADER.size})")
    qid, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(message)
    header = {
        "id": qid,
        "flags": flags,
        "counts": (qdcount, ancount, nscount, arcount),
        "question": None,
        "end": HEADER.size,
    }
    if qdcount:
        qname, offset = read_name(message, HEADER.size)
        if offset + QUESTION_FIXED.size > len(message):
            raise DnsWireError("the question runs past the end of the message")
        qtype, qclass = QUESTION_FIXED.unpack_from(message, offset)
        header["question"] = (qname, qtype, qclass)
        header["end"] = offset + QUESTION_FIXED.size
    return header


def mismatch(header: dict, qid: int, name: str, qtype: str) -> str | None:
    """Why the reply whose HEADER this is does not answer the query QID for NAME and QTYPE, or None when it does.

    RFC 5452 9.1: the id, and the question (name without case, type and class) must be the query's. A server that
    refuses a query it cannot parse (FORMERR, NOTIMP) may leave the question out; such a reply is accepted on its id.
    """
    if header["id"] != qid:
        return f"id {header['id']} instead of {qid}"
    if not header["flags"] & FLAG_QR:
        return "a query, not a reply"
    qdcount = header["counts"][0]
    if qdcount == 0 and header["flags"] & 0x000F:
        return None
    if qdcount != 1:
        return f"{qdcount} questions instead of one"
    qname, qtype_number, qclass = header["question"]
    if not same_name(qname, absolute_name(name)) or qtype_number != TYPES[qtype] or qclass != CLASS_IN:
        return f"the question {qname} {type_name(qtype_number)} class {qclass} instead of {absolute_name(name)} {qtype}"
    return None


def _need(rdata: bytes, size: int, what: str, exact: bool = False) -> None:
    if len(rdata) < size or (exact and len(rdata) != size):
        raise DnsWireError(f"{what} record data of {len(rdata)} octets, {'not' if exact else 'less than'} {size}")


def _timestamp(seconds: int) -> str:
    """An RRSIG time in presentation form (RFC 4034 3.2): YYYYMMDDHHmmSS in UTC."""
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y%m%d%H%M%S")


def _names(message: bytes, offset: int, count: int, limit: int, what: str) -> tuple[list[str], int]:
    """COUNT names from OFFSET of MESSAGE, which must end by LIMIT (the end of the record's data)."""
    found = []
    for _ in range(count):
        text, offset = read_name(message, offset)
        found.append(text)
    if offset > limit:
        raise DnsWireError(f"a name in {what} record data runs past the record")
    return found, offset


def _address_text(message: bytes, start: int, length: int, rtype: str) -> dict:
    size, kind = (4, ipaddress.IPv4Address) if rtype == "A" else (16, ipaddress.IPv6Address)
    rdata = message[start : start + length]
    _need(rdata, size, rtype, exact=True)
    return {"data": str(kind(rdata))}


def _host_text(message: bytes, start: int, length: int, rtype: str) -> dict:
    (host,), _ = _names(message, start, 1, start + length, rtype)
    return {"data": host}


def _mx_text(message: bytes, start: int, length: int, rtype: str) -> dict:
    _need(message[start : start + length], 3, rtype)
    (host,), _ = _names(message, start + 2, 1, start + length, rtype)
    return {"data": f"{struct.unpack_from('!H', message, start)[0]} {host}"}


def _soa_text(message: bytes, start: int, length: int, rtype: str) -> dict:
    (mname, rname), offset = _names(message, start, 2, start + length, rtype)
    numbers = message[offset : start + length]
    _need(numbers, 20, "SOA (after its names)", exact=True)
    return {"data": " ".join([mname, rname, *(str(number) for number in struct.unpack("!5I", numbers))])}


def _txt_text(message: bytes, start: int, length: int, rtype: str) -> dict:
    rdata = message[start : start + length]
    strings, position = [], 0
    while position < len(rdata):
        size = rdata[position]
        string = rdata[position + 1 : position + 1 + size]
        if len(string) < size:
            raise DnsWireError(f"a {rtype} character-string runs past the end of its record")
        strings.append(string.decode("utf-8", errors="backslashreplace"))
        position += 1 + size
    return {"data": "".join(strings), "strings": strings}


def _digest_text(message: bytes, start: int, length: int, rtype: str) -> dict:
    """DS (key tag, algorithm, digest type) and TLSA (usage, selector, matching type), then their data in hex."""
    rdata = message[start : start + length]
    fixed = "!HBB" if rtype == "DS" else "!BBB"
    size = struct.calcsize(fixed)
    _need(rdata, size + 1, rtype)
    numbers = " ".join(str(number) for number in struct.unpack_from(fixed, rdata))
    return {"data": f"{numbers} {rdata[size:].hex().upper()}"}


def _dnskey_text(message: bytes, start: int, length: int, rtype: str) -> dict:
    rdata = message[start : start + length]
    _need(rdata, 5, rtype)
    flags, protocol, algorithm = struct.unpack_from("!HBB", rdata)
    return {"data": f"{flags} {protocol} {algorithm} {base64.b64encode(rdata[4:]).decode('ascii')}"}


def _rrsig_text(message: bytes, start: int, length: int, rtype: str) -> dict:
    _need(message[start : start + length], 19, rtype)
    covered, algorithm, labels, original_ttl, expiration, inception, key_tag = struct.unpack_from(
        "!HBBIIIH", message, start
    )
    (signer,), offset = _names(message, start + 18, 1, start + length, rtype)
    signature = base64.b64encode(message[offset : start + length]).decode("ascii")
    fields = [type_name(covered), algorithm, labels, original_ttl, _timestamp(expiration), _timestamp(inception)]
    return {
        "data": " ".join(str(field) for field in [*fields, key_tag, signer, signature]),
        "covered": type_name(covered),
    }


# The types whose data is read into its own presentation form; any other takes the generic form of RFC 3597.
RDATA_TEXT = {
    "A": _address_text,
    "AAAA": _address_text,
    "NS": _host_text,
    "CNAME": _host_text,
    "PTR": _host_text,
    "DNAME": _host_text,
    "MX": _mx_text,
    "SOA": _soa_text,
    "TXT": _txt_text,
    "DS": _digest_text,
    "TLSA": _digest_text,
    "DNSKEY": _dnskey_text,
    "RRSIG": _rrsig_text,
}


def rdata_text(message: bytes, rtype: int, start: int, length: int) -> dict:
    """The data of a record of type RTYPE, at START for LENGTH octets of MESSAGE, in presentation form: {"data":
    text}, with "strings" for TXT and "covered" for RRSIG. Names in the data may be compressed, so the whole message
    is needed."""
    name = TYPE_NAMES.get(rtype)
    if name in RDATA_TEXT:
        return RDATA_TEXT[name](message, start, length, name)
    rdata = message[start : start + length]
    return {"data": f"\\# {len(rdata)} {rdata.hex().upper()}".rstrip()}


def read_reply(message: bytes) -> dict:
    """A whole reply: its id, rcode (text, with the extended bits of an OPT record), the flags a mail admin asks
    about, the answer section in presentation form, and whether an OPT record came back with DO."""
    header = read_header(message)
    flags = header["flags"]
    qdcount, ancount, nscount, arcount = header["counts"]
    if qdcount > 1:
        raise DnsWireError(f"{qdcount} questions in a reply")
    answers, rcode, edns_do = [], flags & 0x000F, None
    offset = header["end"]
    for index in range(ancount + nscount + arcount):
        owner, offset = read_name(message, offset)
        if offset + FIXED.size > len(message):
            raise DnsWireError(f"record {index} runs past the end of the message")
        rtype, _rclass, ttl, rdlength = FIXED.unpack_from(message, offset)
        offset += FIXED.size
        if offset + rdlength > len(message):
            raise DnsWireError(f"the data of record {index} ({owner} {type_name(rtype)}) runs past the end")
        if index < ancount:
            record = {"name": owner, "type": type_name(rtype), "ttl": ttl}
            record.update(rdata_text(message, rtype, offset, rdlength))
            answers.append(record)
        elif index >= ancount + nscount and rtype == TYPES["OPT"]:
            # RFC 6891 6.1.3: the OPT TTL carries the upper 8 bits of the 12-bit rcode, then version and flags.
            rcode |= (ttl >> 24) << 4
            edns_do = bool(ttl & EDNS_DO)
        offset += rdlength
    return {
        "id": header["id"],
        "question": header["question"],
        "rcode": rcode_text(rcode),
        "ad": bool(flags & FLAG_AD),
        "aa": bool(flags & FLAG_AA),
        "tc": bool(flags & FLAG_TC),
        "ra": bool(flags & FLAG_RA),
        "edns_do": edns_do,
        "answers": answers,
    }
