# SPDX-License-Identifier: MIT
"""DNS records for mailfort: what every record builder shares, the TXT strings and the zone-file fragment.

The filters build the records a mail domain publishes from validated intent: SPF (dns_spf), DKIM and TLSA
(dns_keys), DMARC, MTA-STS, TLS-RPT and CAA (dns_policy), and a zone-file fragment of them (here). Every filter is
pure: no DNS query, no file, no clock. Each validates its input first and names the record and the rule it broke,
as "<filter>: <record>: <problem>".

Every record builder returns the same shape: ``name`` (absolute, lower case, trailing dot), ``type``, ``ttl`` and
``values`` (the rdata in zone-file presentation format, one entry a resource record); TXT records also carry
``text`` (the logical string, before it is split into character-strings) and ``match`` (the prefix that tells the
record apart from other TXT records at the same name, so that a publisher replaces only its own).

Names and whole numbers are read by the collection's shared rules (common, names), as every role reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.plugin_utils.common import error, propagate_undefined, show, whole_number
from ansible_collections.mailfort.mail.plugins.plugin_utils.names import NAME_MAX, dns_name

_TXT_STRINGS = "mail_dns_txt_strings"
_TXT_RDATA = "mail_dns_txt_rdata"
_ZONE = "mail_dns_zone"

TTL_MAX = 2**31 - 1  # RFC 2181 section 8
_TTL_RULE = f"TTLs are whole seconds from 0 to {TTL_MAX} (RFC 2181 section 8)"
_TXT_STRING_MAX = 255  # octets in one character-string, RFC 1035 section 3.3

# Presentation of each byte inside a quoted character-string (RFC 1035 section 5.1): printable ASCII as itself,
# '"' and '\' escaped, everything else as \DDD.
_TXT_ESCAPES = tuple(
    ("\\" + chr(byte)) if byte in b'"\\' else chr(byte) if 0x20 <= byte <= 0x7E else f"\\{byte:03d}"
    for byte in range(256)
)


# ------------------------------------------------------------------------------------------------ helpers


def record_error(filter_name: str, record: str, problem: str) -> AnsibleFilterError:
    """The error of FILTER_NAME about RECORD, in the DNS filters' form "<filter>: <record>: <problem>"."""
    return error(filter_name, f"{record}:", problem)


def named_record(record: str, varname: Any) -> str:
    """The record's label with the user's variable in front, when the caller names it."""
    propagate_undefined(varname)
    return f"{varname} ({record})" if isinstance(varname, str) and varname else record


def domain_name(value: Any, **rules: Any) -> tuple[str | None, str | None]:
    """(the name by the shared DNS rule, names.dns_name, None) or (None, "<value> is not a domain name: <why>")."""
    name, problem = dns_name(value, **rules)
    if name is None:
        return None, f"{show(value)} is not a domain name: {problem}"
    return name, None


def record_subject(filter_name: str, kind: str, domain: Any, *, service_labels: bool = False) -> tuple[str, str]:
    """The validated domain a filter's records belong to, and the record's description for error messages."""
    name, problem = domain_name(domain, service_labels=service_labels)
    if name is None:
        raise record_error(filter_name, f"{kind} for {show(domain)}", f"the domain {problem}")
    return name, f"{kind} for {name}"


def owner_name(filter_name: str, record: str, name: str) -> str:
    """The absolute owner name; refuses one that the DNS cannot carry."""
    if len(name) > NAME_MAX:
        raise record_error(
            filter_name,
            record,
            f"the owner name {name[:40]}... has {len(name)} characters; RFC 1035 section 2.3.4 allows {NAME_MAX}",
        )
    return name + "."


def checked_ttl(filter_name: str, record: str, value: Any) -> int:
    """The TTL a user wrote, by the shared whole-number rule (common.whole_number), within RFC 2181's range."""
    ttl = whole_number(value)
    if ttl is None or not 0 <= ttl <= TTL_MAX:
        raise record_error(filter_name, record, f"ttl = {show(value)} is not a TTL: {_TTL_RULE}")
    return ttl


def checked_spec(filter_name: str, record: str, value: Any, known: tuple[str, ...]) -> Mapping:
    """The filter's input dict, refused when it is no dict or has a key the filter does not know."""
    if not isinstance(value, Mapping):
        raise record_error(
            filter_name, record, f"the input must be a dict with the keys {list(known)}, got {show(value)}"
        )
    unknown = sorted(str(key) for key in value if key not in known)
    if unknown:
        raise record_error(filter_name, record, f"unknown keys {unknown}; known are {list(known)}")
    return value


