# SPDX-License-Identifier: MIT
"""An independent TLS scanner, sslyze, judges every TLS port of both MX hosts against Mozilla's intermediate
server-side TLS configuration: protocols, cipher suites and their order, key exchange groups, the certificate (its
chain checked against the lab CA, for the host's real name, sent as SNI).

The scan runs in the mail host's own network namespace and connects to its loopback address: a scanner's burst of
handshakes from outside is dropped by the firewall's per-source meter and Postfix's anvil limits, which is those
controls working. Loopback is accepted by the ruleset and exempt from anvil; the `{127.0.0.1}` form keeps the real
name for SNI and the name check.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from lab import LAB_CA, MAIL_HOSTS, NAMES, PROJECT_DIR

pytestmark = pytest.mark.readonly

SSLYZE = PROJECT_DIR / ".venv-sslyze" / "bin" / "sslyze"
# Every TLS port of each MX host, with how TLS starts there (None: at once). MX2 also offers IMAP with STARTTLS and
# POP3S (host_vars/mailfort-mx2.yml).
PORTS = {
    "mailfort-mx1": {25: "smtp", 465: None, 587: "smtp", 993: None},
    "mailfort-mx2": {25: "smtp", 465: None, 587: "smtp", 993: None, 143: "imap", 995: None},
}
CASES = [(name, port) for name in MAIL_HOSTS for port in PORTS[name]]
VERDICT = re.compile(r"^\s*(?P<target>\S+:\d+): (?P<verdict>OK - Compliant|FAILED - Not compliant)\.?(?P<rest>.*)$")


def _container_pid(name: str) -> str:
    return subprocess.run(
        ["podman", "inspect", "--format", "{{.State.Pid}}", name], capture_output=True, text=True, check=True
    ).stdout.strip()


def _scan(name: str, ports: dict[int, str | None], ca_file: Path) -> dict[int, str]:
    """sslyze's Mozilla-intermediate verdict for each port, with its reasons; one scan per way TLS starts."""
    output = []
    for starttls in sorted(set(ports.values()), key=str):
        targets = [f"{NAMES[name]}:{port}{{127.0.0.1}}" for port, how in ports.items() if how == starttls]
        argv = ["nsenter", "-t", _container_pid(name), "-n", str(SSLYZE), "--mozilla_config=intermediate"]
        argv += ["--certinfo_ca_file", str(ca_file), *(["--starttls", starttls] if starttls else []), *targets]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
        assert "COMPLIANCE AGAINST MOZILLA TLS CONFIGURATION" in result.stdout, result.stdout[-3000:] + result.stderr
        output.append(result.stdout)
    text = "\n".join(output)
    verdicts: dict[int, str] = {}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        found = VERDICT.match(line)
        if found:
            reasons = [more.strip() for more in lines[index + 1 : index + 12] if more.startswith("        ")]
            verdicts[int(found["target"].rsplit(":", 1)[1])] = " ".join([found["verdict"], *reasons])
    return verdicts


@pytest.fixture(scope="module")
def verdicts(podman_host, tmp_path_factory) -> dict[tuple[str, int], str]:
    result = {}
    for name in MAIL_HOSTS:
        ca_file = tmp_path_factory.mktemp(name) / "lab-ca.pem"
        ca_file.write_text(podman_host(name).file(LAB_CA).content_string)
        result |= {(name, port): verdict for port, verdict in _scan(name, PORTS[name], ca_file).items()}
    return result


@pytest.mark.parametrize(("name", "port"), CASES, ids=[f"{name}-{port}" for name, port in CASES])
def test_sslyze_finds_port_compliant_with_mozilla_intermediate(verdicts, name, port):
    verdict = verdicts.get((name, port), "no verdict")
    assert verdict.startswith("OK - Compliant"), f"{name}:{port}: sslyze says {verdict}"
