# SPDX-License-Identifier: MIT
"""What the postfix_hardening scenario (molecule/postfix_hardening) deploys where, the lab users and limits it is
given, and the SMTP and IMAP probes the client containers run against the mail hosts (built on probes.py).
"""

from __future__ import annotations

import re
import shlex
import time
import uuid
from typing import Any

from harness import tree_state
from probes import HANDSHAKE_FUNCTIONS, HANDSHAKES, PREAMBLE, host_name, run_probe

# The scenario's hosts (molecule/postfix_hardening/molecule.yml).
BOOKWORM = "mailfort-postfix-bookworm"  # Debian 12, Postfix 3.7: the role's defaults, strict TLS on port 25 too
TRIXIE = "mailfort-postfix-trixie"  # Debian 13, Postfix 3.10: port 25 in interop mode, client hidden, TLS policies
MAIL_HOSTS = [BOOKWORM, TRIXIE]
CLIENT = "mailfort-postfix-client"  # a mail client; exempt from the rate limits
OUTSIDER = "mailfort-postfix-outsider"  # not exempt: floods
# The HELO name the probes give: a valid FQDN, which podman's DNS resolves to the client.
CLIENT_HELO = f"{CLIENT}.dns.podman"
# A sender on port 25 must be in a domain that resolves (reject_unknown_sender_domain): podman's DNS answers for
# <container>.dns.podman. ".invalid" never resolves (RFC 2606).
REMOTE_SENDER = f"someone@{CLIENT_HELO}"
UNRESOLVABLE_SENDER = "someone@no-such-domain.invalid"
OUTSIDE_RECIPIENT = "someone@example.net"  # relaying there needs a login

MX_TLS_POLICY = {BOOKWORM: "strict", TRIXIE: "interop"}  # postfix_hardening_mx_tls_policy
HIDES_CLIENT = {BOOKWORM: False, TRIXIE: True}  # postfix_hardening_submission_hide_client

# The users molecule.yml gives dovecot_hardening (and through it postfix_hardening_mailboxes). Lab-only passwords:
# a real inventory takes them from ansible-vault.
DOMAIN = "lab.mailfort.test"
ALICE = f"alice@{DOMAIN}"
ALICE_MAIN = "Tangerine-Orbit-Velvet-91"  # barred from mail (mail_login: false)
ALICE_LAPTOP = "Quartz-Lantern-Meadow-57"  # alice's app password
BOB = f"bob@{DOMAIN}"
BOB_MAIN = "Juniper-Cascade-Falcon-73"  # allowed for mail (mail_login: true)
BILLING_APP = f"billing-app@{DOMAIN}"  # a per-application account
BILLING_APP_MAIN = "Walnut-Semaphore-Drift-42"
BILLING = f"billing@{DOMAIN}"  # postfix_hardening_send_as: billing-app may send as billing@ too
UNKNOWN_MAILBOX = f"carol@{DOMAIN}"
CAMPAIGN = f"campaign@{DOMAIN}"  # sends only in test_quota.py, under its own low quota
CAMPAIGN_MAIN = "Saffron-Tundra-Ledger-38"
CREDENTIALS = {
    "alice's main password": ALICE_MAIN,
    "alice's laptop app password": ALICE_LAPTOP,
    "bob's main password": BOB_MAIN,
    "billing-app's password": BILLING_APP_MAIN,
    "campaign's password": CAMPAIGN_MAIN,
}
WRONG_PASSWORD = "Marble-Thistle-Comet-26"  # noqa: S105  (a lab value that must never log in)

# The scenario's rate limits (postfix_hardening_connection_rate_limit, _auth_rate_limit) per 60 s, per client
# address and service.
CONNECTION_RATE_LIMIT = 15
AUTH_RATE_LIMIT = 5

