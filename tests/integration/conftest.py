# SPDX-License-Identifier: MIT
"""Shared fixtures for the testinfra suites that molecule's verify step runs.

Each molecule scenario converges with the playbook of the same name (`playbooks/<scenario>.yml`) and points its
verifier at `tests/integration/<scenario>/`, plus the checks in `tests/integration/common/`. Molecule passes its
environment to pytest: the generated inventory, its ansible.cfg and the scenario's name, so these fixtures can
run the scenario's playbook again exactly as molecule did.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra

RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class PlaybookRun:
    """What one ansible-playbook run printed, with its PLAY RECAP parsed."""

    returncode: int
    output: str

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        return {
            m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
            for m in RECAP.finditer(self.output)
        }

    def changed_tasks(self) -> list[str]:
        """The task headers under which a host reported `changed`, for readable failure messages."""
        tasks, current = [], ""
        for line in self.output.splitlines():
            if line.startswith("TASK ["):
                current = line
            elif line.startswith("changed:"):
                tasks.append(f"{current} {line}")
        return tasks


def _molecule_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run these tests through molecule (make test), not pytest alone")
    return value


@pytest.fixture(scope="session")
def project_dir() -> Path:
    return Path(_molecule_env("MOLECULE_PROJECT_DIRECTORY"))


@pytest.fixture(scope="session")
def scenario_playbook(project_dir: Path) -> Path:
    return project_dir / "playbooks" / f"{_molecule_env('MOLECULE_SCENARIO_NAME')}.yml"


@pytest.fixture(scope="session")
def run_playbook(scenario_playbook: Path) -> Callable[..., PlaybookRun]:
    """Run the scenario's playbook against molecule's inventory with extra arguments."""
    inventory = _molecule_env("MOLECULE_INVENTORY_FILE")

    def run(*args: str, playbook: Path | None = None) -> PlaybookRun:
        proc = subprocess.run(
            ["ansible-playbook", "-i", inventory, str(playbook or scenario_playbook), *args],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            env={**os.environ, "ANSIBLE_FORCE_COLOR": "false", "ANSIBLE_NOCOLOR": "true"},
        )
        return PlaybookRun(proc.returncode, proc.stdout + proc.stderr)

    return run


@pytest.fixture(scope="session")
def check_diff_run(run_playbook: Callable[..., PlaybookRun]) -> PlaybookRun:
    """One `--check --diff` run of the scenario's playbook on the converged hosts, shared by the checks."""
    return run_playbook("--check", "--diff", "-v")


@pytest.fixture(scope="session")
def podman_host() -> Callable[[str], testinfra.host.Host]:
    """A testinfra host for any container of the scenario, e.g. the client."""
    return lambda name: testinfra.get_host(f"podman://{name}")
