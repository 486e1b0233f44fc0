# SPDX-License-Identifier: MIT
"""DNS filters for mailfort: the records a mail domain publishes, built from validated intent.

SPF (RFC 7208), DKIM (RFC 6376, RFC 8301, RFC 8463), DMARC (RFC 7489 and RFC 9989), MTA-STS (RFC 8461), TLS-RPT
(RFC 8460), TLSA (RFC 6698, RFC 7672) and CAA (RFC 8659) records, and a zone-file fragment of them. Every filter is
pure: no DNS query, no file, no clock. Each validates its input first and names the record and the rule it broke.

Every record builder returns the same shape: ``name`` (absolute, lower case, trailing dot), ``type``, ``ttl`` and
``values`` (the rdata in zone-file presentation format, one entry a resource record); TXT records also carry
``text`` (the logical string, before it is split into character-strings) and ``match`` (the prefix that tells the
record apart from other TXT records at the same name, so that a publisher replaces only its own).

RFC 9989 (DMARC, which obsoletes RFC 7489) is cited with the section numbers of its last draft,
draft-ietf-dmarc-dmarcbis-41: 4.7 (the tags), 4.8 (the formal definition) and appendix C.5 (tags added and removed).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jinja2 import Undefined

# Several filters live in this one file, so each filter's documentation is one entry of these YAML mappings, keyed
# by the filter's name (ansible-doc itself only reads per-filter sidecar files named <filter>.yml).
_TXT_STRINGS = "mail_dns_txt_strings"
_TXT_RDATA = "mail_dns_txt_rdata"
_SPF = "mail_dns_spf"
_DKIM = "mail_dns_dkim"
_DMARC = "mail_dns_dmarc"
_MTA_STS = "mail_dns_mta_sts"
_TLSRPT = "mail_dns_tlsrpt"
_TLSA = "mail_dns_tlsa"
_CAA = "mail_dns_caa"
_ZONE = "mail_dns_zone"

_SHOWN_VALUE_MAX = 80
_TTL_MAX = 2**31 - 1  # RFC 2181 section 8
_TTL_RULE = f"TTLs are whole seconds from 0 to {_TTL_MAX} (RFC 2181 section 8)"
_TXT_STRING_MAX = 255  # octets in one character-string, RFC 1035 section 3.3
_NAME_MAX = 253  # characters of a name written without its trailing dot (RFC 1035 section 2.3.4: 255 octets)
_LABEL_MAX = 63
_PORT_MAX = 65535
_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DNS_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")  # service labels such as _spf, _report
_DIGITS = re.compile(r"[0-9]+")
_NAME_RULE = "RFC 1035 section 2.3.1"

# Presentation of each byte inside a quoted character-string (RFC 1035 section 5.1): printable ASCII as itself,
# '"' and '\' escaped, everything else as \DDD.
_TXT_ESCAPES = tuple(
    ("\\" + chr(byte)) if byte in b'"\\' else chr(byte) if 0x20 <= byte <= 0x7E else f"\\{byte:03d}"
    for byte in range(256)
)


# ------------------------------------------------------------------------------------------------ helpers


def _show(value: Any) -> str:
    """Repr of a user value for an error message, cut short so a huge value cannot flood the output."""
    shown = repr(value)
    return shown if len(shown) <= _SHOWN_VALUE_MAX else shown[: _SHOWN_VALUE_MAX - 3] + "..."


def _fail_if_undefined(*values: Any) -> None:
    """Raise the undefined-variable error of the first undefined value, looking inside dicts and lists too."""
    for value in values:
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()
        if isinstance(value, Mapping):
            _fail_if_undefined(*value.values())
        elif isinstance(value, list | tuple):
            _fail_if_undefined(*value)


def _named(record: str, varname: Any) -> str:
    """The record's label with the user's variable in front, when the caller names it."""
    _fail_if_undefined(varname)
    return f"{varname} ({record})" if isinstance(varname, str) and varname else record


def _error(filter_name: str, record: str, problem: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"{filter_name}: {record}: {problem}")


def _name_problem(name: str, *, min_labels: int = 2, service_labels: bool = False) -> str | None:
    """Why a lower-case name without trailing dot is not a DNS name, or None when it is."""
    labels = name.split(".")
    pattern = _DNS_LABEL if service_labels else _HOST_LABEL
    bad = next((label for label in labels if not pattern.fullmatch(label)), None)
    problem = None
    if not name:
        problem = "it is empty"
    elif len(name) > _NAME_MAX:
        problem = f"it is longer than {_NAME_MAX} characters (RFC 1035 section 2.3.4)"
    elif "" in labels:
        problem = "it has an empty label (a leading, trailing or doubled dot)"
    elif len(labels) < min_labels:
        problem = f"it needs at least {min_labels} labels (a name such as example.org)"
    elif bad is not None:
        problem = (
            f"the label {bad[:20]!r}... is longer than {_LABEL_MAX} characters (RFC 1035 section 2.3.4)"
            if len(bad) > _LABEL_MAX
            else f"the label {bad!r} is not letters, digits and inner hyphens ({_NAME_RULE})"
        )
    elif _DIGITS.fullmatch(labels[-1]):
        problem = "its last label is all digits, so it reads as an IP address, not a name"
    return problem


def _name(value: Any, *, min_labels: int = 2, service_labels: bool = False) -> tuple[str | None, str | None]:
    """(the name lower-cased without its trailing dot, None) or (None, why it is not a DNS name)."""
    if not isinstance(value, str):
        return None, f"must be a domain name (a string), got {_show(value)}"
    if not value.isascii():
        # Checked before lower-casing: str.lower() maps some non-ASCII letters (the Kelvin sign) to ASCII ones.
        return None, f"{_show(value)} has non-ASCII characters; write internationalised names as xn-- A-labels"
    name = value.strip().lower()
    name = name[:-1] if name.endswith(".") else name
    problem = _name_problem(name, min_labels=min_labels, service_labels=service_labels)
    if problem is not None:
        return None, f"{_show(value)} is not a domain name: {problem}"
    return name, None


def _subject(filter_name: str, kind: str, domain: Any, *, service_labels: bool = False) -> tuple[str, str]:
    """The validated domain a filter's records belong to, and the record's description for error messages."""
    name, problem = _name(domain, service_labels=service_labels)
    if name is None:
        raise _error(filter_name, f"{kind} for {_show(domain)}", f"the domain {problem}")
    return name, f"{kind} for {name}"


def _owner(filter_name: str, record: str, name: str) -> str:
    """The absolute owner name; refuses one that the DNS cannot carry."""
    if len(name) > _NAME_MAX:
        raise _error(
            filter_name,
            record,
            f"the owner name {name[:40]}... has {len(name)} characters; RFC 1035 section 2.3.4 allows {_NAME_MAX}",
        )
    return name + "."


def _whole_number(value: Any) -> int | None:
    """An int, or a string of decimal digits (as -e passes numbers); None for anything else, bools included."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _ttl(filter_name: str, record: str, value: Any) -> int:
    ttl = _whole_number(value)
    if ttl is None or not 0 <= ttl <= _TTL_MAX:
        raise _error(filter_name, record, f"ttl = {_show(value)} is not a TTL: {_TTL_RULE}")
    return ttl


