# SPDX-License-Identifier: MIT
"""The built collection works on a lab host by itself: the tarball `make collection` makes, installed with
ansible-galaxy into an empty project, runs mail_tls and postfix_hardening by their full names against a converged MX
host in check mode, with the lab's inventory, and refuses bad input with the role's own message.

The project has no roles path, its ansible.cfg names only its own collections/ (not this checkout's, whose
link to itself would shadow the artifact, nor Python's path), and it holds the artifact plus what it needs beside
it, linked from this checkout: the dependencies galaxy.yml names, and containers.podman for the lab's connection
plugin, which comes from this checkout's connection_plugins/ (ANSIBLE_CONNECTION_PLUGINS) and is no part of the
artifact. Every task of the roles must come from the installed copy (-vv prints each task's file).

Check mode on converged hosts changes nothing (the rerun phase proves it for site.yml), so this runs with the
read-only tests; the bad input is refused at validation, also in check mode.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from conftest import PlaybookRun
from harness import assert_refused
from lab import INVENTORY, MX1, PROJECT_DIR

pytestmark = pytest.mark.readonly

GALAXY = yaml.safe_load((PROJECT_DIR / "galaxy.yml").read_text(encoding="utf-8"))
TARBALL_NAME = f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
# The lab's own collection beside the artifact's dependencies: connection_plugins/podman.py builds on it.
LAB_COLLECTIONS = ("containers.podman",)
TASK_PATH = re.compile(r"^task path: (?P<path>\S+?):\d+$", re.MULTILINE)
# The bad input: a certificate lifetime the role refuses (its argument spec takes any whole number, so the refusal
# is the role's own check, with its message), and the words the refusal must contain.
BAD_INPUT = {"mail_tls_lifetime_days": 400}
BAD_INPUT_WORDS = ["mail_tls: an input error", "mail_tls_lifetime_days", "366"]

# What a user's playbook looks like: the roles by their full names. postfix_hardening_milters in the lab's inventory
# names dkim_postfix_milter, known from the dkim role without running it (as playbooks/postfix_hardening.yml does).
PLAYBOOK = [
    {
        "name": "Certificates and Postfix from the installed collection",
        "hosts": "mail_servers",
        "become": True,
        "gather_facts": True,
        "gather_subset": ["min"],
        "pre_tasks": [
            {
                "name": "Know the DKIM signers' address that postfix_hardening_milters names",
                "ansible.builtin.include_role": {"name": "mailfort.mail.dkim", "tasks_from": "exports", "public": True},
            }
        ],
        "roles": [{"role": "mailfort.mail.mail_tls"}, {"role": "mailfort.mail.postfix_hardening"}],
    }
]


def _env(project: Path) -> dict[str, str]:
    """The environment of the project's runs: no Ansible setting of the checkout (the Makefile exports ANSIBLE_CONFIG),
    the project's ansible.cfg, the lab's connection plugin and podman configuration."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_") and key != "PYTHONPATH"}
    env.update(
        ANSIBLE_CONFIG=str(project / "ansible.cfg"),
        ANSIBLE_HOME=str(project / ".ansible"),
        ANSIBLE_CONNECTION_PLUGINS=str(PROJECT_DIR / "connection_plugins"),
        CONTAINERS_CONF=str(PROJECT_DIR / "lab" / "containers.conf"),
        ANSIBLE_FORCE_COLOR="false",
        ANSIBLE_NOCOLOR="true",
    )
    return env


def _run(project: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, check=False, cwd=project, env=_env(project)
    )


def _playbook(project: Path, *args: str) -> PlaybookRun:
    """One ansible-playbook run in the project, its output captured as the lab's other playbook runs are."""
    proc = _run(project, "ansible-playbook", *args)
    return PlaybookRun(proc.returncode, proc.stdout + proc.stderr)


