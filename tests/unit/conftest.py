# SPDX-License-Identifier: MIT
"""Shared setup for the unit tests: make the collection's filter plugins importable.

pyproject.toml may already put them on the path (pytest's ``pythonpath``); this keeps the tests working
when it does not (another runner, another rootdir) and does nothing when it does.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

for path in (ROOT / "collections", ROOT / "plugins" / "filter"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
