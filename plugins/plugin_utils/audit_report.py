# SPDX-License-Identifier: MIT
"""The audit's reports, from the hosts' results (plugin_utils/audit.py): JSON (schema `mailfort-audit/1`, described
by audit_report.schema.json beside this file), Markdown, JUnit XML, SARIF 2.1.0 and a self-contained HTML page. Pure
functions from data to text; the action mail_audit_report writes them.

Every host of the play is in every report: one the audit could not judge (unreachable, or its mail_audit task
failed) has the status "not audited" and the reason, instead of controls."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

try:
    from jsonschema import Draft202012Validator
except ImportError:  # optional on the controller: without it schema_errors() says it could not check
    Draft202012Validator = None

from ansible_collections.mailfort.mail.plugins.plugin_utils import audit_locations
from ansible_collections.mailfort.mail.plugins.plugin_utils.audit import summary_line

SCHEMA = "mailfort-audit/1"
SCHEMA_FILE = Path(__file__).with_name("audit_report.schema.json")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
STATUS_ORDER = {"fail": 0, "waived": 1, "not applicable": 2, "pass": 3}
AUDITED = "audited"
NOT_AUDITED = "not audited"
# The SARIF rule of a host the audit could not judge, beside the catalogue's controls.
NOT_AUDITED_RULE = "NOT-AUDITED"
# A not-audited host's reason shows at most this much of the failure's message, on one line.
REASON_MAX = 300
AREAS = {
    "TLS": "TLS",
    "DOV": "Dovecot",
    "PFX": "Postfix",
    "FW": "Firewall",
    "BAN": "fail2ban",
    "DKIM": "DKIM",
    "DNS": "DNS",
    "RES": "Resolver",
    "NET": "Trust lists",
    "UPD": "Updates",
}


def _one_line(text: Any, limit: int = REASON_MAX) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def not_audited_reason(result: Any) -> str:
    """Why a host has no judged result, from its registered mail_audit result (None: it registered none). Only the
    message of the failure, on one line: never the result's other keys (a module's output, its arguments)."""
    if not isinstance(result, dict):
        return "no result: the host left the play before the audit judged it"
    # ansible-core 2.19 opens an unreachable host's message with "Task failed: ", which says nothing here.
    message = _one_line(result.get("msg") or "no message").removeprefix("Task failed: ")
    if result.get("unreachable"):
        return _one_line(f"unreachable: {message}")
    if result.get("skipped"):
        return _one_line(f"skipped: {result.get('skip_reason') or message}")
    return _one_line(f"failed: {message}")


def not_audited(host: str, reason: str) -> dict:
    """The report entry of HOST, which the audit could not judge for REASON."""
    counts = dict.fromkeys(("pass", "fail", "waived", "not applicable"), 0)
    summary = {"host": host, "controls": 0, **counts, "status": NOT_AUDITED, "reason": reason}
    return {"host": host, "status": NOT_AUDITED, "reason": reason, "summary": summary, "controls": []}


def host_entries(names: list[str], results: dict[str, Any]) -> list[dict]:
    """One entry per host of NAMES, in their order: its judged result from RESULTS (host -> registered mail_audit
    result, or None), or a "not audited" entry with the reason when it has no controls."""
    entries = []
    for name in names:
        result = results.get(name)
        if isinstance(result, dict) and isinstance(result.get("controls"), list) and "summary" in result:
            entries.append({**result, "host": name})
        else:
            entries.append(not_audited(name, not_audited_reason(result)))
    return entries


def summary_text(summary: dict) -> str:
    """A host's summary line: the counts (audit.summary_line), or `mx2: not audited (unreachable: ...)`."""
    if summary.get("status") == NOT_AUDITED:
        return f"{summary['host']}: {NOT_AUDITED} ({summary.get('reason') or 'no reason given'})"
    return summary_line(summary)


def document(hosts: list[dict], generated: str, catalogue: str) -> dict:
    """The JSON report: what every other format is made from. HOSTS: judged results and not_audited() entries."""
    entries = []
    for host in hosts:
        status = host.get("status", AUDITED)
        entry = {
            "host": host["host"],
            "status": status,
            "summary": {**host["summary"], "status": status},
            "versions": host.get("versions", {}),
            "seconds": host.get("seconds", {}),
            "probed": host.get("probed", {}),
            "activity": host.get("activity", {}),
            "drift": host.get("drift"),
            "controls": host["controls"],
        }
        if status == NOT_AUDITED:
            entry["reason"] = host["reason"]
        entries.append(entry)
    return {
        "schema": SCHEMA,
        "generated": generated,
        "catalogue": catalogue,
        "summary": [entry["summary"] for entry in entries],
        "hosts": entries,
    }