def _spec(filter_name: str, record: str, value: Any, known: tuple[str, ...]) -> Mapping:
    if not isinstance(value, Mapping):
        raise _error(filter_name, record, f"the input must be a dict with the keys {list(known)}, got {_show(value)}")
    unknown = sorted(str(key) for key in value if key not in known)
    if unknown:
        raise _error(filter_name, record, f"unknown keys {unknown}; known are {list(known)}")
    return value


def _string_list(filter_name: str, record: str, what: str, value: Any) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise _error(filter_name, record, f"{what} must be a list of strings, got {_show(value)}")
    for index, entry in enumerate(value):
        if not isinstance(entry, str):
            raise _error(filter_name, record, f"{what}[{index}] = {_show(entry)} must be a string")
    return list(value)


def _no_duplicates(filter_name: str, record: str, what: str, values: list[str]) -> None:
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        first = seen.setdefault(value, index)
        if first != index:
            raise _error(filter_name, record, f"{what}[{index}] = {value!r} repeats {what}[{first}]; list it once")


# -------------------------------------------------------------------------------------------------- TXT


def _utf8(filter_name: str, record: str, text: Any) -> bytes:
    if not isinstance(text, str):
        raise _error(filter_name, record, f"the text must be a string, got {_show(text)}")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:  # lone surrogates
        raise _error(filter_name, record, f"the text {_show(text)} cannot be encoded as UTF-8: {e.reason}") from e


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


def _txt_record(name: str, ttl: int, text: str, match: str, **extra: Any) -> dict[str, Any]:
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
    _fail_if_undefined(text)
    return [piece.decode("utf-8") for piece in _split(_utf8(_TXT_STRINGS, "TXT text", text))]


def mail_dns_txt_rdata(text: str) -> str:
    """The zone-file presentation of a TXT text: quoted, escaped character-strings joined by spaces."""
    _fail_if_undefined(text)
    return _rdata(_utf8(_TXT_RDATA, "TXT text", text))


# -------------------------------------------------------------------------------------------------- SPF

_SPF_KEYS = ("mechanisms", "all", "redirect", "exp")
_SPF_MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
_SPF_LOOKUP_TERMS = frozenset({"include", "a", "mx", "ptr", "exists", "redirect"})
_SPF_FOLLOWED = frozenset({"include", "redirect"})
_SPF_LOOKUP_MAX = 10  # RFC 7208 section 4.6.4
_SPF_VOID_MAX = 2  # RFC 7208 section 4.6.4
_SPF_TEXT_MAX = 450  # RFC 7208 section 3.4: the answer should fit in 512 octets of UDP
_SPF_ALL = ("-all", "~all")
_SPF_TERM = re.compile(r"([+\-~?]?)([A-Za-z][A-Za-z0-9]*)(.*)", re.DOTALL)
_SPF_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9._-]*)=(.*)", re.DOTALL)
_SPF_CIDR = re.compile(r"(?P<spec>.*?)(?:/(?P<v4>[0-9]+))?(?://(?P<v6>[0-9]+))?", re.DOTALL)
_SPF_PREFIX = re.compile(r"0|[1-9][0-9]*")
_SPF_MACRO = re.compile(r"%\{([A-Za-z])([0-9]*)([rR]?)([.\-+,/_=]*)\}|%[%_-]")
_SPF_MACRO_LETTERS = frozenset("slodiphv")
_SPF_EXP_LETTERS = frozenset("crt")  # RFC 7208 section 7.2: only in explanation text
_SPF_TOPLABEL = r"(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])"
_SPF_DOMAIN_END = re.compile(rf"\.{_SPF_TOPLABEL}\.?\Z")
_SPF_SECTIONS = {"include": "5.2", "a": "5.3", "mx": "5.4", "ptr": "5.5", "ip4": "5.6", "ip6": "5.6", "exists": "5.7"}


def _spf_domain_spec(spec: str) -> tuple[str, str | None]:
    """(the domain-spec, lower-cased without trailing dot when it has no macro; that name or None for macros).

    Raises ValueError with the problem, worded to follow the term it belongs to.
    """
    if not spec:
        raise ValueError("has an empty domain (RFC 7208 section 7.1)")
    position, macro_end = 0, -1
    while position < len(spec):
        char = spec[position]
        if char == "%":
            macro = _SPF_MACRO.match(spec, position)
            if macro is None:
                raise ValueError(
                    f"has a '%' that starts no macro in {spec!r}; write %% for a literal % (RFC 7208 section 7.1)"
                )
            letter = macro.group(1)
            if letter is not None and letter.lower() in _SPF_EXP_LETTERS:
                raise ValueError(
                    f"uses the macro %{{{letter}}}, which RFC 7208 section 7.2 allows only in explanation text"
                )
            if letter is not None and letter.lower() not in _SPF_MACRO_LETTERS:
                raise ValueError(
                    f"uses the unknown macro letter {letter!r}; RFC 7208 section 7.2 knows s, l, o, d, i, p, h, v"
                )
            if macro.group(2) and int(macro.group(2)) == 0:
                raise ValueError(f"has the transformer 0 in {macro.group(0)!r}; RFC 7208 section 7.3 wants 1 or more")
            position = macro_end = macro.end()
        elif "!" <= char <= "~":
            position += 1
        else:
            raise ValueError(
                f"has the character {char!r} in {spec!r}; domains are visible ASCII (RFC 7208 section 7.1)"
            )
    if macro_end < 0:
        name = spec.lower()
        name = name[:-1] if name.endswith(".") else name
        problem = _name_problem(name, service_labels=True)
        if problem is not None:
            raise ValueError(f"names {spec!r}, which is not a domain name: {problem}")
        return name, name
    if macro_end < len(spec) and not _SPF_DOMAIN_END.search(spec, macro_end):
        raise ValueError(
            f"has the domain {spec!r}, which must end in a macro or in '.' and a top label (RFC 7208 section 7.1)"
        )
    return spec, None


def _spf_network(mechanism: str, text: str) -> str:
    address, slash, prefix = text.partition("/")
    version, bits = (4, 32) if mechanism == "ip4" else (6, 128)
    try:
        if "%" in address:  # ipaddress accepts IPv6 zone ids, which mean nothing outside one host
            raise ValueError("zone id")
        ip = ipaddress.IPv4Address(address) if version == 4 else ipaddress.IPv6Address(address)
    except ValueError as e:
        raise ValueError(f"has no valid IPv{version} address (RFC 7208 section 5.6)") from e
    if not slash:
        return str(ip)
    if not _SPF_PREFIX.fullmatch(prefix) or int(prefix) > bits:
        raise ValueError(
            f"has the prefix length {prefix!r}; IPv{version} prefix lengths are 0 to {bits} without leading zeros "
            "(RFC 7208 section 5.6)"
        )
    return f"{ip}/{prefix}"


def _spf_cidr(match: re.Match) -> str:
    cidr = ""
    for group, bits, separator in (("v4", 32, "/"), ("v6", 128, "//")):
        length = match.group(group)
        if length is None:
            continue
        if not _SPF_PREFIX.fullmatch(length) or int(length) > bits:
            raise ValueError(
                f"has the prefix length {separator}{length}; lengths are 0 to {bits} without leading zeros "
                "(RFC 7208 section 5.6)"
            )
        cidr += f"{separator}{length}"
    return cidr


