# SPDX-License-Identifier: MIT
"""DNS names and mailbox addresses: one rule for each, whichever role's variable holds them.

A name is letters, digits and inner hyphens in labels of at most 63 characters, at most 253 characters in all
(RFC 1035 section 2.3.1 and 2.3.4, RFC 1123 section 2.1), and its last label is not all digits: that reads as an
IP address (RFC 3696 section 2). A mailbox is an address whose local part Dovecot accepts as a login
(auth_username_chars: letters, digits, '.', '_', '+', '-'), since every mailbox mailfort's Postfix accepts is
delivered to and logged in through Dovecot.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.common import show

LABEL_MAX = 63
NAME_MAX = 253  # characters of a name written without its trailing dot (255 octets on the wire)
LOCAL_MAX = 64  # RFC 5321 section 4.5.3.1.1
ADDRESS_MAX = 254  # RFC 5321 section 4.5.3.1.3, less the angle brackets
NAME_RULE = "letters, digits and inner hyphens (RFC 1035 section 2.3.1)"
LOCAL_RULE = "letters, digits, '.', '_', '+' and '-' (the characters Dovecot accepts in a login)"

_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
_SERVICE_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.ASCII)  # _spf, _mta-sts, _25._tcp
_HOST_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_SERVICE_CHARACTERS = _HOST_CHARACTERS | {"_"}
_LOCAL = re.compile(r"[a-z0-9._+-]+", re.ASCII)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def label_problem(label: str, *, service: bool = False) -> str | None:
    """Why LABEL (lower case) is not one label of a DNS name, or None."""
    if not label:
        return "it has an empty label (a leading, trailing or doubled dot)"
    if len(label) > LABEL_MAX:
        return f"the label {label[:20]!r}... is longer than {LABEL_MAX} characters"
    if not (_SERVICE_LABEL if service else _HOST_LABEL).fullmatch(label):
        if "*" in label:
            return "a wildcard is only allowed as the whole leftmost label (*.example.org)"
        allowed = _SERVICE_CHARACTERS if service else _HOST_CHARACTERS
        bad = next((char for char in label if char not in allowed), None)
        if bad is not None:
            return f"the label {show(label)} has {bad!r}: labels are {NAME_RULE}"
        return f"the label {show(label)} starts or ends with a hyphen: labels are {NAME_RULE}"
    return None


def name_problem(
    name: str, *, min_labels: int = 2, service_labels: bool = False, wildcard: bool = False, domain: bool = True
) -> str | None:
    """Why NAME, exactly as given, is not a DNS name, or None.

    ``min_labels`` is 2 for a domain (example.org), 1 for a DKIM selector. ``service_labels`` allows the
    underscore labels of service names (_mta-sts.example.org). ``wildcard`` allows ``*`` as the whole leftmost
    label, as certificates write it. ``domain`` (the default) refuses a last label of digits only; a DKIM selector
    (2024) is no domain and may have one.
    """
    if not name:
        return "it is empty"
    if not name.isascii():
        # Checked before lower-casing: str.lower() maps some non-ASCII letters (the Kelvin sign) to ASCII ones.
        return "it has non-ASCII characters; write internationalised names as xn-- A-labels"
    if len(name) > NAME_MAX:
        return f"it is longer than {NAME_MAX} characters"
    return _labels_problem(name.lower().split("."), min_labels, service_labels, wildcard, domain)


def _labels_problem(labels: list[str], min_labels: int, service: bool, wildcard: bool, domain: bool) -> str | None:
    if wildcard and labels[0] == "*":
        labels = labels[1:]
        if len(labels) < 2:
            return "a wildcard needs at least two labels after it (*.example.org)"
    problem = next(filter(None, (label_problem(label, service=service) for label in labels)), None)
    if problem is None and len(labels) < min_labels:
        problem = f"it needs at least {min_labels} labels (a name such as example.org)"
    if problem is None and domain and _DIGITS.fullmatch(labels[-1]):
        problem = "its last label is all digits, so it reads as an IP address, not a name"
    return problem


def dns_name(value: Any, **rules: Any) -> tuple[str | None, str | None]:
    """(the name in lower case, without surrounding whitespace and one trailing dot, None) or (None, the problem).

    The form a user may write a name in, for every filter that takes one: ``' Mail.Example.ORG. '`` is
    ``mail.example.org``. ``rules`` are those of name_problem().
    """
    if not isinstance(value, str):
        return None, f"it must be a string, got {type(value).__name__}"
    name = value.strip()
    name = name[:-1] if name.endswith(".") and not name.endswith("..") else name
    problem = name_problem(name, **rules)
    return (None, problem) if problem is not None else (name.lower(), None)


def local_problem(local: str) -> str | None:
    """Why LOCAL is not the local part of a mailbox address, or None."""
    if not 1 <= len(local) <= LOCAL_MAX:
        return f"its local part must be 1 to {LOCAL_MAX} characters"
    if not _LOCAL.fullmatch(local.lower()):
        bad = next(char for char in local if not _LOCAL.fullmatch(char.lower()))
        return f"its local part has {bad!r}: a mailbox name is {LOCAL_RULE}"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "its local part starts or ends with a dot or has two dots in a row"
    return None


def address_problem(address: str) -> str | None:
    """Why ADDRESS, exactly as given, is not a mailbox address (local@domain), or None."""
    if address.count("@") != 1:
        return "it must have exactly one '@' (local@domain)"
    if len(address) > ADDRESS_MAX:
        return f"it is longer than {ADDRESS_MAX} characters"
    local, domain = address.split("@")
    problem = local_problem(local)
    if problem is not None:
        return problem
    problem = name_problem(domain)
    return None if problem is None else f"its domain is not a DNS name: {problem}"


def normal_address(address: str) -> str:
    """A checked address with its domain in lower case (the local part keeps its case, as Postfix keeps it)."""
    local, domain = address.split("@")
    return f"{local}@{domain.lower()}"
