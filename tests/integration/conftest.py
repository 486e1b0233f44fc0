# SPDX-License-Identifier: MIT
"""Shared fixtures of the integration suites, which all run in the one lab (molecule/lab, tests/integration/lab.py).

tools/lab-test converges the lab once, then runs these suites in phases, one pytest run each: every test module
names its phase with a marker (PHASES below), and a test without exactly one phase is an error. Run one file while
iterating, against a converged lab: `.venv/bin/pytest -p no:cacheprovider tests/integration/<concern>/<file>.py`
(README, contributing). The `host` fixture is testinfra's, over both MX hosts unless --hosts says otherwise.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra
from harness import tree_state
from lab import INVENTORY, MAIL_HOSTS, PROJECT_DIR, PROVIDED, PROVIDED_INVENTORY
from testinfra.backend.podman import PodmanBackend

# testinfra's podman backend starts `podman exec` for every command, about 150 ms each, and the suites run
# thousands. As root on the machine that runs the lab, a command enters the container's namespaces with nsenter
# instead (about 10 ms), with the environment podman exec gives; elsewhere testinfra's own way stays.
NSENTER_ENVIRONMENT = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root container=podman"
_podman_run = PodmanBackend.run


@functools.cache
def _container_pid(name: str) -> str | None:
    """The PID of the lab container's first process (the lab's containers live as long as a test session)."""
    found = subprocess.run(
        ["podman", "container", "inspect", "--format", "{{.State.Pid}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    pid = found.stdout.strip()
    return pid if found.returncode == 0 and pid.isdigit() and pid != "0" else None


def _nsenter_run(self, command: str, *args: str, **kwargs):
    pid = _container_pid(self.name) if self.user is None and os.geteuid() == 0 else None
    if pid is None:
        return _podman_run(self, command, *args, **kwargs)
    cmd = self.get_command(command, *args)
    out = self.run_local(
        f"nsenter --target %s --mount --uts --ipc --net --pid --root --wd -- env -i {NSENTER_ENVIRONMENT} sh -c %s",
        pid,
        cmd,
    )
    out.command = self.encode(cmd)
    return out


PodmanBackend.run = _nsenter_run

# The phases, in the order tools/lab-test runs them, and what belongs in each.
PHASES = {
    "rerun": "re-runs site.yml on the converged lab (-vvv, --check --diff): idempotence and secrets in the output",
    "readonly": "protocol and state checks that change nothing a later test sees; run in parallel, a worker per MX",
    "bad_input": "playbook runs that must be refused at validation, with the hosts compared before and after",
    "mutator": "changes the lab and restores it (activation, firewall apply and rollback, bans, renewal, quota)",
    "destructive": "changes the lab for good (DKIM rotation, credential revocation): last",
}

RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


def pytest_configure(config: pytest.Config) -> None:
    for phase, what in PHASES.items():
        config.addinivalue_line("markers", f"{phase}: phase of the lab tests: {what}")
    if not config.option.hosts:
        config.option.hosts = ",".join(f"podman://{name}" for name in MAIL_HOSTS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test has exactly one phase."""
    unphased = []
    for item in items:
        phases = [mark.name for mark in item.iter_markers() if mark.name in PHASES]
        if len(phases) != 1:
            unphased.append(f"{item.nodeid}: {phases or 'no phase'}")
    if unphased:
        raise pytest.UsageError(
            "each lab test needs exactly one phase marker (" + ", ".join(PHASES) + "):\n" + "\n".join(unphased)
        )


# Test files whose tests share a peer container between the two MX hosts (the attacker floods both): side by side,
# its floods would meet in its own network stack and blur what each host's meter counts, so they run one by one.
SERIAL_FILES = ("mail_firewall/test_flood.py",)
HOST_IN_NODEID = re.compile(r"podman://(?P<name>[\w-]+)")


def lab_group(nodeid: str) -> str:
    """Which worker group a test belongs to under pytest-xdist: its MX host (the testinfra `host` parameter), a file
    of SERIAL_FILES, or "lab" for the tests that address no single host."""
    if any(f"/{name}::" in nodeid for name in SERIAL_FILES):
        return nodeid.split("::", 1)[0]
    found = HOST_IN_NODEID.search(nodeid)
    return found["name"] if found else "lab"


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """The read-only phase runs a worker per MX host: each host's tests in one group, so that the two hosts are
    tested side by side and no host sees two suites at once (xdist's own loadgroup marks are lost under pytest 9)."""
    from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415 - imported only where xdist schedules

    class HostScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return lab_group(nodeid)

    return HostScheduling(config, log)


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


@pytest.fixture(scope="session")
def project_dir() -> Path:
    return PROJECT_DIR


@pytest.fixture(scope="session")
def site_playbook() -> Path:
    return PROJECT_DIR / "playbooks" / "site.yml"


