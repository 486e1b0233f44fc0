# SPDX-License-Identifier: MIT
"""The outbound quota service as the lab's converge left it: its own user, a socket only Postfix reaches, a
configuration its user may read and only root write. What it decides is in test_quota.py, which changes counters."""

from __future__ import annotations

import pytest
from postfix_facts import assert_quota_service_as_converged

pytestmark = pytest.mark.readonly


def test_quota_service_runs_as_its_own_user_behind_a_socket_only_postfix_reaches(host):
    assert_quota_service_as_converged(host)


def test_quota_service_in_a_container_runs_the_reduced_sandbox_and_answers(host):
    """The default (postfix_hardening_quota_sandbox: auto) inside a container: its own user, no new privileges and
    no capabilities, without the seccomp filters and namespaces an unprivileged container's systemd cannot set up for
    another user (systemd 257 fails at step USER); the service is active, has not been restarting, and answers a
    question on its socket as Postfix asks it."""
    assert host.run("systemd-detect-virt --container").rc == 0, "the lab hosts are containers"
    shown = dict(
        line.split("=", 1)
        for line in host.check_output(
            "systemctl show -p ActiveState,NRestarts,User,NoNewPrivileges,CapabilityBoundingSet,"
            "ProtectSystem,PrivateNetwork mailfort-quota.service"
        ).splitlines()
    )
    assert shown["ActiveState"] == "active", shown
    assert shown["NRestarts"] == "0", shown
    assert shown["User"] == "mailfort-quota", shown
    assert shown["NoNewPrivileges"] == "yes", shown
    assert shown["CapabilityBoundingSet"] == "", shown
    assert shown["ProtectSystem"] == "no", shown
    assert shown["PrivateNetwork"] == "no", shown
    assert (
        "# Sandbox: reduced (postfix_hardening_quota_sandbox: auto)"
        in host.file("/etc/systemd/system/mailfort-quota.service").content_string
    )
    answer = host.check_output(
        "python3 -I -c %s",
        "import socket\n"
        "s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect('/var/spool/postfix/private/mailfort-quota')\n"
        "s.sendall(b'request=smtpd_access_policy\\nprotocol_state=RCPT\\n\\n'); print(s.recv(4096).decode().strip())",
    )
    assert answer == "action=DUNNO"
