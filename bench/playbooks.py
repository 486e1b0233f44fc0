# SPDX-License-Identifier: MIT
"""Playbook passes on real containers: re-run, dry run, fresh converge, fleet and SSH, each as a ratio.

Every row times a mailfort pass and a baseline on the same machine in the same run, interleaved, and prints their
medians and the ratio beside the bound the design sets. The containers (mailfort-bench-*, on the podman network
mailfort-bench) are made with playbooks/lab.yml and removed at the end, also when something fails or on Ctrl-C;
nothing else on the machine is touched. Timings never make this script fail: a playbook that fails, a host that is
unreachable or a re-run that changes something does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
BIN = Path(sys.prefix) / "bin"

# Everything this script creates carries these names; it removes nothing else.
PREFIX = "mailfort-bench-"
NETWORK = "mailfort-bench"
MAIL_HOSTS = [f"{PREFIX}mx{number}" for number in range(1, 5)]
PACKAGE_HOST = f"{PREFIX}pkg"
ALL_HOSTS = [*MAIL_HOSTS, PACKAGE_HOST]
HOST = MAIL_HOSTS[0]  # the single host of the re-run, check, ssh and profile rows
# The lab's mail host in inventories/lab: the bench hosts get its groups and its variables.
LAB_MAIL_HOST = "mailfort-lab-mx"
# A package list the roles install only when a variable says so, and that variable.
CONDITIONAL_PACKAGES = {"__dovecot_hardening_pop3_packages": "dovecot_hardening_pop3_enabled"}


@dataclass(frozen=True)
class Kind:
    timed: str
    baseline: str
    bound: float | None


ROWS = {
    "rerun": Kind("site.yml re-run, 1 host", "ansible -m setup, 1 host", 10.0),
    "check": Kind("site.yml --check --diff, 1 host", "ansible -m setup, 1 host", 10.0),
    "converge": Kind("site.yml, fresh host", "packages.yml, fresh host", 2.0),
    "fleet": Kind(f"site.yml re-run, {len(MAIL_HOSTS)} hosts", "site.yml re-run, 1 host", 1.5),
    "ssh": Kind("site.yml re-run over SSH", "ansible -m setup over SSH", None),
    "audit": Kind("audit.yml, 1 host", "ansible -m setup, 1 host", None),
}
# Not a ratio: the slowest tasks and the roles' totals of one profiled single-host re-run.
PROFILE = "profile"
ROW_NAMES = [*ROWS, PROFILE]


class BenchError(Exception):
    """Something broke: a playbook failed, a host was unreachable, a tool or an image is missing."""


@dataclass
class Row:
    key: str
    seconds: list[float]
    baseline: list[float]
    note: str = ""


def spread(seconds: list[float]) -> float:
    return (max(seconds) - min(seconds)) / statistics.median(seconds)


def recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP counts by host."""
    counts = {}
    for match in re.finditer(r"^(\S+)\s*:\s*((?:[a-z]+=\d+\s*)+)$", output, re.MULTILINE):
        counts[match[1]] = {key: int(value) for key, value in re.findall(r"([a-z]+)=(\d+)", match[2])}
    return counts


def changed_tasks(output: str) -> dict[str, list[str]]:
    """The tasks that reported changed, by host, from the default callback's output."""
    task = "?"
    changed: dict[str, list[str]] = {}
    for line in output.splitlines():
        if match := re.match(r"^(?:TASK|RUNNING HANDLER) \[(.*)\] \*+$", line):
            task = match[1]
        elif match := re.match(r"^changed: \[([^\]]+)\]", line):
            tasks = changed.setdefault(match[1], [])
            if task not in tasks:
                tasks.append(task)
    return changed


def tail(output: str, lines: int = 40) -> str:
    return "\n".join("    " + line for line in output.splitlines()[-lines:])


