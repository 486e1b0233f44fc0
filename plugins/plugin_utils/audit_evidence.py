# SPDX-License-Identifier: MIT
"""The audit's evidence lookups: for each evidence key a check may name (SOURCES), the function that finds in a
host's evidence (module mail_audit_facts, the probes of plugin_utils/audit_probes.py, the DNS and MTA-STS reads)
what the evidence is and its value, MISSING when the host did not show it, or Skipped when the audit chose not to
gather it. nft_summary() reads what the controls ask of the firewall's nft table. Judging the value against the
check's expectations is plugin_utils/audit.py's.

Pure functions, no Ansible objects: the unit tests call them with evidence written by hand.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

# The evidence keys a check may name, each with its lookup in LOOKUPS.
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
    "resolver",
    "config_check",
    "probe",
    "value",
)
# The value of evidence the host did not show.
MISSING = object()


class Skipped:
    """Evidence the audit chose not to gather (a probe that would count against the auditor, DNS without a
    resolver): the check is not judged, and REASON says why."""

    def __init__(self, reason: str):
        self.reason = reason


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


def _postconf(check: dict, evidence: dict) -> tuple[str, Any]:
    name, service = check["postconf"], check.get("service")
    if service:
        overrides = evidence.get("postconf_services", {}).get(service)
        if overrides is None:
            return f"master.cf service {service}", MISSING
        if name in overrides:
            return f"postconf {service} {name}", overrides[name]
    return f"postconf {name}", evidence.get("postconf", {}).get(name, MISSING)


def _doveconf(check: dict, evidence: dict) -> tuple[str, Any]:
    return f"doveconf {check['doveconf']}", evidence.get("doveconf", {}).get(check["doveconf"], MISSING)


def _nft(check: dict, evidence: dict) -> tuple[str, Any]:
    summary = evidence.get("nft_summary") or nft_summary(evidence.get("nft"))
    if not summary["exists"]:
        return "nft table", MISSING
    return f"nft {check['nft']}", summary.get(check["nft"], MISSING)


def _nft_set(check: dict, evidence: dict) -> tuple[str, Any]:
    """A set's elements (CIDR text, as nft_sets gives them); for a list of sets, set -> elements; with field count,
    how many elements in all."""
    summary = evidence.get("nft_summary") or nft_summary(evidence.get("nft"))
    if not summary["exists"]:
        return "nft table", MISSING
    names = check["nft_set"]
    sets = summary.get("sets") or nft_sets(evidence.get("nft"))
    what = f"nft set {names}" if isinstance(names, str) else f"nft sets {', '.join(names)}"
    missing = [name for name in ([names] if isinstance(names, str) else names) if name not in sets]
    if missing:
        return f"nft set {', '.join(missing)}", MISSING
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
        return f"OpenDKIM {path}", found.get("error", MISSING)
    settings = {name.lower(): value for name, value in found["settings"].items()}
    if not field:
        return f"OpenDKIM {path} settings", sorted(found["settings"])
    name, _, part = field.partition(".")
    if part == "hosts":
        hosts = {key.lower(): value for key, value in found.get("hosts", {}).items()}
        return f"OpenDKIM {path} {name} entries", hosts.get(name.lower(), MISSING)
    return f"OpenDKIM {path} {field}", settings.get(field.lower(), MISSING)


def _listening(check: dict, evidence: dict) -> tuple[str, Any]:
    return "listening TCP ports", evidence.get("listening", MISSING)


def _file(check: dict, evidence: dict) -> tuple[str, Any]:
    found = evidence.get("files", {}).get(check["file"], {})
    return f"file {check['file']}", found if found.get("exists") else MISSING


def _certificate(check: dict, evidence: dict) -> tuple[str, Any]:
    found = evidence.get("certificates", {}).get(check["certificate"], {})
    field = check.get("field", "days_left")
    if not found.get("exists") or "error" in found:
        return f"certificate {check['certificate']}", found.get("error", MISSING)
    return f"certificate {check['certificate']} {field}", found.get(field, MISSING)


def _unit(check: dict, evidence: dict) -> tuple[str, Any]:
    found = evidence.get("units", {}).get(check["unit"])
    field = check.get("field", "active")
    return f"unit {check['unit']} {field}", found.get(field, MISSING) if found else MISSING


def _fail2ban(check: dict, evidence: dict) -> tuple[str, Any]:
    fail2ban, what = evidence.get("fail2ban"), check["fail2ban"]
    if fail2ban is None:
        return "fail2ban", MISSING
    if what == "running":
        return "fail2ban running", fail2ban["running"]
    if what == "jails":
        return "fail2ban jails", sorted(fail2ban["jails"])
    jail, field = fail2ban["jails"].get(what), check.get("field", "bantime")
    return f"fail2ban jail {what} {field}", jail.get(field, MISSING) if jail else MISSING


def _updates(check: dict, evidence: dict) -> tuple[str, Any]:
    """What unattended-upgrades installs (origins), when APT runs (periodic.<name>) and needrestart's mode."""
    updates, what = evidence.get("updates"), check["updates"]
    if updates is None:
        return f"updates {what}", MISSING
    if what.startswith("periodic."):
        name = what.removeprefix("periodic.")
        return f"APT::Periodic::{name}", updates["periodic"].get(name, MISSING)
    labels = {"origins": "unattended-upgrades' origins", "needrestart_restart": "needrestart's restart mode"}
    return labels.get(what, f"updates {what}"), updates.get(what, MISSING)


