# SPDX-License-Identifier: MIT
"""The SPF filter of mailfort (RFC 7208): a policy validated term by term, its DNS lookups counted, its TXT record.

Lookups are counted as a receiver evaluating the record counts them (RFC 7208 section 4.6.4), following include:
and redirect= through the records the caller resolved beforehand; the filter itself sends no DNS query. Domains
without macros are read by the collection's shared DNS rule (names), with service labels (_spf.example.org).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.plugin_utils.common import propagate_undefined, show
from ansible_collections.mailfort.mail.plugins.plugin_utils.dns_records import (
    checked_spec,
    checked_ttl,
    named_record,
    owner_name,
    record_error,
    record_subject,
    txt_record,
)
from ansible_collections.mailfort.mail.plugins.plugin_utils.names import dns_name

_SPF = "mail_dns_spf"
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
        name, problem = dns_name(spec, service_labels=True)
        if name is None:
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
        return record_error(_SPF, self.record, problem)

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
                f"{where}: the record resolved for {domain} ({show(text)}) does not start with 'v=spf1 ' "
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
        raise record_error(
            _SPF, record, f"resolved must be a dict from domain name to SPF text or None, got {show(resolved)}"
        )
    result: dict[str, str | None] = {}
    for key, value in resolved.items():
        if not isinstance(key, str):
            raise record_error(_SPF, record, f"resolved has the key {show(key)}; keys are domain names")
        if value is not None and not isinstance(value, str):
            raise record_error(_SPF, record, f"resolved[{key!r}] = {show(value)} must be the SPF record's text or None")
        name = key.strip().lower()
        result[name[:-1] if name.endswith(".") else name] = value
    return result


def _spf_term(record: str, index: int, term: Any) -> tuple[str, str, str | None]:
    """(the term as written into the record, mechanism name, target) of one term of the mechanisms list."""
    where = f"mechanisms[{index}]"
    if not isinstance(term, str):
        raise record_error(_SPF, record, f"{where} = {show(term)} must be a string")
    if not term or any(char.isspace() for char in term):
        raise record_error(_SPF, record, f"{where} = {show(term)} must be one term, without spaces")
    modifier = _SPF_MODIFIER.fullmatch(term)
    if modifier is not None:
        name = modifier.group(1).lower()
        if name in ("redirect", "exp"):
            raise record_error(
                _SPF,
                record,
                f"{where} = {term!r} is a modifier; give it as the key {name!r}, which mailfort writes "
                "once and last (RFC 7208 section 6: each at most once)",
            )
        raise record_error(
            _SPF,
            record,
            f"{where} = {term!r} is the unknown modifier {name!r}; receivers ignore it (RFC 7208 "
            "section 6), so it is most likely a typo; mailfort writes only redirect and exp",
        )
    try:
        qualifier, mechanism, normal, target = _spf_mechanism(term)
    except ValueError as e:
        raise record_error(_SPF, record, f"{where} = {term!r} {e}") from e
    if mechanism == "all":
        raise record_error(
            _SPF,
            record,
            f"{where} = {term!r}: give all as the key 'all', which mailfort writes last; RFC 7208 "
            "section 5.1: mechanisms after all are never tested",
        )
    if mechanism == "ptr":
        raise record_error(
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
    raise record_error(_SPF, record, f"all = {show(value)} {problem}; use '-all' (fail) or '~all' (softfail)")


def _spf_mechanisms(record: str, mechanisms: Any, counter: _SpfLookups, domain: str) -> list[str]:
    """The terms of the mechanisms list as written into the record; counts their lookups."""
    if isinstance(mechanisms, str | bytes) or not isinstance(mechanisms, list | tuple):
        raise record_error(_SPF, record, f"mechanisms must be a list of terms, got {show(mechanisms)}")
    terms: list[str] = []
    seen: dict[str, int] = {}
    for index, term in enumerate(mechanisms):
        text, mechanism, target = _spf_term(record, index, term)
        key = text.lstrip("+-~?")
        first = seen.setdefault(key, index)
        if first != index:
            raise record_error(
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
            raise record_error(_SPF, record, f"{name} = {show(value)} must be a domain (a string)")
        try:
            target_spec, target = _spf_domain_spec(value)
        except ValueError as e:
            raise record_error(_SPF, record, f"{name} = {value!r} {e}") from e
        terms.append(f"{name}={target_spec}")
        if name == "redirect":
            counter.query(terms[-1], name, target, [], [domain])
    return terms


def mail_dns_spf(
    spec: dict, domain: str, resolved: dict | None = None, ttl: int = 3600, varname: str = ""
) -> dict[str, Any]:
    """Validate an SPF policy, count its DNS lookups (through resolved records) and build its TXT record."""
    propagate_undefined(spec, domain, resolved, ttl)
    # Service labels too: records for include: targets live at names such as _spf.example.org.
    domain, record = record_subject(_SPF, "SPF record", domain, service_labels=True)
    record = named_record(record, varname)
    ttl = checked_ttl(_SPF, record, ttl)
    spec = checked_spec(_SPF, record, spec, _SPF_KEYS)
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
        raise record_error(_SPF, record, problem)
    counter = _SpfLookups(record, known)
    terms = _spf_mechanisms(record, spec.get("mechanisms", []), counter, domain)
    terms += _spf_ending(record, spec, counter, domain)
    text = " ".join(["v=spf1", *terms])
    size = len(text.encode("ascii"))
    if size > _SPF_TEXT_MAX:
        raise record_error(
            _SPF,
            record,
            f"the record text has {size} octets; mailfort allows {_SPF_TEXT_MAX} so that the DNS "
            "answer fits in 512 octets of UDP, as RFC 7208 section 3.4 asks: move addresses into an include",
        )
    return txt_record(
        owner_name(_SPF, record, domain),
        ttl,
        text,
        "v=spf1",
        lookups=counter.lookups,
        void_lookups=counter.voids,
        unresolved=counter.unresolved,
    )