def string_list(filter_name: str, record: str, what: str, value: Any) -> list[str]:
    """VALUE as a list of strings, refused when it is a string, no list, or holds anything but strings."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise record_error(filter_name, record, f"{what} must be a list of strings, got {show(value)}")
    for index, entry in enumerate(value):
        if not isinstance(entry, str):
            raise record_error(filter_name, record, f"{what}[{index}] = {show(entry)} must be a string")
    return list(value)


def no_duplicates(filter_name: str, record: str, what: str, values: list[str]) -> None:
    """Refuse a value that repeats an earlier one of the list WHAT, naming both indexes."""
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        first = seen.setdefault(value, index)
        if first != index:
            raise record_error(
                filter_name, record, f"{what}[{index}] = {value!r} repeats {what}[{first}]; list it once"
            )


# -------------------------------------------------------------------------------------------------- TXT


def _utf8(filter_name: str, record: str, text: Any) -> bytes:
    if not isinstance(text, str):
        raise record_error(filter_name, record, f"the text must be a string, got {show(text)}")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:  # lone surrogates
        raise record_error(filter_name, record, f"the text {show(text)} cannot be encoded as UTF-8: {e.reason}") from e


def _split(data: bytes) -> list[bytes]:
    """Cut data into pieces of at most 255 octets, as long as possible, never inside a UTF-8 character."""
    pieces = []
    start = 0
    while len(data) - start > _TXT_STRING_MAX:
        cut = start + _TXT_STRING_MAX
        while data[cut] & 0xC0 == 0x80:  # a continuation byte: its character began before the cut
            cut -= 1
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return pieces


def _rdata(data: bytes) -> str:
    return " ".join('"' + "".join(_TXT_ESCAPES[byte] for byte in piece) + '"' for piece in _split(data))


def txt_record(name: str, ttl: int, text: str, match: str, **extra: Any) -> dict[str, Any]:
    """A TXT record of the shared shape: its rdata, the logical text and the prefix that tells it apart."""
    return {
        "name": name,
        "type": "TXT",
        "ttl": ttl,
        "values": [_rdata(text.encode("utf-8"))],
        "text": text,
        "match": match,
        **extra,
    }


def mail_dns_txt_strings(text: str) -> list[str]:
    """The text split into character-strings of at most 255 octets of UTF-8 each."""
    propagate_undefined(text)
    return [piece.decode("utf-8") for piece in _split(_utf8(_TXT_STRINGS, "TXT text", text))]


def mail_dns_txt_rdata(text: str) -> str:
    """The zone-file presentation of a TXT text: quoted, escaped character-strings joined by spaces."""
    propagate_undefined(text)
    return _rdata(_utf8(_TXT_RDATA, "TXT text", text))


# ------------------------------------------------------------------------------------------------ zone

_ZONE_TYPES = ("A", "AAAA", "CAA", "CNAME", "MX", "TLSA", "TXT")
_ZONE_KEYS = ("name", "type", "ttl", "values")


def _zone_record(index: int, value: Any) -> tuple[str, str, int, list[str]]:
    where = f"record {index}"
    if not isinstance(value, Mapping):
        raise record_error(_ZONE, where, f"must be a record dict, got {show(value)}")
    missing = [key for key in _ZONE_KEYS if key not in value]
    if missing:
        raise record_error(
            _ZONE,
            where,
            f"has no {missing} key(s); mail_dns_dmarc and mail_dns_mta_sts return their records under "
            "'record' and 'authorizations', pass those",
        )
    raw_name = value["name"]
    if not isinstance(raw_name, str) or not raw_name.endswith("."):
        raise record_error(_ZONE, where, f"name = {show(raw_name)} must be an absolute name, ending in '.'")
    name, problem = domain_name(raw_name, min_labels=1, service_labels=True)
    if name is None:
        raise record_error(_ZONE, where, f"name {problem}")
    rtype = value["type"]
    where = f"record {index} ({name}. {rtype})"
    if rtype not in _ZONE_TYPES:
        raise record_error(_ZONE, where, f"type = {show(rtype)} must be one of {list(_ZONE_TYPES)}")
    ttl = checked_ttl(_ZONE, where, value["ttl"])
    values = value["values"]
    if isinstance(values, str | bytes) or not isinstance(values, list | tuple) or not values:
        raise record_error(_ZONE, where, f"values must be a non-empty list of rdata strings, got {show(values)}")
    for position, rdata in enumerate(values):
        if not isinstance(rdata, str) or not rdata.strip() or "\n" in rdata or "\r" in rdata:
            raise record_error(
                _ZONE, where, f"values[{position}] = {show(rdata)} must be a non-empty string on one line"
            )
    return name + ".", rtype, ttl, list(values)


def mail_dns_zone(records: list, origin: str | None = None) -> str:
    """Zone-file lines of records, in DNS canonical order, names relative to origin when it is given."""
    propagate_undefined(records, origin)
    if isinstance(records, str | bytes) or not isinstance(records, list | tuple):
        raise record_error(_ZONE, "records", f"must be a list of records, got {show(records)}")
    zone_origin = None
    if origin is not None:
        zone_origin, problem = domain_name(origin, min_labels=1)
        if zone_origin is None:
            raise record_error(_ZONE, "origin", problem)
        zone_origin += "."
    rows = [_zone_record(index, value) for index, value in enumerate(records)]
    ttls: dict[tuple[str, str], int] = {}
    for name, rtype, ttl, _ in rows:
        first = ttls.setdefault((name, rtype), ttl)
        if first != ttl:
            raise record_error(
                _ZONE,
                f"{name} {rtype}",
                f"has the TTLs {first} and {ttl}; the records of one name and type form one "
                "RRset, which has one TTL (RFC 2181 section 5.2)",
            )
    rows.sort(key=lambda row: (tuple(reversed(row[0].split("."))), row[1]))
    lines = []
    for name, rtype, ttl, values in rows:
        owner = name
        if zone_origin is not None:
            if name == zone_origin:
                owner = "@"
            elif name.endswith("." + zone_origin):
                owner = name[: -len(zone_origin) - 1]
        lines += [f"{owner} {ttl} IN {rtype} {value}\n" for value in values]
    return "".join(lines)