# campaign@'s outbound quota (postfix_hardening_quota_overrides): per 3600 s, 3 messages and 5 recipients. The
# other users keep the role's default quota, far above what the suite sends.
CAMPAIGN_QUOTA_MESSAGES = 3
CAMPAIGN_QUOTA_RECIPIENTS = 5
CAMPAIGN_QUOTA_WINDOW = 3600
# The outbound quota service (roles/postfix_hardening/vars/main.yml).
QUOTA_PROGRAM = "/usr/local/lib/mailfort/mailfort_quota.py"
QUOTA_CONFIG = "/etc/postfix/mailfort/quota.conf"
QUOTA_UNITS = ("mailfort-quota.socket", "mailfort-quota.service")
QUOTA_SOCKET = "/var/spool/postfix/private/mailfort-quota"

SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT = 25, 587, 465
CONFIG_DIR = "/etc/postfix"
CANDIDATE_DIR = f"{CONFIG_DIR}/mailfort-candidate"
MAIN_CF = f"{CONFIG_DIR}/main.cf"
# What the role renders, relative to the configuration directory (vars/main.yml, __postfix_hardening_files).
MANAGED_FILES = (
    "main.cf",
    "master.cf",
    "mailfort/virtual_mailboxes",
    "mailfort/sender_logins",
    "mailfort/mx_protected_senders",
    "mailfort/tls_policy",
    "mailfort/submission_header_checks",
)
TLS_POLICY = f"{CONFIG_DIR}/mailfort/tls_policy"
MASTER_PID_FILE = "/var/spool/postfix/pid/master.pid"

# --- probes -----------------------------------------------------------------------------------------------------

_SMTP_PREAMBLE = (
    PREAMBLE
    + """
import imaplib, smtplib
from email import message_from_bytes
from email.policy import default as default_policy


def reply(code_and_text):
    code, message = code_and_text
    return {"code": code, "text": text(message)}
"""
)

# SMTP sessions as a mail client holds them, each on a new connection: spec["sessions"] is a list of
# {port, tls: none|starttls|implicit, steps}. With "starttls" the probe says EHLO and STARTTLS before the steps
# (recorded as "starttls"); the steps then start on the encrypted connection, where a client greets again. Steps:
# ["ehlo"], ["helo", name], ["starttls"], ["auth", user, password] (AUTH PLAIN), ["cmd", line] and ["data",
# message] (DATA with a message text; LF line ends become CRLF). Every step records the server's reply code and
# text, EHLO also the keywords offered. A session that breaks records "error" and ends there.
SMTP_PROBE = (
    _SMTP_PREAMBLE
    + """

def session(port, tls, steps):
    result = {"port": port, "tls": tls, "steps": []}
    record = result["steps"].append
    try:
        if tls == "implicit":
            smtp = smtplib.SMTP_SSL(local_hostname=spec["helo"], context=tls_context(), timeout=20)
        else:
            smtp = smtplib.SMTP(local_hostname=spec["helo"], timeout=20)
        smtp._host = spec["name"]  # the name TLS verifies; smtplib sets it only when the constructor connects
        result["banner"] = reply(smtp.connect(spec["name"], port))
        if tls == "starttls":
            smtp.ehlo()
            result["starttls"] = reply(smtp.starttls(context=tls_context()))
        for verb, *arguments in steps:
            if verb == "ehlo":
                answer = reply(smtp.ehlo())
                answer["keywords"] = [line.upper() for line in answer["text"].splitlines()[1:]]
            elif verb == "helo":
                answer = reply(smtp.helo(arguments[0]))
            elif verb == "starttls":
                answer = reply(smtp.starttls(context=tls_context()))
            elif verb == "auth":
                credentials = base64.b64encode(f"\\0{arguments[0]}\\0{arguments[1]}".encode()).decode()
                answer = reply(smtp.docmd("AUTH", "PLAIN " + credentials))
            elif verb == "cmd":
                answer = reply(smtp.docmd(arguments[0]))
            elif verb == "data":
                answer = reply(smtp.docmd("DATA"))
                if answer["code"] == 354:
                    lines = arguments[0].rstrip("\\n").split("\\n")
                    body = "\\r\\n".join("." + line if line.startswith(".") else line for line in lines)
                    smtp.send(body.encode() + b"\\r\\n.\\r\\n")
                    answer = reply(smtp.getreply())
            else:
                raise ValueError(verb)
            record({"step": verb, **answer})
        if hasattr(smtp.sock, "version"):
            result["tls_version"] = smtp.sock.version()
        smtp.close()
    except (smtplib.SMTPException, OSError) as error:
        result["error"] = repr(error)
    return result


print(json.dumps([session(s["port"], s["tls"], s["steps"]) for s in spec["sessions"]]))
"""
)