def profile_tasks_recap(output: str) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Task times from the TASKS RECAP of ansible.posix.profile_tasks, role totals from the ROLE RECAP of
    profile_roles (or, without it, summed from the tasks' "role : task" names)."""
    sections: dict[str, list[tuple[str, float]]] = {"TASKS": [], "ROLE": []}
    current = None
    for line in output.splitlines():
        if match := re.match(r"^(TASKS|ROLE) RECAP \*", line):
            current = sections[match[1]]
        elif current is not None and (match := re.match(r"^(.+?) -+ +(\d+\.\d+)s$", line)):
            current.append((match[1].strip(), float(match[2])))
    tasks = sorted(sections["TASKS"], key=lambda item: -item[1])
    roles = [(name, seconds) for name, seconds in sections["ROLE"] if name != "total"]
    if not roles:
        return tasks, _by_role(tasks)
    return tasks, sorted(roles, key=lambda item: -item[1])


def _by_role(tasks: list[tuple[str, float]]) -> list[tuple[str, float]]:
    roles: dict[str, float] = {}
    for name, seconds in tasks:
        role = name.split(" : ", 1)[0] if " : " in name else "(the play's own tasks)"
        roles[role] = roles.get(role, 0.0) + seconds
    return sorted(roles.items(), key=lambda item: -item[1])


def junit_recap(directory: Path) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Task times from the JUnit report of ansible-core's junit callback (one host), role totals summed from them."""
    tasks: dict[str, float] = {}
    for report in directory.glob("*.xml"):
        for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314 -- our own callback's report
            # "[host] play: role : task"; the role part is missing for the play's own tasks.
            name = re.sub(r"^\[[^\]]+\] [^:]*: ", "", case.get("name", ""))
            tasks[name] = tasks.get(name, 0.0) + float(case.get("time", "0"))
    ordered = sorted(tasks.items(), key=lambda item: -item[1])
    return ordered, _by_role(ordered)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.runs: int = args.runs
        self.converge_runs: int = args.converge_runs
        self.rows: list[str] = args.rows
        self.suite: str = args.suite
        self.keep: bool = args.keep
        self.tree = Path(args.tree).resolve() if args.tree else REPO
        self.site = self.tree / "playbooks" / "site.yml"
        self.lab_inventory = self.tree / "inventories" / "lab"
        for needed in (self.site, self.lab_inventory / "hosts.yml", self.tree / "roles"):
            if not needed.exists():
                raise BenchError(f"{needed} does not exist: --tree must name a mailfort checkout")
        self.tmp = Path(tempfile.mkdtemp(prefix=PREFIX))
        (self.tmp / "logs").mkdir()
        self.inventory = self.tmp / "inventory"
        self.ssh_inventory = self.tmp / "inventory-ssh"
        self.count = 0
        self.output = ""
        self.created = False
        self.results: list[Row] = []
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.profile: tuple[str, list[tuple[str, float]], list[tuple[str, float]]] | None = None
        base = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
        base |= {
            "CONTAINERS_CONF": str(REPO / "lab" / "containers.conf"),
            "ANSIBLE_FORCE_COLOR": "false",
            "ANSIBLE_NOCOLOR": "true",
            "PY_COLORS": "0",
        }
        # playbooks/lab.yml of this checkout makes the containers, whatever tree is measured.
        self.lab_env = base | {"ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
        config = self.tree / "ansible.cfg"
        self.env = base | {
            "ANSIBLE_CONFIG": str(config if config.exists() else REPO / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(self.tmp / "collections"),
            # Ansible's own SSH defaults with a longer ControlPersist, sockets in our directory.
            "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=600s",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.tmp / "cp"),
        }

    # ------------------------------------------------------------------------------------------ running things

    def run(self, label: str, argv: list[str], env: dict[str, str] | None = None, stdin: str = "") -> tuple[float, str]:
        """Run argv, keep its output in the log directory; seconds and output, or BenchError when it fails."""
        self.count += 1
        log = self.tmp / "logs" / f"{self.count:03d}-{label}.log"
        start = time.perf_counter()
        result = subprocess.run(  # noqa: S603 -- argv is built here from fixed names, no shell
            argv,
            env=env or self.env,
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - start
        log.write_text(" ".join(argv) + "\n\n" + result.stdout)
        if result.returncode != 0:
            raise BenchError(f"{label}: {argv[0]} exited {result.returncode} (log {log}):\n{tail(result.stdout)}")
        return seconds, result.stdout

    def podman(self, label: str, *args: str, stdin: str = "") -> str:
        return self.run(label, ["podman", *args], env=self.lab_env, stdin=stdin)[1]

    def playbook(
        self,
        label: str,
        playbook: Path,
        hosts: list[str],
        *options: str,
        inventory: Path | None = None,
        env: dict[str, str] | None = None,
        rerun: bool = False,
    ) -> float:
        """One ansible-playbook run on hosts: its seconds. A failed or unreachable host stops the bench; on a re-run,
        a host that changed something is a problem to report (the run's output stays in self.output)."""
        argv = [str(BIN / "ansible-playbook"), "-i", str(inventory or self.inventory), "--limit", ",".join(hosts)]
        seconds, self.output = self.run(label, [*argv, *options, str(playbook)], env=env)
        counts = recap(self.output)
        for host in hosts:
            count = counts.get(host)
            if count is None or count.get("failed", 0) or count.get("unreachable", 0):
                raise BenchError(f"{label}: {host} failed or is missing from the recap:\n{tail(self.output)}")
            if rerun and count.get("changed", 0):
                tasks = changed_tasks(self.output).get(host, ["?"])
                self.problems.append(
                    f"{label} (log {self.count:03d}): {host} changed={count['changed']} on a re-run: {'; '.join(tasks)}"
                )
        print(f"  .. {label}: {seconds:.1f} s", flush=True)
        return seconds

    def rerun(self, label: str, hosts: list[str], *options: str, inventory: Path | None = None) -> Callable[[], float]:
        return lambda: self.playbook(label, self.site, hosts, *options, inventory=inventory, rerun=True)

    def audit(self, label: str) -> Callable[[], float]:
        """playbooks/audit.yml on HOST, its probes aimed at the bench network's address (the lab inventory's
        mail_audit_address reads the demo lab's network), reporting only: the row measures time, not verdicts."""
        options = (
            "-e", "mailfort_audit_report_only=true",
            "-e", f"mail_audit_address={self.address(HOST)}",
            "-e", f"mailfort_audit_report_dir={self.tmp / 'audit'}",
        )  # fmt: skip
        return lambda: self.playbook(label, self.site.parent / "audit.yml", [HOST], *options)

    def setup(self, label: str, inventory: Path | None = None) -> Callable[[], float]:
        def measure() -> float:
            argv = [str(BIN / "ansible"), "-i", str(inventory or self.inventory), HOST, "-m", "ansible.builtin.setup"]
            seconds, output = self.run(label, argv)
            # Over SSH the facts carry the connection's addresses: proof that the baseline did not go through podman.
            if inventory == self.ssh_inventory and '"SSH_CONNECTION"' not in output:
                raise BenchError(f"{label}: the facts of {HOST} have no SSH_CONNECTION: not connected over SSH")
            print(f"  .. {label}: {seconds:.1f} s", flush=True)
            return seconds

        return measure

    def pair(self, key: str, timed: Callable[[], float], baseline: Callable[[], float], note: str = "") -> None:
        """A warm-up of each, then runs of the two in turn, so that a change in the machine's load hits both."""
        print(f"{key}: {ROWS[key].timed} against {ROWS[key].baseline}", flush=True)
        timed()
        baseline()
        row = Row(key, [], [], note or f"one warm-up of each, then {self.runs} timed run(s) of each, taking turns")
        for _ in range(self.runs):
            row.seconds.append(timed())
            row.baseline.append(baseline())
        self.results.append(row)

    # ------------------------------------------------------------------------------------------ containers

    def lab(self, state: str, names: list[str]) -> None:
        """Create (present) or remove (absent) bench containers, and the bench network, with playbooks/lab.yml."""
        if not names or any(not name.startswith(PREFIX) for name in names):
            raise BenchError(f"refusing to touch containers not named {PREFIX}*: {names}")
        extra = {
            "mailfort_lab_state": state,
            "mailfort_lab_suite": self.suite,
            "mailfort_lab_network": NETWORK,
            "mailfort_lab_containers": [
                {"name": name, "hostname": f"{name.removeprefix(PREFIX)}.bench.mailfort.test", "cap_add": ["NET_ADMIN"]}
                for name in names
            ],
        }
        path = self.tmp / f"lab-{state}.json"
        path.write_text(json.dumps(extra))
        argv = [str(BIN / "ansible-playbook"), str(REPO / "playbooks" / "lab.yml"), "-e", f"@{path}"]
        seconds = self.run(f"lab-{state}", argv, env=self.lab_env)[0]
        self.created = self.created or state == "present"
        print(f"  .. containers {state}: {', '.join(names)} ({seconds:.0f} s)", flush=True)

    def existing(self) -> list[str]:
        names = self.podman("podman-ps", "ps", "--all", "--format", "{{.Names}}").split()
        return [name for name in ALL_HOSTS if name in names]

    def recreate(self, names: list[str]) -> None:
        for name in names:
            self.podman("podman-rm", "rm", "--force", "--time", "2", name)
        self.lab("present", names)

    def teardown(self) -> None:
        self.close_ssh()
        if self.keep:
            self._write_absent()
            print(f"--keep: containers {', '.join(self.existing())} and network {NETWORK} stay; remove them with")
            print(f"  ANSIBLE_CONFIG={REPO}/ansible.cfg {BIN}/ansible-playbook {REPO}/playbooks/lab.yml \\")
            print(f"    -e @{self.tmp}/lab-absent.json")
            return
        if not self.created and not self.existing():
            return
        try:
            self.lab("absent", ALL_HOSTS)
        except BenchError as error:
            print(f"bench: {error}; removing the containers with podman", file=sys.stderr)
            for name in self.existing():
                subprocess.run(["podman", "rm", "--force", name], env=self.lab_env, check=False)  # noqa: S603, S607
            subprocess.run(["podman", "network", "rm", NETWORK], env=self.lab_env, check=False)  # noqa: S603, S607

    def _write_absent(self) -> None:
        hosts = [{"name": name} for name in ALL_HOSTS]
        state = {"mailfort_lab_state": "absent", "mailfort_lab_network": NETWORK, "mailfort_lab_containers": hosts}
        (self.tmp / "lab-absent.json").write_text(json.dumps(state))

    def network(self) -> dict:
        """The bench network's first subnet: its `subnet` and `gateway`."""
        return json.loads(self.podman("network-inspect", "network", "inspect", NETWORK))[0]["subnets"][0]

    def subnet(self) -> str:
        return self.network()["subnet"]

    def address(self, name: str) -> str:
        template = f'{{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}'
        return self.podman("inspect", "inspect", "--format", template, name).strip()

    def installed(self, name: str) -> set[str]:
        listing = self.podman("dpkg-query", "exec", name, "dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package}\n")
        return {line.split()[1] for line in listing.splitlines() if line.startswith("ii ")}

    # ------------------------------------------------------------------------------------------ what is measured

    def collections(self) -> None:
        """A collections path with the measured tree as mailfort.mail and this checkout's other collections."""
        root = self.tmp / "collections" / "ansible_collections"
        for source in (REPO / "collections", self.tree / "collections"):  # the tree's own copies win
            for path in sorted((source / "ansible_collections").glob("*/*")):
                if path.parent.name == "mailfort" or not (path / "MANIFEST.json").exists():
                    continue
                link = root / path.parent.name / path.name
                link.parent.mkdir(parents=True, exist_ok=True)
                link.unlink(missing_ok=True)
                link.symlink_to(path.resolve())
        (root / "mailfort").mkdir(parents=True, exist_ok=True)
        (root / "mailfort" / "mail").symlink_to(self.tree)

    def profiler(self) -> str:
        """ansible.posix (profile_tasks, profile_roles) if it is on the collections path, in the venv or in the
        cached bundle wheel make setup downloads; otherwise ansible-core's own junit callback."""
        posix = self.tmp / "collections" / "ansible_collections" / "ansible" / "posix"
        if (posix / "plugins" / "callback" / "profile_tasks.py").exists():
            return "ansible.posix"
        venv = Path(sysconfig.get_paths()["purelib"]) / "ansible_collections" / "ansible" / "posix"
        if (venv / "plugins" / "callback" / "profile_tasks.py").exists():
            return "ansible.posix"
        for wheel in sorted(REPO.glob(".cache/ansible-*-py3-none-any.whl"), reverse=True):
            with zipfile.ZipFile(wheel) as bundle:
                members = [name for name in bundle.namelist() if name.startswith("ansible_collections/ansible/posix/")]
                bundle.extractall(self.tmp / "collections", members)
            return "ansible.posix"
        return "junit"

    def packages(self) -> list[str]:
        """The Debian packages the roles install on the lab mail host, from their __<role>_packages lists."""
        settings: dict[str, Any] = {}
        for path in sorted(self.tree.glob("roles/*/defaults/main.yml")):
            settings |= yaml.safe_load(path.read_text()) or {}
        for path in sorted((self.lab_inventory / "group_vars").glob("**/*.y*ml")):
            settings |= yaml.safe_load(path.read_text()) or {}
        packages: list[str] = []
        for path in sorted(self.tree.glob("roles/*/vars/main.yml")) + sorted(self.tree.glob("roles/*/defaults/*.yml")):
            for key, value in (yaml.safe_load(path.read_text()) or {}).items():
                if not re.fullmatch(r"__\w+_packages", key) or not isinstance(value, list):
                    continue
                if key in CONDITIONAL_PACKAGES and settings.get(CONDITIONAL_PACKAGES[key]) is not True:
                    continue
                packages += [name for name in value if isinstance(name, str) and name not in packages]
        if not packages:
            raise BenchError(f"no __<role>_packages lists in {self.tree}/roles/*/vars/main.yml")
        return packages

    def inventories(self, ssh: dict[str, Any] | None = None) -> None:
        """The bench inventory: the lab mail host's groups and variables for each bench mail host, the package
        host in a group of its own. With ssh, the same for HOST reached over SSH, in the SSH inventory."""
        source = yaml.safe_load((self.lab_inventory / "hosts.yml").read_text())
        hosts = {HOST: ssh} if ssh else {name: {} for name in MAIL_HOSTS}
        tree = _bench_groups(source.get("all") or {}, hosts)
        if tree is None:
            raise BenchError(f"{LAB_MAIL_HOST} is not in {self.lab_inventory}/hosts.yml")
        if not ssh:
            tree.setdefault("children", {})["bench_packages"] = {"hosts": {PACKAGE_HOST: {}}}
        directory = self.ssh_inventory if ssh else self.inventory
        directory.mkdir(exist_ok=True)
        (directory / "hosts.yml").write_text(yaml.safe_dump({"all": tree}, sort_keys=False))
        if (self.lab_inventory / "group_vars").is_dir():
            (directory / "group_vars").symlink_to(self.lab_inventory / "group_vars")
        if ssh:
            (directory / "host_vars").symlink_to(self.inventory / "host_vars")
            return
        # The lab's firewall lets its podman network administer the mail host, and reads that network's subnet from
        # podman: the bench hosts get the bench network's instead. fail2ban never bans it, so that nothing the bench
        # does over SSH can lock it out.
        # The audit's TLS judge runs here, on the bench network's gateway, which the limits exempt as the lab's.
        subnet = self.subnet()
        bench_vars = {
            "mail_firewall_admin_allowlist": [subnet],
            "fail2ban_ignore_networks": [subnet],
            "lab_controller_address": self.network()["gateway"],
        }
        lab_host_vars = [
            path
            for path in (self.lab_inventory / "host_vars").glob(f"{LAB_MAIL_HOST}*")
            if path.name in (LAB_MAIL_HOST, f"{LAB_MAIL_HOST}.yml", f"{LAB_MAIL_HOST}.yaml")
        ]
        for host in MAIL_HOSTS:
            host_vars = directory / "host_vars" / host
            host_vars.mkdir(parents=True)
            for path in lab_host_vars:
                for number, file in enumerate(sorted(path.glob("*.y*ml")) if path.is_dir() else [path]):
                    (host_vars / f"00-lab-{number}.yml").symlink_to(file)
            (host_vars / "99-bench.yml").write_text(
                "---\n# bench/playbooks.py: the bench network in place of the lab's\n"
                + yaml.safe_dump(bench_vars, sort_keys=False)
            )

    # ------------------------------------------------------------------------------------------ rows

    def converge(self) -> None:
        """A fresh converge of HOST (timed with the converge row) and of the fleet's other hosts (untimed)."""
        fleet = MAIL_HOSTS[1:] if "fleet" in self.rows else []
        timed = "converge" in self.rows
        self.lab("present", [HOST, *fleet, *([PACKAGE_HOST] if timed else [])])
        self.inventories()
        if not timed:
            self.playbook("converge", self.site, [HOST, *fleet], "--forks", str(len(MAIL_HOSTS)))
            return
        print(f"converge: {ROWS['converge'].timed} against {ROWS['converge'].baseline}", flush=True)
        packages = self.packages()
        extra = self.tmp / "packages.json"
        extra.write_text(json.dumps({"mailfort_bench_packages": packages}))
        row = Row("converge", [], [])
        for number in range(1, self.converge_runs + 1):
            if number > 1:
                self.recreate([HOST, PACKAGE_HOST])
            row.seconds.append(self.playbook(f"converge-{number}", self.site, [HOST]))
            row.baseline.append(
                self.playbook(f"packages-{number}", BENCH / "packages.yml", [PACKAGE_HOST], "-e", f"@{extra}")
            )
        runs = f"{self.converge_runs} run{'s' if self.converge_runs > 1 else ''} each"
        row.note = f"{runs}, no warm-up (each run needs new containers; --converge-runs N for more)"
        self.results.append(row)
        converged, baseline = self.installed(HOST), self.installed(PACKAGE_HOST)
        self.notes.append(f"converge: packages.yml installs {len(packages)} packages: {' '.join(packages)}")
        if converged == baseline:
            self.notes.append(f"converge: both hosts end with the same {len(converged)} Debian packages")
        else:
            only = sorted(converged - baseline)
            extra_packages = sorted(baseline - converged)
            self.notes.append(
                f"converge: the packages differ: only after site.yml {only or 'none'}; "
                f"only after packages.yml {extra_packages or 'none'}"
            )
        if fleet:
            self.playbook("converge-fleet", self.site, fleet, "--forks", str(len(MAIL_HOSTS)))

    def enable_ssh(self) -> None:
        """sshd in HOST with a key made for this run; the SSH inventory that reaches it."""
        if "openssh-server" not in self.installed(HOST):
            self.podman("apt-update", "exec", HOST, "apt-get", "update", "-qq")
            self.podman(
                "install-sshd",
                *("exec", "--env", "DEBIAN_FRONTEND=noninteractive", HOST),
                *("apt-get", "install", "--yes", "--quiet", "--quiet", "openssh-server"),
            )
            self.notes.append("ssh: the lab image has no openssh-server; the bench installed it in the container")
        keys = self.tmp / "ssh"
        keys.mkdir(mode=0o700)
        key = keys / "id_ed25519"
        self.run("ssh-keygen", ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mailfort-bench", "-f", str(key)])
        install = (
            "install -d -m 0700 /root/.ssh && cat > /root/.ssh/authorized_keys && chmod 0600 /root/.ssh/authorized_keys"
        )
        self.podman(
            "authorized-keys",
            "exec",
            "--interactive",
            HOST,
            "sh",
            "-c",
            install,
            stdin=key.with_suffix(".pub").read_text(),
        )
        self.podman("start-sshd", "exec", HOST, "systemctl", "enable", "--now", "ssh.service")
        address = self.address(HOST)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((address, 22), timeout=2).close()
                break
            except OSError as error:
                if time.monotonic() > deadline:
                    raise BenchError(f"sshd in {HOST} does not answer on {address}:22: {error}") from error
                time.sleep(1)
        self.inventories(
            ssh={
                "ansible_connection": "ssh",
                "ansible_host": address,
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(key),
                "ansible_ssh_common_args": (
                    f"-o IdentitiesOnly=yes -o IdentityAgent=none -o StrictHostKeyChecking=accept-new "
                    f"-o UserKnownHostsFile={keys / 'known_hosts'}"
                ),
                "ansible_ssh_pipelining": True,
            }
        )

    def close_ssh(self) -> None:
        for control in sorted((self.tmp / "cp").glob("*")):
            subprocess.run(  # noqa: S603 -- the ControlPersist masters this run started
                ["ssh", "-o", f"ControlPath={control}", "-O", "exit", "mailfort-bench"],  # noqa: S607
                capture_output=True,
                check=False,
            )

    def run_profile(self) -> None:
        print("profile: one single-host re-run with per-task timing", flush=True)
        source = self.profiler()
        env = dict(self.env)
        if source == "ansible.posix":
            env |= {
                "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks,ansible.posix.profile_roles",
                "PROFILE_TASKS_SUMMARY_ONLY": "true",
                "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all",
            }
        else:
            env |= {
                "ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.junit",
                "JUNIT_OUTPUT_DIR": str(self.tmp / "junit"),
                "JUNIT_HIDE_TASK_ARGUMENTS": "true",
            }
        self.playbook("profile", self.site, [HOST], rerun=True, env=env)
        tasks, roles = (
            profile_tasks_recap(self.output) if source == "ansible.posix" else junit_recap(self.tmp / "junit")
        )
        how = (
            "ansible.posix.profile_tasks and profile_roles"
            if source == "ansible.posix"
            else "ansible-core's junit callback: ansible.posix, which has profile_tasks, is not installed"
        )
        self.profile = (how, tasks, roles)

    def start(self) -> None:
        for needed in ("podman", "ssh", "ssh-keygen"):
            if shutil.which(needed) is None:
                raise BenchError(f"{needed} is not installed")
        image = f"localhost/mailfort-lab:{self.suite}"
        if subprocess.run(["podman", "image", "exists", image], env=self.lab_env, check=False).returncode:  # noqa: S603, S607
            raise BenchError(f"no image {image}: build it with lab/build-image {self.suite} (make images)")
        leftovers = self.existing()
        network = subprocess.run(["podman", "network", "exists", NETWORK], env=self.lab_env, check=False)  # noqa: S603, S607
        if leftovers or network.returncode == 0:
            print(f"  .. removing what an earlier bench left: {', '.join(leftovers) or NETWORK}", flush=True)
            self.lab("absent", ALL_HOSTS)
        self.collections()

    def measure(self) -> None:
        self.start()
        self.converge()
        if "ssh" in self.rows:
            self.enable_ssh()
        if "rerun" in self.rows:
            self.pair("rerun", self.rerun("rerun", [HOST]), self.setup("setup"))
        if "check" in self.rows:
            self.pair("check", self.rerun("check", [HOST], "--check", "--diff"), self.setup("setup"))
        if PROFILE in self.rows:
            self.run_profile()
        if "audit" in self.rows:
            self.pair("audit", self.audit("audit"), self.setup("setup"))
        if "fleet" in self.rows:
            forks = ("--forks", str(len(MAIL_HOSTS)))
            self.pair("fleet", self.rerun("rerun-fleet", MAIL_HOSTS, *forks), self.rerun("rerun-1", [HOST], *forks))
        if "ssh" in self.rows:
            self.pair(
                "ssh",
                self.rerun("rerun-ssh", [HOST], inventory=self.ssh_inventory),
                self.setup("setup-ssh", self.ssh_inventory),
            )
            masters = len(list((self.tmp / "cp").glob("*")))
            self.notes.append(f"ssh: {masters} ControlPersist master connection(s) carried the SSH runs")

    # ------------------------------------------------------------------------------------------ output

    def report(self, started: float) -> None:
        print()
        if self.results:
            print(
                f"{'row':<9} {'timed':<32} {'runs':>4} {'median s':>9} {'spread':>7}   {'baseline':<28} "
                f"{'median s':>9} {'spread':>7} {'ratio':>6} {'bound':>7}"
            )
        for row in self.results:
            kind = ROWS[row.key]
            ratio = statistics.median(row.seconds) / statistics.median(row.baseline)
            bound = f"<= {kind.bound:g}" if kind.bound else "-"
            verdict = "" if kind.bound is None else ("  within" if ratio <= kind.bound else "  OVER")
            print(
                f"{row.key:<9} {kind.timed:<32} {len(row.seconds):>4} {statistics.median(row.seconds):>9.1f} "
                f"{spread(row.seconds):>7.0%}   {kind.baseline:<28} {statistics.median(row.baseline):>9.1f} "
                f"{spread(row.baseline):>7.0%} {ratio:>6.2f} {bound:>7}{verdict}"
            )
        for row in self.results:
            print(f"  {row.key}: {row.note}")
        medians = {row.key: statistics.median(row.seconds) for row in self.results}
        if "rerun" in medians and "ssh" in medians:
            print(f"  ssh: the re-run over SSH takes {medians['ssh'] / medians['rerun']:.2f} times the podman re-run")
        for note in self.notes:
            print(f"  {note}")
        if self.profile:
            how, tasks, roles = self.profile
            print()
            print(
                f"the single-host re-run's slowest tasks ({how}; {len(tasks)} tasks, {sum(t for _, t in tasks):.1f} s)"
            )
            for name, seconds in tasks[:10]:
                print(f"  {seconds:>7.2f} s  {name}")
            print("its roles' totals")
            for name, seconds in roles:
                print(f"  {seconds:>7.2f} s  {name}")
        load = " ".join(f"{value:.2f}" for value in os.getloadavg())
        print(f"\nload average at the end {load}; the whole section took {(time.monotonic() - started) / 60:.1f} min")
        for problem in self.problems:
            print(f"PROBLEM: {problem}")


def _bench_groups(group: dict[str, Any], hosts: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The part of an inventory group that holds the lab's mail host, with the bench hosts in its place."""
    children = {}
    for name, child in (group.get("children") or {}).items():
        kept = _bench_groups(child or {}, hosts)
        if kept is not None:
            children[name] = kept
    lab_hosts = group.get("hosts") or {}
    if LAB_MAIL_HOST not in lab_hosts and not children:
        return None
    kept: dict[str, Any] = {"vars": group["vars"]} if group.get("vars") else {}
    if LAB_MAIL_HOST in lab_hosts:
        kept["hosts"] = {name: {**(lab_hosts[LAB_MAIL_HOST] or {}), **extra} for name, extra in hosts.items()}
    if children:
        kept["children"] = children
    return kept


def row_list(value: str) -> list[str]:
    rows = [row.strip() for row in value.split(",") if row.strip()]
    unknown = [row for row in rows if row not in ROW_NAMES]
    if unknown or not rows:
        raise argparse.ArgumentTypeError(f"unknown rows {unknown}: choose from {','.join(ROW_NAMES)}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each side of a row (default 3)")
    parser.add_argument(
        "--converge-runs", type=int, default=1, help="fresh converges in the converge row, new containers each (1)"
    )
    parser.add_argument("--rows", type=row_list, default=ROW_NAMES, help=f"a subset of {','.join(ROW_NAMES)}")
    parser.add_argument("--suite", choices=["trixie", "bookworm"], default="trixie", help="the lab image (trixie)")
    parser.add_argument("--keep", action="store_true", help="leave the containers for debugging")
    parser.add_argument("--tree", help="measure the playbooks, roles and lab inventory of this checkout")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.converge_runs < 1:
        parser.error("--runs and --converge-runs must be at least 1")
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        bench = Bench(args)
    except BenchError as error:
        print(f"bench/playbooks.py: {error}", file=sys.stderr)
        return 1
    commit = subprocess.run(  # noqa: S603 -- a fixed git command
        ["git", "-C", str(bench.tree), "log", "-1", "--format=%h %s"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(  # noqa: S603 -- a fixed git command
        ["git", "-C", str(bench.tree), "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    commit = f"{commit[:60]}{', with uncommitted changes' if dirty else ''}" if commit else "not a git checkout"
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"playbook passes: tree {bench.tree} ({commit}), suite {args.suite}")
    print(f"rows {','.join(args.rows)}; {args.runs} timed runs each; {os.cpu_count()} CPUs, load average {load}")
    print("medians of wall time, spread (max - min) / median; the machine is shared: read the ratios, not the seconds")
    status = 0
    try:
        bench.measure()
    except BenchError as error:
        print(f"bench/playbooks.py: {error}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("bench/playbooks.py: interrupted", file=sys.stderr)
        status = 130
    finally:
        try:
            bench.report(started)
        finally:
            bench.teardown()
    if bench.problems and not status:
        status = 1
    if status or bench.keep:
        print(f"logs of every run: {bench.tmp}/logs")
    else:
        shutil.rmtree(bench.tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
