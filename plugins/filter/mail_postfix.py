# SPDX-License-Identifier: MIT
"""Postfix filters for mailfort: main.cf parameters, TLS policy table entries, mailboxes, the sender login map and

The code is in plugins/plugin_utils/postfix.py, postfix_tls.py and postfix_postscreen.py; each filter's
documentation is its sidecar, plugins/filter/<name>.yml.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.postfix import (
    mail_postfix_mailboxes,
    mail_postfix_main_cf,
    mail_postfix_parse_postconf,
    mail_postfix_quota,
    mail_postfix_sender_logins,
)
from ansible_collections.mailfort.mail.plugins.plugin_utils.postfix_postscreen import mail_postfix_dnsbl_sites
from ansible_collections.mailfort.mail.plugins.plugin_utils.postfix_tls import mail_postfix_tls_policies


class FilterModule:
    """mailfort Postfix filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "mail_postfix_main_cf": mail_postfix_main_cf,
            "mail_postfix_tls_policies": mail_postfix_tls_policies,
            "mail_postfix_mailboxes": mail_postfix_mailboxes,
            "mail_postfix_sender_logins": mail_postfix_sender_logins,
            "mail_postfix_parse_postconf": mail_postfix_parse_postconf,
            "mail_postfix_quota": mail_postfix_quota,
            "mail_postfix_dnsbl_sites": mail_postfix_dnsbl_sites,
        }
