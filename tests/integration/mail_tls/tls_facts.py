# SPDX-License-Identifier: MIT
"""What mail_tls deploys where in the lab (tests/integration/lab.py), and helpers to look at it.

MX1 and MX2 get a certificate from the lab CA through site.yml; the provided host (lab.PROVIDED) gets the one of the
PKI that molecule/lab/prepare.yml makes on the controller, through playbooks/postfix_hardening.yml.
"""

from __future__ import annotations

import base64
import json
import posixpath

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from harness import tree_state
from lab import ADDRESSES, CLIENT_NAME, LAB_CA, MAIL_HOSTS, MTA_STS_NAME, NAMES, PROVIDED, STATE_DIR
from probes import PREAMBLE, encode, probe_spec

TLS_DIR = "/etc/ssl/mailfort"
CERT = f"{TLS_DIR}/cert.pem"
CHAIN = f"{TLS_DIR}/chain.pem"
FULLCHAIN = f"{TLS_DIR}/fullchain.pem"
KEY = f"{TLS_DIR}/private/key.pem"
# The key mail_tls keeps ready for the next rollover (mail_tls_next_key_enabled, on by default).
NEXT_KEY = f"{TLS_DIR}/private/next-key.pem"
LAB_CA_DIR = posixpath.dirname(LAB_CA)
LAB_CA_KEY = f"{LAB_CA_DIR}/private/ca-key.pem"

# The names on each lab CA host's certificate, in order (mail_tls_san_dns in group_vars/mail_servers.yml).
LAB_CA_HOSTS = {name: [NAMES[name], CLIENT_NAME, MTA_STS_NAME] for name in MAIL_HOSTS}
# The names on the provided certificate, in order: those of the leaf molecule/lab/prepare.yml signs. The host's
# mail_tls_san_dns names only the first, which the role checks the certificate covers.
PROVIDED_NAMES = [NAMES[PROVIDED], "imap.provided.mailfort.test"]
# The provided host's PKI on the controller: root.pem (the trust anchor, never deployed), intermediate.pem (the
# chain), leaf.pem and their keys.
PROVIDED_PKI = STATE_DIR / "pki"

# The daemons that serve the certificate, each on its implicit-TLS port (on by default in both roles).
SUBMISSIONS_PORT = 465  # Postfix
IMAPS_PORT = 993  # Dovecot
TLS_PORTS = {"submissions": SUBMISSIONS_PORT, "imaps": IMAPS_PORT}
# A name no certificate of the lab carries.
FOREIGN_NAME = "www.example.com"


def load_certs(pem: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem.encode())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def secret_lines(key_pem: str, *public_pems: str) -> list[str]:
    """The key's PEM lines that carry private material, to look for in a playbook's output.

    An EC key's encoding ends with its public point, which the key's public half (SPKI) and a certificate for it
    carry too, and both may be printed; a line that also stands in their base64 is therefore not a leak.
    """
    key = serialization.load_pem_private_key(key_pem.encode(), None)
    spki = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    public = "".join(
        line for pem in (spki.decode(), *public_pems) for line in pem.splitlines() if not line.startswith("-----")
    )
    lines = [line for line in key_pem.splitlines() if line and not line.startswith("-----") and line not in public]
    assert lines, "no private key material to look for"
    return lines


def tls_dir_state(host) -> str:
    """Every file below the TLS directory with its mode, owner, inode, mtime and content digest."""
    return tree_state(host, [TLS_DIR], CERT)


# Runs on the client: one TLS handshake per server name on the port, each verifying the served chain against the
# spec's anchor and the name, as a mail client with certificate checking does; says which certificate was served.
SERVED_CERTIFICATE_PROBE = (
    PREAMBLE
    + """
results = []
for server_name in spec["server_names"]:
    try:
        with socket.create_connection((spec["address"], spec["port"]), timeout=10) as sock:
            with tls_context().wrap_socket(sock, server_hostname=server_name) as tls:
                leaf = base64.b64encode(tls.getpeercert(binary_form=True)).decode()
                results.append({"outcome": "verified", "version": tls.version(), "leaf": leaf})
    except ssl.SSLCertVerificationError as error:
        results.append({"outcome": "unverified", "reason": error.verify_message})
    except (ssl.SSLError, OSError) as error:
        results.append({"outcome": "failed", "error": repr(error)})
print(json.dumps(results))
"""
)


def served_certificates(client, spec: dict, port: int, server_names: list[str]) -> dict[str, dict]:
    """For each server name, what a verifying client gets on the port: the outcome, and the served leaf (DER) when
    the chain and the name verified. SPEC says where the host is and which anchor to trust (probes.probe_spec)."""
    result = client.run(
        "python3 -c %s %s", SERVED_CERTIFICATE_PROBE, encode({**spec, "port": port, "server_names": server_names})
    )
    assert result.rc == 0, f"the handshake probe against {spec['address']}:{port} failed:\n{result.stderr[-3000:]}"
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    for outcome in outcomes:
        if "leaf" in outcome:
            outcome["leaf"] = base64.b64decode(outcome["leaf"])
    return dict(zip(server_names, outcomes, strict=True))


def lab_ca_spec(host) -> dict:
    """How a client finds a lab CA host and trusts it: its address and name, and the lab CA it carries."""
    return probe_spec(host)


def provided_spec() -> dict:
    """How a client finds the provided host and trusts it: its address and name, and the PKI's root, which stays on
    the controller as a public CA's root would."""
    return {
        "address": ADDRESSES[PROVIDED],
        "name": NAMES[PROVIDED],
        "anchor": (PROVIDED_PKI / "root.pem").read_text(),
    }
