# SPDX-License-Identifier: MIT
"""What every mailfort filter shares: how a user's value is shown, how an error names it, and the plain rules.

Every filter of the collection builds its errors here, so that a message always starts with the filter's name,
names the variable the user wrote (and its index or field) and shows a non-secret value the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from jinja2 import Undefined

SHOWN_VALUE_MAX = 80
PORT_MAX = 65535
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def show(value: Any) -> str:
    """Repr of a (non-secret) user value for an error message, cut short so a huge value cannot flood the output."""
    shown = repr(value)
    return shown if len(shown) <= SHOWN_VALUE_MAX else shown[: SHOWN_VALUE_MAX - 3] + "..."


def key_text(key: Any) -> str:
    """A key the user wrote, as a message names it: as written, or quoted when it holds a line break or is no str."""
    return key if isinstance(key, str) and key.isprintable() else repr(key)


def error(filter_name: str, subject: str, problem: str) -> AnsibleFilterError:
    """The error of FILTER_NAME about SUBJECT (the variable, its index or field), saying what is wrong with it."""
    return AnsibleFilterError(f"{filter_name}: {subject} {problem}")


def propagate_undefined(*values: Any) -> None:
    """Raise Ansible's own undefined-variable error for the first undefined value, inside dicts and lists too.

    A filter calls it before looking at its input, so that a missing variable is reported as missing, not as a
    value of the wrong type.
    """
    for value in values:
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()
        if isinstance(value, Mapping):
            propagate_undefined(*value.values())
        elif isinstance(value, list | tuple):
            propagate_undefined(*value)


def is_list(value: Any) -> bool:
    """A YAML list (or tuple), not a string or a mapping, which are iterable too."""
    return isinstance(value, list | tuple)


def whole_number(value: Any) -> int | None:
    """The whole number a user wrote, or None.

    One rule for every count, lifetime, TTL and limit: an int, or a string of ASCII decimal digits with optional
    whitespace around it (as ``-e`` and the argument specs pass numbers). Bools, floats, signs and units are not
    whole numbers.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    return None
