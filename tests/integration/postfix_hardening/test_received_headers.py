# SPDX-License-Identifier: MIT
"""postfix_hardening_submission_hide_client: where it is on (MX2), mail submitted on 587 and 465 arrives without
the sending client's address or name in its Received headers; where it is off (MX1, the default), Postfix's
Received header names the client as usual. Both with OpenDKIM signing the submitted mail on its way through."""

from __future__ import annotations

import pytest
from lab import ALICE, BOB, BOB_MAIN
from postfix_facts import (
    ALICE_LAPTOP,
    CLIENT_HELO,
    HIDES_CLIENT,
    SUBMISSION_PORT,
    SUBMISSIONS_PORT,
    answered,
    mailbox,
    message,
    session,
    show,
    smtp,
    step,
    token,
)
from probes import address, host_name

pytestmark = pytest.mark.readonly

PORTS = {SUBMISSION_PORT: "starttls", SUBMISSIONS_PORT: "implicit"}


@pytest.fixture(scope="module")
def received_headers(host, client):
    """For each submission port, the Received headers of a message alice sent to bob, as bob reads it."""
    subjects = {port: f"received headers via {port} {token()}" for port in PORTS}
    results = smtp(
        client,
        host,
        *(
            session(
                port,
                tls,
                ["ehlo"],
                ["auth", ALICE, ALICE_LAPTOP],
                ["cmd", f"MAIL FROM:<{ALICE}>"],
                ["cmd", f"RCPT TO:<{BOB}>"],
                ["data", message(ALICE, BOB, subjects[port])],
            )
            for port, tls in PORTS.items()
        ),
    )
    headers = {}
    for port, result in zip(PORTS, results, strict=True):
        assert answered(step(result, 4), 250, "2.0.0"), f"{host_name(host)}:\n{show(result)}"
        delivered = mailbox(client, host, BOB, BOB_MAIN, subjects[port].split()[-1])
        assert len(delivered) == 1, f"{host_name(host)} {port}: {delivered}"
        headers[port] = delivered[0]["received"]
    return headers


@pytest.mark.parametrize("port", PORTS)
def test_received_headers_name_the_client_only_where_it_is_not_hidden(host, client, received_headers, port):
    received = received_headers[port]
    assert received, f"{host_name(host)} {port}: no Received header at all"
    naming = [r for r in received if address(client) in r or CLIENT_HELO in r]
    if HIDES_CLIENT[host_name(host)]:
        assert not naming, f"{host_name(host)} {port}: the client is in {naming}"
    else:
        assert naming, f"{host_name(host)} {port}: Postfix's Received header is missing: {received}"
