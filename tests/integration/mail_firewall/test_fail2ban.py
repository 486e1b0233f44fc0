# SPDX-License-Identifier: MIT
"""fail2ban on the MX hosts: failed logins from the attacker ban it within seconds, the ban lands in the firewall's
nftables set and drops the attacker on every port while the allowlisted client goes on, unbanning restores access,
recidive escalates, and the client is never banned.

Mutators: each host's tests start and end with the attacker banned nowhere (no_ban_left), and the attacker attacks
in this module only; the client and the outsider, which the other suites use, are on fail2ban's ignore list.
fail2ban remembers failures across an unban, so a test asserts that a ban happens, never how many failures it took.
The two hosts are attacked side by side (attacks): most of an attack is waiting on the host's own delays.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from firewall_facts import (
    DROP_TIMEOUT,
    IMAPS_PORT,
    JAILS,
    SSH_PORT,
    ban_set,
    banned,
    lab_setting,
    mail_ports,
    port_states,
    unban,
)
from lab import ADDRESSES, ALICE, ATTACKER, BOB, BOB_MAIN, CLIENT
from probes import PREAMBLE, host_name, run_probe, wait_for

pytestmark = pytest.mark.mutator

ATTACKER_IP, CLIENT_IP = ADDRESSES[ATTACKER], ADDRESSES[CLIENT]
# From the last failed login to the ban; seen on Debian 12 and 13: under 1.5 s.
BAN_WITHIN = 10

# Fails to log in spec["attempts"] times over SMTP AUTH PLAIN on 587 (after STARTTLS) or IMAP on 993, one attempt per
# connection, and stops at the first connection that gets no answer (the ban has landed). Generous timeouts once
# connected: Postfix looks up the client's name first, and Dovecot delays every failure.
FAILED_LOGINS_PROBE = (
    PREAMBLE
    + """
import imaplib, smtplib
# Connect within the drop timeout (a banned client's SYN gets no answer), then wait as long as a slow server needs.
_slow_connect = socket.create_connection


def _quick_connect(address, timeout=None, *args, **kwargs):
    sock = _slow_connect(address, spec["connect_timeout"], *args, **kwargs)
    sock.settimeout(timeout)
    return sock


socket.create_connection = _quick_connect


def log_in(user, password):
    # A login that works, over the same service: Dovecot forgets the address's failures (its auth penalty doubles
    # the wait after each one), and fail2ban, which counts failures only, does not.
    if spec["service"] == "smtp":
        with smtplib.SMTP(spec["name"], 587, timeout=20) as smtp:
            smtp.starttls(context=tls_context())
            smtp.login(user, password)
    else:
        imap = imaplib.IMAP4_SSL(spec["name"], 993, ssl_context=tls_context(), timeout=20)
        imap.login(user, password)
        imap.logout()


outcomes = []
for attempt in range(spec["attempts"]):
    if attempt and spec.get("reset"):
        log_in(*spec["reset"])
    try:
        if spec["service"] == "smtp":
            with smtplib.SMTP(spec["name"], 587, timeout=20) as smtp:
                smtp.starttls(context=tls_context())
                smtp.ehlo("attacker.example.org")
                code, _ = smtp.docmd("AUTH", "PLAIN " + base64.b64encode(
                    ("\\0" + spec["user"] + "\\0wrong-" + str(attempt)).encode()).decode())
                outcomes.append(code)
        else:
            imap = imaplib.IMAP4_SSL(spec["name"], 993, ssl_context=tls_context(), timeout=20)
            try:
                imap.login(spec["user"], f"wrong-{attempt}")
                outcomes.append("logged in")
            except imaplib.IMAP4.error:
                outcomes.append("refused")
            imap.shutdown()
    except OSError as error:
        outcomes.append(type(error).__name__)
        break
