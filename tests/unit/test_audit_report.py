# SPDX-License-Identifier: MIT
"""The audit's reports (plugin_utils/audit_report.py, the action mail_audit_report and playbooks/audit.yml's last
tasks): a host the audit could not judge is in every report as "not audited" with the reason; SARIF points each
failure at the line that fixes it (plugin_utils/audit_locations.py), in the host's inventory where it sets the
variable; audit.json holds to its JSON Schema; the HTML page has the structure it promises. The judgement itself
is test_audit.py's."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse
from xml.etree import ElementTree

import judges
import pytest
import yaml
from ansible_collections.mailfort.mail.plugins.plugin_utils import audit, audit_locations, audit_report
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = yaml.safe_load((ROOT / "controls.yml").read_text())["controls"]
BY_ID = {control["id"]: control for control in CATALOGUE}
GENERATED = "2026-12-02T00:00:00Z"
UNREACHABLE = {
    "unreachable": True,
    "changed": False,
    "msg": "Failed to connect to the host via ssh: ssh: connect to host 192.0.2.9 port 22: Connection timed out",
}


def _host(name: str, statuses: dict[str, str], **extra: object) -> dict:
    """A judged host as mail_audit returns it: every control of the catalogue, passing unless STATUSES says."""
    controls = []
    for control in CATALOGUE:
        status = statuses.get(control["id"], "pass")
        controls.append(
            {
                "id": control["id"],
                "title": control["title"],
                "role": control["role"],
                "area": control["id"].split("-")[0],
                "status": status,
                "reason": f"{control['id']} is weak <b>" if status == "fail" else "",
                "remediation": control["audit"]["remediation"],
                "evidence": [
                    {"what": "postconf x", "seen": "no & <i>", "wanted": "equals yes", "passed": status != "fail"},
                    {"what": "probe smtp:25", "seen": "not probed", "wanted": "", "passed": None, "not_checked": True},
                ],
            }
        )
    return {
        "host": name,
        "changed": False,
        "controls": controls,
        "summary": audit.summarise(name, controls),
        "versions": {"postfix": "3.7.11", "dovecot": None},
        "seconds": {"host": 1.5, "total": 3.25},
        "probed": {"address": "192.0.2.25", "tls_name": "mx.example.org", "from": "192.0.2.1", "probes": ["smtp:25"]},
        **extra,
    }


def _doc(hosts: list[dict]) -> dict:
    return audit_report.document(hosts, GENERATED, "controls.yml")


@pytest.fixture
def fleet() -> dict:
    """mx1 judged (one failure, one waiver), mx2 unreachable, mx3 whose audit failed, mx4 judged and all pass."""
    results = {
        "mx1": _host("mx1", {"PFX-02": "fail", "NET-01": "waived", "DNS-05": "not applicable"}),
        "mx2": UNREACHABLE,
        "mx3": {"failed": True, "msg": "reading the host's evidence failed: sudo: a password is required"},
        "mx4": _host("mx4", {}),
    }
    return _doc(audit_report.host_entries(["mx1", "mx2", "mx3", "mx4"], results))


# --- hosts the audit could not judge ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (None, "no result: the host left the play before the audit judged it"),
        (UNREACHABLE, f"unreachable: {UNREACHABLE['msg']}"),
        (
            {"failed": True, "msg": "reading the host's evidence failed: boom", "module_stdout": "hunter2"},
            "failed: reading the host's evidence failed: boom",
        ),
        # failed_when: false leaves failed false; a result without controls is still no judgement.
        (
            {"failed": False, "failed_when_result": False, "msg": "the catalogue's entries\n  cannot be templated"},
            "failed: the catalogue's entries cannot be templated",
        ),
        ({"changed": False}, "failed: no message"),
        ({"skipped": True, "skip_reason": "Conditional result was False"}, "skipped: Conditional result was False"),
        ("not a result", "no result: the host left the play before the audit judged it"),
    ],
)
def test_a_host_without_judged_controls_is_not_audited_with_the_reason(result, reason):
    [entry] = audit_report.host_entries(["mx2"], {"mx2": result})
    assert entry["status"] == "not audited"
    assert entry["reason"] == reason
    assert entry["controls"] == []
    assert audit_report.summary_text(entry["summary"]) == f"mx2: not audited ({reason})"


def test_a_not_audited_reason_is_one_line_and_never_the_results_other_keys():
    result = {"failed": True, "msg": "x" * 1000 + "\nsecond line", "module_stderr": "hunter2", "invocation": "pw"}
    reason = audit_report.not_audited_reason(result)
    assert len(reason) == audit_report.REASON_MAX
    assert reason.endswith("...")
    assert "\n" not in reason
    assert "hunter2" not in reason


def test_every_host_of_the_play_is_in_the_json_in_order_with_its_status(fleet):
    doc = json.loads(audit_report.to_json(fleet))
    assert [host["host"] for host in doc["hosts"]] == ["mx1", "mx2", "mx3", "mx4"]
    assert [host["status"] for host in doc["hosts"]] == ["audited", "not audited", "not audited", "audited"]
    assert [summary["host"] for summary in doc["summary"]] == ["mx1", "mx2", "mx3", "mx4"]
    assert doc["hosts"][1]["reason"] == f"unreachable: {UNREACHABLE['msg']}"
    assert doc["summary"][1]["reason"] == doc["hosts"][1]["reason"]
    assert doc["hosts"][2]["reason"] == "failed: reading the host's evidence failed: sudo: a password is required"
    assert "reason" not in doc["hosts"][0]
    assert doc["hosts"][0]["summary"]["fail"] == 1


def test_summary_lines_say_which_hosts_were_not_audited_and_why(fleet):
    lines = [audit_report.summary_text(summary) for summary in fleet["summary"]]
    assert lines[0] == f"mx1: {len(CATALOGUE)} controls, {len(CATALOGUE) - 3} pass, 1 waived, 1 n/a, 1 fail"
    assert lines[1] == f"mx2: not audited (unreachable: {UNREACHABLE['msg']})"
    assert lines[2].startswith("mx3: not audited (failed: reading the host's evidence failed")


def test_markdown_fleet_table_has_a_row_per_host_and_the_not_audited_reason(fleet):
    text = audit_report.to_markdown(fleet)
    rows = [line for line in text.splitlines() if line.startswith("| mx")]
    assert [row.split(" | ")[0] for row in rows] == ["| mx1", "| mx2", "| mx3", "| mx4"]
    assert rows[0].startswith(f"| mx1 | audited | {len(CATALOGUE)} | {len(CATALOGUE) - 3} | 1 | 1 | 1 |")
    assert rows[1] == f"| mx2 | not audited |  |  |  |  |  | unreachable: {UNREACHABLE['msg']} |"
    section = text.split("## mx2\n", 1)[1].split("\n## ", 1)[0]
    assert section.strip() == f"Not audited: unreachable: {UNREACHABLE['msg']}"


def test_junit_has_an_error_case_for_each_host_not_audited(fleet):
    suites = ElementTree.fromstring(audit_report.to_junit(fleet).split("\n", 1)[1])  # noqa: S314 - our own output
    by_host = {suite.get("name"): suite for suite in suites.findall("testsuite")}
    assert list(by_host) == ["mx1", "mx2", "mx3", "mx4"]
    mx2 = by_host["mx2"]
    assert (mx2.get("tests"), mx2.get("errors"), mx2.get("failures")) == ("1", "1", "0")
    [case] = mx2.findall("testcase")
    [error] = case.findall("error")
    assert error.get("type") == "not audited"
    assert error.get("message") == f"unreachable: {UNREACHABLE['msg']}"
    assert by_host["mx1"].get("errors") == "0"
    assert len(by_host["mx1"].findall("testcase")) == len(CATALOGUE)
    assert len(suites.findall("./testsuite/testcase/error")) == 2


# --- SARIF: the line that fixes a failure ------------------------------------------------------------------------


VARIABLES = audit_locations.role_variables(ROOT)


@pytest.mark.parametrize(
    ("control", "named"),
    [
        ("PFX-02", ["postfix_hardening_tls_profile", "mail_tls_profile"]),
        ("DOV-04", ["dovecot_hardening_users", "dovecot_hardening_main_password_mail_login"]),
        ("BAN-02", ["mail_firewall_ban_sets", "fail2ban_nftables_table"]),
        ("DOV-05", []),  # a playbook only
        ("DKIM-03", []),  # a playbook and prose
    ],
)
def test_the_variables_a_remediation_names_are_role_variables_in_its_order(control, named):
    assert audit_locations.fix_variables(BY_ID[control]["audit"]["remediation"], VARIABLES) == named


def test_a_pattern_in_a_remediation_names_every_variable_it_matches():
    named = audit_locations.fix_variables("postfix_hardening_*_rate_limit (playbooks/postfix_hardening.yml)", VARIABLES)
    assert "postfix_hardening_connection_rate_limit" in named
    assert all(name.startswith("postfix_hardening_") and name.endswith("_rate_limit") for name in named)
    assert audit_locations.fix_variables("a * b and playbooks/site.yml", VARIABLES) == []


def test_every_role_variable_is_located_at_its_line():
    assert len(VARIABLES) > 100
    for name, (relative, line) in VARIABLES.items():
        text = (ROOT / relative).read_text().splitlines()[line - 1]
        assert text.lstrip("# ").startswith(f"{name}:"), (name, relative, line, text)


@pytest.mark.parametrize(
    ("control", "variable"),
    [
        ("PFX-02", "postfix_hardening_tls_profile"),  # the first of two the remediation names
        ("DOV-05", "dovecot_hardening_users"),  # a playbook only: the control's enabled_by
        ("PFX-08", "postfix_hardening_connection_rate_limit"),  # a pattern: the first variable it matches
    ],
)
def test_without_an_inventory_a_failure_points_at_the_role_default(control, variable):
    path, line, found = audit_locations.fix_location(BY_ID[control], [], VARIABLES, ROOT)
    assert found == variable
    assert path.read_text().splitlines()[line - 1].startswith(f"{variable}:")


HOSTS_YML = """\
---
all:
  vars:
    postfix_hardening_mx_tls_policy: interop
  children:
    mail_servers:
      vars:
        postfix_hardening_mynetworks: [192.0.2.0/28]
      hosts:
        mx1:
          postfix_hardening_tls_profile: old
        mx2:
          postfix_hardening_tls_profile: old
        mx3:
        mx4:
"""


@pytest.fixture
def inventory(tmp_path) -> Path:
    """An inventory directory outside the collection: the host file, host_vars for mx1, group_vars for the group."""
    directory = tmp_path / "prod inventory"
    (directory / "host_vars").mkdir(parents=True)
    (directory / "group_vars" / "mail_servers").mkdir(parents=True)
    (directory / "hosts.yml").write_text(HOSTS_YML)
    (directory / "host_vars" / "mx1.yml").write_text("---\n# mx1 only\npostfix_hardening_tls_profile: old\n")
    (directory / "group_vars" / "mail_servers" / "main.yml").write_text("---\nmail_tls_profile: old\n")
    (directory / "group_vars" / "all.yml").write_text("---\npostfix_hardening_mynetworks: []\n")
    return directory


def _inventories(directory: Path, names: list[str], hosts_file: str = "hosts.yml") -> dict[str, dict]:
    """What the action reads from hostvars: inventory_file, inventory_dir, group_names, ansible_inventory_sources."""
    entry = {
        "file": str(directory / hosts_file),
        "dir": str(directory),
        "groups": ["mail_servers"],
        "sources": [str(directory)],
    }
    return dict.fromkeys(names, entry)


def _resolve(run: dict, location: dict) -> tuple[Path, int]:
    """The file a SARIF location names, through the run's originalUriBaseIds, and its line."""
    physical = location["physicalLocation"]
    artifact = physical["artifactLocation"]
    uri = artifact["uri"]
    if artifact.get("uriBaseId"):
        uri = run["originalUriBaseIds"][artifact["uriBaseId"]]["uri"] + uri
    return Path(unquote(urlparse(uri).path)), physical["region"]["startLine"]


