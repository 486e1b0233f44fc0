# SPDX-License-Identifier: MIT
"""An unchanged ruleset is not applied again: in the rerun phase's one more run of site.yml (the shared `rerun`
fixture, -vvv) the firewall role finds the candidate equal to the ruleset in force and never includes its apply
tasks (no rollback saved, no timer armed, nothing loaded), and /etc/mailfort keeps every entry as it was."""

from __future__ import annotations

import pytest
from firewall_facts import RULESET
from probes import host_name

pytestmark = pytest.mark.rerun

# The apply tasks (roles/mail_firewall/tasks/apply.yml), which the role includes only for a changed ruleset.
APPLY_TASKS = "mail_firewall/tasks/apply.yml"


def test_an_unchanged_ruleset_is_not_applied_again(host, rerun):
    name = host_name(host)
    run = rerun.run

    assert run.returncode == 0, run.output[-4000:]
    assert run.recap.get(name, {}).get("changed") == 0, run.changed_tasks()
    assert "Load the candidate" not in "".join(run.changed_tasks())
    included = [line for line in run.output.splitlines() if line.startswith("included:") and APPLY_TASKS in line]
    assert not [line for line in included if name in line], f"the apply tasks ran on {name}: {included}"
    before = rerun.entries(name, "/etc/mailfort", when="before")
    assert any(RULESET in line for line in before), f"{RULESET} is missing from the state of {name}"
    assert rerun.entries(name, "/etc/mailfort") == before
