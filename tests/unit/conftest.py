# SPDX-License-Identifier: MIT
"""Shared setup for the unit tests: make the repository's filter_plugins importable.

pyproject.toml may already put filter_plugins on the path (pytest's ``pythonpath``); this keeps the tests working
when it does not (another runner, another rootdir) and does nothing when it does.
"""

from __future__ import annotations

import sys
from pathlib import Path

FILTER_PLUGINS = Path(__file__).resolve().parents[2] / "filter_plugins"

if str(FILTER_PLUGINS) not in sys.path:
    sys.path.insert(0, str(FILTER_PLUGINS))
