# SPDX-License-Identifier: MIT
"""The DNS records that publish keys: the DKIM key record (RFC 6376, RFC 8301, RFC 8463) and DANE TLSA (RFC 6698,
RFC 7672).

Both read PEM text by the collection's shared reader (pem) and refuse private keys before reading anything: they
publish public material only, and never echo the text. cryptography is needed on the controller only by these two
filters (libraries.require); every other DNS filter loads and works without it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.common import (
    PORT_MAX,
    propagate_undefined,
    show,
    whole_number,
)
from ansible_collections.mailfort.mail.plugins.plugin_utils.dns_records import (
    checked_spec,
    checked_ttl,
    domain_name,
    owner_name,
    record_error,
    record_subject,
    txt_record,
)
from ansible_collections.mailfort.mail.plugins.plugin_utils.libraries import require
from ansible_collections.mailfort.mail.plugins.plugin_utils.names import dns_name
from ansible_collections.mailfort.mail.plugins.plugin_utils.pem import PemFramingError, pem_blocks

# mail_dns_dkim and mail_dns_tlsa name the package to install when they run (libraries.require).
with contextlib.suppress(ImportError):
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

_DKIM = "mail_dns_dkim"
_TLSA = "mail_dns_tlsa"


# ------------------------------------------------------------------------------------------------- PEM

_PRIVATE_KEY_MESSAGE = "holds a private key; never pass private keys, give the public key or the certificate"


def _pem_blocks(filter_name: str, record: str, what: str, value: Any) -> list[tuple[str, bytes]]:
    """(label, whole block) of every PEM block, by the shared reader; never shows the text, which may be a secret.

    Private keys are refused before any block is read: the DNS filters publish public material only.
    """
    if not isinstance(value, str):
        raise record_error(filter_name, record, f"{what} must be PEM text (a string), got a {type(value).__name__}")
    if "PRIVATE KEY" in value:
        raise record_error(filter_name, record, f"{what} {_PRIVATE_KEY_MESSAGE}")
    try:
        blocks = pem_blocks(value)
    except PemFramingError as broken:
        raise record_error(filter_name, record, f"{what} {broken}") from None
    if not blocks:
        raise record_error(filter_name, record, f"{what} is not PEM text: it has no '-----BEGIN <type>-----' block")
    return blocks


# ------------------------------------------------------------------------------------------------ DKIM

_DKIM_KEYS = ("domain", "selector", "public_key", "testing", "service")
_DKIM_SERVICES = ("email", "*")
_DKIM_RSA_MIN = 2048
_DKIM_RSA_MAX = 4096


def _dkim_selector(record: str, value: Any) -> str:
    # The shared DNS rule, as mail_dkim_keys reads the same selector: one label or more, and all digits (2024) is
    # allowed, since a selector is never read as an address.
    selector, problem = dns_name(value, min_labels=1, domain=False)
    if selector is None:
        raise record_error(
            _DKIM,
            record,
            f"the selector {show(value)} is not dot-separated labels of letters, digits and inner hyphens "
            f"(RFC 6376 section 3.1): {problem}",
        )
    return selector


def _dkim_key(record: str, value: Any) -> tuple[str, int, bytes]:
    """(algorithm, bits, the bytes p= carries) of a PEM public key."""
    blocks = _pem_blocks(_DKIM, record, "public_key", value)
    if len(blocks) != 1 or blocks[0][0] != "PUBLIC KEY":
        labels = ", ".join(label for label, _ in blocks)
        raise record_error(
            _DKIM,
            record,
            f"public_key holds {labels}; give exactly one '-----BEGIN PUBLIC KEY-----' block "
            "(openssl pkey -pubout writes it)",
        )
    try:
        key = serialization.load_pem_public_key(blocks[0][1])
    except (ValueError, UnsupportedAlgorithm) as e:
        raise record_error(_DKIM, record, "public_key is not a readable PEM SubjectPublicKeyInfo public key") from e
    if isinstance(key, rsa.RSAPublicKey):
        bits = key.key_size
        if bits < _DKIM_RSA_MIN:
            raise record_error(
                _DKIM,
                record,
                f"the RSA key has {bits} bits: RFC 8301 section 3.2 requires at least 1024, mailfort "
                f"requires {_DKIM_RSA_MIN}",
            )
        if bits > _DKIM_RSA_MAX:
            raise record_error(
                _DKIM,
                record,
                f"the RSA key has {bits} bits: RFC 8301 section 3.2 has verifiers handle keys up to "
                f"{_DKIM_RSA_MAX} bits only, and larger keys hardly fit a DNS answer",
            )
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return "rsa", bits, der
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256, key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_type = f"an EC key on {key.curve.name}" if isinstance(key, ec.EllipticCurvePublicKey) else type(key).__name__
    raise record_error(
        _DKIM,
        record,
        f"public_key holds {key_type}; DKIM knows RSA (RFC 6376 section 3.3) and Ed25519 (RFC 8463) keys only",
    )


def mail_dns_dkim(key: dict, ttl: int = 3600) -> dict[str, Any]:
    """The DKIM key record of a selector: name, TXT text from the PEM public key, its algorithm and size."""
    require("cryptography", _DKIM)
    propagate_undefined(key, ttl)
    spec = checked_spec(_DKIM, "DKIM record", key, _DKIM_KEYS)
    domain, record = record_subject(_DKIM, "DKIM record", spec.get("domain"))
    for required in ("selector", "public_key"):
        if required not in spec:
            raise record_error(_DKIM, record, f"the key {required!r} is missing")
    selector = _dkim_selector(record, spec["selector"])
    name = f"{selector}._domainkey.{domain}"
    record = f"DKIM record {name}"
    owner = owner_name(_DKIM, record, name)
    ttl = checked_ttl(_DKIM, record, ttl)
    testing = spec.get("testing", False)
    if not isinstance(testing, bool):
        raise record_error(_DKIM, record, f"testing = {show(testing)} must be true or false")
    service = spec.get("service")
    if service is not None and service not in _DKIM_SERVICES:
        raise record_error(
            _DKIM, record, f"service = {show(service)} must be one of {list(_DKIM_SERVICES)} (RFC 6376 section 3.6.1)"
        )
    algorithm, bits, key_bytes = _dkim_key(record, spec["public_key"])
    tags = ["v=DKIM1", f"k={algorithm}"]
    if service is not None:
        tags.append(f"s={service}")
    if testing:
        tags.append("t=y")
    tags.append("p=" + base64.b64encode(key_bytes).decode("ascii"))
    return txt_record(owner, ttl, "; ".join(tags), "v=DKIM1", algorithm=algorithm, bits=bits)


# ------------------------------------------------------------------------------------------------ TLSA

_TLSA_PROTOCOLS = ("tcp", "udp", "sctp")


def _tlsa_spki(record: str, index: int, pem: Any) -> bytes:
    """The DER SubjectPublicKeyInfo of a certificate (the first of a chain) or a public key."""
    what = f"pems[{index}]"
    blocks = _pem_blocks(_TLSA, record, what, pem)
    label, block = blocks[0]
    labels = {label for label, _ in blocks}
    if labels - {"CERTIFICATE"} and len(blocks) > 1:
        raise record_error(
            _TLSA,
            record,
            f"{what} holds {len(blocks)} PEM blocks ({', '.join(sorted(labels))}); give one public key, "
            "or one certificate or chain",
        )
    if label not in ("CERTIFICATE", "PUBLIC KEY"):
        raise record_error(_TLSA, record, f"{what} is a {label!r} PEM block; give a CERTIFICATE or a PUBLIC KEY")
    try:
        if label == "CERTIFICATE":
            key = x509.load_pem_x509_certificate(block).public_key()
        else:
            key = serialization.load_pem_public_key(block)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise record_error(_TLSA, record, f"{what} is a {label} PEM block that cannot be read") from e
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def mail_dns_tlsa(
    pems: list,
    host: str,
    port: int = 25,
    protocol: str = "tcp",
    ttl: int = 3600,
) -> dict[str, Any]:
    """The DANE TLSA record (3 1 1) of a host's port for each certificate or public key."""
    require("cryptography", _TLSA)
    propagate_undefined(pems, host, port, protocol, ttl)
    name, problem = domain_name(host)
    number = whole_number(port)
    label = f"TLSA record _{port}._{protocol}.{name or host}"
    if name is None:
        raise record_error(_TLSA, label, f"the host {problem}")
    if number is None or not 1 <= number <= PORT_MAX:
        raise record_error(_TLSA, label, f"port = {show(port)} is not a port number (1 to {PORT_MAX})")
    if protocol not in _TLSA_PROTOCOLS:
        raise record_error(_TLSA, label, f"protocol = {show(protocol)} must be one of {list(_TLSA_PROTOCOLS)}")
    owner = f"_{number}._{protocol}.{name}"
    record = f"TLSA record {owner}"
    ttl = checked_ttl(_TLSA, record, ttl)
    if isinstance(pems, str | bytes) or not isinstance(pems, list | tuple):
        raise record_error(
            _TLSA, record, f"the input must be a list of PEM certificates or public keys, got {type(pems).__name__}"
        )
    if not pems:
        raise record_error(_TLSA, record, "the list of certificates and public keys is empty; a TLSA record needs one")
    values: dict[str, None] = {}
    for index, pem in enumerate(pems):
        digest = hashlib.sha256(_tlsa_spki(record, index, pem)).hexdigest()
        values.setdefault(f"3 1 1 {digest}", None)
    return {"name": owner_name(_TLSA, record, owner), "type": "TLSA", "ttl": ttl, "values": list(values)}
