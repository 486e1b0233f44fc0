# SPDX-License-Identifier: MIT
"""What dovecot_hardening deploys where on the lab's MX hosts, and the IMAP and POP3 probes the client container
runs against them (built on probes.py, which has the TLS probes and the helpers that run them). The hosts, users and
passwords are the lab's (lab.py).
"""

from __future__ import annotations

import json

from harness import tree_state
from lab import (
    ALICE,
    ALICE_APPS,
    ALICE_MAIN,
    BILLING_APP,
    BILLING_APP_PASSWORD,
    BOB,
    BOB_MAIN,
    CAMPAIGN,
    CAMPAIGN_PASSWORD,
    CREDENTIALS,
    MX1,
    MX2,
)
from probes import PREAMBLE, address, host_name, run_probe

# Where clients log in on each MX host: service -> port. "imap-starttls" is IMAP on 143 upgraded with STARTTLS.
SERVICES = {
    MX1: {"imaps": 993},  # Dovecot 2.3, the role's defaults: IMAPS only
    MX2: {"imaps": 993, "imap-starttls": 143, "pop3s": 995},  # Dovecot 2.4, host_vars turn on STARTTLS and POP3S
}
# Every service some host offers, and every port with implicit TLS, to parametrise tests that run on each host
# (testinfra's `host`) with; conftest.py deselects a host's cases for what it does not offer (offers below).
ALL_SERVICES = sorted({service for services in SERVICES.values() for service in services})
IMPLICIT_TLS_PORTS = sorted({port for services in SERVICES.values() for port in services.values() if port != 143})
# (host, service) pairs for tests that log in everywhere a client can by host name, and their test ids.
SERVICE_CASES = [(name, service) for name, services in SERVICES.items() for service in services]
SERVICE_IDS = [f"{name}-{service}" for name, service in SERVICE_CASES]
MAIL_PORTS = (110, 143, 993, 995)  # every IMAP and POP3 port, open or not
POSTFIX_PORTS = (25, 465, 587)  # SMTP, submissions and submission belong to Postfix, never to Dovecot


def offers(name: str, service: str | None = None, port: int | None = None) -> bool:
    """Whether the MX host serves the service (and the port), as SERVICES has it."""
    services = SERVICES.get(name, {})
    return (service is None or service in services) and (port is None or port in services.values())


DOVECOT_CONF = "/etc/dovecot/dovecot.conf"
CREDENTIALS_DIR = "/etc/dovecot/mailfort"
USERS_FILE = f"{CREDENTIALS_DIR}/users"
AUTH_SOCKET = "/var/spool/postfix/private/auth"
LMTP_SOCKET = "/var/spool/postfix/private/dovecot-lmtp"
STATE_DIRS = ("/etc/dovecot", "/var/spool/postfix/private")

# The lab's user list as the inventory gives it to the role (group_vars/mail_servers.yml), for bad input that
# replaces it: each case differs from it in one flaw.
USERS = [
    {
        "name": ALICE,
        "password": ALICE_MAIN,
        "mail_login": False,
        "app_passwords": [{"label": label, "password": password} for label, password in ALICE_APPS.items()],
    },
    {"name": BOB, "password": BOB_MAIN, "mail_login": True},
    {"name": BILLING_APP, "password": BILLING_APP_PASSWORD, "mail_login": True},
    {"name": CAMPAIGN, "password": CAMPAIGN_PASSWORD, "mail_login": True},
]
# Never configured anywhere: the password of a failed guess.
WRONG_PASSWORD = "Marble-Thistle-Comet-26"  # noqa: S105  (a lab value that must never log in)

