# SPDX-License-Identifier: MIT
"""The collection's documentation, as ansible-doc reads it.

Every filter that plugins/filter/*.py exports has one sidecar, plugins/filter/<name>.yml, whose options, defaults
and positional order are the function's signature, whose examples are tasks calling it by its full name, and whose
markup points at options and plugins that exist. Then ansible-doc itself renders every filter, role and module,
with one process per plugin type.
"""

from __future__ import annotations

import ast
import collections
import importlib
import importlib.util
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import pytest
import sidecar
import yaml

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = "mailfort.mail"
FILTER_DIR = sidecar.FILTER_DIR
MODULE_DIR = ROOT / "plugins" / "modules"
ACTION_DIR = ROOT / "plugins" / "action"

# Imported as the other unit tests import them (conftest.py puts plugins/filter on the path).
FILTER_MODULES = {path.stem: importlib.import_module(path.stem) for path in sorted(FILTER_DIR.glob("*.py"))}
EXPORTS = [
    (module, name, function)
    for module, mod in FILTER_MODULES.items()
    for name, function in sorted(mod.FilterModule().filters().items())
]
FILTERS = {name: function for _, name, function in EXPORTS}
SIDECARS = sorted([*FILTER_DIR.glob("*.yml"), *FILTER_DIR.glob("*.yaml")])
ROLES = sorted(path.name for path in (ROOT / "roles").iterdir() if path.is_dir() and not path.name.startswith("."))
MODULES = sorted(path.stem for path in MODULE_DIR.glob("*.py") if not path.name.startswith("_"))

# The types a filter's options and return value may have, and the Python types of their defaults.
OPTION_TYPES = {
    "str": str,
    "int": int,
    "float": (int, float),
    "bool": bool,
    "list": list,
    "dict": dict,
    "path": str,
    "raw": object,
}

# The one warning allowed on ansible-doc's stderr, and only while the collection has no version to read.
NO_VERSION_WARNING = re.compile(
    r"\[WARNING\]: Collection at '[^']+' does not have a MANIFEST\.json file, nor has it galaxy\.yml: cannot detect "
    r"version\."
)


def _raw(name: str) -> dict:
    return yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text())


def _parameters(name: str) -> list[inspect.Parameter]:
    return list(inspect.signature(FILTERS[name]).parameters.values())


