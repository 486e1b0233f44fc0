# SPDX-License-Identifier: MIT
"""Probes a client container runs against the mail hosts of the lab, and the helpers that run them.

The probes are Python scripts for the client (Debian 12, standard library only). Each takes one argument, a
base64-encoded JSON spec with the mail host's address, the certificate's name and the lab CA (the trust anchor),
and prints one line of JSON. Every connection checks the certificate chain and name, as a mail client does.
A suite builds its own probes on PREAMBLE (dovecot_facts.py: IMAP and POP3; postfix_facts.py: SMTP).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from lab import ADDRESSES, LAB_CA, NAMES

# Each probe names the host by its own name in DNS (the first name of its certificate, lab.NAMES) and trusts the CA
# that signed it: the lab CA that mail_tls puts next to the certificate (lab.LAB_CA), unless a spec says otherwise.

# Every probe starts with this: the spec, the certificate's name resolved to the mail host's address, and a TLS
# context that verifies as a mail client does.
PREAMBLE = """
import base64, json, socket, ssl, sys, time, warnings
warnings.simplefilter("ignore", DeprecationWarning)  # ssl.TLSVersion.TLSv1_1: old on purpose
spec = json.loads(base64.b64decode(sys.argv[1]))
_connect = socket.create_connection


def _resolve(address, *args, **kwargs):
    # The certificate's name stands for the mail host's address, as DNS would have it in production.
    name, port = address
    return _connect((spec["address"] if name == spec["name"] else name, port), *args, **kwargs)


socket.create_connection = _resolve


def tls_context(version="default", ciphers=""):
    # Full verification against the lab CA: chain and host name.
    context = ssl.create_default_context(cadata=spec["anchor"])
    if version != "default":
        context.minimum_version = context.maximum_version = getattr(ssl.TLSVersion, version)
    if ciphers:
        context.set_ciphers(ciphers)
    return context


def text(value):
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else ""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
"""

# Connects to each port (comma-separated) and says "open", "refused" (nothing listens: the kernel answers with a
# reset) or the error.
PORT_PROBE = """
import json, socket, sys
address, result = sys.argv[1], {}
for port in sys.argv[2].split(","):
    try:
        socket.create_connection((address, int(port)), timeout=5).close()
        result[port] = "open"
    except ConnectionRefusedError:
        result[port] = "refused"
    except OSError as error:
        result[port] = f"error: {error!r}"
print(json.dumps(result))
"""

# One TLS handshake per attempt ({version, ciphers}), each with its own client limits, on a port that speaks TLS
# at once. "refused" carries OpenSSL's reason, so that a test can tell the server's refusal from the client's own
# (CLIENT_SIDE_TLS_REASONS). A suite whose protocol upgrades a cleartext session first (STARTTLS) redefines
# plain_connection in its own probe.
HANDSHAKE_FUNCTIONS = """

def plain_connection():
    return socket.create_connection((spec["name"], spec["port"]), timeout=10)


def handshake(version, ciphers):
    context = tls_context(version, ciphers)  # outside the try: a cipher string the client rejects is a test bug
    try:
        with plain_connection() as sock:
            with context.wrap_socket(sock, server_hostname=spec["name"]) as tls:
                return {"outcome": "established", "version": tls.version(), "cipher": tls.cipher()[0]}
    except ssl.SSLCertVerificationError as error:
        return {"outcome": "unverified", "reason": error.verify_message}
    except ssl.SSLError as error:
        return {"outcome": "refused", "reason": error.reason, "error": str(error)}
    except OSError as error:
        return {"outcome": "unreachable", "error": repr(error)}
"""
HANDSHAKES = """

print(json.dumps([handshake(a["version"], a["ciphers"]) for a in spec["attempts"]]))
"""
TLS_PROBE = PREAMBLE + HANDSHAKE_FUNCTIONS + HANDSHAKES

# Offers each TLS 1.2 suite the client's OpenSSL knows, one per handshake, and lists those the server accepts with
# OpenSSL's description of each: key exchange (kea), authentication (auth) and whether the cipher is AEAD.
CIPHER_SCAN_PROBE = (
    PREAMBLE
    + """
