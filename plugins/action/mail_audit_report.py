# SPDX-License-Identifier: MIT
"""mail_audit_report: write the audit's reports on the controller (JSON, Markdown, JUnit XML, SARIF 2.1.0, HTML)
from the results of mailfort.mail.mail_audit, and return the summary line of every host.

Arguments:
  results:   the registered results of mail_audit, one per host (hostvars[host].__mailfort_audit).
  directory: where to write them; created when missing.
  catalogue: path of controls.yml; default: the collection's own.

Writes only on the controller and reports changed=false: an audit changes no host. The files hold evidence and
counts, never a secret (mail_audit reads no secret).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.mailfort.mail.plugins.plugin_utils import audit, audit_report

COLLECTION_ROOT = Path(__file__).resolve().parents[2]


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        args = self._task.args
        results = audit_report.plain_results(args.get("results") or [])
        hosts = [host for host in results if isinstance(host, dict) and "controls" in host]
        if not hosts:
            raise AnsibleActionFail("no audit results to report: every host failed before it was judged")
        catalogue_path = Path(args.get("catalogue") or COLLECTION_ROOT / "controls.yml")
        catalogue = yaml.safe_load(catalogue_path.read_text())["controls"]
        generated = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        doc = audit_report.document(hosts, generated, str(catalogue_path))
        directory = Path(str(args.get("directory") or "reports"))
        files = audit_report.write_all(directory, doc, catalogue, COLLECTION_ROOT)
        result.update(
            {
                "changed": False,
                "files": files,
                "summary_lines": [audit.summary_line(host["summary"]) for host in hosts],
                "failed_controls": {
                    host["host"]: [c["id"] for c in host["controls"] if c["status"] == "fail"] for host in hosts
                },
            }
        )
        return result
