# SPDX-License-Identifier: MIT
"""The collection artifact: what `make collection` builds is what a user installs, and it works on its own.

The tarball is built once into a temporary directory and read as it is (MANIFEST.json, FILES.json, its members).
Then it is installed with ansible-galaxy into an empty project that has no roles path and sees no collection but the
installed artifact and its dependencies (linked from this checkout's collections/, without the checkout's link to
itself, which would shadow the artifact): a play there calls a filter and a role's validation by their full names,
and every task path, ansible-doc and ansible-galaxy must point into that project, never into this checkout. Last,
the execution environment: ansible-builder makes a build context from meta/execution-environment.yml, and its
introspection finds the controller's Python requirements in the installed artifact.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path, PurePosixPath

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

PROJECT_DIR = Path(__file__).resolve().parents[2]
GALAXY = yaml.safe_load((PROJECT_DIR / "galaxy.yml").read_text(encoding="utf-8"))
FQCN = f"{GALAXY['namespace']}.{GALAXY['name']}"
TARBALL_NAME = f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
ROLES = sorted(path.parent.parent.name for path in (PROJECT_DIR / "roles").glob("*/meta/argument_specs.yml"))
# What DESIGN.md names; a new role is found by the glob above.
KNOWN_ROLES = {"mail_tls", "postfix_hardening", "dovecot_hardening", "mail_firewall", "fail2ban", "dkim", "mail_dns"}
CONTROLLER_REQUIREMENTS = PROJECT_DIR / "meta" / "requirements-controller.txt"
# Far above what the collection weighs (about 250 kB, 200 files): a bound that catches a lab image, a venv or a
# build output that slipped past build_ignore, not a few more templates.
MAX_BYTES = 2 * 1024 * 1024
MAX_FILES = 600
TIMEOUT = 120


def _clean_env(project: Path) -> dict[str, str]:
    """This process's environment without any Ansible setting or Python path of the checkout (the Makefile exports
    ANSIBLE_CONFIG), with the temporary project's ansible.cfg and home."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_") and key != "PYTHONPATH"}
    env.update(
        ANSIBLE_CONFIG=str(project / "ansible.cfg"),
        ANSIBLE_HOME=str(project / ".ansible"),
        ANSIBLE_FORCE_COLOR="false",
        ANSIBLE_NOCOLOR="true",
    )
    return env


def _run(*args: str, project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=TIMEOUT, check=False, cwd=project, env=_clean_env(project)
    )


def _pins(path: Path) -> dict[str, str]:
    """name -> version of a pip freeze file (requirements.txt)."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _requirements(path: Path) -> list[Requirement]:
    return [
        Requirement(line.split("#", 1)[0])
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.split("#", 1)[0].strip()
    ]


# ---------------------------------------------------------------------------------------------------- the artifact


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """An empty Ansible project: its own ansible.cfg, no roles path, collections only from its collections/."""
    project = tmp_path_factory.mktemp("project")
    (project / "ansible.cfg").write_text(
        "[defaults]\n"
        f"collections_path = {project / 'collections'}\n"
        # Not the collections of Python's path either: only what this project installed.
        "collections_scan_sys_path = false\n"
        f"roles_path = {project / 'roles'}\n"
        "interpreter_python = auto_silent\n"
        "retry_files_enabled = false\n",
        encoding="utf-8",
    )
    (project / "hosts.yml").write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                        }
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    return project


@pytest.fixture(scope="module")
def tarball(tmp_path_factory, project) -> Path:
    """The collection, built from this checkout as `make collection` builds it."""
    out = tmp_path_factory.mktemp("dist")
    built = _run(
        "ansible-galaxy", "collection", "build", "--force", "--output-path", str(out), str(PROJECT_DIR), project=project
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert "Skipping" not in built.stdout + built.stderr, "a link points outside the collection: " + built.stderr
    return out / TARBALL_NAME


@pytest.fixture(scope="module")
def members(tarball) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tarball) as tar:
        return {member.name.removeprefix("./").rstrip("/"): member for member in tar.getmembers()}


@pytest.fixture(scope="module")
def metadata(tarball) -> dict[str, dict]:
    with tarfile.open(tarball) as tar:
        return {name: json.load(tar.extractfile(name)) for name in ("MANIFEST.json", "FILES.json")}


@pytest.fixture(scope="module")
def installed(project, tarball) -> Path:
    """The tarball installed into the project, with its dependencies linked from this checkout's collections/."""
    collections = project / "collections"
    # --force: ansible-galaxy counts a collection as installed when it finds it in any configured path, and the
    # checkout's own link is one if the environment leaks; here it is not, and the artifact must land here anyway.
    done = _run(
        "ansible-galaxy", "collection", "install", "--offline", "--no-deps", "--force",
        "-p", str(collections), str(tarball), project=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for dependency in GALAXY["dependencies"]:
        namespace, name = dependency.split(".")
        source = PROJECT_DIR / "collections" / "ansible_collections" / namespace / name
        assert (source / "MANIFEST.json").is_file(), f"{dependency} is not installed in collections/: make collections"
        target = collections / "ansible_collections" / namespace / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source, target_is_directory=True)
    path = collections / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    assert (path / "MANIFEST.json").is_file(), done.stdout
    return path


