# SPDX-License-Identifier: MIT
"""fail2ban on the mail hosts of the mail_firewall scenario: failed logins from the attacker ban it within seconds,
the ban lands in the firewall's nftables set and drops the attacker on every port while the allowlisted client
goes on, unbanning restores access, recidive escalates, and the client is never banned.

Every test unbans the attacker before and after it runs, so the tests run in any order. fail2ban remembers
failures across an unban, so a test asserts that a ban happens, never how many failures it took.
"""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
from firewall_facts import ATTACKER, CLIENT, NETWORK
from probes import PREAMBLE, host_name, run_probe, wait_for

# The jails the scenario runs (fail2ban's defaults in roles/fail2ban) and their nftables set base names.
JAILS = {
    "postfix": "ban_postfix",
    "postfix-sasl": "ban_postfix_sasl",
    "dovecot": "ban_dovecot",
    "sshd": "ban_sshd",
    "recidive": "ban_recidive",
}
TABLE = "inet mailfort"
# The scenario sets fail2ban_maxretry: 3 (molecule.yml). Dovecot 2.4 (Debian 13) slows an address down after a few
# failures until Postfix logs "Connection lost to authentication server", which is not a failed login: try twice
# as often as needed.
ATTEMPTS = 6
# From the last failed login to the ban; seen on Debian 12 and 13: under 1.5 s.
BAN_WITHIN = 10
SSH_PORT, SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT, IMAPS_PORT = 22, 25, 587, 465, 993
MAIL_PORTS = [SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT, IMAPS_PORT]
USER = "alice@lab.mailfort.test"

