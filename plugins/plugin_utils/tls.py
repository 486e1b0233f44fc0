# SPDX-License-Identifier: MIT
"""TLS filters for mailfort: one TLS policy for Postfix and Dovecot, and checks for user-supplied certificates.

The policy follows Mozilla's Server Side TLS guideline 6.0
(https://ssl-config.mozilla.org/guidelines/6.0.json). Parameter names and value syntax were checked against the
daemons' own sources: Postfix ``src/tls/tls_dh.c`` and ``src/tls/tls_misc.c`` and its HISTORY file, Dovecot 2.3
``src/lib-master/master-service-ssl-settings.c`` and Dovecot 2.4 ``src/lib-ssl-iostream/ssl-settings.c``, and
Mozilla's generator templates (``src/js/helpers/postfix.js`` and ``dovecot.js`` in mozilla/ssl-config-generator).
The Postfix and Dovecot 2.3 values were also run through Debian 12's own binaries (postconf and posttls-finger from
Postfix 3.7.11, doveconf from Dovecot 2.3.19.1): no warning, and the expected warning for each negative control.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.common import error, propagate_undefined, show, whole_number
from ansible_collections.mailfort.mail.plugins.plugin_utils.libraries import require
from ansible_collections.mailfort.mail.plugins.plugin_utils.names import dns_name
from ansible_collections.mailfort.mail.plugins.plugin_utils.pem import PemFramingError, pem_blocks

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
except ImportError:  # mail_tls_check_bundle names the package to install when it runs (libraries.require)
    pass

# Several filters live in this one file, so each filter's documentation is one entry of these YAML mappings, keyed
# by the filter's name (ansible-doc itself only reads per-filter sidecar files named <filter>.yml).
MOZILLA_GUIDELINE_VERSION = "6.0"

_TLS13_CIPHERSUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
_TLS12_INTERMEDIATE = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
)
_GROUPS = ("X25519", "prime256v1", "secp384r1")
# Keeps these out even if a site overrides tls_high_cipherlist; the allow-list above holds none of them.
_POSTFIX_EXCLUDED_CIPHERS = ("aNULL", "eNULL", "kRSA", "kDHE", "SHA1")

_PROFILES: dict[str, dict[str, Any]] = {
    "intermediate": {"protocols": ("TLSv1.2", "TLSv1.3"), "tls12_ciphers": _TLS12_INTERMEDIATE},
    "modern": {"protocols": ("TLSv1.3",), "tls12_ciphers": ()},
}
# Mozilla 6.0 sets server_preferred_order to false for both profiles.
_SERVER_PREFERENCE = False

_POSTFIX_MIN_VERSION = (3, 6)  # ">=TLSv1.2" protocol syntax
_POSTFIX_FFDHE_GROUPS_SINCE = (3, 8)  # tls_ffdhe_auto_groups
_POSTFIX_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.\d+)?(?:[-+~][0-9A-Za-z.+~-]*)?", re.ASCII)

_EC_CURVES = frozenset({"secp256r1", "secp384r1"})  # P-256 and P-384
_RSA_MIN_BITS = 2048
_ONE_DAY = dt.timedelta(days=1)


# ---------------------------------------------------------------------------------------------------- helpers


# ---------------------------------------------------------------------------------------------- TLS policy


def _postfix_version(value: Any) -> tuple[int, int] | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        raise error(
            "mail_tls_policy",
            "postfix_version",
            f"is the number {value!r}; quote it (3.10 as a number is 3.1), for example '3.10.1'",
        )
    if not isinstance(value, str):
        raise error("mail_tls_policy", "postfix_version", f"must be a string such as '3.7.11', got {show(value)}")
    match = _POSTFIX_VERSION_RE.fullmatch(value.strip())
    if match is None:
        raise error("mail_tls_policy", "postfix_version", f"= {show(value)} is not a version such as '3.7.11'")
    version = (int(match.group(1)), int(match.group(2)))
    if version < _POSTFIX_MIN_VERSION:
        raise error(
            "mail_tls_policy",
            "postfix_version",
            f"= {show(value)} is too old: the protocol syntax '>=TLSv1.2' needs Postfix 3.6 or later",
        )
    return version


def _postfix_settings(protocols: tuple[str, ...], tls12: tuple[str, ...], version: tuple[int, int] | None) -> dict:
    min_protocol = f">={protocols[0]}"
    settings = {
        # Opportunistic TLS (port 25) and mandatory TLS (submission with smtpd_tls_security_level=encrypt).
        "smtpd_tls_protocols": min_protocol,
        "smtpd_tls_mandatory_protocols": min_protocol,
    }
    if tls12:
        settings.update(
            {
                "smtpd_tls_ciphers": "high",
                "smtpd_tls_mandatory_ciphers": "high",
                "tls_high_cipherlist": ":".join(tls12),
                "smtpd_tls_exclude_ciphers": ", ".join(_POSTFIX_EXCLUDED_CIPHERS),
            }
        )
    settings.update(
        {
            "tls_preempt_cipherlist": "yes" if _SERVER_PREFERENCE else "no",
            "tls_ssl_options": "NO_COMPRESSION, NO_RENEGOTIATION",
            "tls_eecdh_auto_curves": " ".join(_GROUPS),
        }
    )
    if version is not None and version >= _POSTFIX_FFDHE_GROUPS_SINCE:
        # Empty: no finite-field group joins the TLS 1.3 group list (Postfix 3.8+ adds ffdhe2048/3072 by default).
        settings["tls_ffdhe_auto_groups"] = ""
    return settings


def _dovecot_settings(protocols: tuple[str, ...], tls12: tuple[str, ...], release: str) -> dict:
    settings = {"ssl_min_protocol": protocols[0]}
    if tls12:
        # Only with TLS 1.2 enabled: an empty list would make OpenSSL refuse the whole context.
        settings["ssl_cipher_list"] = ":".join(tls12)
    settings["ssl_cipher_suites"] = ":".join(_TLS13_CIPHERSUITES)  # Dovecot 2.3.15 and later
    settings["ssl_curve_list"] = ":".join(_GROUPS)
    if release == "2.3":
        settings["ssl_prefer_server_ciphers"] = "yes" if _SERVER_PREFERENCE else "no"
    else:
        settings["ssl_server_prefer_ciphers"] = "server" if _SERVER_PREFERENCE else "client"
    # 2.3 takes no_compression; 2.4 has compression off by default and refuses that flag (see DOCUMENTATION).
    settings["ssl_options"] = "no_compression" if release == "2.3" else ""
    return settings


def mail_tls_policy(profile: str, varname: str = "mail_tls_profile", postfix_version: str | None = None) -> dict:
    """Exact Postfix and Dovecot TLS settings for a Mozilla 6.0 profile name."""
    propagate_undefined(profile, varname, postfix_version)
    valid = ", ".join(sorted(_PROFILES))
    if not isinstance(profile, str) or profile not in _PROFILES:
        raise error("mail_tls_policy", varname, f"= {show(profile)} is not a TLS profile; use one of: {valid}")
    version = _postfix_version(postfix_version)
    spec = _PROFILES[profile]
    protocols: tuple[str, ...] = spec["protocols"]
    tls12: tuple[str, ...] = spec["tls12_ciphers"]
    policy = {
        "profile": profile,
        "min_protocol": protocols[0],
        "protocols": list(protocols),
        "tls12_ciphers": list(tls12),
        "tls13_ciphersuites": list(_TLS13_CIPHERSUITES),
        "groups": list(_GROUPS),
        "server_preference": _SERVER_PREFERENCE,
        "postfix": _postfix_settings(protocols, tls12, version),
        "dovecot": {release: _dovecot_settings(protocols, tls12, release) for release in ("2.3", "2.4")},
    }
    # Built fresh each call already; the deep copy guards against a future shared constant sneaking in.
    return copy.deepcopy(policy)


# ------------------------------------------------------------------------------------------ bundle checks

_BUNDLE = "mail_tls_check_bundle"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _pem_bytes(value: Any, var: str, *, optional: bool) -> bytes:
    if value is None and optional:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    raise error(_BUNDLE, var, f"must be PEM text (a string), got a value of type {type(value).__name__}")


def _pem_blocks(data: bytes, var: str) -> list[tuple[str, bytes]]:
    """(label, whole block) for every PEM block; never echoes the data."""
    try:
        return pem_blocks(data)
    except PemFramingError as broken:
        raise error(_BUNDLE, var, str(broken)) from None


def _load_certificates(value: Any, var: str, *, optional: bool) -> list[x509.Certificate]:
    data = _pem_bytes(value, var, optional=optional)
    if optional and not data.strip():
        return []
    blocks = _pem_blocks(data, var)
    if any("PRIVATE KEY" in label for label, _ in blocks):
        # Said without showing anything of the value: it holds a secret that must not reach a log.
        raise error(_BUNDLE, var, "contains a private key; certificates only here, the key belongs in the key variable")
    if not blocks:
        raise error(_BUNDLE, var, "holds no PEM certificate (expected '-----BEGIN CERTIFICATE-----' blocks)")
    certificates = []
    for index, (label, block) in enumerate(blocks, start=1):
        if label != "CERTIFICATE":
            raise error(_BUNDLE, var, f"PEM block {index} is a {label!r} block, expected 'CERTIFICATE'")
        try:
            certificates.append(x509.load_pem_x509_certificate(block))
        except ValueError:
            # "from None": the parser's own words (ASN.1 tags and offsets) help no one who pasted a certificate.
            raise error(
                _BUNDLE,
                var,
                f"PEM block {index} (BEGIN CERTIFICATE) is not a valid X.509 certificate: what lies between its "
                "BEGIN and END lines is damaged or is not a certificate (a truncated or re-wrapped paste?)",
            ) from None
    return certificates


def _load_private_key(value: Any, var: str) -> Any:
    data = _pem_bytes(value, var, optional=False)
    key_blocks = [(label, block) for label, block in _pem_blocks(data, var) if label.endswith("PRIVATE KEY")]
    if not key_blocks:
        raise error(_BUNDLE, var, "holds no PEM private key (no 'BEGIN ... PRIVATE KEY' block)")
    if len(key_blocks) > 1:
        raise error(_BUNDLE, var, f"holds {len(key_blocks)} private keys; give exactly one")
    label, block = key_blocks[0]
    encrypted_message = (
        "is an encrypted private key; Postfix and Dovecot start unattended and need it unencrypted "
        "(protect the file with owner root and mode 0600, and vault the variable)"
    )
    if label == "ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in block:
        raise error(_BUNDLE, var, encrypted_message)
    # Key errors are raised "from None", not "from e" as elsewhere: ansible-core 2.19 prints an error's cause, and
    # a parser's message about a key is not something that may reach a log.
    try:
        return serialization.load_pem_private_key(block, password=None)
    except TypeError:
        raise error(_BUNDLE, var, encrypted_message) from None
    except (ValueError, UnsupportedAlgorithm):
        raise error(
            _BUNDLE, var, "could not be read as a PEM private key (PKCS#8 or traditional RSA/EC format)"
        ) from None


def _key_facts(key: Any, var: str) -> tuple[str, int]:
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < _RSA_MIN_BITS:
            raise error(_BUNDLE, var, f"is an RSA key of {key.key_size} bits; at least {_RSA_MIN_BITS} are needed")
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in _EC_CURVES:
            raise error(_BUNDLE, var, f"is an EC key on curve {key.curve.name}; only P-256 and P-384 are accepted")
        return "EC", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "Ed25519", 256
    key_class = type(key).__name__.removeprefix("_")
    raise error(_BUNDLE, var, f"has the unsupported key type {key_class}; only RSA, EC (P-256, P-384) and Ed25519 work")


def _spki(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _subject(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()


def _check_leaf(leaf: x509.Certificate, var: str, max_lifetime_days: int, now: dt.datetime) -> list[str]:
    """Leaf rules: not a CA, DNS names in subjectAltName, valid now, lifetime. Returns the DNS names."""
    name = _subject(leaf)
    try:
        is_ca = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if is_ca:
        raise error(_BUNDLE, var, f"({name}) is a CA certificate (basicConstraints CA:TRUE); a leaf is needed")
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as e:
        raise error(_BUNDLE, var, f"({name}) has no subjectAltName; clients ignore the CN, a DNS name is needed") from e
    dns_names = san.get_values_for_type(x509.DNSName)
    if not dns_names:
        raise error(_BUNDLE, var, f"({name}) has a subjectAltName without any DNS name")
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if now < not_before:
        raise error(_BUNDLE, var, f"({name}) is not valid yet: notBefore is {not_before.isoformat()}")
    if now > not_after:
        raise error(_BUNDLE, var, f"({name}) has expired: notAfter was {not_after.isoformat()}")
    lifetime = not_after - not_before
    if lifetime > dt.timedelta(days=max_lifetime_days):
        raise error(
            _BUNDLE,
            var,
            f"({name}) has a lifetime of {math.ceil(lifetime / _ONE_DAY)} days "
            f"({not_before.isoformat()} to {not_after.isoformat()}); at most {max_lifetime_days} are allowed",
        )
    return dns_names


def _verify_link(child: x509.Certificate, issuer: x509.Certificate, child_var: str, issuer_var: str) -> None:
    try:
        child.verify_directly_issued_by(issuer)
    except InvalidSignature as e:
        problem = "its signature does not verify with that certificate's key"
        raise error(_BUNDLE, issuer_var, f"({_subject(issuer)}) did not sign {child_var}: {problem}") from e
    except ValueError as e:
        problem = f"the issuer of {child_var} is {child.issuer.rfc4514_string()}"
        raise error(_BUNDLE, issuer_var, f"({_subject(issuer)}) did not issue {child_var}: {problem}") from e
    except TypeError as e:
        raise error(_BUNDLE, issuer_var, f"({_subject(issuer)}) has a key type that cannot verify {child_var}") from e


def _check_chain(
    leaf: x509.Certificate, chain: list[x509.Certificate], ca: x509.Certificate | None, names: dict[str, str]
) -> None:
    chain_var = names["chain"]
    if chain and _der(chain[0]) == _der(leaf):
        raise error(
            _BUNDLE, chain_var, f"starts with {names['cert']} itself; give only the intermediates, leaf issuer first"
        )
    labels = [names["cert"]] + [f"{chain_var}[{index}]" for index in range(len(chain))]
    links = [leaf, *chain]
    for index in range(1, len(links)):
        _verify_link(links[index - 1], links[index], labels[index - 1], labels[index])
    top, top_label = links[-1], labels[-1]
    if ca is not None:
        if _der(top) != _der(ca):
            _verify_link(top, ca, top_label, names["ca"])
    elif top.issuer == top.subject:
        # A self-signed top is a root sent along: its own signature must verify.
        _verify_link(top, top, top_label, top_label)


def mail_tls_check_bundle(  # noqa: PLR0917 -- Ansible passes filter arguments positionally, as documented
    cert_pem: str | bytes,
    key_pem: str | bytes,
    chain_pem: str | bytes | None = "",
    ca_pem: str | bytes | None = "",
    max_lifetime_days: int = 366,
    varname: str = "mail_tls",
    names: dict[str, str] | None = None,
) -> dict:
    """Validate a certificate, key, chain and optional CA; return facts about them that are safe to print."""
    propagate_undefined(cert_pem, key_pem, chain_pem, ca_pem, max_lifetime_days, varname, names)
    require("cryptography", _BUNDLE)
    # The variables the user wrote, for the messages: VARNAME_cert and so on unless NAMES says otherwise.
    names = {part: f"{varname}_{part}" for part in ("cert", "key", "chain", "ca")} | dict(names or {})
    max_days = whole_number(max_lifetime_days)
    if max_days is None or max_days < 1:
        raise error(_BUNDLE, "max_lifetime_days", f"= {show(max_lifetime_days)} must be a whole number of days >= 1")

    cert_var, key_var = names["cert"], names["key"]
    certificates = _load_certificates(cert_pem, cert_var, optional=False)
    if len(certificates) != 1:
        raise error(
            _BUNDLE,
            cert_var,
            f"holds {len(certificates)} certificates; give only the leaf here and the intermediates in "
            f"{names['chain']}",
        )
    leaf = certificates[0]
    key = _load_private_key(key_pem, key_var)
    key_type, key_bits = _key_facts(key, key_var)
    if _spki(key.public_key()) != _spki(leaf.public_key()):
        raise error(_BUNDLE, key_var, f"does not belong to {cert_var} ({_subject(leaf)}): the public keys differ")

    now = _utcnow()
    sans = _check_leaf(leaf, cert_var, max_days, now)

    chain = _load_certificates(chain_pem, names["chain"], optional=True)
    cas = _load_certificates(ca_pem, names["ca"], optional=True)
    if len(cas) > 1:
        raise error(_BUNDLE, names["ca"], f"holds {len(cas)} certificates; give exactly one trust anchor")
    _check_chain(leaf, chain, cas[0] if cas else None, names)

    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    return {
        "subject": _subject(leaf),
        "issuer": leaf.issuer.rfc4514_string(),
        "sans": list(dict.fromkeys(name.lower() for name in sans)),  # DNS names compare case-insensitively
        "not_before": not_before.isoformat(),
        "not_after": not_after.isoformat(),
        "lifetime_days": math.ceil((not_after - not_before) / _ONE_DAY),
        "days_left": (not_after - now) // _ONE_DAY,
        "key_type": key_type,
        "key_bits": key_bits,
        "fingerprint_sha256": leaf.fingerprint(hashes.SHA256()).hex(":").upper(),
        "chain_length": len(chain),
    }


# ----------------------------------------------------------------------------------- generated certificates


def mail_tls_check_lifetime(days: Any, varname: str = "mail_tls_lifetime_days", maximum: int = 366) -> int:
    """A certificate lifetime in days: a whole number from 1 to maximum."""
    propagate_undefined(days, varname, maximum)
    limit = whole_number(maximum)
    if limit is None or limit < 1:
        raise error("mail_tls_check_lifetime", "maximum", f"= {show(maximum)} must be a whole number >= 1")
    value = whole_number(days)
    if value is None:
        raise error("mail_tls_check_lifetime", varname, f"= {show(days)} must be a whole number of days")
    if not 1 <= value <= limit:
        raise error("mail_tls_check_lifetime", varname, f"= {value} must be between 1 and {limit} days")
    return value


def mail_tls_check_sans(names: Any, varname: str = "mail_tls_san_dns") -> list[str]:
    """Validate DNS names for a subjectAltName; return them lower-cased, deduplicated, in order."""
    propagate_undefined(names, varname)
    if isinstance(names, str | bytes):
        raise error("mail_tls_check_sans", varname, f"= {show(names)} must be a list of host names, not one string")
    if not isinstance(names, list | tuple):
        raise error("mail_tls_check_sans", varname, f"must be a list of host names, got {type(names).__name__}")
    if not names:
        raise error("mail_tls_check_sans", varname, "is empty; a certificate needs at least one DNS name")
    result: dict[str, None] = {}
    for index, name in enumerate(names):
        propagate_undefined(name)
        if not isinstance(name, str):
            raise error("mail_tls_check_sans", f"{varname}[{index}]", f"= {show(name)} must be a string")
        host, problem = dns_name(name, wildcard=True)
        if host is None:
            raise error(
                "mail_tls_check_sans", f"{varname}[{index}]", f"= {show(name)} is not a valid DNS host name: {problem}"
            )
        result.setdefault(host, None)
    return list(result)


def _covers(san: str, name: str) -> bool:
    san_labels, name_labels = san.lower().split("."), name.lower().rstrip(".").split(".")
    if len(san_labels) != len(name_labels):
        return False
    if san_labels[0] == "*":
        return san_labels[1:] == name_labels[1:]
    return san_labels == name_labels


def mail_tls_uncovered_names(names: Any, sans: Any) -> list[str]:
    """Return the names that none of the certificate's DNS names (wildcards included) covers."""
    propagate_undefined(names, sans)
    for value, what in ((names, "the names to check"), (sans, "sans")):
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise error("mail_tls_uncovered_names", what, f"must be a list of host names, got {show(value)}")
        for entry in value:
            propagate_undefined(entry)
            if not isinstance(entry, str):
                raise error("mail_tls_uncovered_names", what, f"holds {show(entry)}, which is not a string")
    return [name for name in names if not any(_covers(san, name) for san in sans)]