def test_the_manifest_names_the_collection_its_version_and_dependencies(metadata):
    info = metadata["MANIFEST.json"]["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == ("mailfort", "mail", GALAXY["version"])
    assert info["dependencies"] == GALAXY["dependencies"]
    assert info["license"] == ["MIT"]
    assert info["readme"] == "README.md"


def test_files_json_lists_exactly_the_files_in_the_tarball(metadata, members):
    listed = {entry["name"] for entry in metadata["FILES.json"]["files"] if entry["ftype"] == "file"}
    present = {name for name, member in members.items() if not member.isdir()} - {"MANIFEST.json", "FILES.json"}
    assert listed == present


@pytest.mark.parametrize("role", ROLES)
def test_every_role_ships_with_its_argument_specs_defaults_and_tasks(role, members):
    for part in ("meta/argument_specs.yml", "meta/main.yml", "defaults/main.yml", "tasks/main.yml", "README.md"):
        assert f"roles/{role}/{part}" in members, part


def test_the_roles_are_the_seven_the_design_names_or_more():
    assert set(ROLES) >= KNOWN_ROLES, sorted(KNOWN_ROLES - set(ROLES))


@pytest.mark.parametrize(
    "path",
    sorted(
        {
            *(str(path.relative_to(PROJECT_DIR)) for path in (PROJECT_DIR / "plugins" / "filter").glob("*.py")),
            *(str(path.relative_to(PROJECT_DIR)) for path in (PROJECT_DIR / "plugins" / "filter").glob("*.yml")),
            "plugins/modules/mail_dns_update.py",
            "plugins/action/mail_validate.py",
            "meta/runtime.yml",
            "meta/execution-environment.yml",
            "meta/requirements-controller.txt",
            "meta/ee-collections.yml",
            "requirements-controller.txt",
            "playbooks/site.yml",
            "playbooks/tasks/check_input.yml",
            "inventories/example/hosts.yml",
            "README.md",
            "CHANGELOG.md",
            "controls.yml",
        }
    ),
)
def test_the_collection_holds(path, members):
    assert path in members


# Top-level entries of the checkout that serve the lab, the tests or the toolchain, never a user.
LEFT_OUT = (
    "molecule",
    "tests",
    "lab",
    ".lab",
    "bench",
    "tools",
    "connection_plugins",
    "collections",
    "filter_plugins",
    "inventories/lab",
    "playbooks/lab.yml",
    "playbooks/demo_report.yml",
    ".venv",
    ".venv-judges",
    ".venv-sslyze",
    ".cache",
    ".hypothesis",
    ".pytest_cache",
    ".ruff_cache",
    ".ci",
    ".git",
    ".gitignore",
    ".ansible-lint",
    ".yamllint",
    "ansible.cfg",
    "Makefile",
    "pyproject.toml",
    "requirements.txt",
    "requirements.in",
    "requirements.yml",
)


@pytest.mark.parametrize("path", LEFT_OUT)
def test_the_collection_leaves_out(path, members):
    assert not [name for name in members if name == path or name.startswith(path + "/")]


def test_no_bytecode_or_build_output_is_shipped(members):
    assert not [name for name in members if "__pycache__" in name or name.endswith((".pyc", ".tar.gz"))]


def test_every_link_stays_inside_the_collection(members):
    for name, member in members.items():
        assert not PurePosixPath(name).is_absolute(), name
        assert ".." not in PurePosixPath(name).parts, name
        assert member.isfile() or member.isdir() or member.issym(), f"{name}: neither file, folder nor link"
        if member.issym():
            target = PurePosixPath(os.path.normpath(PurePosixPath(name).parent / member.linkname))
            assert not PurePosixPath(member.linkname).is_absolute(), f"{name} -> {member.linkname}"
            assert target.parts[:1] != ("..",), f"{name} -> {member.linkname} leaves the collection"
            assert str(target) in members, f"{name} -> {member.linkname} is dangling"


def test_the_tarball_is_small(tarball, members):
    files = [member for member in members.values() if not member.isdir()]
    assert tarball.stat().st_size < MAX_BYTES, tarball.stat().st_size
    assert len(files) < MAX_FILES, len(files)


# ------------------------------------------------------------------------------------- installed, in a new project

TASK_PATH = re.compile(r"^task path: (?P<path>\S+?):\d+$", re.MULTILINE)


def _play(project: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    play = [
        {
            "name": "Use the installed collection by its full names",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Canonicalise networks with the collection's filter",
                    "ansible.builtin.assert": {
                        "that": [
                            "(['192.0.2.7', '2001:db8::/64'] | mailfort.mail.mail_net_cidrs('my_networks'))"
                            " == ['192.0.2.7/32', '2001:db8::/64']"
                        ],
                        "quiet": True,
                    },
                },
                {
                    "name": "Check mail_tls's input with the collection's role",
                    "ansible.builtin.include_role": {"name": "mailfort.mail.mail_tls", "tasks_from": "validate"},
                    "vars": {"mail_tls_san_dns": ["mx1.example.org", "mail.example.org"]},
                },
                {
                    "name": "Show what the role worked out",
                    "ansible.builtin.assert": {
                        "that": [
                            "__mail_tls_mode == 'lab_ca'",
                            "__mail_tls_sans == ['mx1.example.org', 'mail.example.org']",
                            "__mail_tls_policy.protocols == ['TLSv1.2', 'TLSv1.3']",
                        ],
                        "quiet": True,
                    },
                },
            ],
        }
    ]
    (project / name).write_text(json.dumps(play), encoding="utf-8")
    # -vv prints each task's file: the role's must be the installed artifact's.
    return _run("ansible-playbook", "-i", "hosts.yml", name, "-vv", *args, project=project)