# Fails to log in ATTEMPTS times over SMTP AUTH PLAIN on 587 (after STARTTLS) or IMAP on 993, one attempt per
# connection, and stops at the first connection that gets no answer (the ban has landed). Generous timeouts: Postfix
# looks up the client's name first, which takes seconds in the lab.
FAILED_LOGINS_PROBE = (
    PREAMBLE
    + """
import imaplib, smtplib
# Connect within 3 s (a banned client's SYN gets no answer), then wait as long as a slow server needs.
_slow_connect = socket.create_connection


def _quick_connect(address, timeout=None, *args, **kwargs):
    sock = _slow_connect(address, 3, *args, **kwargs)
    sock.settimeout(timeout)
    return sock


socket.create_connection = _quick_connect
outcomes = []
for attempt in range(spec["attempts"]):
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

# Connects to every port at once: "open", "refused" (a reset) or "dropped" (no answer: the firewall dropped it).
PORT_PROBE = """
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor
address, ports = sys.argv[1], [int(p) for p in sys.argv[2].split(",")]

def state(port):
    try:
        socket.create_connection((address, port), timeout=3).close()
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "dropped"

with ThreadPoolExecutor(len(ports)) as pool:
    print(json.dumps(dict(zip(map(str, ports), pool.map(state, ports)))))
"""


def container_address(name: str) -> str:
    """The container's IPv4 address on the scenario's network, as podman assigned it."""
    result = subprocess.run(
        ["podman", "container", "inspect", name], capture_output=True, text=True, check=True, timeout=30
    )
    return json.loads(result.stdout)[0]["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]


@pytest.fixture(scope="module")
def offender(podman_host):
    """The attacker: on no allowlist and not in fail2ban_ignore_networks."""
    return podman_host(ATTACKER)


@pytest.fixture(scope="module")
def allowlisted(podman_host):
    """The client: in fail2ban_ignore_networks and the firewall's allowlists."""
    return podman_host(CLIENT)


@pytest.fixture(scope="module")
def offender_ip() -> str:
    return container_address(ATTACKER)


@pytest.fixture(scope="module")
def client_ip() -> str:
    return container_address(CLIENT)


def banned(host, jail: str) -> list[str]:
    """The addresses fail2ban lists as banned in the jail."""
    status = host.check_output("fail2ban-client status %s", jail)
    listed = re.search(r"Banned IP list:\s*(.*)$", status, re.MULTILINE)
    assert listed, status
    return listed.group(1).split()


def set_elements(host, jail: str) -> list[str]:
    """The addresses in the jail's IPv4 ban set of the firewall."""
    listing = host.check_output("nft list set %s %s %s_v4", *TABLE.split(), JAILS[jail])
    elements = re.search(r"elements = \{([^}]*)\}", listing)
    return [e.strip() for e in elements.group(1).split(",")] if elements else []


def unban(host, ip: str) -> None:
    """Lift every ban of the address in every jail; nothing to lift is fine."""
    host.run("fail2ban-client unban %s", ip)


def ports(peer, ip: str, port_list) -> dict[int, str]:
    result = peer.run("python3 -c %s %s %s", PORT_PROBE, ip, ",".join(map(str, port_list)))
    assert result.rc == 0, result.stderr
    return {int(port): state for port, state in json.loads(result.stdout).items()}


def mail_host_ip(host) -> str:
    return container_address(host_name(host))


def fail_logins(peer, host, service: str, attempts: int = ATTEMPTS) -> dict:
    return run_probe(peer, FAILED_LOGINS_PROBE, host, service=service, user=USER, attempts=attempts)


def wait_for_ban(host, jail: str, ip: str) -> float:
    """Seconds until the address is banned in the jail; fails the test if that takes longer than BAN_WITHIN."""
    start = time.monotonic()
    assert wait_for(lambda: ip in banned(host, jail), BAN_WITHIN), (
        f"{ip} was not banned in {jail} on {host_name(host)} within {BAN_WITHIN} s of its last failed login"
    )
    return time.monotonic() - start


@pytest.fixture(scope="module", autouse=True)
def no_ban_left(host, offender_ip):
    """The module leaves the attacker unbanned everywhere, for the suites after it."""
    yield
    unban(host, offender_ip)


def test_fail2ban_runs_exactly_the_expected_jails(host):
    status = host.check_output("fail2ban-client status")
    listed = re.search(r"Jail list:\s*(.*)$", status, re.MULTILINE).group(1)

    assert sorted(j.strip() for j in listed.split(",") if j.strip()) == sorted(JAILS)
    for jail in JAILS:
        assert host.run("fail2ban-client status %s", jail).rc == 0, f"{jail} is not running"
        assert "mailfort-nftables" in host.check_output("fail2ban-client get %s actions", jail)


def test_configuration_passes_fail2ban_client_test(host):
    result = host.run("fail2ban-client -t")

    assert result.rc == 0, result.stdout + result.stderr
    assert "OK" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def smtp_attack(host, offender, allowlisted, offender_ip):
    """The attacker fails SMTP AUTH until postfix-sasl bans it; what the ban looks like from everywhere, and after
    it is lifted. One attack a host: Dovecot slows a guesser down more with every failure."""
    ip = mail_host_ip(host)
    unban(host, offender_ip)
    before = ports(offender, ip, MAIL_PORTS)
    fail_logins(offender, host, "smtp")
    took = wait_for_ban(host, "postfix-sasl", offender_ip)
    seen = {
        "before": before,
        "took": took,
        "banned": banned(host, "postfix-sasl"),
        "set": set_elements(host, "postfix-sasl"),
        "attacker": ports(offender, ip, [*MAIL_PORTS, SSH_PORT]),
        "client": ports(allowlisted, ip, [*MAIL_PORTS, SSH_PORT]),
    }
    host.run("fail2ban-client set postfix-sasl unbanip %s", offender_ip)
    seen["banned after unban"] = banned(host, "postfix-sasl")
    seen["set after unban"] = set_elements(host, "postfix-sasl")
    seen["attacker after unban"] = ports(offender, ip, MAIL_PORTS)
    return seen


@pytest.fixture(scope="module")
def imap_attack(host, offender, offender_ip, smtp_attack):
    """After the SMTP attack, the attacker fails IMAP logins until dovecot bans it: its second ban, which makes it a
    repeat offender for recidive (maxretry 2 in the scenario)."""
    ip = mail_host_ip(host)
    fail_logins(offender, host, "imap")
    seen = {"took": wait_for_ban(host, "dovecot", offender_ip), "set": set_elements(host, "dovecot")}
    host.run("fail2ban-client set dovecot unbanip %s", offender_ip)  # as if that ban had expired
    seen["recidive took"] = wait_for_ban(host, "recidive", offender_ip)
    seen["recidive set"] = set_elements(host, "recidive")
    seen["attacker under recidive"] = ports(offender, ip, [IMAPS_PORT])
    unban(host, offender_ip)
    return seen


def test_failed_smtp_auth_bans_the_attacker_within_seconds(smtp_attack, offender_ip):
    assert smtp_attack["before"] == dict.fromkeys(MAIL_PORTS, "open"), "the attacker was blocked before any ban"
    assert smtp_attack["took"] < BAN_WITHIN
    assert offender_ip in smtp_attack["banned"]
    assert offender_ip in smtp_attack["set"]


def test_failed_imap_logins_ban_the_attacker_within_seconds(imap_attack, offender_ip):
    assert imap_attack["took"] < BAN_WITHIN
    assert offender_ip in imap_attack["set"]


def test_banned_attacker_is_dropped_on_every_port_while_the_client_gets_through(smtp_attack):
    everything = [*MAIL_PORTS, SSH_PORT]

    assert smtp_attack["attacker"] == dict.fromkeys(everything, "dropped")
    assert {port: smtp_attack["client"][port] for port in MAIL_PORTS} == dict.fromkeys(MAIL_PORTS, "open")
    assert smtp_attack["client"][SSH_PORT] == "open"


def test_unban_restores_access(smtp_attack, offender_ip):
    assert offender_ip not in smtp_attack["banned after unban"]
    assert offender_ip not in smtp_attack["set after unban"]
    assert smtp_attack["attacker after unban"] == dict.fromkeys(MAIL_PORTS, "open")


def test_recidive_escalates_a_repeated_offender(imap_attack, offender_ip):
    assert imap_attack["recidive took"] < BAN_WITHIN
    assert offender_ip in imap_attack["recidive set"]
    assert imap_attack["attacker under recidive"] == {IMAPS_PORT: "dropped"}


def test_no_ban_ever_lands_on_the_client(host, allowlisted, client_ip):
    # One failure more than fail2ban_maxretry (3) in each service: enough to ban anybody else.
    fail_logins(allowlisted, host, "smtp", attempts=4)
    fail_logins(allowlisted, host, "imap", attempts=4)
    time.sleep(2)  # longer than fail2ban takes to read the journal and ban (under 1.5 s seen)

    for jail in JAILS:
        assert client_ip not in banned(host, jail), f"the client is banned in {jail}"
        assert client_ip not in set_elements(host, jail), f"the client is in the {jail} set"
    assert f"Ignore {client_ip} by ip" in host.check_output(
        "journalctl --no-pager -o cat _SYSTEMD_UNIT=fail2ban.service -S -2min"
    )