def schema_errors(doc: dict) -> list[str] | None:
    """Where DOC, as audit.json holds it, breaks audit_report.schema.json: `JSON path: message` each, [] when it
    holds; None when the Python package jsonschema is not installed (the check is then left to the caller)."""
    if Draft202012Validator is None:
        return None
    validator = Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    written = json.loads(to_json(doc))
    return [
        f"{error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(written), key=lambda e: (e.json_path, e.message))
    ]


def to_json(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def _evidence_text(control: dict) -> str:
    return "; ".join(f"{line['what']}: {line['seen']}" for line in control["evidence"]) or control["reason"]


def _drift_text(change: dict) -> str:
    """One change site.yml would make: `/etc/postfix/main.cf (postfix_hardening: task)`."""
    where = change["path"] or "no file"
    return f"{where} ({change['role'] or 'play'}: {change['task']})"


def drift_lines(drift: dict | None) -> list[str]:
    """What a host's drift says, a line each, for Markdown and the terminal; empty when drift was not asked for."""
    if not drift:
        return []
    if drift.get("error"):
        return [f"drift not compared: {drift['error']}"]
    if not drift.get("changes"):
        return ["no drift: site.yml --check --diff would change nothing"]
    lines = []
    for change in drift["changes"]:
        controls = ", ".join(change.get("controls", [])) or "no control names this file"
        lines.append(f"{_drift_text(change)}: {', '.join(change['differs'])} [{controls}]")
        lines += [f"    {line}" for line in change["lines"]]
    return lines


def _md_row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"


COUNTS = ("controls", "pass", "waived", "not applicable", "fail")


def to_markdown(doc: dict) -> str:
    lines = [f"# mailfort audit, {doc['generated']}", ""]
    lines += ["| host | audit | controls | pass | waived | n/a | fail | notes |", "| --- " * 8 + "|"]
    for summary in doc["summary"]:
        if summary.get("status") == NOT_AUDITED:
            lines.append(_md_row([summary["host"], NOT_AUDITED, *[""] * len(COUNTS), summary.get("reason", "")]))
        else:
            counts = [summary[key] for key in COUNTS]
            lines.append(_md_row([summary["host"], AUDITED, *counts, summary.get("drift", "")]))
    for host in doc["hosts"]:
        lines += ["", f"## {host['host']}", ""]
        if host.get("status") == NOT_AUDITED:
            lines.append(f"Not audited: {host['reason']}")
            continue
        lines += ["| control | status | evidence | remediation |", "| --- | --- | --- | --- |"]
        for control in sorted(host["controls"], key=lambda c: (STATUS_ORDER[c["status"]], c["id"])):
            cells = [
                f"{control['id']} {control['title']}",
                control["status"],
                control["reason"] if control["status"] != "pass" else _evidence_text(control),
                control["remediation"] if control["status"] == "fail" else "",
            ]
            lines.append(_md_row(cells))
        activity = host.get("activity") or {}
        if activity:
            lines += ["", "Activity:", ""]
            for event, found in activity.items():
                top = ", ".join(f"{source} ({count})" for source, count in found["sources"].items())
                detail = f" (top: {top})" if top else f" ({found['detail']})" if found.get("detail") else ""
                lines.append(f"- {event.replace('_', ' ')}: {found['count']}{detail}")
        drift = drift_lines(host.get("drift"))
        if drift:
            lines += ["", "Drift (what `site.yml --check --diff` would change):", "", "```", *drift, "```"]
    return "\n".join(lines) + "\n"


def to_junit(doc: dict) -> str:
    suites = ElementTree.Element("testsuites", name="mailfort audit")
    for host in doc["hosts"]:
        summary = host["summary"]
        if host.get("status") == NOT_AUDITED:
            # No control was judged: one test case in error (the test could not run), not a failure of a control.
            suite = ElementTree.SubElement(
                suites, "testsuite", name=host["host"], tests="1", failures="0", skipped="0", errors="1"
            )
            case = ElementTree.SubElement(suite, "testcase", classname=f"{host['host']}.audit", name=NOT_AUDITED)
            ElementTree.SubElement(case, "error", message=host["reason"][:500], type=NOT_AUDITED).text = host["reason"]
            continue
        suite = ElementTree.SubElement(
            suites,
            "testsuite",
            name=host["host"],
            tests=str(summary["controls"]),
            failures=str(summary["fail"]),
            skipped=str(summary["not applicable"] + summary["waived"]),
            errors="0",
        )
        for control in host["controls"]:
            case = ElementTree.SubElement(
                suite,
                "testcase",
                classname=f"{host['host']}.{control['area']}",
                name=f"{control['id']} {control['title']}",
            )
            if control["status"] == "fail":
                failure = ElementTree.SubElement(case, "failure", message=control["reason"][:500], type="fail")
                failure.text = f"{control['reason']}\nremediation: {control['remediation']}"
            elif control["status"] in ("waived", "not applicable"):
                ElementTree.SubElement(case, "skipped", message=f"{control['status']}: {control['reason']}")
            drift = "".join(f"\ndrift: {_drift_text(change)}" for change in control.get("drift", []))
            ElementTree.SubElement(case, "system-out").text = _evidence_text(control) + drift
    ElementTree.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"


def to_sarif(doc: dict, catalogue: list[dict], root: Path, inventories: dict[str, dict] | None = None) -> str:
    """The SARIF 2.1.0 log: a result per failed control and host, at the line that fixes it
    (audit_locations.fix_location()), and a result per host not audited, at its inventory entry. INVENTORIES: host ->
    file, dir, groups and sources, as audit_locations.inventory_places() reads them; a host without one is located in
    the role defaults."""
    inventories = inventories or {}
    by_id = {control["id"]: control for control in catalogue}
    variables = audit_locations.role_variables(root)
    bases = audit_locations.uri_bases(root, inventories)
    rules = [
        {
            "id": control["id"],
            "name": re.sub(r"[^A-Za-z0-9]+", "", control["title"].title()),
            "shortDescription": {"text": control["title"]},
            "fullDescription": {"text": " ".join(control["statement"].split())},
            "help": {"text": f"Set by {control['enabled_by']}; {control['audit']['remediation']}"},
        }
        for control in catalogue
    ]
    rules.append(
        {
            "id": NOT_AUDITED_RULE,
            "name": "HostNotAudited",
            "shortDescription": {"text": "The audit could not judge the host"},
            "fullDescription": {"text": "The host was unreachable or its audit failed: no control was judged."},
            "help": {"text": "Make the host reachable, or fix what the reason names, and audit it again."},
        }
    )
    results = []
    for host in doc["hosts"]:
        inventory = inventories.get(host["host"], {})
        if host.get("status") == NOT_AUDITED:
            path, line = audit_locations.host_location(host["host"], inventory, root)
            results.append(
                {
                    "ruleId": NOT_AUDITED_RULE,
                    "level": "error",
                    "message": {"text": summary_text(host["summary"])},
                    "locations": [audit_locations.sarif_location(path, line, bases)],
                    "properties": {"host": host["host"]},
                }
            )
            continue
        places = audit_locations.inventory_places(host["host"], inventory) if inventory else []
        for control in host["controls"]:
            if control["status"] != "fail":
                continue
            entry = by_id.get(control["id"]) or {"role": control["role"], "audit": control}
            path, line, variable = audit_locations.fix_location(entry, places, variables, root)
            results.append(
                {
                    "ruleId": control["id"],
                    "level": "error",
                    "message": {
                        "text": f"{host['host']}: {control['reason']} Remediation: {control['remediation']} "
                        f"(here: {variable})"
                    },
                    "locations": [audit_locations.sarif_location(path, line, bases)],
                    "properties": {"host": host["host"], "variable": variable},
                }
            )
    sarif = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mailfort audit",
                        "informationUri": "https://example.invalid/mailfort",
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {name: {"uri": directory.as_uri() + "/"} for name, directory in bases.items()},
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2) + "\n"


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
.pass{background:#d8f3dc}.fail{background:#ffccd5}.waived{background:#fff3bf}.na{background:#e9ecef}
.notaudited{background:#ffb3c1;font-weight:bold}
details{margin:.2em 0}summary{cursor:pointer}code{font-size:90%}
"""


def _status_class(status: str) -> str:
    return {"not applicable": "na", NOT_AUDITED: "notaudited"}.get(status, status)


def _html_fleet(summaries: list[dict]) -> list[str]:
    """The fleet table: a row per host, its counts, or that it was not audited and why."""
    e = html.escape
    out = [
        '<table class="fleet"><tr><th>host</th><th>audit</th><th>controls</th><th>pass</th><th>waived</th>'
        "<th>n/a</th><th>fail</th></tr>"
    ]
    for summary in summaries:
        link = f'<td><a href="#{e(summary["host"])}">{e(summary["host"])}</a></td>'
        if summary.get("status") == NOT_AUDITED:
            reason = e(summary.get("reason", ""))
            out.append(f'<tr class="notaudited">{link}<td>{NOT_AUDITED}</td><td colspan="5">{reason}</td></tr>')
            continue
        row = "".join(f"<td>{summary[key]}</td>" for key in COUNTS)
        css = "fail" if summary["fail"] else "pass"
        out.append(f'<tr class="{css}">{link}<td>{AUDITED}</td>{row}</tr>')
    return [*out, "</table>"]


def _html_control(control: dict) -> str:
    e = html.escape
    evidence = "".join(
        f"<li><code>{e(line['what'])}</code>: {e(line['seen'])}"
        f"{'' if line['passed'] else ' (wanted ' + e(line['wanted']) + ')'}</li>"
        for line in control["evidence"]
    )
    reason = f"<p>{e(control['reason'])}</p>" if control["reason"] else ""
    fix = f"<p>Remediation: {e(control['remediation'])}</p>" if control["status"] == "fail" else ""
    fix += "".join(f"<p>Drift: <code>{e(_drift_text(c))}</code></p>" for c in control.get("drift", []))
    return (
        f'<tr class="{_status_class(control["status"])}"><td>{e(control["id"])} {e(control["title"])}</td>'
        f"<td>{e(control['status'])}</td><td>{reason}{fix}<details><summary>evidence</summary>"
        f"<ul>{evidence}</ul></details></td></tr>"
    )


def to_html(doc: dict) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>mailfort audit {e(doc['generated'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>mailfort audit</h1><p>{e(doc['generated'])}</p>",
        *_html_fleet(doc["summary"]),
    ]
    for host in doc["hosts"]:
        status = host.get("status", AUDITED)
        out.append(f'<section class="host {_status_class(status)}" id="{e(host["host"])}">')
        out.append(f"<h2>{e(summary_text(host['summary']))}</h2>")
        if status == NOT_AUDITED:
            out += [f'<p class="notaudited">Not audited: {e(host["reason"])}</p>', "</section>"]
            continue
        areas: dict[str, list[dict]] = {}
        for control in host["controls"]:
            areas.setdefault(control["area"], []).append(control)
        for area, controls in areas.items():
            out.append(f'<h3>{e(AREAS.get(area, area))}</h3><table class="area" data-area="{e(area)}">')
            out.append("<tr><th>control</th><th>status</th><th>evidence</th></tr>")
            out += [_html_control(control) for control in controls]
            out.append("</table>")
        out += [*_html_activity(host.get("activity") or {}), *_html_drift(host.get("drift")), "</section>"]
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _html_activity(activity: dict) -> list[str]:
    if not activity:
        return []
    e = html.escape
    out = ["<h3>Activity</h3><table><tr><th>event</th><th>count</th><th>top sources, or packages</th></tr>"]
    for event, found in activity.items():
        top = ", ".join(f"{source} ({count})" for source, count in found["sources"].items()) or found.get("detail", "")
        out.append(f"<tr><td>{e(event.replace('_', ' '))}</td><td>{found['count']}</td><td>{e(top)}</td></tr>")
    return [*out, "</table>"]


def _html_drift(drift: dict | None) -> list[str]:
    if not drift:
        return []
    e = html.escape
    if drift.get("error") or not drift.get("changes"):
        return ["<h3>Drift</h3>", f"<p>{e(drift_lines(drift)[0])}</p>"]
    out = ["<h3>Drift</h3><table><tr><th>change site.yml would make</th><th>controls</th><th>lines</th></tr>"]
    for change in drift["changes"]:
        controls = ", ".join(change.get("controls", [])) or "no control names this file"
        lines = "\n".join(change["lines"])
        out.append(
            f'<tr class="waived"><td><code>{e(_drift_text(change))}</code></td><td>{e(controls)}</td>'
            f"<td><details><summary>{e(', '.join(change['differs']))}</summary><pre>{e(lines)}</pre></details>"
            "</td></tr>"
        )
    return [*out, "</table>"]


def write_all(
    directory: Path, doc: dict, catalogue: list[dict], root: Path, inventories: dict[str, dict] | None = None
) -> dict[str, str]:
    """Every report of DOC in DIRECTORY (made when missing): name -> path written. INVENTORIES: see to_sarif()."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "audit.json": to_json(doc),
        "audit.md": to_markdown(doc),
        "audit.junit.xml": to_junit(doc),
        "audit.sarif": to_sarif(doc, catalogue, root, inventories),
        "audit.html": to_html(doc),
    }
    written = {}
    for name, text in files.items():
        path = directory / name
        path.write_text(text)
        written[name] = str(path)
    return written


def plain_results(value: Any) -> Any:
    """Ansible's results as plain JSON data."""
    return json.loads(json.dumps(value, default=str))
