# SPDX-License-Identifier: MIT
"""What a change of the role's input does to the live hosts, in one sequence of runs of the Postfix playbook
(playbooks/postfix_hardening.yml, which checks the input of mail_tls, postfix_hardening and dovecot_hardening only)
limited to postfix_hardening's configuration (--tags postfix_hardening_config, the part these changes touch, which
keeps the sequence within minutes). The playbook keeps the DKIM signers wired as site.yml does; its plain runs on
hosts site.yml converged change nothing (step 5):

1. a value that passes the role's checks but that Postfix refuses (an address the host does not have): the play
   stops at the candidate check with Postfix's own message, and the live configuration and Postfix stay as they were;
2. an ordinary parameter and an acknowledged extra: applied with a reload (same master process);
3. a parameter the master reads only at start: applied with a restart (a new master process);
4. a plain run restores the lab's configuration, keeping a backup of each main.cf it replaced;
5. a second plain run changes nothing: no file, no reload, no restart;
6. the state check: every file under /etc/postfix is back with the content, mode and owner it had before step 1.

A mutator (the restore runs even when an earlier step fails). The whole site.yml's idempotent re-run and its dry
run on the converged hosts are the rerun phase's (conftest's rerun and check_diff_run; test_rerun_output.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from lab import CREDENTIALS, MAIL_HOSTS, PROJECT_DIR
from postfix_facts import (
    AUTH_RATE_LIMIT,
    CANDIDATE_DIR,
    CONFIG_DIR,
    MAIN_CF,
    SMTP_PORT,
    master_events,
    master_pid,
    now,
    postconf,
    postfix_state,
    session,
    show,
    smtp,
)

pytestmark = pytest.mark.mutator

PLAYBOOK = PROJECT_DIR / "playbooks" / "postfix_hardening.yml"
CONFIG_TAGS = ("--tags", "postfix_hardening_config")
# A host's failed task in the output: the header, then its indented result.
FATAL = re.compile(r"^fatal: \[(?P<host>[^\]]+)\]: FAILED! =>[ \t]*\n(?P<body>(?:[ \t].*\n|\n)*)", re.MULTILINE)
UNKNOWN_ADDRESS = "192.0.2.1"  # TEST-NET-1: no host here has it
MESSAGE_SIZE = 41943040  # 40 MiB instead of the default 50 MiB
AUTH_RATE = str(AUTH_RATE_LIMIT - 1)  # instead of the lab's
SETTINGS = ("inet_interfaces", "inet_protocols", "message_size_limit", "smtpd_client_auth_rate_limit")
STEPS = {
    "refused by Postfix": {"postfix_hardening_inet_interfaces": [UNKNOWN_ADDRESS]},
    "reload": {
        "postfix_hardening_message_size_limit": MESSAGE_SIZE,
        "postfix_hardening_extra": {"smtpd_client_auth_rate_limit": AUTH_RATE},
        "postfix_hardening_extra_acknowledged": ["smtpd_client_auth_rate_limit"],
    },
    "restart": {"postfix_hardening_inet_protocols": "ipv4"},
}


@dataclass
class Step:
    """One playbook run and what each host looked like around it."""

    run: Any  # conftest.PlaybookRun
    pids: dict[str, tuple[int, int]]  # before, after
    events: dict[str, list[str]]  # what the master process logged during the run
    states: dict[str, tuple[str, str]]  # postfix_state before, after
    settings: dict[str, dict[str, str]] = field(default_factory=dict)  # SETTINGS in main.cf after the run
    candidate: dict[str, dict[str, str]] = field(default_factory=dict)  # and in the candidate's main.cf
    smtp: dict[str, dict] = field(default_factory=dict)  # port 25 right after the run


def _live(state: str) -> str:
    """A postfix_state without the candidate directory, which every run rewrites."""
    return "\n".join(line for line in state.splitlines() if CANDIDATE_DIR not in line)


def _step(run_playbook, hosts, client, *args: str) -> Step:
    before = {name: (postfix_state(h), master_pid(h), now(h)) for name, h in hosts.items()}
    run = run_playbook(*args, playbook=PLAYBOOK)
    result = Step(run, {}, {}, {})
    for name, host in hosts.items():
        result.pids[name] = (before[name][1], master_pid(host))
        result.events[name] = master_events(host, before[name][2])
        result.states[name] = (before[name][0], postfix_state(host))
        result.settings[name] = dict(zip(SETTINGS, postconf(host, "-h", *SETTINGS).splitlines(), strict=True))
        candidate = postconf(host, "-c", CANDIDATE_DIR, "-h", *SETTINGS).splitlines()
        result.candidate[name] = dict(zip(SETTINGS, candidate, strict=True))
        result.smtp[name] = smtp(client, host, session(SMTP_PORT, "none", ["ehlo"], ["cmd", "QUIT"]))[0]
    return result


def _files(state: str) -> set[str]:
    """What of a postfix_state a restore must put back: each entry's path, mode and owner, and each file's digest;
    not inodes and mtimes (a restore writes the files anew), nor the backups of replaced files (name~)."""
    kept = set()
    for line in state.splitlines():
        fields = line.split()
        if len(fields) == 5 and not fields[0].endswith("~"):  # find: path mode owner inode mtime
            kept.add(" ".join(fields[:3]))
        elif len(fields) == 2 and not fields[1].endswith("~"):  # sha256sum: digest path
            kept.add(line)
    return kept


# As a DHCP lease or a new resolver would, the sequence runs with /etc/resolv.conf changed since Postfix started:
# its chroot's copy differs, which Debian 12's postfix check warns about (Debian 13's copies it), and no candidate may
# be refused for that. Written in place: podman bind-mounts the file, which a rename cannot replace.
RESOLV_CONF = "/etc/resolv.conf"
RESOLV_CHANGE = f"cp -p {RESOLV_CONF} /root/resolv.conf.lab && echo '# a later lease' >> {RESOLV_CONF}"
RESOLV_RESTORE = (
    f"cat /root/resolv.conf.lab > {RESOLV_CONF} && rm -f /root/resolv.conf.lab"
    f" && cp -p {RESOLV_CONF} /var/spool/postfix{RESOLV_CONF}"
)


@pytest.fixture(scope="module")
def updates(run_playbook, podman_host, client):
    """Every step of the sequence, by name; "rerun" is the second plain run, after the restore. The hosts' state
    before the first step is the first step's own "before"."""
    hosts = {name: podman_host(name) for name in MAIL_HOSTS}
    steps: dict[str, Step] = {}
    for host in hosts.values():
        host.run_expect([0], RESOLV_CHANGE)
    try:
        for name, extra_vars in STEPS.items():
            steps[name] = _step(run_playbook, hosts, client, *CONFIG_TAGS, "-e", json.dumps(extra_vars))
    finally:
        steps["restore"] = _step(run_playbook, hosts, client, *CONFIG_TAGS)
        for host in hosts.values():
            host.run_expect([0], RESOLV_RESTORE)
    steps["rerun"] = _step(run_playbook, hosts, client, *CONFIG_TAGS, "-v")
    return steps


