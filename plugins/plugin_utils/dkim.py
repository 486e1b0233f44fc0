# SPDX-License-Identifier: MIT
"""DKIM filters for mailfort: the signing keys a host keeps, validated on the controller before the host is touched.

A key is named by its domain and selector (RFC 6376 section 3.1); the selector becomes a DNS label of its own
(``<selector>._domainkey.<domain>``), so both follow DNS host name syntax. RSA keys have 2048 bits or more (RFC 8301
section 3.2); Ed25519 keys (RFC 8463) sign beside an RSA key, because verifiers that know only RSA would otherwise
find no signature they can check. A private key supplied from the vault is parsed here with ``cryptography`` and
checked for its type and size; nothing of it ever appears in a result or an error message. OpenDKIM 2.11 signs
with one algorithm per process, so mail_dkim_signers hands each signer process the keys of its algorithm.

Names, numbers and PEM text are read by the collection's shared rules (common, names, pem), as every role reads
them. cryptography is needed on the controller only for the filter that reads keys (libraries.require).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.plugin_utils.common import error, propagate_undefined, show, whole_number
from ansible_collections.mailfort.mail.plugins.plugin_utils.libraries import require
from ansible_collections.mailfort.mail.plugins.plugin_utils.names import NAME_MAX, dns_name
from ansible_collections.mailfort.mail.plugins.plugin_utils.pem import PemFramingError, pem_blocks

try:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
except ImportError:  # mail_dkim_keys names the package to install when it needs it (libraries.require)
    pass

_FILTER = "mail_dkim_keys"
_FIELDS = ("domain", "selector", "algorithm", "bits", "signing", "state", "private_key")
_ALGORITHMS = ("rsa", "ed25519")
_STATES = ("present", "absent")
_RSA_BITS = (2048, 3072, 4096)
_RSA_MIN_BITS = 2048
_RSA_MAX_BITS = 4096
_DEFAULT_BITS = 2048
# KeyTable lines are "name domain:selector:path": the path may not hold a colon or white space.
_KEY_DIR = re.compile(r"/[A-Za-z0-9._/-]*", re.ASCII)


def _dns_name(value: Any, where: str, what: str, **rules: Any) -> str:
    propagate_undefined(value)
    name, problem = dns_name(value, **rules)
    if name is None:
        raise error(_FILTER, where, f"= {show(value)} is not {what}: {problem}")
    return name


def _domain(value: Any, where: str) -> str:
    return _dns_name(value, where, "a domain name")


def _selector(value: Any, where: str) -> str:
    # A selector is one label or more, and may be all digits (2024): it is never read as an address.
    return _dns_name(
        value,
        where,
        "a DKIM selector (RFC 6376 section 3.1: dot-separated labels of letters, digits and inner hyphens)",
        min_labels=1,
        domain=False,
    )


def _choice(entry: Mapping, field: str, choices: tuple[str, ...], default: str, where: str) -> str:
    value = entry.get(field, default)
    propagate_undefined(value)
    if value not in choices:
        raise error(_FILTER, f"{where}.{field}", f"= {show(value)} must be one of: {', '.join(choices)}")
    return value


def _bool(entry: Mapping, field: str, default: bool, where: str) -> bool:
    value = entry.get(field, default)
    propagate_undefined(value)
    if not isinstance(value, bool):
        raise error(_FILTER, f"{where}.{field}", f"= {show(value)} must be true or false")
    return value


def _bits(entry: Mapping, algorithm: str, where: str) -> int | None:
    if "bits" not in entry:
        return _DEFAULT_BITS if algorithm == "rsa" else None
    value = entry["bits"]
    propagate_undefined(value)
    if algorithm != "rsa":
        raise error(
            _FILTER, f"{where}.bits", f"= {show(value)} applies to rsa keys only; an Ed25519 key has no size to choose"
        )
    number = whole_number(value)
    if number is None:
        raise error(_FILTER, f"{where}.bits", f"= {show(value)} must be a whole number of bits: 2048, 3072 or 4096")
    if number < _RSA_MIN_BITS:
        raise error(
            _FILTER,
            f"{where}.bits",
            f"= {number} is too small: RSA keys of fewer than {_RSA_MIN_BITS} bits are refused (RFC 8301 section 3.2)",
        )
    if number not in _RSA_BITS:
        raise error(_FILTER, f"{where}.bits", f"= {number} must be one of: {', '.join(str(b) for b in _RSA_BITS)}")
    return number


def _private_key(value: Any, where: str) -> Any:
    """The one unencrypted private key in VALUE, parsed; errors say what is wrong, never what is there."""
    require("cryptography", _FILTER)
    if not isinstance(value, str | bytes | bytearray):
        raise error(_FILTER, where, f"must be PEM text (a string), got a value of type {type(value).__name__}")
    try:
        blocks = pem_blocks(value)
    except PemFramingError as broken:
        raise error(_FILTER, where, str(broken)) from None
    keys = [(label, block.decode("utf-8", "replace")) for label, block in blocks if label.endswith("PRIVATE KEY")]
    if not keys:
        raise error(_FILTER, where, "holds no PEM private key (no '-----BEGIN ... PRIVATE KEY-----' block)")
    if len(keys) > 1:
        raise error(_FILTER, where, f"holds {len(keys)} private keys; give exactly one")
    label, block = keys[0]
    encrypted = "is an encrypted private key; OpenDKIM starts unattended and needs it unencrypted (vault the variable)"
    if label == "ENCRYPTED PRIVATE KEY" or "Proc-Type: 4,ENCRYPTED" in block:
        raise error(_FILTER, where, encrypted)
    # Raised "from None", not "from e": ansible-core prints an error's cause, and a parser's words about a private
    # key may not reach a log.
    try:
        return serialization.load_pem_private_key(block.encode("utf-8"), password=None)
    except TypeError:
        raise error(_FILTER, where, encrypted) from None
    except (ValueError, UnsupportedAlgorithm):
        raise error(_FILTER, where, "could not be read as a PEM private key (PKCS#8, or traditional RSA)") from None


def _supplied_public_key(entry: Mapping, algorithm: str, bits_given: bool, bits: int | None, where: str) -> tuple:
    """(public key PEM, bits) of a supplied private key, after checking its type and size against the entry."""
    key = _private_key(entry["private_key"], f"{where}.private_key")
    if isinstance(key, rsa.RSAPrivateKey):
        if algorithm != "rsa":
            raise error(_FILTER, f"{where}.private_key", f"is an RSA key, but {where}.algorithm is {algorithm}")
        size = key.key_size
        if size < _RSA_MIN_BITS:
            raise error(
                _FILTER,
                f"{where}.private_key",
                f"is an RSA key of {size} bits; at least {_RSA_MIN_BITS} are needed (RFC 8301 section 3.2)",
            )
        if size > _RSA_MAX_BITS:
            raise error(
                _FILTER, f"{where}.private_key", f"is an RSA key of {size} bits; at most {_RSA_MAX_BITS} are accepted"
            )
        if bits_given and size != bits:
            raise error(_FILTER, f"{where}.private_key", f"is an RSA key of {size} bits, but {where}.bits is {bits}")
        bits = size
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        if algorithm != "ed25519":
            raise error(_FILTER, f"{where}.private_key", f"is an Ed25519 key, but {where}.algorithm is {algorithm}")
    else:
        kind = type(key).__name__.removeprefix("_")
        raise error(
            _FILTER,
            f"{where}.private_key",
            f"is a key of type {kind}; DKIM signs with RSA (rsa-sha256) or Ed25519 (ed25519-sha256) keys only",
        )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public.decode("ascii"), bits


def _key(entry: Any, index: int, key_dir: str, varname: str) -> dict[str, Any]:
    where = f"{varname}[{index}]"
    propagate_undefined(entry)
    if not isinstance(entry, Mapping):
        raise error(_FILTER, where, f"= {show(entry)} must be a dict with domain and selector")
    unknown = sorted(str(field) for field in entry if field not in _FIELDS)
    if unknown:
        raise error(_FILTER, where, f"has the unknown key {unknown[0]!r}; a key takes {', '.join(_FIELDS)}")
    for field in ("domain", "selector"):
        if field not in entry:
            raise error(_FILTER, where, f"has no {field}; every key needs a domain and a selector")
    domain = _domain(entry["domain"], f"{where}.domain")
    selector = _selector(entry["selector"], f"{where}.selector")
    key_name = f"{selector}._domainkey.{domain}"
    if len(key_name) > NAME_MAX:
        raise error(
            _FILTER, f"{where}.selector", f"= {show(selector)} makes {key_name} longer than {NAME_MAX} characters"
        )
    algorithm = _choice(entry, "algorithm", _ALGORITHMS, "rsa", where)
    bits = _bits(entry, algorithm, where)
    state = _choice(entry, "state", _STATES, "present", where)
    signing = _bool(entry, "signing", True, where) and state == "present"
    private_key = entry.get("private_key")
    propagate_undefined(private_key)
    supplied = private_key not in (None, "")
    public_key = ""
    if supplied:
        public_key, bits = _supplied_public_key(entry, algorithm, "bits" in entry, bits, where)
    return {
        "index": index,
        "domain": domain,
        "selector": selector,
        "algorithm": algorithm,
        "bits": bits,
        "signing": signing,
        "state": state,
        "supplied": supplied,
        "public_key": public_key,
        "key_name": key_name,
        "private_path": f"{key_dir}/{domain}/{selector}.private",
        "public_path": f"{key_dir}/{domain}/{selector}.pub",
    }


def _check_domains(keys: list[dict[str, Any]], varname: str) -> None:
    """Unless all of a domain's keys are absent, one of them signs, and Ed25519 never signs without RSA beside it."""
    for domain in dict.fromkeys(key["domain"] for key in keys):
        present = [key for key in keys if key["domain"] == domain and key["state"] == "present"]
        signing = {key["algorithm"] for key in present if key["signing"]}
        indexes = ", ".join(f"{varname}[{key['index']}]" for key in present)
        if present and not signing:
            raise error(
                _FILTER,
                varname,
                f"has no signing key for {domain}: {indexes} are present but none has signing: true. Let one of "
                "them sign, or retire them all with state: absent (signing: false is for publishing a key before "
                "it signs and after it stopped, during a rotation)",
            )
        if "ed25519" in signing and "rsa" not in signing:
            raise error(
                _FILTER,
                varname,
                f"signs {domain} with Ed25519 only ({indexes}): give it a signing rsa key too. Verifiers that know "
                "only RSA would find no signature they can check, so Ed25519 signs beside RSA (RFC 8463 section 4)",
            )


