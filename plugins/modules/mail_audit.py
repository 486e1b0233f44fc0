# SPDX-License-Identifier: MIT
"""Documentation of the action mailfort.mail.mail_audit, which runs on the controller (plugins/action/) and calls
mailfort.mail.mail_audit_facts on the host. This file holds only the documentation ansible-doc and ansible-lint read.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mail_audit
short_description: Judge a mail host against every control of the catalogue, with evidence
version_added: "0.1.0"
description:
  - Evaluates every control of C(controls.yml) on the host from the control's C(audit) entry, templated with the
    host's variables as a play of the roles sees them (role defaults, then the inventory, then the roles' vars).
  - Reads the host's evidence with one call of M(mailfort.mail.mail_audit_facts) and the network's from the
    controller (SMTP, IMAP, POP3 and TLS probes against O(address), presenting O(tls_name)); every connection is
    counted and none is opened beyond 30 per host (the firewall's default burst) or 6 per port, and no password is
    sent. The relay probe runs only when the controller's address is in C(fail2ban_ignore_networks).
  - Each control gets C(pass), C(fail), C(waived) or C(not applicable), its evidence and its remediation.
  - Changes nothing, in check mode too.
options:
  address:
    description: Where the probes connect; empty for no network evidence (each network check then fails, saying so).
    type: str
    default: ""
  tls_name:
    description: The name the probes present (SNI) and verify the certificate against.
    type: str
    default: ""
  ca_pem:
    description:
      - The trust anchor the probes verify the chain against. Empty, the host's lab CA when the host has one (read
        from the host; a public certificate), else the controller's trust store.
    type: str
    default: ""
  dns_server:
    description:
      - The DNS server (an address) asked, from the controller, for the records mail_dns generated for the domain
        (read from the host); empty, the DNS controls say they were not compared.
    type: str
    default: ""
  mta_sts_ca_pem:
    description:
      - The trust anchor the certificate of C(mta-sts.<domain>), the MTA-STS policy's web server, is verified
        against when the audit fetches the policy over HTTPS (with O(dns_server) set). Empty, the controller's trust
        store, the web PKI that sending servers check it against (RFC 8461 section 3.3).
    type: str
    default: ""
  journal_since:
    description: The window of the activity counts (C(journalctl --since)), e.g. C(-24h); empty for none.
    type: str
    default: ""
  sslyze:
    description:
      - The sslyze program on the controller that judges each TLS port against Mozilla's profile (C(mail_tls_profile)).
        Empty, C(sslyze) on PATH, else C(.venv-sslyze/bin/sslyze) of the checkout (C(make judges)).
      - It runs only when the controller's address is in C(mail_firewall_rate_limit_exempt),
        C(postfix_hardening_rate_limit_exceptions) and C(fail2ban_ignore_networks); otherwise each verdict says it was
        not scanned and why.
    type: str
    default: ""
  drift_run:
    description:
      - The registered result (C(rc), C(stdout), C(stderr)) of C(site.yml --check --diff) run for the play's hosts
        with the stdout callback C(mailfort.mail.mail_drift), as playbooks/audit.yml runs it when
        C(mailfort_audit_drift) is true. Each change it reports for this host is mapped onto the controls that name
        its file or setting.
      - Absent, or a skipped task's result, and drift is not reported.
    type: dict
  catalogue:
    description: The catalogue to judge by; default the collection's C(controls.yml).
    type: path
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: full
  bypass_host_loop:
    support: none
  check_mode:
    support: full
  connection:
    support: full
  delegation:
    support: none
  diff_mode:
    support: none
  platform:
    platforms: debian
seealso:
  - module: mailfort.mail.mail_audit_facts
  - module: mailfort.mail.mail_audit_report
author:
  - mailfort contributors
"""

EXAMPLES = r"""
- name: Read the evidence and judge every control
  mailfort.mail.mail_audit:
    address: "{{ ansible_host }}"
    tls_name: mx1.example.org
    journal_since: -24h
  register: audit
"""

RETURN = r"""
controls:
  description: One result per control, in the catalogue's order.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The control's id.
      type: str
      returned: always
      sample: PFX-01
    status:
      description: C(pass), C(fail), C(waived) or C(not applicable).
      type: str
      returned: always
      sample: pass
    reason:
      description: Why it failed, was waived or does not apply; empty for a pass.
      type: str
      returned: always
      sample: ""
    evidence:
      description: One line per check, with C(what), C(seen), C(wanted) and C(passed).
      type: list
      elements: dict
      returned: always
    remediation:
      description: The variable or playbook that fixes a failure.
      type: str
      returned: always
      sample: playbooks/postfix_hardening.yml
    drift:
      description: The changes of RV(drift) that touch this control (C(role), C(task), C(path), C(lines)).
      type: list
      elements: dict
      returned: when a change of the drift run touches the control
drift:
  description:
    - What C(site.yml --check --diff) would change on the host; null when O(drift_run) was not given.
    - C(error) says why it could not tell (empty when it could); C(changes) lists C(role), C(task), C(path),
      C(differs), C(lines) (the diff without context, at most 20 a file, no secret file's content), C(keys) (the
      settings those lines set) and C(controls) (the ids of the controls that name the file or a setting).
  returned: always
  type: dict
  sample: {"error": "", "changes": [{"role": "postfix_hardening", "task": "config | Render, check and install",
           "path": "/etc/postfix/main.cf", "differs": ["content"], "keys": ["smtpd_tls_auth_only"],
           "lines": ["-smtpd_tls_auth_only = no", "+smtpd_tls_auth_only = yes"], "controls": ["PFX-01"]}]}
summary:
  description: The host and the count of each status.
  returned: always
  type: dict
  sample: {"host": "mx1", "controls": 50, "pass": 50, "fail": 0, "waived": 0, "not applicable": 0}
activity:
  description:
    - Journal events in the window, each with C(count) and C(sources) (address -> count, the ten most frequent),
      namely C(failed_login) and C(failed_login:SERVICE) (C(smtp/submission), C(smtp/submissions), C(imap), C(pop3)),
      C(relay_refused), C(quota_refused), C(fail2ban_ban) and C(fail2ban_unban) with C(:JAIL) for each jail. Counted
      by source only, never by user name.
    - Then C(certificate_days_left:PATH) for each certificate the audit read, C(count) being its days left (also in
      C(days_left), with C(not_after)).
  returned: always
  type: dict
  sample:
    failed_login: {"count": 3, "sources": {"192.0.2.7": 3}}
    failed_login:smtp/submission: {"count": 3, "sources": {"192.0.2.7": 3}}
    certificate_days_left:/etc/ssl/mailfort/mx.crt:
      {"count": 57, "sources": {}, "days_left": 57, "not_after": "2027-01-28T00:00:00+00:00"}
seconds:
  description: How long reading the host and the whole judgement took.
  returned: always
  type: dict
"""
