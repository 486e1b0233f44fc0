# SPDX-License-Identifier: MIT
"""mail_drift: the stdout callback of the audit's drift run, one JSON document of what each host would change.

playbooks/audit.yml runs `site.yml --check --diff` with this callback and reads its output: for every host the
files and settings the run would change (role, task, path, the lines that differ), or why it could not tell (a
failed task, an unreachable host). Nothing else is printed, so no diff ever reaches the terminal or a log.
"""

from __future__ import annotations

import json
from typing import Any

from ansible.playbook.handler import Handler
from ansible.plugins.callback import CallbackBase
from ansible_collections.mailfort.mail.plugins.plugin_utils.audit_drift import changes_of_result

DOCUMENTATION = r"""
name: mail_drift
type: stdout
short_description: What a check run would change on each host, as one JSON document
description:
  - Prints, when the playbook ends, one JSON document with C(hosts) mapping each host to its C(changes) (role, task,
    path, what differs, the lines of the diff without context, the setting names they set) and C(error) (the first
    failed task or why the host was unreachable, empty when the run got through).
  - Handlers are left out; a change that notifies one is already reported by the task that changed.
  - Meant for C(ansible-playbook --check --diff); playbooks/audit.yml runs site.yml with it to report drift.
author: mailfort
"""


def _result_of(result: Any) -> dict:
    return dict(getattr(result, "result", None) or result._result)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "mailfort.mail.mail_drift"

    def __init__(self) -> None:
        super().__init__()
        self.hosts: dict[str, dict] = {}

    def _host(self, result: Any) -> dict:
        return self.hosts.setdefault(result.host.get_name(), {"changes": [], "error": ""})

    def v2_runner_on_start(self, host: Any, task: Any) -> None:
        self.hosts.setdefault(host.get_name(), {"changes": [], "error": ""})

    def v2_runner_on_ok(self, result: Any) -> None:
        task = result.task
        if isinstance(task, Handler):
            return
        role = task._role.get_name(include_role_fqcn=False) if task._role else ""
        for change in changes_of_result(_result_of(result)):
            self._host(result)["changes"].append({"role": role, "task": task.name or task.action, **change})

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        if ignore_errors:
            return
        record = self._host(result)
        if not record["error"]:
            message = "output hidden (no_log)" if result.task.no_log else str(_result_of(result).get("msg", ""))
            record["error"] = f"task '{result.task.get_name()}' failed: {message[:500]}"

    def v2_runner_on_unreachable(self, result: Any) -> None:
        record = self._host(result)
        if not record["error"]:
            record["error"] = f"unreachable: {str(_result_of(result).get('msg', ''))[:500]}"

    def v2_playbook_on_stats(self, stats: Any) -> None:
        self._display.display(json.dumps({"hosts": self.hosts}, sort_keys=True))
