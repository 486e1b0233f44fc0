# SPDX-License-Identifier: MIT
"""fail2ban filters for mailfort: the jails a host runs, validated and completed with their defaults.

The role knows five jails (postfix, postfix-sasl, dovecot, sshd, recidive). Each bans into its own pair of nftables
sets that the mail_firewall role declares: ``ban_<jail>_v4`` and ``ban_<jail>_v6``, the jail's name with every
character outside [a-z0-9] replaced by ``_``. This module turns the user's choice of jails and numbers into one
complete, checked description per jail that the templates render as they are.

Ansible loads every filter file on its own, so the small helpers (errors, undefined values) are repeated here
rather than shared with the other mail_* modules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.plugin_utils.common import error, propagate_undefined, show, whole_number

_FILTER = "mail_fail2ban_jails"
_JAILS = ("postfix", "postfix-sasl", "dovecot", "sshd", "recidive")
# fail2ban's own recidive limits (jail.conf): five bans in a day keep an address out for a week.
_RECIDIVE = {"maxretry": 5, "findtime": 86400, "bantime": 604800}
_NUMBERS = ("maxretry", "findtime", "bantime")
_KEYS = ("enabled", *_NUMBERS)
_NOT_SET_CHARACTER = re.compile(r"[^a-z0-9]")


# Why each number must be at least 1, in the words of what it does.
_AT_LEAST_ONE = {
    "maxretry": "it is how many failures within findtime ban an address (1 bans at the first)",
    "findtime": "it is how many seconds back failures are counted",
    "bantime": "it is how many seconds a ban lasts (fail2ban reads a negative bantime as a ban for ever)",
}


def _count(value: Any, where: str, key: str) -> int:
    """A whole number of at least 1, from an int or a string of digits; anything else is refused."""
    propagate_undefined(value)
    number = whole_number(value)
    unit = "retries" if key == "maxretry" else "seconds"
    if number is None:
        raise error(
            _FILTER,
            where,
            f"= {show(value)} must be a whole number of {unit}, e.g. "
            f"{5 if key == 'maxretry' else 600} (no fractions, no units such as 10m)",
        )
    if number < 1:
        raise error(_FILTER, where, f"= {show(value)} must be at least 1: {_AT_LEAST_ONE[key]}")
    return number


def _jail_name(name: Any, where: str) -> str:
    propagate_undefined(name)
    if name not in _JAILS:
        raise AnsibleFilterError(f"{_FILTER}: {where} = {show(name)} is not a known jail; known: {', '.join(_JAILS)}")
    return name


def _overrides(name: str, overrides: Any, varname: str) -> dict[str, Any]:
    propagate_undefined(overrides)
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise AnsibleFilterError(
            f"{_FILTER}: {varname}.{name} = {show(overrides)} must be a dict of overrides ({', '.join(_KEYS)})"
        )
    unknown = sorted(str(key) for key in overrides if key not in _KEYS)
    if unknown:
        raise AnsibleFilterError(
            f"{_FILTER}: {varname}.{name} has the unknown key {unknown[0]!r}; a jail takes {', '.join(_KEYS)}"
        )
    result = dict(overrides)
    if "enabled" in result:
        propagate_undefined(result["enabled"])
        if not isinstance(result["enabled"], bool):
            raise AnsibleFilterError(
                f"{_FILTER}: {varname}.{name}.enabled = {show(result['enabled'])} must be true or false"
            )
    for key in _NUMBERS:
        if key in result:
            result[key] = _count(result[key], f"{varname}.{name}.{key}", key)
    return result


def mail_fail2ban_jails(  # noqa: PLR0917 -- Ansible passes filter arguments positionally, as documented
    jails: Any, maxretry: Any, findtime: Any, bantime: Any, varname: str = "fail2ban_jails", prefix: str = "fail2ban_"
) -> list[dict[str, Any]]:
    """Every known jail with enabled, maxretry, findtime, bantime and its nftables set base name."""
    propagate_undefined(jails)
    propagate_undefined(varname)
    defaults = {
        key: _count(value, f"{prefix}{key}", key)
        for key, value in (("maxretry", maxretry), ("findtime", findtime), ("bantime", bantime))
    }
    chosen: dict[str, dict[str, Any]]
    if isinstance(jails, Mapping):
        chosen = {name: {"enabled": True} for name in _JAILS}
        for name, overrides in jails.items():
            chosen[_jail_name(name, f"{varname} key")].update(_overrides(name, overrides, varname))
    elif isinstance(jails, list | tuple):
        chosen = {name: {"enabled": False} for name in _JAILS}
        for index, name in enumerate(jails):
            if chosen[_jail_name(name, f"{varname}[{index}]")]["enabled"]:
                raise AnsibleFilterError(f"{_FILTER}: {varname}[{index}] = {name!r} is listed twice")
            chosen[name]["enabled"] = True
    else:
        raise AnsibleFilterError(
            f"{_FILTER}: {varname} must be a list of jail names or a dict of jail name to overrides, got {show(jails)}"
        )
    return [
        {
            "name": name,
            **(_RECIDIVE if name == "recidive" else defaults),
            **chosen[name],
            "set": "ban_" + _NOT_SET_CHARACTER.sub("_", name),
        }
        for name in _JAILS
    ]
