# SPDX-License-Identifier: MIT
"""Documentation of the action mailfort.mail.mail_audit_report, which runs on the controller (plugins/action/). This
file holds only the documentation ansible-doc and ansible-lint read."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mail_audit_report
short_description: Write the audit's reports on the controller
version_added: "0.1.0"
description:
  - Writes C(audit.json) (schema C(mailfort-audit/1), described by the JSON Schema (draft 2020-12)
    C(plugins/plugin_utils/audit_report.schema.json)), C(audit.md), C(audit.junit.xml), C(audit.sarif) (SARIF
    2.1.0) and a self-contained C(audit.html) from the results of M(mailfort.mail.mail_audit), and returns a summary
    line per host.
  - Every host of O(hosts) is in every report. A host without judged controls (unreachable, its audit task failed,
    or it left the play before) is C(not audited), with the reason (the failure's message on one line, nothing else
    of its result) in the summary line, the fleet tables, the JSON, as an C(error) test case in JUnit and as a
    C(NOT-AUDITED) result at its line of the inventory file in SARIF.
  - Each failed control's SARIF result points at the variable that fixes it, the first role variable its
    C(remediation) names (its C(enabled_by) when it names only a playbook), where the host's inventory sets it
    (C(host_vars), the inventory file, C(group_vars)), else at its line in the role's defaults. Paths are relative
    to C(SRCROOT) (the collection) or C(INVENTORY) (an inventory directory outside it), both in
    C(originalUriBaseIds).
  - C(audit.json) is checked against its schema before anything is written. The check needs the Python package
    C(jsonschema) on the controller, and without it is skipped with a warning.
  - Writes on the controller only and reports no change; the reports hold evidence and counts, never a secret.
    Fails, after writing the reports, when not one host could be audited.
options:
  hosts:
    description:
      - The hosts the reports hold, one entry each, in this order; normally C(ansible_play_hosts_all).
      - Each host's result is read from its variable O(result_var), its inventory file and groups from its
        C(inventory_file), C(inventory_dir) and C(group_names).
    type: list
    elements: str
    required: true
  result_var:
    description: The variable each host registered the result of M(mailfort.mail.mail_audit) as.
    type: str
    default: __mailfort_audit
  directory:
    description: Where to write the reports; created when missing.
    type: path
    default: reports
  catalogue:
    description: The catalogue the results were judged by; default the collection's C(controls.yml).
    type: path
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
  connection:
    support: none
  delegation:
    support: none
    details: It runs on the controller and never connects to a host.
  diff_mode:
    support: none
  platform:
    platforms: all
seealso:
  - module: mailfort.mail.mail_audit
author:
  - mailfort contributors
"""

EXAMPLES = r"""
- name: Judge every control, keeping a host that cannot be reached or judged in the play
  mailfort.mail.mail_audit:
  register: __mailfort_audit
  ignore_unreachable: true
  ignore_errors: true  # such a host is "not audited" in the reports

- name: Write the reports
  mailfort.mail.mail_audit_report:
    hosts: "{{ ansible_play_hosts_all }}"
    directory: reports/today
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
files:
  description: Report name to the path written.
  returned: always
  type: dict
  sample: {"audit.html": "reports/today/audit.html"}
summary_lines:
  description: One line per host.
  returned: always
  type: list
  elements: str
  sample: ["mx1: 52 controls, 52 pass, 0 waived, 0 n/a, 0 fail", "mx2: not audited (unreachable: ...)"]
failed_controls:
  description: Host to the ids of its failed controls (none for a host not audited).
  returned: always
  type: dict
  sample: {"mx1": [], "mx2": []}
not_audited:
  description: Host to the reason it was not audited, for each host the audit could not judge.
  returned: always
  type: dict
  sample: {"mx2": "unreachable: Failed to connect to the host via ssh: Connection timed out"}
"""
