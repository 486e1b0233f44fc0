# SPDX-License-Identifier: MIT
"""The audit's judgement: a control's checks (data from controls.yml, templated with the host's variables) applied
to the evidence read from the host (module mail_audit_facts) and from the network (plugin_utils/audit_probes.py).

Pure functions, no Ansible objects: the unit tests call them with evidence written by hand.

A check names one piece of evidence by one key and says what it must be by the others:

    - postconf: smtpd_tls_auth_only        # main.cf's effective value, or a service's override with service:
      service: submission/inet
      equals: "yes"
    - nft: open_ports                      # policy, open_ports, allowlisted_ports, metered_ports, ban_sets
      subset_of: [25, 465, 587, 993]

Evidence keys: postconf (+ service), doveconf, opendkim (a configuration file + field: a setting, or SETTING.hosts for
the entries of the host list it names), nft, nft_set (a set's elements; a list of sets: set -> elements; + field
count), listening, file, certificate (+ field), unit, fail2ban (jails, running, or a jail's name + field), resolver
(nameservers, postfix_nameservers or an unbound setting), config_check, probe (+ field), value (a value of the
host's variables itself); plugin_utils/audit_evidence.py looks each up in the host's evidence.
Expectations: equals, one_of, contains, excludes, matches, at_least, at_most, subset_of, superset_of, mode_at_most,
owner, group. A check may carry `label` (what the evidence line says), `when` (false: the check is left out, for a
feature that is off) and `when_version: {dovecot: ">=2.4"}`. A file, certificate, unit or OpenDKIM configuration may
be a list: one check per element.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.audit_evidence import (
    MISSING,
    SOURCES,
    Skipped,
    lookup,
)

EXPECTATIONS = (
    "equals",
    "one_of",
    "contains",
    "excludes",
    "matches",
    "at_least",
    "at_most",
    "subset_of",
    "superset_of",
    "mode_at_most",
    "owner",
    "group",
)
MODIFIERS = ("service", "field", "label", "when", "when_version")
# Evidence keys whose value may be a list: the check then stands for one check per element.
LISTABLE = ("file", "certificate", "unit", "opendkim")
STATUSES = ("pass", "fail", "waived", "not applicable")
# A value an evidence line shows at most.
SHOWN_MAX = 200


class AuditDefinitionError(ValueError):
    """A control's audit definition that cannot be evaluated (a defect of the catalogue, not of the host)."""


def check_problems(check: Any, where: str) -> list[str]:
    """What is wrong with one check's definition; empty when it can be evaluated."""
    if not isinstance(check, dict):
        return [f"{where} is not a mapping"]
    problems = []
    sources = [key for key in SOURCES if key in check]
    if len(sources) != 1:
        problems.append(f"{where} needs exactly one evidence key of {', '.join(SOURCES)} (has {sources or 'none'})")
    expectations = [key for key in EXPECTATIONS if key in check]
    if not expectations:
        problems.append(f"{where} needs at least one expectation of {', '.join(EXPECTATIONS)}")
    unknown = sorted(set(check) - set(SOURCES) - set(EXPECTATIONS) - set(MODIFIERS))
    if unknown:
        problems.append(f"{where} has unknown keys {unknown}")
    return problems


def definition_problems(control: dict) -> list[str]:
    """What is wrong with a control's `audit` definition (controls.yml); empty when it can be evaluated."""
    where = f"{control.get('id', '?')}.audit"
    audit = control.get("audit")
    if not isinstance(audit, dict):
        return [f"{where} is missing: every control needs an audit check"]
    problems = []
    known = {"checks", "applies_when", "not_applicable", "waived_when", "waived", "remediation", "drift_files"}
    unknown = sorted(set(audit) - known)
    if unknown:
        problems.append(f"{where} has unknown keys {unknown}")
    drift_files = audit.get("drift_files", [])
    if not isinstance(drift_files, list) or not all(isinstance(item, str) and item for item in drift_files):
        problems.append(f"{where}.drift_files must be a list of path globs (the files a drift of this control is in)")
    checks = audit.get("checks")
    if not isinstance(checks, list) or not checks:
        problems.append(f"{where}.checks must be a non-empty list")
    else:
        for index, check in enumerate(checks):
            problems.extend(check_problems(check, f"{where}.checks[{index}]"))
    if not audit.get("remediation"):
        problems.append(f"{where}.remediation must say which variable or playbook fixes a failure")
    return problems


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def version_matches(found: str | None, wanted: str) -> bool:
    """Whether version FOUND (2.3.19.1) satisfies WANTED (">=2.4", "<2.4", "==3.7")."""
    if not found:
        return False
    match = re.fullmatch(r"\s*(>=|<=|==|>|<)?\s*([\d.]+)\s*", wanted)
    if not match:
        raise AuditDefinitionError(f"when_version {wanted!r} is not OP VERSION")
    op, version = match.group(1) or "==", _version_tuple(match.group(2))
    have = _version_tuple(found)[: len(version)]
    return {
        "==": have == version,
        ">=": have >= version,
        "<=": have <= version,
        ">": have > version,
        "<": have < version,
    }[op]


