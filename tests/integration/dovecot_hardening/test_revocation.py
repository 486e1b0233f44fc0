# SPDX-License-Identifier: MIT
"""Revoking one app password (playbooks/revoke_credentials.yml) ends the user's live sessions at once and shuts
that password out, while the user's other app passwords and other users go on working.

Destructive, so in the last phase: the revocation is recorded on the hosts for good (a later run of site.yml keeps
the password revoked though the inventory still lists it). What it revokes, alice's phone app password, is what no
other suite logs in with; they use her laptop app password or bob's main password, which keep working.
test_revocation_runs_in_the_last_phase keeps it that way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from dovecot_facts import (
    IDLE_SESSION_PROBE,
    SERVICE_CASES,
    SERVICE_IDS,
    credentials_in,
    describe,
    is_auth_failure,
    login,
    login_failing,
)
from lab import ALICE, ALICE_APPS, BOB, BOB_MAIN, MAIL_HOSTS
from probes import encode, probe_spec, wait_for

pytestmark = pytest.mark.destructive

REVOKED = "phone"
# The session that must end logs in with another of alice's app passwords: revocation ends the user's sessions,
# whichever credential opened them.
SESSION_LABEL = "laptop"
IDLE_SECONDS = 300  # how long a session stays open unless the server ends it: longer than the revocation run
CLOSED_WITHIN = 5  # seconds after the revocation run ends; the session sends NOOP every second
SESSIONS = [(name, user) for name in MAIL_HOSTS for user in (ALICE, BOB)]
PASSWORDS = {ALICE: ALICE_APPS[SESSION_LABEL], BOB: BOB_MAIN}

Event = tuple[float, str, str]  # client time, event, detail


@dataclass(frozen=True)
class Revocation:
    """The revocation run, when it ran by the client's clock, and what each idle session logged."""

    run: Any  # conftest.PlaybookRun
    started: float
    finished: float
    events: dict[tuple[str, str], list[Event]]


def _unit(name: str, user: str) -> str:
    return f"mailfort-idle-{name.rsplit('-', 1)[1]}-{user.split('@', maxsplit=1)[0]}"


def _log(name: str, user: str) -> str:
    return f"/tmp/{_unit(name, user)}.log"  # noqa: S108  (a path on the client container, not here)


def _read(client, log: str) -> str:
    return client.run("cat %s", log).stdout


def _read_once_it_holds(client, log: str, words: tuple[str, ...], timeout: float) -> str:
    """The session's log as soon as it holds one of the words, or as it is when the time is up."""

    def holds() -> str:
        text = _read(client, log)
        return text if any(word in text for word in words) else ""

    return wait_for(holds, timeout) or _read(client, log)


def _events(text: str) -> list[Event]:
    events = []
    for line in text.splitlines():
        stamp, event, *detail = line.split(" ", 2)
        events.append((float(stamp), event, detail[0] if detail else ""))
    return events


def _show(events: list[Event]) -> str:
    return "\n".join(f"{stamp:.3f} {event} {detail}" for stamp, event, detail in events if event != "ALIVE")


def _start_idle_session(client, host, name: str, user: str) -> None:
    """An IMAPS session in the background on the client, from login until the server ends it or time is up."""
    unit, log = _unit(name, user), _log(name, user)
    client.run("systemctl stop %s; rm -f %s", unit, log)
    spec = encode(probe_spec(host, user=user, password=PASSWORDS[user], seconds=IDLE_SECONDS, log=log))
    client.check_output(
        "systemd-run --unit=%s --collect --property=RuntimeMaxSec=%s python3 -c %s %s",
        unit,
        str(IDLE_SECONDS + 60),
        IDLE_SESSION_PROBE,
        spec,
    )