def _spf_mechanism(term: str) -> tuple[str, str, str, str | None]:
    """(qualifier, mechanism name, the term without qualifier, normalised; its target domain or None).

    The target is the name the term queries when it is written without macros; None for a macro domain and for
    terms that query the domain being evaluated (a, mx without a domain). Raises ValueError with the problem.
    """
    parsed = _SPF_TERM.fullmatch(term)
    if parsed is None:
        raise ValueError("is not an SPF mechanism (RFC 7208 section 5)")
    qualifier, name, rest = parsed.group(1), parsed.group(2).lower(), parsed.group(3)
    if name not in _SPF_MECHANISMS:
        raise ValueError(f"has the unknown mechanism {name!r}; RFC 7208 section 5 defines {', '.join(_SPF_MECHANISMS)}")
    if name == "all":
        if rest:
            raise ValueError("has text after 'all', which takes no argument (RFC 7208 section 5.1)")
        return qualifier, name, name, None
    section = _SPF_SECTIONS[name]
    if name in ("ip4", "ip6"):
        if not rest.startswith(":"):
            raise ValueError(f"needs an address: {name}:<network> (RFC 7208 section {section})")
        return qualifier, name, f"{name}:{_spf_network(name, rest[1:])}", None
    if name in ("include", "exists"):
        if not rest.startswith(":"):
            raise ValueError(f"needs a domain: {name}:<domain> (RFC 7208 section {section})")
        spec, target = _spf_domain_spec(rest[1:])
        return qualifier, name, f"{name}:{spec}", target
    cidr = ""
    if name != "ptr":  # a and mx take optional prefix lengths after their domain
        lengths = _SPF_CIDR.fullmatch(rest)
        rest, cidr = lengths.group("spec"), _spf_cidr(lengths)
    if not rest:
        return qualifier, name, name + cidr, None
    if not rest.startswith(":"):
        raise ValueError(f"is not {name}, {name}:<domain> or {name}/<prefix> (RFC 7208 section {section})")
    spec, target = _spf_domain_spec(rest[1:])
    return qualifier, name, f"{name}:{spec}{cidr}", target


class _SpfLookups:
    """Counts the DNS-querying terms of an SPF evaluation, following includes and redirects through resolved."""

    def __init__(self, record: str, resolved: dict[str, str | None] | None) -> None:
        self.record = record
        self.resolved = resolved
        self.lookups = 0
        self.voids = 0
        self.unresolved: list[str] = []

    def fail(self, problem: str) -> AnsibleFilterError:
        return _error(_SPF, self.record, problem)

    def query(self, term: str, mechanism: str, target: str | None, path: list[str], chain: list[str]) -> None:
        """One term that makes a DNS query: count it, and follow it where resolved tells what the query finds."""
        self.lookups += 1
        where = " -> ".join([*path, term])
        if self.lookups > _SPF_LOOKUP_MAX:
            raise self.fail(
                f"needs more than {_SPF_LOOKUP_MAX} DNS lookups, the {self.lookups}th at {where}; RFC 7208 section "
                f"4.6.4 allows {_SPF_LOOKUP_MAX} (include, a, mx, ptr, exists, redirect, counting those of included "
                "records) and receivers return permerror beyond"
            )
        followed = mechanism in _SPF_FOLLOWED
        if target is None:
            return
        if followed and target in chain:
            loop = " -> ".join([*chain, target])
            raise self.fail(
                f"{where} makes an include loop ({loop}); a receiver would go round it until RFC 7208 section "
                "4.6.4's lookup limit ends the evaluation with permerror"
            )
        if self.resolved is None or target not in self.resolved:
            if followed and target not in self.unresolved:
                self.unresolved.append(target)
            return
        text = self.resolved[target]
        if text is None:
            self.voids += 1
            if followed:
                section = "5.2" if mechanism == "include" else "6.1"
                raise self.fail(
                    f"{where}: {target} has no SPF record, which RFC 7208 section {section} makes a permerror"
                )
            if self.voids > _SPF_VOID_MAX:
                raise self.fail(
                    f"makes {self.voids} void lookups (queries that find nothing), the last at {where}; RFC 7208 "
                    f"section 4.6.4 allows {_SPF_VOID_MAX}"
                )
            return
        if followed:
            self.evaluate(target, text, [*path, term], [*chain, target])

    def evaluate(self, domain: str, text: str, path: list[str], chain: list[str]) -> None:
        """Count the lookups of another domain's SPF record, as a receiver evaluates it when nothing matches."""
        where = " -> ".join(path)
        version, *terms = text.split(" ")
        if version.lower() != "v=spf1":
            raise self.fail(
                f"{where}: the record resolved for {domain} ({_show(text)}) does not start with 'v=spf1 ' "
                "(RFC 7208 section 4.5), so the domain has no SPF record, a permerror"
            )
        seen_all = False
        modifiers: dict[str, tuple[str, str | None]] = {}
        for term in filter(None, terms):  # terms are separated by one or more spaces
            modifier = _SPF_MODIFIER.fullmatch(term)
            if modifier is not None:
                name = modifier.group(1).lower()
                if name not in ("redirect", "exp"):
                    continue  # RFC 7208 section 6: unknown modifiers are ignored
                if name in modifiers:
                    raise self.fail(f"{where}: the record of {domain} has {name}= twice (RFC 7208 section 6: once)")
                try:
                    spec, target = _spf_domain_spec(modifier.group(2))
                except ValueError as e:
                    raise self.fail(f"{where}: the record of {domain}: {term!r} {e}") from e
                modifiers[name] = (f"{name}={spec}", target)
                continue
            try:
                _, mechanism, normal, target = _spf_mechanism(term)
            except ValueError as e:
                raise self.fail(f"{where}: the record of {domain}: {term!r} {e}") from e
            if seen_all:
                continue  # RFC 7208 section 5.1: mechanisms after all are never tested
            if mechanism == "all":
                seen_all = True
            elif mechanism in _SPF_LOOKUP_TERMS:
                self.query(normal, mechanism, target, path, chain)
        if "redirect" in modifiers and not seen_all:  # RFC 7208 section 6.1: ignored when all is present
            term, target = modifiers["redirect"]
            self.query(term, "redirect", target, path, chain)


def _spf_resolved(record: str, resolved: Any) -> dict[str, str | None] | None:
    if resolved is None:
        return None
    if not isinstance(resolved, Mapping):
        raise _error(
            _SPF, record, f"resolved must be a dict from domain name to SPF text or None, got {_show(resolved)}"
        )
    result: dict[str, str | None] = {}
    for key, value in resolved.items():
        if not isinstance(key, str):
            raise _error(_SPF, record, f"resolved has the key {_show(key)}; keys are domain names")
        if value is not None and not isinstance(value, str):
            raise _error(_SPF, record, f"resolved[{key!r}] = {_show(value)} must be the SPF record's text or None")
        name = key.strip().lower()
        result[name[:-1] if name.endswith(".") else name] = value
    return result


