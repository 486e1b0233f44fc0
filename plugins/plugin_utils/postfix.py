# SPDX-License-Identifier: MIT
"""Postfix filters for mailfort: main.cf parameters, TLS policy table entries, mailboxes, the sender login map and
outbound quotas.

``mail_postfix_main_cf`` merges the role's own main.cf parameters with the user's extra ones. An extra parameter
must be one Postfix knows (``mail_postfix_parameters.txt``, generated from ``postconf -d`` of Postfix 3.7.11 on
Debian 12 and 3.10 on Debian 13), a per-transport parameter, one of the role's own or a restriction class; and an
extra value that changes a parameter a hardening control depends on is refused unless it is acknowledged by name.
The other filters validate the inputs of Postfix lookup tables (``smtp_tls_policy_maps``, the virtual mailboxes
and ``smtpd_sender_login_maps``), check the outbound quotas that mailfort-quota enforces, and read ``postconf``
output back for comparison.

Ansible loads every filter file on its own, so the small helpers (errors, undefined values, DNS names) are repeated
here rather than shared with the other mail_* modules.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.common import error, is_list, propagate_undefined, show
from ansible_collections.mailfort.mail.plugins.plugin_utils.names import address_problem, name_problem, normal_address

# Several filters live in this one file, so each filter's documentation is one entry of these YAML mappings, keyed
# by the filter's name (ansible-doc itself only reads per-filter sidecar files named <filter>.yml).
_MAIN_CF = "mail_postfix_main_cf"
_TLS_POLICIES = "mail_postfix_tls_policies"
_MAILBOXES = "mail_postfix_mailboxes"
_SENDER_LOGINS = "mail_postfix_sender_logins"
_PARSE_POSTCONF = "mail_postfix_parse_postconf"
_QUOTA = "mail_postfix_quota"


# ------------------------------------------------------------------------------------------ main.cf parameters

_PARAMETER_FILE = "postfix_parameters.txt"
# Capitals are allowed: a few real names have them (smtpd_tls_CAfile, tls_append_default_CA and others).
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*", re.ASCII)
# Parameters Postfix derives from a master.cf service name; postconf(5) lists them as transport_... templates.
_PER_TRANSPORT_SUFFIXES = (
    "delivery_slot_cost",
    "delivery_slot_discount",
    "delivery_slot_loan",
    "destination_concurrency_failed_cohort_limit",
    "destination_concurrency_limit",
    "destination_concurrency_negative_feedback",
    "destination_concurrency_positive_feedback",
    "destination_rate_delay",
    "destination_recipient_limit",
    "extra_recipient_limit",
    "initial_destination_concurrency",
    "minimum_delivery_slots",
    "recipient_limit",
    "recipient_refill_delay",
    "recipient_refill_limit",
    "time_limit",
    "transport_rate_delay",
)
_PER_TRANSPORT_RE = re.compile(rf"[a-z0-9][a-z0-9-]*_(?:{'|'.join(_PER_TRANSPORT_SUFFIXES)})", re.ASCII)
_LINE_BREAKERS = ("\n", "\r", "\0")
_CLASS_SEPARATOR_RE = re.compile(r"[\s,]+")

# ---------------------------------------------------------------------------------------------- DNS and mail

# RFC 5322 specials that cannot appear unquoted in a local part, and '#', which starts a comment in a lookup table.

# ------------------------------------------------------------------------------------------------ TLS policies


# -------------------------------------------------------------------------------------------------- postconf

_POSTCONF_LINE_RE = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9_-]*) =(?: (?P<value>.*))?", re.ASCII)


# ---------------------------------------------------------------------------------------------------- helpers


def _domain_problem(domain: str, *, subdomains: bool = False) -> str | None:
    """Why domain is not a DNS name (names.name_problem), or None; with subdomains, after an optional leading dot."""
    return name_problem(domain[1:] if subdomains and domain.startswith(".") else domain)


def _check_addresses(addresses: Any, varname: str, filter_name: str) -> list[str]:
    """The addresses with lower-cased domains, refusing malformed ones and repeats."""
    propagate_undefined(addresses)
    if not is_list(addresses):
        raise error(filter_name, varname, f"must be a list of mail addresses, got {type(addresses).__name__}")
    seen: dict[str, int] = {}
    result = []
    for index, address in enumerate(addresses):
        propagate_undefined(address)
        where = f"{varname}[{index}]"
        if not isinstance(address, str):
            raise error(filter_name, where, f"= {show(address)} must be a mail address string")
        problem = address_problem(address)
        if problem is not None:
            raise error(filter_name, where, f"= {show(address)} is not a mail address: {problem}")
        first = seen.setdefault(address.lower(), index)
        if first != index:
            raise error(
                filter_name, where, f"= {show(address)} is the same mailbox as {varname}[{first}]; list each once"
            )
        result.append(normal_address(address))
    return result


# --------------------------------------------------------------------------------------- mail_postfix_main_cf


@functools.cache
def _known_parameters() -> frozenset[str]:
    """The Postfix parameter names, read once from the list beside this module (tools/postfix-parameters)."""
    path = Path(__file__).resolve().with_name(_PARAMETER_FILE)
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeError) as e:
        raise error(_MAIN_CF, "the Postfix parameter list", f"{path} cannot be read: {e}") from e
    names = set()
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if not _NAME_RE.fullmatch(name):
            raise error(_MAIN_CF, "the Postfix parameter list", f"{path} line {number} is not a parameter name")
        names.add(name)
    return frozenset(names)


def _render(value: Any, where: str) -> str:
    """The main.cf text of one value."""
    propagate_undefined(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        _refuse_line_breaks(value, where)
        return value.strip()
    if is_list(value):
        items = []
        for index, item in enumerate(value):
            propagate_undefined(item)
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise error(_MAIN_CF, f"{where}[{index}]", f"= {show(item)} must be a string or a whole number")
            if isinstance(item, str):
                _refuse_line_breaks(item, f"{where}[{index}]")
            text = str(item).strip()
            if not text:
                raise error(_MAIN_CF, f"{where}[{index}]", "is empty; an empty item would render as ', ,'")
            items.append(text)
        return ", ".join(items)
    if value is None:
        raise error(_MAIN_CF, where, "is null; give a value (an empty string for 'name =') or leave it out")
    hint = "; quote it to write it as text" if isinstance(value, float) else ""
    raise error(
        _MAIN_CF,
        where,
        f"= {show(value)} is a {type(value).__name__}; a value must be a string, a whole number, true/false "
        f"or a list of strings and numbers{hint}",
    )


def _refuse_line_breaks(text: str, where: str) -> None:
    if any(char in text for char in _LINE_BREAKERS):
        raise error(
            _MAIN_CF,
            where,
            f"= {show(text)} contains a newline, carriage return or NUL character, which would inject lines "
            "into main.cf",
        )


def _render_all(parameters: Any, varname: str) -> dict[str, str]:
    """Names checked for syntax only, values rendered; in input order."""
    rendered = {}
    for name, value in parameters.items():
        propagate_undefined(name)
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise error(
                _MAIN_CF,
                varname,
                f"has the key {show(name)}, which is not a Postfix parameter name (letters, digits, '_' and '-', "
                "starting with a letter or digit)",
            )
        rendered[name] = _render(value, f"{varname}.{name}")
    return rendered


def _check_mapping(value: Any, what: str, *, allow_none: bool) -> Mapping:
    propagate_undefined(value)
    if value is None and allow_none:
        return {}
    if not isinstance(value, Mapping):
        raise error(_MAIN_CF, what, f"must be a dict of parameter names to values, got {type(value).__name__}")
    return value


def _check_controls(controls: Any) -> dict[str, str]:
    controls = _check_mapping(controls, "controls", allow_none=True)
    for name, control in controls.items():
        propagate_undefined(name, control)
        if not isinstance(name, str) or not isinstance(control, str) or not control.strip():
            raise error(
                _MAIN_CF,
                "controls",
                f"maps {show(name)} to {show(control)}; it must map parameter names to control ids such as 'PFX-01'",
            )
    return dict(controls)


def _check_acknowledged(acknowledged: Any, ack_varname: str) -> list[str]:
    propagate_undefined(acknowledged)
    if acknowledged is None:
        return []
    if not is_list(acknowledged):
        raise error(_MAIN_CF, ack_varname, f"must be a list of parameter names, got {type(acknowledged).__name__}")
    seen: dict[str, int] = {}
    for index, name in enumerate(acknowledged):
        propagate_undefined(name)
        if not isinstance(name, str):
            raise error(_MAIN_CF, f"{ack_varname}[{index}]", f"= {show(name)} must be a parameter name")
        first = seen.setdefault(name, index)
        if first != index:
            raise error(
                _MAIN_CF, f"{ack_varname}[{index}]", f"= {show(name)} repeats {ack_varname}[{first}]; list it once"
            )
    return list(acknowledged)


def _restriction_classes(value: str) -> set[str]:
    return {name for name in _CLASS_SEPARATOR_RE.split(value) if name}


def _check_extra_name(name: str, base: dict[str, str], classes: set[str], varname: str) -> None:
    known = _known_parameters()
    if name in known or name in base or name in classes or _PER_TRANSPORT_RE.fullmatch(name):
        return
    close = difflib.get_close_matches(name, sorted(known | set(base) | classes), n=1)
    suggestion = f" (did you mean {close[0]}?)" if close else ""
    raise error(_MAIN_CF, f"{varname}.{name}", f"is not a Postfix parameter{suggestion}")


def _role_name(varname: str) -> str:
    """The role that owns varname: role variables start with the role's name (house style), extras end in _extra."""
    role = varname.removesuffix("_extra")
    return role if role and role != varname else "the role"


