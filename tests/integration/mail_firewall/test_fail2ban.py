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


@pytest.fixture(autouse=True)
def no_ban_left(host, offender_ip):
    """Each test starts and ends with the attacker unbanned everywhere."""
    unban(host, offender_ip)
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


def test_failed_smtp_auth_bans_the_attacker_within_seconds(host, offender, offender_ip):
    fail_logins(offender, host, "smtp")

    wait_for_ban(host, "postfix-sasl", offender_ip)
    assert offender_ip in set_elements(host, "postfix-sasl")


def test_failed_imap_logins_ban_the_attacker_within_seconds(host, offender, offender_ip):
    fail_logins(offender, host, "imap")

    wait_for_ban(host, "dovecot", offender_ip)
    assert offender_ip in set_elements(host, "dovecot")


def test_banned_attacker_is_dropped_on_every_port_while_the_client_gets_through(
    host, offender, allowlisted, offender_ip
):
    ip = mail_host_ip(host)
    assert set(ports(offender, ip, MAIL_PORTS).values()) == {"open"}, "the attacker is blocked before any ban"
    fail_logins(offender, host, "smtp")
    wait_for_ban(host, "postfix-sasl", offender_ip)

    assert ports(offender, ip, [*MAIL_PORTS, SSH_PORT]) == dict.fromkeys([*MAIL_PORTS, SSH_PORT], "dropped")
    client_view = ports(allowlisted, ip, [*MAIL_PORTS, SSH_PORT])
    assert {port: client_view[port] for port in MAIL_PORTS} == dict.fromkeys(MAIL_PORTS, "open")
    assert client_view[SSH_PORT] != "dropped"


def test_unban_restores_access(host, offender, offender_ip):
    ip = mail_host_ip(host)
    fail_logins(offender, host, "imap")
    wait_for_ban(host, "dovecot", offender_ip)
    assert ports(offender, ip, [IMAPS_PORT]) == {IMAPS_PORT: "dropped"}

    unban(host, offender_ip)

    assert offender_ip not in banned(host, "dovecot")
    assert offender_ip not in set_elements(host, "dovecot")
    assert ports(offender, ip, MAIL_PORTS) == dict.fromkeys(MAIL_PORTS, "open")


def test_recidive_escalates_a_repeated_offender(host, offender, offender_ip):
    # Up to two bans (the scenario's recidive maxretry is 2), each lifted in its own jail as if it had expired.
    # recidive remembers bans of earlier tests for a day, so it may escalate after the first one already.
    for service, jail in (("smtp", "postfix-sasl"), ("imap", "dovecot")):
        if offender_ip in banned(host, "recidive"):
            break
        fail_logins(offender, host, service)
        wait_for_ban(host, jail, offender_ip)
        host.run("fail2ban-client set %s unbanip %s", jail, offender_ip)

    wait_for_ban(host, "recidive", offender_ip)
    assert offender_ip in set_elements(host, "recidive")
    assert ports(offender, mail_host_ip(host), [IMAPS_PORT]) == {IMAPS_PORT: "dropped"}


def test_no_ban_ever_lands_on_the_client(host, allowlisted, client_ip):
    fail_logins(allowlisted, host, "smtp")
    fail_logins(allowlisted, host, "imap")
    time.sleep(2)  # longer than fail2ban takes to read the journal and ban (under 1.5 s seen)

    for jail in JAILS:
        assert client_ip not in banned(host, jail), f"the client is banned in {jail}"
        assert client_ip not in set_elements(host, jail), f"the client is in the {jail} set"
    assert f"Ignore {client_ip} by ip" in host.check_output(
        "journalctl --no-pager -o cat _SYSTEMD_UNIT=fail2ban.service -S -2min"
    )