def _spf_term(record: str, index: int, term: Any) -> tuple[str, str, str | None]:
    """(the term as written into the record, mechanism name, target) of one term of the mechanisms list."""
    where = f"mechanisms[{index}]"
    if not isinstance(term, str):
        raise _error(_SPF, record, f"{where} = {_show(term)} must be a string")
    if not term or any(char.isspace() for char in term):
        raise _error(_SPF, record, f"{where} = {_show(term)} must be one term, without spaces")
    modifier = _SPF_MODIFIER.fullmatch(term)
    if modifier is not None:
        name = modifier.group(1).lower()
        if name in ("redirect", "exp"):
            raise _error(
                _SPF,
                record,
                f"{where} = {term!r} is a modifier; give it as the key {name!r}, which mailfort writes "
                "once and last (RFC 7208 section 6: each at most once)",
            )
        raise _error(
            _SPF,
            record,
            f"{where} = {term!r} is the unknown modifier {name!r}; receivers ignore it (RFC 7208 "
            "section 6), so it is most likely a typo; mailfort writes only redirect and exp",
        )
    try:
        qualifier, mechanism, normal, target = _spf_mechanism(term)
    except ValueError as e:
        raise _error(_SPF, record, f"{where} = {term!r} {e}") from e
    if mechanism == "all":
        raise _error(
            _SPF,
            record,
            f"{where} = {term!r}: give all as the key 'all', which mailfort writes last; RFC 7208 "
            "section 5.1: mechanisms after all are never tested",
        )
    if mechanism == "ptr":
        raise _error(
            _SPF,
            record,
            f"{where} = {term!r}: RFC 7208 section 5.5 says ptr should not be used (slow, unreliable, "
            "a burden on the .arpa name servers, and some receivers skip it); list the addresses with ip4/ip6 or a",
        )
    return ("" if qualifier == "+" else qualifier) + normal, mechanism, target


def _spf_all(record: str, value: Any) -> str:
    if value in _SPF_ALL:
        return value
    if value in ("all", "+all"):
        problem = "passes every host on the Internet (RFC 7208 section 5.1), which makes the record worthless"
    elif value == "?all":
        problem = "is neutral, which receivers treat like no SPF record at all (RFC 7208 section 8.2)"
    else:
        problem = "is not an all term"
    raise _error(_SPF, record, f"all = {_show(value)} {problem}; use '-all' (fail) or '~all' (softfail)")


def _spf_mechanisms(record: str, mechanisms: Any, counter: _SpfLookups, domain: str) -> list[str]:
    """The terms of the mechanisms list as written into the record; counts their lookups."""
    if isinstance(mechanisms, str | bytes) or not isinstance(mechanisms, list | tuple):
        raise _error(_SPF, record, f"mechanisms must be a list of terms, got {_show(mechanisms)}")
    terms: list[str] = []
    seen: dict[str, int] = {}
    for index, term in enumerate(mechanisms):
        text, mechanism, target = _spf_term(record, index, term)
        key = text.lstrip("+-~?")
        first = seen.setdefault(key, index)
        if first != index:
            raise _error(
                _SPF,
                record,
                f"mechanisms[{index}] = {term!r} repeats mechanisms[{first}]; only the first can ever "
                "match (RFC 7208 section 4.6.2) and a repeated lookup counts against the limit",
            )
        terms.append(text)
        if mechanism in _SPF_LOOKUP_TERMS:
            counter.query(key, mechanism, target, [], [domain])
    return terms


def _spf_ending(record: str, spec: Mapping, counter: _SpfLookups, domain: str) -> list[str]:
    """The all term or the redirect= modifier, then exp= when given; counts the redirect's lookups."""
    all_term = spec.get("all")
    terms = [] if all_term is None else [_spf_all(record, all_term)]
    for name in ("redirect", "exp"):
        value = spec.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise _error(_SPF, record, f"{name} = {_show(value)} must be a domain (a string)")
        try:
            target_spec, target = _spf_domain_spec(value)
        except ValueError as e:
            raise _error(_SPF, record, f"{name} = {value!r} {e}") from e
        terms.append(f"{name}={target_spec}")
        if name == "redirect":
            counter.query(terms[-1], name, target, [], [domain])
    return terms


def mail_dns_spf(
    spec: dict, domain: str, resolved: dict | None = None, ttl: int = 3600, varname: str = ""
) -> dict[str, Any]:
    """Validate an SPF policy, count its DNS lookups (through resolved records) and build its TXT record."""
    _fail_if_undefined(spec, domain, resolved, ttl)
    # Service labels too: records for include: targets live at names such as _spf.example.org.
    domain, record = _subject(_SPF, "SPF record", domain, service_labels=True)
    record = _named(record, varname)
    ttl = _ttl(_SPF, record, ttl)
    spec = _spec(_SPF, record, spec, _SPF_KEYS)
    known = _spf_resolved(record, resolved)
    if known is not None:
        known.pop(domain, None)  # the record being built, not what the DNS holds today
    if (spec.get("all") is None) == (spec.get("redirect") is None):
        problem = (
            "give either 'all' or 'redirect', not both: RFC 7208 section 6.1 ignores redirect in a record with all"
            if spec.get("all") is not None
            else "needs 'all' ('-all' or '~all') or 'redirect': a record that ends without one leaves every other "
            "host neutral (RFC 7208 section 4.7)"
        )
        raise _error(_SPF, record, problem)
    counter = _SpfLookups(record, known)
    terms = _spf_mechanisms(record, spec.get("mechanisms", []), counter, domain)
    terms += _spf_ending(record, spec, counter, domain)
    text = " ".join(["v=spf1", *terms])
    size = len(text.encode("ascii"))
    if size > _SPF_TEXT_MAX:
        raise _error(
            _SPF,
            record,
            f"the record text has {size} octets; mailfort allows {_SPF_TEXT_MAX} so that the DNS "
            "answer fits in 512 octets of UDP, as RFC 7208 section 3.4 asks: move addresses into an include",
        )
    return _txt_record(
        _owner(_SPF, record, domain),
        ttl,
        text,
        "v=spf1",
        lookups=counter.lookups,
        void_lookups=counter.voids,
        unresolved=counter.unresolved,
    )


# ------------------------------------------------------------------------------------------------- PEM

_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)
_PRIVATE_KEY_MESSAGE = "holds a private key; never pass private keys, give the public key or the certificate"


def _pem_blocks(filter_name: str, record: str, what: str, value: Any) -> list[tuple[str, bytes]]:
    """(label, whole block) of every PEM block; never shows the text, which might hold a secret."""
    if not isinstance(value, str):
        raise _error(filter_name, record, f"{what} must be PEM text (a string), got a {type(value).__name__}")
    if "PRIVATE KEY" in value:
        raise _error(filter_name, record, f"{what} {_PRIVATE_KEY_MESSAGE}")
    blocks = [(match.group(1), match.group(0).encode("ascii", "replace")) for match in _PEM_BLOCK.finditer(value)]
    if not blocks or value.count("-----BEGIN ") != len(blocks):
        raise _error(
            filter_name, record, f"{what} is not PEM text: every '-----BEGIN <type>-----' line needs its END line"
        )
    return blocks


# ------------------------------------------------------------------------------------------------ DKIM

_DKIM_KEYS = ("domain", "selector", "public_key", "testing", "service")
_DKIM_SERVICES = ("email", "*")
_DKIM_RSA_MIN = 2048
_DKIM_RSA_MAX = 4096


def _dkim_selector(record: str, value: Any) -> str:
    if not isinstance(value, str) or not value.isascii():
        raise _error(_DKIM, record, f"the selector {_show(value)} must be a string of ASCII letters, digits and '-'")
    selector = value.strip().lower()
    problem = _name_problem(selector, min_labels=1)
    if problem is not None:
        raise _error(
            _DKIM,
            record,
            f"the selector {_show(value)} is not dot-separated labels of letters, digits and inner hyphens "
            f"(RFC 6376 section 3.1): {problem}",
        )
    return selector