# What the lab gives the role (dovecot_hardening_auth_failure_delay in group_vars/mail_servers.yml; not Dovecot's
# default of 2 s, so that the measurement is of the role's setting), and the least a failed login must take.
# Dovecot answers delayed failures from a timer that fires every 0.5 s and, in 2.3, compares whole seconds, so a
# failure can come up to a second early: with a 2 s delay, Dovecot 2.3.19.1 answered after 1.16 s once.
AUTH_FAILURE_DELAY = 3
AUTH_FAILURE_DELAY_MIN = AUTH_FAILURE_DELAY - 1
# A successful login with no earlier failure to pay for is answered at once; "well under" the delay.
PROMPT_LOGIN_MAX = 1.0
# Dovecot's auth penalty: after a failed login, the next logins from the same address wait a few seconds, longer
# with each further failure (up to 15 s), until a login from there succeeds. The client is on fail2ban's ignore
# list, so its failures never ban it, but they do add up to this penalty, for every test of the host that logs in
# after them. So each failure a probe causes is followed by this successful login (login_failing), which waits out
# the penalty of one failure and clears it.
RESET_LOGIN = (BOB, BOB_MAIN)

# --- probes -----------------------------------------------------------------------------------------------------

# Connects to each port (comma-separated) within the timeout and says "open", "refused" (a reset: nothing listens)
# or "dropped" (no answer: the firewall's default drop), as probes.PORT_PROBE does but quick to give up on a drop.
PORT_PROBE = """
import json, socket, sys
address, ports, timeout, result = sys.argv[1], sys.argv[2].split(","), float(sys.argv[3]), {}
for port in ports:
    try:
        socket.create_connection((address, int(port)), timeout=timeout).close()
        result[port] = "open"
    except ConnectionRefusedError:
        result[port] = "refused"
    except TimeoutError:
        result[port] = "dropped"
    except OSError as error:
        result[port] = f"error: {error!r}"
print(json.dumps(result))
"""
DROP_TIMEOUT = 1.0  # seconds; the lab's hosts answer a connection within milliseconds

_PREAMBLE = (
    PREAMBLE
    + """
import imaplib, poplib


def open_session(service):
    if service == "imaps":
        return imaplib.IMAP4_SSL(spec["name"], 993, ssl_context=tls_context(), timeout=30)
    if service == "imap-starttls":
        imap = imaplib.IMAP4(spec["name"], 143, timeout=30)
        imap.starttls(tls_context())
        return imap
    if service == "pop3s":
        return poplib.POP3_SSL(spec["name"], 995, context=tls_context(), timeout=30)
    raise ValueError(service)
"""
)

# One login per attempt ([user, password]) on a fresh connection of the given service, timed around the login
# command alone. A login that works goes on as a mail client would (SELECT INBOX, STAT), so a session that breaks
# right after the login does not count as working. "rejected" is the server's NO/-ERR with its text; "error" is
# anything else (TLS, connection), with the stage where it happened.
LOGIN_PROBE = (
    _PREAMBLE
    + """

def attempt(service, user, password):
    stage, start = "connect", time.monotonic()
    try:
        session = open_session(service)
        stage, start = "login", time.monotonic()
        try:
            if service == "pop3s":
                session.user(user)
                reply = session.pass_(password)
            else:
                reply = session.login(user, password)[1]
        except (imaplib.IMAP4.abort, OSError, EOFError):
            raise
        except (imaplib.IMAP4.error, poplib.error_proto) as error:
            return {"outcome": "rejected", "seconds": time.monotonic() - start, "reply": text(error.args[0])}
        seconds = time.monotonic() - start
        stage = "use"
        if service == "pop3s":
            session.stat()
            session.quit()
        else:
            status, data = session.select("INBOX", readonly=True)  # a NO here is returned, not raised
            if status != "OK":
                return {"outcome": "error", "stage": stage, "seconds": seconds, "reply": f"SELECT {text(data)}"}
            session.logout()
        return {"outcome": "accepted", "seconds": seconds, "reply": text(reply)}
    except Exception as error:
        return {"outcome": "error", "stage": stage, "seconds": time.monotonic() - start, "reply": repr(error)}


print(json.dumps([attempt(spec["service"], user, password) for user, password in spec["attempts"]]))
"""
)