def mail_postfix_main_cf(  # noqa: PLR0917 -- Ansible passes filter arguments positionally, as documented
    base: Any,
    extra: Any,
    acknowledged: Any = None,
    controls: Any = None,
    varname: str = "postfix_hardening_extra",
    ack_varname: str = "postfix_hardening_extra_acknowledged",
) -> dict[str, str]:
    """The role's main.cf parameters with the user's extra ones applied, every value rendered as main.cf text."""
    propagate_undefined(base, extra, acknowledged, controls, varname, ack_varname)
    base_rendered = _render_all(_check_mapping(base, "base", allow_none=False), "base")
    extra_rendered = _render_all(_check_mapping(extra, varname, allow_none=True), varname)
    control_ids = _check_controls(controls)
    acknowledged_names = _check_acknowledged(acknowledged, ack_varname)

    classes_value = extra_rendered.get("smtpd_restriction_classes", base_rendered.get("smtpd_restriction_classes", ""))
    classes = _restriction_classes(classes_value)
    for name in extra_rendered:
        _check_extra_name(name, base_rendered, classes, varname)

    overridden = set()
    for name, value in extra_rendered.items():
        if name not in control_ids or base_rendered.get(name) == value:
            continue
        overridden.add(name)
        if name in acknowledged_names:
            continue
        if name in base_rendered:
            what = f"overrides {base_rendered[name]!r}, which {_role_name(varname)} sets"
        else:
            what = f"overrides Postfix's default, which {_role_name(varname)} relies on"
        raise error(
            _MAIN_CF,
            f"{varname}.{name}",
            f"= {value!r} {what} for control {control_ids[name]}; if the weaker setting is intended, add {name} "
            f"to {ack_varname}",
        )
    for index, name in enumerate(acknowledged_names):
        if name not in overridden:
            reason = (
                f"{varname} sets it to the role's value or not at all"
                if name in control_ids
                else "no control depends on it"
            )
            raise error(
                _MAIN_CF,
                f"{ack_varname}[{index}]",
                f"= {name!r} does not override a controlled parameter ({reason}); remove it: a stale "
                "acknowledgement would silently permit a later weakening",
            )

    result = {name: extra_rendered.get(name, value) for name, value in base_rendered.items()}
    result.update((name, extra_rendered[name]) for name in sorted(extra_rendered) if name not in base_rendered)
    return result


