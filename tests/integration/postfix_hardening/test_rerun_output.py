# SPDX-License-Identifier: MIT
"""The rerun phase's two site.yml runs on the converged lab, as postfix_hardening sees them (conftest's shared
fixtures, run once for every suite): neither the dry run (--check --diff) nor the -vvv re-run, which prints every
module's arguments and results, shows a lab password; and the re-run leaves Postfix's configuration and the quota
service's socket exactly as they were (a restarted socket unit would make the socket anew).
"""

from __future__ import annotations

import pytest
from lab import CREDENTIALS, MAIL_HOSTS
from postfix_facts import CONFIG_DIR, QUOTA_SOCKET

pytestmark = pytest.mark.rerun


def _shown(output: str) -> list[str]:
    """Which lab passwords the output holds, by what they are, never by value."""
    return [what for what, password in CREDENTIALS.items() if password in output]


def test_check_diff_run_prints_no_password(check_diff_run):
    assert check_diff_run.recap, "the dry run printed no PLAY RECAP:\n" + check_diff_run.output[-4000:]
    shown = _shown(check_diff_run.output)
    assert not shown, f"the dry run (--check --diff) printed {', '.join(shown)}"


def test_verbose_rerun_prints_no_password(rerun):
    assert rerun.run.recap, "the -vvv re-run printed no PLAY RECAP:\n" + rerun.run.output[-4000:]
    shown = _shown(rerun.run.output)
    assert not shown, f"the -vvv re-run printed {', '.join(shown)}"


@pytest.mark.parametrize("name", MAIL_HOSTS)
@pytest.mark.parametrize("prefix", [CONFIG_DIR, QUOTA_SOCKET])
def test_rerun_leaves_postfix_untouched(name, prefix, rerun):
    before, after = rerun.entries(name, prefix, when="before"), rerun.entries(name, prefix)
    assert before, f"{name}: nothing below {prefix} in the state before the re-run"
    assert after == before, f"{name}: the re-run changed {sorted(set(before) ^ set(after))}"


def test_the_play_says_that_a_container_gets_the_reduced_quota_sandbox(rerun):
    """auto never weakens silently: the play's output says which sandbox a container gets, and why."""
    assert "mailfort-quota runs with the reduced sandbox" in rerun.run.output
    assert "this host is a container" in rerun.run.output
