#!/usr/bin/python
# SPDX-License-Identifier: MIT
"""Look at many files in one module call: whether each exists, its type, mode, owner, group, size, and optionally
its SHA-256 and its content. A role that used a stat loop, then a slurp loop over the files that exist, pays two
round trips per file; this pays one for all of them."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mail_files_info
short_description: Look at many files in one call, with their content if asked
version_added: "0.1.0"
description:
  - Returns, for every path of O(paths) in order, whether it exists and, when it does, its type, mode, owner, group
    and size; with O(checksum) its SHA-256, with O(content) its content (base64, as M(ansible.builtin.slurp) gives
    it). One module call replaces a loop of M(ansible.builtin.stat) and a loop of M(ansible.builtin.slurp).
  - With O(glob), each path is a shell pattern (C(/etc/dovecot/mailfort/passdb-*)) and stands for the files it
    matches, sorted by name with numbers compared as numbers (C(passdb-2) before C(passdb-10)).
  - Reads only; never changes anything, so it runs in check mode too.
  - A task that reads secret files with O(content) must be C(no_log); the module cannot know which files are secret.
options:
  paths:
    description: The files to look at, absolute paths (or patterns with O(glob)).
    type: list
    elements: path
    required: true
  content:
    description: Return the content of every regular file that exists, base64-encoded, in RV(files[].content).
    type: bool
    default: false
  checksum:
    description: Return the SHA-256 of every regular file that exists in RV(files[].checksum).
    type: bool
    default: false
  glob:
    description:
      - Treat each path as a pattern (Python's C(glob), which follows a shell's C(*), C(?) and C([...])) and look
        at the files it matches, sorted by name with numbers compared as numbers. A pattern that matches nothing
        contributes nothing.
    type: bool
    default: false
  max_size:
    description:
      - The largest file, in bytes, whose content the module returns; a larger one fails the task, naming it.
      - Meant for configuration, keys and certificates, not for data.
    type: int
    default: 1048576
attributes:
  check_mode:
    support: full
    details: Reads only.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: ansible.builtin.stat
  - module: ansible.builtin.slurp
author:
  - mailfort contributors
"""

EXAMPLES = r"""
- name: facts | Read the public keys that exist
  mailfort.mail.mail_files_info:
    paths: "{{ __dkim_present_keys | map(attribute='public_path') }}"
    content: true
  register: __dkim_public_files

- name: facts | Publish them
  ansible.builtin.set_fact:
    dkim_public_keys: >-
      {{ __dkim_public_files.files | selectattr('exists') | map(attribute='content') | map('b64decode') | list }}

- name: credentials | Read the credential files of an earlier run, in slot order
  mailfort.mail.mail_files_info:
    paths: [/etc/dovecot/mailfort/passdb-*]
    glob: true
    content: true
  register: __dovecot_hardening_slots_before
  no_log: true  # the files hold password hashes
"""

RETURN = r"""
files:
  description: One entry per path of O(paths) (per match with O(glob)), in order.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The path.
      type: str
      returned: always
      sample: /etc/opendkim/keys/lab.mailfort.test/mf2026a.pub
    exists:
      description: Whether the path exists (a dangling symbolic link does not).
      type: bool
      returned: always
      sample: true
    type:
      description:
        - C(file), C(directory), C(socket) or C(other). A symbolic link is followed; one whose target is missing
          does not exist.
      type: str
      returned: when it exists
      sample: file
    mode:
      description: The permission bits, as four octal digits.
      type: str
      returned: when it exists
      sample: "0644"
    owner:
      description: The owner's name, or the numeric id when it has none.
      type: str
      returned: when it exists
      sample: root
    group:
      description: The group's name, or the numeric id when it has none.
      type: str
      returned: when it exists
      sample: root
    size:
      description: The size in bytes.
      type: int
      returned: when it exists
      sample: 451
    checksum:
      description: The SHA-256 of a regular file, in hexadecimal.
      type: str
      returned: with O(checksum), for a regular file
      sample: 0b5f5b1d3a7c9e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f
    content:
      description: The content of a regular file, base64-encoded.
      type: str
      returned: with O(content), for a regular file
      sample: LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0K
"""

import base64  # noqa: E402
import glob  # noqa: E402
import grp  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import re  # noqa: E402
import stat  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

TYPES = ((stat.S_ISREG, "file"), (stat.S_ISDIR, "directory"), (stat.S_ISSOCK, "socket"))


def natural_key(path: str) -> list:
    """PATH split into text and numbers, so that passdb-2 sorts before passdb-10."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", path)]


def expand(paths: list[str], use_glob: bool) -> list[str]:
    if not use_glob:
        return list(paths)
    return [found for pattern in paths for found in sorted(glob.glob(pattern), key=natural_key)]


def name_of(lookup, number: int) -> str:
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def look(path: str, params: dict) -> dict:
    """What the module returns for PATH; raises ValueError for a file too large to return."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return {"path": path, "exists": False}
    kind = next((name for test, name in TYPES if test(st.st_mode)), "other")
    found = {
        "path": path,
        "exists": True,
        "type": kind,
        "mode": f"{stat.S_IMODE(st.st_mode):04o}",
        "owner": name_of(pwd.getpwuid, st.st_uid),
        "group": name_of(grp.getgrgid, st.st_gid),
        "size": st.st_size,
    }
    if kind != "file" or not (params["content"] or params["checksum"]):
        return found
    if params["content"] and st.st_size > params["max_size"]:
        raise ValueError(f"mail_files_info: {path} is {st.st_size} bytes, more than max_size ({params['max_size']})")
    with open(path, "rb") as handle:
        data = handle.read()
    if params["checksum"]:
        found["checksum"] = hashlib.sha256(data).hexdigest()
    if params["content"]:
        found["content"] = base64.b64encode(data).decode("ascii")
    return found


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "path", "required": True},
            "content": {"type": "bool", "default": False},
            "checksum": {"type": "bool", "default": False},
            "glob": {"type": "bool", "default": False},
            "max_size": {"type": "int", "default": 1048576},
        },
        supports_check_mode=True,
    )
    params = module.params
    relative = [path for path in params["paths"] if not os.path.isabs(path)]
    if relative:
        module.fail_json(msg=f"mail_files_info: paths must be absolute: {relative[0]!r} is not")
    try:
        files = [look(path, params) for path in expand(params["paths"], params["glob"])]
    except ValueError as error:
        module.fail_json(msg=str(error))
    except OSError as error:
        module.fail_json(msg=f"mail_files_info: {error.filename}: {error.strerror}")
    module.exit_json(changed=False, files=files)


if __name__ == "__main__":
    main()
