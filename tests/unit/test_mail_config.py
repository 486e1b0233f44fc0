# SPDX-License-Identifier: MIT
"""mail_config: the action's argument checks on their own, then real plays on localhost.

Each play renders the templates of a role in tmp_path (roles/demo/templates/) into a live directory under tmp_path,
with a check that is a small script: it logs every run (so a test can prove that it did not run) and accepts a
candidate whose a.conf says "good". Nothing is mocked: the action renders, the module compares, builds the
candidate, runs the script and swaps, as it would on a mail host.
"""

from __future__ import annotations

import grp
import importlib.util
import json
import os
import pwd
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

PROJECT_DIR = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("mail_config_action", PROJECT_DIR / "plugins/action/mail_config.py")
mail_config = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(mail_config)

# Tokens the secret file holds; neither may appear in any output.
TOKEN = "tok-Velvet-Quartz-9931"  # noqa: S105  # a made-up token the test looks for, no credential
OTHER_TOKEN = "tok-Amber-Lynx-4410"  # noqa: S105  # the same
USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name
BACKUP_NAME = re.compile(r"^(?P<file>.+)\.\d+\.\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}~$")

CHECK_SCRIPT = """#!/bin/sh
# The demo daemon's own check: it logs what the candidate holds, and accepts it when a.conf says good.
candidate=$1
log=$2
echo "checked: $(cd "$candidate" && find . -type f | sort | tr '\\n' ' ')" >> "$log"
if ! grep -q 'value = good' "$candidate/a.conf"; then
    echo "demo-check: a.conf is not good"
    # A careless daemon quotes the whole configuration, secrets and all.
    cat "$candidate/secret.conf" >&2
    exit 1
fi
"""

TEMPLATES = {
    "a.conf.j2": "{{ ansible_managed | comment }}\nvalue = {{ demo_value }}\n",
    # A template in a subdirectory, with a variable of its own and one the candidate's copy changes.
    "sub/b.conf.j2": "{% if demo_flag %}\nflag = on\n{% endif %}\ntable = {{ demo_table_dir }}/table\n",
    "secret.conf.j2": "[Definition]\ntoken = {{ demo_token }}\n",
    "broken.j2": "value = {{ demo_value | no_such_filter }}\n",
    "undefined.j2": "value = {{ demo_missing }}\n",
}


# ------------------------------------------------------------------------------------------- the action's checks


@pytest.mark.parametrize(
    ("dest", "clean"),
    [("a.conf", "a.conf"), ("./jail.d//x.local", "jail.d/x.local"), ("mailfort/tables/", "mailfort/tables")],
)
def test_a_dest_inside_live_dir_is_cleaned(dest, clean):
    assert mail_config.relative_dest(0, dest) == clean


@pytest.mark.parametrize("dest", ["../x", "/etc/passwd", "a/../../b", "", ".", "a\0b", 5])
def test_a_dest_outside_live_dir_is_refused_naming_the_option(dest):
    with pytest.raises(mail_config.ConfigError, match=re.escape(f"files[3].dest = {dest!r} must be a path inside")):
        mail_config.relative_dest(3, dest)


@settings(database=None, max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b.conf", ".", "..", "", "jail.d", "~", " "]), max_size=6).map("/".join))
def test_a_dest_that_is_accepted_always_stays_inside_live_dir(dest):
    try:
        clean = mail_config.relative_dest(0, dest)
    except mail_config.ConfigError:
        return
    joined = os.path.normpath(os.path.join("/etc/demo", clean))
    assert joined.startswith("/etc/demo/")
    assert joined == f"/etc/demo/{clean}"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"src": "a.j2", "dest": "a", "mode": 420}, "files[1].mode = 420 must be a quoted octal mode"),
        ({"src": "a.j2", "dest": "a", "mode": "u=rw"}, "files[1].mode = 'u=rw' must be a quoted octal mode"),
        ({"src": "a.j2", "dest": "a", "secret": "yes"}, "files[1].secret = 'yes' must be true or false"),
        ({"src": "a.j2", "dest": "a", "backup": "no"}, "files[1].backup = 'no' must be true or false"),
        ({"src": "a.j2", "dest": "a", "vars": ["x"]}, "files[1].vars must be a mapping"),
        ({"src": "a.j2", "dest": "a", "validate": "x"}, "files[1].validate is not an option"),
        ({"dest": "a"}, "files[1].src = None must name a template"),
        ("a.conf", "files[1] = 'a.conf' must be a mapping with src and dest"),
    ],
)
def test_a_bad_file_entry_is_refused_naming_its_option(item, message):
    with pytest.raises(mail_config.ConfigError, match=re.escape(message)):
        mail_config.file_spec(1, item)


