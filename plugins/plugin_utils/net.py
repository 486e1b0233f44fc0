# SPDX-License-Identifier: MIT
"""Network filters for mailfort: validated, normalised lists of CIDR networks."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.plugin_utils.common import propagate_undefined, show


def mail_net_cidrs(networks: Any, varname: str = "networks") -> list[str]:
    """Return the networks as canonical CIDR strings, refusing anything that is not a clean network."""
    propagate_undefined(networks)
    if isinstance(networks, str | bytes) or not isinstance(networks, list | tuple):
        raise AnsibleFilterError(f"mail_net_cidrs: {varname} must be a list of networks, got {networks!r}")
    result: dict[str, None] = {}
    for index, entry in enumerate(networks):
        if not isinstance(entry, str):
            raise AnsibleFilterError(f"mail_net_cidrs: {varname}[{index}] = {entry!r} must be a string")
        try:
            network = ipaddress.ip_network(entry.strip(), strict=True)
        except ValueError as e:
            raise AnsibleFilterError(
                f"mail_net_cidrs: {varname}[{index}] = {entry!r} is not a network in CIDR notation "
                f"(host bits must be zero, e.g. 192.0.2.0/24): {e}"
            ) from e
        result.setdefault(str(network), None)
    return list(result)


_ALLOWLIST = "mail_net_allowlist"
_HOST_BITS = ("reject", "normalise")
_V4_BITS = 32
_V6_BITS = 128
_LENGTH_BITS = 8  # a network is kept as one int, network << 8 | prefix length, for a fast sort
_LENGTH_MASK = (1 << _LENGTH_BITS) - 1
_V4_MAPPED_PREFIX = 96  # ::ffff:0:0/96 holds the IPv4-mapped addresses
_V4_MAPPED_TOP = 0xFFFF  # their address shifted right by 32 bits
# Per family: the socket address family and the prefix length of each valid prefix text (no '024', no '+24').
_FAMILIES = {
    _V4_BITS: (socket.AF_INET, {str(length): length for length in range(_V4_BITS + 1)}),
    _V6_BITS: (socket.AF_INET6, {str(length): length for length in range(_V6_BITS + 1)}),
}
_ENTRY_RULE = "an IPv4 or IPv6 address or CIDR network such as 192.0.2.7, 192.0.2.0/24 or 2001:db8::/32"


def _ipv4_text(address: int) -> str:
    return socket.inet_ntoa(address.to_bytes(4, "big"))


def _ipv6_text(address: int) -> str:
    """Canonical (RFC 5952) text, as str(ipaddress.IPv6Address) writes it; inet_ntop is several times faster."""
    text = socket.inet_ntop(socket.AF_INET6, address.to_bytes(16, "big"))
    # inet_ntop writes addresses that start with five or six zero groups in dotted form (::192.0.2.1); ipaddress not.
    return str(ipaddress.IPv6Address(address)) if "." in text else text


def _cidr(bits: int, address: int, length: int) -> str:
    return f"{(_ipv4_text if bits == _V4_BITS else _ipv6_text)(address)}/{length}"


def _prefix_problem(prefix: str, bits: int) -> str:
    """Why the text after the '/' is not a prefix length of the family."""
    if prefix.isascii() and prefix.isdigit() and not prefix.startswith("0"):  # a plain number, so too large
        return f"has a prefix length out of range: IPv{4 if bits == _V4_BITS else 6} prefixes are 0 to {bits}"
    return f"has the prefix {show(prefix)}; write a prefix length from 0 to {bits} without leading zeros, e.g. /24"


def _collapse(keys: list[int], bits: int) -> list[str]:
    """The fewest CIDR networks covering exactly the union of the networks, sorted; keys are network << 8 | length.

    Integers rather than ipaddress.collapse_addresses, which takes seconds for 100,000 networks; the unit tests check
    that both give the same networks. One int per network rather than a tuple: sorting 100,000 ints is more than
    twice as fast, and scales better, than sorting as many tuples.
    """
    text = _ipv4_text if bits == _V4_BITS else _ipv6_text
    hosts = [(1 << (bits - length)) - 1 for length in range(bits + 1)]
    result: list[str] = []
    keys.sort()
    index, count = 0, len(keys)
    while index < count:
        key = keys[index]
        index += 1
        first = key >> _LENGTH_BITS
        last = first | hosts[key & _LENGTH_MASK]
        while index < count and (key := keys[index]) >> _LENGTH_BITS <= last + 1:  # overlapping or adjacent
            last = max(last, key >> _LENGTH_BITS | hosts[key & _LENGTH_MASK])
            index += 1
        while first <= last:
            # The largest block that starts at first (aligned) and does not reach past last.
            size = min(first & -first or 1 << bits, 1 << ((last - first + 1).bit_length() - 1))
            result.append(f"{text(first)}/{bits - size.bit_length() + 1}")
            first += size
    return result


def mail_net_allowlist(networks: Any, varname: str = "allowlist", host_bits: str = "reject") -> dict[str, Any]:
    """Split an allowlist into collapsed IPv4 and IPv6 CIDR lists for nftables interval sets."""
    # Not the list itself: a pass over 100,000 entries costs a tenth of the filter's time, and an undefined entry
    # is caught where the loop below finds an entry that is no string.
    propagate_undefined(varname, host_bits)
    if host_bits not in _HOST_BITS:
        raise AnsibleFilterError(f"{_ALLOWLIST}: host_bits = {show(host_bits)} is not one of: {', '.join(_HOST_BITS)}")
    if isinstance(networks, str | bytes) or not isinstance(networks, list | tuple):
        propagate_undefined(networks)
        raise AnsibleFilterError(
            f"{_ALLOWLIST}: {varname} must be a list of addresses and networks, got {show(networks)}"
        )
    normalise = host_bits == "normalise"
    families: dict[int, list[int]] = {_V4_BITS: [], _V6_BITS: []}
    for index, entry in enumerate(networks):
        if not isinstance(entry, str):
            propagate_undefined(entry)
            raise AnsibleFilterError(
                f"{_ALLOWLIST}: {varname}[{index}] = {show(entry)} must be a string: {_ENTRY_RULE}"
            )
        # The hot path, run for each of maybe 100,000 entries: no regex, no exception unless the entry is bad.
        # socket.inet_pton parses in C, several times faster than ipaddress, and is as strict (no leading zeros in
        # IPv4, at most one '::'); the unit tests compare the two on generated input.
        address_text, slash, prefix = entry.strip().partition("/")
        bits = _V6_BITS if ":" in address_text else _V4_BITS
        family, lengths = _FAMILIES[bits]
        try:
            address = int.from_bytes(socket.inet_pton(family, address_text), "big")
        except (OSError, ValueError) as e:  # ValueError: NUL characters, unencodable surrogates
            problem = f"is not {_ENTRY_RULE}" if entry.strip() else "is empty"
            raise AnsibleFilterError(f"{_ALLOWLIST}: {varname}[{index}] = {show(entry)} {problem}") from e
        length = lengths.get(prefix) if slash else bits
        if length is None:
            problem = _prefix_problem(prefix, bits)
            raise AnsibleFilterError(f"{_ALLOWLIST}: {varname}[{index}] = {show(entry)} {problem}")
        host = (1 << (bits - length)) - 1
        network = address & ~host
        if bits == _V6_BITS and length >= _V4_MAPPED_PREFIX and network >> _V4_BITS == _V4_MAPPED_TOP:
            ipv4 = ipaddress.IPv4Address(network & 0xFFFFFFFF)
            meant = str(ipv4) if length == _V6_BITS else f"{ipv4}/{length - _V4_MAPPED_PREFIX}"
            raise AnsibleFilterError(
                f"{_ALLOWLIST}: {varname}[{index}] = {show(entry)} is in the IPv4-mapped IPv6 range "
                f"::ffff:0:0/96; write {meant} instead: nftables sees IPv4 clients in its ip family, so an ip6 set "
                "entry would never match them"
            )
        if network != address and not normalise:
            raise AnsibleFilterError(
                f"{_ALLOWLIST}: {varname}[{index}] = {show(entry)} has host bits set for its prefix length; did you "
                f"mean the network {_cidr(bits, network, length)}? (or {_cidr(bits, address, bits)} for the one "
                "address; host_bits='normalise' turns such entries into their network)"
            )
        families[bits].append(network << _LENGTH_BITS | length)
    ipv4 = _collapse(families[_V4_BITS], _V4_BITS)
    ipv6 = _collapse(families[_V6_BITS], _V6_BITS)
    return {"ipv4": ipv4, "ipv6": ipv6, "count": {"ipv4": len(ipv4), "ipv6": len(ipv6), "input": len(networks)}}


_TRUSTED = "mail_net_trusted"
_ACKNOWLEDGED = "mail_net_acknowledged"
# The longest prefixes routed between networks on the internet: one site's assignment. A trust list entry wider
# than this that reaches public address space needs an acknowledgement.
TRUST_BOUND = {4: 24, 6: 48}
# Where a network of any size stays off the public internet: RFC 1918, loopback, link-local, unique local, and the
# documentation ranges. Shared address space (100.64.0.0/10) is not here: it holds a carrier's other customers.
NOT_PUBLIC = tuple(
    ipaddress.ip_network(network)
    for network in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "2001:db8::/32",
    )
)


def _network(entry: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network an entry names (host bits ignored), or None where it names none."""
    if not isinstance(entry, str):
        return None
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None


