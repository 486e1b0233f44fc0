# SPDX-License-Identifier: MIT
"""TLS filters for mailfort: one TLS policy for Postfix and Dovecot, and checks for user-supplied certificates.

The code is in plugins/plugin_utils/tls.py; each filter's documentation is its sidecar, plugins/filter/<name>.yml.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.tls import (
    mail_tls_check_bundle,
    mail_tls_check_lifetime,
    mail_tls_check_sans,
    mail_tls_policy,
    mail_tls_uncovered_names,
)


class FilterModule:
    """mailfort TLS filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "mail_tls_policy": mail_tls_policy,
            "mail_tls_check_bundle": mail_tls_check_bundle,
            "mail_tls_check_lifetime": mail_tls_check_lifetime,
            "mail_tls_check_sans": mail_tls_check_sans,
            "mail_tls_uncovered_names": mail_tls_uncovered_names,
        }