def mail_dkim_keys(keys: Any, key_dir: str = "/etc/opendkim/keys", varname: str = "dkim_keys") -> list[dict[str, Any]]:
    """The DKIM keys, validated and completed with defaults, key names and paths; never the private keys."""
    propagate_undefined(keys, key_dir, varname)
    if not isinstance(key_dir, str) or not _KEY_DIR.fullmatch(key_dir) or "//" in key_dir:
        raise error(
            _FILTER,
            "key_dir",
            f"= {show(key_dir)} must be an absolute path of letters, digits and . _ - / (a KeyTable line cannot "
            "hold a colon or white space)",
        )
    key_dir = key_dir.rstrip("/") or "/"
    if isinstance(keys, str | bytes) or not isinstance(keys, list | tuple):
        raise error(
            _FILTER, varname, f"must be a list of keys (dicts with domain and selector), got {type(keys).__name__}"
        )
    if not keys:
        raise error(_FILTER, varname, "is empty; list at least one key (domain and selector)")
    result = [_key(entry, index, key_dir, varname) for index, entry in enumerate(keys)]
    seen: dict[tuple[str, str], int] = {}
    for key in result:
        pair = (key["domain"], key["selector"])
        if pair in seen:
            raise error(
                _FILTER,
                f"{varname}[{key['index']}]",
                f"repeats selector {pair[1]} of domain {pair[0]}, already in {varname}[{seen[pair]}]; a selector "
                "names one key",
            )
        seen[pair] = key["index"]
    _check_domains(result, varname)
    return result


