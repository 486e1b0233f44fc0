# SPDX-License-Identifier: MIT
"""Throughput of mailfort's filter plugins: medians of repeated runs, the 100k/10k ratio and peak memory.

The machine is shared and noisy, so the numbers to read are medians and ratios, not single timings. Timings never
make this script fail; only an exception (a filter that raises on the generated input) does.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import itertools
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "filter"))
# The thin filter entry files import their code from the collection (ansible_collections.mailfort.mail...).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collections"))

# The filter plugins, importable once plugins/filter and collections are on the path (ruff allows imports after
# sys.path changes).
import mail_dns
import mail_firewall
import mail_net
import mail_postfix
import mail_tls

SEED = 20260101
ALLOWLIST_SIZES = (1_000, 10_000, 100_000)
RUNS = {1_000: 21, 10_000: 11, 100_000: 5}  # more runs where one run is cheap
CALL_RUNS = 11
CALLS_PER_RUN = 200
MIB = 1024 * 1024


# ------------------------------------------------------------------------------------------------------ input


def allowlist_entries(count: int, seed: int = SEED) -> list[str]:
    """count random allowlist entries: mostly addresses, some networks, about 5 % repeats, overlaps on purpose.

    IPv4 comes from 10.0.0.0/8 and IPv6 from 2001:db8::/48, so that networks (/24 to /30, /64 to /124) cover some of
    the addresses and each other, as a real allowlist that grew over years does. The same seed gives the same list.
    """
    rnd = random.Random(seed)  # noqa: S311 -- bench data, not a secret; the fixed seed repeats the same entries
    entries: list[str] = []
    for _ in range(count):
        pick = rnd.random()
        if entries and pick < 0.05:
            entries.append(rnd.choice(entries))
        elif pick < 0.60:
            entries.append(str(ipaddress.IPv4Address((10 << 24) + rnd.getrandbits(24))))
        elif pick < 0.75:
            address = (10 << 24) + rnd.getrandbits(24)
            entries.append(str(ipaddress.IPv4Network((address, rnd.randint(24, 30)), strict=False)))
        elif pick < 0.95:
            entries.append(str(ipaddress.IPv6Address((0x20010DB8 << 96) + rnd.getrandbits(80))))
        else:
            address = (0x20010DB8 << 96) + rnd.getrandbits(80)
            entries.append(str(ipaddress.IPv6Network((address, rnd.randint(64, 124)), strict=False)))
    return entries


# A main.cf the size postfix_hardening renders (about 80 parameters), with the lab's values and the TLS settings of
# the intermediate profile, and the role's controls.
TLS = mail_tls.mail_tls_policy("intermediate", postfix_version="3.7.11")["postfix"]
MAIN_CF_BASE: dict[str, Any] = {
    "myhostname": "mx.example.org",
    "myorigin": "$myhostname",
    "mydestination": "$myhostname, localhost.localdomain, localhost",
    "mynetworks": "127.0.0.0/8 [::1]/128 192.0.2.0/24 [2001:db8::]/64",
    "inet_interfaces": "all",
    "inet_protocols": "all",
    "alias_maps": "hash:/etc/aliases",
    "alias_database": "hash:/etc/aliases",
    "recipient_delimiter": "+",
    "append_dot_mydomain": False,
    "biff": False,
    "readme_directory": "no",
    "compatibility_level": "3.6",
    "smtpd_banner": "$myhostname ESMTP",
    "smtpd_tls_chain_files": ["/etc/ssl/private/mail.key", "/etc/ssl/certs/mail.pem"],
    "smtpd_tls_security_level": "may",
    **TLS,
    "mua_tls_exclude_ciphers": TLS["smtpd_tls_exclude_ciphers"],
    "smtpd_tls_loglevel": 1,
    "smtpd_tls_received_header": True,
    "smtpd_tls_session_cache_database": "btree:${data_directory}/smtpd_scache",
    "smtp_tls_security_level": "dane",
    "smtp_dns_support_level": "dnssec",
    "smtp_tls_mandatory_protocols": ">=TLSv1.2",
    "smtp_tls_CApath": "/etc/ssl/certs",
    "smtp_tls_loglevel": 1,
    "smtp_tls_session_cache_database": "btree:${data_directory}/smtp_scache",
    "smtp_tls_policy_maps": "texthash:$config_directory/mailfort/tls_policy",
    "smtpd_sasl_auth_enable": False,
    "smtpd_sasl_type": "dovecot",
    "smtpd_sasl_path": "private/auth",
    "smtpd_tls_auth_only": True,
    "smtpd_sasl_security_options": ["noanonymous", "noplaintext"],
    "smtpd_sasl_tls_security_options": "noanonymous",
    "smtpd_sasl_authenticated_header": False,
    "broken_sasl_auth_clients": False,
    "virtual_mailbox_domains": ["example.org", "example.net"],
    "virtual_mailbox_maps": "texthash:$config_directory/mailfort/virtual_mailboxes",
    "virtual_transport": "lmtp:unix:private/dovecot-lmtp",
    "smtpd_sender_login_maps": "texthash:$config_directory/mailfort/sender_logins",
    "smtpd_helo_required": True,
    "smtpd_helo_restrictions": [
        "permit_mynetworks",
        "permit_sasl_authenticated",
        "reject_invalid_helo_hostname",
        "reject_non_fqdn_helo_hostname",
    ],
    "smtpd_sender_restrictions": [
        "reject_non_fqdn_sender",
        "reject_unknown_sender_domain",
        "permit_mynetworks",
        "check_sender_access texthash:$config_directory/mailfort/mx_protected_senders",
    ],
    "smtpd_relay_restrictions": ["permit_mynetworks", "permit_sasl_authenticated", "reject_unauth_destination"],
    "smtpd_recipient_restrictions": [
        "reject_non_fqdn_recipient",
        "reject_unknown_recipient_domain",
        "permit_mynetworks",
        "permit_sasl_authenticated",
    ],
    "smtpd_reject_unlisted_recipient": True,
    "smtpd_data_restrictions": ["reject_unauth_pipelining", "reject_multi_recipient_bounce"],
    "mua_client_restrictions": ["permit_sasl_authenticated", "reject"],
    "mua_sender_restrictions": [
        "reject_non_fqdn_sender",
        "reject_sender_login_mismatch",
        "permit_sasl_authenticated",
        "reject",
    ],
    "mua_relay_restrictions": ["permit_sasl_authenticated", "reject"],
    "mua_recipient_restrictions": [
        "reject_non_fqdn_recipient",
        "reject_unknown_recipient_domain",
        "permit_sasl_authenticated",
        "reject",
    ],
    "smtpd_restriction_classes": "mua_sender_restrictions, mua_client_restrictions",
    "disable_vrfy_command": True,
    "strict_rfc821_envelopes": True,
    "smtpd_forbid_bare_newline": "normalize",
    "smtpd_forbid_bare_newline_exclusions": "$mynetworks",
    "smtpd_forbid_unauth_pipelining": True,
    "message_size_limit": 52428800,
    "mailbox_size_limit": 0,
    "smtpd_recipient_limit": 100,
    "anvil_rate_time_unit": "60s",
    "smtpd_client_connection_count_limit": 20,
    "smtpd_client_connection_rate_limit": 60,
    "smtpd_client_message_rate_limit": 100,
    "smtpd_client_recipient_rate_limit": 300,
    "smtpd_client_new_tls_session_rate_limit": 60,
    "smtpd_client_auth_rate_limit": 30,
    "smtpd_client_event_limit_exceptions": "$mynetworks 198.51.100.0/24",
    "smtpd_soft_error_limit": 10,
    "smtpd_hard_error_limit": 20,
    "smtpd_junk_command_limit": 100,
    "smtpd_timeout": "300s",
    "smtpd_starttls_timeout": "300s",
    "smtpd_proxy_timeout": "100s",
    "smtpd_error_sleep_time": "1s",
    "header_size_limit": 102400,
    "queue_minfree": 104857600,
    "maximal_queue_lifetime": "5d",
    "bounce_queue_lifetime": "5d",
    "delay_warning_time": "4h",
    "notify_classes": ["resource", "software"],
}
MAIN_CF_EXTRA = {"maximal_queue_lifetime": "3d", "smtp_helo_timeout": "60s", "lmtp_destination_recipient_limit": 1}
MAIN_CF_CONTROLS = {
    name: control
    for control, names in {
        "PFX-01": ["smtpd_tls_auth_only", "smtpd_sasl_security_options", "mua_client_restrictions"],
        "PFX-02": ["smtpd_tls_mandatory_protocols", "smtpd_tls_mandatory_ciphers", "tls_high_cipherlist"],
        "PFX-04": ["mynetworks", "smtpd_relay_restrictions", "smtpd_recipient_restrictions"],
        "PFX-06": ["smtpd_forbid_bare_newline", "smtpd_forbid_unauth_pipelining", "smtpd_data_restrictions"],
        "PFX-07": ["disable_vrfy_command", "smtpd_helo_required", "smtpd_banner"],
    }.items()
    for name in names
}


# An SPF policy at the lookup limit: 10 lookups, 7 of them in the 6 records it reaches through include and redirect,
# the tree mail_dns_spf parses and counts on every call.
SPF_POLICY = {
    "mechanisms": ["mx", "ip4:192.0.2.0/24", "include:_spf.example.org", "include:relay.example.net"],
    "all": "-all",
}
SPF_RESOLVED = {
    "_spf.example.org": "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 a:out.example.org include:_v6.example.org -all",
    "_v6.example.org": "v=spf1 ip6:2001:db8:1::/48 exists:%{i}._allow.example.org ~all",
    "relay.example.net": "v=spf1 include:a.relay.example.net include:b.relay.example.net -all",
    "a.relay.example.net": "v=spf1 ip4:203.0.113.0/25 redirect=c.relay.example.net",
    "b.relay.example.net": "v=spf1 ip4:203.0.113.128/25 -all",
    "c.relay.example.net": "v=spf1 mx -all",
}


# ------------------------------------------------------------------------------------------------- measuring


def timings(function: Callable[[], Any], runs: int, calls: int = 1) -> list[float]:
    """Seconds per call of each run, after one untimed warm-up; the garbage collector stays on, as in Ansible."""
    function()
    result = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        for _ in range(calls):
            function()
        result.append((time.perf_counter() - start) / calls)
    return result


def peak_mib(function: Callable[[], Any]) -> float:
    """Peak memory the call allocates (its input already exists), by tracemalloc; slow, so never timed."""
    gc.collect()
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


def row(name: str, size: str, seconds: list[float], items: int | None) -> str:
    median = statistics.median(seconds)
    rate = f"{items / median:,.0f} entries/s" if items else f"{1 / median:,.0f} calls/s"
    spread = (max(seconds) - min(seconds)) / median
    return f"{name:<24} {size:>11} {len(seconds):>5} {median:>10.6f} {min(seconds):>10.6f} {spread:>7.0%} {rate:>18}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="runs per measurement (default: 21 for 1k down to 5 for 100k)")
    parser.add_argument("--reference", action="store_true", help="also time ipaddress.collapse_addresses at 10k")
    args = parser.parse_args(argv)

    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"filter throughput: Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load}")
    print("median and min: seconds per call; spread: (max - min) / median; the machine is noisy, read medians/ratios")
    print()
    print(f"{'filter':<24} {'input':>11} {'runs':>5} {'median s':>10} {'min s':>10} {'spread':>7} {'throughput':>18}")

    medians = {}
    results = {}
    for size in ALLOWLIST_SIZES:
        entries = allowlist_entries(size)
        seconds = timings(lambda entries=entries: mail_net.mail_net_allowlist(entries), args.runs or RUNS[size])
        medians[size] = statistics.median(seconds)
        results[size] = mail_net.mail_net_allowlist(entries)
        print(row("mail_net_allowlist", f"{size:,}", seconds, size))
    if args.reference:
        entries = allowlist_entries(10_000)
        seconds = timings(lambda: _ipaddress_reference(entries), args.runs or 3)
        print(row("  ipaddress (reference)", "10,000", seconds, 10_000))

    entries = allowlist_entries(10_000)
    seconds = timings(lambda: mail_net.mail_net_cidrs(entries), args.runs or RUNS[10_000])
    print(row("mail_net_cidrs", "10,000", seconds, 10_000))
    seconds = timings(lambda: mail_tls.mail_tls_policy("intermediate"), args.runs or CALL_RUNS, CALLS_PER_RUN)
    print(row("mail_tls_policy", "1 profile", seconds, None))
    base_size = f"{len(MAIN_CF_BASE)}+{len(MAIN_CF_EXTRA)} par."
    seconds = timings(
        lambda: mail_postfix.mail_postfix_main_cf(MAIN_CF_BASE, MAIN_CF_EXTRA, None, MAIN_CF_CONTROLS),
        args.runs or CALL_RUNS,
        CALLS_PER_RUN,
    )
    print(row("mail_postfix_main_cf", base_size, seconds, None))
    seconds = timings(
        lambda: mail_dns.mail_dns_spf(SPF_POLICY, "example.org", SPF_RESOLVED), args.runs or CALL_RUNS, CALLS_PER_RUN
    )
    print(row("mail_dns_spf", "10 lookups", seconds, None))

    # What mail_firewall's validation does with a 100,000-entry admin allowlist: normalise it, then build the
    # services the ruleset template renders.
    largest = allowlist_entries(ALLOWLIST_SIZES[-1])
    seconds = timings(lambda: firewall_services(largest), args.runs or RUNS[ALLOWLIST_SIZES[-1]])
    print(row("mail_firewall (services)", f"{len(largest):,}", seconds, len(largest)))

    peak = peak_mib(lambda: mail_net.mail_net_allowlist(largest))
    print()
    print("mail_net_allowlist")
    for small, large in itertools.pairwise(ALLOWLIST_SIZES):
        print(
            f"  ratio {large // 1000}k/{small // 1000}k median: {medians[large] / medians[small]:5.1f}"
            f"  ({large // small} if linear)"
        )
    for size, result in results.items():
        count = result["count"]
        print(f"  {size:>7,} entries -> {count['ipv4']:>6,} IPv4 + {count['ipv6']:>6,} IPv6 networks")
    print(f"  peak memory at 100,000 entries (tracemalloc, input excluded): {peak:.1f} MiB")
    return 0


def firewall_services(admin_allowlist: list[str]) -> list[dict[str, Any]]:
    """The services mail_firewall builds: an allowlisted admin port and three open mail services."""
    admin = mail_net.mail_net_allowlist(admin_allowlist, "mail_firewall_admin_allowlist")
    return mail_firewall.mail_firewall_services(
        [
            {"name": "admin", "ports": [22], "sources": admin},
            {"name": "mx", "ports": [25], "sources": "any", "rate_limit": True},
            {"name": "submission", "ports": [587, 465], "sources": "any", "rate_limit": True},
            {"name": "mailbox", "ports": [993], "sources": "any", "rate_limit": True},
        ]
    )


def _ipaddress_reference(entries: list[str]) -> tuple[list[str], list[str]]:
    """What the filter would cost done the obvious way, with ipaddress objects."""
    networks = [ipaddress.ip_network(entry) for entry in entries]
    return tuple(
        [str(n) for n in ipaddress.collapse_addresses(n for n in networks if n.version == version)]
        for version in (4, 6)
    )


if __name__ == "__main__":
    sys.exit(main())
