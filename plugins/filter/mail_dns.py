# SPDX-License-Identifier: MIT
"""DNS filters for mailfort: the records a mail domain publishes, built from validated intent.

SPF (RFC 7208), DKIM (RFC 6376, RFC 8301, RFC 8463), DMARC (RFC 7489 and RFC 9989), MTA-STS (RFC 8461), TLS-RPT
(RFC 8460), TLSA (RFC 6698, RFC 7672) and CAA (RFC 8659) records, and a zone-file fragment of them.

The code is in plugins/plugin_utils/: dns_records.py (the record shape, TTLs, TXT strings and rdata, the zone),
dns_spf.py (SPF), dns_policy.py (DMARC, MTA-STS, TLS-RPT, CAA) and dns_keys.py (the DKIM key record and TLSA, the
only two that need cryptography). Each filter's documentation is its sidecar, plugins/filter/<name>.yml.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.dns_keys import mail_dns_dkim, mail_dns_tlsa
from ansible_collections.mailfort.mail.plugins.plugin_utils.dns_policy import (
    mail_dns_caa,
    mail_dns_dmarc,
    mail_dns_mta_sts,
    mail_dns_tlsrpt,
)
from ansible_collections.mailfort.mail.plugins.plugin_utils.dns_records import (
    mail_dns_txt_rdata,
    mail_dns_txt_strings,
    mail_dns_zone,
)
from ansible_collections.mailfort.mail.plugins.plugin_utils.dns_spf import mail_dns_spf


class FilterModule:
    """mailfort DNS record filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "mail_dns_txt_strings": mail_dns_txt_strings,
            "mail_dns_txt_rdata": mail_dns_txt_rdata,
            "mail_dns_spf": mail_dns_spf,
            "mail_dns_dkim": mail_dns_dkim,
            "mail_dns_dmarc": mail_dns_dmarc,
            "mail_dns_mta_sts": mail_dns_mta_sts,
            "mail_dns_tlsrpt": mail_dns_tlsrpt,
            "mail_dns_tlsa": mail_dns_tlsa,
            "mail_dns_caa": mail_dns_caa,
            "mail_dns_zone": mail_dns_zone,
        }