@pytest.fixture(scope="session")
def tarball(tmp_path_factory) -> Path:
    """The collection built once, as `make collection` builds it."""
    out = tmp_path_factory.mktemp("collection-dist")
    built = subprocess.run(
        ["ansible-galaxy", "collection", "build", "--force", "--output-path", str(out), str(PROJECT_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=out,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return out / TARBALL_NAME


@pytest.fixture(scope="session")
def project(tmp_path_factory, tarball) -> Path:
    """An empty project with the artifact installed and nothing of this checkout on its Ansible paths."""
    project = tmp_path_factory.mktemp("collection-project")
    collections = project / "collections"
    (project / "ansible.cfg").write_text(
        "[defaults]\n"
        f"collections_path = {collections}\n"
        "collections_scan_sys_path = false\n"
        f"roles_path = {project / 'roles'}\n"
        "interpreter_python = auto_silent\n"
        "retry_files_enabled = false\n"
        "callback_result_format = yaml\n"
        "forks = 10\n"
        "[ssh_connection]\n"
        "pipelining = true\n",
        encoding="utf-8",
    )
    # --force: ansible-galaxy skips a collection it finds in any configured path.
    done = _run(
        project, "ansible-galaxy", "collection", "install", "--offline", "--no-deps", "--force",
        "-p", str(collections), str(tarball), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for fqcn in (*GALAXY["dependencies"], *LAB_COLLECTIONS):
        namespace, name = fqcn.split(".")
        source = PROJECT_DIR / "collections" / "ansible_collections" / namespace / name
        assert (source / "MANIFEST.json").is_file(), f"{fqcn} is not in collections/ (make collections)"
        target = collections / "ansible_collections" / namespace / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source, target_is_directory=True)
    (project / "mail.yml").write_text(json.dumps(PLAYBOOK), encoding="utf-8")
    return project


@pytest.fixture(scope="session")
def installed(project) -> Path:
    return project / "collections" / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]


@pytest.fixture(scope="module")
def runs(project) -> dict[str, PlaybookRun]:
    """The check-mode run with the lab's inventory, and the one with bad input: side by side, both on MX1."""
    common = ("-i", str(INVENTORY), "mail.yml", "--limit", MX1, "--check")
    with ThreadPoolExecutor(2) as pool:
        good = pool.submit(_playbook, project, *common, "-vv")
        bad = pool.submit(_playbook, project, *common, "-e", json.dumps(BAD_INPUT))
        return {"good": good.result(), "bad": bad.result()}


def test_the_project_sees_the_installed_collection_only(project, installed):
    listed = _run(project, "ansible-galaxy", "collection", "list", "--format", "json", timeout=120)
    assert listed.returncode == 0, listed.stderr
    paths = json.loads(listed.stdout)
    found = {path for path, names in paths.items() if "mailfort.mail" in names}
    assert found == {str(installed.parent.parent)}, found


def test_the_roles_of_the_artifact_run_in_check_mode_on_a_converged_mx_host(runs):
    run = runs["good"]
    assert run.returncode == 0, run.output[-4000:]
    assert MX1 in run.recap, run.output[-4000:]
    recap = run.recap[MX1]
    assert recap["ok"] > 0, recap
    assert recap["failed"] == 0, recap
    assert recap["unreachable"] == 0, recap
    # The host is converged with the same inventory (site.yml): the artifact's roles find nothing to change.
    assert recap["changed"] == 0, "\n".join(run.changed_tasks())


@pytest.mark.parametrize("role", ["mail_tls", "postfix_hardening", "dkim"])
def test_every_task_of_the_roles_comes_from_the_installed_artifact(runs, installed, role):
    paths = [Path(m["path"]) for m in TASK_PATH.finditer(runs["good"].output) if f"/roles/{role}/" in m["path"]]
    assert paths, runs["good"].output[-4000:]
    assert all(path.is_relative_to(installed / "roles" / role) for path in paths), sorted(set(map(str, paths)))


def test_nothing_of_the_checkout_is_loaded_but_the_lab_connection(runs):
    checkout = [str(PROJECT_DIR / part) + "/" for part in ("roles", "plugins", "playbooks", "filter_plugins")]
    used = [line for line in runs["good"].output.splitlines() if any(path in line for path in checkout)]
    assert not used, used[:20]


def test_bad_input_is_refused_by_the_artifacts_role_before_anything_changes(runs):
    run = runs["bad"]
    failure = assert_refused("mail_tls_lifetime_days over 366", run, BAD_INPUT_WORDS)
    # Refused by the role's validation, the first thing it does: no task that could change the host ran.
    tasks = [line for line in run.output.splitlines() if line.startswith("TASK [")]
    assert tasks, run.output[-3000:]
    assert "mailfort.mail.mail_tls : validate |" in tasks[-1], tasks[-3:]
    recap = run.recap[MX1]
    assert recap["failed"] == 1, (recap, failure[:2000])
    assert recap["changed"] == 0, (recap, failure[:2000])
