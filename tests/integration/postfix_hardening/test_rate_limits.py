# SPDX-License-Identifier: MIT
"""Anvil's rate limits per client address and service: the outsider's flood of connections on 25 and of AUTH
commands on 587 is cut off, while the client, listed in postfix_hardening_rate_limit_exceptions, is not.

Anvil counts per 60 s, so a second run within the minute finds the outsider limited from the start: the tests
assert that the limit is reached within its number of attempts and holds from there on, not at which attempt.
The client's tests are unaffected by the outsider (another address), and the two floods by each other (another
service each).

Readonly in the lab's sense: only the outsider is limited afterwards, for at most a minute, and only these tests use
it; fail2ban ignores it, so that its flood bans nothing. Its flood stays below the firewall's per-source meter
(mail_firewall_rate_limit_burst), which would otherwise drop connections before Postfix counts them; the client is
exempt from the meter too. Each host has its own anvil and meter: the two hosts' floods run side by side.
"""

from __future__ import annotations

import re

import pytest
from lab import BOB, BOB_MAIN
from postfix_facts import (
    AUTH_RATE_LIMIT,
    CONNECTION_RATE_LIMIT,
    FIREWALL_METER_BURST,
    SMTP_PORT,
    SUBMISSION_PORT,
    session,
    show,
    smtp,
)
from probes import PREAMBLE, address, host_name, run_probe

pytestmark = pytest.mark.readonly

# Opens spec["count"] connections one after the other; from each, the last line of the first reply (the greeting,
# or the refusal that takes its place), then QUIT. The last line: on port 25 postscreen may first send "220-" and
# wait postscreen_greet_wait (6 s) for a client that talks too early, and a QUIT sent then would fail its test.
CONNECTION_FLOOD_PROBE = (
    PREAMBLE
    + """
first_lines = []
for _ in range(spec["count"]):
    try:
        with socket.create_connection((spec["name"], spec["port"]), timeout=15) as sock:
            reader = sock.makefile("rb")
            line = reader.readline().decode(errors="replace").rstrip()
            while line[3:4] == "-":
                line = reader.readline().decode(errors="replace").rstrip()
            first_lines.append(line)
            sock.sendall(b"QUIT\\r\\n")
    except OSError as error:
        first_lines.append(f"error: {error!r}")
print(json.dumps(first_lines))
"""
)
FLOOD = 2 * CONNECTION_RATE_LIMIT  # connections per flood
AUTH_FLOOD = AUTH_RATE_LIMIT + 2  # AUTH commands per flood


def _too_many_connections(peer: str) -> re.Pattern:
    return re.compile(rf"^421 4\.7\.0 \S+ Error: too many connections from {re.escape(peer)}$")


def _too_many_auth(peer: str) -> re.Pattern:
    return re.compile(rf"^4\.7\.1 Error: too many AUTH commands from {re.escape(peer)}$")


def _connection_flood(prober, host) -> list[str]:
    return run_probe(prober, CONNECTION_FLOOD_PROBE, host, port=SMTP_PORT, count=FLOOD)


def _auth_flood(prober, host) -> dict:
    """One session on 587: AUTH with bob's password, then AUTH again and again (answered "already authenticated"
    while the rate allows, which saves Dovecot the work); each AUTH command counts."""
    steps = [["auth", BOB, BOB_MAIN]] * AUTH_FLOOD
    return smtp(prober, host, session(SUBMISSION_PORT, "starttls", ["ehlo"], *steps))[0]


def _first_match(pattern: re.Pattern, answers: list[str]) -> int | None:
    return next((index for index, answer in enumerate(answers) if pattern.match(answer)), None)


def test_connection_flood_from_an_address_not_exempt_is_cut_off(host, outsider):
    # Both floods' connections (and the AUTH flood's one) must reach Postfix, not the firewall's meter.
    assert FLOOD + 1 < FIREWALL_METER_BURST, f"{FLOOD + 1} connections would cross the firewall's meter"
    answers = _connection_flood(outsider, host)
    refusal = _too_many_connections(address(outsider))
    first = _first_match(refusal, answers)
    assert first is not None, f"{host_name(host)}: {FLOOD} connections in a row, none refused:\n" + "\n".join(answers)
    assert first <= CONNECTION_RATE_LIMIT, f"{host_name(host)}: refused only from connection {first + 1}: {answers}"
    assert all(refusal.match(answer) for answer in answers[first:]), (
        f"{host_name(host)}: the limit did not hold:\n" + "\n".join(answers)
    )


def test_connection_flood_from_an_exempt_client_is_not_limited(host, client):
    answers = _connection_flood(client, host)
    greeted = [answer for answer in answers if answer.startswith("220 ")]
    assert len(greeted) == FLOOD, f"{host_name(host)}: the exempt client was refused:\n" + "\n".join(answers)


def test_auth_flood_from_an_address_not_exempt_is_cut_off(host, outsider):
    result = _auth_flood(outsider, host)
    refusal = _too_many_auth(address(outsider))
    limited = [s["code"] == 450 and bool(refusal.match(s["text"])) for s in result["steps"][1:]]
    assert len(limited) == AUTH_FLOOD, f"{host_name(host)}: the session broke:\n{show(result)}"
    assert True in limited, f"{host_name(host)}: {AUTH_FLOOD} AUTH commands, none refused:\n{show(result)}"
    first = limited.index(True)
    assert first <= AUTH_RATE_LIMIT, f"{host_name(host)}: refused only from AUTH {first + 1}:\n{show(result)}"
    assert all(limited[first:]), f"{host_name(host)}: the limit did not hold:\n{show(result)}"


def test_auth_flood_from_an_exempt_client_is_not_limited(host, client):
    result = _auth_flood(client, host)
    steps = result["steps"][1:]
    assert len(steps) == AUTH_FLOOD, f"{host_name(host)}: the session broke:\n{show(result)}"
    assert steps[0]["code"] == 235, f"{host_name(host)}: bob could not log in:\n{show(result)}"
    # Every later AUTH is answered as one in an authenticated session is, never with the rate limit.
    assert all(s["code"] == 503 and "already authenticated" in s["text"] for s in steps[1:]), show(result)
