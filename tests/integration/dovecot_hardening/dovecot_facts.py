# SPDX-License-Identifier: MIT
"""What the dovecot_hardening scenario (molecule/dovecot_hardening) deploys where, the lab users it is given, and
the probes the client container runs against the mail hosts.

The probes are Python scripts for the client (Debian 12, standard library only). Each takes one argument, a
base64-encoded JSON spec with the mail host's address, the certificate's name and the lab CA (the trust anchor),
and prints one line of JSON. Every connection checks the certificate chain and name, as a mail client does.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from harness import tree_state

# The scenario's hosts (molecule/dovecot_hardening/molecule.yml).
BOOKWORM = "mailfort-dovecot-bookworm"  # Debian 12, Dovecot 2.3: the role's defaults, IMAPS only
TRIXIE = "mailfort-dovecot-trixie"  # Debian 13, Dovecot 2.4: IMAP with STARTTLS and POP3S enabled too
MAIL_HOSTS = [BOOKWORM, TRIXIE]
CLIENT = "mailfort-dovecot-client"

SERVER_NAME = "mx.lab.mailfort.test"
LAB_CA = "/etc/ssl/mailfort/lab-ca/ca.pem"

# Where clients log in on each host: service -> port. "imap-starttls" is IMAP on 143 upgraded with STARTTLS.
SERVICES = {
    BOOKWORM: {"imaps": 993},
    TRIXIE: {"imaps": 993, "imap-starttls": 143, "pop3s": 995},
}
# (host, service) pairs for tests that log in everywhere a client can, and their test ids.
SERVICE_CASES = [(name, service) for name, services in SERVICES.items() for service in services]
SERVICE_IDS = [f"{name}-{service}" for name, service in SERVICE_CASES]
MAIL_PORTS = (110, 143, 993, 995)  # every IMAP and POP3 port, open or not
POSTFIX_PORTS = (25, 465, 587)  # SMTP, submissions and submission belong to Postfix, never to Dovecot
IMPLICIT_TLS_PORTS = [(name, port) for name, services in SERVICES.items() for port in services.values() if port != 143]

DOVECOT_CONF = "/etc/dovecot/dovecot.conf"
CREDENTIALS_DIR = "/etc/dovecot/mailfort"
USERS_FILE = f"{CREDENTIALS_DIR}/users"
AUTH_SOCKET = "/var/spool/postfix/private/auth"
LMTP_SOCKET = "/var/spool/postfix/private/dovecot-lmtp"
STATE_DIRS = ("/etc/dovecot", "/var/spool/postfix/private")

# The users molecule.yml gives the role. Lab-only passwords: a real inventory takes them from ansible-vault.
ALICE = "alice@lab.mailfort.test"
ALICE_MAIN = "Tangerine-Orbit-Velvet-91"  # barred from mail (mail_login: false)
ALICE_APPS = {
    "laptop": "Quartz-Lantern-Meadow-57",
    "phone": "Cobalt-Harbor-Whisper-38",
    "backup": "Saffron-Glacier-Ember-64",
}
BOB = "bob@lab.mailfort.test"
BOB_MAIN = "Juniper-Cascade-Falcon-73"  # allowed for mail (mail_login: true), no app passwords
USERS = [
    {
        "name": ALICE,
        "password": ALICE_MAIN,
        "mail_login": False,
        "app_passwords": [{"label": label, "password": password} for label, password in ALICE_APPS.items()],
    },
    {"name": BOB, "password": BOB_MAIN, "mail_login": True},
]
# Each lab password by what it is, so that a failure message can say which one leaked without showing it.
CREDENTIALS = {
    "alice's main password": ALICE_MAIN,
    **{f"alice's {label} app password": password for label, password in ALICE_APPS.items()},
    "bob's main password": BOB_MAIN,
}
# Never configured anywhere: the password of a failed guess.
WRONG_PASSWORD = "Marble-Thistle-Comet-26"  # noqa: S105  (a lab value that must never log in)

# What the scenario gives the role (dovecot_hardening_auth_failure_delay; not Dovecot's default of 2 s, so that the
# measurement is of the role's setting), and the least a failed login must take. Dovecot answers delayed failures
# from a timer that fires every 0.5 s and, in 2.3, compares whole seconds, so a failure can come up to a second
# early: with a 2 s delay, Dovecot 2.3.19.1 answered after 1.16 s once.
AUTH_FAILURE_DELAY = 3
AUTH_FAILURE_DELAY_MIN = AUTH_FAILURE_DELAY - 1
# A successful login with no earlier failure to pay for is answered at once; "well under" the delay.
PROMPT_LOGIN_MAX = 1.0

# --- probes -----------------------------------------------------------------------------------------------------

_PREAMBLE = """
import base64, imaplib, json, poplib, socket, ssl, sys, time, warnings
warnings.simplefilter("ignore", DeprecationWarning)  # ssl.TLSVersion.TLSv1_1: old on purpose
spec = json.loads(base64.b64decode(sys.argv[1]))
_connect = socket.create_connection


def _resolve(address, *args, **kwargs):
    # The certificate's name stands for the mail host's address, as DNS would have it in production.
    name, port = address
    return _connect((spec["address"] if name == spec["name"] else name, port), *args, **kwargs)


socket.create_connection = _resolve


def tls_context(version="default", ciphers=""):
    # Full verification against the lab CA: chain and host name.
    context = ssl.create_default_context(cadata=spec["anchor"])
    if version != "default":
        context.minimum_version = context.maximum_version = getattr(ssl.TLSVersion, version)
    if ciphers:
        context.set_ciphers(ciphers)
    return context


