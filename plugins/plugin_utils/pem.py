# SPDX-License-Identifier: MIT
"""PEM text, read the same way by the TLS, DKIM and DNS filters: blocks found, framing checked, nothing echoed."""

from __future__ import annotations

import re

_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)
BROKEN_FRAMING = "has a PEM block with broken framing (a BEGIN line without its matching END line)"


class PemFramingError(ValueError):
    """A BEGIN line without its END line; the message never holds the text, which may be a secret."""


def pem_blocks(data: str | bytes) -> list[tuple[str, bytes]]:
    """(label, whole block) of every PEM block in DATA, in order; PemFramingError when a block is not closed."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    blocks = [(match.group(1).decode("ascii"), match.group(0)) for match in _BLOCK.finditer(raw)]
    if raw.count(b"-----BEGIN ") != len(blocks):
        raise PemFramingError(BROKEN_FRAMING)
    return blocks
