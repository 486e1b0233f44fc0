# SPDX-License-Identifier: MIT
"""The audit's evidence from the network: what an outside client sees of a mail host's ports, from the controller.

Each probe says EHLO, CAPABILITY or CAPA and quits without sending mail or a password: an audit must never trip the
host's meters or fail2ban. Every connection is counted (Connections) and none is opened beyond the budget: at most
HOST_BUDGET (30, the firewall's default burst, mail_firewall_rate_limit_burst) to one host and PORT_BUDGET (6) to
one port, a tenth of Postfix's default per-client rate (postfix_hardening_connection_rate_limit: 60 a minute and
service) and under the lab's 15. A host as the roles make it costs far fewer (README: "Auditing a host").

A probe is named `kind:port`:
  smtp:25, smtp:587  EHLO in clear, STARTTLS, EHLO again: starttls, auth_before_tls, auth_after_tls, and the TLS
                     facts (tls_version, cipher, spki_sha256, verified, verify_error)
  smtps:465          implicit TLS, then EHLO: auth_after_tls and the TLS facts
  relay:25           EHLO, STARTTLS, MAIL FROM the null sender, RCPT TO a domain no host is responsible for (RFC
                     2606): relay_refused, reply; RSET before anything is sent
  imap:143           CAPABILITY in clear (starttls, login_disabled), STARTTLS, CAPABILITY and the TLS facts
  imaps:993          implicit TLS, CAPABILITY: the capabilities and the TLS facts
  pop3s:995          implicit TLS, the greeting, CAPA: the capabilities and the TLS facts
  pop3:110           a cleartext POP3 port, which must be closed: open, answer and, where it is open, what it offers
                     before STLS (capabilities, stls) and cleartext_login, the ways to log in without TLS it offers
                     (USER, SASL PLAIN, SASL LOGIN; [] when closed). No answer within CLOSED_TIMEOUT counts as closed:
                     a firewall drops what it does not let in.
  tls:PORT, tls:smtp:PORT, tls:imap:PORT  the TLS versions the port accepts: accepted, refused, and untested (those
                     this controller's OpenSSL cannot offer)

A session (smtp, smtps, imap, imaps, pop3s) verifies the chain against the trust anchor and the name; when that
fails it says why and reads its facts over a second connection that verifies nothing.

A version scan asks for a range of versions per connection, newest first. The server answers with the newest version
it accepts in the range, so an answer marks that version accepted and those above it refused, and a refusal marks the
whole range refused. The version that the session of the same port negotiated (its client offers TLS 1.2 and newer)
is the scan's first answer: a port that accepts TLS 1.2 and 1.3 costs its session and two connections more (1.2,
then 1.0-1.1 refused), one that accepts every version its session and three more. Sessions run first and the scans
last, so that the budget can only ever cut a scan short; a scan cut short is skipped, not judged.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import poplib
import re
import smtplib
import socket
import ssl
import warnings
from collections.abc import Callable, Iterable
from typing import Any

TIMEOUT = 10
# How long a port that must be closed may take to answer: a firewall drops what it does not let in, and waiting the
# whole TIMEOUT for that would only slow the audit down.
CLOSED_TIMEOUT = 3
# The connections one audit may open to one host and to one of its ports (module docstring).
HOST_BUDGET = 30
PORT_BUDGET = 6
# The names of RFC 2606: no host is responsible for them, so a relay test never sends mail anywhere.
RELAY_TO = "audit@example.com"
# What the audit says in EHLO: a name that is no host (RFC 6761 .invalid), so no log reader takes it for one.
EHLO_NAME = "audit.mailfort.invalid"
# Oldest first.
VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
# The probes that hold a session and read the TLS facts; the version each negotiates starts the scan of its port.
SESSIONS = ("smtp", "smtps", "imap", "imaps", "pop3s")
# The order a run takes: sessions, then the probes of one connection, then the version scans.
ORDER = {**dict.fromkeys(SESSIONS, 0), "relay": 1, "pop3": 1, "tls": 2}
# The POP3 SASL mechanisms that carry the password in clear.
CLEARTEXT_SASL = ("PLAIN", "LOGIN")


class BudgetSpentError(Exception):
    """A connection the audit's budget does not allow (Connections)."""


