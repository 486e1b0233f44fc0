# SPDX-License-Identifier: MIT
"""mail_updates on the converged MX hosts: the update policy as unattended-upgrades and needrestart read it, an
unattended upgrade that installs an update and restarts the service that mapped the replaced file, a library
update that restarts Postfix and Dovecot and leaves SSH running, and bad input refused before the host changes.

The update is the lab's canary (canary.sh): a package from a flat file: repository on the host, allowed by the lab's
mail_updates_extra_origins, whose service maps a file as a daemon maps a shared library, so that unattended-upgrades
has a known update to install on any day. It runs with the role's default origins too, so whatever security update
Debian has for the host is installed as well: the tests that upgrade are destructive.
"""

from __future__ import annotations

import contextlib
import imaplib
import smtplib
import ssl
import subprocess
from pathlib import Path

import pytest
from harness import assert_refused, tree_state
from lab import ADDRESSES, MX1, PROJECT_DIR

CANARY = Path(__file__).with_name("canary.sh")
PLAYBOOK = PROJECT_DIR / "playbooks" / "mail_updates.yml"
REPO_LIST = "/etc/apt/sources.list.d/mailfort-canary.list"
DPKG_LOG = "/var/log/unattended-upgrades/unattended-upgrades-dpkg.log"
UU_LOG = "/var/log/unattended-upgrades/unattended-upgrades.log"
# APT's daily runs, which the role turns on: apt-daily.service runs `unattended-upgrade --download-only` at a random
# time of day, and an unattended-upgrade started meanwhile exits 1 at once ("Lock file is already taken").
APT_DAILY = "apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service"
# The lab's origins: the role's defaults, then the canary repository (molecule/lab/inventory/group_vars).
DEFAULT_ORIGINS = [
    "origin=Debian,codename=${distro_codename}-security,label=Debian-Security",
    "origin=Debian,codename=${distro_codename},label=Debian-Security",
    "origin=Debian,codename=${distro_codename},label=Debian",
]
LAB_ORIGINS = [*DEFAULT_ORIGINS, "origin=mailfort-canary,codename=canary"]


def _run(host, command: str) -> str:
    result = host.run(command)
    assert result.rc == 0, f"{command}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result.stdout


def _main_pid(host, unit: str) -> int:
    return int(_run(host, f"systemctl show -p MainPID --value {unit}").strip())


def _master_pid(host) -> int:
    """Postfix's master (postfix@-.service on Debian 12 tells systemd no main PID)."""
    return int(_run(host, "cat /var/spool/postfix/pid/master.pid").strip())


def _restarts(log: str) -> tuple[set[str], set[str]]:
    """The units needrestart restarted, and those it only listed, in LOG (its report after each dpkg run)."""
    restarted: set[str] = set()
    deferred: set[str] = set()
    current = None
    for line in log.splitlines():
        if line.startswith("Restarting services..."):
            current = restarted
        elif line.startswith("Service restarts being deferred:"):
            current = deferred
        elif not line.strip():
            current = None
        elif current is not None and line.startswith(" systemctl restart "):
            current.update(line.split()[2:])
    return restarted, deferred