def test_a_file_entry_gets_the_defaults():
    spec = mail_config.file_spec(0, {"src": "a.j2", "dest": "a", "owner": 0})
    assert (spec["mode"], spec["owner"], spec["group"], spec["secret"]) == ("0644", "0", "root", False)


def test_checks_are_split_into_words_with_the_candidate_in_place():
    checks = mail_config.check_specs(
        [
            "fail2ban-client -c {candidate} -t",
            {"cmd": 'script -q -c "postfix -c {candidate} check" /dev/null', "fail_on_output": True},
        ],
        "/var/lib/c d",
    )
    assert checks[0]["argv"] == ["fail2ban-client", "-c", "/var/lib/c d", "-t"]
    assert checks[1]["argv"] == ["script", "-q", "-c", "postfix -c /var/lib/c d check", "/dev/null"]
    assert checks[1]["fail_on_output"] is True
    assert checks[0]["display"] == "fail2ban-client -c /var/lib/c d -t"


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("demo 'unclosed", 'check = "demo \'unclosed" cannot be split into words'),
        ([{"command": "x"}], "check[0].command is not an option"),
        ([{"cmd": "x", "ignore_output": ["("]}], "check[0].ignore_output: '(' is no regular expression"),
        ([{"cmd": "x", "fail_on_stderr": "yes"}], "check[0].fail_on_stderr = 'yes' must be true or false"),
        (["ok", ""], "check[1] = '' must be a command"),
    ],
)
def test_a_bad_check_is_refused_naming_it(check, message):
    with pytest.raises(mail_config.ConfigError, match=re.escape(message)):
        mail_config.check_specs(check, "/c")


# ------------------------------------------------------------------------------------------------ real plays