def _strings(value: Any):
    """Every string in VALUE (nested dicts and lists), keys left out."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _module_documentation(module: str) -> dict[str, Any]:
    """DOCUMENTATION, EXAMPLES and RETURN of plugins/modules/MODULE.py, read as ansible-doc reads them (without
    running the module's code): the string constants of its top level, parsed as YAML."""
    tree = ast.parse((MODULE_DIR / f"{module}.py").read_text())
    constants = {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }
    return {key: yaml.safe_load(constants[key]) for key in ("DOCUMENTATION", "EXAMPLES", "RETURN")}


def _returned(returns: dict) -> dict:
    """RETURN as options, its contains as suboptions, for _option."""
    return {key: value | {"suboptions": _returned(value.get("contains") or {})} for key, value in returns.items()}


# ------------------------------------------------------------------------------------ one sidecar per filter


def test_the_filter_modules_export_filters():
    assert FILTER_MODULES, "no filter module in plugins/filter"
    for module, mod in FILTER_MODULES.items():
        assert mod.FilterModule().filters(), f"{module}.py exports no filter"


def test_every_exported_filter_has_exactly_one_sidecar_and_every_sidecar_documents_one():
    exported = collections.Counter(name for _, name, _ in EXPORTS)
    documented = collections.Counter(path.stem for path in SIDECARS)

    assert [name for name, count in exported.items() if count > 1] == [], "a filter name exported twice"
    assert [name for name, count in documented.items() if count > 1] == [], "a filter with .yml and .yaml sidecars"
    assert sorted(set(exported) - set(documented)) == [], "exported filters without a sidecar"
    assert sorted(set(documented) - set(exported)) == [], "sidecars of no exported filter"


@pytest.mark.parametrize(("module", "name"), [(m, n) for m, n, _ in EXPORTS], ids=[n for _, n, _ in EXPORTS])
def test_a_filter_is_named_after_its_module(module, name):
    assert name.startswith(f"{module}_")


# ------------------------------------------------------------------------------------ what a sidecar says


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_sidecar_has_the_sections_of_a_filter_documentation(name):
    raw = _raw(name)
    doc = raw["DOCUMENTATION"]

    assert set(raw) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert {"name", "short_description", "description", "positional", "options"} <= set(doc)
    assert doc["name"] == name
    assert isinstance(doc["short_description"], str)
    assert doc["short_description"].strip()
    assert isinstance(doc["description"], list)
    assert doc["description"]
    assert all(isinstance(paragraph, str) and paragraph.strip() for paragraph in doc["description"])
    assert doc.get("author") == "mailfort contributors"
    assert isinstance(doc.get("version_added"), str)


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_documented_options_are_the_parameters_in_order(name):
    doc = sidecar.documentation(name)["DOCUMENTATION"]
    parameters = _parameters(name)
    names = ["_input", *(parameter.name for parameter in parameters[1:])]

    # Ansible passes the positional arguments in order; keyword-only or *args parameters would break that.
    assert all(parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for parameter in parameters)
    assert set(doc["options"]) == set(names)
    assert [item.strip() for item in doc["positional"].split(",")] == names
    assert _option_problems(doc["options"]) == []


def _option_problems(options: dict, prefix: str = "") -> list[str]:
    """What is missing or contradictory in OPTIONS and their suboptions."""
    problems = []
    for name, option in options.items():
        where = f"{prefix}{name}"
        if not option.get("description"):
            problems.append(f"{where}: no description")
        if option.get("type") not in OPTION_TYPES:
            problems.append(f"{where}: type {option.get('type')!r}")
        if "elements" in option and option.get("type") != "list":
            problems.append(f"{where}: elements without type list")
        if option.get("required") and "default" in option:
            problems.append(f"{where}: required and a default")
        if "suboptions" in option and option.get("type") not in ("dict", "list"):
            problems.append(f"{where}: suboptions of a {option.get('type')}")
        problems.extend(_option_problems(option.get("suboptions") or {}, f"{where}."))
    return problems


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_documented_defaults_are_the_signatures_defaults(name):
    options = sidecar.documentation(name)["DOCUMENTATION"]["options"]
    first, *rest = _parameters(name)

    assert first.default is inspect.Parameter.empty
    assert options["_input"].get("required") is True
    assert "default" not in options["_input"]
    for parameter in rest:
        option = options[parameter.name]
        if parameter.default is inspect.Parameter.empty:
            assert option.get("required") is True, f"{parameter.name} has no default, so it is required"
            assert "default" not in option, parameter.name
        elif parameter.default is None:
            assert "default" not in option, f"{parameter.name} defaults to None: no default to document"
            assert not option.get("required"), parameter.name
        else:
            assert not option.get("required"), parameter.name
            assert "default" in option, f"{parameter.name} defaults to {parameter.default!r}"
            assert option["default"] == parameter.default, parameter.name
            assert type(option["default"]) is type(parameter.default), parameter.name
            assert isinstance(option["default"], OPTION_TYPES[option["type"]]), parameter.name
            if "choices" in option:
                assert option["default"] in option["choices"], parameter.name


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_return_documents_the_value_and_its_type(name):
    returned = sidecar.documentation(name)["RETURN"]

    assert set(returned) == {"_value"}
    assert returned["_value"].get("description")
    assert returned["_value"].get("type") in OPTION_TYPES


# ------------------------------------------------------------------------------------ examples


JINJA = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])  # noqa: S701 - parses, never renders
FULL_NAME_CALL = re.compile(rf"\|\s*{re.escape(COLLECTION)}\.(?P<name>mail_[a-z0-9_]+)")
SHORT_NAME_CALL = re.compile(r"\|\s*(?P<name>mail_[a-z0-9_]+)\b")
# Conditions are bare expressions: when, changed_when, failed_when, and assert's that.
CONDITION_KEYS = ("that", "when", "changed_when", "failed_when")


