# SPDX-License-Identifier: MIT
"""What postfix_hardening deploys where on the lab's MX hosts, the users and limits the lab's inventory gives it,
and the SMTP and IMAP probes the client containers run against the mail hosts (built on probes.py).

The hosts, users and passwords come from lab.py; the limits only this suite needs (the rate limits, campaign@'s
quota) are read from the lab's inventory, the one source of both.
"""

from __future__ import annotations

import re
import shlex
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from harness import tree_state
from lab import ALICE_APPS, CAMPAIGN, CLIENT, DOMAIN, INVENTORY, MX1, MX2
from probes import HANDSHAKE_FUNCTIONS, HANDSHAKES, PREAMBLE, host_name, run_probe


def _inventory_file(*parts: str) -> dict:
    path: Path = INVENTORY.joinpath(*parts)
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


# The lab's settings for both MX hosts (molecule/lab/inventory/group_vars/mail_servers.yml): the limits below are
# read from there, literal values all; the templated ones (addresses) are lab.py's.
_GROUP_VARS = _inventory_file("group_vars", "mail_servers.yml")

# The HELO name the probes give: a valid FQDN, which podman's DNS resolves to the client.
CLIENT_HELO = f"{CLIENT}.dns.podman"
# A sender on port 25 must be in a domain that resolves (reject_unknown_sender_domain): podman's DNS answers for
# <container>.dns.podman. ".invalid" never resolves (RFC 2606).
REMOTE_SENDER = f"someone@{CLIENT_HELO}"
UNRESOLVABLE_SENDER = "someone@no-such-domain.invalid"
OUTSIDE_RECIPIENT = "someone@example.net"  # relaying there needs a login

# postfix_hardening_mx_tls_policy and _submission_hide_client as each host must have them: MX1 the role's
# defaults, MX2 the options turned on (host_vars/mailfort-mx2.yml). Stated here, not read from the inventory, so
# that a lab which stopped turning an option on fails instead of proving the default twice.
MX_TLS_POLICY = {MX1: "strict", MX2: "interop"}
HIDES_CLIENT = {MX1: False, MX2: True}

# Besides the lab's users (lab.py: dovecot_hardening_users, and through them postfix_hardening_mailboxes): alice
# logs in with her laptop's app password, her main password being barred from mail.
ALICE_LAPTOP = ALICE_APPS["laptop"]
BILLING = f"billing@{DOMAIN}"  # postfix_hardening_send_as: billing-app may send as billing@ too
UNKNOWN_MAILBOX = f"carol@{DOMAIN}"
WRONG_PASSWORD = "Marble-Thistle-Comet-26"  # noqa: S105  (a lab value that must never log in)

# The lab's rate limits (postfix_hardening_connection_rate_limit, _auth_rate_limit) per 60 s, per client address
# and service; the client is exempt (postfix_hardening_rate_limit_exceptions), the outsider is not.
CONNECTION_RATE_LIMIT: int = _GROUP_VARS["postfix_hardening_connection_rate_limit"]
AUTH_RATE_LIMIT: int = _GROUP_VARS["postfix_hardening_auth_rate_limit"]
# New connections to the mail ports a source not exempt from the firewall's meter may open at once (the outsider).
FIREWALL_METER_BURST: int = _GROUP_VARS["mail_firewall_rate_limit_burst"]

# campaign@'s outbound quota (postfix_hardening_quota_overrides): one limit of a few messages and recipients per
# window. The other users keep the role's default quota, far above what the suites send. campaign@ sends only in
# test_quota.py.
(_CAMPAIGN_QUOTA,) = _GROUP_VARS["postfix_hardening_quota_overrides"][CAMPAIGN]
CAMPAIGN_QUOTA_MESSAGES: int = _CAMPAIGN_QUOTA["messages"]
CAMPAIGN_QUOTA_RECIPIENTS: int = _CAMPAIGN_QUOTA["recipients"]
CAMPAIGN_QUOTA_WINDOW: int = _CAMPAIGN_QUOTA["window"]
# The outbound quota service (roles/postfix_hardening/vars/main.yml).
QUOTA_PROGRAM = "/usr/local/lib/mailfort/mailfort_quota.py"
QUOTA_CONFIG = "/etc/postfix/mailfort/quota.conf"
QUOTA_STATE = "/var/lib/mailfort-quota/state.json"
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
    "mailfort/postscreen_access",
    "mailfort/postscreen_dnsbl_reply",
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


def wait_for_journal(host, since: float, *patterns: str, timeout: float = 10) -> str:
    """The Postfix journal since a time once it holds one of PATTERNS (fixed strings), or as it is when time is up.

    Other suites' sessions from the client may reach the same host meanwhile: a pattern names what only the
    waiting test's own session logs (its client and stage), not just a kind of event."""
    deadline = time.monotonic() + timeout
    while True:
        journal = postfix_journal(host, since)
        if any(pattern in journal for pattern in patterns) or time.monotonic() > deadline:
            return journal
        time.sleep(0.5)


def smtpd_session(journal: str, queue_id: str) -> list[str]:
    """The journal lines of the port-25 session that queued QUEUE_ID: its smtpd process's lines from its connect to
    its disconnect (a process serves one session at a time), so that sessions of other tests beside it are left
    out. Empty until the session's disconnect is logged."""
    lines = journal.splitlines()
    queued = next((i for i, line in enumerate(lines) if f": {queue_id}: client=" in line), None)
    process = re.search(r"postfix/smtpd\[\d+\]: ", lines[queued]) if queued is not None else None
    if process is None:
        return []
    own = process[0]
    starts = [i for i in range(queued) if f"{own}connect from " in lines[i]]
    ends = [i for i in range(queued + 1, len(lines)) if f"{own}disconnect from " in lines[i]]
    if not starts or not ends:
        return []
    return [line for line in lines[starts[-1] : ends[0] + 1] if own in line]


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


def assert_quota_service_as_converged(host) -> None:
    """mailfort-quota runs now and at boot as its own user, behind a socket only Postfix reaches, with a
    configuration only root writes and its user reads."""
    name = host_name(host)
    for unit in QUOTA_UNITS:
        assert host.service(unit).is_running, f"{name}: {unit} is not running"
        assert host.service(unit).is_enabled, f"{name}: {unit} is not enabled"
    pid = host.check_output("systemctl show -P MainPID mailfort-quota.service")
    assert host.check_output(f"ps -o user= -p {pid}") == "mailfort-quota", f"{name}: mailfort-quota's user"
    socket = host.check_output(f"stat -c '%F %U:%G %a' {QUOTA_SOCKET}")
    assert socket == "socket postfix:postfix 600", f"{name}: {QUOTA_SOCKET}: {socket}"
    config = host.check_output(f"stat -c '%U:%G %a' {QUOTA_CONFIG}")
    assert config == "root:mailfort-quota 640", f"{name}: {QUOTA_CONFIG}: {config}"