def covers_public_space(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """The network is wider than TRUST_BOUND and reaches beyond the ranges that stay off the internet."""
    if network.prefixlen >= TRUST_BOUND[network.version]:
        return False
    return not any(network.version == other.version and network.subnet_of(other) for other in NOT_PUBLIC)


def mail_net_trusted(
    networks: Any,
    varname: str = "networks",
    acknowledged: Any = None,
    acknowledged_varname: str = "acknowledged",
    grants: str = "is trusted",
) -> Any:
    """Refuse every entry of a trust list that covers public address space unless it is acknowledged."""
    propagate_undefined(networks, acknowledged)
    if acknowledged is None:
        acknowledged = []
    if isinstance(acknowledged, str | bytes) or not isinstance(acknowledged, list | tuple):
        raise AnsibleFilterError(
            f"{_TRUSTED}: {acknowledged_varname} must be a list of networks, got {show(acknowledged)}"
        )
    accepted = set()
    for index, entry in enumerate(acknowledged):
        network = _network(entry)
        if network is None:
            raise AnsibleFilterError(
                f"{_TRUSTED}: {acknowledged_varname}[{index}] = {show(entry)} is not {_ENTRY_RULE}"
            )
        accepted.add(network)
    if isinstance(networks, str | bytes) or not isinstance(networks, list | tuple):
        return networks  # the list's own format filter says what is wrong with it
    problems = []
    for index, entry in enumerate(networks):
        network = _network(entry)
        if network is None or network in accepted or not covers_public_space(network):
            continue
        reach = "the whole internet" if network.prefixlen == 0 else f"{network.num_addresses:,} addresses"
        problems.append(
            f"{varname}[{index}] = {show(entry)} covers public address space wider than a "
            f"/{TRUST_BOUND[network.version]} ({reach}): every address in it {grants}. List the networks you mean; "
            f"to accept it as it is, add {str(network)!r} to {acknowledged_varname}"
        )
    if problems:
        raise AnsibleFilterError(f"{_TRUSTED}: " + "\n".join(problems))  # one a line: mail_validate splits them
    return networks


def mail_net_acknowledged(acknowledged: Any, lists: Any, varname: str = "acknowledged") -> Any:
    """Refuse an acknowledgement that names no entry of the trust lists it serves: it would accept that network,
    unnoticed, the day someone adds it."""
    propagate_undefined(acknowledged, lists)
    if not isinstance(lists, Mapping):
        raise AnsibleFilterError(f"{_ACKNOWLEDGED}: lists must map each trust list's name to the list")
    if acknowledged is None:
        return acknowledged
    if isinstance(acknowledged, str | bytes) or not isinstance(acknowledged, list | tuple):
        return acknowledged  # mail_net_trusted says what is wrong with it
    listed = set()
    for entries in lists.values():
        if isinstance(entries, list | tuple):
            listed.update(network for network in map(_network, entries) if network is not None)
    names = " or ".join(lists) or "no trust list"
    problems = [
        f"{varname}[{index}] = {show(entry)} names no entry of {names}; remove it: an acknowledgement that names "
        "nothing would accept that network, unnoticed, the day someone adds it"
        for index, entry in enumerate(acknowledged)
        if (network := _network(entry)) is not None and network not in listed
    ]
    if problems:
        raise AnsibleFilterError(f"{_ACKNOWLEDGED}: " + "\n".join(problems))
    return acknowledged