def _answers_on_25(step: Step, name: str) -> list[str]:
    result = step.smtp[name]
    assert result["banner"]["code"] == 220, f"{name}: port 25 after the run:\n{show(result)}"
    return result["steps"][0]["keywords"]


# 1. refused by Postfix


def test_value_postfix_refuses_stops_the_play_at_the_candidate_check(updates):
    run = updates["refused by Postfix"].run
    assert run.returncode != 0, f"the play went through:\n{run.output[-3000:]}"
    # Each host's failure, its message unfolded (the YAML callback folds long lines)
    failures = {m["host"]: " ".join(m["body"].split()) for m in FATAL.finditer(run.output)}
    assert set(failures) == set(MAIL_HOSTS), f"failed: {sorted(failures)}\n{run.output[-3000:]}"
    for name, failure in failures.items():
        refused = (
            f"the check refused the candidate configuration in {CANDIDATE_DIR}; the live configuration in"
            " /etc/postfix is unchanged"
        )
        assert refused in failure, f"{name}: {failure}"
        # Postfix's own words
        words = f"postfix: fatal: parameter inet_interfaces: no local interface found for {UNKNOWN_ADDRESS}"
        assert words in failure, f"{name}: the failure does not quote Postfix: {failure}"


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_value_postfix_refuses_leaves_live_configuration_and_postfix_alone(name, updates):
    step = updates["refused by Postfix"]
    before, after = step.states[name]
    assert step.candidate[name]["inet_interfaces"] == UNKNOWN_ADDRESS, f"{name}: candidate {step.candidate[name]}"
    assert step.settings[name]["inet_interfaces"] == "all", f"{name}: live {step.settings[name]}"
    assert _live(after) == _live(before), f"{name}: the live configuration changed"
    assert step.pids[name][0] == step.pids[name][1], f"{name}: Postfix restarted: {step.pids[name]}"
    assert step.events[name] == [], f"{name}: Postfix's master logged {step.events[name]}"
    _answers_on_25(step, name)


