# SPDX-License-Identifier: MIT
"""Documentation of the action mailfort.mail.mail_validate, which runs on the controller (plugins/action/).

As for ansible.builtin.assert and set_fact, the action plugin is the code; this file holds only the documentation
that ansible-doc, ansible-lint and the argument checks of an editor read.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mail_validate
short_description: Check every input of a role in one task and report every error together
version_added: "0.1.0"
description:
  - Evaluates a role's checks on the controller, one by one, keeps going after a failure and fails once with every
    message, each in the checking filter's own words, naming the variable the user wrote (with its index or field),
    its value unless it is secret, and the rule it broke. Ansible's wrapping of a filter's error ("The filter plugin
    ... failed") is left out.
  - First the role's variables are checked against O(argument_specs); then the O(rules) that use no fact, the
    O(facts) in order, and the O(rules) that use a fact. Whatever uses a variable or fact whose own check failed is
    skipped, so that one mistake gives one message rather than one per value built from it.
  - The values the facts work out are returned under RV(facts) for the role to keep with one
    M(ansible.builtin.set_fact); nothing is set as a host fact.
  - Changes nothing, in check mode too, and needs no connection to the host.
  - "With O(defer), a refused input does not fail the task: the errors are returned under RV(deferred), and one later
    task with O(report) fails with the errors of every role, so that a play learns about all of its mistakes at once."
options:
  role:
    description:
      - The role whose input this is, named in the failure message.
      - Required unless O(report) is given; the two are mutually exclusive.
    type: str
  argument_specs:
    description:
      - The role's C(meta/argument_specs.yml), usually C({{ role_path }}/meta/argument_specs.yml).
      - The variables of its C(main) entry point that are set are checked against it first, each refusal naming the
        option alone, without the whole spec around it.
    type: path
  facts:
    description:
      - Name to a bare Jinja expression (no braces), evaluated in order; an expression may use the names before it,
        and the expressions and templates after it see each name as a variable.
      - An expression that uses a name whose own check failed is skipped; its error is already reported.
    type: dict
    default: {}
  rules:
    description:
      - Checks of plain conditions. A rule that holds says nothing; one that does not adds its message, written
        C(<var> = <value> <msg>), C(<var> <msg>) with O(rules[].secret), or C(<msg>) without O(rules[].var).
      - A rule whose conditions use a failed fact, or whose variable the argument spec refused, is skipped.
    type: list
    elements: dict
    default: []
    suboptions:
      that:
        description:
          - A bare Jinja condition, or a list of them that must all hold. It may use the facts' names, and in a
            loop C(item) and C(value).
          - Required, with O(rules[].msg), in every rule but one that holds only O(rules[].at_least).
        type: raw
      msg:
        description:
          - The rule in words. A placeholder C({name}) or C({name.key}) shows the value of that variable or fact
            (C({item.minimum}) in a loop); other braces are left alone.
        type: str
      var:
        description:
          - The variable the rule is about, named first in the message with its value.
          - In a loop each item names its own variable instead.
        type: str
      secret:
        description: Name the variable without its value, for passwords and keys.
        type: bool
        default: false
      loop:
        description:
          - Check the rule once for each item, each a variable name or a dict with the variable's name under C(var)
            and any further keys the rule uses.
          - The condition and the message see the item as C(item) and the variable's value as C(value).
        type: list
        elements: raw
      at_least:
        description:
          - Variable name to its minimum. A rule that holds only this key checks that each variable is a whole number
            (an integer or a string of digits) of at least its minimum, the check every role has, written once.
        type: dict
  defer:
    description:
      - Do not fail on refused input; return the errors under RV(deferred) for a later task with O(report).
      - Without errors the result is the same as without O(defer).
    type: bool
    default: false
  report:
    description:
      - The registered results of earlier checks, usually with O(defer).
      - Fails once with the errors of every role whose check deferred them, listed by role, or says that every
        role's input is valid. Results without RV(deferred), such as skipped tasks, are ignored.
    type: list
    elements: raw
notes:
  - The conditions and expressions are the role's own text; the user's data reaches them only as variables, never
    as expressions.
  - A value shown in a message is cut to 120 characters.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
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
    details: It runs on the controller and never connects to the host.
  diff_mode:
    support: none
  platform:
    platforms: all
seealso:
  - module: ansible.builtin.assert
  - module: ansible.builtin.validate_argument_spec
author:
  - mailfort contributors
"""

