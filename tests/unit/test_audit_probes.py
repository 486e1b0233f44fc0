# SPDX-License-Identifier: MIT
"""The audit's network probes (plugins/plugin_utils/audit_probes.py) against real servers on loopback: SMTP, IMAP
and POP3 responders that speak just enough of their protocol, with TLS from a CA made here. The version scan finds
what a port accepts in as few connections as the module promises, a session checks the chain and the name and
still reads its facts when they fail, a cleartext POP3 port is judged on what it offers before STLS, and no run
opens a connection beyond the audit's budget."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import warnings
from collections.abc import Callable, Iterator

import pytest
from ansible_collections.mailfort.mail.plugins.action.mail_audit import ActionModule
from ansible_collections.mailfort.mail.plugins.plugin_utils import audit, audit_probes
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NAME = "mx.example.test"
LOOPBACK = "127.0.0.1"
ALL = list(audit_probes.VERSIONS)
MODERN = ["TLSv1.2", "TLSv1.3"]

needs_old_versions = pytest.mark.skipif(
    audit_probes.offerable_versions() != ALL, reason="this OpenSSL cannot offer TLS 1.0 and 1.1"
)


def _certificate(subject: str, issuer: x509.Name | None, key, signer, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict:
    """A CA, another CA, and the server's key and certificate for NAME from the first, as files."""
    ca_key, other_key, key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("audit test CA", None, ca_key, ca_key, ca=True)
    other = _certificate("another CA", None, other_key, other_key, ca=True)
    leaf = _certificate(NAME, ca.subject, key, ca_key, ca=False)
    directory = tmp_path_factory.mktemp("probes-pki")
    (directory / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (directory / "chain.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return {
        "ca": ca.public_bytes(serialization.Encoding.PEM).decode(),
        "other_ca": other.public_bytes(serialization.Encoding.PEM).decode(),
        "dir": directory,
    }


def _context(pki: dict, versions: list[str]) -> ssl.SSLContext:
    """The server's TLS: VERSIONS (a run of them) and every suite, so that the old versions can be taken."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["dir"] / "chain.pem", pki["dir"] / "key.pem")
    context.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = audit_probes.VERSIONS[versions[0]]
        context.maximum_version = audit_probes.VERSIONS[versions[-1]]
    return context


class _Server:
    """A listener on loopback that hands each connection to SERVE in a thread of its own, and counts them."""

    def __init__(self, serve: Callable[[socket.socket], None]):
        self._serve = serve
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port = self._listener.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        connection.settimeout(5)
        try:
            self._serve(connection)
        except (OSError, ValueError):
            pass  # a handshake the server refused, a client gone
        finally:
            connection.close()

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[socket.socket], None]], _Server]]:
    servers: list[_Server] = []

    def start(handler: Callable[[socket.socket], None]) -> _Server:
        servers.append(_Server(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def smtp_server(context: ssl.SSLContext, *, implicit: bool = False) -> Callable[[socket.socket], None]:
    """SMTP: STARTTLS offered in clear, AUTH only inside TLS, every relay refused."""

    def serve(connection: socket.socket) -> None:
        sock = context.wrap_socket(connection, server_side=True) if implicit else connection
        tls, reader = implicit, sock.makefile("rb")
        sock.sendall(b"220 mx.example.test ESMTP\r\n")
        while line := reader.readline():
            verb = (line.split() or [b""])[0].upper()
            if verb == b"EHLO":
                sock.sendall(b"250-mx.example.test\r\n" + (b"250 AUTH PLAIN LOGIN\r\n" if tls else b"250 STARTTLS\r\n"))
            elif verb == b"STARTTLS" and not tls:
                sock.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                sock, tls = context.wrap_socket(connection, server_side=True), True
                reader = sock.makefile("rb")
            elif verb in (b"MAIL", b"RSET"):
                sock.sendall(b"250 2.0.0 Ok\r\n")
            elif verb == b"RCPT":
                sock.sendall(b"554 5.7.1 <audit@example.com>: Relay access denied\r\n")
            elif verb == b"QUIT":
                sock.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                sock.sendall(b"502 5.5.2 Error: command not recognized\r\n")

    return serve


def imap_server(context: ssl.SSLContext, *, implicit: bool = False) -> Callable[[socket.socket], None]:
    """IMAP: STARTTLS and LOGINDISABLED in clear, AUTH=PLAIN inside TLS."""

    def serve(connection: socket.socket) -> None:
        sock = context.wrap_socket(connection, server_side=True) if implicit else connection
        tls, reader = implicit, sock.makefile("rb")
        sock.sendall(b"* OK ready\r\n")
        while line := reader.readline():
            tag, _, rest = line.decode().strip().partition(" ")
            command = rest.split(" ")[0].upper()
            if command == "CAPABILITY":
                capabilities = "IMAP4rev1 AUTH=PLAIN" if tls else "IMAP4rev1 STARTTLS LOGINDISABLED"
                sock.sendall(f"* CAPABILITY {capabilities}\r\n{tag} OK done\r\n".encode())
            elif command == "STARTTLS" and not tls:
                sock.sendall(f"{tag} OK begin TLS now\r\n".encode())
                sock, tls = context.wrap_socket(connection, server_side=True), True
                reader = sock.makefile("rb")
            elif command == "LOGOUT":
                sock.sendall(f"* BYE logging out\r\n{tag} OK done\r\n".encode())
                return
            else:
                sock.sendall(f"{tag} BAD unknown\r\n".encode())

    return serve


def pop3_server(
    context: ssl.SSLContext | None = None, capabilities: list[str] | None = None
) -> Callable[[socket.socket], None]:
    """POP3, with implicit TLS when CONTEXT is given; CAPA answers CAPABILITIES, or -ERR when they are None."""

    def serve(connection: socket.socket) -> None:
        sock = context.wrap_socket(connection, server_side=True) if context else connection
        reader = sock.makefile("rb")
        sock.sendall(b"+OK Dovecot ready.\r\n")
        while line := reader.readline():
            command = line.strip().upper()
            if command == b"CAPA" and capabilities is not None:
                sock.sendall(b"+OK\r\n" + b"".join(f"{c}\r\n".encode() for c in capabilities) + b".\r\n")
            elif command == b"QUIT":
                sock.sendall(b"+OK Logging out.\r\n")
                return
            else:
                sock.sendall(b"-ERR Unknown command.\r\n")

    return serve


def _model(accepted: set[str], questions: list[tuple[str, str]]) -> Callable[[str, str], str | None]:
    """A server that accepts ACCEPTED and answers each question as TLS does: the newest version it takes in range."""

    def ask(lowest: str, highest: str) -> str | None:
        questions.append((lowest, highest))
        taken = [v for v in ALL[ALL.index(lowest) : ALL.index(highest) + 1] if v in accepted]
        return taken[-1] if taken else None

    return ask


@pytest.mark.parametrize(
    ("accepted", "first", "asked"),
    [
        # The profile's versions: 1.3 from the session, 1.2, then 1.0-1.1 refused in one question.
        ({"TLSv1.2", "TLSv1.3"}, "TLSv1.3", [("TLSv1", "TLSv1.2"), ("TLSv1", "TLSv1.1")]),
        ({"TLSv1.2", "TLSv1.3"}, None, [("TLSv1", "TLSv1.3"), ("TLSv1", "TLSv1.2"), ("TLSv1", "TLSv1.1")]),
        ({"TLSv1.3"}, "TLSv1.3", [("TLSv1", "TLSv1.2")]),
        # interop on 25: every version, one question each, none for a refusal below the oldest.
        (set(ALL), "TLSv1.3", [("TLSv1", "TLSv1.2"), ("TLSv1", "TLSv1.1"), ("TLSv1", "TLSv1")]),
        # A server that takes 1.2 at most: the session's 1.2 says 1.3 is refused.
        ({"TLSv1.2"}, "TLSv1.2", [("TLSv1", "TLSv1.1")]),
        # A hole (smtpd_tls_protocols = !TLSv1.2): the answer 1.1 to the range up to 1.2 says 1.2 is refused.
        ({"TLSv1", "TLSv1.1", "TLSv1.3"}, "TLSv1.3", [("TLSv1", "TLSv1.2"), ("TLSv1", "TLSv1")]),
        (set(), None, [("TLSv1", "TLSv1.3")]),
    ],
)
def test_the_version_scan_asks_ranges_newest_first_and_finds_what_the_server_takes(accepted, first, asked):
    questions: list[tuple[str, str]] = []
    found = audit_probes.scan_versions(_model(accepted, questions), ALL, first)
    assert found == {"accepted": [v for v in ALL if v in accepted], "refused": [v for v in ALL if v not in accepted]}
    assert questions == asked


def test_a_first_answer_outside_the_versions_offered_is_not_taken_for_one():
    questions: list[tuple[str, str]] = []
    found = audit_probes.scan_versions(_model({"TLSv1.3"}, questions), MODERN, "TLSv1.1")
    assert found == {"accepted": ["TLSv1.3"], "refused": ["TLSv1.2"]}
    assert questions == [("TLSv1.2", "TLSv1.3"), ("TLSv1.2", "TLSv1.2")]


def test_a_scan_the_budget_stops_says_what_it_did_not_ask():
    questions: list[tuple[str, str]] = []
    model = _model(set(ALL), questions)

    def ask(lowest: str, highest: str) -> str | None:
        if len(questions) == 1:
            raise audit_probes.BudgetSpentError("the audit's budget of 2 connections to port 25 is spent")
        return model(lowest, highest)

    found = audit_probes.scan_versions(ask, ALL, "TLSv1.3")
    assert found == {
        "accepted": ["TLSv1.2", "TLSv1.3"],
        "refused": [],
        "unasked": ["TLSv1", "TLSv1.1"],
        "cut": "the audit's budget of 2 connections to port 25 is spent",
    }


def test_the_versions_this_controller_can_offer_are_a_run_ending_with_the_newest():
    offered = audit_probes.offerable_versions()
    assert offered
    assert offered == ALL[ALL.index(offered[0]) : ALL.index(offered[-1]) + 1]
    assert offered[-1] in ("TLSv1.2", "TLSv1.3")


@needs_old_versions
@pytest.mark.parametrize(
    ("versions", "first", "connections"),
    [(MODERN, None, 3), (MODERN, "TLSv1.3", 2), (ALL, None, 4), (ALL, "TLSv1.3", 3), (["TLSv1.3"], "TLSv1.3", 1)],
)
def test_a_version_scan_of_an_implicit_tls_port_over_the_network(pki, serve, versions, first, connections):
    server = serve(pop3_server(_context(pki, versions)))
    net = audit_probes.Connections()
    found = audit_probes.probe_tls_versions(LOOPBACK, NAME, server.port, "", net=net, first=first)
    assert found == {
        "accepted": versions,
        "refused": [v for v in ALL if v not in versions],
        "untested": [],
    }
    assert net.opened == {server.port: connections}
    assert server.accepted == connections


@needs_old_versions
def test_a_version_scan_through_starttls_on_smtp_and_imap(pki, serve):
    smtp = serve(smtp_server(_context(pki, ALL)))
    imap = serve(imap_server(_context(pki, MODERN)))
    net = audit_probes.Connections()
    assert audit_probes.run_probe(f"tls:smtp:{smtp.port}", LOOPBACK, NAME, None, net=net)["accepted"] == ALL
    assert audit_probes.run_probe(f"tls:imap:{imap.port}", LOOPBACK, NAME, None, net=net)["refused"] == [
        "TLSv1",
        "TLSv1.1",
    ]
    assert net.opened == {smtp.port: 4, imap.port: 3}


def test_a_port_that_refuses_the_connection_is_an_error_not_a_refusal_of_every_version():
    with socket.create_server((LOOPBACK, 0)) as placeholder:
        port = placeholder.getsockname()[1]
    found = audit_probes.run_probe(f"tls:{port}", LOOPBACK, NAME, None)
    assert set(found) == {"error"}
    assert found["error"].startswith("cannot connect")


@needs_old_versions
def test_an_smtp_port_is_probed_in_four_connections_the_session_starting_the_scan(pki, serve):
    server = serve(smtp_server(_context(pki, MODERN)))
    port = server.port
    net = audit_probes.Connections()
    found = audit_probes.run_probes(
        [f"tls:smtp:{port}", f"relay:{port}", f"smtp:{port}"], LOOPBACK, NAME, pki["ca"], net=net
    )
    assert list(found) == [f"smtp:{port}", f"relay:{port}", f"tls:smtp:{port}"]
    session = found[f"smtp:{port}"]
    assert (session["starttls"], session["auth_before_tls"], session["auth_after_tls"]) == (
        True,
        [],
        ["PLAIN", "LOGIN"],
    )
    assert (session["verified"], session["verify_error"], session["tls_version"]) == (True, "", "TLSv1.3")
    assert len(session["spki_sha256"]) == 64
    assert found[f"relay:{port}"]["relay_refused"] is True
    assert found[f"tls:smtp:{port}"] == {"accepted": MODERN, "refused": ["TLSv1", "TLSv1.1"], "untested": []}
    # The session, the relay, then 1.2 and 1.0-1.1: the session's 1.3 is the scan's first answer.
    assert net.opened == {port: 4}
    assert server.accepted == 4


def test_imap_before_starttls_and_after_it(pki, serve):
    server = serve(imap_server(_context(pki, MODERN)))
    net = audit_probes.Connections()
    found = audit_probes.run_probe(f"imap:{server.port}", LOOPBACK, NAME, pki["ca"], net=net)
    assert (found["starttls"], found["login_disabled"], found["verified"]) == (True, True, True)
    assert found["capabilities"] == ["IMAP4rev1", "AUTH=PLAIN"]
    assert net.opened == {server.port: 1}


def test_imaps_and_pop3s_read_the_capabilities_inside_tls(pki, serve):
    imaps = serve(imap_server(_context(pki, MODERN), implicit=True))
    pop3s = serve(pop3_server(_context(pki, MODERN), ["TOP", "USER", "SASL PLAIN LOGIN"]))
    found = audit_probes.run_probes([f"imaps:{imaps.port}", f"pop3s:{pop3s.port}"], LOOPBACK, NAME, pki["ca"])
    assert found[f"imaps:{imaps.port}"]["capabilities"] == ["IMAP4rev1", "AUTH=PLAIN"]
    pop3 = found[f"pop3s:{pop3s.port}"]
    assert pop3["capabilities"] == ["SASL PLAIN LOGIN", "TOP", "USER"]
    assert (pop3["verified"], pop3["tls_version"]) == (True, "TLSv1.3")


@pytest.mark.parametrize(
    ("kind", "client", "error"),
    [
        ("pop3s", ("other_ca", NAME), "unable to get local issuer certificate"),
        ("pop3s", ("ca", "other.example.test"), "Hostname mismatch"),
        ("smtps", ("other_ca", NAME), "unable to get local issuer certificate"),
        ("smtp", ("ca", "other.example.test"), "Hostname mismatch"),
        ("imap", ("other_ca", NAME), "unable to get local issuer certificate"),
    ],
)
def test_a_chain_that_does_not_verify_is_said_and_the_facts_are_read_all_the_same(pki, serve, kind, client, error):
    """CLIENT: the CA the client trusts and the name it checks."""
    context = _context(pki, MODERN)
    server = serve(
        {
            "pop3s": pop3_server(context, ["USER"]),
            "smtps": smtp_server(context, implicit=True),
            "smtp": smtp_server(context),
            "imap": imap_server(context),
        }[kind]
    )
    net = audit_probes.Connections()
    ca, name = client
    found = audit_probes.run_probe(f"{kind}:{server.port}", LOOPBACK, name, pki[ca], net=net)
    assert found["verified"] is False
    assert error in found["verify_error"]
    assert found["tls_version"] == "TLSv1.3"
    # The verifying connection, then one that verifies nothing, to read the facts.
    assert net.opened == {server.port: 2}


@pytest.mark.parametrize(
    ("capabilities", "login", "stls"),
    [
        (["TOP", "UIDL", "STLS", "SASL"], [], True),  # Dovecot with auth_allow_cleartext = no
        (["TOP", "USER", "STLS", "SASL PLAIN LOGIN"], ["USER", "SASL PLAIN", "SASL LOGIN"], True),
        (["SASL CRAM-MD5 plain"], ["SASL PLAIN"], False),
    ],
)
def test_a_cleartext_pop3_port_is_judged_on_the_logins_it_offers_before_stls(serve, capabilities, login, stls):
    server = serve(pop3_server(None, capabilities))
    found = audit_probes.run_probe(f"pop3:{server.port}", LOOPBACK, NAME, None)
    assert (found["open"], found["cleartext_login"], found["stls"]) == (True, login, stls)


def test_a_cleartext_pop3_server_without_capa_is_taken_to_accept_user(serve):
    server = serve(pop3_server(None, None))
    found = audit_probes.run_probe(f"pop3:{server.port}", LOOPBACK, NAME, None)
    assert (found["open"], found["cleartext_login"]) == (True, ["USER"])


def test_something_other_than_pop3_on_the_cleartext_port_offers_no_login(serve):
    server = serve(lambda connection: connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n"))
    found = audit_probes.run_probe(f"pop3:{server.port}", LOOPBACK, NAME, None)
    assert (found["open"], found["cleartext_login"]) == (True, [])
    assert found["answer"].startswith("no POP3 greeting")


class _Dropping(audit_probes.Connections):
    """Connections to the ports DROPPED time out, as through a firewall that drops them; the rest are not opened."""

    def __init__(self, dropped: set[int]):
        super().__init__()
        self.dropped = dropped
        self.tried: list[int] = []

    def open(self, address: str, port: int, timeout: float = audit_probes.TIMEOUT) -> socket.socket:
        self.tried.append(port)
        if port in self.dropped:
            raise TimeoutError("timed out")
        raise ConnectionRefusedError(111, "Connection refused")


def test_a_closed_cleartext_pop3_port_offers_nothing_whether_refused_or_dropped():
    refused = audit_probes.run_probe("pop3:110", LOOPBACK, NAME, None, net=_Dropping(set()))
    dropped = audit_probes.run_probe("pop3:110", LOOPBACK, NAME, None, net=_Dropping({110}))
    assert refused == {"open": False, "answer": "connection refused", "cleartext_login": []}
    assert dropped == {"open": False, "answer": "no answer within 3 s (dropped)", "cleartext_login": []}
    verdict = audit.evaluate_check(
        {"probe": "pop3:110", "field": "cleartext_login", "equals": []}, {"probes": {"pop3:110": dropped}}
    )
    assert verdict["passed"] is True


def test_a_probe_that_times_out_stops_the_rest_but_a_dropped_closed_port_does_not():
    net = _Dropping({110, 993})
    found = audit_probes.run_probes(
        ["tls:993", "pop3:110", "imaps:993", "smtps:465"], "192.0.2.25", NAME, None, net=net, auditor="192.0.2.1"
    )
    assert net.tried == [993]  # the sessions first, in name order; imaps:993 times out
    assert found["imaps:993"]["error"] == "TimeoutError: timed out"
    for probe in ("smtps:465", "pop3:110", "tls:993"):
        assert found[probe] == {"error": "not probed: imaps:993 timed out, the host drops this auditor (192.0.2.1)"}
    net = _Dropping({110})
    found = audit_probes.run_probes(["pop3:110", "smtps:465"], "192.0.2.25", NAME, None, net=net)
    assert net.tried == [465, 110]
    assert found["pop3:110"]["open"] is False


@needs_old_versions
@pytest.mark.parametrize(("host_budget", "port_budget"), [(3, 6), (30, 3)])
def test_no_connection_is_opened_beyond_the_budget_and_a_cut_scan_is_not_judged(pki, serve, host_budget, port_budget):
    server = serve(pop3_server(_context(pki, ALL), ["USER"]))
    port = server.port
    net = audit_probes.Connections(host_budget=host_budget, port_budget=port_budget)
    found = audit_probes.run_probes([f"tls:{port}", f"pop3s:{port}"], LOOPBACK, NAME, pki["ca"], net=net)
    assert found[f"pop3s:{port}"]["verified"] is True
    scan = found[f"tls:{port}"]
    # The session (1.3), 1.2, 1.1: the budget leaves TLS 1.0 unasked.
    assert (scan["accepted"], scan["unasked"]) == (["TLSv1.1", "TLSv1.2", "TLSv1.3"], ["TLSv1"])
    assert scan["skipped"].startswith("not scanned to the end, the audit's budget of 3 connections to ")
    assert net.total() == server.accepted == 3
    verdict = audit.evaluate_check(
        {"probe": f"tls:{port}", "field": "accepted", "subset_of": MODERN}, {"probes": {f"tls:{port}": scan}}
    )
    assert verdict["passed"] is None
    assert audit_probes.run_probe(f"pop3s:{port}", LOOPBACK, NAME, pki["ca"], net=net) == {
        "skipped": f"not probed: {scan['cut']}"
    }
    assert server.accepted == 3


def test_the_action_skips_the_relay_for_an_auditor_fail2ban_may_ban_and_counts_nothing_without_an_address():
    names = ["relay:25"]
    found, connections = ActionModule._probes(names, "192.0.2.25", NAME, "", relay_safe=False, auditor="192.0.2.1")
    assert found["relay:25"]["skipped"].startswith("not probed: the auditor's address 192.0.2.1 is not in")
    assert connections == {}
    found, connections = ActionModule._probes(names, "", NAME, "", relay_safe=True, auditor="")
    assert found == {"relay:25": {"error": "no address to probe (mail_audit_address)"}}
    assert connections == {}