def activity(evidence: dict) -> dict:
    """The host's activity for the reports: the journal's events (mail_audit_facts' journal: event -> count and top
    sources), then each certificate the audit read with the days it has left, as certificate_days_left:<path>. A
    certificate's entry has the shape of an event (count: the days left, no sources) and says so again in days_left
    and not_after, so that every report format shows it as a line of its own. Where the host's updates were read,
    the security updates waiting (security_updates_pending) and a reboot an update asked for (reboot_required) end
    the list, their packages as the line's detail."""
    found = dict(evidence.get("journal") or {})
    for path, certificate in sorted((evidence.get("certificates") or {}).items()):
        if isinstance(certificate, dict) and "days_left" in certificate:
            found[f"certificate_days_left:{path}"] = {
                "count": certificate["days_left"],
                "sources": {},
                "days_left": certificate["days_left"],
                "not_after": certificate.get("not_after", ""),
            }
    updates = evidence.get("updates") or {}
    if "security_pending" in updates:
        pending = list(updates["security_pending"])
        found["security_updates_pending"] = {"count": len(pending), "sources": {}, "detail": ", ".join(pending)}
    if "reboot_required" in updates:
        packages = list(updates.get("reboot_packages") or [])
        found["reboot_required"] = {
            "count": int(bool(updates["reboot_required"])),
            "sources": {},
            "detail": ", ".join(packages),
        }
    return found


def _as_list(value: Any) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, str):
        return [part for part in re.split(r"[\s,]+", value) if part]
    return [value]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[a-z]*\s*", str(value))
    return float(match.group(1)) if match else None


def _same(a: Any, b: Any) -> bool:
    return a == b or str(a).strip() == str(b).strip()


def _contains(wanted: Any, value: Any) -> bool:
    if isinstance(value, str) and isinstance(wanted, str) and wanted in value:
        return True
    return all(any(_same(h, w) for h in _as_list(value)) for w in _as_list(wanted))


def _excludes(wanted: Any, value: Any) -> bool:
    return not any(any(_same(h, w) for h in _as_list(value)) for w in _as_list(wanted))


def _compare(value: Any, wanted: Any, at_least: bool) -> bool:
    number = _number(value)
    if number is None:
        return False
    return number >= float(wanted) if at_least else number <= float(wanted)


EXPECT = {
    "equals": lambda wanted, value: _same(value, wanted),
    "one_of": lambda wanted, value: any(_same(value, w) for w in wanted),
    "contains": _contains,
    "excludes": _excludes,
    "matches": lambda wanted, value: re.search(wanted, str(value)) is not None,
    "at_least": lambda wanted, value: _compare(value, wanted, at_least=True),
    "at_most": lambda wanted, value: _compare(value, wanted, at_least=False),
    "subset_of": lambda wanted, value: all(any(_same(h, w) for w in _as_list(wanted)) for h in _as_list(value)),
    "superset_of": lambda wanted, value: all(any(_same(h, w) for h in _as_list(value)) for w in _as_list(wanted)),
    "mode_at_most": lambda wanted, value: isinstance(value, dict) and int(value["mode"], 8) & ~int(str(wanted), 8) == 0,
    "owner": lambda wanted, value: isinstance(value, dict) and value.get("owner") == wanted,
    "group": lambda wanted, value: isinstance(value, dict) and value.get("group") == wanted,
}


def expectation_holds(name: str, wanted: Any, value: Any) -> bool:
    if name not in EXPECT:
        raise AuditDefinitionError(f"unknown expectation {name}")
    return EXPECT[name](wanted, value)


def show(value: Any) -> str:
    if isinstance(value, dict) and {"mode", "owner", "group"} <= set(value):
        return f"{value['owner']}:{value['group']} {value['mode']}"
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 3] + "..."