@pytest.fixture
def located(inventory) -> dict:
    """PFX-02 fails on mx1, mx2 and mx3 (set by host_vars, the host file's host entry, group_vars), PFX-03 and
    PFX-04 on mx3 (the host file's `all` vars, the group's vars under group_vars/all), mx4 was not audited."""
    hosts = [
        _host("mx1", {"PFX-02": "fail"}),
        _host("mx2", {"PFX-02": "fail"}),
        _host("mx3", {"PFX-02": "fail", "PFX-03": "fail", "PFX-04": "fail", "PFX-05": "fail"}),
        audit_report.not_audited("mx4", "unreachable: no route to host"),
    ]
    doc = _doc(hosts)
    return json.loads(
        audit_report.to_sarif(doc, CATALOGUE, ROOT, _inventories(inventory, ["mx1", "mx2", "mx3", "mx4"]))
    )


def test_sarif_points_a_failure_at_the_inventory_line_that_sets_its_variable(located, inventory):
    run = located["runs"][0]
    where = {}
    for result in run["results"]:
        [location] = result["locations"]
        path, line = _resolve(run, location)
        where[result["properties"]["host"], result["ruleId"]] = (path, line, result["properties"].get("variable"))
        if result["ruleId"] != "NOT-AUDITED":
            # The line sets the variable the result names, and the message says which one.
            assert path.read_text().splitlines()[line - 1].strip().startswith(f"{result['properties']['variable']}:")
            assert f"(here: {result['properties']['variable']})" in result["message"]["text"]
    hosts_yml = inventory / "hosts.yml"
    assert where["mx1", "PFX-02"] == (inventory / "host_vars" / "mx1.yml", 3, "postfix_hardening_tls_profile")
    assert where["mx2", "PFX-02"] == (hosts_yml, 13, "postfix_hardening_tls_profile")
    assert where["mx3", "PFX-02"] == (inventory / "group_vars" / "mail_servers" / "main.yml", 2, "mail_tls_profile")
    assert where["mx3", "PFX-03"] == (hosts_yml, 4, "postfix_hardening_mx_tls_policy")
    # group_vars/all wins over the host file's group vars, as in Ansible's precedence.
    assert where["mx3", "PFX-04"] == (inventory / "group_vars" / "all.yml", 2, "postfix_hardening_mynetworks")
    # Not set by the inventory: the role's default.
    defaults = ROOT / "roles" / "postfix_hardening" / "defaults" / "main.yml"
    assert where["mx3", "PFX-05"][0] == defaults
    assert where["mx4", "NOT-AUDITED"][:2] == (hosts_yml, 15)


def test_sarif_names_inventory_files_relative_to_a_base_and_the_roles_relative_to_the_collection(located, inventory):
    run = located["runs"][0]
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == ROOT.resolve().as_uri() + "/"
    assert run["originalUriBaseIds"]["INVENTORY"]["uri"] == inventory.resolve().as_uri() + "/"
    artifacts = [result["locations"][0]["physicalLocation"]["artifactLocation"] for result in run["results"]]
    assert {"uri": "host_vars/mx1.yml", "uriBaseId": "INVENTORY"} in artifacts
    assert {"uri": "roles/postfix_hardening/defaults/main.yml", "uriBaseId": "SRCROOT"} in artifacts
    assert all(not artifact["uri"].startswith("/") and " " not in artifact["uri"] for artifact in artifacts)


