# SPDX-License-Identifier: MIT
"""DKIM filters for mailfort: the signing keys a host keeps, validated on the controller before the host is touched.

The code is in plugins/plugin_utils/dkim.py; each filter's documentation is its sidecar, plugins/filter/<name>.yml.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.dkim import (
    mail_dkim_host_key_problems,
    mail_dkim_keys,
    mail_dkim_signers,
)


class FilterModule:
    """mailfort DKIM filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "mail_dkim_keys": mail_dkim_keys,
            "mail_dkim_host_key_problems": mail_dkim_host_key_problems,
            "mail_dkim_signers": mail_dkim_signers,
        }