# ---------------------------------------------------------------------------------- mail_postfix_tls_policies


def mail_postfix_mailboxes(mailboxes: Any, varname: str = "postfix_hardening_mailboxes") -> dict:
    """The mailboxes with lower-cased domains, and their domains."""
    propagate_undefined(mailboxes, varname)
    addresses = _check_addresses(mailboxes, varname, _MAILBOXES)
    return {"mailboxes": addresses, "domains": sorted({address.split("@")[1] for address in addresses})}


def _sender_key(entry: Any, where: str) -> str:
    propagate_undefined(entry)
    if not isinstance(entry, str):
        raise error(_SENDER_LOGINS, where, f"= {show(entry)} must be an address or @domain string")
    if entry.startswith("@"):
        problem = _domain_problem(entry[1:])
        if problem is not None:
            raise error(_SENDER_LOGINS, where, f"= {show(entry)} is not @domain: {problem}")
        return entry.lower()
    problem = address_problem(entry)
    if problem is not None:
        raise error(_SENDER_LOGINS, where, f"= {show(entry)} is not a mail address or @domain: {problem}")
    return entry.lower()


def mail_postfix_sender_logins(
    send_as: Any, mailboxes: Any, own_address: Any = True, varname: str = "postfix_hardening_send_as"
) -> dict[str, list[str]]:
    """smtpd_sender_login_maps: sender address or @domain to the logins allowed to use it."""
    propagate_undefined(send_as, mailboxes, own_address, varname)
    # The mailboxes' own variable: the same mistake reads the same in every filter that meets it.
    logins = _check_addresses(mailboxes, "postfix_hardening_mailboxes", _SENDER_LOGINS)
    if not isinstance(own_address, bool):
        raise error(_SENDER_LOGINS, "own_address", f"= {show(own_address)} must be true or false")
    if send_as is None:
        send_as = {}
    if not isinstance(send_as, Mapping):
        raise error(
            _SENDER_LOGINS, varname, f"must be a dict of login to a list of addresses, got {type(send_as).__name__}"
        )
    login_by_key = {login.lower(): login for login in logins}
    table: dict[str, set[str]] = {}
    if own_address:
        for login in logins:
            table.setdefault(login.lower(), set()).add(login)
    for key, given in send_as.items():
        propagate_undefined(key, given)
        login = login_by_key.get(key.lower()) if isinstance(key, str) else None
        if login is None:
            raise error(
                _SENDER_LOGINS, f"{varname}.{key}", "is not one of the mailboxes; only a mailbox logs in and sends"
            )
        entries = [] if given is None else given
        if not is_list(entries):
            raise error(
                _SENDER_LOGINS,
                f"{varname}.{key}",
                f"must be a list of addresses and @domain entries, got {type(entries).__name__}",
            )
        for index, entry in enumerate(entries):
            table.setdefault(_sender_key(entry, f"{varname}.{key}[{index}]"), set()).add(login)
    return {address: sorted(table[address]) for address in sorted(table)}