def _dkim_key(record: str, value: Any) -> tuple[str, int, bytes]:
    """(algorithm, bits, the bytes p= carries) of a PEM public key."""
    blocks = _pem_blocks(_DKIM, record, "public_key", value)
    if len(blocks) != 1 or blocks[0][0] != "PUBLIC KEY":
        labels = ", ".join(label for label, _ in blocks)
        raise _error(
            _DKIM,
            record,
            f"public_key holds {labels}; give exactly one '-----BEGIN PUBLIC KEY-----' block "
            "(openssl pkey -pubout writes it)",
        )
    try:
        key = serialization.load_pem_public_key(blocks[0][1])
    except (ValueError, UnsupportedAlgorithm) as e:
        raise _error(_DKIM, record, "public_key is not a readable PEM SubjectPublicKeyInfo public key") from e
    if isinstance(key, rsa.RSAPublicKey):
        bits = key.key_size
        if bits < _DKIM_RSA_MIN:
            raise _error(
                _DKIM,
                record,
                f"the RSA key has {bits} bits: RFC 8301 section 3.2 requires at least 1024, mailfort "
                f"requires {_DKIM_RSA_MIN}",
            )
        if bits > _DKIM_RSA_MAX:
            raise _error(
                _DKIM,
                record,
                f"the RSA key has {bits} bits: RFC 8301 section 3.2 has verifiers handle keys up to "
                f"{_DKIM_RSA_MAX} bits only, and larger keys hardly fit a DNS answer",
            )
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return "rsa", bits, der
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256, key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_type = f"an EC key on {key.curve.name}" if isinstance(key, ec.EllipticCurvePublicKey) else type(key).__name__
    raise _error(
        _DKIM,
        record,
        f"public_key holds {key_type}; DKIM knows RSA (RFC 6376 section 3.3) and Ed25519 (RFC 8463) keys only",
    )


def mail_dns_dkim(key: dict, ttl: int = 3600) -> dict[str, Any]:
    """The DKIM key record of a selector: name, TXT text from the PEM public key, its algorithm and size."""
    _fail_if_undefined(key, ttl)
    spec = _spec(_DKIM, "DKIM record", key, _DKIM_KEYS)
    domain, record = _subject(_DKIM, "DKIM record", spec.get("domain"))
    for required in ("selector", "public_key"):
        if required not in spec:
            raise _error(_DKIM, record, f"the key {required!r} is missing")
    selector = _dkim_selector(record, spec["selector"])
    name = f"{selector}._domainkey.{domain}"
    record = f"DKIM record {name}"
    owner = _owner(_DKIM, record, name)
    ttl = _ttl(_DKIM, record, ttl)
    testing = spec.get("testing", False)
    if not isinstance(testing, bool):
        raise _error(_DKIM, record, f"testing = {_show(testing)} must be true or false")
    service = spec.get("service")
    if service is not None and service not in _DKIM_SERVICES:
        raise _error(
            _DKIM, record, f"service = {_show(service)} must be one of {list(_DKIM_SERVICES)} (RFC 6376 section 3.6.1)"
        )
    algorithm, bits, key_bytes = _dkim_key(record, spec["public_key"])
    tags = ["v=DKIM1", f"k={algorithm}"]
    if service is not None:
        tags.append(f"s={service}")
    if testing:
        tags.append("t=y")
    tags.append("p=" + base64.b64encode(key_bytes).decode("ascii"))
    return _txt_record(owner, ttl, "; ".join(tags), "v=DKIM1", algorithm=algorithm, bits=bits)


# ----------------------------------------------------------------------------------------------- DMARC

_DMARC_TAGS = ("p", "sp", "np", "psd", "t", "adkim", "aspf", "fo", "rua", "ruf")  # also the order they are written
_DMARC_REMOVED = {
    "pct": "use t=y to test a policy",
    "rf": "failure reports have one format",
    "ri": "aggregate reports come daily",
}
_DMARC_POLICIES = ("none", "quarantine", "reject")
_DMARC_CHOICES = {
    "p": _DMARC_POLICIES,
    "sp": _DMARC_POLICIES,
    "np": _DMARC_POLICIES,
    "adkim": ("r", "s"),
    "aspf": ("r", "s"),
    "t": ("y", "n"),
    "psd": ("y", "n", "u"),
}
_DMARC_FO = ("0", "1", "d", "s")
_DMARC_SIZE = re.compile(r"![0-9]+[kmgtKMGT]?\Z")
_MAILTO_LOCAL = re.compile(r"(?:[A-Za-z0-9#$&'*+/=^_`{|}~.-]|%[0-9A-Fa-f]{2})+")
_MAILTO_LOCAL_MAX = 64  # RFC 5321 section 4.5.3.1.1


def _mailto(uri: str, *, bang: bool) -> tuple[str, str]:
    """(the URI with the scheme in lower case, the address's domain) of a mailto: URI; ValueError when not one."""
    address = uri[len("mailto:") :]
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise ValueError("is not mailto:<local part>@<domain>")
    if "?" in address:
        raise ValueError("has a query ('?'); a report address is mailto:<local part>@<domain> alone")
    checked = local.replace("!", "") if bang else local
    if not _MAILTO_LOCAL.fullmatch(checked) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError(
            "has a local part that is not letters, digits, inner dots and the specials of RFC 5322 section 3.2.3 "
            "(others percent-encoded, RFC 6068 section 2)"
        )
    if len(local) > _MAILTO_LOCAL_MAX:
        raise ValueError(f"has a local part longer than {_MAILTO_LOCAL_MAX} characters (RFC 5321 section 4.5.3.1.1)")
    name, problem = _name(domain)
    if name is None:
        raise ValueError(f"has a bad domain: {problem}")
    return f"mailto:{local}@{name}", name


def _dmarc_uri(record: str, where: str, uri: Any) -> tuple[str, str]:
    if not isinstance(uri, str):
        raise _error(_DMARC, record, f"{where} = {_show(uri)} must be a mailto: URI (a string)")
    if not uri.lower().startswith("mailto:"):
        raise _error(
            _DMARC,
            record,
            f"{where} = {_show(uri)}: report addresses must be mailto: URIs; RFC 9989 section 4.7 "
            "allows any URI, but receivers must support only mailto:, so another scheme may get no reports",
        )
    if _DMARC_SIZE.search(uri):
        raise _error(
            _DMARC,
            record,
            f"{where} = {_show(uri)} has a '!size' limit: RFC 9989 section 4.8 makes it obsolete "
            "syntax that reporters ignore (RFC 7489 section 6.2 had it); leave it out",
        )
    for char, encoded in (("!", "%21"), (",", "%2C"), (";", "%3B")):
        if char in uri:
            raise _error(
                _DMARC,
                record,
                f"{where} = {_show(uri)} has a raw {char!r}; write it as {encoded} (RFC 9989 section "
                "4.8: commas and exclamation points in a report URI must be percent-encoded, and ';' ends the tag)",
            )
    if any(char.isspace() for char in uri):
        raise _error(_DMARC, record, f"{where} = {_show(uri)} has whitespace, which no URI holds (RFC 3986)")
    try:
        return _mailto("mailto:" + uri[len("mailto:") :], bang=False)
    except ValueError as e:
        raise _error(_DMARC, record, f"{where} = {_show(uri)} {e}") from e


