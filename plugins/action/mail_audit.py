# SPDX-License-Identifier: MIT
"""mail_audit: judge one host against every control of the catalogue (controls.yml), with evidence from the host and
from the network, and return each control's status, evidence and remediation. Changes nothing, in check mode too.

The catalogue says for each control how it is checked (its `audit` entry): which evidence, what it must be, when
the control applies at all and when a weakening of it was acknowledged. Those entries are templated with the
host's variables layered as a play of the roles would see them: each role's defaults, then the inventory, then the
roles' own vars. So an audit judges a host against what site.yml would have made of it, without running a role.

The evidence of the host comes from one call of the module mail_audit_facts (asked only for what the controls
need); the network's from the controller (plugin_utils/audit_probes.py), at most 30 connections per host and 6 per
port (audit_probes.HOST_BUDGET and PORT_BUDGET), counted in the result's `probed`.

Arguments:
  catalogue:  path of controls.yml; default: the collection's own.
  address:    where the probes connect; empty: no network evidence (each network check says so).
  tls_name:   the name the probes present (SNI) and check the certificate against; default: the host's first name
              in mail_tls_san_dns.
  ca_pem:     the trust anchor the probes verify the chain against; default: the lab CA read from the host when
              the host uses one, else the controller's trust store.
  dns_server: the DNS server asked for the domain's records, compared with those mail_dns generated (read from the
              host); empty: the DNS controls say they were not compared.
  mta_sts_ca_pem: the trust anchor for the certificate of mta-sts.<domain>, the MTA-STS policy's web server; default:
              the controller's trust store, the web PKI that sending servers check it against.
  journal_since: the window of the activity counts (journalctl --since), e.g. -24h; empty: none.
  sslyze:     the sslyze program on the controller; default: `sslyze` on PATH, else the checkout's .venv-sslyze.
  drift_run:  the result (rc, stdout, stderr) of `site.yml --check --diff` run with the callback mail_drift, for all
              the play's hosts; absent or skipped: drift is not reported.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template
from ansible_collections.mailfort.mail.plugins.plugin_utils import (
    audit,
    audit_drift,
    audit_evidence,
    audit_mta_sts,
    audit_probes,
    audit_scanner,
)

MODULE = "mailfort.mail.mail_audit_facts"
COLLECTION_ROOT = Path(__file__).resolve().parents[2]


def trusted(value: Any) -> Any:
    """VALUE with every string marked as a template the catalogue's author wrote (it is the collection's own)."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [trusted(item) for item in value]
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    return value


def plain(value: Any) -> Any:
    """A templated value as plain Python data (lists, dicts, str, int, bool)."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def load_yaml(path: Path) -> dict:
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text()) or {}


# Evidence key of a check -> the module argument that collects its values (a list), or that turns a part on (a flag).
COLLECTED = {
    "postconf": "postconf",
    "doveconf": "doveconf",
    "opendkim": "opendkim",
    "file": "files",
    "certificate": "certificates",
    "unit": "units",
    "config_check": "config_checks",
    "probe": "probes",
}
FLAGS = {
    "nft": "nft_table",
    "nft_set": "nft_table",
    "listening": "listening",
    "fail2ban": "fail2ban",
    "updates": "updates",
    "resolver": "resolver",
    "dns": "dns",
}


def needs_of(checks: list[dict]) -> dict:
    """The module's arguments that read what CHECKS look at, and the probes they name."""
    needs: dict[str, Any] = {argument: set() for argument in COLLECTED.values()}
    for check in checks:
        source = next((key for key in (*COLLECTED, *FLAGS) if key in check), None)
        if source in COLLECTED:
            needs[COLLECTED[source]].add(check[source])
        elif source in FLAGS:
            needs[FLAGS[source]] = True
        if source == "postconf" and check.get("service"):
            needs["postconf_services"] = True
        if source == "dns" and check["dns"] == "tlsa_covers_served":
            needs["probes"].add("smtp:25")  # the key served on 25, against the served TLSA records
        if source == "dns" and check["dns"] == "mta_sts_policy":
            needs["mta_sts"] = True  # the policy file mail_dns wrote, against what mta-sts.<domain> serves
    return {key: sorted(value) if isinstance(value, set) else value for key, value in needs.items()}