# ------------------------------------------------------------------------------------------------ postconf


def mail_postfix_parse_postconf(text: Any, varname: str = "postconf output") -> dict[str, str]:
    """Parameter name to value from postconf's 'name = value' lines."""
    propagate_undefined(text, varname)
    if not isinstance(text, str):
        raise error(_PARSE_POSTCONF, varname, f"must be text, got {type(text).__name__}")
    result: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line:
            continue
        match = _POSTCONF_LINE_RE.fullmatch(line)
        if match is None:
            hint = " (a folded line: run postconf without -f)" if line[:1].isspace() else ""
            raise error(_PARSE_POSTCONF, varname, f"line {number} {show(line)} is not 'name = value'{hint}")
        name = match.group("name")
        first = first_line.setdefault(name, number)
        if first != number:
            raise error(_PARSE_POSTCONF, varname, f"line {number} sets {name} again (first on line {first})")
        result[name] = match.group("value") or ""
    return result


# -------------------------------------------------------------------------------------------- outbound quotas

_QUOTA_KEYS = ("window", "messages", "recipients")
_QUOTA_MAXIMUM = {"window": 7 * 86400, "messages": 1_000_000, "recipients": 1_000_000}


def _quota_limits(limits: Any, where: str, *, allow_empty: bool) -> str:
    """One list of limits as mailfort-quota's WINDOW:MESSAGES:RECIPIENTS items, shortest window first."""
    propagate_undefined(limits)
    if not is_list(limits):
        raise error(
            _QUOTA, where, f"must be a list of limits (window, messages, recipients), got {type(limits).__name__}"
        )
    if not limits and not allow_empty:
        raise error(_QUOTA, where, "must hold at least one limit")
    windows: dict[int, int] = {}
    items = []
    for index, limit in enumerate(limits):
        propagate_undefined(limit)
        at = f"{where}[{index}]"
        if not isinstance(limit, Mapping):
            raise error(_QUOTA, at, f"= {show(limit)} must be a dict with window, messages and recipients")
        unknown = sorted(str(key) for key in limit if key not in _QUOTA_KEYS)
        if unknown:
            raise error(_QUOTA, at, f"has unknown key(s) {', '.join(unknown)}; the keys are {', '.join(_QUOTA_KEYS)}")
        missing = [key for key in _QUOTA_KEYS if key not in limit]
        if missing:
            raise error(_QUOTA, at, f"lacks {', '.join(missing)}; each limit has {', '.join(_QUOTA_KEYS)}")
        for key in _QUOTA_KEYS:
            value = limit[key]
            propagate_undefined(value)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _QUOTA_MAXIMUM[key]:
                raise error(
                    _QUOTA, f"{at}.{key}", f"= {show(value)} must be a whole number from 1 to {_QUOTA_MAXIMUM[key]}"
                )
        first = windows.setdefault(limit["window"], index)
        if first != index:
            raise error(_QUOTA, f"{at}.window", f"= {limit['window']} is already the window of {where}[{first}]")
        items.append((limit["window"], limit["messages"], limit["recipients"]))
    return " ".join(f"{window}:{messages}:{recipients}" for window, messages, recipients in sorted(items))


