# SPDX-License-Identifier: MIT
"""The controls catalogue (controls.yml) names only variables and tests that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from ansible_collections.mailfort.mail.plugins.plugin_utils.audit import definition_problems

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = yaml.safe_load((ROOT / "controls.yml").read_text())["controls"]
ID = re.compile(r"^[A-Z]+-\d{2}$")


def _role_options(role: str) -> dict:
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return specs["argument_specs"]["main"]["options"]


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_catalogue_is_not_empty():
    assert len(CATALOGUE) >= 9


def test_control_ids_are_well_formed_and_unique():
    ids = [control["id"] for control in CATALOGUE]
    assert all(ID.match(i) for i in ids), ids
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("control", CATALOGUE, ids=lambda c: c["id"])
def test_control_has_every_field(control):
    assert set(control) == {"id", "title", "statement", "sources", "role", "enabled_by", "tests", "audit"}
    assert control["title"].strip()
    assert control["statement"].strip()
    assert control["sources"]
    assert all(isinstance(s, str) and s for s in control["sources"])
    assert control["tests"]


@pytest.mark.parametrize("control", CATALOGUE, ids=lambda c: c["id"])
def test_control_variable_is_an_option_of_its_role(control):
    assert control["enabled_by"] in _role_options(control["role"])


@pytest.mark.parametrize(
    "reference", sorted({t for c in CATALOGUE for t in c["tests"]}), ids=lambda r: r.split("::")[-1]
)
def test_control_test_exists(reference):
    path, _, name = reference.partition("::")
    assert (ROOT / path).is_file(), f"{path} does not exist"
    assert name in _test_functions(ROOT / path), f"{path} has no test function {name}"


@pytest.mark.parametrize("control", CATALOGUE, ids=lambda c: c["id"])
def test_control_has_an_audit_check_that_can_be_evaluated(control):
    assert definition_problems(control) == []


def test_a_control_without_an_audit_check_is_refused():
    bare = {key: value for key, value in CATALOGUE[0].items() if key != "audit"}
    assert definition_problems(bare) == [f"{bare['id']}.audit is missing: every control needs an audit check"]
