# SPDX-License-Identifier: MIT
"""Where a failed control is fixed, for the SARIF report (plugin_utils/audit_report.py): the role variables a
control's remediation names, the file and line where the host's inventory sets each (host_vars, group_vars, the
inventory file's host or group entry, in Ansible's precedence) or else where the role's defaults or argument specs
declare it, and the URI base ids (SRCROOT, INVENTORY, ...) the SARIF locations are relative to.

Reads the collection's roles and the inventory's files as text and YAML; never loads Ansible's inventory."""

from __future__ import annotations

import fnmatch
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml


def variable_location(root: Path, role: str, variable: str) -> tuple[str, int]:
    """The file (relative to ROOT) and line where VARIABLE is set: the role's defaults, where a user looks first."""
    defaults = Path("roles") / role / "defaults" / "main.yml"
    try:
        for number, line in enumerate((root / defaults).read_text().splitlines(), start=1):
            if re.match(rf"^#?\s*{re.escape(variable)}:", line):
                return defaults.as_posix(), number
    except OSError:
        pass
    return defaults.as_posix(), 1


_TOP_KEY = re.compile(r"""^["']?([A-Za-z_][A-Za-z0-9_]*)["']?\s*:(\s|$)""")
_COMMENTED_KEY = re.compile(r"^#\s?([a-z][a-z0-9_]*):(\s|$)")
_TOKEN = re.compile(r"[A-Za-z0-9_*]+")
_INI_SECTION = re.compile(r"^\[([^\]:]+)(?::([a-z]+))?\]")


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _pairs(node: Any) -> list[tuple[Any, Any]]:
    """A YAML mapping node's (key, value) nodes whose keys are scalars; [] for any other node."""
    if not isinstance(node, yaml.MappingNode):
        return []
    return [(key, value) for key, value in node.value if isinstance(key, yaml.ScalarNode)]


def _child(node: Any, name: str) -> Any:
    return next((value for key, value in _pairs(node) if key.value == name), None)


def _compose(path: Path) -> Any:
    try:
        return yaml.compose("\n".join(_lines(path)))
    except yaml.YAMLError:
        return None


def role_variables(root: Path) -> dict[str, tuple[str, int]]:
    """Every variable of the roles under ROOT -> the file (relative to ROOT) and line a user reads it at: its line in
    the role's defaults (commented out where it has no safe default), else its option in the role's argument specs.
    In file order, role by role."""
    found: dict[str, tuple[str, int]] = {}
    for role in sorted(path for path in (root / "roles").glob("*") if path.is_dir()):
        defaults = role / "defaults" / "main.yml"
        for number, line in enumerate(_lines(defaults), start=1):
            key, commented = _TOP_KEY.match(line), _COMMENTED_KEY.match(line)
            name = key[1] if key else commented[1] if commented and commented[1].startswith(f"{role.name}_") else ""
            if name:
                found.setdefault(name, (defaults.relative_to(root).as_posix(), number))
        specs = role / "meta" / "argument_specs.yml"
        for entry_point in _pairs(_child(_compose(specs), "argument_specs")):
            for option, _ in _pairs(_child(entry_point[1], "options")):
                found.setdefault(option.value, (specs.relative_to(root).as_posix(), option.start_mark.line + 1))
    return found


def fix_variables(remediation: str, variables: dict[str, Any]) -> list[str]:
    """The role variables REMEDIATION names, in its order: each word that is one of VARIABLES, and each pattern
    (`postfix_hardening_*_rate_limit`) as the variables it matches. A playbook's name or prose names none."""
    named: list[str] = []
    for token in _TOKEN.findall(remediation):
        if "*" in token:
            if re.search(r"[a-z]_|_[a-z]", token):  # a pattern of names, not a lone star
                named += [name for name in variables if fnmatch.fnmatchcase(name, token)]
        elif token in variables:
            named.append(token)
    return list(dict.fromkeys(named))


def _vars_file_keys(path: Path) -> dict[str, int]:
    """The variables a host_vars or group_vars YAML file sets at its top level -> their lines (an encrypted file:
    none)."""
    keys: dict[str, int] = {}
    for number, line in enumerate(_lines(path), start=1):
        key = _TOP_KEY.match(line)
        if key:
            keys.setdefault(key[1], number)
    return keys


def _vars_files(directory: Path, name: str) -> list[Path]:
    """The files Ansible reads for NAME in a host_vars or group_vars DIRECTORY: NAME with or without .yml, .yaml or
    .json, or every such file under the directory NAME."""
    base = directory / name
    if base.is_dir():
        return sorted(path for path in base.rglob("*") if path.is_file() and path.suffix in ("", ".yml", ".yaml"))
    return [path for path in (base, *(directory / f"{name}{ext}" for ext in (".yml", ".yaml"))) if path.is_file()]


def _yaml_group(group: str, node: Any, found: dict) -> None:
    for key, value in _pairs(node):
        if key.value == "hosts":
            for host, host_vars in _pairs(value):
                found["lines"].setdefault(host.value, host.start_mark.line + 1)
                for var, _ in _pairs(host_vars):
                    found["hosts"].setdefault(host.value, {}).setdefault(var.value, var.start_mark.line + 1)
        elif key.value == "vars":
            for var, _ in _pairs(value):
                found["groups"].setdefault(group, {}).setdefault(var.value, var.start_mark.line + 1)
        elif key.value == "children":
            for child, child_node in _pairs(value):
                _yaml_group(child.value, child_node, found)


