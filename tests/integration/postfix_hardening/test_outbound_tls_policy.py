# SPDX-License-Identifier: MIT
"""postfix_hardening_tls_policies: the per-destination policy for outbound TLS, as the map Postfix is configured
with answers it (MX2 has two; MX1 none, and no map in main.cf).

Local lookups on each host (postconf, postmap) with no SMTP at all: the tests name their host themselves and may
run beside either host's other tests.
"""

from __future__ import annotations

import pytest
from lab import MAIL_HOSTS, MX2
from postfix_facts import TLS_POLICY, postconf

pytestmark = pytest.mark.readonly

# Lookup key -> the policy MX2's map must answer (molecule/lab/inventory/host_vars/mailfort-mx2.yml); None: not in
# the map.
EXPECTED = {
    "partner.example": "secure match=nexthop:dot-nexthop",
    ".partner.example": "encrypt protocols=>=TLSv1.3",
    "other.example": None,
}


@pytest.mark.parametrize("key", EXPECTED)
def test_configured_policy_map_answers_each_destination(podman_host, key):
    host = podman_host(MX2)
    policy_map = postconf(host, "-xh", "smtp_tls_policy_maps").strip()
    assert policy_map == f"texthash:{TLS_POLICY}", f"{MX2}: smtp_tls_policy_maps = {policy_map!r}"
    result = host.run("postmap -q %s %s", key, policy_map)
    if EXPECTED[key] is None:
        assert (result.rc, result.stdout) == (1, ""), f"{MX2}: {key} -> {result.stdout!r} {result.stderr}"
    else:
        assert (result.rc, result.stdout.strip()) == (0, EXPECTED[key]), f"{MX2}: {key} -> {result}"


def test_policy_file_holds_exactly_the_configured_policies(podman_host):
    lines = podman_host(MX2).file(TLS_POLICY).content_string.splitlines()
    policies = [line for line in lines if line.strip() and not line.startswith("#")]
    assert policies == [f"{key} {policy}" for key, policy in EXPECTED.items() if policy], policies


@pytest.mark.parametrize("name", [name for name in MAIL_HOSTS if name != MX2])
def test_host_without_policies_has_no_policy_map(podman_host, name):
    host = podman_host(name)
    assert postconf(host, "-h", "smtp_tls_policy_maps").strip() == "", name
    lines = host.file(TLS_POLICY).content_string.splitlines()
    assert all(line.startswith("#") for line in lines if line.strip()), f"{name}: {lines}"
