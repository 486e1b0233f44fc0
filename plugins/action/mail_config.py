# SPDX-License-Identifier: MIT
"""mail_config: render a daemon's configuration files on the controller and install them with one module call.

A role used to do "candidate, check, swap" as loops: a template task per file into a candidate directory, the
daemon's check there, then a copy task per file into place. Each loop item is a round trip (stat, checksum, copy)
even on a host that is already converged. This action renders every file here, as ansible.builtin.template does
(the role's templates/ search path, the task's variables, the same Jinja2 options and trust), and sends all of them
to the module mail_config (plugins/modules/mail_config.py) in one call; the module compares, builds the candidate,
runs the check and swaps, or does nothing at all when nothing differs.

The arguments are documented in plugins/modules/mail_config.py (DOCUMENTATION), where ansible-doc reads them.

A secret file's content goes to the module in files[].secret_content, an option the module's argument spec marks
no_log: Ansible masks a no_log value wherever the module's result would hold it (the invocation, a message). The
action also drops the contents from the invocation it returns, so that -vvv output does not repeat every file.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import posixpath
import pwd
import re
import shlex
import time
from typing import Any

from ansible import constants
from ansible.errors import AnsibleError, AnsibleFileNotFound, AnsibleUndefinedVariable
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template
from jinja2.defaults import (
    BLOCK_END_STRING,
    BLOCK_START_STRING,
    COMMENT_END_STRING,
    COMMENT_START_STRING,
    VARIABLE_END_STRING,
    VARIABLE_START_STRING,
)

MODULE = "mailfort.mail.mail_config"
# The Jinja2 options of ansible.builtin.template, with its defaults.
JINJA_OPTIONS = {
    "trim_blocks": {"type": "bool", "default": True},
    "lstrip_blocks": {"type": "bool", "default": False},
    "newline_sequence": {"type": "str", "default": "\n"},
    "variable_start_string": {"type": "str", "default": VARIABLE_START_STRING},
    "variable_end_string": {"type": "str", "default": VARIABLE_END_STRING},
    "block_start_string": {"type": "str", "default": BLOCK_START_STRING},
    "block_end_string": {"type": "str", "default": BLOCK_END_STRING},
    "comment_start_string": {"type": "str", "default": COMMENT_START_STRING},
    "comment_end_string": {"type": "str", "default": COMMENT_END_STRING},
}
OPTIONS = {
    "live_dir": {"type": "str", "required": True},
    "candidate_dir": {"type": "str"},
    "mirror": {"type": "bool", "default": False},
    "install": {"type": "bool", "default": True},
    "backup": {"type": "bool", "default": True},
    "files": {"type": "list", "elements": "raw", "required": True},
    "check": {"type": "raw"},
    **JINJA_OPTIONS,
}
FILE_KEYS = ("src", "dest", "mode", "owner", "group", "secret", "backup", "vars", "candidate_vars")
CHECK_KEYS = ("cmd", "fail_on_output", "fail_on_stderr", "ignore_output")
# newline_sequence as YAML may hand it over, escaped, and what it means.
NEWLINES = {"\\n": "\n", "\\r": "\r", "\\r\\n": "\r\n", "\n": "\n", "\r": "\r", "\r\n": "\r\n"}
# What the module receives that the invocation it returns should not repeat: every file's whole content.
CONTENT_KEYS = ("content", "candidate_content", "secret_content", "secret_candidate_content")


class ConfigError(Exception):
    """A mistake in the task's arguments or templates, named by the option it is about.

    Not an AnsibleError, whose message would repeat the message of each error it was raised from.
    """


def relative_dest(index: int, dest: Any) -> str:
    """DEST as a clean path relative to live_dir, or a ConfigError naming files[INDEX].dest."""
    where = f"mail_config: files[{index}].dest = {dest!r}"
    if not isinstance(dest, str) or not dest.strip():
        raise ConfigError(f"{where} must be a path inside live_dir")
    parts = [part for part in dest.split("/") if part not in ("", ".")]
    if dest.startswith("/") or ".." in parts or not parts or "\0" in dest:
        raise ConfigError(f"{where} must be a path inside live_dir")
    return "/".join(parts)


def absolute_dir(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ConfigError(f"mail_config: {name} = {value!r} must be an absolute path")
    return posixpath.normpath(value)


def inside(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def file_spec(index: int, item: Any) -> dict:
    """One entry of files, checked, with its defaults."""
    if not isinstance(item, dict):
        raise ConfigError(f"mail_config: files[{index}] = {item!r} must be a mapping with src and dest")
    unknown = sorted(set(item) - set(FILE_KEYS))
    if unknown:
        raise ConfigError(
            f"mail_config: files[{index}].{unknown[0]} is not an option (the options: {', '.join(FILE_KEYS)})"
        )
    if not isinstance(item.get("src"), str) or not item["src"].strip():
        raise ConfigError(f"mail_config: files[{index}].src = {item.get('src')!r} must name a template")
    spec = {"mode": "0644", "owner": "root", "group": "root", "secret": False, "vars": {}, "candidate_vars": None}
    spec |= {key: value for key, value in item.items() if value is not None}
    spec["dest"] = relative_dest(index, item.get("dest"))
    if not (isinstance(spec["mode"], str) and len(spec["mode"]) in (3, 4) and set(spec["mode"]) <= set("01234567")):
        raise ConfigError(
            f"mail_config: files[{index}].mode = {spec['mode']!r} must be a quoted octal mode such as '0644'"
            " (YAML reads 0644 unquoted as the number 420)"
        )
    for key in ("owner", "group"):
        if isinstance(spec[key], int) and not isinstance(spec[key], bool):
            spec[key] = str(spec[key])
        if not isinstance(spec[key], str) or not spec[key].strip():
            raise ConfigError(f"mail_config: files[{index}].{key} = {spec[key]!r} must be a name or a numeric id")
    for key in ("secret", "backup"):
        if key in spec and not isinstance(spec[key], bool):
            raise ConfigError(f"mail_config: files[{index}].{key} = {spec[key]!r} must be true or false")
    for key in ("vars", "candidate_vars"):
        if spec[key] is not None and not isinstance(spec[key], dict):
            raise ConfigError(f"mail_config: files[{index}].{key} must be a mapping of variable names to values")
    return spec


def check_specs(check: Any, candidate_dir: str) -> list[dict]:
    """check as the module runs it: each command split into words, {candidate} replaced."""
    if check is None:
        return []
    items = check if isinstance(check, list) else [check]
    found = []
    for index, item in enumerate(items):
        where = f"check[{index}]" if isinstance(check, list) else "check"
        command = item if isinstance(item, str) else item.get("cmd") if isinstance(item, dict) else None
        if isinstance(item, dict) and set(item) - set(CHECK_KEYS):
            raise ConfigError(f"mail_config: {where}.{sorted(set(item) - set(CHECK_KEYS))[0]} is not an option")
        if not isinstance(command, str) or not command.strip():
            raise ConfigError(f"mail_config: {where} = {item!r} must be a command, or a mapping with cmd")
        try:
            words = shlex.split(command)
        except ValueError as error:
            raise ConfigError(f"mail_config: {where} = {command!r} cannot be split into words: {error}") from error
        settings = item if isinstance(item, dict) else {}
        flags = {name: settings.get(name, False) for name in ("fail_on_output", "fail_on_stderr")}
        ignore = settings.get("ignore_output", [])
        for name, flag in flags.items():
            if not isinstance(flag, bool):
                raise ConfigError(f"mail_config: {where}.{name} = {flag!r} must be true or false")
        if not isinstance(ignore, list) or not all(isinstance(pattern, str) for pattern in ignore):
            raise ConfigError(f"mail_config: {where}.ignore_output must be a list of regular expressions")
        for pattern in ignore:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ConfigError(
                    f"mail_config: {where}.ignore_output: {pattern!r} is no regular expression: {error}"
                ) from error
        found.append(
            {
                "argv": [word.replace("{candidate}", candidate_dir) for word in words],
                "display": command.replace("{candidate}", candidate_dir).strip(),
                **flags,
                "ignore_output": ignore,
            }
        )
    return found


def template_vars(src: str, fullpath: str, dest_path: str, with_managed: bool) -> dict:
    """The variables ansible.builtin.template adds (template_path, ansible_managed, ...), worked out as it does.

    Written out rather than imported: ansible-core's own function is internal and marked for removal.
    """
    st = os.stat(fullpath)
    try:
        uid: Any = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        uid = st.st_uid
    found = {
        "template_host": os.uname()[1],
        "template_path": src,
        "template_mtime": datetime.datetime.fromtimestamp(st.st_mtime),
        "template_uid": uid,
        "template_run_date": datetime.datetime.now(),
        "template_destpath": dest_path,
        "template_fullpath": fullpath,
    }
    if with_managed:
        # Constant placeholders, never the values themselves, which could hold template text.
        managed = constants.config.get_config_value("DEFAULT_MANAGED_STR").format(
            host="{{ template_host }}", uid="{{ template_uid }}", file="{{ template_path }}"
        )
        found["ansible_managed"] = trust_as_template(time.strftime(managed, time.localtime(st.st_mtime)))
    return found


class ActionModule(ActionBase):
    """Render every file on the controller, then compare, check and install them with one call of the module."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False
    _VALID_ARGS = frozenset(OPTIONS)

    def run(self, tmp: Any = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        del tmp  # unused
        task_vars = task_vars or {}
        try:
            module_args = self._module_args(task_vars)
        except ConfigError as error:
            return result | {"failed": True, "changed": False, "msg": str(error)}
        found = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
        invocation = found.get("invocation", {}).get("module_args", {})
        if isinstance(invocation.get("files"), list):
            invocation["files"] = [
                {key: value for key, value in f.items() if key not in CONTENT_KEYS} if isinstance(f, dict) else f
                for f in invocation["files"]
            ]
        return result | found

    def _module_args(self, task_vars: dict) -> dict:
        args, live_dir, candidate_dir = self._arguments()
        checks = check_specs(args["check"], candidate_dir or "")  # its mistakes before any template is rendered
        overrides = {name: args[name] for name in JINJA_OPTIONS} | {
            "newline_sequence": NEWLINES[args["newline_sequence"]]
        }
        files = []
        for index, spec in enumerate(self._file_specs(args["files"], live_dir, candidate_dir)):
            source = self._find_template(index, spec["src"])
            render = {"spec": spec, "source": source, "dest_path": posixpath.join(live_dir, spec["dest"])}
            content = self._render(index, render, spec["vars"], overrides, task_vars)
            entry = {key: spec[key] for key in ("dest", "mode", "owner", "group", "secret")}
            entry["backup"] = spec.get("backup", args["backup"])
            if spec["candidate_vars"] is not None and candidate_dir:
                candidate = self._render(index, render, spec["vars"] | spec["candidate_vars"], overrides, task_vars)
                entry["secret_candidate_content" if spec["secret"] else "candidate_content"] = candidate
            if spec["secret"]:
                entry["secret_content"] = content
            else:
                entry["content"] = content
                entry["checksum"] = hashlib.sha256(content.encode("utf-8", "surrogateescape")).hexdigest()
            files.append(entry)
        return {
            "live_dir": live_dir,
            "candidate_dir": candidate_dir,
            "mirror": args["mirror"],
            "install": args["install"],
            "backup": args["backup"],
            "files": files,
            "check": checks,
        }

    def _arguments(self) -> tuple[dict, str, str | None]:
        """The task's arguments checked, with live_dir and candidate_dir (None without check) normalised."""
        given = ArgumentSpecValidator(OPTIONS).validate(dict(self._task.args))
        if given.error_messages:
            raise ConfigError(f"mail_config: {given.error_messages[0]}")
        args = given.validated_parameters
        if args["check"] == []:  # no command: nothing to check, so no candidate either
            args["check"] = None
        live_dir = absolute_dir("live_dir", args["live_dir"])
        candidate_dir = None
        if args["check"] is not None:
            if args["candidate_dir"] is None:
                raise ConfigError("mail_config: candidate_dir is required with check, to build the candidate in")
            candidate_dir = absolute_dir("candidate_dir", args["candidate_dir"])
            if candidate_dir == "/" or inside(live_dir, candidate_dir):
                raise ConfigError(
                    f"mail_config: candidate_dir = {candidate_dir!r} must not be / nor live_dir nor hold it: "
                    "everything in it is replaced by each new candidate"
                )
        if args["mirror"] and candidate_dir is None:
            raise ConfigError("mail_config: mirror needs check: a candidate is only built to be checked")
        if not args["install"] and candidate_dir is None:
            raise ConfigError("mail_config: install: false needs check: the checked candidate is what it leaves")
        if args["mirror"] and live_dir == "/":
            raise ConfigError("mail_config: mirror cannot copy live_dir = '/' into the candidate")
        if not args["files"]:
            raise ConfigError("mail_config: files must list at least one file")
        if args["newline_sequence"] not in NEWLINES:
            raise ConfigError(
                f"mail_config: newline_sequence = {args['newline_sequence']!r} must be \\n, \\r or \\r\\n"
            )
        return args, live_dir, candidate_dir

    @staticmethod
    def _file_specs(items: list, live_dir: str, candidate_dir: str | None) -> list[dict]:
        specs, seen = [], {}
        for index, item in enumerate(items):
            spec = file_spec(index, item)
            if spec["dest"] in seen:
                raise ConfigError(
                    f"mail_config: files[{index}].dest = {item['dest']!r} is files[{seen[spec['dest']]}].dest already"
                )
            seen[spec["dest"]] = index
            if candidate_dir and inside(posixpath.join(live_dir, spec["dest"]), candidate_dir):
                raise ConfigError(
                    f"mail_config: files[{index}].dest = {item['dest']!r} must not be inside candidate_dir"
                    f" ({candidate_dir})"
                )
            specs.append(spec)
        return specs

    def _find_template(self, index: int, src: str) -> str:
        try:
            return self._find_needle("templates", src)
        except AnsibleFileNotFound as error:
            searched = "; searched " + ", ".join(error.paths) if isinstance(error.paths, list) else ""
            raise ConfigError(f"mail_config: files[{index}].src = {src!r}: no such template{searched}") from error

    def _render(self, index: int, render: dict, extra: dict, overrides: dict, task_vars: dict) -> str:
        """The template of RENDER (spec, source, dest_path) rendered as ansible.builtin.template does, EXTRA on top."""
        spec, source = render["spec"], render["source"]
        where = f"mail_config: files[{index}].src = {spec['src']!r}"
        try:
            data = trust_as_template(self._loader.get_text_file_contents(source))
            # Includes and imports are looked up as ansible.builtin.template looks them up.
            searchpath = [*task_vars.get("ansible_search_path", []), self._loader._basedir, os.path.dirname(source)]
            searchpath = [path for top in searchpath for path in (os.path.join(top, "templates"), top)]
            variables = dict(task_vars)
            variables |= template_vars(spec["src"], source, render["dest_path"], "ansible_managed" not in task_vars)
            variables |= extra
            templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=variables)
            rendered = templar.template(data, escape_backslashes=False, overrides=overrides)
        except AnsibleError as error:
            if spec["secret"] and not isinstance(error, AnsibleUndefinedVariable):
                # The error could quote a value of the secret file; an undefined variable's only names it.
                raise ConfigError(
                    f"{where} (dest {spec['dest']!r}) could not be rendered; the file is secret, so the error's"
                    " details are not shown: render it once without secret: true, where no one else can see"
                ) from None
            raise ConfigError(f"{where} (dest {spec['dest']!r}) could not be rendered: {error.message}") from error
        return "" if rendered is None else str(rendered)