def mail_postfix_quota(
    limits: Any,
    overrides: Any,
    mailboxes: Any,
    varname: str = "postfix_hardening_quota_limits",
    overrides_varname: str = "postfix_hardening_quota_overrides",
) -> dict:
    """The default outbound limits and each login's override, checked, as mailfort-quota's configuration wants."""
    propagate_undefined(limits, overrides, mailboxes, varname, overrides_varname)
    logins = {login.lower() for login in _check_addresses(mailboxes, "postfix_hardening_mailboxes", _QUOTA)}
    defaults = _quota_limits(limits, varname, allow_empty=False)
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise error(
            _QUOTA, overrides_varname, f"must be a dict of login to a list of limits, got {type(overrides).__name__}"
        )
    result: dict[str, str] = {}
    for login, given in overrides.items():
        propagate_undefined(login, given)
        where = f"{overrides_varname}.{login}"
        if not isinstance(login, str) or login.lower() not in logins:
            raise error(_QUOTA, where, "is not one of the mailboxes; only a mailbox logs in and sends")
        if login.lower() in result:
            raise error(_QUOTA, where, "is the same login as another key (compared lower-cased); give it once")
        result[login.lower()] = _quota_limits(given, where, allow_empty=True)
    return {"defaults": defaults, "logins": dict(sorted(result.items()))}