offered = tls_context("TLSv1_2", "ALL:COMPLEMENTOFALL:@SECLEVEL=0").get_ciphers()
accepted = []
for suite in (s for s in offered if s["protocol"] != "TLSv1.3"):
    try:
        context = tls_context("TLSv1_2", suite["name"] + ":@SECLEVEL=0")
        with socket.create_connection((spec["name"], spec["port"]), timeout=10) as sock:
            with context.wrap_socket(sock, server_hostname=spec["name"]) as tls:
                accepted.append({k: suite[k] for k in ("name", "kea", "auth", "aead")})
    except ssl.SSLError:
        pass
print(json.dumps({"offered": len(offered), "accepted": accepted}))
"""
)

# Reasons OpenSSL gives when the client itself refuses, before the server had a say.
CLIENT_SIDE_TLS_REASONS = {"NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "NO_CIPHER_MATCH"}

# Client cipher strings for TLS_PROBE. Debian's OpenSSL on the client refuses old protocols and weak suites by
# itself at its default security level, so the probes lower it (@SECLEVEL=0) where the server must be the judge.
ANY_SUITE = "DEFAULT:@SECLEVEL=0"
# The lab certificate has an EC key (mail_tls), so the ECDSA twin of each RSA suite is the one that could be chosen.
GOOD_TLS12_SUITES = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0"
WEAK_TLS12_SUITES = {
    "finite-field DHE": "DHE-RSA-AES128-GCM-SHA256",
    "CBC with ECDHE": "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA",
}


def host_name(host) -> str:
    return host.backend.name


def address(host) -> str:
    """The host's IPv4 address on the lab network (lab.ADDRESSES)."""
    return ADDRESSES[host_name(host)]


def server_name(host) -> str:
    """The host's name in DNS, which its certificate carries first (lab.NAMES)."""
    return NAMES[host_name(host)]


def port_states(client, host, ports) -> dict[int, str]:
    """What the client finds on each TCP port of the mail host."""
    result = client.run("python3 -c %s %s %s", PORT_PROBE, address(host), ",".join(map(str, ports)))
    assert result.rc == 0, f"the port probe against {host_name(host)} failed on the client:\n{result.stderr[-3000:]}"
    return {int(port): state for port, state in json.loads(result.stdout).items()}


def probe_spec(host, **spec: Any) -> dict:
    """The part of every probe's spec that says where the mail host is and how to trust it."""
    return {"address": address(host), "name": server_name(host), "anchor": host.file(LAB_CA).content_string, **spec}


def encode(spec: dict) -> str:
    return base64.b64encode(json.dumps(spec).encode()).decode()


def run_probe(client, script: str, host, **spec: Any) -> Any:
    """Run one probe on the client against a mail host and return what it printed."""
    result = client.run("python3 -c %s %s", script, encode(probe_spec(host, **spec)))
    assert result.rc == 0, f"the probe against {host_name(host)} failed on the client:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def handshakes(client, host, port: int, *attempts: tuple[str, str], probe: str = TLS_PROBE, **spec: Any) -> list[dict]:
    """One TLS handshake per (version, cipher string) on a new connection to the port; results of TLS_PROBE (or a
    probe built like it, which may need more in its spec)."""
    attempts_spec = [{"version": v, "ciphers": c} for v, c in attempts]
    return run_probe(client, probe, host, port=port, attempts=attempts_spec, **spec)


def weak_suites(scan: dict) -> list[str]:
    """The suites a CIPHER_SCAN_PROBE found accepted without ECDHE key exchange, a certificate or AEAD."""
    return sorted(
        s["name"] for s in scan["accepted"] if s["kea"] != "kx-ecdhe" or s["auth"] == "auth-null" or not s["aead"]
    )


def refused_by_server(result: dict) -> bool:
    """A handshake result of TLS_PROBE: the server refused it, not the client's own OpenSSL."""
    return result["outcome"] == "refused" and result["reason"] not in CLIENT_SIDE_TLS_REASONS


def wait_for(check, timeout: float, interval: float = 0.5):
    """Call check until it returns something truthy or the time is up; return its last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