def _ini_inventory(lines: list[str], found: dict) -> None:
    group, kind = "ungrouped", "hosts"
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        section = _INI_SECTION.match(line)
        if not line or line.startswith(("#", ";")):
            continue
        if section:
            group, kind = section[1].strip(), section[2] or "hosts"
        elif kind == "vars" and "=" in line:
            found["groups"].setdefault(group, {}).setdefault(line.split("=", 1)[0].strip(), number)
        elif kind == "hosts":
            try:
                words = shlex.split(line, comments=True)
            except ValueError:
                words = line.split()
            if not words:
                continue
            host = re.sub(r":[0-9]+$", "", words[0])
            found["lines"].setdefault(host, number)
            for word in words[1:]:
                if "=" in word:
                    found["hosts"].setdefault(host, {}).setdefault(word.split("=", 1)[0], number)


def inventory_file_vars(path: Path) -> dict[str, dict]:
    """What an inventory file (YAML or INI) sets, with lines: {"hosts": {host: {variable: line}}, "groups": {group:
    {variable: line}}, "lines": {host: the line that first names it}}."""
    found: dict[str, dict] = {"hosts": {}, "groups": {}, "lines": {}}
    node = _compose(path)
    if isinstance(node, yaml.MappingNode):
        for group, value in _pairs(node):
            _yaml_group(group.value, value, found)
    else:
        _ini_inventory(_lines(path), found)
    return found


def inventory_dirs(inventory: dict) -> list[Path]:
    """The directories whose host_vars and group_vars apply to a host: its inventory file's and each inventory
    source's (INVENTORY: dir, sources as inventory_dir and ansible_inventory_sources give them)."""
    dirs = [Path(inventory["dir"])] if inventory.get("dir") else []
    for source in inventory.get("sources") or []:
        path = Path(str(source)).expanduser()
        if path.is_dir():
            dirs.append(path)
        elif path.is_file():
            dirs.append(path.parent)
    return list(dict.fromkeys(directory.resolve() for directory in dirs))


def inventory_places(host: str, inventory: dict) -> list[tuple[Path, dict[str, int]]]:
    """Where the inventory sets HOST's variables, each file with {variable: line}, the one that wins first as in
    Ansible's precedence: host_vars, the inventory file's host entry, group_vars of the host's groups (by
    group_names, the later name first), group_vars/all, then the inventory file's group vars. INVENTORY: file, dir,
    groups (group_names) and sources (ansible_inventory_sources)."""
    dirs = inventory_dirs(inventory)
    groups = [group for group in reversed(inventory.get("groups") or []) if group != "all"]
    file = Path(inventory["file"]) if inventory.get("file") else None
    in_file = inventory_file_vars(file) if file and file.is_file() else {"hosts": {}, "groups": {}}
    places = [(path, _vars_file_keys(path)) for d in dirs for path in _vars_files(d / "host_vars", host)]
    if file and host in in_file["hosts"]:
        places.append((file, in_file["hosts"][host]))
    for group in [*groups, "all"]:
        places += [(path, _vars_file_keys(path)) for d in dirs for path in _vars_files(d / "group_vars", group)]
    if file:
        places += [(file, in_file["groups"][group]) for group in [*groups, "all"] if group in in_file["groups"]]
    return places


def fix_location(
    control: dict, places: list[tuple[Path, dict[str, int]]], variables: dict[str, tuple[str, int]], root: Path
) -> tuple[Path, int, str]:
    """The file, line and variable that fix a failure of CONTROL (a catalogue entry): the first variable its
    remediation names (enabled_by when it names none) that the host's inventory sets (PLACES, inventory_places()),
    where it sets it; else that variable's line in its role's defaults or argument specs (VARIABLES,
    role_variables())."""
    names = fix_variables(control.get("audit", {}).get("remediation", ""), variables)
    names = names or [control.get("enabled_by", "")]
    for name in names:
        for path, keys in places:
            if name in keys:
                return path, keys[name], name
    name = next((name for name in names if name in variables), "")
    if name:
        relative, line = variables[name]
        return root / relative, line, name
    relative, line = variable_location(root, control.get("role", ""), control.get("enabled_by", ""))
    return root / relative, line, control.get("enabled_by", "")


def uri_bases(root: Path, inventories: dict[str, dict]) -> dict[str, Path]:
    """SRCROOT (the collection) and INVENTORY, INVENTORY2, ... (each inventory directory outside it)."""
    bases = {"SRCROOT": root.resolve()}
    outside = {d for inventory in inventories.values() for d in inventory_dirs(inventory)}
    for index, directory in enumerate(sorted(d for d in outside if not d.is_relative_to(bases["SRCROOT"])), 1):
        bases["INVENTORY" if index == 1 else f"INVENTORY{index}"] = directory
    return bases


def sarif_location(path: Path, line: int, bases: dict[str, Path]) -> dict:
    """A SARIF location: the file relative to the first base that holds it (else its absolute URI), and the line."""
    path = path.resolve()
    base = next((name for name, directory in bases.items() if path.is_relative_to(directory)), "")
    artifact = (
        {"uri": quote(path.relative_to(bases[base]).as_posix()), "uriBaseId": base} if base else {"uri": path.as_uri()}
    )
    return {"physicalLocation": {"artifactLocation": artifact, "region": {"startLine": max(line, 1)}}}


def host_location(host: str, inventory: dict, root: Path) -> tuple[Path, int]:
    """Where HOST is named: the line of its inventory file that first names it, else the audit's playbook."""
    file = Path(inventory["file"]) if inventory.get("file") else None
    if file and file.is_file():
        return file, inventory_file_vars(file)["lines"].get(host, 1)
    return root / "playbooks" / "audit.yml", 1
