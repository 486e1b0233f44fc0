#!/usr/bin/python
# SPDX-License-Identifier: MIT
"""Ask dpkg, in one call, which of a role's Debian packages are installed and which are missing. A role runs
ansible.builtin.apt only for the missing ones: on a host that has them all, apt never opens its cache (the costly
part of an apt task that has nothing to do), and the package lists are not refreshed for nothing."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mail_packages_info
short_description: Which of some Debian packages are installed, from dpkg's database, in one call
version_added: "0.1.0"
description:
  - Reads dpkg's database (C(dpkg-query)) for the packages of O(names) and returns which are installed, with their
    versions, and which are missing, in the order of O(names).
  - A package counts as installed when dpkg says it is fully installed (status C(installed), no error flag), held
    or not. A package that was removed with its configuration left behind, half installed or half configured, or
    that dpkg has never heard of, is missing; M(ansible.builtin.apt) is what installs or repairs it.
  - "Meant to guard an M(ansible.builtin.apt) task (C(when: result.missing)): on a host that has every package, the
    apt task is skipped, so it neither loads its cache nor refreshes the package lists."
  - Reads only; never changes anything, so it runs in check mode too.
options:
  names:
    description:
      - Debian package names, each optionally with an architecture (C(libc6:amd64)). No versions, no patterns.
    type: list
    elements: str
    required: true
attributes:
  check_mode:
    support: full
    details: Reads only.
  diff_mode:
    support: none
  platform:
    platforms: debian
requirements:
  - dpkg-query on the host (every Debian and Ubuntu system has it)
seealso:
  - module: ansible.builtin.apt
  - module: ansible.builtin.package_facts
author:
  - mailfort contributors
"""

EXAMPLES = r"""
- name: packages | Ask dpkg which of Postfix's packages are missing
  mailfort.mail.mail_packages_info:
    names: "{{ __postfix_hardening_packages }}"
  register: __postfix_hardening_packages_info

- name: packages | Install the missing ones
  ansible.builtin.apt:
    name: "{{ __postfix_hardening_packages_info.missing }}"
    state: present
    update_cache: true
    cache_valid_time: 3600
  when: __postfix_hardening_packages_info.missing | length > 0
"""

RETURN = r"""
installed:
  description: The packages of O(names) that are installed, by name, with their versions.
  returned: always
  type: dict
  sample: {postfix: 3.7.11-0+deb12u1, postfix-pcre: 3.7.11-0+deb12u1}
missing:
  description: The packages of O(names) that are not fully installed, in the order of O(names), each once.
  returned: always
  type: list
  elements: str
  sample: [opendkim, opendkim-tools]
"""

import re  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

# A Debian package name (Debian Policy 5.6.1), optionally with an architecture qualifier.
NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?$")
# One line per package dpkg knows: both spellings of its name, the three status letters, the version.
FORMAT = r"${Package}\t${binary:Package}\t${db:Status-Abbrev}\t${Version}\n"


def bad_names(names: list[str]) -> list[str]:
    return [name for name in names if not isinstance(name, str) or not NAME.match(name)]


def parse(output: str, names: list[str]) -> tuple[dict[str, str], list[str]]:
    """The installed packages of NAMES (name -> version) and the missing ones, from dpkg-query's OUTPUT (FORMAT).

    db:Status-Abbrev is three letters: the wanted state, the current state and the error flag; "ii " and "hi "
    (held) are installed, "rc " (removed, configuration left), "iU " (unpacked), "iF " (half configured) or an
    error flag ("iiR": reinstall required) are not.
    """
    installed_versions = {}
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) != 4:
            continue
        package, qualified, status, version = fields
        if len(status) >= 2 and status[1] == "i" and status[2:].strip() == "":
            installed_versions[package] = installed_versions[qualified] = version
    installed, missing = {}, []
    for name in names:
        if name in installed_versions:
            installed[name] = installed_versions[name]
        elif name not in missing:
            missing.append(name)
    return installed, missing


def main() -> None:
    module = AnsibleModule(
        argument_spec={"names": {"type": "list", "elements": "str", "required": True}},
        supports_check_mode=True,
    )
    names = module.params["names"]
    refused = bad_names(names)
    if refused:
        module.fail_json(
            msg=f"mail_packages_info: {refused[0]!r} is not a Debian package name (lower-case letters, digits, '+', "
            "'-' and '.', optionally ':architecture'; no versions or patterns)"
        )
    if not names:
        module.exit_json(changed=False, installed={}, missing=[])
    dpkg_query = module.get_bin_path("dpkg-query", required=True)
    # dpkg-query exits 1 when it knows none of some name, and still lists those it knows.
    # No expansion of the format's ${...}: they are dpkg-query's fields, not variables.
    rc, out, err = module.run_command(
        [dpkg_query, "--show", f"--showformat={FORMAT}", "--", *names], expand_user_and_vars=False
    )
    if rc not in (0, 1):
        module.fail_json(msg=f"mail_packages_info: dpkg-query failed (exit {rc}): {err.strip()}", rc=rc)
    installed, missing = parse(out, names)
    module.exit_json(changed=False, installed=installed, missing=missing)


if __name__ == "__main__":
    main()