def test_a_play_runs_a_filter_and_a_role_of_the_installed_collection(project, installed):
    run = _play(project, "good.yml")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert re.search(r"localhost\s*:\s*ok=[1-9]\d*\s+changed=0\s+unreachable=0\s+failed=0", output), output[-2000:]
    role_tasks = [Path(m["path"]) for m in TASK_PATH.finditer(output) if "/roles/mail_tls/" in m["path"]]
    assert role_tasks, output[-3000:]
    assert all(path.is_relative_to(installed / "roles" / "mail_tls") for path in role_tasks), role_tasks
    checkout = [str(PROJECT_DIR / part) for part in ("roles", "plugins", "collections", "playbooks")]
    assert not [line for line in output.splitlines() if any(path in line for path in checkout)], "the checkout was used"


def test_the_installed_role_refuses_bad_input_with_its_own_message(project, installed):
    run = _play(project, "bad.yml", "-e", "mail_tls_profile=ancient")
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "mail_tls: an input error" in output, output[-3000:]
    assert "mail_tls_profile" in output, output[-3000:]
    assert "ancient" in output, output[-3000:]


def test_ansible_galaxy_lists_the_collection_in_the_project(project, installed):
    listed = _run(
        "ansible-galaxy", "collection", "list", "-p", str(project / "collections"), "--format", "json", project=project
    )
    assert listed.returncode == 0, listed.stderr
    found = {path: names[FQCN]["version"] for path, names in json.loads(listed.stdout).items() if FQCN in names}
    assert found == {str(project / "collections" / "ansible_collections"): GALAXY["version"]}


@pytest.mark.parametrize(
    ("kind", "name", "key"),
    [
        ("role", "mailfort.mail.postfix_hardening", "path"),
        ("filter", "mailfort.mail.mail_net_cidrs", "filename"),
        ("module", "mailfort.mail.mail_dns_update", "filename"),
    ],
)
def test_ansible_doc_reads_the_installed_collection(project, installed, kind, name, key):
    doc = _run("ansible-doc", "-t", kind, name, "--json", project=project)
    assert doc.returncode == 0, doc.stderr
    entry = json.loads(doc.stdout)[name]
    path = Path(entry[key] if kind == "role" else entry["doc"][key])
    assert path.is_relative_to(installed), path


# --------------------------------------------------------------------------------------- the execution environment