def _canary_version(host, version: str) -> None:
    """Build the canary at VERSION into the host's flat repository and refresh apt's lists of it (only of it)."""
    built = subprocess.run(
        ["podman", "exec", "-i", host.backend.name, "sh", "-s", version],
        input=CANARY.read_text(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    _run(
        host,
        f"apt-get update -qq -o Dir::Etc::sourcelist={REPO_LIST} -o Dir::Etc::sourceparts=- "
        "-o APT::Get::List-Cleanup=0",
    )


@pytest.fixture
def apt_quiet(host):
    """APT's daily timers stopped, and a daily run under way waited for (a stop waits for it), for as long as a test
    installs packages itself; the timers are started again afterwards (the policy test proves them on)."""
    _run(host, f"systemctl stop {APT_DAILY}")
    try:
        yield host
    finally:
        host.run("systemctl start apt-daily.timer apt-daily-upgrade.timer")


@pytest.fixture
def canary(apt_quiet):
    """The canary repository with version 1.0 installed and its service running; all of it removed afterwards."""
    host = apt_quiet
    _run(host, f"echo 'deb [trusted=yes] file:/srv/mailfort-canary ./' > {REPO_LIST}")
    try:
        _canary_version(host, "1.0")
        _run(host, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q mailfort-canary")
        _run(host, "systemctl start mailfort-canary.service")
        yield host
    finally:
        host.run(
            "systemctl stop mailfort-canary.service; DEBIAN_FRONTEND=noninteractive apt-get purge -y -q mailfort-canary"
        )
        host.run(f"rm -rf /srv/mailfort-canary {REPO_LIST} /var/lib/apt/lists/_srv_mailfort-canary_*")


@pytest.mark.readonly
def test_the_policy_in_force_is_the_roles(host):
    """unattended-upgrades' own dry run names the origins it allows, ${distro_codename} filled in; apt runs it daily;
    needrestart restarts without asking."""
    codename = _run(host, ". /etc/os-release && echo $VERSION_CODENAME").strip()
    dry_run = _run(host, "unattended-upgrade --dry-run --debug 2>&1 | grep '^Allowed origins are:'")
    allowed = dry_run.split(":", 1)[1].strip().split(", ")
    assert allowed == [origin.replace("${distro_codename}", codename) for origin in LAB_ORIGINS]
    periodic = _run(host, "apt-config dump APT::Periodic")
    assert 'APT::Periodic::Update-Package-Lists "1";' in periodic
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic
    assert _run(host, "systemctl is-active apt-daily.timer apt-daily-upgrade.timer").split() == ["active", "active"]
    assert _run(host, "systemctl is-enabled apt-daily.timer apt-daily-upgrade.timer").split() == ["enabled"] * 2
    mode = 'our %nrconf; our $LOGPREF; do "/etc/needrestart/needrestart.conf" // die; print $nrconf{restart}'
    assert _run(host, f"perl -e '{mode}'") == "a"


@pytest.mark.destructive
def test_an_unattended_update_installs_and_restarts_the_service_it_patched(canary):
    host = canary
    before = {"canary": _main_pid(host, "mailfort-canary.service"), "ssh": _main_pid(host, "ssh.service")}
    assert "/usr/lib/mailfort-canary/libcanary.so.1" in _run(host, f"cat /proc/{before['canary']}/maps")
    logged = int(_run(host, f"cat {DPKG_LOG} 2>/dev/null | wc -l").strip())
    _canary_version(host, "1.1")

    upgrade = host.run("unattended-upgrade --verbose")
    assert upgrade.rc == 0, upgrade.stdout[-2000:] + upgrade.stderr[-2000:] + host.run(f"tail -n 30 {UU_LOG}").stdout

    assert host.package("mailfort-canary").version == "1.1"
    # needrestart, run by APT after dpkg, restarted the canary: it had the replaced file mapped.
    assert host.service("mailfort-canary.service").is_running
    assert _main_pid(host, "mailfort-canary.service") != before["canary"]
    assert "(deleted)" not in _run(host, f"cat /proc/{_main_pid(host, 'mailfort-canary.service')}/maps")
    restarted, _ = _restarts("\n".join(_run(host, f"cat {DPKG_LOG}").splitlines()[logged:]))
    assert "mailfort-canary.service" in restarted
    # SSH is only ever listed, never restarted, whatever else the upgrade replaced.
    assert _main_pid(host, "ssh.service") == before["ssh"]
    assert "ssh.service" not in restarted


@pytest.mark.destructive
def test_a_library_update_restarts_the_mail_daemons_and_lists_ssh(apt_quiet):
    """A new copy of the OpenSSL library that Postfix's and Dovecot's TLS processes and sshd map (apt-get --reinstall,
    so any day has one): needrestart restarts Postfix and Dovecot, which answer again, and lists SSH without
    restarting it. An IMAPS session is held open meanwhile and a TLS session on 465 made first: the processes that
    map OpenSSL are the ones serving TLS (Dovecot's imap-login, Postfix's smtpd and tlsmgr), not the masters."""
    host = apt_quiet
    library = _run(host, "readlink -f /usr/lib/x86_64-linux-gnu/libssl.so.3").strip()
    package = _run(host, f"dpkg -S {library}").split(":")[0]
    address = ADDRESSES[host.backend.name]
    with smtplib.SMTP_SSL(address, 465, timeout=30, context=ssl._create_unverified_context()) as smtp:  # noqa: S323
        smtp.ehlo()
    before = {"postfix": _master_pid(host), "dovecot": _main_pid(host, "dovecot.service")}
    before["ssh"] = _main_pid(host, "ssh.service")
    ssh_maps_it = "libcrypto.so.3" in _run(host, f"cat /proc/{before['ssh']}/maps")
    held = imaplib.IMAP4_SSL(address, 993, ssl_context=ssl._create_unverified_context(), timeout=30)  # noqa: S323
    try:
        output = _run(host, f"DEBIAN_FRONTEND=noninteractive apt-get install --reinstall -y -q {package} 2>&1")
    finally:
        # Dovecot's restart may have closed it already, as a restart does: closed without a LOGOUT nobody answers.
        with contextlib.suppress(OSError):
            held.shutdown()

    restarted, deferred = _restarts(output)
    assert restarted & {"postfix.service", "postfix@-.service"}, output[-2000:]
    assert "dovecot.service" in restarted, output[-2000:]
    assert _master_pid(host) != before["postfix"]
    assert _main_pid(host, "dovecot.service") != before["dovecot"]
    assert _main_pid(host, "ssh.service") == before["ssh"]
    assert "ssh.service" not in restarted
    if ssh_maps_it:
        assert "ssh.service" in deferred, output[-2000:]
    # The restarted daemons answer, as a sender and a mail client see them.
    with smtplib.SMTP(address, 25, timeout=30) as smtp:
        assert smtp.ehlo()[0] == 250
    with imaplib.IMAP4_SSL(address, 993, ssl_context=ssl._create_unverified_context(), timeout=30) as imap:  # noqa: S323
        assert "IMAP4REV1" in imap.capabilities


@pytest.mark.bad_input
def test_bad_update_input_is_refused_before_the_host_changes(run_playbook, podman_host):
    mx1 = podman_host(MX1)
    trees = ["/etc/apt/apt.conf.d", "/etc/needrestart"]
    before = tree_state(mx1, trees, "mailfort.conf")
    run = run_playbook(
        "-l",
        MX1,
        "-e",
        '{"mail_updates_extra_origins": ["origin=Example,flavour=x"], "mail_updates_reboot_time": "25:00",'
        ' "mail_updates_restart_list_only": ["^ssh", "it\'s"], "mail_updates_origins": []}',
        playbook=PLAYBOOK,
    )
    assert_refused(
        "bad update input",
        run,
        [
            "mail_updates: 3 input errors, nothing on the host was changed",
            "mail_updates_extra_origins[0] = 'origin=Example,flavour=x' must be an apt origin pattern",
            "mail_updates_restart_list_only[1]",
            "mail_updates_reboot_time = '25:00' must be a time of day as HH:MM",
        ],
    )
    assert tree_state(mx1, trees, "mailfort.conf") == before
