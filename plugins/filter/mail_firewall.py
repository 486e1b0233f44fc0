# SPDX-License-Identifier: MIT
"""Firewall filters for mailfort: the services an nftables ruleset opens, validated before anything is rendered.

The code is in plugins/plugin_utils/firewall.py; each filter's documentation is its sidecar, plugins/filter/<name>.yml.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.firewall import (
    mail_firewall_ban_sets,
    mail_firewall_services,
)


class FilterModule:
    """Firewall filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "mail_firewall_services": mail_firewall_services,
            "mail_firewall_ban_sets": mail_firewall_ban_sets,
        }
