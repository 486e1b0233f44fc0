#!/usr/bin/python
# SPDX-License-Identifier: MIT
"""Install a set of rendered configuration files in one call: compare, build a candidate, check it, swap.

The action plugin of the same name (plugins/action/mail_config.py) renders every template on the controller and
calls this module once with all of the files; DOCUMENTATION describes the task as a role writes it. What the module
itself receives is the action's work (see main() for its argument spec): each file's content instead of its template,
the check already split into words.
"""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mail_config
short_description: Render, check and install a daemon's configuration files in one task
version_added: "0.1.0"
description:
  - Renders every file of O(files) on the controller, as M(ansible.builtin.template) does (the role's C(templates/)
    search path, the task's variables, the same Jinja2 options and trust rules), and sends them all to the host in
    one module call, which compares each with the live file under O(live_dir), by content and by mode, owner and
    group.
  - When nothing differs the task reports no change and does nothing more; a converged host costs one round trip.
  - When a file's content differs, the module builds a candidate directory O(candidate_dir) (with O(mirror), a copy
    of O(live_dir) first), writes every file of O(files) into it and runs the daemon's own O(check) there. Only when
    every check passes does it replace the differing live files, each one atomically (a temporary file in the same
    directory, owner, group and mode set, then renamed over the live file), after a backup with O(backup).
  - A check that fails makes the task fail with the command, its output and the words "the live configuration in
    ... is unchanged"; nothing live is touched.
  - RV(changed_files) lists the files that changed, so that a role can choose between a restart and a reload.
  - "A file with O(files[].secret) never shows its content: not in the result, the diff, the module's arguments in
    C(-vvv) output, nor an error message. Its content travels to the module in an argument Ansible treats as
    C(no_log), so Ansible masks it wherever it would appear; lines of it that a failing check quotes are masked too.
    The task itself needs no C(no_log), which would also hide which files changed and why a check failed."