class Demo:
    """A role with templates, a live directory, a candidate directory and the check script, all in tmp_path."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path
        self.live = tmp_path / "live"
        self.candidate = tmp_path / "candidate"
        self.checks_log = tmp_path / "checks.log"
        self.handler_log = tmp_path / "handler.log"
        self.results = tmp_path / "results.json"
        for name, text in TEMPLATES.items():
            path = tmp_path / "roles" / "demo" / "templates" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        (tmp_path / "check.sh").write_text(CHECK_SCRIPT, encoding="utf-8")
        handlers = [
            {
                "name": "demo config changed",
                "ansible.builtin.command": {"argv": ["sh", "-c", f"echo ran >> {self.handler_log}"]},
                "changed_when": True,
            }
        ]
        self._write("roles/demo/handlers/main.yml", handlers)

    def task(self, **more) -> dict:
        """The task as a role writes it: three files, one of them secret, mirrored and checked."""
        return {
            "live_dir": str(self.live),
            "candidate_dir": str(self.candidate),
            "mirror": True,
            "files": [
                {"src": "a.conf.j2", "dest": "a.conf", "owner": USER, "group": GROUP},
                {
                    "src": "sub/b.conf.j2",
                    "dest": "sub/b.conf",
                    "mode": "0640",
                    "owner": USER,
                    "group": GROUP,
                    "vars": {"demo_flag": True, "demo_table_dir": str(self.live)},
                    "candidate_vars": {"demo_table_dir": str(self.candidate)},
                },
                {"src": "secret.conf.j2", "dest": "secret.conf", "mode": "0600", "owner": USER, "group": GROUP}
                | {"secret": True},
            ],
            "check": f"sh {self.root}/check.sh {{candidate}} {self.checks_log}",
        } | more

    def play(self, tasks: list[dict], *args: str, **variables) -> subprocess.CompletedProcess:
        """Run the role's TASKS (each mail_config task registers and keeps its result) with the project's config."""
        role_tasks = [
            {
                "name": f"config | Render, check and install {index}",
                "mailfort.mail.mail_config": task,
                "register": f"result_{index}",
                "notify": "demo config changed",
                "ignore_errors": True,
            }
            for index, task in enumerate(tasks)
        ]
        names = ", ".join(f"result_{index}" for index in range(len(tasks)))
        role_tasks.append(
            {
                "name": "Keep the results for the test",
                # One module call (ansible.builtin.copy would make two), in check mode too.
                "ansible.builtin.command": {
                    "argv": ["sh", "-c", f"cat > {self.results}"],
                    "stdin": f"{{{{ [{names}] | to_json }}}}",
                },
                "changed_when": False,
                "check_mode": False,
            }
        )
        self._write("roles/demo/tasks/main.yml", role_tasks)
        values = {"demo_value": "good", "demo_token": TOKEN} | variables
        play = {"hosts": "localhost", "connection": "local", "gather_facts": False, "roles": ["demo"]}
        self._write("play.yml", [play])
        self._write("vars.yml", values)  # in a file: the command line of ansible-playbook is no output of the play
        self.results.unlink(missing_ok=True)
        return subprocess.run(
            ["ansible-playbook", str(self.root / "play.yml"), "-e", f"@{self.root / 'vars.yml'}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=PROJECT_DIR,
            env={**os.environ, "ANSIBLE_CONFIG": str(PROJECT_DIR / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "false"},
        )

    def result(self, index: int = 0) -> dict:
        return json.loads(self.results.read_text(encoding="utf-8"))[index]

    def run(self, *args: str, **variables) -> dict:
        """One mail_config task (task=..., or the default task) that must succeed: its result, with the output."""
        task = variables.pop("task", None) or self.task()
        ran = self.play([task], *args, **variables)
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
        result = self.result()
        assert not result.get("failed"), result.get("msg")
        return result | {"_output": ran.stdout + ran.stderr}

    def checks(self) -> list[str]:
        return self.checks_log.read_text(encoding="utf-8").splitlines() if self.checks_log.exists() else []

    def handled(self) -> int:
        return len(self.handler_log.read_text(encoding="utf-8").splitlines()) if self.handler_log.exists() else 0

    def _write(self, name: str, data) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def tree(*paths: Path) -> dict:
    """Every entry under PATHS with its mode (and type), owner, group, modification time and content."""
    found = {}
    for path in paths:
        for entry in sorted(path.rglob("*")) if path.exists() else []:
            st = entry.lstat()
            content = entry.read_bytes() if stat.S_ISREG(st.st_mode) else None
            found[str(entry)] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, content)
    return found


@pytest.fixture
def demo(tmp_path) -> Demo:
    return Demo(tmp_path)


def test_the_first_run_installs_every_file_and_the_second_changes_nothing(demo):
    first = demo.run()

    assert first["changed"] is True
    assert first["changed_files"] == ["a.conf", "sub/b.conf", "secret.conf"]
    assert [c["differs"] for c in first["changes"]] == [["content"]] * 3
    assert (demo.live / "a.conf").read_text() == "#\n# Ansible managed\n#\nvalue = good\n"
    # The file's own vars, and a {% if %} block trimmed as ansible.builtin.template trims it.
    assert (demo.live / "sub" / "b.conf").read_text() == f"flag = on\ntable = {demo.live}/table\n"
    # The candidate's copy was rendered with candidate_vars, and kept after the run.
    assert (demo.candidate / "sub" / "b.conf").read_text() == f"flag = on\ntable = {demo.candidate}/table\n"
    assert (demo.live / "secret.conf").read_text() == f"[Definition]\ntoken = {TOKEN}\n"
    modes = {name: stat.S_IMODE((demo.live / name).stat().st_mode) for name in ("a.conf", "sub/b.conf", "secret.conf")}
    assert modes == {"a.conf": 0o644, "sub/b.conf": 0o640, "secret.conf": 0o600}
    assert stat.S_IMODE(demo.candidate.stat().st_mode) == 0o700
    assert demo.checks() == ["checked: ./a.conf ./secret.conf ./sub/b.conf "]
    assert [c["refused"] for c in first["checks"]] == [False]
    assert demo.handled() == 1
    assert not [name for name in os.listdir(demo.live) if BACKUP_NAME.match(name)]  # nothing was there to back up

    live, candidate = tree(demo.live), tree(demo.candidate)
    second = demo.run()

    assert second["changed"] is False
    assert second["changed_files"] == []
    assert "checks" not in second
    assert demo.checks() == ["checked: ./a.conf ./secret.conf ./sub/b.conf "]  # the check did not run again
    assert demo.handled() == 1
    assert (tree(demo.live), tree(demo.candidate)) == (live, candidate)


def test_a_change_the_check_refuses_leaves_the_live_files_alone(demo):
    demo.run()
    live = tree(demo.live)

    ran = demo.play([demo.task()], demo_value="bad", demo_token=OTHER_TOKEN)
    refused = demo.result()

    assert refused["failed"] is True
    assert refused["changed"] is False
    assert refused["changed_files"] == []
    command = f"sh {demo.root}/check.sh {demo.candidate} {demo.checks_log}"
    assert refused["msg"] == (
        f"mail_config: the check refused the candidate configuration in {demo.candidate}; the live configuration in"
        f" {demo.live} is unchanged.\n`{command}` exited with 1: demo-check: a.conf is not good\n********\n********"
    )
    assert tree(demo.live) == live
    assert demo.handled() == 1  # a failed task notifies nothing
    # The refused candidate is kept for a person to read.
    assert "value = bad" in (demo.candidate / "a.conf").read_text()
    # The check printed the secret file, [Definition] and the token: each of its lines is masked.
    assert OTHER_TOKEN in (demo.candidate / "secret.conf").read_text()
    assert OTHER_TOKEN not in ran.stdout + ran.stderr
    assert "demo-check: a.conf is not good" in ran.stdout


def test_check_mode_reports_the_change_and_touches_nothing(demo):
    demo.run()
    before = tree(demo.live, demo.candidate)

    task = demo.task()
    task["files"][0]["mode"] = "0600"
    dry = demo.run("--check", "--diff", task=task, demo_value="good again")

    assert dry["changed"] is True
    assert dry["changed_files"] == ["a.conf"]
    assert dry["changes"][0]["differs"] == ["content", "mode"]
    assert "checks" not in dry
    assert tree(demo.live, demo.candidate) == before
    assert len(demo.checks()) == 1
    assert demo.handled() == 1  # notified, but a handler in check mode changes nothing either
    assert [entry["before_header"] for entry in dry["diff"]] == [str(demo.live / "a.conf")] * 2
    assert dry["diff"][1]["before"] == {"mode": "0644"}
    assert dry["diff"][1]["after"] == {"mode": "0600"}


def test_diff_shows_a_normal_file_and_hides_the_secret_one_even_at_vvv(demo):
    first = demo.run("--diff", "-vvv")
    second = demo.run("--diff", "-vvv", demo_value="good, better", demo_token=OTHER_TOKEN)

    normal, secret = second["diff"]
    assert normal == {
        "before_header": str(demo.live / "a.conf"),
        "after_header": str(demo.live / "a.conf"),
        "before": "#\n# Ansible managed\n#\nvalue = good\n",
        "after": "#\n# Ansible managed\n#\nvalue = good, better\n",
    }
    assert secret == {
        "before_header": str(demo.live / "secret.conf"),
        "after_header": str(demo.live / "secret.conf"),
        "before": "(secret: the live content is not shown)\n",
        "after": "(secret: the new content is not shown)\n",
    }
    assert second["changed_files"] == ["a.conf", "secret.conf"]
    assert f"--- before: {demo.live}/a.conf" in second["_output"]
    assert "+value = good, better" in second["_output"]
    assert "+(secret: the new content is not shown)" in second["_output"]
    assert first["diff"][2]["before"] == ""  # a new secret file: there was nothing to hide
    # The secret reached the host, and nothing that either run printed holds it.
    assert OTHER_TOKEN in (demo.live / "secret.conf").read_text()
    for output in (first["_output"], second["_output"]):
        assert "module_args" in output  # -vvv shows the invocation
        assert TOKEN not in output
        assert OTHER_TOKEN not in output
    # -vvv shows the module's invocation: each file named, with no file's content.
    shown = second["_output"].split("TASK [demo : config |", 1)[1].split("TASK [demo : Keep", 1)[0]
    assert shown.count("checksum:") == 3
    assert not re.search(r"^\s*(?:secret_)?(?:candidate_)?content:", shown, re.MULTILINE)


def test_a_replaced_file_is_backed_up_as_ansible_names_backups(demo):
    demo.run()
    changed = demo.run(demo_value="good 2")

    backups = [c.get("backup_file") for c in changed["changes"]]
    assert changed["changed_files"] == ["a.conf"]
    assert BACKUP_NAME.match(backups[0])["file"] == str(demo.live / "a.conf")
    assert Path(backups[0]).read_text() == "#\n# Ansible managed\n#\nvalue = good\n"
    assert stat.S_IMODE(Path(backups[0]).stat().st_mode) == 0o644
    assert (demo.live / "a.conf").read_text().endswith("value = good 2\n")

    without = demo.run(task=demo.task(backup=False), demo_value="good 3")
    assert "backup_file" not in without["changes"][0]
    assert len([name for name in os.listdir(demo.live) if BACKUP_NAME.match(name)]) == 1

    # A file of its own mind: a credential file keeps no backup, whatever the task's backup says.
    task = demo.task()
    task["files"][0]["backup"] = False
    not_this_one = demo.run(task=task, demo_value="good 4")
    assert "backup_file" not in not_this_one["changes"][0]
    assert len([name for name in os.listdir(demo.live) if BACKUP_NAME.match(name)]) == 1


def test_a_mode_change_alone_is_applied_without_the_check_or_a_backup(demo):
    demo.run()
    content = (demo.live / "sub" / "b.conf").read_bytes()

    task = demo.task()
    task["files"][1]["mode"] = "0604"
    changed = demo.run(task=task)

    assert changed["changed"] is True
    assert changed["changed_files"] == ["sub/b.conf"]
    assert changed["changes"] == [
        {"dest": "sub/b.conf", "path": str(demo.live / "sub" / "b.conf"), "differs": ["mode"]}
    ]
    assert stat.S_IMODE((demo.live / "sub" / "b.conf").stat().st_mode) == 0o604
    assert (demo.live / "sub" / "b.conf").read_bytes() == content
    assert len(demo.checks()) == 1
    assert demo.handled() == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="only root gives a file to another group")
def test_a_group_change_alone_is_a_change(demo):
    demo.run()
    task = demo.task()
    task["files"][0]["group"] = "daemon"

    changed = demo.run(task=task)

    assert changed["changes"][0]["differs"] == ["group"]
    assert grp.getgrgid((demo.live / "a.conf").stat().st_gid).gr_name == "daemon"
    assert len(demo.checks()) == 1


def test_mirror_starts_the_candidate_from_the_live_tree_and_without_it_holds_only_the_files(demo):
    demo.live.mkdir()
    (demo.live / "extra.conf").write_text("kept by the admin\n")
    (demo.live / "extra.conf").chmod(0o600)
    # Postfix keeps its candidate inside its live directory; the mirror must not copy it into itself.
    inner = demo.live / "mailfort-candidate"

    demo.run(task=demo.task(candidate_dir=str(inner)))

    assert demo.checks()[-1] == "checked: ./a.conf ./extra.conf ./secret.conf ./sub/b.conf "
    assert stat.S_IMODE((inner / "extra.conf").stat().st_mode) == 0o600
    assert not (inner / "mailfort-candidate").exists()

    (demo.candidate).mkdir()
    (demo.candidate / "left-over.conf").write_text("from an earlier run\n")
    demo.run(task=demo.task(mirror=False), demo_value="good 2")

    assert demo.checks()[-1] == "checked: ./a.conf ./secret.conf ./sub/b.conf "
    assert not (demo.candidate / "left-over.conf").exists()
    assert (demo.live / "extra.conf").read_text() == "kept by the admin\n"


def test_without_install_the_checked_candidate_waits_and_only_a_mode_change_applies(demo):
    """The firewall's way: the checked ruleset is put in force by a later, commit-confirmed task."""
    demo.run()
    before = (demo.live / "a.conf").read_text()
    task = demo.task(install=False)
    task["files"][1]["mode"] = "0604"

    held = demo.run(task=task, demo_value="good 2")

    assert held["changed"] is True
    assert held["changed_files"] == ["a.conf", "sub/b.conf"]
    assert [c["differs"] for c in held["changes"]] == [["content"], ["mode"]]
    assert "waits to be put in force" in held["msg"]
    assert (demo.live / "a.conf").read_text() == before
    assert (demo.candidate / "a.conf").read_text().endswith("value = good 2\n")
    assert stat.S_IMODE((demo.live / "sub" / "b.conf").stat().st_mode) == 0o604
    assert len(demo.checks()) == 2
    assert "backup_file" not in held["changes"][0]

    refused = demo.play([demo.task(install=False, check=None, mirror=False)])
    assert "install: false needs check" in demo.result()["msg"], refused.stdout[-2000:]


