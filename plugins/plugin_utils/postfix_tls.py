# SPDX-License-Identifier: MIT
"""Postfix per-destination TLS policies (smtp_tls_policy_maps), checked before a table is written.

Levels and their attributes follow postconf(5) and the TLS_README's "TLS policy table"; domains follow the shared
DNS rule (names.py), with a leading dot for subdomains.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.common import error, is_list, propagate_undefined, show
from ansible_collections.mailfort.mail.plugins.plugin_utils.postfix import (
    _TLS_POLICIES,
    _domain_problem,
)

_TLS_LEVELS = ("none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure")
_MATCH_LEVELS = ("verify", "secure", "fingerprint")
_TLS_POLICY_KEYS = ("domain", "level", "match", "protocols", "ciphers")
_CIPHER_GRADES = ("export", "low", "medium", "high", "null")
_TLS_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")  # oldest first
_PROTOCOL_SEPARATOR_RE = re.compile(r"[\s,:]+")
_MATCH_KEYWORDS = ("hostname", "nexthop", "dot-nexthop")
_FINGERPRINT_RE = re.compile(r"[0-9A-Fa-f]{2}(?::?[0-9A-Fa-f]{2})*", re.ASCII)
_FINGERPRINT_BYTES = (16, 20, 32, 48, 64)  # MD5, SHA-1, SHA-256, SHA-384, SHA-512


def _check_match(value: Any, level: str, where: str) -> str:
    propagate_undefined(value)
    if level not in _MATCH_LEVELS:
        raise error(
            _TLS_POLICIES, where, f"is given with level {level}; match only goes with {', '.join(_MATCH_LEVELS)}"
        )
    if not is_list(value) or not value:
        raise error(_TLS_POLICIES, where, f"= {show(value)} must be a non-empty list")
    items = []
    for index, item in enumerate(value):
        propagate_undefined(item)
        item_where = f"{where}[{index}]"
        if not isinstance(item, str):
            raise error(_TLS_POLICIES, item_where, f"= {show(item)} must be a string")
        if level == "fingerprint":
            if not _FINGERPRINT_RE.fullmatch(item) or len(item.replace(":", "")) // 2 not in _FINGERPRINT_BYTES:
                raise error(
                    _TLS_POLICIES,
                    item_where,
                    f"= {show(item)} is not a certificate or public key fingerprint (hex digits in pairs, "
                    f"optionally separated by ':', of {', '.join(map(str, _FINGERPRINT_BYTES))} bytes)",
                )
            digits = item.replace(":", "").upper()
            items.append(":".join(digits[i : i + 2] for i in range(0, len(digits), 2)))
            continue
        problem = None if item in _MATCH_KEYWORDS else _domain_problem(item, subdomains=True)
        if problem is not None:
            raise error(
                _TLS_POLICIES,
                item_where,
                f"= {show(item)} must be hostname, nexthop, dot-nexthop or a DNS name (optionally with a leading "
                f"dot), and is not: {problem}",
            )
        items.append(item.lower())
    return ("|" if level == "fingerprint" else ":").join(items)


def _protocol_name(name: str, token: str, where: str) -> str:
    if name not in _TLS_PROTOCOLS:
        raise error(
            _TLS_POLICIES,
            where,
            f"has {token!r}, and {name!r} is not a protocol; use {', '.join(_TLS_PROTOCOLS)}",
        )
    return name


def _check_protocols(value: Any, where: str) -> str:
    propagate_undefined(value)
    if not isinstance(value, str):
        raise error(_TLS_POLICIES, where, f"= {show(value)} must be a string such as '>=TLSv1.2'")
    tokens = [token for token in _PROTOCOL_SEPARATOR_RE.split(value) if token]
    if not tokens:
        raise error(_TLS_POLICIES, where, "is empty; leave it out for Postfix's default")
    bounds = [token for token in tokens if token.startswith((">=", "<="))]
    if bounds and len(bounds) != len(tokens):
        raise error(
            _TLS_POLICIES,
            where,
            f"= {show(value)} mixes version bounds (>=TLSv1.2) with protocol names; use one style or the other",
        )
    seen: set[str] = set()
    for token in tokens:
        key = token[:2] if bounds else token.removeprefix("!")
        if key in seen:
            raise error(_TLS_POLICIES, where, f"= {show(value)} names {key!r} twice")
        seen.add(key)
        _protocol_name(token[2:] if bounds else token.removeprefix("!"), token, where)
    limits = {token[:2]: _TLS_PROTOCOLS.index(token[2:]) for token in bounds}
    if limits.get(">=", 0) > limits.get("<=", len(_TLS_PROTOCOLS)):
        raise error(_TLS_POLICIES, where, f"= {show(value)} has a lower bound above its upper bound")
    return ":".join(tokens)


def _check_tls_policy(entry: Any, where: str) -> tuple[str, str]:
    """(lower-cased domain, policy table text) of one policy."""
    propagate_undefined(entry)
    if not isinstance(entry, Mapping):
        raise error(_TLS_POLICIES, where, f"must be a dict with domain and level, got {type(entry).__name__}")
    unknown = sorted(str(key) for key in entry if key not in _TLS_POLICY_KEYS)
    if unknown:
        raise error(
            _TLS_POLICIES, where, f"has unknown key(s) {', '.join(unknown)}; known: {', '.join(_TLS_POLICY_KEYS)}"
        )
    propagate_undefined(*entry.values())
    for key in ("domain", "level"):
        if key not in entry:
            raise error(_TLS_POLICIES, f"{where}.{key}", "is missing; every policy needs a domain and a level")
    domain, level = entry["domain"], entry["level"]
    if not isinstance(domain, str) or (problem := _domain_problem(domain, subdomains=True)) is not None:
        reason = "it is not a string" if not isinstance(domain, str) else problem
        raise error(
            _TLS_POLICIES,
            f"{where}.domain",
            f"= {show(domain)} must be a DNS name, or .name for its subdomains, and is not: {reason}",
        )
    if not isinstance(level, str) or level not in _TLS_LEVELS:
        raise error(
            _TLS_POLICIES,
            f"{where}.level",
            f"= {show(level)} is not a TLS security level; use {', '.join(_TLS_LEVELS)}",
        )
    parts = [level]
    if "match" in entry:
        parts.append("match=" + _check_match(entry["match"], level, f"{where}.match"))
    elif level == "fingerprint":
        raise error(_TLS_POLICIES, f"{where}.match", "is missing; level fingerprint needs the fingerprints to match")
    parts.extend(_tls_attributes(entry, level, where))
    return domain.lower(), " ".join(parts)


def _tls_attributes(entry: Mapping, level: str, where: str) -> list[str]:
    """The protocols= and ciphers= attributes of one policy."""
    for key in ("protocols", "ciphers"):
        if key in entry and level == "none":
            raise error(_TLS_POLICIES, f"{where}.{key}", "is given with level none, which does not use TLS")
    parts = []
    if "protocols" in entry:
        parts.append("protocols=" + _check_protocols(entry["protocols"], f"{where}.protocols"))
    if "ciphers" in entry:
        ciphers = entry["ciphers"]
        if not isinstance(ciphers, str) or ciphers not in _CIPHER_GRADES:
            raise error(
                _TLS_POLICIES,
                f"{where}.ciphers",
                f"= {show(ciphers)} is not a cipher grade; use {', '.join(_CIPHER_GRADES)}",
            )
        parts.append(f"ciphers={ciphers}")
    return parts


def mail_postfix_tls_policies(policies: Any, varname: str = "postfix_hardening_tls_policies") -> dict[str, str]:
    """Validated per-destination TLS policies as smtp_tls_policy_maps entries, domain to the rest of the line."""
    propagate_undefined(policies, varname)
    if not is_list(policies):
        raise error(_TLS_POLICIES, varname, f"must be a list of policies, got {type(policies).__name__}")
    result: dict[str, str] = {}
    first_index: dict[str, int] = {}
    for index, entry in enumerate(policies):
        domain, policy = _check_tls_policy(entry, f"{varname}[{index}]")
        first = first_index.setdefault(domain, index)
        if first != index:
            raise error(
                _TLS_POLICIES,
                f"{varname}[{index}].domain",
                f"= {show(entry['domain'])} repeats {varname}[{first}]; each domain may have one policy",
            )
        result[domain] = policy
    return result


# ------------------------------------------------------------------------------------- mailboxes and senders