def ansible_playbook(*args: str, playbook: Path, inventory: Path = INVENTORY, timeout: int = 900) -> PlaybookRun:
    """One ansible-playbook run against the lab with the project's ansible.cfg, its output captured."""
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(playbook), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=PROJECT_DIR,
        env={
            **os.environ,
            "ANSIBLE_CONFIG": str(PROJECT_DIR / "ansible.cfg"),
            "CONTAINERS_CONF": str(PROJECT_DIR / "lab" / "containers.conf"),
            "ANSIBLE_FORCE_COLOR": "false",
            "ANSIBLE_NOCOLOR": "true",
        },
    )
    return PlaybookRun(proc.returncode, proc.stdout + proc.stderr)


@pytest.fixture(scope="session")
def run_playbook(site_playbook: Path) -> Callable[..., PlaybookRun]:
    """Run a playbook (site.yml unless told) against the lab's inventory with extra arguments."""

    def run(*args: str, playbook: Path | None = None, inventory: Path = INVENTORY) -> PlaybookRun:
        return ansible_playbook(*args, playbook=playbook or site_playbook, inventory=inventory)

    return run


@pytest.fixture(scope="session")
def podman_host() -> Callable[[str], testinfra.host.Host]:
    """A testinfra host for any container of the lab, e.g. the client."""
    return lambda name: testinfra.get_host(f"podman://{name}")


# What site.yml manages on an MX host: a re-run that changes nothing leaves every entry here as it was (mode, owner,
# inode, mtime, content), sockets included, which a restarted daemon would make anew.
MANAGED_TREES = (
    "/etc/ssl/mailfort",
    "/etc/postfix",
    "/etc/dovecot",
    "/var/spool/postfix/private",
    "/var/spool/postfix/opendkim",
    "/etc/opendkim",
    "/etc/mailfort",
    "/etc/fail2ban",
)


@dataclass(frozen=True)
class Rerun:
    """One more run of site.yml on the converged MX hosts, with every managed tree's state before and after."""

    run: PlaybookRun
    before: dict[str, str]
    after: dict[str, str]

    def entries(self, name: str, prefix: str, when: str = "after") -> list[str]:
        """The lines of one host's state (before or after) for the paths below PREFIX."""
        state = self.before[name] if when == "before" else self.after[name]
        return [line for line in state.splitlines() if prefix in line]


# What postfix_hardening.yml manages on the provided host: the part of MANAGED_TREES its roles write.
PROVIDED_TREES = ("/etc/ssl/mailfort", "/etc/postfix", "/etc/dovecot", "/var/spool/postfix/private")


@dataclass(frozen=True)
class Reruns:
    """The rerun phase's playbook runs on the converged lab, all four at once (none of them writes anything on a
    converged host, and the dry runs never do): site.yml at -vvv and as `--check --diff` on the MX hosts, and the
    provided host's own playbook the same two ways; with every managed tree's state before and after."""

    site: PlaybookRun
    site_check_diff: PlaybookRun
    provided: PlaybookRun
    provided_check_diff: PlaybookRun
    before: dict[str, str]
    after: dict[str, str]


def _states(podman_host) -> dict[str, str]:
    states = {name: tree_state(podman_host(name), MANAGED_TREES, "/etc/postfix/main.cf") for name in MAIL_HOSTS}
    states[PROVIDED] = tree_state(podman_host(PROVIDED), PROVIDED_TREES, "/etc/postfix/main.cf")
    return states


@pytest.fixture(scope="session")
def reruns(run_playbook, podman_host) -> Reruns:
    before = _states(podman_host)
    provided = {"playbook": PROJECT_DIR / "playbooks" / "postfix_hardening.yml", "inventory": PROVIDED_INVENTORY}
    with ThreadPoolExecutor(4) as pool:
        runs = [
            pool.submit(run_playbook, "-vvv"),
            pool.submit(run_playbook, "--check", "--diff", "-v"),
            pool.submit(run_playbook, "-vvv", **provided),
            pool.submit(run_playbook, "--check", "--diff", "-v", **provided),
        ]
        site, site_check_diff, provided_run, provided_check_diff = (run.result() for run in runs)
    return Reruns(site, site_check_diff, provided_run, provided_check_diff, before, _states(podman_host))


@pytest.fixture(scope="session")
def rerun(reruns) -> Rerun:
    """The rerun phase's one -vvv run of site.yml, so that every module argument and result is printed: shared by
    the checks that nothing changed (recap and trees) and that no secret is ever shown."""
    mx = {name: reruns.before[name] for name in MAIL_HOSTS}
    return Rerun(reruns.site, mx, {name: reruns.after[name] for name in MAIL_HOSTS})


@pytest.fixture(scope="session")
def check_diff_run(reruns) -> PlaybookRun:
    """The rerun phase's one `site.yml --check --diff` on the converged hosts, as the README tells users to run it."""
    return reruns.site_check_diff
