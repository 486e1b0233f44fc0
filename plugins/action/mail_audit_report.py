# SPDX-License-Identifier: MIT
"""mail_audit_report: write the audit's reports on the controller (JSON, Markdown, JUnit XML, SARIF 2.1.0, HTML)
from the results of mailfort.mail.mail_audit, and return the summary line of every host.

Arguments:
  hosts:      the hosts the reports must hold, one entry each: the play's (ansible_play_hosts_all). Each host's
              result is read from its variable result_var; a host without judged controls (unreachable, its
              mail_audit task failed, or it left the play before) is "not audited", with the reason.
  result_var: the variable mail_audit's result was registered as; default __mailfort_audit.
  directory:  where to write them; created when missing.
  catalogue:  path of controls.yml; default: the collection's own.

Writes only on the controller and reports changed=false: an audit changes no host. The files hold evidence and
counts, never a secret (mail_audit reads no secret; of a failure only its message is kept). audit.json is checked
against plugins/plugin_utils/audit_report.schema.json before anything is written. Fails, after writing the
reports, when not one host could be audited.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.mailfort.mail.plugins.plugin_utils import audit_report

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
ARGUMENT_SPEC = {
    "hosts": {"type": "list", "elements": "str", "required": True},
    "result_var": {"type": "str", "default": "__mailfort_audit"},
    "directory": {"type": "path", "default": "reports"},
    "catalogue": {"type": "path"},
}


def host_facts(hostvars: Any, names: list[str], result_var: str, sources: list[str]) -> tuple[dict, dict]:
    """Each of NAMES' registered result (None when it has none) and inventory (file, dir, groups, sources), from
    HOSTVARS (hostvars, or any mapping of host -> its variables)."""
    results: dict[str, Any] = {}
    inventories: dict[str, dict] = {}
    for name in names:
        # hostvars answers an unknown host with an undefined value, not a KeyError: .get() would not see it.
        own = hostvars[name] if name in hostvars else {}  # noqa: SIM401 - see above
        results[name] = audit_report.plain_results(own[result_var]) if result_var in own else None
        inventories[name] = {
            "file": str(own["inventory_file"]) if own.get("inventory_file") else None,
            "dir": str(own["inventory_dir"]) if own.get("inventory_dir") else None,
            "groups": [str(group) for group in own.get("group_names") or []],
            "sources": sources,
        }
    return results, inventories


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        names = list(dict.fromkeys(str(name) for name in args["hosts"]))
        if not names:
            raise AnsibleActionFail("hosts is empty: name the play's hosts (ansible_play_hosts_all)")
        sources = [str(source) for source in task_vars.get("ansible_inventory_sources") or []]
        results, inventories = host_facts(task_vars.get("hostvars") or {}, names, args["result_var"], sources)
        hosts = audit_report.host_entries(names, results)

        catalogue_path = Path(args["catalogue"] or COLLECTION_ROOT / "controls.yml")
        catalogue = yaml.safe_load(catalogue_path.read_text())["controls"]
        generated = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        doc = audit_report.document(hosts, generated, str(catalogue_path))
        errors = audit_report.schema_errors(doc)
        if errors is None:
            result.setdefault("warnings", []).append(
                "audit.json was not checked against its schema: the Python package jsonschema is not installed"
            )
        elif errors:
            raise AnsibleActionFail(
                f"the report breaks its own schema ({audit_report.SCHEMA_FILE}), nothing was written:\n"
                + "\n".join(errors[:20])
            )
        directory = Path(args["directory"])
        files = audit_report.write_all(directory, doc, catalogue, COLLECTION_ROOT, inventories)
        not_audited = {
            host["host"]: host["reason"] for host in doc["hosts"] if host["status"] == audit_report.NOT_AUDITED
        }
        result.update(
            {
                "changed": False,
                "files": files,
                "summary_lines": [audit_report.summary_text(summary) for summary in doc["summary"]],
                "failed_controls": {
                    host["host"]: [c["id"] for c in host["controls"] if c["status"] == "fail"] for host in doc["hosts"]
                },
                "not_audited": not_audited,
            }
        )
        if len(not_audited) == len(names):
            result["failed"] = True
            result["msg"] = (
                "no host could be audited ("
                + "; ".join(f"{host}: {reason}" for host, reason in not_audited.items())
                + f"); the reports in {directory} name each one"
            )
        return result