def test_sarif_of_a_host_not_audited_names_it_in_a_result_of_its_own(located):
    run = located["runs"][0]
    [result] = [r for r in run["results"] if r["ruleId"] == "NOT-AUDITED"]
    assert result["level"] == "error"
    assert result["message"]["text"] == "mx4: not audited (unreachable: no route to host)"
    assert "NOT-AUDITED" in {rule["id"] for rule in run["tool"]["driver"]["rules"]}


def test_an_inventory_inside_the_collection_is_named_from_the_collection(tmp_path):
    # The lab's inventory: its group_vars set mail_tls_profile, which fixes PFX-02 when the host does not set
    # postfix_hardening_tls_profile.
    lab = ROOT / "inventories" / "lab"
    inventories = {"mailfort-lab-mx": {"file": str(lab / "hosts.yml"), "dir": str(lab), "groups": ["mail_servers"]}}
    doc = _doc([_host("mailfort-lab-mx", {"PFX-02": "fail"})])
    run = json.loads(audit_report.to_sarif(doc, CATALOGUE, ROOT, inventories))["runs"][0]
    [result] = run["results"]
    artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "inventories/lab/group_vars/mail_servers.yml", "uriBaseId": "SRCROOT"}
    assert set(run["originalUriBaseIds"]) == {"SRCROOT"}


INI = """\
# the same fleet, as an INI inventory
[mail_servers]
mx1 ansible_host=192.0.2.25 postfix_hardening_tls_profile=old
mx2:2222

[mail_servers:vars]
mail_tls_profile = old
"""


def test_an_ini_inventory_is_read_for_host_and_group_variables(tmp_path):
    (tmp_path / "hosts").write_text(INI)
    found = audit_locations.inventory_file_vars(tmp_path / "hosts")
    assert found["lines"] == {"mx1": 3, "mx2": 4}
    assert found["hosts"]["mx1"] == {"ansible_host": 3, "postfix_hardening_tls_profile": 3}
    assert found["groups"] == {"mail_servers": {"mail_tls_profile": 7}}
    doc = _doc([_host("mx1", {"PFX-02": "fail"}), _host("mx2", {"PFX-02": "fail"})])
    run = json.loads(
        audit_report.to_sarif(doc, CATALOGUE, ROOT, _inventories(tmp_path, ["mx1", "mx2"], hosts_file="hosts"))
    )["runs"][0]
    lines = {r["properties"]["host"]: _resolve(run, r["locations"][0]) for r in run["results"]}
    assert lines == {"mx1": (tmp_path / "hosts", 3), "mx2": (tmp_path / "hosts", 7)}


def test_the_located_and_not_audited_sarif_is_valid_sarif_2_1_0_with_a_file_and_line_each(located, fleet, tmp_path):
    logs = [located, json.loads(audit_report.to_sarif(fleet, CATALOGUE, ROOT))]
    for log in logs:
        run = log["runs"][0]
        assert run["results"]
        for result in run["results"]:
            path, line = _resolve(run, result["locations"][0])
            assert path.is_file(), result
            assert 1 <= line <= len(path.read_text().splitlines()), result
    verdicts = judges.sarif_schema_errors(logs)
    assert verdicts == [[], []], verdicts


# --- audit.json's schema -----------------------------------------------------------------------------------------


SCHEMA = json.loads(audit_report.SCHEMA_FILE.read_text())
DRIFT = {
    "error": "",
    "changes": [
        {
            "role": "postfix_hardening",
            "task": "config | render main.cf",
            "path": "/etc/postfix/master.cf",
            "differs": ["content"],
            "lines": ["- -o smtpd_tls_auth_only=no", "+ -o smtpd_tls_auth_only=yes"],
            "keys": ["smtpd_tls_auth_only"],
            "controls": ["PFX-01", "PFX-10"],
        }
    ],
}


def _drifted(name: str) -> dict:
    host = _host(
        name,
        {"PFX-01": "fail"},
        drift=DRIFT,
        activity={
            "smtp_auth_failed": {"count": 3, "sources": {"192.0.2.7": 3}},
            "bans": {"count": 0, "sources": {}},
            # An expired certificate's line counts the days it has left: below zero.
            "certificate_days_left:/etc/ssl/mailfort/cert.pem": {"count": -3, "sources": {}, "days_left": -3},
            "security_updates_pending": {"count": 2, "sources": {}, "detail": "libssl3, openssl"},
        },
    )
    host["summary"]["drift"] = "drift: 1 change"
    pfx01 = next(control for control in host["controls"] if control["id"] == "PFX-01")
    pfx01["drift"] = [{key: DRIFT["changes"][0][key] for key in ("role", "task", "path", "lines")}]
    return host


