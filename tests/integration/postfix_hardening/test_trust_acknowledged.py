# SPDX-License-Identifier: MIT
"""A trust list entry that covers the internet goes through once the user names it in the acknowledgement variable:
the same relay network that bad input refuses (test_bad_input.py, "relay networks covering the internet") is
accepted with postfix_hardening_trust_acknowledged, and a dry run with --diff shows it reaching main.cf. A dry run,
so nothing changes on the host (its Postfix tree is compared before and after)."""

from __future__ import annotations

import json

import pytest
from lab import MX2, PROJECT_DIR
from postfix_facts import postfix_state

pytestmark = pytest.mark.bad_input

PLAYBOOK = PROJECT_DIR / "playbooks" / "postfix_hardening.yml"
WIDE = "0.0.0.0/0"


def test_an_acknowledged_relay_network_is_accepted_and_would_reach_main_cf(run_playbook, podman_host):
    host = podman_host(MX2)
    before = postfix_state(host)
    extra = {"postfix_hardening_mynetworks": [WIDE], "postfix_hardening_trust_acknowledged": [WIDE]}
    run = run_playbook(
        "--check",
        "--diff",
        "--limit",
        MX2,
        "--tags",
        "postfix_hardening_config",
        "-e",
        json.dumps(extra),
        playbook=PLAYBOOK,
    )

    assert run.returncode == 0, run.output[-4000:]
    added = [line for line in run.output.splitlines() if line.startswith("+") and "mynetworks" in line]
    assert any(WIDE in line for line in added), "the acknowledged network does not reach main.cf:\n" + "\n".join(added)
    assert postfix_state(host) == before, "a dry run changed /etc/postfix"