def _conditions(task: dict) -> list[str]:
    found = []
    for mapping in (task, *(value for value in task.values() if isinstance(value, dict))):
        for key in CONDITION_KEYS:
            value = mapping.get(key)
            found.extend(value if isinstance(value, list) else [] if value is None else [value])
    return [str(condition) for condition in found if not isinstance(condition, bool)]


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_examples_are_tasks_that_call_the_filter_by_its_full_name(name):
    text = _raw(name)["EXAMPLES"]
    tasks = sidecar.documentation(name)["EXAMPLES"]

    assert isinstance(text, str)
    assert isinstance(tasks, list)
    assert tasks
    for task in tasks:
        assert isinstance(task, dict)
        assert task.get("name"), task
        modules = [key for key in task if "." in key]
        assert len(modules) == 1, f"{task['name']}: one module, by its full name"
    assert name in {match["name"] for match in FULL_NAME_CALL.finditer(text)}, f"no call of {COLLECTION}.{name}"
    assert [match["name"] for match in SHORT_NAME_CALL.finditer(text)] == [], "filters called by their short name"
    assert {match["name"] for match in FULL_NAME_CALL.finditer(text)} <= set(FILTERS), "calls of unknown filters"


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_examples_are_valid_jinja(name):
    for task in sidecar.documentation(name)["EXAMPLES"]:
        for template in _strings(task):
            JINJA.parse(template)
        for condition in _conditions(task):
            JINJA.parse(f"{{{{ {condition} }}}}")


# ------------------------------------------------------------------------------------ markup


# ansible-doc's markup (https://docs.ansible.com/ansible/devel/dev_guide/ansible_markup.html): the classic macros end
# at the first ")", the semantic ones (O, V, E, RV) allow backslash escapes.
CLASSIC_MACRO = re.compile(r"\b(?P<macro>[IBMUCLRP])\((?P<text>[^)]*)\)")
SEMANTIC_MACRO = re.compile(r"\b(?P<macro>O|V|E|RV)\((?P<text>(?:[^\\)]|\\.)*)\)")
OPENED_MACRO = re.compile(r"\b(?:[IBMUCLRPOVE]|RV)\(")
FQCN_OPTION = re.compile(r"^(?P<plugin>[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+)#(?P<type>[a-z]+):(?P<option>.+)$")


def _option(options: dict, path: str) -> dict | None:
    """The option PATH (a.b, a[].b) names among OPTIONS and their suboptions, or None."""
    found: dict | None = {"suboptions": options}
    for part in path.replace("[]", "").split("."):
        found = (found.get("suboptions") or {}).get(part) if found is not None else None
    return found


def _classic_problem(macro: str, argument: str) -> str | None:
    if "(" in argument:
        return f"{macro}({argument}): the first ')' ends it, so it cannot hold parentheses"
    ours = argument.startswith(f"{COLLECTION}.")
    if macro == "M" and ours and argument.removeprefix(f"{COLLECTION}.") not in MODULES:
        return f"M({argument}) names no module (a filter is P({argument}#filter))"
    if macro == "P":
        plugin, _, plugin_type = argument.partition("#")
        if plugin_type not in {"filter", "module", "role", "lookup", "test"}:
            return f"P({argument}) needs its plugin type, P(fqcn#type)"
        if ours and plugin_type == "filter" and plugin.removeprefix(f"{COLLECTION}.") not in FILTERS:
            return f"P({argument}) names no filter of {COLLECTION}"
    return None


def _semantic_problem(macro: str, argument: str, options: dict, returned: dict) -> str | None:
    name = argument.split("=", 1)[0]
    other = FQCN_OPTION.match(name)
    if macro == "O" and other:
        if not other["plugin"].startswith(f"{COLLECTION}.") or other["type"] != "filter":
            return None
        filter_name = other["plugin"].removeprefix(f"{COLLECTION}.")
        if filter_name not in FILTERS:
            return f"O({argument}) names no filter of {COLLECTION}"
        if _option(sidecar.documentation(filter_name)["DOCUMENTATION"]["options"], other["option"]) is None:
            return f"O({argument}) names no option of that filter"
    elif macro == "O" and _option(options, name) is None:
        return f"O({argument}) names no option of this filter"
    elif macro == "RV" and _option(returned, name) is None:
        return f"RV({argument}) names no return value"
    return None