options:
  live_dir:
    description:
      - The directory the files belong to, an absolute path (C(/etc/fail2ban)). Created, owned by the user the module
        runs as with mode C(0755), if it is missing.
      - Every O(files[].dest) is relative to it.
    type: path
    required: true
  candidate_dir:
    description:
      - Where the candidate is built and checked, an absolute path. Required with O(check).
      - It must not be O(live_dir) nor hold it. It may lie inside O(live_dir) (C(/etc/postfix/mailfort-candidate));
        O(mirror) then leaves it out of the copy, and no O(files[].dest) may point into it.
      - Everything in it is deleted when a new candidate is built. It is created with mode C(0700), owned by the
        user the module runs as (root with C(become)), its missing parents with mode C(0755).
      - It is kept after the run, as the last candidate that was checked, passed or refused, for a later task to
        read (C(postconf -c)) and for a person to inspect. A converged run does not touch it.
    type: path
  mirror:
    description:
      - Start the candidate as a copy of O(live_dir) (regular files, directories and symbolic links, with their
        modes and owners; sockets and other special files are left out), for daemons whose check reads a whole
        tree (C(fail2ban-client -t)).
      - With V(false), the candidate holds only the files of O(files).
      - Needs O(check). Refused with O(live_dir=/).
    type: bool
    default: false
  files:
    description:
      - The files to install, in this order (a table before the configuration file that names it).
    type: list
    elements: dict
    required: true
    suboptions:
      src:
        description:
          - The template, found as M(ansible.builtin.template) finds it (the role's C(templates/) first).
        type: path
        required: true
      dest:
        description:
          - Where the file goes, relative to O(live_dir). An absolute path, a C(..) part or a path into
            O(candidate_dir) is refused, as is the same O(files[].dest) twice.
          - A missing parent directory is created with mode C(0755), owned by the user the module runs as.
          - A live file that is a symbolic link, a directory or a special file is refused; a directory of the path
            that leads out of O(live_dir) by a symbolic link is refused too.
        type: str
        required: true
      mode:
        description:
          - The file's mode, a quoted octal string (V("0644"), V("0640"), V("2750")); a number is refused, as YAML
            would read C(0644) unquoted as the decimal 420.
        type: str
        default: "0644"
      owner:
        description: The file's owner, a user name or a numeric id.
        type: str
        default: root
      group:
        description: The file's group, a group name or a numeric id.
        type: str
        default: root
      secret:
        description:
          - The file holds a secret (a key, a password, an API token). Its content is never shown.
          - Its diff shows a fixed text in place of the live and of the new content.
          - A template error in it shows only what an undefined variable error says, the variable's name.
        type: bool
        default: false
      backup:
        description:
          - O(backup) for this file only (V(false) for a credential file, whose backups would keep a revoked
            credential on disk).
        type: bool
      vars:
        description:
          - Variables for this file only, on top of the task's variables, as C(vars) on a looped task item gives
            them (one template rendered once per signer, say).
        type: dict
      candidate_vars:
        description:
          - Variables for the candidate's copy of this file only, on top of O(files[].vars). The file is then
            rendered twice, and the candidate gets its own version, for a configuration file that names other
            files by their absolute paths and should read the candidate's copies while it is checked
            (C(KeyTable) of OpenDKIM).
          - The live file is compared with, and replaced by, the version rendered without them.
        type: dict
  check:
    description:
      - The daemon's own check, one command or a list of them, each run in the candidate (its working directory)
        with every C({candidate}) in it replaced by O(candidate_dir). A command is split into words as a shell
        would (Python's C(shlex)), but no shell runs it, so pipes, redirections and variables do not work.
      - Run only when a file's content differs and not in check mode; every command runs, and any that fails
        refuses the candidate.
      - A command is a string, or a mapping with C(cmd), C(fail_on_output) (true to refuse the candidate when the
        command says anything, as C(postfix check) reports warnings with exit status 0), C(fail_on_stderr) (true to
        refuse it when the command writes to its standard error, as C(postconf -n) warns of an unknown parameter
        there while its standard output lists the parameters) and C(ignore_output) (a list of regular expressions;
        a line of output that one of them finds does not count, for either).
      - The output of every command that ran comes back in RV(checks), so a later task can read from it what the
        candidate and, with a command that reads O(live_dir), the configuration it replaces say (Postfix's
        start-time parameters, to choose between a restart and a reload).
      - Without O(check) no candidate is built and the differing files are installed at once.
    type: raw
  install:
    description:
      - With V(false), a change of content is checked in the candidate and left there, and the live files keep
        their content. A later task puts the checked files in force, for a daemon whose change must be confirmed
        first (a firewall ruleset, loaded commit-confirmed and kept for boot only when the controller still reaches
        the host). The task still reports the change, and the diff against the live files.
      - A change of mode, owner or group alone is applied either way.
      - Needs O(check).
    type: bool
    default: true
  backup:
    description:
      - Keep a copy of each live file before its content is replaced, named as M(ansible.builtin.copy) names its
        backups (C(<file>.<pid>.<YYYY-MM-DD@HH:MM:SS>~)), beside it.
      - A change of mode, owner or group alone replaces no content and makes no backup.
    type: bool
    default: true
  trim_blocks:
    description: Remove the first newline after a block, as M(ansible.builtin.template) does.
    type: bool
    default: true
  lstrip_blocks:
    description: Strip the spaces and tabs before a block on its line.
    type: bool
    default: false
  newline_sequence:
    description: The newline the rendered files use.
    type: str
    default: '\n'
    choices: ['\n', '\r', '\r\n']
  variable_start_string:
    description: The string that starts a print statement.
    type: str
    default: "{{"
  variable_end_string:
    description: The string that ends a print statement.
    type: str
    default: "}}"
  block_start_string:
    description: The string that starts a block.
    type: str
    default: "{%"
  block_end_string:
    description: The string that ends a block.
    type: str
    default: "%}"
  comment_start_string:
    description: The string that starts a comment.
    type: str
    default: "{#"
  comment_end_string:
    description: The string that ends a comment.
    type: str
    default: "#}"
notes:
  - Only a change of content builds a candidate and runs O(check). A change of mode, owner or group alone is applied
    at once, without the check, which reads the files' content and not their metadata; the candidate files of a
    checked change do carry the wanted modes and owners, as the check should see them.
  - The files are written as UTF-8.
  - If a file cannot be installed after the check passed (a full disk), the task fails naming it and the files
    already installed before it, in RV(changed_files).
  - The comparison reads each live file whole; it is meant for configuration files, not for large data.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - action_common_attributes.files
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Reports what would change, with its diff; builds no candidate, runs no check and changes nothing.
  diff_mode:
    support: full
    details: One diff per file whose content differs (headers the live path), and one of mode, owner and group.
  platform:
    platforms: posix
  safe_file_operations:
    support: partial
    details:
      - Each file is replaced atomically (a temporary file beside it, renamed over it), by this module's own code
        rather than Ansible's atomic_move, so SELinux contexts are not set and there is no unsafe_writes fallback.
  vault:
    support: full
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.copy
author:
  - mailfort contributors
"""

EXAMPLES = r"""
- name: config | Render, check and install the fail2ban configuration
  mailfort.mail.mail_config:
    live_dir: /etc/fail2ban
    candidate_dir: /var/lib/mailfort/fail2ban-candidate
    mirror: true  # fail2ban-client -t reads the whole tree
    files:
      - src: etc/fail2ban/jail.local.j2
        dest: jail.local
      - src: etc/fail2ban/action.d/mailfort-report.local.j2
        dest: action.d/mailfort-report.local
        mode: "0600"
        secret: true  # holds the reporting API token
    check: fail2ban-client -c {candidate} -t
  register: __fail2ban_config
  notify: fail2ban config changed

- name: config | Note whether the change needs a restart rather than a reload
  ansible.builtin.set_fact:
    __fail2ban_restart_needed: >-
      {{ __fail2ban_config.changed_files | intersect(__fail2ban_restart_files) | length > 0 }}

# postfix check reports warnings with exit status 0, and only on a terminal: script(1) gives it one.
- name: config | Render, check and install the Postfix configuration
  mailfort.mail.mail_config:
    live_dir: /etc/postfix
    candidate_dir: /etc/postfix/mailfort-candidate
    files:
      - src: etc/postfix/main.cf.j2
        dest: main.cf
      - src: etc/postfix/master.cf.j2
        dest: master.cf
    check:
      - cmd: script --quiet --return --command "postfix -c {candidate} check" /dev/null
        fail_on_output: true
        ignore_output: ['^updating \S+ => \S+$']
      - postconf -c {candidate} -n
  notify: postfix_hardening config changed

# One template per signer, each checked with the candidate's tables.
- name: config | Render, check and install the signers' tables and configuration files
  mailfort.mail.mail_config:
    live_dir: /etc
    candidate_dir: /var/lib/mailfort/dkim-candidate
    files:
      - src: etc/opendkim/KeyTable.j2
        dest: opendkim/KeyTable
      - src: etc/opendkim.conf.j2
        dest: opendkim.conf
        vars:
          __dkim_signer: "{{ __dkim_signer_list[0] }}"
          __dkim_table_dir: /etc/opendkim
        candidate_vars:
          __dkim_table_dir: /var/lib/mailfort/dkim-candidate/opendkim
    check: opendkim -n -x {candidate}/opendkim.conf
  notify: dkim config changed
"""

RETURN = r"""
changed_files:
  description:
    - The files that differed, as O(files[].dest) names them, in the order of O(files); in check mode those that
      would change. Empty when nothing changed or a check refused the candidate.
  returned: always
  type: list
  elements: str
  sample: ["jail.local"]
changes:
  description: What differed in each file of RV(changed_files).
  returned: always
  type: list
  elements: dict
  contains:
    dest:
      description: The file, as O(files[].dest) names it.
      type: str
      returned: always
      sample: jail.local
    path:
      description: The live file.
      type: str
      returned: always
      sample: /etc/fail2ban/jail.local
    differs:
      description:
        - What differs, some of C(content), C(mode), C(owner) and C(group); a missing file differs in C(content).
      type: list
      elements: str
      returned: always
      sample: ["content", "mode"]
    backup_file:
      description: The backup of the replaced live file.
      type: str
      returned: when O(backup) is true and an existing file's content was replaced
      sample: /etc/fail2ban/jail.local.4242.2026-05-09@07:35:25~
checks:
  description: Each command of O(check) that ran, with its exit status and output.
  returned: when the candidate was checked
  type: list
  elements: dict
  contains:
    cmd:
      description: The command, with C({candidate}) replaced.
      type: str
      returned: always
      sample: fail2ban-client -c /var/lib/mailfort/fail2ban-candidate -t
    rc:
      description: Its exit status.
      type: int
      returned: always
      sample: 0
    output:
      description: What it said, standard output then standard error, lines of secret files masked.
      type: str
      returned: always
      sample: "OK: configuration test is successful"
    refused:
      description: Whether this command refused the candidate.
      type: bool
      returned: always
      sample: false
candidate_dir:
  description: The candidate that was built and checked.
  returned: when a candidate was built
  type: str
  sample: /var/lib/mailfort/fail2ban-candidate
msg:
  description: What was done, or why the task failed.
  returned: always
  type: str
  sample: 1 of 2 files changed (jail.local), checked by fail2ban-client -c /var/lib/mailfort/fail2ban-candidate -t
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.mailfort.mail.plugins.module_utils.mail_config import Installer, MailConfigError  # noqa: E402

FILE_OPTIONS = {
    "dest": {"type": "str", "required": True},
    "mode": {"type": "str", "default": "0644"},
    "owner": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
    "secret": {"type": "bool", "default": False},
    "backup": {"type": "bool"},
    "content": {"type": "str"},
    "candidate_content": {"type": "str"},
    # A secret file's content travels here: Ansible masks a no_log value wherever the result would hold it.
    "secret_content": {"type": "str", "no_log": True},
    "secret_candidate_content": {"type": "str", "no_log": True},
    "checksum": {"type": "str"},
}
CHECK_OPTIONS = {
    "argv": {"type": "list", "elements": "str", "required": True},
    "display": {"type": "str", "required": True},
    "fail_on_output": {"type": "bool", "default": False},
    "fail_on_stderr": {"type": "bool", "default": False},
    "ignore_output": {"type": "list", "elements": "str", "default": []},
}


def main() -> None:
    # The action's arguments (files[].src, vars) never reach this spec: it is what the action sends.
    module = AnsibleModule(
        argument_spec={
            "live_dir": {"type": "path", "required": True},
            "candidate_dir": {"type": "path"},
            "mirror": {"type": "bool", "default": False},
            "install": {"type": "bool", "default": True},
            "backup": {"type": "bool", "default": True},
            "files": {"type": "list", "elements": "dict", "required": True, "options": FILE_OPTIONS},
            "check": {"type": "list", "elements": "dict", "default": [], "options": CHECK_OPTIONS},
        },
        supports_check_mode=True,
    )
    try:
        result = Installer(module).run()
    except MailConfigError as failure:
        module.fail_json(msg=failure.msg, **({"changed": False, "changed_files": [], "changes": []} | failure.result))
    except OSError as error:
        module.fail_json(msg=f"mail_config: {error.filename or ''}: {error.strerror}", changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