@pytest.fixture(scope="module")
def revocation(run_playbook, project_dir, podman_host, client):
    """Idle sessions of alice and bob on every host, then alice's phone app password revoked. The shared dry run
    (check_diff_run) saw the converged hosts in the rerun phase, before this changes them."""
    try:
        for name, user in SESSIONS:
            _start_idle_session(client, podman_host(name), name, user)
        for name, user in SESSIONS:
            # A login waits out Dovecot's penalty for failures an earlier test left: up to 15 s.
            text = _read_once_it_holds(client, _log(name, user), ("LOGGED-IN", "FAILED"), timeout=60)
            assert "LOGGED-IN" in text, f"{name}: {user}'s session did not log in before the revocation:\n{text}"

        started = float(client.check_output("date +%s.%N"))
        run = run_playbook(
            "-e",
            f"revoke_user={ALICE}",
            "-e",
            f"revoke_label={REVOKED}",
            playbook=project_dir / "playbooks" / "revoke_credentials.yml",
        )
        finished = float(client.check_output("date +%s.%N"))

        for name in MAIL_HOSTS:
            _read_once_it_holds(client, _log(name, ALICE), ("CLOSED",), timeout=CLOSED_WITHIN + 5)
        time.sleep(2)  # two more NOOPs from the sessions that must stay open
        events = {(name, user): _events(_read(client, _log(name, user))) for name, user in SESSIONS}
        yield Revocation(run, started, finished, events)
    finally:
        for name, user in SESSIONS:
            client.run("systemctl stop %s", _unit(name, user))


def test_revocation_runs_in_the_last_phase(request):
    """No test of an earlier phase (tools/lab-test runs them in the order conftest.py registers them) sees the
    password revoked."""
    phases = [line.split(":", 1)[0] for line in request.config.getini("markers") if ": phase of the lab tests:" in line]
    assert phases, "conftest.py registered no phase"
    here = [mark.name for mark in request.node.iter_markers() if mark.name in phases]
    assert here == [phases[-1]], f"{request.path.name} runs in {here}, not in the last phase, {phases[-1]}"


def test_revocation_run_succeeds_and_reports_the_change(revocation):
    run = revocation.run
    assert run.returncode == 0, run.output[-4000:]
    unchanged = [name for name in MAIL_HOSTS if run.recap.get(name, {}).get("changed", 0) == 0]
    assert not unchanged, f"the revocation changed nothing on {unchanged}:\n{run.output[-4000:]}"


def test_revocation_output_shows_no_password(revocation):
    shown = credentials_in(revocation.run.output)
    assert not shown, f"the revocation run printed: {', '.join(shown)}"


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_revocation_ends_the_users_live_sessions(name, revocation):
    events = revocation.events[name, ALICE]
    closed = [stamp for stamp, event, _ in events if event == "CLOSED"]
    assert closed, f"{name}: alice's {SESSION_LABEL} session is still open after the revocation:\n{_show(events)}"
    assert revocation.started <= closed[0] <= revocation.finished + CLOSED_WITHIN, (
        f"{name}: alice's session ended {closed[0] - revocation.finished:+.1f} s after the revocation run "
        f"({revocation.finished - revocation.started:.1f} s long) ended:\n{_show(events)}"
    )


@pytest.mark.parametrize("name", MAIL_HOSTS)
def test_revocation_leaves_other_users_sessions_open(name, revocation):
    """Only the user's sessions end: no restart of Dovecot, which would drop everyone."""
    events = revocation.events[name, BOB]
    assert not [e for e in events if e[1] in ("CLOSED", "FAILED")], f"{name}: bob's session ended:\n{_show(events)}"
    assert any(event == "ALIVE" and stamp > revocation.finished for stamp, event, _ in events), (
        f"{name}: bob's session did not answer after the revocation:\n{_show(events)}"
    )


@pytest.mark.parametrize(("name", "service"), SERVICE_CASES, ids=SERVICE_IDS)
def test_revoked_app_password_no_longer_logs_in(name, service, revocation, podman_host, client):
    result = login_failing(client, podman_host(name), service, (ALICE, ALICE_APPS[REVOKED]))[0]
    assert is_auth_failure(result), f"{name} {service}: alice's revoked {REVOKED} app password: {describe(result)}"


@pytest.mark.parametrize(("name", "service"), SERVICE_CASES, ids=SERVICE_IDS)
def test_other_credentials_still_log_in_after_revocation(name, service, revocation, podman_host, client):
    kept = {f"alice's {label} app password": (ALICE, pw) for label, pw in ALICE_APPS.items() if label != REVOKED}
    kept["bob's main password"] = (BOB, BOB_MAIN)
    results = login(client, podman_host(name), service, *kept.values())
    failed = {what: describe(r) for what, r in zip(kept, results, strict=True) if r["outcome"] != "accepted"}
    assert not failed, f"{name} {service}: no longer log in: {failed}"