def evaluate_check(check: dict, evidence: dict) -> dict:
    """One check against the evidence: {what, seen, wanted, passed} (passed None: does not apply here)."""
    for program, wanted in (check.get("when_version") or {}).items():
        if not version_matches(evidence.get("versions", {}).get(program), wanted):
            return {
                "what": check.get("label", program),
                "seen": f"{program} {evidence.get('versions', {}).get(program)}",
                "wanted": f"only for {program} {wanted}",
                "passed": None,
            }
    what, value = lookup(check, evidence)
    expectations = {name: check[name] for name in EXPECTATIONS if name in check}
    wanted = ", ".join(f"{name.replace('_', ' ')} {show(w)}" for name, w in expectations.items())
    label = check.get("label", what)
    if value is MISSING:
        return {"what": label, "seen": "absent", "wanted": wanted, "passed": False}
    if isinstance(value, Skipped):
        return {"what": label, "seen": value.reason, "wanted": wanted, "passed": None, "not_checked": True}
    passed = all(expectation_holds(name, w, value) for name, w in expectations.items())
    return {"what": label, "seen": show(value), "wanted": wanted, "passed": passed}


def _off(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() in ("false", "no", ""))


def expand_checks(checks: list[dict]) -> list[dict]:
    """CHECKS without those whose `when` is false, a check of a list of files (certificates, units) as one check
    each."""
    expanded = []
    for check in checks:
        if "when" in check and _off(check["when"]):
            continue
        kept = {key: value for key, value in check.items() if key != "when"}
        key = next((k for k in LISTABLE if k in kept), None)
        if key and isinstance(kept[key], list):
            expanded.extend({**kept, key: item} for item in kept[key])
        else:
            expanded.append(kept)
    return expanded


def evaluate_control(control: dict, audit: dict, evidence: dict) -> dict:
    """A control's result: id, title, area, status, reason, evidence lines and remediation. AUDIT is the control's
    audit definition after templating: applies_when and waived_when are booleans by then."""
    result = {
        "id": control["id"],
        "title": control["title"],
        "role": control["role"],
        "area": control["id"].split("-")[0],
        "remediation": audit.get("remediation", ""),
        "evidence": [],
        "reason": "",
    }
    if not audit.get("applies_when", True):
        result["status"] = "not applicable"
        result["reason"] = audit.get("not_applicable") or f"off: {control['enabled_by']}"
        return result
    lines = [evaluate_check(check, evidence) for check in expand_checks(audit["checks"])]
    result["evidence"] = lines
    failed = [line for line in lines if line["passed"] is False]
    if audit.get("waived_when"):
        result["status"] = "waived"
        result["reason"] = audit.get("waived") or "weakened on purpose"
    elif failed:
        result["status"] = "fail"
        result["reason"] = "; ".join(f"{line['what']}: {line['seen']} (wanted {line['wanted']})" for line in failed)
    elif not lines or all(line["passed"] is None for line in lines):
        result["status"] = "not applicable"
        skipped = _not_checked(lines)
        result["reason"] = (
            f"not checked; {skipped}"
            if skipped
            else ("; ".join(line["wanted"] for line in lines) or "nothing to check with this host's settings")
        )
    else:
        result["status"] = "pass"
        # A pass that rests on part of the checks says which evidence the audit did not gather, and why.
        skipped = _not_checked(lines)
        result["reason"] = f"partly checked; {skipped}" if skipped else ""
    return result


def _not_checked(lines: list[dict]) -> str:
    """Why the audit chose not to gather some of the evidence (`not compared: no DNS server to ask (...)`, each reason
    once, in order), or empty: a control none of whose checks ran must say why, not pass for one whose feature is
    off."""
    return "; ".join(dict.fromkeys(line["seen"] for line in lines if line.get("not_checked")))


def summarise(host: str, results: list[dict]) -> dict:
    counts = {status: sum(1 for r in results if r["status"] == status) for status in STATUSES}
    return {"host": host, "controls": len(results), **counts}


def summary_line(summary: dict) -> str:
    """`mx1: 49 controls, 46 pass, 1 waived, 1 n/a, 1 fail`, then `; drift: 2 changes` when drift was asked for."""
    line = (
        f"{summary['host']}: {summary['controls']} controls, {summary['pass']} pass, {summary['waived']} waived, "
        f"{summary['not applicable']} n/a, {summary['fail']} fail"
    )
    return f"{line}; {summary['drift']}" if summary.get("drift") else line
