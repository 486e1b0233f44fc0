# SPDX-License-Identifier: MIT
"""The audit's independent judge of TLS: sslyze's verdict against a Mozilla profile, for each mail port.

A scan is named `scan:PORT` or `scan:STARTTLS:PORT` (`scan:465`, `scan:smtp:587`, `scan:imap:143`), like the
audit's own probes. sslyze runs as a program on the controller (it needs another `cryptography` than Ansible, so it
lives in a virtual environment of its own; `make judges` builds one in `.venv-sslyze`), once per way TLS starts,
each run's ports side by side. It opens dozens of connections a port, far past the firewall's meter and Postfix's
per-client limits, so the action mail_audit runs it only for an auditor those limits and fail2ban exempt.

sslyze says per port `OK - Compliant` or `FAILED - Not compliant`, then the reasons (`* tls_versions: ...`); this
module reads exactly that, and a port with neither line is an error that quotes what sslyze said last.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TIMEOUT = 180
# How many more runs a port without a verdict gets.
RETRIES = 1
STARTTLS = ("", "smtp", "imap", "pop3")
_VERDICT = re.compile(r"^\s*(?P<target>\S+):(?P<port>\d+): (?P<verdict>OK - Compliant|FAILED - Not compliant)\.?$")
_REASON = re.compile(r"^\s+\* (?P<check>\w+): (?P<text>.*)$")
VERDICTS = {"OK - Compliant": "compliant", "FAILED - Not compliant": "not compliant"}


def parse_scan(name: str) -> tuple[str, int] | None:
    """`scan:smtp:587` -> ("smtp", 587); `scan:465` -> ("", 465); None when it is no scan this module runs."""
    kind, _, rest = name.partition(":")
    mode, _, port = rest.rpartition(":")
    if kind != "scan" or mode not in STARTTLS or not port.isdigit():
        return None
    return mode, int(port)


def parse_output(text: str) -> dict[int, dict]:
    """sslyze's compliance section: {port: {"verdict": "compliant" | "not compliant", "reasons": {check: text},
    "judged": the verdict with its reasons}}."""
    verdicts: dict[int, dict] = {}
    current: dict | None = None
    for line in text.splitlines():
        if found := _VERDICT.match(line):
            current = {"verdict": VERDICTS[found["verdict"]], "reasons": {}}
            verdicts[int(found["port"])] = current
        elif current is not None and (reason := _REASON.match(line)):
            current["reasons"][reason["check"]] = reason["text"][:300]
    for found in verdicts.values():
        # What an evidence line shows: the verdict, and why when it is not compliant.
        reasons = "; ".join(f"{check}: {text}" for check, text in found["reasons"].items())
        found["judged"] = found["verdict"] + (f" ({reasons})" if reasons else "")
    return verdicts


def command(
    executable: str, *, profile: str, mode: str, name: str, address: str, ports: list[int], ca_file: str
) -> list:
    """The argv of one sslyze run: NAME for SNI and the certificate's name, connecting to ADDRESS (`NAME:PORT{IP}`)."""
    argv = [executable, f"--mozilla_config={profile}"]
    if ca_file:
        argv += ["--certinfo_ca_file", ca_file]
    if mode:
        argv += ["--starttls", mode]
    return argv + [f"{name}:{port}{{{address}}}" for port in ports]


def run_scans(executable: str, scans: list[str], *, address: str, name: str, ca_pem: str, profile: str) -> dict:
    """Each scan of SCANS against ADDRESS: its verdict and reasons, or an error saying why there is none."""
    results: dict[str, dict] = {}
    groups: dict[str, list[tuple[str, int]]] = {}
    for scan in scans:
        parsed = parse_scan(scan)
        if parsed is None:
            results[scan] = {
                "error": f"{scan!r} is no scan (scan:PORT or scan:STARTTLS:PORT, STARTTLS one of smtp, imap, pop3)"
            }
            continue
        groups.setdefault(parsed[0], []).append((scan, parsed[1]))
    if not groups:
        return results
    with tempfile.TemporaryDirectory(prefix="mailfort-audit-") as tmp:
        ca_file = ""
        if ca_pem:
            ca_file = str(Path(tmp) / "ca.pem")
            Path(ca_file).write_text(ca_pem)

        def scan_ports(mode: str, ports: list[int]) -> tuple[dict[int, dict], str]:
            argv = command(
                executable, profile=profile, mode=mode, name=name, address=address, ports=ports, ca_file=ca_file
            )
            try:
                # The program the user named (mail_audit_sslyze) or found on PATH, with arguments built here.
                run = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)  # noqa: S603
            except (OSError, subprocess.TimeoutExpired) as e:
                return {}, f"{type(e).__name__}: {e}"
            said = [line.strip() for line in (run.stdout + run.stderr).splitlines() if line.strip()]
            return parse_output(run.stdout), f"exit {run.returncode}: {said[-1] if said else 'nothing'}"

        def scan_group(mode: str) -> tuple[dict[int, dict], str]:
            # A port sslyze gave no verdict for (a handshake that timed out on a busy host, a refused connection) is
            # scanned once more, alone with the others that had none: a verdict, either way, is never scanned again.
            verdicts, said = scan_ports(mode, [port for _, port in groups[mode]])
            missing = [port for _, port in groups[mode] if port not in verdicts]
            for _ in range(RETRIES):
                if not missing:
                    break
                again, said = scan_ports(mode, missing)
                verdicts |= again
                missing = [port for port in missing if port not in again]
            return verdicts, said

        with ThreadPoolExecutor(len(groups)) as pool:
            done = {mode: pool.submit(scan_group, mode) for mode in groups}
            for mode, future in done.items():
                verdicts, said = future.result()
                for scan, port in groups[mode]:
                    results[scan] = verdicts.get(port) or {"error": f"sslyze gave no verdict for {port} ({said})"[:500]}
    return results