EXAMPLES = r"""
- name: validate | Check the jails, the never-banned networks and the ban settings
  mailfort.mail.mail_validate:
    role: fail2ban
    defer: "{{ __mailfort_defer_input_errors | default(false) }}"
    argument_specs: "{{ role_path }}/meta/argument_specs.yml"
    facts:
      __fail2ban_jail_list: >-
        fail2ban_jails
        | mailfort.mail.mail_fail2ban_jails(fail2ban_maxretry, fail2ban_findtime, fail2ban_bantime, 'fail2ban_jails')
      __fail2ban_longest_bantime: __fail2ban_jail_list | map(attribute='bantime') | max
    rules:
      - at_least:
          fail2ban_maxretry: 1
          fail2ban_findtime: 1
      - that: fail2ban_bantime_increment | type_debug == 'bool'
        var: fail2ban_bantime_increment
        msg: must be true or false
      # Uses a fact, so it is checked after the facts, and skipped when the jails were refused.
      - that: fail2ban_bantime_maxtime | int >= __fail2ban_longest_bantime
        var: fail2ban_bantime_maxtime
        msg: must be no shorter than the longest bantime of a jail ({__fail2ban_longest_bantime} s)
  register: __fail2ban_input

- name: validate | Keep the checked jails
  ansible.builtin.set_fact:
    __fail2ban_jail_list: "{{ __fail2ban_input.facts.__fail2ban_jail_list }}"
  when: __fail2ban_input.facts is defined  # a deferred refusal leaves nothing to keep

- name: validate | Check the TSIG secret without showing it
  mailfort.mail.mail_validate:
    role: mail_dns
    rules:
      # "mail_dns_update_key_secret must be the base64 secret of the TSIG key"
      - that: mail_dns_update_key_secret is string and mail_dns_update_key_secret is match('^[A-Za-z0-9+/]+={0,2}$')
        var: mail_dns_update_key_secret
        secret: true
        msg: must be the base64 secret of the TSIG key
  register: __mail_dns_input

- name: validate | Check every port list with one rule
  mailfort.mail.mail_validate:
    role: mail_firewall
    rules:
      # "mail_firewall_mx_ports = [25, 0] must be a list of port numbers (1 to 65535)"
      - that: value | select('integer') | select('ge', 1) | select('le', 65535) | list == value
        loop: [mail_firewall_mx_ports, mail_firewall_submission_ports, mail_firewall_mailbox_ports]
        msg: must be a list of port numbers (1 to 65535)

- name: check_input | Stop with every refused input of every role
  mailfort.mail.mail_validate:
    report: "{{ [__postfix_hardening_input, __dovecot_hardening_input, __fail2ban_input] }}"
"""

RETURN = r"""
facts:
  description: Each fact's name to its value, once every input is valid.
  returned: when every check passes and O(report) is not given
  type: dict
  sample: {"__fail2ban_longest_bantime": 3600}
deferred:
  description: The refused input, for a later task with O(report).
  returned: when O(defer) is true and an input is refused
  type: dict
  contains:
    role:
      description: The role, as O(role) names it.
      type: str
      returned: always
      sample: fail2ban
    errors:
      description: One message per refused input, in the order they were found.
      type: list
      elements: str
      returned: always
      sample: ["fail2ban_bantime_increment = 'yes' must be true or false"]
msg:
  description:
    - What was found; on failure, every error, one a line after a line naming the role (or the number of roles).
  returned: always
  type: str
  sample: "fail2ban: every input is valid"
"""