# What the client sends and receives byte by byte, for what smtplib would not send: spec["actions"] is a list of
# ["send", text] (sent as is, in one write), ["reply"] (one whole SMTP reply, multi-line or not) and ["drain",
# seconds] (everything the server sends until it is quiet that long or closes). Prints what each reply and drain
# received; "<EOF>" marks the server's close.
RAW_SMTP_PROBE = (
    PREAMBLE
    + """
import re

received, pending = [], b""
final_line = re.compile(rb"^[0-9]{3}(?: [^\\n]*)?\\r?\\n", re.MULTILINE)
with socket.create_connection((spec["name"], spec["port"]), timeout=20) as sock:
    for action, *argument in spec["actions"]:
        if action == "send":
            try:
                sock.sendall(argument[0].encode())
            except OSError as error:
                received.append(f"<send failed: {error!r}>")
            continue
        sock.settimeout(20 if action == "reply" else argument[0])
        try:
            while not (action == "reply" and final_line.search(pending)):
                chunk = sock.recv(65536)
                if not chunk:
                    pending += b"<EOF>"
                    break
                pending += chunk
        except socket.timeout:
            pass
        except OSError as error:
            pending += f"<{error!r}>".encode()
        if action == "reply" and (match := final_line.search(pending)):
            data, pending = pending[: match.end()], pending[match.end() :]
        else:
            data, pending = pending, b""
        received.append(data.decode(errors="replace"))
print(json.dumps(received))
"""
)

# Reads a mailbox over IMAPS as a mail client does: logs in, and waits up to spec["wait"] seconds for at least
# spec["expect"] messages whose Subject holds spec["token"]; prints their Subject, Received headers and body.
MAILBOX_PROBE = (
    _SMTP_PREAMBLE
    + """
deadline = time.monotonic() + spec["wait"]
while True:
    imap = imaplib.IMAP4_SSL(spec["name"], 993, ssl_context=tls_context(), timeout=30)
    imap.login(spec["user"], spec["password"])
    imap.select("INBOX", readonly=True)
    numbers = imap.search(None, "SUBJECT", '"' + spec["token"] + '"')[1][0].split()
    if len(numbers) >= spec["expect"] or time.monotonic() > deadline:
        break
    imap.logout()
    time.sleep(0.5)
messages = []
for number in numbers:
    raw = imap.fetch(number, "(BODY.PEEK[])")[1][0][1]
    message = message_from_bytes(raw, policy=default_policy)
    body = message.get_body(("plain",))
    messages.append({
        "subject": str(message["Subject"]),
        "received": [str(value) for value in message.get_all("Received", [])],
        "body": body.get_content() if body else "",
    })
imap.logout()
print(json.dumps(messages))
"""
)

# TLS_PROBE for a port that speaks SMTP first: EHLO, STARTTLS, and only then the handshake.
STARTTLS_TLS_PROBE = (
    PREAMBLE
    + HANDSHAKE_FUNCTIONS
    + """

def plain_connection():
    sock = socket.create_connection((spec["name"], spec["port"]), timeout=10)
    reader = sock.makefile("rb")
    for command in (b"", b"EHLO " + spec["helo"].encode() + b"\\r\\n", b"STARTTLS\\r\\n"):
        sock.sendall(command)
        line = reader.readline()
        while line[3:4] == b"-":
            line = reader.readline()
        if not line.startswith(b"2"):
            raise OSError(f"SMTP before the handshake: {command!r} got {line!r}")
    return sock
"""
    + HANDSHAKES
)


# --- helpers ------------------------------------------------------------------------------------------------------


def token() -> str:
    """A word no earlier run used, to find one test's message among all the others."""
    return f"mailfort-{uuid.uuid4().hex[:12]}"


def message(sender: str, recipient: str, subject: str, body: str = "A test message from the client.") -> str:
    return f"From: <{sender}>\nTo: <{recipient}>\nSubject: {subject}\n\n{body}\n"