# IMAP on 143: what the server offers and answers before STARTTLS, then the same after it, on two connections.
# The LOGIN before STARTTLS carries a valid password on purpose: a refusal of a wrong one would prove nothing.
STARTTLS_PROBE = (
    _PREAMBLE
    + """
user, password = spec["user"], spec["password"]
result = {}
plain = imaplib.IMAP4(spec["name"], 143, timeout=30)
result["capabilities_before"] = text(plain.capability()[1]).split()
try:
    result["login_before"] = "OK " + text(plain.login(user, password)[1])
except imaplib.IMAP4.abort as error:
    result["login_before"] = "ABORT " + text(error.args[0])
except imaplib.IMAP4.error as error:
    result["login_before"] = "NO " + text(error.args[0])
try:
    plain.logout()
except (imaplib.IMAP4.error, OSError):
    pass

upgraded = imaplib.IMAP4(spec["name"], 143, timeout=30)
upgraded.starttls(tls_context())
result["tls_version"] = upgraded.sock.version()
result["capabilities_after"] = text(upgraded.capability()[1]).split()
try:
    result["login_after"] = "OK " + text(upgraded.login(user, password)[1])
    upgraded.logout()
except imaplib.IMAP4.error as error:
    result["login_after"] = "NO " + text(error.args[0])
print(json.dumps(result))
"""
)

# Runs in the background (systemd-run): logs in over IMAPS, then sends NOOP every second for spec["seconds"],
# writing timestamped events (client clock) to spec["log"]: LOGGED-IN, ALIVE after each answered NOOP, CLOSED with
# the reason when the server ends the session, FAILED when the login itself fails, and STILL-OPEN at the end.
IDLE_SESSION_PROBE = (
    _PREAMBLE
    + """
log = open(spec["log"], "a", buffering=1)


def note(event, detail=""):
    log.write(f"{time.time():.3f} {event} {detail}".rstrip() + "\\n")


logged_in = False
try:
    imap = imaplib.IMAP4_SSL(spec["name"], 993, ssl_context=tls_context(), timeout=30)
    imap.login(spec["user"], spec["password"])
    imap.select("INBOX", readonly=True)
    logged_in = True
    note("LOGGED-IN")
    deadline = time.monotonic() + spec["seconds"]
    while time.monotonic() < deadline:
        time.sleep(1)
        imap.noop()
        note("ALIVE")
    note("STILL-OPEN")
    imap.logout()
except (imaplib.IMAP4.error, OSError, EOFError) as error:
    note("CLOSED" if logged_in else "FAILED", repr(error))
"""
)


def login(client, host, service: str, *attempts: tuple[str, str]) -> list[dict]:
    """One login per (user, password), each on a new connection."""
    return run_probe(client, LOGIN_PROBE, host, service=service, attempts=[list(a) for a in attempts])


def login_failing(client, host, service: str, *attempts: tuple[str, str]) -> list[dict]:
    """Logins that are to fail, each followed by RESET_LOGIN on a connection of its own, so that none leaves Dovecot's
    auth penalty to the attempt after it or to the next test; the results of the attempts alone."""
    results = login(client, host, service, *(step for attempt in attempts for step in (attempt, RESET_LOGIN)))
    return results[::2]


def describe(result: dict) -> str:
    """A login result for a failure message."""
    where = f" at {result['stage']}" if "stage" in result else ""
    return f"{result['outcome']}{where} after {result['seconds']:.2f} s: {result['reply']}"


def is_auth_failure(result: dict) -> bool:
    """The server refused the credentials (IMAP [AUTHENTICATIONFAILED], POP3 [AUTH]), not the connection."""
    return result["outcome"] == "rejected" and "AUTH" in result["reply"]


def port_states(peer, host, ports) -> dict[int, str]:
    """What PEER (the client, or the MX host itself) finds on each TCP port of the MX host's lab address."""
    result = peer.run("python3 -c %s %s %s %s", PORT_PROBE, address(host), ",".join(map(str, ports)), str(DROP_TIMEOUT))
    assert result.rc == 0, f"the port probe against {host_name(host)} failed:\n{result.stderr[-3000:]}"
    return {int(port): state for port, state in json.loads(result.stdout).items()}


def credentials_in(text: str) -> list[str]:
    """Which lab passwords appear in a text, by name."""
    return [what for what, password in CREDENTIALS.items() if password in text]


def dovecot_state(host) -> str:
    """Every entry below /etc/dovecot and Postfix's private socket directory with its mode, owner, inode and mtime,
    and the digest of every regular file."""
    return tree_state(host, STATE_DIRS, DOVECOT_CONF)