def _org_domain(name: str) -> str:
    """The organizational domain, approximated without the public suffix list (see DOCUMENTATION)."""
    labels = name.split(".")
    keep = 3 if len(labels[-1]) == 2 else 2  # a two-letter TLD is a country's, often sold below co., com. and the like
    return ".".join(labels[-keep:])


def _same_organization(one: str, other: str) -> bool:
    return (
        one == other or one.endswith("." + other) or other.endswith("." + one) or _org_domain(one) == _org_domain(other)
    )


def _dmarc_fo(record: str, value: Any) -> str:
    options = value.split(":") if isinstance(value, str) else value
    if isinstance(options, bytes) or not isinstance(options, list | tuple) or not options:
        raise _error(_DMARC, record, f"fo = {_show(value)} must be a list of {list(_DMARC_FO)} or a string like '1:d'")
    for option in options:
        if option not in _DMARC_FO:
            raise _error(_DMARC, record, f"fo has {_show(option)}; the options are {list(_DMARC_FO)} (RFC 9989 4.7)")
    if len(set(options)) != len(options):
        raise _error(_DMARC, record, f"fo = {_show(value)} lists an option twice (RFC 9989 section 4.8: each once)")
    if "0" in options and "1" in options:
        raise _error(
            _DMARC, record, f"fo = {_show(value)} has both 0 and 1, which RFC 9989 section 4.7 makes mutually exclusive"
        )
    return ":".join(options)


def _dmarc_tags(record: str, spec: Any) -> Mapping:
    """The tags, after refusing the ones RFC 9989 removed, v, and unknown ones."""
    if isinstance(spec, Mapping):
        for tag in spec:
            if tag in _DMARC_REMOVED:
                raise _error(
                    _DMARC,
                    record,
                    f"the tag {tag!r} was removed by RFC 9989 (appendix C.5); RFC 9989 receivers "
                    f"ignore it and RFC 7489 receivers would apply it: leave it out ({_DMARC_REMOVED[tag]})",
                )
            if tag == "v":
                raise _error(_DMARC, record, "the tag 'v' is not yours to set: mailfort writes v=DMARC1 first")
    return _spec(_DMARC, record, spec, _DMARC_TAGS)


def _dmarc_reports(record: str, domain: str, spec: Mapping, values: dict[str, str]) -> list[str]:
    """Put rua and ruf into values; return the report domains outside the organization, in order."""
    report_domains: dict[str, None] = {}
    for tag in ("rua", "ruf"):
        uris = spec.get(tag)
        if uris is None:
            continue
        if isinstance(uris, str | bytes) or not isinstance(uris, list | tuple):
            raise _error(_DMARC, record, f"{tag} must be a list of mailto: URIs, got {_show(uris)}")
        written = []
        for index, uri in enumerate(uris):
            text, report_domain = _dmarc_uri(record, f"{tag}[{index}]", uri)
            written.append(text)
            if not _same_organization(domain, report_domain):
                report_domains.setdefault(report_domain, None)
        _no_duplicates(_DMARC, record, tag, written)
        if written:
            values[tag] = ",".join(written)
    return list(report_domains)


def mail_dns_dmarc(spec: dict, domain: str, ttl: int = 3600, varname: str = "") -> dict[str, Any]:
    """The DMARC record of a domain, valid under RFC 7489 and RFC 9989, and the report authorizations it needs."""
    _fail_if_undefined(spec, domain, ttl)
    domain, record = _subject(_DMARC, "DMARC record", domain)
    record = _named(record, varname)
    ttl = _ttl(_DMARC, record, ttl)
    spec = _dmarc_tags(record, spec)
    values: dict[str, str] = {"p": "none"}
    for tag, choices in _DMARC_CHOICES.items():
        value = spec.get(tag)
        if tag == "t" and isinstance(value, bool):
            value = "y" if value else "n"
        if value is None:
            continue
        if value not in choices:
            raise _error(
                _DMARC,
                record,
                f"{tag} = {_show(value)} is not one of {list(choices)} (RFC 9989 section 4.7, RFC 7489 section 6.3)",
            )
        values[tag] = value
    report_domains = _dmarc_reports(record, domain, spec, values)
    if spec.get("fo") is not None:
        if "ruf" not in values:
            raise _error(
                _DMARC,
                record,
                "fo without ruf: RFC 9989 section 4.7 ignores fo unless ruf names where failure reports go",
            )
        values["fo"] = _dmarc_fo(record, spec["fo"])
    text = "; ".join(["v=DMARC1", *(f"{tag}={values[tag]}" for tag in _DMARC_TAGS if tag in values)])
    authorizations = []
    for report_domain in report_domains:
        name = f"{domain}._report._dmarc.{report_domain}"
        owner = _owner(_DMARC, f"DMARC report authorization {name}", name)
        authorizations.append(_txt_record(owner, ttl, "v=DMARC1", "v=DMARC1"))
    return {
        "record": _txt_record(_owner(_DMARC, record, f"_dmarc.{domain}"), ttl, text, "v=DMARC1"),
        "authorizations": authorizations,
    }


# --------------------------------------------------------------------------------------------- MTA-STS

_MTA_STS_KEYS = ("mode", "mx", "max_age")
_MTA_STS_MODES = ("enforce", "testing", "none")
_MTA_STS_MAX_AGE = 31557600  # RFC 8461 section 3.2
_MTA_STS_ID_DIGITS = 20


def _mx_pattern(record: str, index: int, value: Any) -> str:
    wildcard = isinstance(value, str) and value.startswith("*.")
    name, problem = _name(value[2:] if wildcard else value)
    if name is None:
        hint = (
            " (a wildcard only as the whole leftmost label, *.example.net)" if "*" in str(value)[2 * wildcard :] else ""
        )
        raise _error(_MTA_STS, record, f"mx[{index}] {problem}{hint} (RFC 8461 section 3.2)")
    return f"*.{name}" if wildcard else name


def mail_dns_mta_sts(spec: dict, domain: str, ttl: int = 3600, varname: str = "") -> dict[str, Any]:
    """An MTA-STS policy, its id (from its content) and the _mta-sts TXT record that announces it."""
    _fail_if_undefined(spec, domain, ttl)
    domain, record = _subject(_MTA_STS, "MTA-STS policy", domain)
    record = _named(record, varname)
    ttl = _ttl(_MTA_STS, record, ttl)
    spec = _spec(_MTA_STS, record, spec, _MTA_STS_KEYS)
    mode = spec.get("mode")
    if mode not in _MTA_STS_MODES:
        raise _error(_MTA_STS, record, f"mode = {_show(mode)} must be one of {list(_MTA_STS_MODES)} (RFC 8461 3.2)")
    raw_max_age = spec.get("max_age")
    max_age = _whole_number(raw_max_age)
    if max_age is None or not 0 <= max_age <= _MTA_STS_MAX_AGE:
        raise _error(
            _MTA_STS,
            record,
            f"max_age = {_show(raw_max_age)} must be whole seconds from 0 to {_MTA_STS_MAX_AGE} "
            "(RFC 8461 section 3.2: at most about one year)",
        )
    patterns = [
        _mx_pattern(record, index, value)
        for index, value in enumerate(_string_list(_MTA_STS, record, "mx", spec.get("mx", [])))
    ]
    _no_duplicates(_MTA_STS, record, "mx", patterns)
    if not patterns and mode != "none":
        raise _error(
            _MTA_STS,
            record,
            f"mode {mode} needs at least one mx pattern: senders accept only MX hosts that one "
            "matches (RFC 8461 sections 3.2 and 4.1)",
        )
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {pattern}" for pattern in patterns), f"max_age: {max_age}"]
    policy = "".join(line + "\r\n" for line in lines)
    policy_id = hashlib.sha256(policy.encode("ascii")).hexdigest()[:_MTA_STS_ID_DIGITS]
    name = _owner(_MTA_STS, record, f"_mta-sts.{domain}")
    return {
        "policy": policy,
        "id": policy_id,
        "record": _txt_record(name, ttl, f"v=STSv1; id={policy_id}", "v=STSv1"),
        "policy_url": f"https://mta-sts.{domain}/.well-known/mta-sts.txt",
    }


