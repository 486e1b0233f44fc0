# SPDX-License-Identifier: MIT
"""Network filters for mailfort: validated, normalised lists of CIDR networks."""

from __future__ import annotations

import ipaddress
from typing import Any

from ansible.errors import AnsibleFilterError
from jinja2 import Undefined

DOCUMENTATION = r"""
mail_net_cidrs:
  name: mail_net_cidrs
  short_description: Validate a list of networks and return it in canonical CIDR notation
  description:
    - Each entry is an IPv4 or IPv6 network in CIDR notation (C(192.0.2.0/24), C(2001:db8::/32)) or a single
      address, which becomes a host network (C(/32) or C(/128)).
    - A network with host bits set (C(192.0.2.1/24)) is refused, because it usually means a typo in the prefix.
    - Duplicates are removed; order is kept.
  positional: _input, varname
  options:
    _input:
      description: The networks.
      type: list
      elements: str
      required: true
    varname:
      description: Name of the variable, used in error messages.
      type: str
      default: networks
"""

EXAMPLES = r"""
- name: net | allow cleartext authentication from a legacy scanner only
  ansible.builtin.set_fact:
    __allowed: "{{ ['192.0.2.7', '2001:db8::/64'] | mail_net_cidrs('my_networks') }}"
"""

RETURN = r"""
mail_net_cidrs:
  _value:
    description: The networks in canonical CIDR notation, e.g. C(['192.0.2.7/32', '2001:db8::/64']).
    type: list
    elements: str
"""


def mail_net_cidrs(networks: Any, varname: str = "networks") -> list[str]:
    """Return the networks as canonical CIDR strings, refusing anything that is not a clean network."""
    if isinstance(networks, Undefined):
        networks._fail_with_undefined_error()
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


class FilterModule:
    """mailfort network filters."""

    def filters(self) -> dict[str, Any]:
        return {"mail_net_cidrs": mail_net_cidrs}