print(json.dumps({"outcomes": outcomes, "done": time.time()}))
"""
)


def maxretry(host) -> int:
    """Failures that ban an address on the host (the inventory's fail2ban_maxretry)."""
    return lab_setting(host_name(host), "fail2ban_maxretry")


def fail_logins(peer, host, service: str, attempts: int, reset: tuple[str, str] | None = None) -> dict:
    """ATTEMPTS failed logins as alice; with RESET (user, password), a login that works before each failure after the
    first, so that Dovecot's growing delay does not slow the run."""
    return run_probe(
        peer,
        FAILED_LOGINS_PROBE,
        host,
        service=service,
        user=ALICE,
        attempts=attempts,
        connect_timeout=DROP_TIMEOUT,
        reset=reset,
    )


def attack(peer, host, service: str) -> dict:
    """Twice as many failures as a ban needs: Dovecot 2.4 (Debian 13) slows a guesser down until Postfix logs
    "Connection lost to authentication server", which is not a failed login."""
    return fail_logins(peer, host, service, 2 * maxretry(host))


def wait_for_ban(host, jail: str, ip: str) -> float:
    """Seconds until the address is banned in the jail; fails the test if that takes longer than BAN_WITHIN."""
    start = time.monotonic()
    assert wait_for(lambda: ip in banned(host, jail), BAN_WITHIN), (
        f"{ip} was not banned in {jail} on {host_name(host)} within {BAN_WITHIN} s of its last failed login"
    )
    return time.monotonic() - start


@pytest.fixture(scope="module", autouse=True)
def no_ban_left(host):
    """The attacker is banned nowhere before this module's tests of the host, and again after them: the suites
    after this one find it as the lab made it."""
    unban(host, ATTACKER)
    yield
    unban(host, ATTACKER)
    left = [jail for jail in JAILS if ATTACKER_IP in banned(host, jail) or ATTACKER_IP in ban_set(host, jail)]
    assert not left, f"the attacker is still banned on {host_name(host)} in {left}"


def _smtp_attack(host, attacker, client) -> dict:
    """The attacker fails SMTP AUTH until postfix-sasl bans it; what the ban looks like from everywhere, and after
    it is lifted. One attack a host: Dovecot slows a guesser down more with every failure."""
    ports = mail_ports(host)
    everything = [*ports, SSH_PORT]
    before = port_states(attacker, host, ports)
    attack(attacker, host, "smtp")
    try:
        took = wait_for_ban(host, "postfix-sasl", ATTACKER_IP)
        seen = {
            "before": before,
            "took": took,
            "banned": banned(host, "postfix-sasl"),
            "set": ban_set(host, "postfix-sasl"),
            "attacker": port_states(attacker, host, everything),
            "client": port_states(client, host, everything),
        }
    finally:
        host.run("fail2ban-client set postfix-sasl unbanip %s", ATTACKER_IP)
    seen["banned after unban"] = banned(host, "postfix-sasl")
    seen["set after unban"] = ban_set(host, "postfix-sasl")
    seen["attacker after unban"] = port_states(attacker, host, ports)
    return seen


def _imap_attack(host, attacker) -> dict:
    """After the SMTP attack, the attacker fails IMAP logins until dovecot bans it: its second ban, which makes it a
    repeat offender for recidive (maxretry 2 in the lab's inventory)."""
    attack(attacker, host, "imap")
    try:
        seen = {"took": wait_for_ban(host, "dovecot", ATTACKER_IP), "set": ban_set(host, "dovecot")}
        host.run("fail2ban-client set dovecot unbanip %s", ATTACKER_IP)  # as if that ban had expired
        seen["recidive took"] = wait_for_ban(host, "recidive", ATTACKER_IP)
        seen["recidive set"] = ban_set(host, "recidive")
        seen["attacker under recidive"] = port_states(attacker, host, [IMAPS_PORT])
    finally:
        unban(host, ATTACKER)
    return seen


def _client_failures(host, client) -> dict:
    """One failure more than fail2ban_maxretry in each service from the client: enough to ban anybody else. A login
    that works between the failures keeps Dovecot's delay short; fail2ban counts the failures all the same."""
    fail_logins(client, host, "smtp", attempts=maxretry(host) + 1, reset=(BOB, BOB_MAIN))
    fail_logins(client, host, "imap", attempts=maxretry(host) + 1, reset=(BOB, BOB_MAIN))
    time.sleep(2)  # longer than fail2ban takes to read the journal and ban (under 1.5 s seen)
    return {
        "banned": {jail: banned(host, jail) for jail in JAILS},
        "sets": {jail: ban_set(host, jail) for jail in JAILS},
        "journal": host.check_output("journalctl --no-pager -o cat _SYSTEMD_UNIT=fail2ban.service -S -2min"),
    }


@pytest.fixture(scope="module")
def attacks(mail_hosts, attacker, client) -> dict[str, dict]:
    """Both MX hosts attacked side by side, each in a thread of its own (a host's attack waits on its own Dovecot's
    and Postfix's delays, not on the other host's): the SMTP attack, then the IMAP attack, then the client's
    failures, by host name. The attacker starts banned nowhere on each host."""

    def one(name: str) -> dict:
        host = mail_hosts[name]
        unban(host, ATTACKER)
        smtp = _smtp_attack(host, attacker, client)
        return {"smtp": smtp, "imap": _imap_attack(host, attacker), "client": _client_failures(host, client)}

    with ThreadPoolExecutor(max_workers=len(mail_hosts)) as pool:
        return dict(zip(mail_hosts, pool.map(one, mail_hosts), strict=True))


@pytest.fixture
def smtp_attack(host, attacks) -> dict:
    return attacks[host_name(host)]["smtp"]


@pytest.fixture
def imap_attack(host, attacks) -> dict:
    return attacks[host_name(host)]["imap"]


def test_failed_smtp_auth_bans_the_attacker_within_seconds(host, smtp_attack):
    assert smtp_attack["before"] == dict.fromkeys(mail_ports(host), "open"), "the attacker was blocked before any ban"
    assert smtp_attack["took"] < BAN_WITHIN
    assert ATTACKER_IP in smtp_attack["banned"]
    assert ATTACKER_IP in smtp_attack["set"]


def test_failed_imap_logins_ban_the_attacker_within_seconds(imap_attack):
    assert imap_attack["took"] < BAN_WITHIN
    assert ATTACKER_IP in imap_attack["set"]


def test_banned_attacker_is_dropped_on_every_port_while_the_client_gets_through(host, smtp_attack):
    ports = mail_ports(host)
    everything = [*ports, SSH_PORT]

    assert smtp_attack["attacker"] == dict.fromkeys(everything, "dropped")
    assert {port: smtp_attack["client"][port] for port in ports} == dict.fromkeys(ports, "open")
    assert smtp_attack["client"][SSH_PORT] == "open"


def test_unban_restores_access(host, smtp_attack):
    assert ATTACKER_IP not in smtp_attack["banned after unban"]
    assert ATTACKER_IP not in smtp_attack["set after unban"]
    assert smtp_attack["attacker after unban"] == dict.fromkeys(mail_ports(host), "open")


def test_recidive_escalates_a_repeated_offender(imap_attack):
    assert imap_attack["recidive took"] < BAN_WITHIN
    assert ATTACKER_IP in imap_attack["recidive set"]
    assert imap_attack["attacker under recidive"] == {IMAPS_PORT: "dropped"}


def test_no_ban_ever_lands_on_the_client(host, attacks):
    seen = attacks[host_name(host)]["client"]
    for jail in JAILS:
        assert CLIENT_IP not in seen["banned"][jail], f"the client is banned in {jail}"
        assert CLIENT_IP not in seen["sets"][jail], f"the client is in the {jail} set"
    assert f"Ignore {CLIENT_IP} by ip" in seen["journal"]
