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
  - Writes C(audit.json) (schema C(mailfort-audit/1)), C(audit.md), C(audit.junit.xml), C(audit.sarif) (SARIF
    2.1.0, each failure located at the role default of the variable that fixes it) and a self-contained
    C(audit.html) from the results of M(mailfort.mail.mail_audit), and returns a summary line per host.
  - Writes on the controller only and reports no change; the reports hold evidence and counts, never a secret.
options:
  results:
    description: The registered results of M(mailfort.mail.mail_audit), one per host.
    type: list
    elements: dict
    required: true
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
- name: Write the reports
  mailfort.mail.mail_audit_report:
    results: "{{ ansible_play_hosts | map('extract', hostvars, 'audit') | list }}"
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
  sample: ["mx1: 50 controls, 50 pass, 0 waived, 0 n/a, 0 fail"]
failed_controls:
  description: Host to the ids of its failed controls.
  returned: always
  type: dict
  sample: {"mx1": []}
"""