def smtp(client, host, *sessions: dict) -> list[dict]:
    """Hold each session ({port, tls, steps}) on a new connection from the client; see SMTP_PROBE."""
    return run_probe(client, SMTP_PROBE, host, helo=CLIENT_HELO, sessions=list(sessions))


def session(port: int, tls: str, *steps: list) -> dict:
    return {"port": port, "tls": tls, "steps": [list(step) for step in steps]}


def smtp_sessions(client, host, sessions: dict[str, dict]) -> dict[str, dict]:
    """Hold named sessions in one probe run; their results by the same names."""
    return dict(zip(sessions, smtp(client, host, *sessions.values()), strict=True))


def step(result: dict, index: int) -> dict:
    """The reply to one step of a session, which must have got that far."""
    assert len(result["steps"]) > index, f"the session broke before step {index + 1}:\n{show(result)}"
    return result["steps"][index]


def answered(reply: dict, code: int, *words: str) -> bool:
    """The reply has the code and every word (an enhanced status code, a phrase)."""
    return reply["code"] == code and all(word in reply["text"] for word in words)


def show(result: dict) -> str:
    """One session, for a failure message."""
    lines = [f"port {result['port']} ({result['tls']}): banner {result.get('banner')}"]
    lines += [f"  STARTTLS: {result['starttls']}"] if "starttls" in result else []
    lines += [f"  {s['step']}: {s['code']} {s['text']!r}" for s in result["steps"]]
    lines += [f"  error: {result['error']}"] if "error" in result else []
    return "\n".join(lines)


def raw_smtp(client, host, port: int, *actions: tuple[str, Any]) -> list[str]:
    """Send and read bytes on one connection; see RAW_SMTP_PROBE."""
    return run_probe(client, RAW_SMTP_PROBE, host, port=port, actions=[list(a) for a in actions])


def mailbox(client, host, user: str, password: str, subject_token: str, *, expect: int = 1, wait: float = 20) -> list:
    """The messages in the user's INBOX whose Subject holds the token, once at least EXPECT are there or the wait
    is over."""
    return run_probe(
        client, MAILBOX_PROBE, host, user=user, password=password, token=subject_token, expect=expect, wait=wait
    )


def master_pid(host) -> int:
    """The PID of Postfix's master process, checked to be one."""
    pid = int(host.file(MASTER_PID_FILE).content_string.strip())
    assert host.file(f"/proc/{pid}/comm").content_string.strip() == "master", f"{host_name(host)}: {pid} is no master"
    return pid


def now(host) -> float:
    return float(host.check_output("date +%s.%N"))


def postfix_journal(host, since: float) -> str:
    """What Postfix's programs logged since a time of the host's clock (the unit is postfix@- on Debian 12)."""
    return host.check_output(
        f"journalctl --no-pager --since @{since:.3f} --output=short-iso | grep -E ' postfix(/[a-z/-]+)?\\[' || true"
    )


def wait_for_journal(host, since: float, pattern: str, timeout: float = 10) -> str:
    """The Postfix journal since a time once a line holds PATTERN (a fixed string), or as it is when time is up."""
    deadline = time.monotonic() + timeout
    while True:
        journal = postfix_journal(host, since)
        if pattern in journal or time.monotonic() > deadline:
            return journal
        time.sleep(0.5)


def master_events(host, since: float) -> list[str]:
    """What Postfix's master process logged about itself since a time: "daemon started" for each start (a
    restart), "reload" for each reload."""
    return re.findall(r"postfix/master\[\d+\]: (daemon started|reload) -- version", postfix_journal(host, since))


def postfix_state(host) -> str:
    """Every entry below /etc/postfix with its mode, owner, inode and mtime, and the digest of every regular file."""
    return tree_state(host, [CONFIG_DIR], MAIN_CF)


def postfix_check(host):
    """`postfix check` with a terminal for its messages: Postfix 3.7 logs them to syslog only otherwise."""
    return host.run("script --quiet --return --command %s /dev/null", "postfix check")


def postconf(host, *args: str) -> str:
    return host.check_output("postconf " + " ".join(shlex.quote(a) for a in args))
