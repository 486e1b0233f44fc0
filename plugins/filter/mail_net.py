# SPDX-License-Identifier: MIT
"""Network filters for mailfort: validated, normalised lists of CIDR networks.

The code is in plugins/plugin_utils/net.py; each filter's documentation is its sidecar, plugins/filter/<name>.yml.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.net import (
    mail_net_acknowledged,
    mail_net_allowlist,
    mail_net_cidrs,
    mail_net_trusted,
)


class FilterModule:
    """mailfort network filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "mail_net_cidrs": mail_net_cidrs,
            "mail_net_allowlist": mail_net_allowlist,
            "mail_net_trusted": mail_net_trusted,
            "mail_net_acknowledged": mail_net_acknowledged,
        }