def _resolver(check: dict, evidence: dict) -> tuple[str, Any]:
    """Whom the host and Postfix's chroot ask (nameservers, postfix_nameservers) and unbound's settings."""
    resolver, what = evidence.get("resolver"), check["resolver"]
    labels = {"nameservers": "/etc/resolv.conf nameservers", "postfix_nameservers": "Postfix's chroot nameservers"}
    label = labels.get(what, f"unbound {what}")
    if resolver is None or resolver.get(what) is None:
        return label, MISSING
    return label, resolver[what]


def _config_check(check: dict, evidence: dict) -> tuple[str, Any]:
    found = evidence.get("config_checks", {}).get(check["config_check"])
    what = f"{check['config_check']}'s own check"
    if found is None:
        return what, MISSING
    return what, "passed" if found["passed"] else found["output"] or "failed"


def _probe(check: dict, evidence: dict) -> tuple[str, Any]:
    found, field = evidence.get("probes", {}).get(check["probe"]), check.get("field")
    what = f"probe {check['probe']} {field}" if field else f"probe {check['probe']}"
    if found is None:
        return what, MISSING
    if "skipped" in found:
        return what, Skipped(found["skipped"])
    if "error" in found and field not in found:
        return what, f"error: {found['error']}"
    return what, found.get(field, MISSING) if field else found


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
            return "MTA-STS policy over HTTPS", MISSING
        return f"MTA-STS policy at {policy['url']}", policy["problem"] or DNS_AGREE
    if kind == "tlsa_covers_served":
        spki = evidence.get("probes", {}).get("smtp:25", {}).get("spki_sha256", "")
        served = [value for key, r in found.items() if key.endswith(" TLSA") for value in r.get("served", [])]
        return "DNS TLSA holds the key served on 25", bool(spki) and f"3 1 1 {spki}" in served
    records = {key: r for key, r in found.items() if r.get("match") == kind.lower() or key.endswith(f" {kind}")}
    if not records:
        return f"DNS {kind}", MISSING
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
    "resolver": _resolver,
    "config_check": _config_check,
    "probe": _probe,
    "dns": _dns,
    "value": _value,
}


def lookup(check: dict, evidence: dict) -> tuple[str, Any]:
    """(what the evidence is, its value) for CHECK; the value is MISSING when the host did not show it."""
    source = next(key for key in SOURCES if key in check)
    return LOOKUPS[source](check, evidence)
