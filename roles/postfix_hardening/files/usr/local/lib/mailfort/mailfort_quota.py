#!/usr/bin/python3 -I
# SPDX-License-Identifier: MIT
"""mailfort-quota: a Postfix policy service that limits how many messages and recipients each SASL login sends.

Postfix asks it at the end of every message submitted on 587/465 (smtpd_end_of_data_restrictions), when the
request carries the login (sasl_username) and the number of accepted recipients (recipient_count). For each window
of the login's limits (sliding: the last N seconds, not calendar hours), the messages and recipients it sent in that
window plus this message must stay within the limit; otherwise the answer is a temporary refusal (451 4.7.1), the
message is not counted, and one line goes to the journal. A message within every limit is counted and answered
DUNNO, so the rest of Postfix's restrictions decide. Anything but an END-OF-MESSAGE request of a logged-in client is
answered DUNNO without counting.

Why our own and not a Debian package (checked on Debian 12 and 13): policyd-rate-limit logs nothing when it refuses
unless its debug mode logs every request, counts recipients at RCPT time on Debian 12 (1.0.1) but messages or
recipients at DATA time on Debian 13 (1.2.0), never both; postfwd's check mode (`postfwd -C`) exits 1 for a valid
ruleset too and silently skips lines it cannot parse, so a ruleset cannot be checked before it goes live, and its
counters live in memory.

The configuration (checked by `--check`) is INI text:

    [defaults]
    limits = 3600:200:1000 86400:1000:3000     # window in seconds : messages : recipients, per login

    [login newsletter@example.org]
    limits = 3600:2000:20000                    # replaces the defaults for this login; empty: no quota

systemd hands over the listening socket (socket activation, fd 3); the process needs no access to Postfix's spool.
The counters are kept in memory and saved to the state file on stop, on SIGHUP (which also re-reads the
configuration) and a minute after a change, so a restart does not reset anybody's quota. Only standard library.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

MAX_WINDOW = 7 * 86400  # longest window: bounds the memory a login's history takes
MAX_COUNT = 1_000_000
MAX_LINE = 4096  # Postfix's policy attributes are short; a longer line is not Postfix talking
LOGIN_SECTION = re.compile(r"^login (\S+)$")
LIMIT = re.compile(r"^([0-9]+):([0-9]+):([0-9]+)$")
LISTEN_FD = 3  # SD_LISTEN_FDS_START


class QuotaConfigError(ValueError):
    """The configuration breaks a rule; the message names where and which."""


@dataclass(frozen=True)
class Limit:
    window: int  # seconds
    messages: int
    recipients: int


@dataclass(frozen=True)
class Quotas:
    defaults: tuple[Limit, ...]
    logins: dict[str, tuple[Limit, ...]] = field(default_factory=dict)

    def for_login(self, login: str) -> tuple[Limit, ...]:
        return self.logins.get(login.lower(), self.defaults)


def parse_limits(text: str, where: str) -> tuple[Limit, ...]:
    """ "3600:200:1000 86400:1000:3000" -> Limits; every number a whole number >= 1, each window once."""
    limits = []
    for item in text.split():
        match = LIMIT.match(item)
        if not match:
            raise QuotaConfigError(f"{where}: {item!r} is not WINDOW:MESSAGES:RECIPIENTS (whole numbers)")
        window, messages, recipients = (int(group) for group in match.groups())
        if not 1 <= window <= MAX_WINDOW:
            raise QuotaConfigError(f"{where}: window {window} must be between 1 and {MAX_WINDOW} seconds")
        if not (1 <= messages <= MAX_COUNT and 1 <= recipients <= MAX_COUNT):
            raise QuotaConfigError(f"{where}: {item!r}: messages and recipients must be between 1 and {MAX_COUNT}")
        if any(limit.window == window for limit in limits):
            raise QuotaConfigError(f"{where}: window {window} is given twice")
        limits.append(Limit(window, messages, recipients))
    return tuple(sorted(limits, key=lambda limit: limit.window))


def parse_config(text: str) -> Quotas:
    """The configuration text -> Quotas, or QuotaConfigError naming the section and the rule broken."""
    parser = configparser.ConfigParser(
        default_section="mailfort-quota-no-default-section", interpolation=None, inline_comment_prefixes=("#",)
    )
    try:
        parser.read_string(text)
    except configparser.Error as error:
        raise QuotaConfigError(f"not readable as INI: {error}") from error
    if "defaults" not in parser:
        raise QuotaConfigError("the [defaults] section is missing")
    logins: dict[str, tuple[Limit, ...]] = {}
    defaults: tuple[Limit, ...] = ()
    for name in parser.sections():
        section = parser[name]
        unknown = sorted(set(section) - {"limits"})
        if unknown:
            raise QuotaConfigError(f"[{name}]: unknown key(s) {', '.join(unknown)}; the only key is limits")
        if "limits" not in section:
            raise QuotaConfigError(f"[{name}]: limits is missing")
        limits = parse_limits(section["limits"], f"[{name}] limits")
        if name == "defaults":
            if not limits:
                raise QuotaConfigError("[defaults] limits: at least one window is needed")
            defaults = limits
        elif match := LOGIN_SECTION.match(name):
            logins[match.group(1).lower()] = limits
        else:
            raise QuotaConfigError(f"[{name}]: a section is [defaults] or [login NAME]")
    return Quotas(defaults, logins)


@dataclass(frozen=True)
class Decision:
    action: str  # the policy answer: DUNNO or a 4xx refusal
    log: str | None = None  # one line for the journal when the message was refused


class Ledger:
    """What each login sent when: (time, recipients) per accepted message, pruned to the longest window."""

    def __init__(self, quotas: Quotas, history: dict[str, list[list[float]]] | None = None):
        self.quotas = quotas
        self.history: dict[str, deque[tuple[float, int]]] = {}
        for login, events in (history or {}).items():
            self.history[login] = deque((float(when), int(count)) for when, count in events)
        self.lock = threading.Lock()
        self.changed = False

    def decide(self, request: dict[str, str], now: float) -> Decision:
        login = request.get("sasl_username", "").strip().lower()
        if request.get("request") != "smtpd_access_policy" or not login:
            return Decision("DUNNO")
        if request.get("protocol_state", "").upper() != "END-OF-MESSAGE":
            return Decision("DUNNO")
        try:
            recipients = max(int(request.get("recipient_count", "1")), 1)
        except ValueError:
            recipients = 1
        limits = self.quotas.for_login(login)
        if not limits:  # an override without limits: this login has no quota
            return Decision("DUNNO")
        with self.lock:
            events = self.history.setdefault(login, deque())
            horizon = max(limit.window for limit in limits)
            while events and events[0][0] <= now - horizon:
                events.popleft()
            for limit in limits:
                sent = [count for when, count in events if when > now - limit.window]
                if len(sent) + 1 > limit.messages or sum(sent) + recipients > limit.recipients:
                    kind = "messages" if len(sent) + 1 > limit.messages else "recipients"
                    allowed = limit.messages if kind == "messages" else limit.recipients
                    return Decision(
                        f"451 4.7.1 Outbound quota reached: at most {allowed} {kind} in {limit.window} seconds;"
                        " try again later",
                        f"refused: sasl_username={login} client={request.get('client_address', 'unknown')}"
                        f" queue_id={request.get('queue_id', '') or 'none'} limit={kind} {allowed}/{limit.window}s"
                        f" sent={len(sent)} messages, {sum(sent)} recipients; this message {recipients} recipients",
                    )
            events.append((now, recipients))
            self.changed = True
        return Decision("DUNNO")

    def forget(self, login: str) -> bool:
        with self.lock:
            self.changed = True
            return self.history.pop(login.lower(), None) is not None

    def snapshot(self, now: float) -> dict[str, list[list[float]]]:
        """The history within the longest window of each login, for the state file."""
        with self.lock:
            result = {}
            for login, events in self.history.items():
                horizon = max((limit.window for limit in self.quotas.for_login(login)), default=MAX_WINDOW)
                kept = [[when, count] for when, count in events if when > now - horizon]
                if kept:
                    result[login] = kept
            self.changed = False
            return result


def parse_request(lines: list[str]) -> dict[str, str]:
    """The name=value lines of one policy request (without the empty line that ends it)."""
    request = {}
    for line in lines:
        name, sep, value = line.partition("=")
        if sep:
            request[name] = value
    return request


def load_state(path: str) -> dict[str, list[list[float]]]:
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        log(f"state file {path} unreadable, starting with empty counters: {error}")
        return {}
    return state if isinstance(state, dict) else {}


def save_state(path: str, ledger: Ledger) -> None:
    """Write the counters whole (a new file, then rename), keeping the owner of the file it replaces: root clearing
    a login's counters (--forget) must leave a file the service can still read."""
    temporary = f"{path}.new"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(ledger.snapshot(time.time()), handle)
    try:
        owner = os.stat(path)
        if os.getuid() == 0:
            os.chown(temporary, owner.st_uid, owner.st_gid)
    except FileNotFoundError:
        pass
    os.replace(temporary, path)


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class PolicyHandler(socketserver.StreamRequestHandler):
    """One Postfix smtpd process: several requests on one connection, each ended by an empty line."""

    def handle(self) -> None:
        lines: list[str] = []
        while True:
            raw = self.rfile.readline(MAX_LINE + 1)
            if not raw or len(raw) > MAX_LINE:
                return
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if line:
                lines.append(line)
                continue
            decision = self.server.ledger.decide(parse_request(lines), time.time())
            if decision.log:
                log(decision.log)
            self.wfile.write(f"action={decision.action}\n\n".encode())
            self.wfile.flush()
            lines = []


class PolicyServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, ledger: Ledger):
        super().__init__("", PolicyHandler, bind_and_activate=False)
        self.socket = socket.socket(fileno=LISTEN_FD)
        self.ledger = ledger


def serve(config: str, state: str) -> int:
    if os.environ.get("LISTEN_FDS") != "1" or os.environ.get("LISTEN_PID") != str(os.getpid()):
        log("no listening socket from systemd: start mailfort-quota.socket, not this program")
        return 2
    with open(config, encoding="utf-8") as handle:
        ledger = Ledger(parse_config(handle.read()), load_state(state))
    server = PolicyServer(ledger)

    def reload(_signum, _frame) -> None:
        try:
            with open(config, encoding="utf-8") as handle:
                ledger.quotas = parse_config(handle.read())
            log(f"configuration {config} re-read")
        except (OSError, QuotaConfigError) as error:
            log(f"configuration {config} not re-read, keeping the old limits: {error}")
        save_state(state, ledger)

    def stop(_signum, _frame) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    def autosave() -> None:
        while True:
            time.sleep(60)
            if ledger.changed:
                save_state(state, ledger)

    signal.signal(signal.SIGHUP, reload)
    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=autosave, daemon=True).start()
    log(f"started: {len(ledger.quotas.defaults)} default limit(s), {len(ledger.quotas.logins)} login override(s)")
    server.serve_forever()
    save_state(state, ledger)
    log("stopped, counters saved")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mailfort-quota", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--config", required=True, help="the INI configuration")
    parser.add_argument("--state", default="/var/lib/mailfort-quota/state.json", help="where counters are saved")
    parser.add_argument("--check", action="store_true", help="check the configuration and exit")
    parser.add_argument("--forget", metavar="LOGIN", help="clear LOGIN's counters in the state file (service stopped)")
    options = parser.parse_args(argv)
    try:
        with open(options.config, encoding="utf-8") as handle:
            quotas = parse_config(handle.read())
    except (OSError, QuotaConfigError) as error:
        log(f"{options.config}: {error}")
        return 1
    if options.check:
        return 0
    if options.forget:
        ledger = Ledger(quotas, load_state(options.state))
        found = ledger.forget(options.forget)
        save_state(options.state, ledger)
        log(f"{options.forget}: {'counters cleared' if found else 'nothing counted'}")
        return 0
    return serve(options.config, options.state)


if __name__ == "__main__":
    sys.exit(main())
