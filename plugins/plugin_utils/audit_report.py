# SPDX-License-Identifier: MIT
"""The audit's reports, from the hosts' results (plugin_utils/audit.py): JSON (schema `mailfort-audit/1`), Markdown,
JUnit XML, SARIF 2.1.0 and a self-contained HTML page. Pure functions from data to text; the action
mail_audit_report writes them."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from ansible_collections.mailfort.mail.plugins.plugin_utils.audit import summary_line

SCHEMA = "mailfort-audit/1"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
STATUS_ORDER = {"fail": 0, "waived": 1, "not applicable": 2, "pass": 3}
AREAS = {
    "TLS": "TLS",
    "DOV": "Dovecot",
    "PFX": "Postfix",
    "FW": "Firewall",
    "BAN": "fail2ban",
    "DKIM": "DKIM",
    "DNS": "DNS",
    "NET": "Trust lists",
    "UPD": "Updates",
}


def document(hosts: list[dict], generated: str, catalogue: str) -> dict:
    """The JSON report: what every other format is made from."""
    return {
        "schema": SCHEMA,
        "generated": generated,
        "catalogue": catalogue,
        "summary": [host["summary"] for host in hosts],
        "hosts": [
            {
                "host": host["host"],
                "summary": host["summary"],
                "versions": host.get("versions", {}),
                "seconds": host.get("seconds", {}),
                "probed": host.get("probed", {}),
                "activity": host.get("activity", {}),
                "drift": host.get("drift"),
                "controls": host["controls"],
            }
            for host in hosts
        ],
    }


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


def to_markdown(doc: dict) -> str:
    lines = [f"# mailfort audit, {doc['generated']}", ""]
    lines += [f"- {summary_line(summary)}" for summary in doc["summary"]]
    for host in doc["hosts"]:
        lines += [
            "",
            f"## {host['host']}",
            "",
            "| control | status | evidence | remediation |",
            "| --- | --- | --- | --- |",
        ]
        for control in sorted(host["controls"], key=lambda c: (STATUS_ORDER[c["status"]], c["id"])):
            cells = [
                f"{control['id']} {control['title']}",
                control["status"],
                control["reason"] if control["status"] != "pass" else _evidence_text(control),
                control["remediation"] if control["status"] == "fail" else "",
            ]
            lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
        activity = host.get("activity") or {}
        if activity:
            lines += ["", "Activity:", ""]
            for event, found in activity.items():
                top = ", ".join(f"{source} ({count})" for source, count in found["sources"].items())
                lines.append(f"- {event.replace('_', ' ')}: {found['count']}" + (f" (top: {top})" if top else ""))
        drift = drift_lines(host.get("drift"))
        if drift:
            lines += ["", "Drift (what `site.yml --check --diff` would change):", "", "```", *drift, "```"]
    return "\n".join(lines) + "\n"


def to_junit(doc: dict) -> str:
    suites = ElementTree.Element("testsuites", name="mailfort audit")
    for host in doc["hosts"]:
        summary = host["summary"]
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


def to_sarif(doc: dict, catalogue: list[dict], root: Path) -> str:
    by_id = {control["id"]: control for control in catalogue}
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
    results = []
    for host in doc["hosts"]:
        for control in host["controls"]:
            if control["status"] != "fail":
                continue
            entry = by_id[control["id"]]
            uri, line = variable_location(root, entry["role"], entry["enabled_by"])
            results.append(
                {
                    "ruleId": control["id"],
                    "level": "error",
                    "message": {"text": f"{host['host']}: {control['reason']} Remediation: {control['remediation']}"},
                    "locations": [
                        {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": line}}}
                    ],
                    "properties": {"host": host["host"]},
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
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2) + "\n"


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
.pass{background:#d8f3dc}.fail{background:#ffccd5}.waived{background:#fff3bf}.na{background:#e9ecef}
details{margin:.2em 0}summary{cursor:pointer}code{font-size:90%}
"""


def _status_class(status: str) -> str:
    return "na" if status == "not applicable" else status


def to_html(doc: dict) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>mailfort audit {e(doc['generated'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>mailfort audit</h1><p>{e(doc['generated'])}</p>",
        "<table><tr><th>host</th><th>controls</th><th>pass</th><th>waived</th><th>n/a</th><th>fail</th></tr>",
    ]
    for summary in doc["summary"]:
        row = "".join(f"<td>{summary[key]}</td>" for key in ("controls", "pass", "waived", "not applicable", "fail"))
        css = "fail" if summary["fail"] else "pass"
        out.append(f'<tr class="{css}"><td><a href="#{e(summary["host"])}">{e(summary["host"])}</a></td>{row}</tr>')
    out.append("</table>")
    for host in doc["hosts"]:
        out.append(f'<h2 id="{e(host["host"])}">{e(summary_line(host["summary"]))}</h2>')
        areas: dict[str, list[dict]] = {}
        for control in host["controls"]:
            areas.setdefault(control["area"], []).append(control)
        for area, controls in areas.items():
            out.append(f"<h3>{e(AREAS.get(area, area))}</h3><table>")
            out.append("<tr><th>control</th><th>status</th><th>evidence</th></tr>")
            for control in controls:
                evidence = "".join(
                    f"<li><code>{e(line['what'])}</code>: {e(line['seen'])}"
                    f"{'' if line['passed'] else ' (wanted ' + e(line['wanted']) + ')'}</li>"
                    for line in control["evidence"]
                )
                reason = f"<p>{e(control['reason'])}</p>" if control["reason"] else ""
                fix = f"<p>Remediation: {e(control['remediation'])}</p>" if control["status"] == "fail" else ""
                fix += "".join(f"<p>Drift: <code>{e(_drift_text(c))}</code></p>" for c in control.get("drift", []))
                out.append(
                    f'<tr class="{_status_class(control["status"])}"><td>{e(control["id"])} {e(control["title"])}</td>'
                    f"<td>{e(control['status'])}</td><td>{reason}{fix}<details><summary>evidence</summary>"
                    f"<ul>{evidence}</ul></details></td></tr>"
                )
            out.append("</table>")
        out += _html_activity(host.get("activity") or {}) + _html_drift(host.get("drift"))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _html_activity(activity: dict) -> list[str]:
    if not activity:
        return []
    e = html.escape
    out = ["<h3>Activity</h3><table><tr><th>event</th><th>count</th><th>top sources</th></tr>"]
    for event, found in activity.items():
        top = ", ".join(f"{source} ({count})" for source, count in found["sources"].items())
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


def write_all(directory: Path, doc: dict, catalogue: list[dict], root: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "audit.json": to_json(doc),
        "audit.md": to_markdown(doc),
        "audit.junit.xml": to_junit(doc),
        "audit.sarif": to_sarif(doc, catalogue, root),
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
