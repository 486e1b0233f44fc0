# SPDX-License-Identifier: MIT
"""The collection's modules under test: imported from their files for their functions, and run as a task of a real
play on localhost, with the project's ansible.cfg, for what Ansible itself makes of them (arguments, check mode,
diffs, errors)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from types import ModuleType

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]


def load_module(name: str) -> ModuleType:
    """plugins/modules/NAME.py, imported as a Python module."""
    spec = importlib.util.spec_from_file_location(name, PROJECT_DIR / "plugins" / "modules" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_module(tmp_path: Path, module: str, args: dict, *cli_args: str) -> tuple[dict, str]:
    """One task of mailfort.mail.MODULE with ARGS on localhost: its registered result (failed or not) and the play's
    output. CLI_ARGS go to ansible-playbook (--check, --diff)."""
    out = tmp_path / "result.json"
    play = {
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "tasks": [
            {"name": "Run", f"mailfort.mail.{module}": args, "register": "result", "ignore_errors": True},
            {
                "name": "Keep",
                "ansible.builtin.copy": {"content": "{{ result | to_json }}", "dest": str(out)},
                "check_mode": False,
                "diff": False,
            },
        ],
    }
    (tmp_path / "play.yml").write_text(yaml.safe_dump([play]), encoding="utf-8")
    ran = subprocess.run(
        ["ansible-playbook", str(tmp_path / "play.yml"), *cli_args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=PROJECT_DIR,
        env={**os.environ, "ANSIBLE_CONFIG": str(PROJECT_DIR / "ansible.cfg")},
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8")), ran.stdout