def test_a_refused_candidate_inside_live_dir_leaves_live_dir_as_it_was(demo):
    """Postfix keeps its candidate in /etc/postfix: the candidate directory is emptied, not replaced, so a refused
    change leaves even the live directory's modification time alone."""
    inner = demo.live / "mailfort-candidate"
    demo.run(task=demo.task(candidate_dir=str(inner)))
    (inner / "left-over.conf").write_text("from an earlier run\n")
    inner.chmod(0o755)
    before = os.stat(demo.live).st_mtime_ns

    demo.play([demo.task(candidate_dir=str(inner))], "-e", "demo_value=bad")

    assert demo.result()["failed"] is True
    assert os.stat(demo.live).st_mtime_ns == before
    assert not (inner / "left-over.conf").exists()
    assert stat.S_IMODE(inner.stat().st_mode) == 0o700


def test_several_checks_and_one_that_judges_the_output(demo):
    live_a, live_b = demo.root / "live-a", demo.root / "live-b"
    warned = {
        "cmd": """sh -c 'echo "updating /etc/resolv.conf => /spool/etc/resolv.conf"; echo "warning: bad map"'""",
        "fail_on_output": True,
        "ignore_output": [r"^updating \S+ => \S+$"],
    }
    quiet = warned | {"cmd": """sh -c 'echo "updating /etc/hosts => /spool/etc/hosts"'"""}
    base = demo.task()
    tasks = [
        base | {"live_dir": str(live), "candidate_dir": str(live) + "-candidate", "check": [base["check"], check]}
        for live, check in ((live_a, warned), (live_b, quiet))
    ]

    demo.play(tasks)
    refused, passed = demo.result(0), demo.result(1)

    assert refused["failed"] is True
    assert "exited with 0: updating /etc/resolv.conf => /spool/etc/resolv.conf\nwarning: bad map" in refused["msg"]
    assert [c["refused"] for c in refused["checks"]] == [False, True]
    assert not live_a.exists()
    assert passed["changed"] is True
    assert [c["refused"] for c in passed["checks"]] == [False, False]
    assert (live_b / "a.conf").exists()


