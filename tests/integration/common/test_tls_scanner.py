# SPDX-License-Identifier: MIT
"""An independent TLS scanner, sslyze, judges every TLS port of the lab's mail hosts against Mozilla's intermediate
server-side TLS configuration: protocols, cipher suites and their order, key exchange groups, the certificate (its
chain checked against the CA that issued it, for the host's real name, sent as SNI).

The roles' defaults are judged on both releases: MX1 (Debian 12, site.yml) and the provided host (Debian 13,
postfix_hardening.yml alone, a certificate from a CA of its own). MX2 (Debian 13) turns options on: everything it
serves is judged too, and its port 25 in interop mode (postfix_hardening_mx_tls_policy: interop) must differ from
the guideline exactly where interop says it does: TLS 1.0 and 1.1, and the medium suites that go with them.

The scan runs in the mail host's own network namespace and connects to its loopback address: a scanner's burst of
handshakes from outside is dropped by the firewall's per-source meter and Postfix's anvil limits, which is those
controls working. Loopback is accepted by the ruleset and exempt from anvil; the `{127.0.0.1}` form keeps the real
name for SNI and the name check.
"""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from lab import LAB_CA, MX1, MX2, NAMES, PROJECT_DIR, PROVIDED, STATE_DIR

pytestmark = pytest.mark.readonly

SSLYZE = PROJECT_DIR / ".venv-sslyze" / "bin" / "sslyze"
# Every TLS port of each MX host, with how TLS starts there (None: at once). MX2 also offers IMAP with STARTTLS and
# POP3S (host_vars/mailfort-mx2.yml).
PORTS = {
    MX1: {25: "smtp", 465: None, 587: "smtp", 993: None},
    MX2: {25: "smtp", 465: None, 587: "smtp", 993: None, 143: "imap", 995: None},
    PROVIDED: {25: "smtp", 465: None, 587: "smtp", 993: None},
}
INTEROP = (MX2, 25)
CASES = [(name, port) for name, ports in PORTS.items() for port in ports if (name, port) != INTEROP]
VERDICT = re.compile(r"^\s*(?P<target>\S+:\d+): (?P<verdict>OK - Compliant|FAILED - Not compliant)\.?$")
# A reason sslyze gives under a failed verdict: "* tls_versions: TLS versions {'TLSv1', 'TLSv1.1'} are supported..."
REASON = re.compile(r"^\s+\* (?P<check>\w+): (?P<text>.*)$")
SUITE = re.compile(r"'(TLS_\w+)'")


def _container_pid(name: str) -> str:
    return subprocess.run(
        ["podman", "inspect", "--format", "{{.State.Pid}}", name], capture_output=True, text=True, check=True
    ).stdout.strip()


def _scan(name: str, ports: dict[int, str | None], ca_file: Path) -> dict[int, dict]:
    """sslyze's Mozilla-intermediate verdict for each port ({"verdict", "reasons": {check: text}}); one scan per way
    TLS starts, each port's handshakes side by side."""
    lines = []
    for starttls in sorted(set(ports.values()), key=str):
        targets = [f"{NAMES[name]}:{port}{{127.0.0.1}}" for port, how in ports.items() if how == starttls]
        argv = ["nsenter", "-t", _container_pid(name), "-n", str(SSLYZE), "--mozilla_config=intermediate"]
        argv += ["--certinfo_ca_file", str(ca_file), *(["--starttls", starttls] if starttls else []), *targets]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
        assert "COMPLIANCE AGAINST TLS CONFIGURATION" in result.stdout, result.stdout[-3000:] + result.stderr
        lines += result.stdout.splitlines()
    verdicts: dict[int, dict] = {}
    current: dict = {}
    for line in lines:
        if found := VERDICT.match(line):
            current = {"verdict": found["verdict"], "reasons": {}}
            verdicts[int(found["target"].rsplit(":", 1)[1])] = current
        elif (reason := REASON.match(line)) and current:
            current["reasons"][reason["check"]] = reason["text"]
    return verdicts


@pytest.fixture(scope="module")
def verdicts(podman_host, tmp_path_factory) -> dict[tuple[str, int], dict]:
    """Every host's verdicts, the hosts scanned side by side (each scan stays inside its own host)."""
    ca_files = {}
    for name in PORTS:
        # The provided host's certificate comes from the PKI prepare.yml made, the MX hosts' from the lab CA.
        anchor = (STATE_DIR / "pki" / "root.pem").read_text() if name == PROVIDED else None
        ca_files[name] = tmp_path_factory.mktemp(name) / "ca.pem"
        ca_files[name].write_text(anchor or podman_host(name).file(LAB_CA).content_string)
    with ThreadPoolExecutor(len(PORTS)) as pool:
        scans = {name: pool.submit(_scan, name, ports, ca_files[name]) for name, ports in PORTS.items()}
        return {(name, port): verdict for name, scan in scans.items() for port, verdict in scan.result().items()}


@pytest.mark.parametrize(("name", "port"), CASES, ids=[f"{name}-{port}" for name, port in CASES])
def test_sslyze_finds_port_compliant_with_mozilla_intermediate(verdicts, name, port):
    verdict = verdicts.get((name, port), {"verdict": "no verdict", "reasons": {}})
    assert verdict["verdict"] == "OK - Compliant", f"{name}:{port}: sslyze says {verdict}"


def test_sslyze_finds_interop_port_25_off_the_guideline_only_where_interop_says(verdicts):
    """interop accepts TLS 1.0 and 1.1 with medium suites from old MTAs that would otherwise send in cleartext; the
    scanner must find exactly that: old versions and CBC/CCM/Camellia/ARIA suites, all with ECDHE, and nothing
    else (certificate, groups, the modern suites) off the guideline."""
    verdict = verdicts.get(INTEROP, {"verdict": "no verdict", "reasons": {}})
    assert verdict["verdict"] == "FAILED - Not compliant", f"{INTEROP}: sslyze says {verdict}"
    assert set(verdict["reasons"]) <= {"tls_versions", "ciphers"}, verdict
    assert "TLSv1'" in verdict["reasons"].get("tls_versions", ""), verdict
    assert "SSLv" not in verdict["reasons"].get("tls_versions", ""), verdict
    suites = SUITE.findall(verdict["reasons"].get("ciphers", ""))
    assert all(suite.startswith("TLS_ECDHE_") for suite in suites), suites
    assert not [suite for suite in suites if "NULL" in suite or "RC4" in suite or "3DES" in suite], suites