def _held(info: Mapping) -> tuple[str, int | None]:
    kind = str(info.get("type", "?"))
    size = (info.get("public_data") or {}).get("size")
    return kind, size if kind == "RSA" else None


def mail_dkim_host_key_problems(infos: Any, keys: Any, varname: str = "dkim_keys") -> list[str]:
    """Why each key found on the host is not the key its entry describes; empty when all match."""
    propagate_undefined(infos, keys, varname)
    infos, keys = list(infos), list(keys)
    if len(infos) != len(keys):
        raise AnsibleFilterError(
            f"mail_dkim_host_key_problems: {len(infos)} key reports for {len(keys)} keys; they must pair up"
        )
    problems = []
    for info, key in zip(infos, keys, strict=True):
        kind, size = _held(info)
        wanted_kind = "RSA" if key["algorithm"] == "rsa" else "Ed25519"
        wanted = f"{wanted_kind} {key['bits']} bits" if key["algorithm"] == "rsa" else wanted_kind
        held = f"{kind} {size} bits" if size is not None else kind
        same = kind == wanted_kind and (key["algorithm"] != "rsa" or size == key["bits"])
        if same and key["supplied"]:
            same = str(info.get("public_key", "")).strip() == key["public_key"].strip()
            held = "another key" if not same else held
        if not same:
            problems.append(
                f"{varname}[{key['index']}] (selector {key['selector']} of {key['domain']}) asks for "
                f"{'the supplied ' if key['supplied'] else ''}{wanted}, but {key['private_path']} holds {held}. "
                "A key is never replaced under its selector, because the published record names it: give the new "
                "key a new selector and rotate to it (README, Rotation)."
            )
    return problems


def mail_dkim_signers(signers: Any, keys: Any) -> list[dict[str, Any]]:
    """Each signer process with its signing keys, whether it runs, and whether it needs MultipleSignatures."""
    propagate_undefined(signers, keys)
    for value, what in ((signers, "the signers"), (keys, "keys")):
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise AnsibleFilterError(f"mail_dkim_signers: {what} must be a list of dicts, got {type(value).__name__}")
    result = []
    for signer in signers:
        if not isinstance(signer, Mapping) or signer.get("algorithm") not in _ALGORITHMS:
            raise AnsibleFilterError(
                f"mail_dkim_signers: {show(signer)} must be a dict whose algorithm is one of: {', '.join(_ALGORITHMS)}"
            )
        own = [key for key in keys if key["signing"] and key["algorithm"] == signer["algorithm"]]
        domains = [key["domain"] for key in own]
        result.append(
            dict(signer)
            | {
                "keys": own,
                "active": bool(signer.get("always")) or bool(own),
                "multiple": len(domains) > len(set(domains)),
            }
        )
    return result