def test_a_check_that_judges_only_its_standard_error(demo):
    """postconf -n lists the parameters on its standard output and warns on its standard error."""
    live_a, live_b = demo.root / "live-a", demo.root / "live-b"
    warns = {
        "cmd": """sh -c 'echo "a = 1"; echo "postconf: warning: unused parameter: b=2" >&2'""",
        "fail_on_stderr": True,
    }
    lists = warns | {"cmd": """sh -c 'echo "a = 1"; echo "b = 2"'"""}
    base = demo.task()
    tasks = [
        base | {"live_dir": str(live), "candidate_dir": str(live) + "-candidate", "check": [check]}
        for live, check in ((live_a, warns), (live_b, lists))
    ]

    demo.play(tasks)
    refused, passed = demo.result(0), demo.result(1)

    assert refused["failed"] is True
    assert "a = 1\npostconf: warning: unused parameter: b=2" in refused["msg"]
    assert not live_a.exists()
    assert passed["changed"] is True
    assert passed["checks"][0] | {"cmd": ""} == {"cmd": "", "rc": 0, "output": "a = 1\nb = 2", "refused": False}


def test_mistakes_are_refused_naming_the_option_and_nothing_is_written(demo):
    def task(files=None, **more):
        good = {"src": "a.conf.j2", "dest": "a.conf"}
        return demo.task(files=files or [good, good | {"dest": "b.conf"}], **more)

    good = {"src": "a.conf.j2", "dest": "a.conf"}
    cases = {
        "bad dest": task([good, good | {"dest": "b"}, good | {"dest": "../x"}]),
        "absolute dest": task([good | {"dest": "/etc/passwd"}]),
        "twice": task([good, good | {"dest": "./a.conf"}]),
        "missing template": task([good, {"src": "nope.conf.j2", "dest": "nope.conf"}]),
        "template error": task([{"src": "broken.j2", "dest": "broken.conf"}]),
        "secret template error": task([{"src": "broken.j2", "dest": "broken.conf", "secret": True}]),
        "secret undefined": task([{"src": "undefined.j2", "dest": "u.conf", "secret": True}]),
        "no candidate_dir": task(candidate_dir=None),
        "candidate is live": task(candidate_dir=str(demo.live)),
        "candidate holds live": task(candidate_dir=str(demo.root)),
        "dest in candidate": task([good | {"dest": "c/x"}], candidate_dir=str(demo.live / "c")),
        "mirror without check": task(check=None),
        "unknown owner": task([good | {"owner": "no-such-user-here"}]),
        "relative live_dir": task(live_dir="live"),
    }
    demo.play(list(cases.values()))
    messages = {name: demo.result(index)["msg"] for index, name in enumerate(cases)}

    assert messages["bad dest"] == "mail_config: files[2].dest = '../x' must be a path inside live_dir"
    assert messages["absolute dest"] == "mail_config: files[0].dest = '/etc/passwd' must be a path inside live_dir"
    assert messages["twice"] == "mail_config: files[1].dest = './a.conf' is files[0].dest already"
    assert messages["missing template"].startswith("mail_config: files[1].src = 'nope.conf.j2': no such template")
    assert messages["template error"].startswith(
        "mail_config: files[0].src = 'broken.j2' (dest 'broken.conf') could not be rendered:"
    )
    assert "no_such_filter" in messages["template error"]
    assert "the error's details are not shown" in messages["secret template error"]
    assert "no_such_filter" not in messages["secret template error"]
    assert "'demo_missing' is undefined" in messages["secret undefined"]
    assert messages["no candidate_dir"] == (
        "mail_config: candidate_dir is required with check, to build the candidate in"
    )
    assert messages["candidate is live"].startswith(f"mail_config: candidate_dir = '{demo.live}' must not be / nor")
    assert messages["candidate holds live"].startswith(f"mail_config: candidate_dir = '{demo.root}' must not be")
    assert messages["dest in candidate"] == (
        f"mail_config: files[0].dest = 'c/x' must not be inside candidate_dir ({demo.live / 'c'})"
    )
    assert messages["mirror without check"] == (
        "mail_config: mirror needs check: a candidate is only built to be checked"
    )
    assert messages["unknown owner"] == "mail_config: files[0].owner = 'no-such-user-here' is no user on the host"
    assert messages["relative live_dir"] == "mail_config: live_dir = 'live' must be an absolute path"
    assert not demo.live.exists()
    assert not demo.candidate.exists()
    assert demo.handled() == 0


