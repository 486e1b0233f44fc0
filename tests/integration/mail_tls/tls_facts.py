# SPDX-License-Identifier: MIT
"""What the mail_tls scenario (molecule/mail_tls) deploys where, and helpers to look at it."""

from __future__ import annotations

from cryptography import x509
from harness import tree_state

TLS_DIR = "/etc/ssl/mailfort"
CERT = f"{TLS_DIR}/cert.pem"
CHAIN = f"{TLS_DIR}/chain.pem"
FULLCHAIN = f"{TLS_DIR}/fullchain.pem"
KEY = f"{TLS_DIR}/private/key.pem"
LAB_CA = f"{TLS_DIR}/lab-ca/ca.pem"
LAB_CA_KEY = f"{TLS_DIR}/lab-ca/private/ca-key.pem"

# The scenario's hosts and what each was given (molecule/mail_tls/molecule.yml).
LAB_CA_HOSTS = {
    "mailfort-tls-bookworm": ["mx.lab.mailfort.test", "mail.lab.mailfort.test"],
    "mailfort-tls-trixie": ["mx.lab.mailfort.test", "mail.lab.mailfort.test"],
}
PROVIDED_HOSTS = {"mailfort-tls-provided": ["smtp.provided.mailfort.test", "imap.provided.mailfort.test"]}
CLIENT = "mailfort-tls-client"


def host_name(host) -> str:
    return host.backend.name


def is_lab_ca(host) -> bool:
    return host_name(host) in LAB_CA_HOSTS


def expected_sans(host) -> list[str]:
    return {**LAB_CA_HOSTS, **PROVIDED_HOSTS}[host_name(host)]


def load_certs(pem: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem.encode())


def tls_dir_state(host) -> str:
    """Every file below the TLS directory with its mode, owner, inode, mtime and content digest."""
    return tree_state(host, [TLS_DIR], CERT)
