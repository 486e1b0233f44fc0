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
from jinja2 import Undefined

DOCUMENTATION = r"""
mail_fail2ban_jails:
  name: mail_fail2ban_jails
  short_description: Validate the fail2ban jails to run and complete each with its limits and nftables set name
  description:
    - "The jails are C(postfix) (rejected SMTP clients), C(postfix-sasl) (failed SMTP AUTH on submission),
      C(dovecot) (failed IMAP/POP3 logins), C(sshd) (failed SSH logins) and C(recidive) (addresses that other jails
      banned again and again). Any other name is refused, naming the known ones."
    - "O(_input) is either a list of jail names, which runs exactly those jails with the default limits, or a dict
      of jail name to overrides (C(enabled), C(maxretry), C(findtime), C(bantime)), which runs every known jail
      and changes only what it names; C(enabled: false) switches a jail off. Any other key is refused."
    - "C(maxretry) is the number of failures within C(findtime) seconds that bans an address for C(bantime)
      seconds. Each is a whole number of at least 1, given as an integer or a string of digits; negative numbers,
      fractions, booleans and fail2ban's time abbreviations (C(10m)) are refused, so a typo cannot turn into a
      permanent (C(-1)) or no ban."
    - "C(recidive) watches fail2ban's own ban notices: unless overridden, it bans an address that the other jails
      banned 5 times within a day, for a week (fail2ban's own recidive defaults). The other jails take
      O(maxretry), O(findtime) and O(bantime)."
    - Error messages name the variable, the jail and the key, the value and the rule it broke.
  positional: _input, maxretry, findtime, bantime, varname, prefix
  options:
    _input:
      description: The jails, a list of names or a dict of name to overrides.
      type: raw
      required: true
    maxretry:
      description: Failures within findtime that ban an address, for jails that do not set their own.
      type: int
      required: true
    findtime:
      description: Seconds over which failures are counted, for jails that do not set their own.
      type: int
      required: true
    bantime:
      description: Seconds an address stays banned (before bantime.increment), for jails that do not set their own.
      type: int
      required: true
    varname:
      description: Name of the variable that held the jails, used in error messages.
      type: str
      default: fail2ban_jails
    prefix:
      description: What the variables of O(maxretry), O(findtime) and O(bantime) are called without their key, for
        error messages (C(fail2ban_) names C(fail2ban_maxretry)).
      type: str
      default: fail2ban_
"""

EXAMPLES = r"""
- name: fail2ban | complete the jails with the defaults
  ansible.builtin.set_fact:
    __fail2ban_jails: >-
      {{ fail2ban_jails | mail_fail2ban_jails(fail2ban_maxretry, fail2ban_findtime, fail2ban_bantime,
                                              'fail2ban_jails') }}
  # {'sshd': {'enabled': false}, 'recidive': {'maxretry': 2}} with 5, 600, 3600 gives five jails, e.g.
  # {"name": "postfix-sasl", "enabled": true, "maxretry": 5, "findtime": 600, "bantime": 3600,
  #  "set": "ban_postfix_sasl"} and {"name": "sshd", "enabled": false, ...}
"""

RETURN = r"""
mail_fail2ban_jails:
  _value:
    description:
      - "One dict per known jail, in the order postfix, postfix-sasl, dovecot, sshd, recidive: C(name),
        C(enabled) (bool), C(maxretry), C(findtime) and C(bantime) (int), and C(set), the base name of the jail's
        nftables sets (C(ban_postfix_sasl): the sets are C(ban_postfix_sasl_v4) and C(ban_postfix_sasl_v6))."
    type: list
    elements: dict
"""

_FILTER = "mail_fail2ban_jails"
_JAILS = ("postfix", "postfix-sasl", "dovecot", "sshd", "recidive")
# fail2ban's own recidive limits (jail.conf): five bans in a day keep an address out for a week.
_RECIDIVE = {"maxretry": 5, "findtime": 86400, "bantime": 604800}
_NUMBERS = ("maxretry", "findtime", "bantime")
_KEYS = ("enabled", *_NUMBERS)
_NOT_SET_CHARACTER = re.compile(r"[^a-z0-9]")
_SHOWN_VALUE_MAX = 80


def _show(value: Any) -> str:
    """Repr of a user value for an error message, cut short so a huge value cannot flood the output."""
    shown = repr(value)
    if len(shown) > _SHOWN_VALUE_MAX:
        shown = shown[: _SHOWN_VALUE_MAX - 3] + "..."
    return shown


def _fail_if_undefined(value: Any) -> None:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


# Why each number must be at least 1, in the words of what it does.
_AT_LEAST_ONE = {
    "maxretry": "it is how many failures within findtime ban an address (1 bans at the first)",
    "findtime": "it is how many seconds back failures are counted",
    "bantime": "it is how many seconds a ban lasts (fail2ban reads a negative bantime as a ban for ever)",
}


def _whole_number(value: Any, where: str, key: str) -> int:
    """A whole number of at least 1, from an int or a string of digits; anything else is refused."""
    _fail_if_undefined(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    unit = "retries" if key == "maxretry" else "seconds"
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnsibleFilterError(
            f"{_FILTER}: {where} = {_show(value)} must be a whole number of {unit}, e.g. "
            f"{5 if key == 'maxretry' else 600} (no fractions, no units such as 10m)"
        )
    if value < 1:
        raise AnsibleFilterError(f"{_FILTER}: {where} = {_show(value)} must be at least 1: {_AT_LEAST_ONE[key]}")
    return value


def _jail_name(name: Any, where: str) -> str:
    _fail_if_undefined(name)
    if name not in _JAILS:
        raise AnsibleFilterError(f"{_FILTER}: {where} = {_show(name)} is not a known jail; known: {', '.join(_JAILS)}")
    return name


def _overrides(name: str, overrides: Any, varname: str) -> dict[str, Any]:
    _fail_if_undefined(overrides)
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise AnsibleFilterError(
            f"{_FILTER}: {varname}.{name} = {_show(overrides)} must be a dict of overrides ({', '.join(_KEYS)})"
        )
    unknown = sorted(str(key) for key in overrides if key not in _KEYS)
    if unknown:
        raise AnsibleFilterError(
            f"{_FILTER}: {varname}.{name} has the unknown key {unknown[0]!r}; a jail takes {', '.join(_KEYS)}"
        )
    result = dict(overrides)
    if "enabled" in result:
        _fail_if_undefined(result["enabled"])
        if not isinstance(result["enabled"], bool):
            raise AnsibleFilterError(
                f"{_FILTER}: {varname}.{name}.enabled = {_show(result['enabled'])} must be true or false"
            )
    for key in _NUMBERS:
        if key in result:
            result[key] = _whole_number(result[key], f"{varname}.{name}.{key}", key)
    return result


def mail_fail2ban_jails(  # noqa: PLR0917 -- Ansible passes filter arguments positionally, as documented
    jails: Any, maxretry: Any, findtime: Any, bantime: Any, varname: str = "fail2ban_jails", prefix: str = "fail2ban_"
) -> list[dict[str, Any]]:
    """Every known jail with enabled, maxretry, findtime, bantime and its nftables set base name."""
    _fail_if_undefined(jails)
    _fail_if_undefined(varname)
    defaults = {
        key: _whole_number(value, f"{prefix}{key}", key)
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
            f"{_FILTER}: {varname} must be a list of jail names or a dict of jail name to overrides, got {_show(jails)}"
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


class FilterModule:
    """mailfort fail2ban filters."""

    def filters(self) -> dict[str, Any]:
        return {"mail_fail2ban_jails": mail_fail2ban_jails}