# --------------------------------------------------------------------------------------------- TLS-RPT


def _https_uri(uri: str) -> str:
    """The https: URI with scheme and host in lower case; ValueError when it is not one a reporter can post to."""
    parts = urlsplit(uri)
    if parts.username is not None or parts.password is not None:
        raise ValueError("has user information before the host, which RFC 9110 section 4.2.4 forbids in https: URIs")
    try:
        port = parts.port
    except ValueError as e:
        raise ValueError("has a port that is not 1 to 65535") from e
    name, problem = _name(parts.hostname or "")
    if name is None:
        raise ValueError(f"has a bad host: {problem}")
    if parts.fragment:
        raise ValueError("has a fragment ('#'), which reporters would not send")
    host = name if port is None else f"{name}:{port}"
    return f"https://{host}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def _tlsrpt_uri(record: str, index: int, uri: Any) -> str:
    where = f"rua[{index}]"
    if not isinstance(uri, str):
        raise _error(_TLSRPT, record, f"{where} = {_show(uri)} must be a mailto: or https: URI (a string)")
    for char, encoded in ((",", "%2C"), (";", "%3B")):
        if char in uri:
            raise _error(
                _TLSRPT,
                record,
                f"{where} = {_show(uri)} has a raw {char!r}; write it as {encoded} (RFC 8460 "
                "section 3: commas and semicolons in a URI must be percent-encoded)",
            )
    if not uri.isascii() or any(char.isspace() or not char.isprintable() for char in uri):
        raise _error(_TLSRPT, record, f"{where} = {_show(uri)} has whitespace or non-ASCII characters (RFC 3986)")
    return _mailto_or_https(_TLSRPT, record, where, uri, "RFC 8460 section 3 knows no other")


def mail_dns_tlsrpt(spec: dict, domain: str, ttl: int = 3600, varname: str = "") -> dict[str, Any]:
    """The SMTP TLS reporting record (RFC 8460) of a domain."""
    _fail_if_undefined(spec, domain, ttl)
    domain, record = _subject(_TLSRPT, "TLS-RPT record", domain)
    record = _named(record, varname)
    ttl = _ttl(_TLSRPT, record, ttl)
    spec = _spec(_TLSRPT, record, spec, ("rua",))
    uris = [
        _tlsrpt_uri(record, index, uri)
        for index, uri in enumerate(_string_list(_TLSRPT, record, "rua", spec.get("rua", [])))
    ]
    if not uris:
        raise _error(_TLSRPT, record, "rua is empty; RFC 8460 section 3 requires at least one reporting URI")
    _no_duplicates(_TLSRPT, record, "rua", uris)
    name = _owner(_TLSRPT, record, f"_smtp._tls.{domain}")
    return _txt_record(name, ttl, "v=TLSRPTv1; rua=" + ",".join(uris), "v=TLSRPTv1")


# ------------------------------------------------------------------------------------------------ TLSA

_TLSA_PROTOCOLS = ("tcp", "udp", "sctp")


def _tlsa_spki(record: str, index: int, pem: Any) -> bytes:
    """The DER SubjectPublicKeyInfo of a certificate (the first of a chain) or a public key."""
    what = f"pems[{index}]"
    blocks = _pem_blocks(_TLSA, record, what, pem)
    label, block = blocks[0]
    labels = {label for label, _ in blocks}
    if labels - {"CERTIFICATE"} and len(blocks) > 1:
        raise _error(
            _TLSA,
            record,
            f"{what} holds {len(blocks)} PEM blocks ({', '.join(sorted(labels))}); give one public key, "
            "or one certificate or chain",
        )
    if label not in ("CERTIFICATE", "PUBLIC KEY"):
        raise _error(_TLSA, record, f"{what} is a {label!r} PEM block; give a CERTIFICATE or a PUBLIC KEY")
    try:
        if label == "CERTIFICATE":
            key = x509.load_pem_x509_certificate(block).public_key()
        else:
            key = serialization.load_pem_public_key(block)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise _error(_TLSA, record, f"{what} is a {label} PEM block that cannot be read") from e
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def mail_dns_tlsa(
    pems: list,
    host: str,
    port: int = 25,
    protocol: str = "tcp",
    ttl: int = 3600,
) -> dict[str, Any]:
    """The DANE TLSA record (3 1 1) of a host's port for each certificate or public key."""
    _fail_if_undefined(pems, host, port, protocol, ttl)
    name, problem = _name(host)
    number = _whole_number(port)
    label = f"TLSA record _{port}._{protocol}.{name or host}"
    if name is None:
        raise _error(_TLSA, label, f"the host {problem}")
    if number is None or not 1 <= number <= _PORT_MAX:
        raise _error(_TLSA, label, f"port = {_show(port)} is not a port number (1 to {_PORT_MAX})")
    if protocol not in _TLSA_PROTOCOLS:
        raise _error(_TLSA, label, f"protocol = {_show(protocol)} must be one of {list(_TLSA_PROTOCOLS)}")
    owner = f"_{number}._{protocol}.{name}"
    record = f"TLSA record {owner}"
    ttl = _ttl(_TLSA, record, ttl)
    if isinstance(pems, str | bytes) or not isinstance(pems, list | tuple):
        raise _error(
            _TLSA, record, f"the input must be a list of PEM certificates or public keys, got {type(pems).__name__}"
        )
    if not pems:
        raise _error(_TLSA, record, "the list of certificates and public keys is empty; a TLSA record needs one")
    values: dict[str, None] = {}
    for index, pem in enumerate(pems):
        digest = hashlib.sha256(_tlsa_spki(record, index, pem)).hexdigest()
        values.setdefault(f"3 1 1 {digest}", None)
    return {"name": _owner(_TLSA, record, owner), "type": "TLSA", "ttl": ttl, "values": list(values)}


# ------------------------------------------------------------------------------------------------- CAA

_CAA_KEYS = ("issue", "issuewild", "iodef", "critical")
_CAA_TAG = re.compile(r"[A-Za-z0-9](?:-*[A-Za-z0-9])*")  # RFC 8659 section 4.2 parameter tag
_CAA_VALUE = re.compile(r"[\x21-\x3a\x3c-\x7e]+")  # RFC 8659 section 4.2 parameter value, made non-empty
_CAA_CRITICAL = 128