def source_address(address: str) -> str:
    """The address this controller's connections to ADDRESS come from (a UDP socket's route, nothing sent)."""
    try:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((address, 25))
            return probe.getsockname()[0]
    except OSError:
        return ""


def covered(address: str, networks: list) -> bool:
    """Whether ADDRESS lies in one of NETWORKS (entries that are no network are ignored)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in networks:
        try:
            if ip in ipaddress.ip_network(str(network), strict=False):
                return True
        except ValueError:
            continue
    return False


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def _host_variables(self, task_vars: dict, roles: list[str]) -> dict:
        """The host's variables as a play of ROLES sees them: role defaults < inventory and play < role vars."""
        layered: dict[str, Any] = {}
        for role in roles:
            layered.update(load_yaml(COLLECTION_ROOT / "roles" / role / "defaults" / "main.yml"))
        layered.update(task_vars)
        for role in roles:
            layered.update(load_yaml(COLLECTION_ROOT / "roles" / role / "vars" / "main.yml"))
        return layered

    def _definitions(self, controls: list[dict], templar: Any) -> list[tuple[dict, dict]]:
        """Every control's audit entry in the host's terms; one error listing every entry that cannot be templated."""
        judged, errors = [], []
        for control in controls:
            entry = control["audit"]
            try:
                applies = bool(templar.evaluate_expression(trust_as_template(str(entry.get("applies_when", "true")))))
                waived = bool(templar.evaluate_expression(trust_as_template(str(entry.get("waived_when", "false")))))
                definition = {
                    **{
                        key: plain(templar.template(trusted(entry[key])))
                        for key in ("not_applicable", "waived", "remediation", "drift_files")
                        if key in entry
                    },
                    "applies_when": applies,
                    "waived_when": waived,
                    "checks": plain(templar.template(trusted(entry["checks"]))) if applies else [],
                }
            except Exception as e:
                errors.append(f"{control['id']}: {e}")
                continue
            judged.append((control, definition))
        if errors:
            raise AnsibleActionFail(
                "the catalogue's audit entries cannot be templated for this host:\n" + "\n".join(errors)
            )
        return judged

    @staticmethod
    def _probes(
        names: list[str], address: str, tls_name: str, ca_pem: str, *, relay_safe: bool, auditor: str
    ) -> tuple[dict, dict]:
        """The network's evidence: each probe of NAMES, from this controller, within the audit's connection budget;
        and the connections they opened, per port."""
        if not address:
            return {probe: {"error": "no address to probe (mail_audit_address)"} for probe in names}, {}
        relay = (
            f"not probed: the auditor's address {auditor} is not in fail2ban_ignore_networks, "
            "and fail2ban's postfix jail counts a refused relay as a failure"
        )
        skipped = {} if relay_safe else {probe: relay for probe in names if probe.startswith("relay:")}
        net = audit_probes.Connections()
        probes = audit_probes.run_probes(
            names, address, tls_name, ca_pem or None, net=net, skipped=skipped, auditor=auditor
        )
        return probes, {str(port): count for port, count in sorted(net.opened.items())}

    @staticmethod
    def _scans(
        scans: list[str], address: str, tls_name: str, ca_pem: str, *, why_not: str, sslyze: str, profile: str
    ) -> dict:
        """sslyze's verdict for each scan of SCANS, or why it was not asked (WHY_NOT, no program, no address)."""
        if not scans:
            return {}
        if not address:
            return {scan: {"error": "no address to probe (mail_audit_address)"} for scan in scans}
        if why_not:
            return {scan: {"skipped": why_not} for scan in scans}
        program = sslyze or shutil.which("sslyze") or str(COLLECTION_ROOT / ".venv-sslyze" / "bin" / "sslyze")
        if not Path(program).is_file():
            return {
                scan: {"skipped": f"not scanned: no sslyze on the controller at {program} (mail_audit_sslyze)"}
                for scan in scans
            }
        return audit_scanner.run_scans(program, scans, address=address, name=tls_name, ca_pem=ca_pem, profile=profile)

    @staticmethod
    def _dns(generated: dict | None, server: str) -> dict:
        """The domain's records as SERVER serves them, against those mail_dns generated (read from the host)."""
        if not server:
            return {"skipped": "not compared: no DNS server to ask (mail_audit_dns_server)"}
        if not generated:
            return {}
        return audit_probes.probe_dns(server, generated.get("records", []))

    @staticmethod
    def _drift(run: Any, host: str, judged: list[tuple[dict, dict]]) -> dict | None:
        """HOST's part of the drift run, each change with the controls it touches; None when none was run."""
        if not isinstance(run, dict) or run.get("skipped") or "rc" not in run:
            return None
        report = None
        for line in reversed(str(run.get("stdout", "")).splitlines()):
            if line.startswith('{"hosts"'):
                try:
                    report = json.loads(line)
                except ValueError:
                    continue
                break
        if report is None:
            said = [line for line in str(run.get("stderr", "")).splitlines() if line.strip()][-3:]
            return {
                "error": f"site.yml --check --diff gave no report (exit {run.get('rc')}): {' '.join(said)}"[:800],
                "changes": [],
            }
        drift = audit_drift.plain_drift(report.get("hosts", {}).get(host))
        controls = [
            (control["id"], audit.expand_checks(definition["checks"]), list(definition.get("drift_files", [])))
            for control, definition in judged
        ]
        drift["changes"] = audit_drift.controls_touched(drift["changes"], controls)
        return drift

    @staticmethod
    def _scan_refusal(probes: dict, templar: Any, auditor: str, ignored: list) -> str:
        """Why sslyze must not scan this host from AUDITOR; empty when it may.

        A scan opens dozens of connections a port: only an auditor that the firewall's meter, Postfix's per-client
        limits and fail2ban all exempt may run one, and none against a host that already drops the auditor."""
        dropped = next(
            (found["error"] for found in probes.values() if "drops this auditor" in found.get("error", "")), ""
        )
        if dropped:
            return f"not scanned: {dropped.removeprefix('not probed: ')}"
        lists = {
            "mail_firewall_rate_limit_exempt": "{{ mail_firewall_rate_limit_exempt | default([]) }}",
            "postfix_hardening_rate_limit_exceptions": "{{ postfix_hardening_rate_limit_exceptions | default([]) }}",
        }
        loopback = ["127.0.0.0/8", "::1/128"]
        missing = [
            name
            for name, value in lists.items()
            if not covered(auditor, loopback + plain(templar.template(trust_as_template(value))))
        ]
        if not covered(auditor, ignored):
            missing.append("fail2ban_ignore_networks")
        if missing:
            return (
                f"not scanned: sslyze opens dozens of connections a port, so the auditor's address {auditor or '?'} "
                f"must be in {', '.join(missing)}"
            )
        return ""

    def _module_args(self, needs: dict, templar: Any, probing: bool) -> tuple[dict, str]:
        """The arguments of mail_audit_facts for NEEDS, and the path of the host's lab CA when the probes need it."""
        module_args = {key: value for key, value in needs.items() if key not in ("probes", "dns", "mta_sts") and value}
        if needs.get("dns"):
            module_args["dns_records"] = str(
                templar.template(trust_as_template("{{ mail_dns_output_dir }}/{{ mail_dns_domain }}.json"))
            )
        if needs.get("dns") and needs.get("mta_sts"):
            module_args["mta_sts_policy"] = str(
                templar.template(trust_as_template("{{ mail_dns_mta_sts_webroot }}/.well-known/mta-sts.txt"))
            )
        if module_args.pop("nft_table", False):
            module_args["nft_table"] = str(templar.template(trust_as_template("{{ mail_firewall_table }}")))
        if "opendkim" in needs["config_checks"]:
            module_args["opendkim_configs"] = plain(
                templar.template(trust_as_template("{{ __dkim_signers | map(attribute='config') | list }}"))
            )
        lab_ca = ""
        if probing:
            # The host's own lab CA, when it uses one: a public certificate, the anchor its chain leads to.
            lab_ca = str(templar.template(trust_as_template("{{ mail_tls_lab_ca_cert_path }}")))
            module_args["certificates"] = sorted({*module_args.get("certificates", []), lab_ca})
            module_args["certificate_pem"] = [lab_ca]
        return module_args, lab_ca

    def run(self, tmp: Any = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        started = time.monotonic()
        args = self._task.args
        catalogue_path = Path(args.get("catalogue") or COLLECTION_ROOT / "controls.yml")
        controls = load_yaml(catalogue_path).get("controls", [])
        problems = [p for control in controls for p in audit.definition_problems(control)]
        if problems:
            raise AnsibleActionFail(f"{catalogue_path} cannot be audited:\n" + "\n".join(problems))
        roles = sorted({control["role"] for control in controls})
        templar = self._templar.copy_with_new_env(available_variables=trusted(self._host_variables(task_vars, roles)))
        judged = self._definitions(controls, templar)

        needs = needs_of([check for _, definition in judged for check in audit.expand_checks(definition["checks"])])
        address = str(args.get("address") or "")
        tls_name = str(args.get("tls_name") or "")
        ca_pem = str(args.get("ca_pem") or "")
        module_args, lab_ca = self._module_args(needs, templar, bool(address and needs["probes"] and not ca_pem))
        if args.get("journal_since"):
            module_args["journal_since"] = str(args["journal_since"])
        evidence = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
        if evidence.get("failed"):
            raise AnsibleActionFail(f"reading the host's evidence failed: {evidence.get('msg') or evidence}")
        evidence["nft_summary"] = audit_evidence.nft_summary(evidence.get("nft")) if "nft" in evidence else None
        if lab_ca:
            ca_pem = evidence.get("certificates", {}).get(lab_ca, {}).get("pem", "")
        host_seconds = time.monotonic() - started

        auditor = source_address(address) if address else ""
        # A refused relay is a failure fail2ban's postfix jail counts: only an auditor it never bans asks for one.
        ignored = plain(
            templar.template(
                trust_as_template("{{ ['127.0.0.0/8', '::1/128'] + fail2ban_ignore_networks | default([]) }}")
            )
        )
        fail2ban = evidence.get("fail2ban") or {}
        postfix_jail = not fail2ban or "postfix" in fail2ban.get("jails", {})
        relay_safe = covered(auditor, ignored) or not postfix_jail
        scans = [name for name in needs["probes"] if name.startswith("scan:")]
        probes, connections = self._probes(
            [name for name in needs["probes"] if name not in scans],
            address,
            tls_name,
            ca_pem,
            relay_safe=relay_safe,
            auditor=auditor,
        )
        probes.update(
            self._scans(
                scans,
                address,
                tls_name,
                ca_pem,
                why_not=self._scan_refusal(probes, templar, auditor, ignored),
                sslyze=str(args.get("sslyze") or ""),
                profile=str(templar.template(trust_as_template("{{ mail_tls_profile }}"))),
            )
        )
        evidence["probes"] = probes
        if needs.get("dns"):
            server = str(args.get("dns_server") or "")
            evidence["dns"] = self._dns(evidence.get("dns_records"), server)
            if needs.get("mta_sts") and server and evidence.get("dns_records"):
                evidence["mta_sts"] = audit_mta_sts.probe_mta_sts(
                    server,
                    str(evidence["dns_records"].get("domain", "")),
                    evidence.get("mta_sts_policy"),
                    str(args.get("mta_sts_ca_pem") or "") or None,
                )

        results = [audit.evaluate_control(control, definition, evidence) for control, definition in judged]
        host = task_vars.get("inventory_hostname", "?")
        drift = self._drift(args.get("drift_run"), host, judged)
        for control in results:
            touching = [c for c in (drift or {}).get("changes", []) if control["id"] in c["controls"]]
            if touching:
                control["drift"] = [{key: c[key] for key in ("role", "task", "path", "lines")} for c in touching]
        summary = audit.summarise(host, results)
        if drift is not None:
            summary["drift"] = audit_drift.drift_summary(drift)
        result.update(
            {
                "changed": False,
                "host": host,
                "controls": results,
                "summary": summary,
                "drift": drift,
                "activity": audit.activity(evidence),
                "versions": evidence.get("versions", {}),
                "missing_programs": evidence.get("missing", []),
                "probed": {
                    "address": address,
                    "tls_name": tls_name,
                    "from": auditor,
                    "probes": sorted(name for name, found in probes.items() if "skipped" not in found),
                    # Per port; sslyze's scans are not counted (they run only for an auditor the meters exempt).
                    "connections": connections,
                },
                "seconds": {"host": round(host_seconds, 2), "total": round(time.monotonic() - started, 2)},
            }
        )
        return result