def test_the_schema_is_a_valid_draft_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize(
    "hosts",
    [
        pytest.param([_host("mx1", {})], id="pass"),
        pytest.param(
            [_host("mx1", {"PFX-01": "fail", "NET-01": "waived", "DKIM-02": "not applicable"})], id="every-status"
        ),
        pytest.param([audit_report.not_audited("mx2", f"unreachable: {UNREACHABLE['msg']}")], id="not-audited"),
        pytest.param([_drifted("mx1")], id="drift-and-activity"),
        pytest.param([_host("mx1", {}, drift={"error": "site.yml gave no report", "changes": []})], id="no-drift"),
        pytest.param(
            audit_report.host_entries(["mx1", "mx2"], {"mx1": _drifted("mx1"), "mx2": UNREACHABLE}), id="fleet"
        ),
    ],
)
def test_documents_of_every_kind_hold_to_the_schema(hosts):
    doc = _doc(hosts)
    assert audit_report.schema_errors(doc) == []
    assert list(Draft202012Validator(SCHEMA).iter_errors(json.loads(audit_report.to_json(doc)))) == []


def _control(doc: dict) -> dict:
    return doc["hosts"][0]["controls"][0]


BREAKAGES = {
    "another schema": (lambda d: d.update(schema="mailfort-audit/2"), "$.schema"),
    "a date that is no timestamp": (lambda d: d.update(generated="yesterday"), "$.generated"),
    "a host without controls": (lambda d: d["hosts"][0].pop("controls"), "$.hosts[0]"),
    "a status no control has": (lambda d: _control(d).update(status="broken"), "$.hosts[0].controls[0].status"),
    "a failure without a reason": (
        lambda d: _control(d).update(status="fail", reason=""),
        "$.hosts[0].controls[0].reason",
    ),
    "evidence passed as text": (
        lambda d: _control(d)["evidence"][0].update(passed="yes"),
        "$.hosts[0].controls[0].evidence[0].passed",
    ),
    "a negative count": (lambda d: d["summary"][0].update(fail=-1), "$.summary[0].fail"),
    "a host status of its own": (lambda d: d["hosts"][0].update(status="half audited"), "$.hosts[0].status"),
    "not audited without a reason": (
        lambda d: d["hosts"][1].update(reason=""),
        "$.hosts[1].reason",
    ),
    "not audited with controls": (
        lambda d: d["hosts"][1].update(controls=[_control(d)]),
        "$.hosts[1].controls",
    ),
    "drift without its changes": (lambda d: d["hosts"][0]["drift"].pop("changes"), "$.hosts[0].drift"),
    "activity without a count": (
        lambda d: d["hosts"][0]["activity"]["smtp_auth_failed"].pop("count"),
        "$.hosts[0].activity.smtp_auth_failed",
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_schema_rejects_a_broken_document(breakage):
    doc = _doc(audit_report.host_entries(["mx1", "mx2"], {"mx1": _drifted("mx1"), "mx2": UNREACHABLE}))
    assert audit_report.schema_errors(doc) == []
    broken = copy.deepcopy(doc)
    change, path = BREAKAGES[breakage]
    change(broken)
    errors = audit_report.schema_errors(broken)
    assert errors, f"{breakage}: the schema let it pass"
    assert any(error.startswith(f"{path}:") for error in errors), errors


def test_the_module_documentation_names_the_schema_file():
    doc = (ROOT / "plugins" / "modules" / "mail_audit_report.py").read_text()
    assert "plugins/plugin_utils/audit_report.schema.json" in doc
    assert (
        audit_report.SCHEMA_FILE.resolve() == (ROOT / "plugins" / "plugin_utils" / "audit_report.schema.json").resolve()
    )
    assert "plugins/plugin_utils/audit_report.schema.json" in (ROOT / "README.md").read_text()


# --- the HTML page ----------------------------------------------------------------------------------------------


class _Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: _Node | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[_Node] = []
        self.text = ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def all(self, tag: str, cls: str = "") -> list[_Node]:
        found = []
        for child in self.children:
            if child.tag == tag and (not cls or cls in child.classes):
                found.append(child)
            found += child.all(tag, cls)
        return found

    def all_text(self) -> str:
        return self.text + "".join(child.all_text() for child in self.children)


class _Page(HTMLParser):
    """The page as a tree of elements, with every attribute that could load something."""

    VOID = frozenset({"meta", "br", "hr", "img", "link", "input"})

    def __init__(self, page: str):
        super().__init__()
        self.root = _Node("#document", {}, None)
        self.current = self.root
        self.loads: list[tuple[str, str, str]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        values = {name: value or "" for name, value in attrs}
        self.loads += [(tag, name, value) for name, value in values.items() if name in ("src", "href", "srcset")]
        node = _Node(tag, values, self.current)
        self.current.children.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        assert node is not self.root, f"</{tag}> closes nothing"
        self.current = node.parent

    def handle_data(self, data):
        self.current.text += data


def _cells(row: _Node) -> list[str]:
    return [cell.all_text() for cell in row.children if cell.tag in ("td", "th")]


def test_html_page_has_a_fleet_table_sections_by_area_and_a_class_on_every_control_row(fleet):
    page = _Page(audit_report.to_html(fleet))
    hosts = fleet["hosts"]
    [table] = page.root.all("table", "fleet")
    header, *rows = table.all("tr")
    assert _cells(header)[:2] == ["host", "audit"]
    assert [_cells(row)[0] for row in rows] == [host["host"] for host in hosts]
    assert [row.attrs["class"] for row in rows] == ["fail", "notaudited", "notaudited", "pass"]
    assert _cells(rows[0])[1:] == ["audited", str(len(CATALOGUE)), str(len(CATALOGUE) - 3), "1", "1", "1"]
    assert _cells(rows[1]) == ["mx2", "not audited", f"unreachable: {UNREACHABLE['msg']}"]

    sections = page.root.all("section", "host")
    assert [section.attrs["id"] for section in sections] == [host["host"] for host in hosts]
    # Every link of the fleet table leads to a host's section of the page.
    assert [link.attrs["href"] for link in table.all("a")] == [f"#{host['host']}" for host in hosts]
    for host, section in zip(hosts, sections, strict=True):
        [heading] = section.all("h2")
        assert heading.all_text() == audit_report.summary_text(host["summary"])
        areas = section.all("table", "area")
        if host["status"] == "not audited":
            assert "notaudited" in section.classes
            assert areas == []
            assert f"Not audited: {host['reason']}" in section.all_text()
            continue
        wanted = list(dict.fromkeys(control["area"] for control in host["controls"]))
        assert [area.attrs["data-area"] for area in areas] == wanted
        assert [h3.all_text() for h3 in section.all("h3")][: len(wanted)] == [audit_report.AREAS[a] for a in wanted]
        statuses = {control["id"]: control for control in host["controls"]}
        for area in areas:
            _, *control_rows = area.all("tr")
            assert len(control_rows) == sum(1 for c in host["controls"] if c["area"] == area.attrs["data-area"])
            for row in control_rows:
                control = statuses[_cells(row)[0].split()[0]]
                assert row.attrs["class"] == {"not applicable": "na"}.get(control["status"], control["status"])
                assert _cells(row)[1] == control["status"]
                # The evidence is folded away: every line of it inside the row's <details>.
                [details] = row.all("details")
                assert details.all("summary")[0].all_text() == "evidence"
                assert len(details.all("li")) == len(control["evidence"])
                assert row.all("li") == details.all("li")


def test_html_page_loads_nothing_from_elsewhere_and_escapes_what_it_shows(fleet):
    source = audit_report.to_html(fleet)
    page = _Page(source)
    assert page.root.all("link") == []
    assert [script for script in page.root.all("script") if "src" in script.attrs] == []
    assert page.root.all("img") == []
    assert page.root.all("iframe") == []
    assert all(value.startswith("#") for _, _, value in page.loads), page.loads
    assert not any("http:" in value or "https:" in value or value.startswith("//") for _, _, value in page.loads)
    assert "url(" not in source
    assert "@import" not in source
    assert "<b>" not in source
    assert "&lt;b&gt;" in source
    assert page.root.all("html")[0].attrs["lang"] == "en"


# --- every format of one fleet, and SARIF judged against the OASIS schema ---------------------------------


@pytest.fixture
def report():
    activity = {"activity": {"smtp_auth_failed": {"count": 3, "sources": {"192.0.2.7": 3}}}}
    hosts = [_host("mx1", {"PFX-01": "fail", "NET-01": "waived"}, **activity), _host("mx2", {}, **activity)]
    return _doc(hosts)


def test_pending_updates_show_their_packages_in_markdown_and_html():
    doc = _doc([_drifted("mx1")])
    assert "- security updates pending: 2 (libssl3, openssl)" in audit_report.to_markdown(doc)
    assert "<td>security updates pending</td><td>2</td><td>libssl3, openssl</td>" in audit_report.to_html(doc)


def test_json_report_is_versioned_and_holds_every_host(report):
    doc = json.loads(audit_report.to_json(report))
    assert doc["schema"] == "mailfort-audit/1"
    assert [h["host"] for h in doc["hosts"]] == ["mx1", "mx2"]
    assert doc["summary"][0]["fail"] == 1
    assert doc["summary"][0]["waived"] == 1


def test_junit_has_one_case_per_host_and_control_and_the_failure(report):
    suites = ElementTree.fromstring(audit_report.to_junit(report).split("\n", 1)[1])  # noqa: S314 - our own output
    cases = suites.findall("./testsuite/testcase")
    assert len(cases) == 2 * len(CATALOGUE)
    failures = suites.findall("./testsuite/testcase/failure")
    assert len(failures) == 1
    assert "PFX-01 is weak" in failures[0].get("message")
    assert suites.find("./testsuite").get("failures") == "1"


def test_sarif_points_every_result_at_the_variable_that_fixes_it(report):
    sarif = json.loads(audit_report.to_sarif(report, CATALOGUE, ROOT))
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["PFX-01"]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "roles/postfix_hardening/defaults/main.yml"
    line = (ROOT / location["artifactLocation"]["uri"]).read_text().splitlines()[location["region"]["startLine"] - 1]
    assert line.startswith("postfix_hardening_submission_enabled:")
    rules = {rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules == {c["id"] for c in CATALOGUE} | {audit_report.NOT_AUDITED_RULE}


# The SARIF is judged against the OASIS SARIF 2.1.0 schema by a judge in .venv-judges (tests/judges/sarif_judge.py),
# as the lab's DNS records are judged by checkdmarc and dkimpy there: no mailfort code and none of the toolchain's
# packages take part in the verdict.


def _first_control_of_each_role() -> list[str]:
    first: dict[str, str] = {}
    for control in CATALOGUE:
        first.setdefault(control["role"], control["id"])
    return list(first.values())


@pytest.fixture
def sarif_report() -> dict:
    """Four hosts with every status: mx1 fails the first control of every role (a result pointing into each role's
    defaults) and has waived and not applicable controls, mx2 fails one more with the same mix, mx3 passes all, mx4
    was not audited (a result of its own)."""
    mx1 = {control: "fail" for control in _first_control_of_each_role()}
    mx1 |= {"NET-01": "waived", "TLS-08": "waived", "DKIM-02": "not applicable", "DNS-05": "not applicable"}
    hosts = [
        _host("mx1", mx1),
        _host("mx2", {"PFX-04": "fail", "DOV-02": "waived", "DNS-06": "not applicable"}),
        _host("mx3", {}),
        audit_report.not_audited("mx4", "unreachable: Failed to connect to the host via ssh: Connection timed out"),
    ]
    return audit_report.document(hosts, "2026-12-02T00:00:00Z", "controls.yml")


def _written_sarif(doc: dict, directory: Path) -> dict:
    """The SARIF as the action writes it (write_all's audit.sarif), not only what to_sarif returns."""
    return json.loads(Path(audit_report.write_all(directory, doc, CATALOGUE, ROOT)["audit.sarif"]).read_text())


def test_sarif_report_with_failed_waived_and_not_applicable_controls_is_valid_sarif_2_1_0(sarif_report, tmp_path):
    sarif = _written_sarif(sarif_report, tmp_path)
    # Only failed controls and hosts not audited become results, one per host and control or host: the count shows
    # the schema judged them all.
    assert len(sarif["runs"][0]["results"]) == len(_first_control_of_each_role()) + 1 + 1
    [errors] = judges.sarif_schema_errors([sarif])
    assert errors == [], "SARIF 2.1.0 schema errors:\n" + "\n".join(f"  {path}: {message}" for path, message in errors)


def test_every_sarif_result_names_a_file_and_line_as_github_code_scanning_requires(sarif_report, tmp_path):
    # GitHub code scanning rejects (or cannot place) a result without a physical location: an artifact URI and a
    # region with a start line. The schema leaves both optional, so this is checked apart from it.
    results = _written_sarif(sarif_report, tmp_path)["runs"][0]["results"]
    assert results
    for result in results:
        placed = [
            location["physicalLocation"]
            for location in result.get("locations", [])
            if location.get("physicalLocation", {}).get("artifactLocation", {}).get("uri")
            and isinstance(location["physicalLocation"].get("region", {}).get("startLine"), int)
        ]
        assert placed, f"{result['ruleId']} has no location with an artifact URI and a start line: {result}"
        for location in placed:
            # GitHub resolves the URI against the repository's checkout: it must be a file of this repository.
            assert (ROOT / location["artifactLocation"]["uri"]).is_file(), location
            assert location["region"]["startLine"] >= 1, location


def _drop_message(result: dict) -> None:
    del result["message"]


def _unknown_level(result: dict) -> None:
    result["level"] = "critical"


def _line_zero(result: dict) -> None:
    result["locations"][0]["physicalLocation"]["region"]["startLine"] = 0


SARIF_BREAKAGES: dict[str, tuple[Callable[[dict], None], str]] = {
    "a result without a message": (_drop_message, "$.runs[0].results[0]"),
    "a level SARIF does not define": (_unknown_level, "$.runs[0].results[0].level"),
    "a region starting at line 0": (_line_zero, "$.runs[0].results[0].locations[0].physicalLocation.region.startLine"),
}


def test_the_sarif_schema_check_finds_a_broken_result(sarif_report, tmp_path):
    sarif = _written_sarif(sarif_report, tmp_path)
    broken = []
    for breakage, _ in SARIF_BREAKAGES.values():
        log = copy.deepcopy(sarif)
        breakage(log["runs"][0]["results"][0])
        broken.append(log)
    # One judge run for all of them; the intact log goes first so the errors are the breakages', not the report's.
    intact, *verdicts = judges.sarif_schema_errors([sarif, *broken])
    assert intact == []
    for (name, (_, path)), errors in zip(SARIF_BREAKAGES.items(), verdicts, strict=True):
        assert path in [error_path for error_path, _ in errors], f"{name}: the schema check missed it: {errors}"


def test_markdown_lists_failures_first_with_their_remediation(report):
    text = audit_report.to_markdown(report)
    rows = [line for line in text.splitlines() if line.startswith("| PFX-01") or line.startswith("| TLS-01")]
    assert rows[0].startswith("| PFX-01")
    assert "| fail |" in rows[0]
    assert "smtp auth failed: 3 (top: 192.0.2.7 (3))" in text


# --- the action and the playbook, in a real play -----------------------------------------------------------------

PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


def _play(tmp_path: Path, playbook: Path, inventory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(PLAYBOOK), "-i", str(inventory), str(playbook), *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=ROOT,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
    )


UNREACHABLE_INVENTORY = """\
---
all:
  vars:
    # Nothing listens on port 1: every connection is refused at once.
    ansible_host: 127.0.0.1
    ansible_port: 1
    ansible_connection: ssh
    ansible_ssh_common_args: -o ConnectTimeout=5 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
  children:
    mail_servers:
      hosts:
        mx1:
        mx2:
"""


def test_the_action_reports_a_judged_host_and_an_unreachable_one_read_from_hostvars(tmp_path):
    (tmp_path / "hosts.yml").write_text(UNREACHABLE_INVENTORY)
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "mx1.yml").write_text("---\npostfix_hardening_tls_profile: old\n")
    judged = _host("mx1", {"PFX-02": "fail"})
    (tmp_path / "judged.json").write_text(json.dumps({"judged": judged}))
    control = {
        "id": "PFX-02",
        "title": "TLS policy",
        "statement": "Postfix offers the profile's TLS versions.",
        "role": "postfix_hardening",
        "enabled_by": "postfix_hardening_tls_profile",
        "audit": {"remediation": "postfix_hardening_tls_profile", "checks": [{"postconf": "x", "equals": "y"}]},
    }
    (tmp_path / "catalogue.yml").write_text(yaml.safe_dump({"controls": [control]}))
    play = [
        {
            "hosts": "mail_servers",
            "gather_facts": False,
            "vars_files": [str(tmp_path / "judged.json")],
            "tasks": [
                {
                    # As playbooks/audit.yml judges, with a catalogue of one control that templates without the
                    # roles' inventory, so that mail_audit gets as far as connecting.
                    "name": "Judge mx2",
                    "mailfort.mail.mail_audit": {"catalogue": str(tmp_path / "catalogue.yml")},
                    "register": "__mailfort_audit",
                    "ignore_unreachable": True,
                    "ignore_errors": True,
                    "when": "inventory_hostname == 'mx2'",
                },
                {
                    "name": "mx1 as judged",
                    "ansible.builtin.set_fact": {"__mailfort_audit": "{{ judged }}"},
                    "when": "inventory_hostname == 'mx1'",
                },
                {
                    "name": "Report",
                    "mailfort.mail.mail_audit_report": {
                        "hosts": "{{ ansible_play_hosts_all }}",
                        "directory": str(tmp_path / "reports"),
                    },
                    "register": "report",
                    "run_once": True,
                    "delegate_to": "localhost",
                },
                {
                    "name": "Keep",
                    "ansible.builtin.copy": {"content": "{{ report | to_json }}", "dest": str(tmp_path / "r.json")},
                    "run_once": True,
                    "delegate_to": "localhost",
                },
            ],
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    ran = _play(tmp_path, tmp_path / "play.yml", tmp_path / "hosts.yml")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary_lines"][0].startswith(f"mx1: {len(CATALOGUE)} controls")
    assert report["summary_lines"][1].startswith("mx2: not audited (unreachable: Failed to connect to the host via ssh")
    assert report["not_audited"] == {"mx2": report["summary_lines"][1][len("mx2: not audited (") : -1]}
    assert report["failed_controls"] == {"mx1": ["PFX-02"], "mx2": []}
    doc = json.loads((tmp_path / "reports" / "audit.json").read_text())
    assert audit_report.schema_errors(doc) == []
    assert [(h["host"], h["status"]) for h in doc["hosts"]] == [("mx1", "audited"), ("mx2", "not audited")]
    # The SARIF result of mx1 points at its host_vars file, read through hostvars' inventory_dir.
    run = json.loads((tmp_path / "reports" / "audit.sarif").read_text())["runs"][0]
    where = {r["properties"]["host"]: _resolve(run, r["locations"][0]) for r in run["results"]}
    assert where == {"mx1": (tmp_path / "host_vars" / "mx1.yml", 2), "mx2": (tmp_path / "hosts.yml", 13)}


def test_audit_playbook_reports_unreachable_hosts_and_fails_even_when_only_reporting(tmp_path):
    (tmp_path / "hosts.yml").write_text(UNREACHABLE_INVENTORY)
    reports = tmp_path / "reports"
    ran = _play(
        tmp_path,
        ROOT / "playbooks" / "audit.yml",
        tmp_path / "hosts.yml",
        "-e",
        f"mailfort_audit_report_dir={reports}",
        "-e",
        "mailfort_audit_report_only=true",
    )
    assert ran.returncode != 0, ran.stdout[-3000:]
    # The judging task failed for both hosts (unreachable, or failing before it connects, as the catalogue's entries
    # template with this bare inventory), the play went on to the report, which names both and fails.
    assert re.search(r"no host could be audited \(mx1: (unreachable|failed): .*; mx2: ", ran.stdout), ran.stdout[-3000:]
    doc = json.loads((reports / "audit.json").read_text())
    assert [(h["host"], h["status"]) for h in doc["hosts"]] == [("mx1", "not audited"), ("mx2", "not audited")]
    assert all(re.match(r"(unreachable|failed): \S", h["reason"]) for h in doc["hosts"]), doc["hosts"]
    junit = ElementTree.parse(reports / "audit.junit.xml").getroot()  # noqa: S314 - our own output
    assert len(junit.findall("./testsuite/testcase/error")) == 2
