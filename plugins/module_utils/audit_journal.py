# SPDX-License-Identifier: MIT
"""The journal's security events for mailfort.mail.mail_audit_facts: failed logins (Postfix's SASL, Dovecot's login
processes), refused relays and quotas, and fail2ban's bans and unbans, counted from journal lines (journalctl -o
short) by event and source.

Only counts and source addresses leave the host: never a log line, a user name or anything typed at a login. A failed
login is counted by its source and its service alone, since the user name it names may be a mistyped password or a
real user's address, which an audit report has no need to spread.

Standard library only, for the Python of Debian 12 and 13.
"""

from __future__ import annotations

import re
from collections import Counter

_IP = r"[0-9a-fA-F:.]+"
# Postfix's SASL, one line a failed AUTH: "postfix/submission/smtpd[812]: warning: unknown[192.0.2.7]: SASL PLAIN
# authentication failed: (reason unavailable), sasl_username=...". The syslog name says the master.cf service
# (postfix/submission on 587, postfix/submissions on 465, none on 25); a lost connection to Dovecot's auth server
# is no failed login.
SMTP_AUTH_FAILED = re.compile(
    rf"postfix/(?:(?P<service>[^/\s\[]+)/)?smtpd\[\d+\]: warning: [^\[\s]*\[(?P<source>{_IP})\]: "
    r"SASL [\w-]+ authentication failed(?!: Connection lost to authentication server)"
)
# Dovecot's auth process, one line a failed attempt of its own login processes (those carry a session id, so
# Postfix's SASL requests do not count twice): 2.3 "auth: passwd-file(user,192.0.2.7,<id>): Password mismatch",
# 2.4 "auth(user,192.0.2.7,sasl:plain)<id>: slot1: Password mismatch".
_DOVECOT_FAILURE = r"(?:[\w-]+: )?(?:unknown user|Password mismatch|(?:[Ii]nvalid|[Uu]nknown) credentials)"
DOVECOT_AUTH_FAILED = (
    re.compile(rf"auth: [\w-]+\([^,()]*,(?P<source>{_IP}),<(?P<session>[^>]+)>\): {_DOVECOT_FAILURE}"),
    re.compile(rf"auth\([^,()]*,(?P<source>{_IP}),[^()]*\)<(?P<session>[^>]+)>: {_DOVECOT_FAILURE}"),
)
# The login process's line of the same session names the protocol: "imap-login: Disconnected (auth failed, 1
# attempts in 2 secs): user=<...>, method=PLAIN, rip=192.0.2.7, lip=..., TLS, session=<id>" (2.3), "pop3-login:
# Login aborted: Connection closed (auth failed, 1 attempts in 2 secs) (auth_failed): ..., session=<id>" (2.4).
DOVECOT_SESSION = re.compile(r"\b(?P<protocol>[a-z0-9]+)-login: .*\bsession=<(?P<session>[^>]+)>")
JOURNAL_EVENTS = {
    "relay_refused": re.compile(
        rf"NOQUEUE: reject: RCPT from [^\[\s]*\[(?P<source>{_IP})\]: \d{{3}} [\d.]+ .*Relay access denied"
    ),
    "quota_refused": re.compile(
        rf"reject: END-OF-MESSAGE from [^\[\s]*\[(?P<source>{_IP})\]: 451 4\.7\.1 ", re.IGNORECASE
    ),
}
# fail2ban's own notices, as it writes them to the journal: "[sshd] Ban 192.0.2.7", "[sshd] Unban 192.0.2.7";
# "Restore Ban" after a restart is no new ban, "Increase Ban" only says how long the ban it goes with lasts.
FAIL2BAN_ACTION = re.compile(rf"fail2ban.*\[(?P<jail>[^\]\s]+)\]\s+(?P<action>Ban|Unban)\s+(?P<source>{_IP})")
# Events always reported, with their breakdown by service (failed logins) or jail (bans) where there is one.
JOURNAL_TOTALS = ("failed_login", "relay_refused", "quota_refused", "fail2ban_ban", "fail2ban_unban")
JOURNAL_TOP_SOURCES = 10


def count_journal(text: str) -> dict:
    """The security events of journal lines (journalctl -o short): event -> count and the most frequent sources.
    Failed logins are broken down as failed_login:<service> (smtp/submission, imap, pop3; dovecot where the session's
    login line is not in the window), bans and unbans as fail2ban_ban:<jail>; the totals are always there."""
    lines = text.splitlines()
    protocols = {match["session"]: match["protocol"] for line in lines if (match := DOVECOT_SESSION.search(line))}
    counts: dict[str, Counter] = {event: Counter() for event in JOURNAL_TOTALS}

    def seen(event: str, source: str, detail: str = "") -> None:
        counts[event][source] += 1
        if detail:
            counts.setdefault(f"{event}:{detail}", Counter())[source] += 1

    for line in lines:
        if match := SMTP_AUTH_FAILED.search(line):
            seen("failed_login", match["source"], f"smtp/{match['service']}" if match["service"] else "smtp")
        elif match := next((m for pattern in DOVECOT_AUTH_FAILED if (m := pattern.search(line))), None):
            seen("failed_login", match["source"], protocols.get(match["session"], "dovecot"))
        elif match := FAIL2BAN_ACTION.search(line):
            seen(f"fail2ban_{match['action'].lower()}", match["source"], match["jail"])
        else:
            for event, pattern in JOURNAL_EVENTS.items():
                if match := pattern.search(line):
                    seen(event, match["source"])
    order = {event: index for index, event in enumerate(JOURNAL_TOTALS)}
    return {
        event: {"count": sum(counts[event].values()), "sources": dict(counts[event].most_common(JOURNAL_TOP_SOURCES))}
        for event in sorted(counts, key=lambda name: (order[name.partition(":")[0]], name))
    }