def _caa_issuer(record: str, where: str, value: Any) -> str:
    """An issue or issuewild value: the CA's domain name and its parameters, normalised as 'ca; tag=value'."""
    if not isinstance(value, str):
        raise _error(_CAA, record, f"{where} = {_show(value)} must be a CA's domain name (a string)")
    issuer, *parameters = (part.strip() for part in value.split(";"))
    name, problem = _name(issuer)
    if name is None:
        raise _error(
            _CAA, record, f"{where}: the issuer {problem} (RFC 8659 section 4.2); to forbid issuance, leave the CA out"
        )
    written = [name]
    tags: set[str] = set()
    for parameter in parameters:
        tag, equals, text = (part.strip() for part in parameter.partition("="))
        if not equals or not _CAA_TAG.fullmatch(tag) or not _CAA_VALUE.fullmatch(text):
            raise _error(
                _CAA,
                record,
                f"{where} has the parameter {_show(parameter)}; parameters are tag=value, the tag "
                "letters, digits and inner hyphens, the value visible ASCII without ';' (RFC 8659 section 4.2)",
            )
        if tag.lower() in tags:
            raise _error(_CAA, record, f"{where} has the parameter {tag!r} twice")
        tags.add(tag.lower())
        written.append(f"{tag}={text}")
    return "; ".join(written)


def _mailto_or_https(kind: str, record: str, where: str, uri: str, rule: str) -> str:
    """A report URI that must be mailto: or https:, normalised; RULE says which RFC allows only these two."""
    scheme = uri.partition(":")[0].lower()
    try:
        if scheme == "mailto":
            return _mailto(uri, bang=True)[0]
        if scheme == "https":
            return _https_uri(uri)
    except ValueError as e:
        raise _error(kind, record, f"{where} = {_show(uri)} {e}") from e
    raise _error(kind, record, f"{where} = {_show(uri)} must be a mailto: or https: URI ({rule})")


def _caa_iodef(record: str, where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _error(_CAA, record, f"{where} = {_show(value)} must be a mailto: or https: URI (a string)")
    if not value.isascii() or any(char.isspace() or char in '"\\;' or not char.isprintable() for char in value):
        raise _error(_CAA, record, f"{where} = {_show(value)} has whitespace, quotes, ';' or non-ASCII characters")
    return _mailto_or_https(_CAA, record, where, value, "RFC 8659 section 4.4")


def mail_dns_caa(spec: dict, domain: str, ttl: int = 3600, varname: str = "") -> dict[str, Any]:
    """The CAA record of a domain: which CAs may issue certificates, for wildcards too, and where they report."""
    _fail_if_undefined(spec, domain, ttl)
    domain, record = _subject(_CAA, "CAA record", domain)
    record = _named(record, varname)
    ttl = _ttl(_CAA, record, ttl)
    spec = _spec(_CAA, record, spec, _CAA_KEYS)
    critical = spec.get("critical", False)
    if not isinstance(critical, bool):
        raise _error(_CAA, record, f"critical = {_show(critical)} must be true or false")
    flags = _CAA_CRITICAL if critical else 0
    issue = [
        _caa_issuer(record, f"issue[{index}]", value)
        for index, value in enumerate(_string_list(_CAA, record, "issue", spec.get("issue", [])))
    ]
    if not issue:
        raise _error(
            _CAA,
            record,
            "issue is empty; name at least one CA: the MTA-STS policy host mta-sts.<domain> needs a "
            "certificate (RFC 8461 section 3.3)",
        )
    _no_duplicates(_CAA, record, "issue", issue)
    values = [f'{flags} issue "{value}"' for value in issue]
    if spec.get("issuewild") is not None:
        wild = [
            _caa_issuer(record, f"issuewild[{index}]", value)
            for index, value in enumerate(_string_list(_CAA, record, "issuewild", spec["issuewild"]))
        ]
        _no_duplicates(_CAA, record, "issuewild", wild)
        values += [f'{flags} issuewild "{value}"' for value in wild] or [f'{flags} issuewild ";"']
    iodef = [
        _caa_iodef(record, f"iodef[{index}]", value)
        for index, value in enumerate(_string_list(_CAA, record, "iodef", spec.get("iodef", [])))
    ]
    _no_duplicates(_CAA, record, "iodef", iodef)
    values += [f'{flags} iodef "{value}"' for value in iodef]
    return {"name": _owner(_CAA, record, domain), "type": "CAA", "ttl": ttl, "values": values}


# ------------------------------------------------------------------------------------------------ zone

_ZONE_TYPES = ("A", "AAAA", "CAA", "CNAME", "MX", "TLSA", "TXT")
_ZONE_KEYS = ("name", "type", "ttl", "values")


def _zone_record(index: int, value: Any) -> tuple[str, str, int, list[str]]:
    where = f"record {index}"
    if not isinstance(value, Mapping):
        raise _error(_ZONE, where, f"must be a record dict, got {_show(value)}")
    missing = [key for key in _ZONE_KEYS if key not in value]
    if missing:
        raise _error(
            _ZONE,
            where,
            f"has no {missing} key(s); mail_dns_dmarc and mail_dns_mta_sts return their records under "
            "'record' and 'authorizations', pass those",
        )
    raw_name = value["name"]
    if not isinstance(raw_name, str) or not raw_name.endswith("."):
        raise _error(_ZONE, where, f"name = {_show(raw_name)} must be an absolute name, ending in '.'")
    name, problem = _name(raw_name, min_labels=1, service_labels=True)
    if name is None:
        raise _error(_ZONE, where, f"name {problem}")
    rtype = value["type"]
    where = f"record {index} ({name}. {rtype})"
    if rtype not in _ZONE_TYPES:
        raise _error(_ZONE, where, f"type = {_show(rtype)} must be one of {list(_ZONE_TYPES)}")
    ttl = _ttl(_ZONE, where, value["ttl"])
    values = value["values"]
    if isinstance(values, str | bytes) or not isinstance(values, list | tuple) or not values:
        raise _error(_ZONE, where, f"values must be a non-empty list of rdata strings, got {_show(values)}")
    for position, rdata in enumerate(values):
        if not isinstance(rdata, str) or not rdata.strip() or "\n" in rdata or "\r" in rdata:
            raise _error(_ZONE, where, f"values[{position}] = {_show(rdata)} must be a non-empty string on one line")
    return name + ".", rtype, ttl, list(values)


def mail_dns_zone(records: list, origin: str | None = None) -> str:
    """Zone-file lines of records, in DNS canonical order, names relative to origin when it is given."""
    _fail_if_undefined(records, origin)
    if isinstance(records, str | bytes) or not isinstance(records, list | tuple):
        raise _error(_ZONE, "records", f"must be a list of records, got {_show(records)}")
    zone_origin = None
    if origin is not None:
        zone_origin, problem = _name(origin, min_labels=1)
        if zone_origin is None:
            raise _error(_ZONE, "origin", problem)
        zone_origin += "."
    rows = [_zone_record(index, value) for index, value in enumerate(records)]
    ttls: dict[tuple[str, str], int] = {}
    for name, rtype, ttl, _ in rows:
        first = ttls.setdefault((name, rtype), ttl)
        if first != ttl:
            raise _error(
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


class FilterModule:
    """mailfort DNS record filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "mail_dns_txt_strings": mail_dns_txt_strings,
            "mail_dns_txt_rdata": mail_dns_txt_rdata,
            "mail_dns_spf": mail_dns_spf,
            "mail_dns_dkim": mail_dns_dkim,
            "mail_dns_dmarc": mail_dns_dmarc,
            "mail_dns_mta_sts": mail_dns_mta_sts,
            "mail_dns_tlsrpt": mail_dns_tlsrpt,
            "mail_dns_tlsa": mail_dns_tlsa,
            "mail_dns_caa": mail_dns_caa,
            "mail_dns_zone": mail_dns_zone,
        }
