# SPDX-License-Identifier: MIT
"""Firewall filters for mailfort: the services an nftables ruleset opens, validated before anything is rendered."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.plugin_utils.common import (
    PORT_MAX,
    error,
    propagate_undefined,
    show,
    whole_number,
)

_SERVICES = "mail_firewall_services"
_BAN_SETS = "mail_firewall_ban_sets"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
_JAIL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PROTOCOLS = ("tcp", "udp")
_SERVICE_KEYS = {"name", "ports", "proto", "sources", "rate_limit", "varname"}


def _port(value: Any, where: str) -> int:
    """A port number, written as every whole number is (common.whole_number); anything else is refused."""
    number = whole_number(value)
    if number is None:
        raise error(_SERVICES, where, f"= {show(value)} is not a port number (1 to {PORT_MAX})")
    if not 1 <= number <= PORT_MAX:
        raise error(_SERVICES, where, f"= {number} is out of range: ports are 1 to {PORT_MAX}")
    return number


def _sources(value: Any, where: str, ports: list[int]) -> tuple[bool, list[str], list[str]]:
    if value == "any":
        return True, [], []
    if not isinstance(value, Mapping) or not {"ipv4", "ipv6"} <= set(value):
        raise AnsibleFilterError(
            f"{_SERVICES}: {where} = {show(value)} must be 'any' or an allowlist as mail_net_allowlist returns it"
        )
    ipv4, ipv6 = list(value["ipv4"]), list(value["ipv6"])
    if not ipv4 and not ipv6:
        raise AnsibleFilterError(
            f"{_SERVICES}: {where} is empty, so nobody could reach ports {ports}: list the networks that may, "
            "or switch the service off"
        )
    return False, ipv4, ipv6


def mail_firewall_services(services: Any, varname: str = _SERVICES) -> list[dict[str, Any]]:
    """Validate the services a ruleset opens; return them with sorted ports, their sources and set names."""
    propagate_undefined(services, varname)
    if isinstance(services, str | bytes) or not isinstance(services, list | tuple):
        raise AnsibleFilterError(f"{_SERVICES}: {varname} must be a list of services, got {show(services)}")
    result: list[dict[str, Any]] = []
    owners: dict[tuple[str, int], str] = {}
    names: set[str] = set()
    for index, service in enumerate(services):
        propagate_undefined(service)
        if not isinstance(service, Mapping):
            raise AnsibleFilterError(f"{_SERVICES}: {varname}[{index}] = {show(service)} must be a dict")
        where = service.get("varname") or f"{varname}[{index}]"
        unknown = sorted(set(service) - _SERVICE_KEYS)
        if unknown:
            raise AnsibleFilterError(
                f"{_SERVICES}: {where} has unknown keys {unknown}; known are {sorted(_SERVICE_KEYS)}"
            )
        name = service.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise AnsibleFilterError(
                f"{_SERVICES}: {where}: the name {show(name)} must be lower case letters, digits and _, "
                "starting with a letter, at most 31 characters (it becomes part of nftables set names)"
            )
        if name in names:
            raise AnsibleFilterError(f"{_SERVICES}: {where}: the name {name!r} is used by two services")
        names.add(name)
        proto = service.get("proto", "tcp")
        if proto not in _PROTOCOLS:
            raise AnsibleFilterError(f"{_SERVICES}: {where}: proto {show(proto)} must be one of {list(_PROTOCOLS)}")
        raw_ports = service.get("ports")
        if isinstance(raw_ports, str | bytes) or not isinstance(raw_ports, list | tuple):
            raise AnsibleFilterError(
                f"{_SERVICES}: {where}: ports must be a list of port numbers, got {show(raw_ports)}"
            )
        ports = sorted({_port(port, f"{where} port {position}") for position, port in enumerate(raw_ports)})
        if not ports:
            continue
        for port in ports:
            other = owners.setdefault((proto, port), where)
            if other != where:
                raise AnsibleFilterError(
                    f"{_SERVICES}: {proto} port {port} is in both {other} and {where}; a port belongs to one service"
                )
        is_open, ipv4, ipv6 = _sources(service.get("sources"), f"{where} sources", ports)
        rate_limit = service.get("rate_limit", False)
        if not isinstance(rate_limit, bool):
            raise AnsibleFilterError(f"{_SERVICES}: {where}: rate_limit must be true or false, got {show(rate_limit)}")
        result.append(
            {
                "name": name,
                "proto": proto,
                "ports": ports,
                "rate_limit": rate_limit,
                "open": is_open,
                "ipv4": ipv4,
                "ipv6": ipv6,
                "set_v4": f"allow_{name}_v4",
                "set_v6": f"allow_{name}_v6",
            }
        )
    return result


def mail_firewall_ban_sets(jails: Any, varname: str = _BAN_SETS) -> list[dict[str, str]]:
    """The ban set names of each jail: ban_<jail>_v4 and _v6, with [^a-z0-9] turned into _."""
    propagate_undefined(jails, varname)
    if isinstance(jails, str | bytes) or not isinstance(jails, list | tuple):
        raise AnsibleFilterError(f"{_BAN_SETS}: {varname} must be a list of fail2ban jail names, got {show(jails)}")
    result: list[dict[str, str]] = []
    bases: dict[str, str] = {}
    for index, jail in enumerate(jails):
        propagate_undefined(jail)
        if not isinstance(jail, str) or not _JAIL.match(jail):
            raise AnsibleFilterError(
                f"{_BAN_SETS}: {varname}[{index}] = {show(jail)} is not a jail name "
                "(letters, digits, '-', '_' and '.', at most 64 characters)"
            )
        base = "ban_" + re.sub(r"[^a-z0-9]", "_", jail.lower())
        if base in bases:
            raise AnsibleFilterError(
                f"{_BAN_SETS}: {varname}[{index}] = {jail!r} needs the set {base}, as {bases[base]!r} does: "
                "list each jail once"
            )
        bases[base] = jail
        result.append({"jail": jail, "base": base, "ipv4": f"{base}_v4", "ipv6": f"{base}_v6"})
    return result