def _markup_problems(text: str, options: dict, returned: dict) -> list[str]:
    """What is wrong with the markup of TEXT, a paragraph of a filter with OPTIONS and RETURNED values."""
    classic = [(match["macro"], match["text"]) for match in CLASSIC_MACRO.finditer(text)]
    semantic = [(match["macro"], re.sub(r"\\(.)", r"\1", match["text"])) for match in SEMANTIC_MACRO.finditer(text)]
    problems = [_classic_problem(macro, argument) for macro, argument in classic]
    problems += [_semantic_problem(macro, argument, options, returned) for macro, argument in semantic]
    if len(OPENED_MACRO.findall(text)) != len(classic) + len(semantic):
        problems.append(f"a macro that is not closed: {text!r}")
    return [problem for problem in problems if problem]


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_markup_is_valid_and_points_at_what_exists(name):
    documentation = sidecar.documentation(name)
    options = documentation["DOCUMENTATION"]["options"]
    returned = _returned(documentation["RETURN"])
    texts = [*_strings(documentation["DOCUMENTATION"]), *_strings(documentation["RETURN"])]

    assert [problem for text in texts for problem in _markup_problems(text, options, returned)] == []


@pytest.mark.parametrize("module", MODULES)
def test_module_markup_is_valid_and_points_at_what_exists(module):
    stub = _module_documentation(module)
    documentation, returns = stub["DOCUMENTATION"], stub["RETURN"]
    texts = [*_strings(documentation), *_strings(returns)]

    assert [p for text in texts for p in _markup_problems(text, documentation["options"], _returned(returns))] == []


def test_markup_checks_find_bad_references():
    options = {"policy": {"suboptions": {"min_length": {}}}, "varname": {}}
    good = "O(policy.min_length), O(varname=x), C(a), P(mailfort.mail.mail_net_cidrs#filter)"
    bad = "O(nope), M(mailfort.mail.mail_net_cidrs), C(f(x)), P(mailfort.mail.mail_nothing#filter), C(open"

    assert _markup_problems(good, options, {}) == []
    assert len(_markup_problems(bad, options, {})) == 5


# ------------------------------------------------------------------------------------ the action's documentation


def test_every_action_plugin_has_a_documentation_stub():
    actions = sorted(path.stem for path in ACTION_DIR.glob("*.py") if not path.name.startswith("_"))

    assert actions
    assert [action for action in actions if action not in MODULES] == []


def test_mail_validate_documents_exactly_the_actions_arguments():
    action = _load(ACTION_DIR / "mail_validate.py", "mail_validate_action")
    stub = _module_documentation("mail_validate")
    documentation = stub["DOCUMENTATION"]

    assert documentation["module"] == "mail_validate"
    assert set(documentation["options"]) == set(action.ActionModule._VALID_ARGS)
    assert documentation["attributes"]["action"]["support"] == "full"
    assert documentation["attributes"]["check_mode"]["support"] == "full"
    assert all(f"{COLLECTION}.mail_validate" in task or "ansible.builtin.set_fact" in task for task in stub["EXAMPLES"])
    assert set(stub["RETURN"]) == {"facts", "deferred", "msg"}


def test_mail_validate_stub_is_documentation_only():
    tree = ast.parse((MODULE_DIR / "mail_validate.py").read_text())
    statements = [
        node for node in tree.body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]

    assert [ast.unparse(node) for node in statements if not isinstance(node, ast.Assign)] == [
        "from __future__ import annotations"
    ]
    assert sorted(node.targets[0].id for node in statements if isinstance(node, ast.Assign)) == [
        "DOCUMENTATION",
        "EXAMPLES",
        "RETURN",
    ]


# ------------------------------------------------------------------------------------ ansible-doc
#
# Two views, each one process for all plugins of a type: --json is the documentation as ansible-doc reads it, and
# the text is it rendered, where markup and malformed descriptions fail (a description that YAML read as a
# mapping passes --json and fails only there).

FILTER_NAMES = [f"{COLLECTION}.{name}" for name in sorted(FILTERS)]
ROLE_NAMES = [f"{COLLECTION}.{role}" for role in ROLES]
MODULE_NAMES = [f"{COLLECTION}.{module}" for module in MODULES]
# The first line of each plugin's text: "> FILTER mailfort.mail.x (path)", "> ROLE: *mailfort.mail.x* (path)".
RENDERED = re.compile(r"^> (?:FILTER|MODULE|ROLE:) \*?(?P<name>[\w.]+)\*? \(", re.MULTILINE)