def test_symbolic_links_never_take_a_file_out_of_its_tree(demo):
    elsewhere = demo.root / "elsewhere"
    elsewhere.mkdir()
    lives = [demo.root / f"live-{name}" for name in ("link", "out", "mirrored")]
    for live in lives:
        live.mkdir()
    (lives[0] / "a.conf").symlink_to(elsewhere / "a.conf")
    (lives[1] / "sub").symlink_to(elsewhere)
    # Inside the live tree, so allowed there; but the candidate's copy of the link points back into the live tree.
    (lives[2] / "real").mkdir()
    (lives[2] / "sub").symlink_to(lives[2] / "real")

    demo.play([demo.task(live_dir=str(live), candidate_dir=f"{live}-candidate") for live in lives])
    messages = [demo.result(index)["msg"] for index in range(3)]

    assert messages == [
        f"mail_config: files[0].dest = 'a.conf': {lives[0] / 'a.conf'} is a symbolic link; mail_config replaces"
        " regular files",
        "mail_config: files[1].dest = 'sub/b.conf' leads out of live_dir through a symbolic link",
        "mail_config: files[1].dest = 'sub/b.conf' leads out of the candidate through a symbolic link",
    ]
    assert os.listdir(elsewhere) == []
    assert sorted(os.listdir(lives[2])) == ["real", "sub"]
    assert os.listdir(lives[2] / "real") == []