def text(value):
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else ""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


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

# Connects to each port (comma-separated) and says "open", "refused" (nothing listens: the kernel answers with a
# reset) or the error.
PORT_PROBE = """
import json, socket, sys
address, result = sys.argv[1], {}
for port in sys.argv[2].split(","):
    try:
        socket.create_connection((address, int(port)), timeout=5).close()
        result[port] = "open"
    except ConnectionRefusedError:
        result[port] = "refused"
    except OSError as error:
        result[port] = f"error: {error!r}"
print(json.dumps(result))
"""

# One TLS handshake per attempt ({version, ciphers}), each with its own client limits. "refused" carries OpenSSL's
# reason, so that a test can tell the server's refusal from the client's own (CLIENT_SIDE_TLS_REASONS).
TLS_PROBE = (
    _PREAMBLE
    + """

def handshake(version, ciphers):
    context = tls_context(version, ciphers)  # outside the try: a cipher string the client rejects is a test bug
    try:
        with socket.create_connection((spec["name"], spec["port"]), timeout=10) as sock:
            with context.wrap_socket(sock, server_hostname=spec["name"]) as tls:
                return {"outcome": "established", "version": tls.version(), "cipher": tls.cipher()[0]}
    except ssl.SSLCertVerificationError as error:
        return {"outcome": "unverified", "reason": error.verify_message}
    except ssl.SSLError as error:
        return {"outcome": "refused", "reason": error.reason, "error": str(error)}
    except OSError as error:
        return {"outcome": "unreachable", "error": repr(error)}


print(json.dumps([handshake(a["version"], a["ciphers"]) for a in spec["attempts"]]))
"""
)

# Offers each TLS 1.2 suite the client's OpenSSL knows, one per handshake, and lists those the server accepts with
# OpenSSL's description of each: key exchange (kea), authentication (auth) and whether the cipher is AEAD.
CIPHER_SCAN_PROBE = (
    _PREAMBLE
    + """
offered = tls_context("TLSv1_2", "ALL:COMPLEMENTOFALL:@SECLEVEL=0").get_ciphers()
accepted = []
for suite in (s for s in offered if s["protocol"] != "TLSv1.3"):
    try:
        context = tls_context("TLSv1_2", suite["name"] + ":@SECLEVEL=0")
        with socket.create_connection((spec["name"], spec["port"]), timeout=10) as sock:
            with context.wrap_socket(sock, server_hostname=spec["name"]) as tls:
                accepted.append({k: suite[k] for k in ("name", "kea", "auth", "aead")})
    except ssl.SSLError:
        pass
print(json.dumps({"offered": len(offered), "accepted": accepted}))
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

# Reasons OpenSSL gives when the client itself refuses, before the server had a say.
CLIENT_SIDE_TLS_REASONS = {"NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "NO_CIPHER_MATCH"}


def host_name(host) -> str:
    return host.backend.name


def address(host) -> str:
    """The host's IPv4 address on the scenario's network."""
    addresses = host.interface("eth0", "inet").addresses
    assert addresses, f"{host_name(host)} has no IPv4 address on eth0"
    return addresses[0]


def port_states(client, host, ports) -> dict[int, str]:
    """What the client finds on each TCP port of the mail host."""
    result = client.run("python3 -c %s %s %s", PORT_PROBE, address(host), ",".join(map(str, ports)))
    assert result.rc == 0, f"the port probe against {host_name(host)} failed on the client:\n{result.stderr[-3000:]}"
    return {int(port): state for port, state in json.loads(result.stdout).items()}


def probe_spec(host, **spec: Any) -> dict:
    """The part of every probe's spec that says where the mail host is and how to trust it."""
    return {"address": address(host), "name": SERVER_NAME, "anchor": host.file(LAB_CA).content_string, **spec}


def encode(spec: dict) -> str:
    return base64.b64encode(json.dumps(spec).encode()).decode()


def run_probe(client, script: str, host, **spec: Any) -> Any:
    """Run one probe on the client against a mail host and return what it printed."""
    result = client.run("python3 -c %s %s", script, encode(probe_spec(host, **spec)))
    assert result.rc == 0, f"the probe against {host_name(host)} failed on the client:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def login(client, host, service: str, *attempts: tuple[str, str]) -> list[dict]:
    """One login per (user, password), each on a new connection."""
    return run_probe(client, LOGIN_PROBE, host, service=service, attempts=[list(a) for a in attempts])


def describe(result: dict) -> str:
    """A login result for a failure message."""
    where = f" at {result['stage']}" if "stage" in result else ""
    return f"{result['outcome']}{where} after {result['seconds']:.2f} s: {result['reply']}"


def is_auth_failure(result: dict) -> bool:
    """The server refused the credentials (IMAP [AUTHENTICATIONFAILED], POP3 [AUTH]), not the connection."""
    return result["outcome"] == "rejected" and "AUTH" in result["reply"]


def credentials_in(text: str) -> list[str]:
    """Which lab passwords appear in a text, by name."""
    return [what for what, password in CREDENTIALS.items() if password in text]


def dovecot_state(host) -> str:
    """Every entry below /etc/dovecot and Postfix's private socket directory with its mode, owner, inode and mtime,
    and the digest of every regular file."""
    return tree_state(host, STATE_DIRS, DOVECOT_CONF)


def wait_for(check, timeout: float, interval: float = 0.5):
    """Call check until it returns something truthy or the time is up; return its last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
