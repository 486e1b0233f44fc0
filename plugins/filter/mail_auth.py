# SPDX-License-Identifier: MIT
"""Authentication filters for mailfort: Dovecot users with a main password and per-device app passwords.

The code is in plugins/plugin_utils/auth.py and auth_credentials.py; each filter's documentation is its sidecar,
plugins/filter/<name>.yml.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.auth import mail_auth_check_users
from ansible_collections.mailfort.mail.plugins.plugin_utils.auth_credentials import (
    mail_auth_credentials,
    mail_auth_drop_revoked,
    mail_auth_parse_passdb,
    mail_auth_passdb_slots,
)


class FilterModule:
    """mailfort authentication filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "mail_auth_check_users": mail_auth_check_users,
            "mail_auth_credentials": mail_auth_credentials,
            "mail_auth_passdb_slots": mail_auth_passdb_slots,
            "mail_auth_parse_passdb": mail_auth_parse_passdb,
            "mail_auth_drop_revoked": mail_auth_drop_revoked,
        }
