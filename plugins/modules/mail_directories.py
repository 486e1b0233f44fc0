#!/usr/bin/python
# SPDX-License-Identifier: MIT
"""Make sure several directories exist with their owner, group and mode, in one module call. A role that looped
ansible.builtin.file over its directories paid one round trip per directory on every run; this pays one."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mail_directories
short_description: Several directories with their owner, group and mode, in one call
version_added: "0.1.0"
description:
  - Makes sure every directory of O(directories) exists, in order, with the owner, group and mode given, and says
    which it created or changed. One module call replaces a loop of M(ansible.builtin.file) with C(state=directory).
  - A missing parent of a listed directory is created with mode C(0755), owned by the user the module runs as
    (root); list a parent before its child when its owner or mode matters.
  - A path that exists and is not a directory (a file, a link to a file) fails the task, naming it, before anything
    changes. A symbolic link to a directory is followed, as M(ansible.builtin.file) does.
  - Never removes anything.
options:
  directories:
    description:
      - The directories, in the order they are made, each with its own attributes; what an entry leaves out comes
        from O(mode), O(owner) and O(group).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The directory, an absolute path.
        type: path
        required: true
      mode:
        description: Its permission bits, as an octal string (C("0750")).
        type: str
      owner:
        description: The user that owns it, by name.
        type: str
      group:
        description: The group that owns it, by name.
        type: str
  paths:
    description: More directories, after those of O(directories), each with O(mode), O(owner) and O(group).
    type: list
    elements: path
    default: []
  mode:
    description: The mode of every directory that does not name its own, as an octal string (C("0750")).
    type: str
  owner:
    description: The owner of every directory that does not name its own.
    type: str
    default: root
  group:
    description: The group of every directory that does not name its own.
    type: str
    default: root
attributes:
  check_mode:
    support: full
    details: Reports what it would create or change and changes nothing.
  diff_mode:
    support: full
    details: One diff per directory it would create or change, with its state before and after.
  platform:
    platforms: posix
seealso:
  - module: ansible.builtin.file
author:
  - mailfort contributors
"""

EXAMPLES = r"""
- name: directories | Create the certificate directory and its root-only key directory
  mailfort.mail.mail_directories:
    directories:
      - {path: /etc/ssl/mailfort, mode: "0755"}
      - {path: /etc/ssl/mailfort/private, mode: "0700"}

- name: keys | Create the key directory and one directory per domain, readable by the signer only
  mailfort.mail.mail_directories:
    paths: "{{ [dkim_key_dir] + __dkim_present_keys | map(attribute='private_path') | map('dirname') | unique }}"
    group: opendkim
    mode: "0750"
"""

RETURN = r"""
directories:
  description: One entry per directory of O(directories), then of O(paths), in order.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The directory.
      type: str
      returned: always
      sample: /etc/ssl/mailfort/private
    created:
      description: Whether it did not exist (and was made, outside check mode).
      type: bool
      returned: always
      sample: false
    changed:
      description: Whether it was created or its owner, group or mode was changed (or would be, in check mode).
      type: bool
      returned: always
      sample: false
"""

import grp  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import re  # noqa: E402
import stat  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

MODE = re.compile(r"^0?[0-7]{3,4}$")


def entries(params: dict) -> list[tuple[str, dict]]:
    """Every directory asked for, where it was asked for (directories[0], paths[1]), with every attribute set."""
    shared = {key: params[key] for key in ("mode", "owner", "group")}
    listed = [
        (f"directories[{index}]", shared | {key: value for key, value in entry.items() if value is not None})
        for index, entry in enumerate(params["directories"])
    ]
    return listed + [(f"paths[{index}]", shared | {"path": path}) for index, path in enumerate(params["paths"])]


def id_of(lookup, name: str) -> int | None:
    try:
        return lookup(name)[2]
    except KeyError:
        return None


def wanted(entry: dict, index: str) -> tuple[dict | None, str | None]:
    """The directory ENTRY asks for, with ids and mode resolved, or the reason it cannot be had."""
    path, mode = os.path.normpath(entry["path"]), entry["mode"]
    uid, gid = id_of(pwd.getpwnam, entry["owner"]), id_of(grp.getgrnam, entry["group"])
    if not os.path.isabs(entry["path"]):
        problem = "the path must be absolute"
    elif mode is None:
        problem = "no mode, and no mode for every directory"
    elif not MODE.match(str(mode)):
        problem = f"mode {mode!r} is not an octal mode such as '0750'"
    elif uid is None:
        problem = f"there is no user {entry['owner']!r} on the host"
    elif gid is None:
        problem = f"there is no group {entry['group']!r} on the host"
    elif os.path.lexists(path) and not os.path.isdir(path):
        problem = "it exists and is not a directory; nothing was changed"
    else:
        return {**entry, "path": path, "uid": uid, "gid": gid, "mode": int(str(mode), 8)}, None
    return None, f"{index} ({entry['path']}): {problem}"


def describe(path: str) -> dict:
    """The state of PATH as a diff shows it."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {"path": path, "state": "absent"}
    return {
        "path": path,
        "state": "directory",
        "mode": f"{stat.S_IMODE(st.st_mode):04o}",
        "owner": name_of(pwd.getpwuid, st.st_uid),
        "group": name_of(grp.getgrgid, st.st_gid),
    }


def name_of(lookup, number: int) -> str:
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def ensure(directory: dict, check_mode: bool) -> tuple[dict, dict | None]:
    """Make DIRECTORY as it is wanted (unless CHECK_MODE): its result entry and its diff (None when unchanged)."""
    path = directory["path"]
    before = describe(path)
    after = {
        "path": path,
        "state": "directory",
        "mode": f"{directory['mode']:04o}",
        "owner": directory["owner"],
        "group": directory["group"],
    }
    created = before["state"] == "absent"
    if before == after:
        return {"path": path, "created": False, "changed": False}, None
    if not check_mode:
        if created:
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            os.mkdir(path, mode=0o700)  # no wider than wanted while its owner and mode are not yet set
        os.chown(path, directory["uid"], directory["gid"])
        os.chmod(path, directory["mode"])
    return {"path": path, "created": created, "changed": True}, {
        "before_header": path,
        "after_header": path,
        "before": "".join(f"{key}: {value}\n" for key, value in before.items() if key != "path"),
        "after": "".join(f"{key}: {value}\n" for key, value in after.items() if key != "path"),
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "directories": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "mode": {"type": "str"},
                    "owner": {"type": "str"},
                    "group": {"type": "str"},
                },
            },
            "paths": {"type": "list", "elements": "path", "default": []},
            "mode": {"type": "str"},
            "owner": {"type": "str", "default": "root"},
            "group": {"type": "str", "default": "root"},
        },
        supports_check_mode=True,
    )
    resolved = [wanted(entry, where) for where, entry in entries(module.params)]
    problems = [problem for _, problem in resolved if problem]
    if problems:
        module.fail_json(msg="mail_directories: " + "; ".join(problems))
    results, diffs = [], []
    try:
        for directory, _ in resolved:
            result, diff = ensure(directory, module.check_mode)
            results.append(result)
            if diff:
                diffs.append(diff)
    except OSError as error:
        module.fail_json(msg=f"mail_directories: {error.filename}: {error.strerror}", directories=results)
    module.exit_json(changed=bool(diffs), directories=results, diff=diffs)


if __name__ == "__main__":
    main()
