# SPDX-License-Identifier: MIT
"""postscreen's DNS lists (postscreen_dnsbl_sites), checked so that no list can reject everybody.

A site is written as Postfix writes it (postconf(5), postscreen_dnsbl_sites): ``domain[=filter][*weight]``. The
filter is an IPv4 address pattern of four octets, each a number (``2``), a range (``[2..11]``) or a list of
numbers and ranges (``[2;4;6]``, ``[2..4;10]``); the weight a whole number, negative for an allowlist.

A list answers more than "listed": Spamhaus answers 127.255.255.252 to a malformed query, 127.255.255.254 to a
query through a public resolver and 127.255.255.255 to a resolver over its limit, for every address asked. A site
without a filter counts any answer, so such an answer would reject every sender; this module refuses a site
without a filter, a filter that could match one of those answers, and a filter outside 127.0.0.0/8, where no list
answers.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.common import error, is_list, propagate_undefined, show
from ansible_collections.mailfort.mail.plugins.plugin_utils.names import name_problem

_DNSBL_SITES = "mail_postfix_dnsbl_sites"

# The answers lists give for every address when they cannot or will not answer (Spamhaus: 252 a malformed query,
# 254 a public resolver, 255 too many queries; 253 is kept with them): no filter may match one.
ERROR_ANSWERS = tuple(f"127.255.255.{last}" for last in range(252, 256))
_OCTET_MAX = 255
_LOOPBACK_OCTET = 127
_SITE_RE = re.compile(r"(?P<domain>[^=*]+)(?:=(?P<filter>[^*]*))?(?:\*(?P<weight>[^*]*))?", re.ASCII)
# Four octets; a bracketed one holds the dots of its ranges.
_OCTET = r"(\[[^\]]*\]|[^.\[\]]*)"
_FILTER_RE = re.compile(r"\.".join([_OCTET] * 4), re.ASCII)
_NUMBER_RE = re.compile(r"0|[1-9][0-9]{0,2}", re.ASCII)
_WEIGHT_RE = re.compile(r"-?[1-9][0-9]{0,5}", re.ASCII)
_REPLY_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?", re.ASCII)
FILTER_RULE = (
    "an answer filter of four octets within 127.0.0.0/8, each a number, a range [2..11] or a list [2;4;6] "
    "(e.g. zen.spamhaus.org=127.0.0.[2..11]*3)"
)


def _number(text: str, where: str, site: str) -> int:
    if not _NUMBER_RE.fullmatch(text) or int(text) > _OCTET_MAX:
        raise error(
            _DNSBL_SITES,
            where,
            f"= {show(site)} has {text!r} in its filter, where a number from 0 to 255 goes: {FILTER_RULE}",
        )
    return int(text)


def _octet(text: str, where: str, site: str) -> frozenset[int]:
    """The values one octet of a filter matches."""
    if not (text.startswith("[") and text.endswith("]")):
        return frozenset({_number(text, where, site)})
    values: set[int] = set()
    for item in text[1:-1].split(";"):
        low, dots, high = item.partition("..")
        first = _number(low, where, site)
        last = _number(high, where, site) if dots else first
        if last < first:
            raise error(_DNSBL_SITES, where, f"= {show(site)} has the range [{item}], which runs backwards")
        values.update(range(first, last + 1))
    return frozenset(values)


def _check_filter(answer_filter: str, where: str, site: str) -> str:
    octets = _FILTER_RE.fullmatch(answer_filter)
    if octets is None:
        raise error(_DNSBL_SITES, where, f"= {show(site)} has the filter {answer_filter!r}; write {FILTER_RULE}")
    matched = [_octet(octet, where, site) for octet in octets.groups()]
    if matched[0] != {_LOOPBACK_OCTET}:
        raise error(
            _DNSBL_SITES,
            where,
            f"= {show(site)} has a filter that matches outside 127.0.0.0/8, where DNS lists give no answer; "
            f"write {FILTER_RULE}",
        )
    errors = [
        answer
        for answer in ERROR_ANSWERS
        if all(int(part) in values for part, values in zip(answer.split("."), matched, strict=True))
    ]
    if errors:
        raise error(
            _DNSBL_SITES,
            where,
            f"= {show(site)} has a filter that matches {', '.join(errors)}, the answers a list gives for every "
            "address when it refuses the query (a public resolver, too many queries): it would reject every "
            "sender. Match only the list's listing codes, e.g. 127.0.0.[2..11]",
        )
    return answer_filter


def _check_site(site: Any, where: str) -> tuple[str, str, str, int]:
    """domain (lower case), filter, the site as Postfix gets it, and its weight."""
    propagate_undefined(site)
    if not isinstance(site, str):
        raise error(_DNSBL_SITES, where, f"= {show(site)} must be a string such as zen.spamhaus.org=127.0.0.[2..11]*3")
    text = site.strip()
    match = _SITE_RE.fullmatch(text)
    if match is None or any(char.isspace() or char == "," for char in text):
        raise error(
            _DNSBL_SITES,
            where,
            f"= {show(site)} is not one DNS list entry domain=filter*weight (no spaces or commas; one entry an item)",
        )
    domain = match["domain"]
    problem = name_problem(domain)
    if problem is not None:
        raise error(_DNSBL_SITES, where, f"= {show(site)} does not start with a DNS list's domain: {problem}")
    if match["filter"] is None:
        raise error(
            _DNSBL_SITES,
            where,
            f"= {show(site)} has no answer filter, so any answer counts, including the 127.255.255.x a list gives "
            f"for every address when it refuses the query: add {FILTER_RULE}",
        )
    answer_filter = _check_filter(match["filter"], where, site)
    weight = 1
    if match["weight"] is not None:
        if not _WEIGHT_RE.fullmatch(match["weight"]):
            raise error(
                _DNSBL_SITES,
                where,
                f"= {show(site)} has the weight {match['weight']!r}; a weight is a whole number other than 0, "
                "negative for an allowlist (*3, *-4)",
            )
        weight = int(match["weight"])
    rendered = f"{domain.lower()}={answer_filter}" + (f"*{weight}" if match["weight"] is not None else "")
    return domain.lower(), answer_filter, rendered, weight


def mail_postfix_dnsbl_sites(
    sites: Any,
    reply_name: Any = "dnsbl",
    varname: str = "postfix_hardening_postscreen_dnsbl_sites",
    reply_varname: str = "postfix_hardening_postscreen_dnsbl_reply_name",
) -> dict[str, Any]:
    """The sites checked and as Postfix gets them, their highest score, and the reply map that hides each domain."""
    propagate_undefined(sites, reply_name, varname, reply_varname)
    if not isinstance(reply_name, str) or not _REPLY_NAME_RE.fullmatch(reply_name):
        raise error(
            _DNSBL_SITES,
            reply_varname,
            f"= {show(reply_name)} must be one word of letters, digits, '.', '_' and '-' (at most 63), such as "
            "dnsbl or zen.spamhaus.org: postscreen puts it in its reply",
        )
    if sites is None:
        sites = []
    if not is_list(sites):
        raise error(_DNSBL_SITES, varname, f"must be a list of DNS list entries, got {type(sites).__name__}")
    seen: dict[str, int] = {}
    rendered_sites = []
    domains: dict[str, None] = {}
    score = 0
    for index, site in enumerate(sites):
        where = f"{varname}[{index}]"
        domain, _, rendered, weight = _check_site(site, where)
        first = seen.setdefault(rendered, index)
        if first != index:
            raise error(_DNSBL_SITES, where, f"= {show(site)} repeats {varname}[{first}]; list it once")
        rendered_sites.append(rendered)
        domains.setdefault(domain, None)
        score += max(weight, 0)
    return {
        "sites": rendered_sites,
        # A list's own name may hold the key it is queried with (KEY.zen.dq.spamhaus.net): the client sees the
        # neutral name instead, whichever list it was.
        "reply_map": dict.fromkeys(domains, reply_name),
        "max_score": score,
    }
