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
count), listening, file, certificate (+ field), unit, fail2ban (jails, running, or a jail's name + field),
config_check, probe (+ field), value (a value of the host's variables itself).
Expectations: equals, one_of, contains, excludes, matches, at_least, at_most, subset_of, superset_of, mode_at_most,
owner, group. A check may carry `label` (what the evidence line says), `when` (false: the check is left out, for a
feature that is off) and `when_version: {dovecot: ">=2.4"}`. A file, certificate, unit or OpenDKIM configuration may
be a list: one check per element.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

SOURCES = (
    "dns",
    "postconf",
    "doveconf",
    "opendkim",
    "nft",
    "nft_set",
    "listening",
    "file",
    "certificate",
    "unit",
    "fail2ban",
    "updates",
    "config_check",
    "probe",
    "value",
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
_MISSING = object()


class Skipped:
    """Evidence the audit chose not to gather (a probe that would count against the auditor, DNS without a
    resolver): the check is not judged, and REASON says why."""

    def __init__(self, reason: str):
        self.reason = reason


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


# --- evidence -------------------------------------------------------------------------------------------------


def _ports(right: Any) -> list[int] | None:
    """The ports of an nft JSON match's right-hand side: a number, a set of numbers, or a range."""
    if isinstance(right, int):
        return [right]
    if isinstance(right, dict) and "set" in right:
        ports = []
        for item in right["set"]:
            found = _ports(item)
            if found is None:
                return None
            ports.extend(found)
        return ports
    if isinstance(right, dict) and "range" in right:
        low, high = right["range"]
        return list(range(int(low), int(high) + 1))
    return None


def _rule_matches(exprs: list[dict]) -> tuple[list[int] | None, list[str], bool]:
    """A rule's TCP destination ports (None: any), the source sets or addresses it requires, and whether it matches
    on anything else (an interface, a connection state, an ICMP type)."""
    ports: list[int] | None = None
    saddr: list[str] = []
    other = False
    for match in (e["match"] for e in exprs if "match" in e):
        left = match.get("left", {})
        payload = left.get("payload", {}) if isinstance(left, dict) else {}
        if payload.get("field") == "dport" and payload.get("protocol") == "tcp" and match.get("op") == "==":
            ports = _ports(match.get("right"))
        elif payload.get("field") == "saddr" and match.get("op") == "==":
            saddr.append(str(match.get("right")))
        else:
            other = True
    return ports, saddr, other


ADDRESS_SET_TYPES = ("ipv4_addr", "ipv6_addr")


def _element_networks(element: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """The networks an element of an address set covers (an address, a prefix, a range; an element with a timeout
    or a counter wraps its value in elem), or None when it is none of them."""
    if isinstance(element, dict) and "elem" in element:
        element = element["elem"].get("val") if isinstance(element["elem"], dict) else element["elem"]
    try:
        if isinstance(element, str):
            return [ipaddress.ip_network(element)]
        if isinstance(element, dict) and "prefix" in element:
            prefix = element["prefix"]
            return [ipaddress.ip_network(f"{prefix['addr']}/{prefix['len']}", strict=False)]
        if isinstance(element, dict) and "range" in element:
            low, high = (ipaddress.ip_address(end) for end in element["range"])
            return list(ipaddress.summarize_address_range(low, high))
    except (ValueError, TypeError, KeyError):
        return None
    return None


def nft_sets(objects: list | None) -> dict[str, list[str]]:
    """Each named set of an nft table (nft -j list table) -> its elements, sorted. Address sets give CIDR text in
    the form mail_net_allowlist writes it: collapsed (nft's interval sets merge adjacent ranges, listed as address
    ranges), a single address as a /32 or /128, in address order, so a set compares equal to the allowlist it was
    filled from. Elements of other sets (ports, concatenations) are their JSON text."""
    found: dict[str, list[str]] = {}
    for item in objects or []:
        nft_set = item.get("set") if isinstance(item, dict) else None
        if not nft_set or "name" not in nft_set:
            continue
        elements = nft_set.get("elem", [])
        elements = elements if isinstance(elements, list) else [elements]
        networks = [_element_networks(element) for element in elements]
        if nft_set.get("type") in ADDRESS_SET_TYPES and None not in networks:
            flat = [network for found_networks in networks for network in found_networks]
            found[nft_set["name"]] = [str(network) for network in ipaddress.collapse_addresses(flat)]
        else:
            found[nft_set["name"]] = sorted(
                element if isinstance(element, str) else json.dumps(element, sort_keys=True) for element in elements
            )
    return found


def nft_summary(objects: list | None) -> dict:
    """What the controls ask of an nft table (nft -j list table), from its input chain: the policy, the TCP ports
    any source may reach, those reached only from named sets, those under a per-source meter, and the sets whose
    sources are dropped before anything else; and every set's elements (nft_sets)."""
    summary = {
        "exists": objects is not None,
        "policy": None,
        "open_ports": [],
        "allowlisted_ports": {},
        "metered_ports": [],
        "ban_sets": [],
        "accepts_everything": False,
        "sets": nft_sets(objects),
    }
    if objects is None:
        return summary
    open_ports: set[int] = set()
    metered: set[int] = set()
    allowlisted: dict[int, set[str]] = {}
    for item in objects:
        chain = item.get("chain")
        if chain and chain.get("hook") == "input":
            summary["policy"] = chain.get("policy")
        rule = item.get("rule")
        if not rule or rule.get("chain") != "input":
            continue
        exprs = rule.get("expr", [])
        verdicts = [key for e in exprs for key in e if key in ("accept", "drop", "reject")]
        ports, saddr_sets, other = _rule_matches(exprs)
        if "drop" in verdicts and ports is None and len(saddr_sets) == 1 and saddr_sets[0].startswith("@"):
            summary["ban_sets"].append(saddr_sets[0][1:])
        if ports and any("set" in e and e["set"].get("op") == "update" for e in exprs) and "drop" in verdicts:
            metered.update(ports)
        if verdicts != ["accept"]:
            continue
        if ports is None and not saddr_sets and not other:
            summary["accepts_everything"] = True
        elif ports and not saddr_sets and not other:
            open_ports.update(ports)
        elif ports and saddr_sets:
            for port in ports:
                allowlisted.setdefault(port, set()).update(saddr_sets)
    summary["open_ports"] = sorted(open_ports)
    summary["metered_ports"] = sorted(metered)
    summary["allowlisted_ports"] = {port: sorted(sets) for port, sets in sorted(allowlisted.items())}
    return summary


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


def _postconf(check: dict, evidence: dict) -> tuple[str, Any]:
    name, service = check["postconf"], check.get("service")
    if service:
        overrides = evidence.get("postconf_services", {}).get(service)
        if overrides is None:
            return f"master.cf service {service}", _MISSING
        if name in overrides:
            return f"postconf {service} {name}", overrides[name]
    return f"postconf {name}", evidence.get("postconf", {}).get(name, _MISSING)


def _doveconf(check: dict, evidence: dict) -> tuple[str, Any]:
    return f"doveconf {check['doveconf']}", evidence.get("doveconf", {}).get(check["doveconf"], _MISSING)


def _nft(check: dict, evidence: dict) -> tuple[str, Any]:
    summary = evidence.get("nft_summary") or nft_summary(evidence.get("nft"))
    if not summary["exists"]:
        return "nft table", _MISSING
    return f"nft {check['nft']}", summary.get(check["nft"], _MISSING)


def _nft_set(check: dict, evidence: dict) -> tuple[str, Any]:
    """A set's elements (CIDR text, as nft_sets gives them); for a list of sets, set -> elements; with field count,
    how many elements in all."""
    summary = evidence.get("nft_summary") or nft_summary(evidence.get("nft"))
    if not summary["exists"]:
        return "nft table", _MISSING
    names = check["nft_set"]
    sets = summary.get("sets") or nft_sets(evidence.get("nft"))
    what = f"nft set {names}" if isinstance(names, str) else f"nft sets {', '.join(names)}"
    missing = [name for name in ([names] if isinstance(names, str) else names) if name not in sets]
    if missing:
        return f"nft set {', '.join(missing)}", _MISSING
    value = sets[names] if isinstance(names, str) else {name: sets[name] for name in names}
    if check.get("field") == "count":
        return f"{what} count", len(value) if isinstance(names, str) else sum(len(found) for found in value.values())
    return what, value


def _opendkim(check: dict, evidence: dict) -> tuple[str, Any]:
    """An OpenDKIM configuration's setting as opendkim reads it (the name without regard to case), SETTING.hosts
    the entries of the host list it names; without field, the names of the settings it makes."""
    path, field = check["opendkim"], check.get("field")
    found = evidence.get("opendkim", {}).get(path, {})
    if not found.get("exists") or "error" in found:
        return f"OpenDKIM {path}", found.get("error", _MISSING)
    settings = {name.lower(): value for name, value in found["settings"].items()}
    if not field:
        return f"OpenDKIM {path} settings", sorted(found["settings"])
    name, _, part = field.partition(".")
    if part == "hosts":
        hosts = {key.lower(): value for key, value in found.get("hosts", {}).items()}
        return f"OpenDKIM {path} {name} entries", hosts.get(name.lower(), _MISSING)
    return f"OpenDKIM {path} {field}", settings.get(field.lower(), _MISSING)


def _listening(check: dict, evidence: dict) -> tuple[str, Any]:
    return "listening TCP ports", evidence.get("listening", _MISSING)


def _file(check: dict, evidence: dict) -> tuple[str, Any]:
    found = evidence.get("files", {}).get(check["file"], {})
    return f"file {check['file']}", found if found.get("exists") else _MISSING


def _certificate(check: dict, evidence: dict) -> tuple[str, Any]:
    found = evidence.get("certificates", {}).get(check["certificate"], {})
    field = check.get("field", "days_left")
    if not found.get("exists") or "error" in found:
        return f"certificate {check['certificate']}", found.get("error", _MISSING)
    return f"certificate {check['certificate']} {field}", found.get(field, _MISSING)


def _unit(check: dict, evidence: dict) -> tuple[str, Any]:
    found = evidence.get("units", {}).get(check["unit"])
    field = check.get("field", "active")
    return f"unit {check['unit']} {field}", found.get(field, _MISSING) if found else _MISSING


def _fail2ban(check: dict, evidence: dict) -> tuple[str, Any]:
    fail2ban, what = evidence.get("fail2ban"), check["fail2ban"]
    if fail2ban is None:
        return "fail2ban", _MISSING
    if what == "running":
        return "fail2ban running", fail2ban["running"]
    if what == "jails":
        return "fail2ban jails", sorted(fail2ban["jails"])
    jail, field = fail2ban["jails"].get(what), check.get("field", "bantime")
    return f"fail2ban jail {what} {field}", jail.get(field, _MISSING) if jail else _MISSING


def _updates(check: dict, evidence: dict) -> tuple[str, Any]:
    """What unattended-upgrades installs (origins), when APT runs (periodic.<name>) and needrestart's mode."""
    updates, what = evidence.get("updates"), check["updates"]
    if updates is None:
        return f"updates {what}", _MISSING
    if what.startswith("periodic."):
        name = what.removeprefix("periodic.")
        return f"APT::Periodic::{name}", updates["periodic"].get(name, _MISSING)
    labels = {"origins": "unattended-upgrades' origins", "needrestart_restart": "needrestart's restart mode"}
    return labels.get(what, f"updates {what}"), updates.get(what, _MISSING)


def _config_check(check: dict, evidence: dict) -> tuple[str, Any]:
    found = evidence.get("config_checks", {}).get(check["config_check"])
    what = f"{check['config_check']}'s own check"
    if found is None:
        return what, _MISSING
    return what, "passed" if found["passed"] else found["output"] or "failed"


def _probe(check: dict, evidence: dict) -> tuple[str, Any]:
    found, field = evidence.get("probes", {}).get(check["probe"]), check.get("field")
    what = f"probe {check['probe']} {field}" if field else f"probe {check['probe']}"
    if found is None:
        return what, _MISSING
    if "skipped" in found:
        return what, Skipped(found["skipped"])
    if "error" in found and field not in found:
        return what, f"error: {found['error']}"
    return what, found.get(field, _MISSING) if field else found


DNS_AGREE = "served as generated"


def _dns(check: dict, evidence: dict) -> tuple[str, Any]:
    """The domain's records of one kind (a TXT tag such as v=spf1, or a type such as TLSA) as its DNS serves them,
    against those mail_dns generated; or, for tlsa_covers_served, whether a served TLSA 3 1 1 record holds the key of
    the certificate served on port 25."""
    found, kind = evidence.get("dns") or {}, check["dns"]
    if "skipped" in found:
        return f"DNS {kind}", Skipped(found["skipped"])
    if kind == "mta_sts_policy":
        policy = evidence.get("mta_sts")
        if policy is None:
            return "MTA-STS policy over HTTPS", _MISSING
        return f"MTA-STS policy at {policy['url']}", policy["problem"] or DNS_AGREE
    if kind == "tlsa_covers_served":
        spki = evidence.get("probes", {}).get("smtp:25", {}).get("spki_sha256", "")
        served = [value for key, r in found.items() if key.endswith(" TLSA") for value in r.get("served", [])]
        return "DNS TLSA holds the key served on 25", bool(spki) and f"3 1 1 {spki}" in served
    records = {key: r for key, r in found.items() if r.get("match") == kind.lower() or key.endswith(f" {kind}")}
    if not records:
        return f"DNS {kind}", _MISSING
    problems = [
        f"{key}: {r['error']}" if "error" in r else f"{key}: served {r['served']}, generated {r['expected']}"
        for key, r in records.items()
        if not r.get("agree")
    ]
    return f"DNS {kind} ({len(records)} records)", "; ".join(problems) or DNS_AGREE


def _value(check: dict, evidence: dict) -> tuple[str, Any]:
    return "variable", check["value"]


LOOKUPS = {
    "postconf": _postconf,
    "doveconf": _doveconf,
    "opendkim": _opendkim,
    "nft": _nft,
    "nft_set": _nft_set,
    "listening": _listening,
    "file": _file,
    "certificate": _certificate,
    "unit": _unit,
    "fail2ban": _fail2ban,
    "updates": _updates,
    "config_check": _config_check,
    "probe": _probe,
    "dns": _dns,
    "value": _value,
}


def activity(evidence: dict) -> dict:
    """The host's activity for the reports: the journal's events (mail_audit_facts' journal: event -> count and top
    sources), then each certificate the audit read with the days it has left, as certificate_days_left:<path>. A
    certificate's entry has the shape of an event (count: the days left, no sources) and says so again in days_left
    and not_after, so that every report format shows it as a line of its own."""
    found = dict(evidence.get("journal") or {})
    for path, certificate in sorted((evidence.get("certificates") or {}).items()):
        if isinstance(certificate, dict) and "days_left" in certificate:
            found[f"certificate_days_left:{path}"] = {
                "count": certificate["days_left"],
                "sources": {},
                "days_left": certificate["days_left"],
                "not_after": certificate.get("not_after", ""),
            }
    return found


def lookup(check: dict, evidence: dict) -> tuple[str, Any]:
    """(what the evidence is, its value) for CHECK; the value is _MISSING when the host did not show it."""
    source = next(key for key in SOURCES if key in check)
    return LOOKUPS[source](check, evidence)


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
    if value is _MISSING:
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
        result["reason"] = _not_checked(lines) or (
            "; ".join(line["wanted"] for line in lines) or "nothing to check with this host's settings"
        )
    else:
        result["status"] = "pass"
        # A pass that rests on part of the checks says which evidence the audit did not gather, and why.
        partly = _not_checked(lines)
        result["reason"] = f"partly checked, {partly}" if partly else ""
    return result


def _not_checked(lines: list[dict]) -> str:
    """`not checked: REASON; ...` for the evidence the audit chose not to gather (each reason once, in order), or
    empty: a control none of whose checks ran must say why, not pass for one whose feature is off."""
    reasons = list(dict.fromkeys(line["seen"] for line in lines if line.get("not_checked")))
    return f"not checked: {'; '.join(reasons)}" if reasons else ""


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