def test_ansible_builder_makes_a_build_context_from_the_definition(tmp_path):
    context = tmp_path / "context"
    made = subprocess.run(
        ["ansible-builder", "create", "--file", str(PROJECT_DIR / "meta" / "execution-environment.yml"),
         "--context", str(context)],
        capture_output=True, text=True, timeout=TIMEOUT, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    python = context / "_build" / "requirements.txt"
    galaxy = context / "_build" / "requirements.yml"
    # Copies, not links: the context goes to the container build on its own.
    assert python.is_file()
    assert not python.is_symlink()
    assert python.read_text(encoding="utf-8") == CONTROLLER_REQUIREMENTS.read_text(encoding="utf-8")
    assert yaml.safe_load(galaxy.read_text(encoding="utf-8"))["collections"] == [
        {"name": name, "version": version} for name, version in GALAXY["dependencies"].items()
    ]
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert f"ansible-core=={_pins(PROJECT_DIR / 'requirements.txt')['ansible-core']}" in containerfile
    assert "--user-pip=requirements.txt" in containerfile


def test_introspection_finds_the_controller_requirements_in_the_installed_collection(project, installed):
    """What ansible-builder reads from mailfort.mail when another execution environment installs it."""
    found = _run("ansible-builder", "introspect", str(project / "collections"), project=project)
    assert found.returncode == 0, found.stdout + found.stderr
    python = yaml.safe_load(found.stdout.split("---", 1)[1])["python"]
    ours = sorted(line.split("#")[0].strip() for line in python if line.endswith(f"from collection {FQCN}"))
    assert ours == sorted(str(requirement) for requirement in _requirements(CONTROLLER_REQUIREMENTS))


def _imported_names(node: ast.AST) -> list[str]:
    """The modules one node imports: import statements, and libraries.require("module", ...) (plugin_utils), which
    imports an optional library on first use."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if function in {"require", "import_module"} and isinstance(node.args[0].value, str):
            return [node.args[0].value]
    return []


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level modules the plugins import that are neither the standard library nor Ansible: module -> files."""
    imports: dict[str, set[str]] = {}
    for path in sorted((PROJECT_DIR / "plugins").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = _imported_names(node)
            for top in {name.split(".")[0] for name in names}:
                if top not in sys.stdlib_module_names and top not in {"__future__", "ansible", "ansible_collections"}:
                    imports.setdefault(top, set()).add(str(path.relative_to(PROJECT_DIR)))
    return imports


def test_the_controller_requirements_cover_every_library_the_plugins_import():
    distributions = importlib.metadata.packages_distributions()
    # What ansible-core itself requires is there wherever Ansible runs (Jinja2, PyYAML, cryptography...).
    core = {canonicalize_name(Requirement(r).name) for r in importlib.metadata.requires("ansible-core") or []}
    declared = {canonicalize_name(requirement.name) for requirement in _requirements(CONTROLLER_REQUIREMENTS)}
    missing = {
        module: sorted(files)
        for module, files in _third_party_imports().items()
        if not {canonicalize_name(d) for d in distributions.get(module, [module])} & (declared | core)
    }
    assert not missing, f"imported by the plugins but not in meta/requirements-controller.txt: {missing}"


def test_the_controller_requirements_are_floors_at_the_toolchains_pins():
    pins = _pins(PROJECT_DIR / "requirements.txt")
    for requirement in _requirements(CONTROLLER_REQUIREMENTS):
        name = canonicalize_name(requirement.name)
        # Floors only: an exact pin or a cap would clash with other collections in one execution environment.
        assert str(requirement.specifier) == f">={pins[name]}", requirement


def test_the_dependencies_admit_the_collections_the_toolchain_installs():
    wanted = yaml.safe_load((PROJECT_DIR / "requirements.yml").read_text(encoding="utf-8"))["collections"]
    toolchain = {collection["name"]: str(collection["version"]) for collection in wanted}
    for name, spec in GALAXY["dependencies"].items():
        assert toolchain[name] in SpecifierSet(spec), (name, spec, toolchain[name])


def test_the_requirements_link_resolves_for_both_readers():
    """ansible-builder reads dependencies.python relative to meta/ when it builds from the definition, and relative
    to the collection's root when it introspects an installed collection: one name, the file and a link to it."""
    definition = yaml.safe_load((PROJECT_DIR / "meta" / "execution-environment.yml").read_text(encoding="utf-8"))
    name = definition["dependencies"]["python"]
    assert (PROJECT_DIR / "meta" / name).resolve() == CONTROLLER_REQUIREMENTS.resolve()
    assert not (PROJECT_DIR / "meta" / name).is_symlink()
    assert (PROJECT_DIR / name).resolve() == CONTROLLER_REQUIREMENTS.resolve()