def _ansible_doc_command() -> str:
    beside = Path(sys.executable).with_name("ansible-doc")
    found = str(beside) if beside.exists() else shutil.which("ansible-doc")
    if found is None:
        pytest.fail("ansible-doc is not installed beside this Python or on PATH")
    return found


@cache
def _ansible_doc(*arguments: str) -> tuple[int, str, str]:
    """ansible-doc's exit code, its output, and its stderr (whitespace folded) without the one allowed warning."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    env.pop("ANSIBLE_FORCE_COLOR", None)
    result = subprocess.run(
        [_ansible_doc_command(), *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    stderr = " ".join(result.stderr.split())
    if not (ROOT / "galaxy.yml").exists() and not (ROOT / "MANIFEST.json").exists():
        stderr = NO_VERSION_WARNING.sub("", stderr).strip()
    return result.returncode, result.stdout, stderr


def _documented(plugin_type: str, names: list[str]) -> dict:
    code, output, stderr = _ansible_doc("-t", plugin_type, "--json", *names)

    assert (code, stderr) == (0, "")
    documented = json.loads(output)
    # A role or a filter ansible-doc cannot find is left out (with a warning at most, and exit code 0).
    assert sorted(documented) == names
    return documented


def _rendered(plugin_type: str, names: list[str]) -> list[str]:
    code, output, stderr = _ansible_doc("-t", plugin_type, *names)

    assert (code, stderr) == (0, "")
    return sorted(match["name"] for match in RENDERED.finditer(output))


def test_the_allowed_warning_is_only_the_missing_version():
    text = (
        "[WARNING]: Collection at '/x/collections/ansible_collections/mailfort/mail' does not have a MANIFEST.json "
        "file, nor has it galaxy.yml: cannot detect version."
    )
    assert NO_VERSION_WARNING.sub("", text) == ""
    assert NO_VERSION_WARNING.sub("", "[WARNING]: mailfort.mail.mail_x was not found") != ""


def test_ansible_doc_reads_every_filters_sidecar():
    documented = _documented("filter", FILTER_NAMES)

    for name in FILTER_NAMES:
        doc = documented[name]["doc"]
        raw = _raw(doc["name"])
        assert doc["name"] == name.removeprefix(f"{COLLECTION}.")
        assert doc["description"], name
        assert doc["description"] == raw["DOCUMENTATION"]["description"], name
        assert documented[name]["examples"] == raw["EXAMPLES"], name
        assert documented[name]["return"]["_value"]["type"], name


def test_ansible_doc_renders_every_filter():
    assert _rendered("filter", FILTER_NAMES) == FILTER_NAMES


def test_ansible_doc_lists_every_filter_with_its_own_summary():
    code, output, stderr = _ansible_doc("-t", "filter", "-l", "--json", COLLECTION)

    assert (code, stderr) == (0, "")
    assert json.loads(output) == {
        f"{COLLECTION}.{name}": _raw(name)["DOCUMENTATION"]["short_description"].strip() for name in sorted(FILTERS)
    }


def test_ansible_doc_reads_every_role():
    assert ROLES
    documented = _documented("role", ROLE_NAMES)

    for name in ROLE_NAMES:
        main = documented[name]["entry_points"]["main"]
        assert main["short_description"], name
        assert main["description"], name
        assert main["options"], name


def test_ansible_doc_renders_every_role():
    assert _rendered("role", ROLE_NAMES) == ROLE_NAMES


def test_ansible_doc_reads_every_module():
    assert {"mail_dns_update", "mail_validate"} <= set(MODULES)
    documented = _documented("module", MODULE_NAMES)

    for name in MODULE_NAMES:
        doc = documented[name]["doc"]
        assert doc["module"] == name.removeprefix(f"{COLLECTION}.")
        assert doc["description"], name
        assert all(isinstance(paragraph, str) for paragraph in doc["description"]), name
        assert doc["options"], name
        assert f"{name}:" in documented[name]["examples"], f"{name}: the examples call it by its full name"
        assert documented[name]["return"], name


def test_ansible_doc_renders_every_module():
    assert _rendered("module", MODULE_NAMES) == MODULE_NAMES
