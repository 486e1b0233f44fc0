# SPDX-License-Identifier: MIT
"""Every filter module in filter_plugins/ documents every filter it exports, as Ansible's docs tooling reads it.

One test for all modules: DOCUMENTATION, EXAMPLES and RETURN are YAML keyed by filter name, the documented
options and defaults follow the function's signature, and the examples are tasks named after the module.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
import yaml

FILTER_DIR = Path(__file__).resolve().parents[2] / "filter_plugins"
MODULES = {path.stem: importlib.import_module(path.stem) for path in sorted(FILTER_DIR.glob("*.py"))}
FILTERS = [(module, name) for module, mod in MODULES.items() for name in sorted(mod.FilterModule().filters())]


def _signature(module: str, name: str) -> list[inspect.Parameter]:
    return list(inspect.signature(MODULES[module].FilterModule().filters()[name]).parameters.values())


def test_every_module_exports_filters():
    assert set(MODULES) >= {"mail_auth", "mail_net", "mail_postfix", "mail_tls"}
    assert all(MODULES[module].FilterModule().filters() for module in MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_public_function_of_a_module_is_exported_as_a_filter(module):
    functions = {
        name
        for name, value in vars(MODULES[module]).items()
        if name.startswith(f"{module}_") and inspect.isfunction(value)
    }

    assert functions == set(MODULES[module].FilterModule().filters())


@pytest.mark.parametrize(("module", "name"), FILTERS, ids=[name for _, name in FILTERS])
def test_filter_name_maps_to_the_function_of_that_name(module, name):
    assert name.startswith(f"{module}_")
    assert MODULES[module].FilterModule().filters()[name] is getattr(MODULES[module], name)


@pytest.mark.parametrize(("module", "name"), FILTERS, ids=[name for _, name in FILTERS])
def test_filter_is_documented_with_all_its_parameters(module, name):
    documentation = yaml.safe_load(MODULES[module].DOCUMENTATION)[name]
    returns = yaml.safe_load(MODULES[module].RETURN)[name]
    parameters = [p.name for p in _signature(module, name)[1:]]

    assert documentation["name"] == name
    assert documentation["short_description"]
    assert set(documentation["options"]) == {"_input", *parameters}
    assert documentation["positional"] == ", ".join(["_input", *parameters])
    assert returns["_value"]["type"]
    assert name in MODULES[module].EXAMPLES


@pytest.mark.parametrize(("module", "name"), FILTERS, ids=[name for _, name in FILTERS])
def test_documented_defaults_match_the_signature(module, name):
    options = yaml.safe_load(MODULES[module].DOCUMENTATION)[name]["options"]

    for parameter in _signature(module, name)[1:]:
        option = options[parameter.name]
        if parameter.default is inspect.Parameter.empty:
            assert "default" not in option, parameter.name
            assert option.get("required") is True, parameter.name
        elif parameter.default is None:
            assert "default" not in option, parameter.name
            assert not option.get("required"), parameter.name
        else:
            assert option["default"] == parameter.default, parameter.name


@pytest.mark.parametrize("module", sorted(MODULES))
def test_examples_are_tasks_named_after_the_module(module):
    tasks = yaml.safe_load(MODULES[module].EXAMPLES)
    prefix = module.removeprefix("mail_")

    assert tasks
    assert all(task["name"].startswith(f"{prefix} | ") for task in tasks)
    assert all(any(key.startswith("ansible.builtin.") for key in task) for task in tasks)