# 2. reload


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_ordinary_change_is_applied_with_a_reload(name, updates):
    step = updates["reload"]
    assert step.run.returncode == 0, step.run.output[-4000:]
    assert step.run.recap[name]["changed"] > 0, step.run.recap
    assert step.pids[name][0] == step.pids[name][1], f"{name}: Postfix restarted for a reload: {step.pids[name]}"
    assert step.events[name] == ["reload"], f"{name}: Postfix's master logged {step.events[name]}"
    assert f"SIZE {MESSAGE_SIZE}" in _answers_on_25(step, name), f"{name}: port 25 does not announce the new limit"


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_acknowledged_extra_overrides_the_roles_value(name, updates):
    step = updates["reload"]
    assert step.run.returncode == 0, step.run.output[-4000:]
    assert step.settings[name]["smtpd_client_auth_rate_limit"] == AUTH_RATE, f"{name}: {step.settings[name]}"
    assert step.settings[name]["message_size_limit"] == str(MESSAGE_SIZE), f"{name}: {step.settings[name]}"


# 3. restart


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_start_time_parameter_change_restarts_postfix(name, updates):
    step = updates["restart"]
    assert step.run.returncode == 0, step.run.output[-4000:]
    assert step.settings[name]["inet_protocols"] == "ipv4", f"{name}: {step.settings[name]}"
    assert step.pids[name][0] != step.pids[name][1], f"{name}: the master process is the same: {step.pids[name]}"
    assert "daemon started" in step.events[name], f"{name}: Postfix's master logged {step.events[name]}"
    _answers_on_25(step, name)


# 4. restore


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_plain_run_restores_the_labs_configuration(name, updates):
    step = updates["restore"]
    assert step.run.returncode == 0, step.run.output[-4000:]
    assert step.run.recap[name]["changed"] > 0, step.run.recap
    restored = {"inet_interfaces": "all", "inet_protocols": "all", "message_size_limit": "52428800"}
    restored["smtpd_client_auth_rate_limit"] = str(AUTH_RATE_LIMIT)
    assert step.settings[name] == restored, f"{name}: {step.settings[name]}"
    assert "daemon started" in step.events[name], f"{name}: inet_protocols changed back without a restart"
    assert "SIZE 52428800" in _answers_on_25(step, name)


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_each_replaced_main_cf_is_kept_as_a_backup(name, updates, podman_host):
    """The copy module's backups (main.cf.PID.DATE~): the newest is the main.cf the restore replaced."""
    host = podman_host(name)
    backups = host.check_output("ls -t %s.*~ || true", MAIN_CF).split()
    assert len(backups) >= 3, f"{name}: main.cf backups: {backups}"  # the reload, the restart, the restore
    newest = host.file(backups[0])
    assert "inet_protocols = ipv4" in newest.content_string, f"{name}: {backups[0]} is not the restart's main.cf"
    assert (newest.user, newest.group, newest.mode) == ("root", "root", 0o644), backups[0]
    assert all(b.startswith(f"{CONFIG_DIR}/main.cf.") for b in backups), backups


# 5. a second plain run


def test_rerun_after_restore_reports_no_change(updates):
    run = updates["rerun"].run
    assert run.returncode == 0, run.output[-4000:]
    assert set(run.recap) >= set(MAIL_HOSTS), run.recap
    assert all(r["changed"] == 0 for r in run.recap.values()), "\n".join(run.changed_tasks())


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_rerun_neither_reloads_nor_restarts_postfix(name, updates):
    step = updates["rerun"]
    assert step.pids[name][0] == step.pids[name][1], f"{name}: Postfix restarted: {step.pids[name]}"
    assert step.events[name] == [], f"{name}: Postfix's master logged {step.events[name]}"


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_rerun_leaves_etc_postfix_untouched(name, updates):
    before, after = updates["rerun"].states[name]
    assert after == before, f"{name}: /etc/postfix changed"


def test_no_run_prints_a_password(updates):
    """This sequence's runs; the shared dry run's output is test_rerun_output.py's."""
    shown = {step: sum(p in updates[step].run.output for p in CREDENTIALS.values()) for step in updates}
    assert not any(shown.values()), f"passwords printed, by run: {shown}"  # counts: no secret in the message


# 6. the state check


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_sequence_leaves_etc_postfix_as_it_was_before_it_and_postfix_running(name, updates, podman_host):
    """The restore put back every file, mode and owner of the converged lab (only backups of replaced files are
    new), and the master process that the rerun left is still the one running."""
    before, after = _files(updates["refused by Postfix"].states[name][0]), _files(updates["rerun"].states[name][1])
    differ = sorted(before ^ after)
    assert not differ, f"{name}: /etc/postfix is not as before the sequence: {differ}"
    running = master_pid(podman_host(name))
    assert running == updates["rerun"].pids[name][1], f"{name}: Postfix's master is {running}, not the rerun's"
