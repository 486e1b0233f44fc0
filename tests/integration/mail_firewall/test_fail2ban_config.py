# SPDX-License-Identifier: MIT
"""fail2ban on the MX hosts as converged: exactly the expected jails run, each banning through the firewall's sets,
and the configuration passes fail2ban's own check. Read-only; the bans themselves are test_fail2ban.py's."""

from __future__ import annotations

import re

import pytest
from firewall_facts import JAILS

pytestmark = pytest.mark.readonly


def test_fail2ban_runs_exactly_the_expected_jails(host):
    status = host.check_output("fail2ban-client status")
    listed = re.search(r"Jail list:\s*(.*)$", status, re.MULTILINE).group(1)

    assert sorted(j.strip() for j in listed.split(",") if j.strip()) == sorted(JAILS)
    for jail in JAILS:
        assert host.run("fail2ban-client status %s", jail).rc == 0, f"{jail} is not running"
        assert "mailfort-nftables" in host.check_output("fail2ban-client get %s actions", jail)


def test_configuration_passes_fail2ban_client_test(host):
    result = host.run("fail2ban-client -t")

    assert result.rc == 0, result.stdout + result.stderr
    assert "OK" in result.stdout + result.stderr
