# SPDX-License-Identifier: MIT
"""The documentation of one filter, read from its sidecar file (plugins/filter/<name>.yml) as ansible-doc reads it."""

from __future__ import annotations

from pathlib import Path

import yaml

FILTER_DIR = Path(__file__).resolve().parents[2] / "plugins" / "filter"


def documentation(name: str) -> dict:
    """DOCUMENTATION and RETURN as data, EXAMPLES parsed into its list of tasks."""
    sidecar = yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text())
    return {**sidecar, "EXAMPLES": yaml.safe_load(sidecar["EXAMPLES"])}
