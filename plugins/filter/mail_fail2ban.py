# SPDX-License-Identifier: MIT
"""fail2ban filters for mailfort: the jails a host runs, validated and completed with their defaults.

The code is in plugins/plugin_utils/fail2ban.py; each filter's documentation is its sidecar, plugins/filter/<name>.yml.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.fail2ban import (
    mail_fail2ban_jails,
)


class FilterModule:
    """mailfort fail2ban filters."""

    def filters(self) -> dict[str, Any]:
        return {"mail_fail2ban_jails": mail_fail2ban_jails}