class Connections:
    """The connections the probes of one host open, counted per port and refused beyond the budget. An attempt
    counts, answered or not: the host's meters count every new connection."""

    def __init__(self, host_budget: int = HOST_BUDGET, port_budget: int = PORT_BUDGET):
        self.host_budget, self.port_budget = host_budget, port_budget
        self.opened: dict[int, int] = {}

    def total(self) -> int:
        return sum(self.opened.values())

    def open(self, address: str, port: int, timeout: float = TIMEOUT) -> socket.socket:
        if self.total() >= self.host_budget:
            raise BudgetSpentError(f"the audit's budget of {self.host_budget} connections to the host is spent")
        if self.opened.get(port, 0) >= self.port_budget:
            raise BudgetSpentError(f"the audit's budget of {self.port_budget} connections to port {port} is spent")
        self.opened[port] = self.opened.get(port, 0) + 1
        return socket.create_connection((address, port), timeout)


def verifying_context(ca_pem: str | None) -> ssl.SSLContext:
    """Full verification, chain and host name, against CA_PEM or the controller's trust store."""
    return ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()


def permissive_context(lowest: ssl.TLSVersion, highest: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """A context that offers the versions LOWEST to HIGHEST (LOWEST alone by default) with every suite the local
    OpenSSL has, verifying nothing: it asks which version the server accepts, not whether the server is right."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():
        # Offering TLS 1.0 and 1.1 is deprecated, and the point: the audit asks whether the server takes them.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = lowest
        context.maximum_version = highest or lowest
    return context


def offerable_versions() -> list[str]:
    """The versions this controller's OpenSSL can offer (oldest first, the newest run without a gap, so that a
    range of them offers each), found by writing a ClientHello into memory: no connection."""
    offered: list[str] = []
    for label in reversed(VERSIONS):
        try:
            hello = permissive_context(VERSIONS[label]).wrap_bio(
                ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname=EHLO_NAME
            )
            hello.do_handshake()
        except ssl.SSLWantReadError:
            offered.insert(0, label)  # the ClientHello is written, the answer awaited
            continue
        except (ValueError, ssl.SSLError):
            pass
        if offered:
            break
    return offered


def spki_sha256(der: bytes | None) -> str:
    """The SHA-256 of a certificate's SubjectPublicKeyInfo, as a TLSA 3 1 1 record holds it."""
    if not der:
        return ""
    try:
        from cryptography import x509  # noqa: PLC0415 - the controller's requirement, needed only here
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: PLC0415
    except ImportError:
        return ""
    key = x509.load_der_x509_certificate(der).public_key()
    return hashlib.sha256(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def tls_facts(sock: ssl.SSLSocket) -> dict:
    return {
        "tls_version": sock.version(),
        "cipher": sock.cipher()[0] if sock.cipher() else None,
        "spki_sha256": spki_sha256(sock.getpeercert(binary_form=True)),
    }


def _verified_tls(wrap: Callable[[ssl.SSLContext], dict], context: ssl.SSLContext) -> dict:
    """Run WRAP(context) (which returns the TLS socket's facts) verifying; on a verification failure, say why and
    read the facts without verification."""
    try:
        facts = wrap(context)
        return {**facts, "verified": True, "verify_error": ""}
    except ssl.SSLCertVerificationError as e:
        facts = wrap(_unverified())
        return {**facts, "verified": False, "verify_error": e.verify_message or str(e)}


class _SMTP(smtplib.SMTP):
    """SMTP to ADDRESS that presents NAME (EHLO's peer, STARTTLS's SNI and host name check)."""

    def __init__(self, address: str, name: str, port: int, net: Connections):
        self._address, self._net = address, net
        super().__init__(name, port, timeout=TIMEOUT)

    def _get_socket(self, host, port, timeout):
        return self._net.open(self._address, port, timeout)


class _SMTPS(smtplib.SMTP_SSL):
    def __init__(self, address: str, name: str, port: int, net: Connections, context: ssl.SSLContext):
        self._address, self._net = address, net
        super().__init__(name, port, timeout=TIMEOUT, context=context)

    def _get_socket(self, host, port, timeout):
        raw = self._net.open(self._address, port, timeout)
        return self.context.wrap_socket(raw, server_hostname=self._host)


class _IMAP(imaplib.IMAP4):
    """IMAP to ADDRESS that presents NAME; implicit TLS with CONTEXT."""

    def __init__(self, address: str, name: str, port: int, net: Connections, context: ssl.SSLContext | None = None):
        self._address, self._net, self._context = address, net, context
        super().__init__(name, port, timeout=TIMEOUT)

    def _create_socket(self, timeout):
        raw = self._net.open(self._address, self.port, timeout)
        return self._context.wrap_socket(raw, server_hostname=self.host) if self._context else raw


class _POP3(poplib.POP3):
    """POP3 over RAW, a connection already open to NAME's port; implicit TLS with CONTEXT."""

    def __init__(self, raw: socket.socket, name: str, port: int, context: ssl.SSLContext | None = None):
        self._raw, self._context = raw, context
        super().__init__(name, port, timeout=TIMEOUT)

    def _create_socket(self, timeout):
        self._raw.settimeout(timeout)
        return self._context.wrap_socket(self._raw, server_hostname=self.host) if self._context else self._raw


def _unverified() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _auth(features: dict) -> list[str]:
    return features["auth"].split() if "auth" in features else []


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _logout(imap: imaplib.IMAP4) -> None:
    """LOGOUT, or just close: after a STARTTLS whose handshake failed there is no session to end."""
    try:
        imap.logout()
    except (imaplib.IMAP4.error, OSError):
        with contextlib.suppress(OSError):
            imap.shutdown()


def _pop3_quit(pop3: poplib.POP3) -> None:
    try:
        pop3.quit()
    except (poplib.error_proto, OSError):
        pop3.close()


def probe_smtp(address: str, name: str, port: int, ca_pem: str | None, *, implicit: bool, net: Connections) -> dict:
    def session(context: ssl.SSLContext) -> dict:
        smtp = _SMTPS(address, name, port, net, context) if implicit else _SMTP(address, name, port, net)
        try:
            smtp.ehlo(EHLO_NAME)
            found: dict[str, Any] = {}
            if not implicit:
                found["starttls"] = smtp.has_extn("starttls")
                found["auth_before_tls"] = _auth(smtp.esmtp_features)
                if not found["starttls"]:
                    return found
                smtp.starttls(context=context)
                smtp.ehlo(EHLO_NAME)
            found["auth_after_tls"] = _auth(smtp.esmtp_features)
            found.update(tls_facts(smtp.sock))
            return found
        finally:
            _quit(smtp)

    return _verified_tls(session, verifying_context(ca_pem))


def probe_relay(address: str, name: str, port: int, net: Connections) -> dict:
    smtp = _SMTP(address, name, port, net)
    try:
        smtp.ehlo(EHLO_NAME)
        if smtp.has_extn("starttls"):
            smtp.starttls(context=_unverified())
            smtp.ehlo(EHLO_NAME)
        # The null sender: no sender check can refuse it, so a refusal is the relay's.
        smtp.mail("")
        code, reply = smtp.rcpt(RELAY_TO)
        smtp.rset()
        return {"relay_refused": code >= 400, "reply": f"{code} {reply.decode(errors='replace')}"}
    finally:
        _quit(smtp)


def probe_imap(address: str, name: str, port: int, ca_pem: str | None, *, implicit: bool, net: Connections) -> dict:
    def session(context: ssl.SSLContext) -> dict:
        imap = _IMAP(address, name, port, net, context if implicit else None)
        try:
            found: dict[str, Any] = {}
            if not implicit:
                capabilities = list(imap.capabilities)
                found = {
                    "starttls": "STARTTLS" in capabilities,
                    "login_disabled": "LOGINDISABLED" in capabilities,
                    "capabilities_before_tls": capabilities,
                }
                if not found["starttls"]:
                    return found
                imap.starttls(ssl_context=context)
            _, data = imap.capability()
            found["capabilities"] = data[0].decode().split() if data and data[0] else []
            found.update(tls_facts(imap.sock))
            return found
        finally:
            _logout(imap)

    return _verified_tls(session, verifying_context(ca_pem))


def _capabilities(pop3: poplib.POP3) -> dict[str, list[str]] | None:
    """CAPA's answer (RFC 2449), capability -> arguments; None from a server that knows no CAPA."""
    try:
        return {key.upper(): value for key, value in pop3.capa().items()}
    except poplib.error_proto:
        return None


def probe_pop3s(address: str, name: str, port: int, ca_pem: str | None, net: Connections) -> dict:
    """POP3 with implicit TLS: the TLS facts and what CAPA offers inside TLS (USER is fine there)."""

    def session(context: ssl.SSLContext) -> dict:
        pop3 = _POP3(net.open(address, port), name, port, context)
        try:
            capabilities = _capabilities(pop3)
            return {
                "capabilities": sorted(" ".join([key, *args]) for key, args in (capabilities or {}).items()),
                **tls_facts(pop3.sock),
            }
        finally:
            _pop3_quit(pop3)

    return _verified_tls(session, verifying_context(ca_pem))


def probe_pop3_cleartext(address: str, name: str, port: int, net: Connections) -> dict:
    """A cleartext POP3 port, which must be closed or offer no login before STLS: open, answer, and where it is open
    its capabilities, stls and cleartext_login (USER, SASL PLAIN, SASL LOGIN). Nothing is sent but CAPA and QUIT."""
    try:
        raw = net.open(address, port, CLOSED_TIMEOUT)
    except ConnectionRefusedError:
        return {"open": False, "answer": "connection refused", "cleartext_login": []}
    except TimeoutError:
        return {"open": False, "answer": f"no answer within {CLOSED_TIMEOUT} s (dropped)", "cleartext_login": []}
    try:
        pop3 = _POP3(raw, name, port)
    except (poplib.error_proto, OSError) as e:
        raw.close()
        return {"open": True, "answer": f"no POP3 greeting ({type(e).__name__}: {e})", "cleartext_login": []}
    try:
        capabilities = _capabilities(pop3)
    finally:
        _pop3_quit(pop3)
    if capabilities is None:
        # A server without CAPA is an RFC 1939 server, which takes USER and PASS: count them offered.
        return {"open": True, "answer": "POP3 without CAPA", "capabilities": None, "cleartext_login": ["USER"]}
    mechanisms = [mechanism.upper() for mechanism in capabilities.get("SASL", [])]
    return {
        "open": True,
        "answer": "POP3",
        "capabilities": sorted(" ".join([key, *args]) for key, args in capabilities.items()),
        "stls": "STLS" in capabilities,
        "cleartext_login": (["USER"] if "USER" in capabilities else [])
        + [f"SASL {mechanism}" for mechanism in CLEARTEXT_SASL if mechanism in mechanisms],
    }


def _starttls_socket(address: str, port: int, mode: str, net: Connections) -> socket.socket:
    raw = net.open(address, port)
    reader = raw.makefile("rb")
    if mode == "smtp":
        reader.readline()
        raw.sendall(b"EHLO " + EHLO_NAME.encode() + b"\r\n")
        while reader.readline()[3:4] == b"-":
            pass
        raw.sendall(b"STARTTLS\r\n")
        if not reader.readline().startswith(b"220"):
            raw.close()
            raise ConnectionError("STARTTLS refused")
    elif mode == "imap":
        reader.readline()
        raw.sendall(b"a STARTTLS\r\n")
        if not reader.readline().startswith(b"a OK"):
            raw.close()
            raise ConnectionError("STARTTLS refused")
    return raw


def scan_versions(ask: Callable[[str, str], str | None], offered: list[str], first: str | None = None) -> dict:
    """Which of OFFERED (versions, oldest first) the server accepts and which it refuses, asked newest first.

    ASK(lowest, highest) is one handshake that offers that range: the version the server chose, or None when it
    took none. A server chooses the newest version it accepts in the range, so an answer marks that version
    accepted and those above it refused; the next question is the range below it. FIRST is an answer already had
    for the whole of OFFERED (a session's negotiated version). When ASK raises BudgetSpentError the scan stops there:
    `unasked` lists the versions left and `cut` says why."""
    accepted: list[str] = []
    refused: list[str] = []
    pending = list(offered)
    answer = first if first in pending else None
    while pending:
        if answer is None:
            try:
                answer = ask(pending[0], pending[-1])
            except BudgetSpentError as e:
                return {**_in_order(accepted, refused), "unasked": pending, "cut": str(e)}
        if answer not in pending:
            refused.extend(pending)
            break
        at = pending.index(answer)
        accepted.append(answer)
        refused.extend(pending[at + 1 :])
        pending, answer = pending[:at], None
    return _in_order(accepted, refused)


def _in_order(accepted: list[str], refused: list[str]) -> dict:
    order = list(VERSIONS)
    return {"accepted": sorted(accepted, key=order.index), "refused": sorted(refused, key=order.index)}


def _asker(address: str, name: str, port: int, mode: str, net: Connections) -> Callable[[str, str], str | None]:
    """ASK of scan_versions over the network: one connection (and STARTTLS in MODE) per question. A connection
    that cannot be made raises; a handshake that fails, by an alert or a closed connection, is a refusal."""

    def ask(lowest: str, highest: str) -> str | None:
        context = permissive_context(VERSIONS[lowest], VERSIONS[highest])
        raw = _starttls_socket(address, port, mode, net) if mode else net.open(address, port)
        try:
            with context.wrap_socket(raw, server_hostname=name) as tls:
                return tls.version()
        except OSError:
            return None
        finally:
            raw.close()

    return ask


def probe_tls_versions(
    address: str, name: str, port: int, mode: str, *, net: Connections, first: str | None = None
) -> dict:
    """The versions the port accepts; FIRST: the version a session on the port negotiated, the scan's first answer."""
    offered = offerable_versions()
    untested = [label for label in VERSIONS if label not in offered]
    try:
        found = scan_versions(_asker(address, name, port, mode, net), offered, first)
    except OSError as e:
        return {"error": f"cannot connect: {e}"}
    found["untested"] = untested
    if "cut" in found:
        found["skipped"] = f"not scanned to the end, {found['cut']}: {', '.join(found['unasked'])} not asked"
    return found


PROBES: dict[str, Callable[..., dict]] = {
    "smtp": lambda address, name, port, ca_pem, mode, net, first: probe_smtp(
        address, name, port, ca_pem, implicit=False, net=net
    ),
    "smtps": lambda address, name, port, ca_pem, mode, net, first: probe_smtp(
        address, name, port, ca_pem, implicit=True, net=net
    ),
    "relay": lambda address, name, port, ca_pem, mode, net, first: probe_relay(address, name, port, net),
    "imap": lambda address, name, port, ca_pem, mode, net, first: probe_imap(
        address, name, port, ca_pem, implicit=False, net=net
    ),
    "imaps": lambda address, name, port, ca_pem, mode, net, first: probe_imap(
        address, name, port, ca_pem, implicit=True, net=net
    ),
    "pop3s": lambda address, name, port, ca_pem, mode, net, first: probe_pop3s(address, name, port, ca_pem, net),
    "pop3": lambda address, name, port, ca_pem, mode, net, first: probe_pop3_cleartext(address, name, port, net),
    "tls": lambda address, name, port, ca_pem, mode, net, first: probe_tls_versions(
        address, name, port, mode, net=net, first=first
    ),
}


def port_of(probe: str) -> int | None:
    """The port of a probe's name (kind:port or kind:mode:port); None when it names none."""
    text = probe.rpartition(":")[2]
    return int(text) if text.isdigit() else None


def run_probe(
    probe: str,
    address: str,
    name: str,
    ca_pem: str | None,
    *,
    net: Connections | None = None,
    first: str | None = None,
) -> dict:
    """The evidence of probe PROBE (kind:port) against ADDRESS, presenting NAME for SNI and the host name check,
    its connections counted by NET; FIRST: for a version scan, the version a session on the port negotiated."""
    kind, _, rest = probe.partition(":")
    mode, _, port_text = rest.rpartition(":")
    if kind not in PROBES:
        return {"error": f"unknown probe kind {kind!r}"}
    if not port_text.isdigit():
        return {"error": f"probe {probe!r} has no port"}
    try:
        return PROBES[kind](address, name, int(port_text), ca_pem, mode, net or Connections(), first)
    except BudgetSpentError as e:
        return {"skipped": f"not probed: {e}"}
    except (OSError, smtplib.SMTPException, imaplib.IMAP4.error, poplib.error_proto, ssl.SSLError) as e:
        return {"error": f"{type(e).__name__}: {e}"}


def _negotiated(probe: str, found: dict[str, dict]) -> str | None:
    """For a version scan, the TLS version a session on the same port negotiated, among the evidence FOUND."""
    if not probe.startswith("tls:"):
        return None
    port = port_of(probe)
    return next(
        (
            evidence["tls_version"]
            for other, evidence in found.items()
            if other.partition(":")[0] in SESSIONS and port_of(other) == port and evidence.get("tls_version")
        ),
        None,
    )


def run_probes(
    names: Iterable[str],
    address: str,
    name: str,
    ca_pem: str | None,
    *,
    net: Connections | None = None,
    skipped: dict[str, str] | None = None,
    auditor: str = "",
) -> dict[str, dict]:
    """The evidence of each probe of NAMES, in the order ORDER gives (sessions, single connections, version scans),
    each scan started from its port's session; SKIPPED: probes not to run -> why. A probe that times out stops the
    rest: a host that drops the auditor (a ban, a closed allowlist) would time out every one."""
    net = net or Connections()
    skipped = skipped or {}
    found: dict[str, dict] = {}
    unreachable = ""
    for probe in sorted(names, key=lambda probe: (ORDER.get(probe.partition(":")[0], 1), probe)):
        if probe in skipped:
            found[probe] = {"skipped": skipped[probe]}
        elif unreachable:
            found[probe] = {"error": f"not probed: {unreachable}"}
        else:
            found[probe] = run_probe(probe, address, name, ca_pem, net=net, first=_negotiated(probe, found))
            if "timed out" in found[probe].get("error", ""):
                unreachable = f"{probe} timed out, the host drops this auditor ({auditor})"
    return found


def served_records(server: str, name: str, rdtype: str, timeout: float) -> list[str]:
    """The records of RDTYPE at NAME that SERVER answers with (presentation form); NXDOMAIN and NODATA: none."""
    import dns.message  # noqa: PLC0415 - dnspython, the controller's requirement, needed only here
    import dns.query  # noqa: PLC0415
    import dns.rdatatype  # noqa: PLC0415

    response = dns.query.udp(dns.message.make_query(name, rdtype), server, timeout=timeout)
    wanted = dns.rdatatype.from_text(rdtype)
    return [rdata.to_text() for rrset in response.answer if rrset.rdtype == wanted for rdata in rrset]


def _txt_joined(value: str) -> str:
    """A TXT record's presentation form ("a" "b") as the one string it stands for (ab)."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', value)
    return "".join(parts) if parts else value


def probe_dns(server: str, records: list[dict], timeout: float = 5) -> dict:
    """Each generated record (mail_dns's JSON) against what SERVER serves: name and type -> expected, served (of
    the same kind: a TXT record of another owner at the name is left out) and whether they agree."""
    found = {}
    for record in records:
        key = f"{record['name']} {record['type']}"
        match = (record.get("match") or "").lower()
        try:
            served = served_records(server, record["name"], record["type"], timeout)
        except Exception as e:
            found[key] = {"error": f"{type(e).__name__}: {e}", "match": match}
            continue
        if record["type"] == "TXT":
            expected = sorted(_txt_joined(value) for value in record["values"])
            served = sorted(_txt_joined(value) for value in served)
            served = [text for text in served if not match or text.lower().startswith(match)]
        else:
            expected = sorted(" ".join(value.lower().split()) for value in record["values"])
            served = sorted(" ".join(value.lower().split()) for value in served)
        found[key] = {"expected": expected, "served": served, "agree": expected == served, "match": match}
    return found
