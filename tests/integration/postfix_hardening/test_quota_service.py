# SPDX-License-Identifier: MIT
"""The outbound quota service as the lab's converge left it: its own user, a socket only Postfix reaches, a
configuration its user may read and only root write. What it decides is in test_quota.py, which changes counters."""

from __future__ import annotations

import pytest
from postfix_facts import assert_quota_service_as_converged

pytestmark = pytest.mark.readonly


def test_quota_service_runs_as_its_own_user_behind_a_socket_only_postfix_reaches(host):
    assert_quota_service_as_converged(host)
