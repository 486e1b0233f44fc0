# SPDX-License-Identifier: MIT
"""The audit's evidence from the network: what an outside client sees of a mail host's ports, from the controller.

Each probe opens one connection (a TLS version probe one per version), says EHLO or asks for CAPABILITY, and quits
without sending mail or a password: an audit must never trip the host's meters or fail2ban. A whole audit of one
host opens at most 18 connections, under the firewall's burst and Postfix's per-client limits (README:
"Auditing a host").

A probe is named `kind:port`:
  smtp:25, smtp:587  EHLO in clear, STARTTLS, EHLO again: starttls, auth_before_tls, auth_after_tls, and the TLS
                     facts (version, cipher, verified, verify_error)
  smtps:465          implicit TLS, then EHLO: auth_after_tls and the TLS facts
  relay:25           EHLO, STARTTLS, MAIL FROM the null sender, RCPT TO a domain no host is responsible for (RFC
                     2606): relay_refused, reply; RSET before anything is sent
  imap:143           CAPABILITY in clear (starttls, login_disabled), STARTTLS and the TLS facts
  imaps:993, pop3s:995  implicit TLS: the TLS facts, and for IMAP the capabilities
  tls:PORT, tls:smtp:PORT, tls:imap:PORT  one handshake per TLS version: accepted, refused, untested
"""

from __future__ import annotations

import hashlib
import imaplib
import re
import smtplib
import socket
import ssl
from typing import Any

TIMEOUT = 10
# The names of RFC 2606: no host is responsible for them, so a relay test never sends mail anywhere.
RELAY_TO = "audit@example.com"
# What the audit says in EHLO: a name that is no host (RFC 6761 .invalid), so no log reader takes it for one.
EHLO_NAME = "audit.mailfort.invalid"
VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def verifying_context(ca_pem: str | None) -> ssl.SSLContext:
    """Full verification, chain and host name, against CA_PEM or the controller's trust store."""
    return ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()


def permissive_context(version: ssl.TLSVersion) -> ssl.SSLContext:
    """A context that offers VERSION alone and anything the local OpenSSL can, verifying nothing: it asks whether
    the server accepts VERSION, not whether it is right."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")
    context.minimum_version = version
    context.maximum_version = version
    return context


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


def _verified_tls(wrap, context: ssl.SSLContext) -> dict:
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

    def __init__(self, address: str, name: str, port: int):
        self._address = address
        super().__init__(name, port, timeout=TIMEOUT)

    def _get_socket(self, host, port, timeout):
        return socket.create_connection((self._address, port), timeout)


class _SMTPS(smtplib.SMTP_SSL):
    def __init__(self, address: str, name: str, port: int, context: ssl.SSLContext):
        self._address = address
        super().__init__(name, port, timeout=TIMEOUT, context=context)

    def _get_socket(self, host, port, timeout):
        raw = socket.create_connection((self._address, port), timeout)
        return self.context.wrap_socket(raw, server_hostname=self._host)


class _IMAP(imaplib.IMAP4):
    """IMAP to ADDRESS that presents NAME; implicit TLS with CONTEXT."""

    def __init__(self, address: str, name: str, port: int, context: ssl.SSLContext | None = None):
        self._address, self._context = address, context
        super().__init__(name, port, timeout=TIMEOUT)

    def _create_socket(self, timeout):
        raw = socket.create_connection((self._address, self.port), timeout)
        return self._context.wrap_socket(raw, server_hostname=self.host) if self._context else raw


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


def probe_smtp(address: str, name: str, port: int, ca_pem: str | None, implicit: bool) -> dict:
    def session(context: ssl.SSLContext) -> dict:
        smtp = _SMTPS(address, name, port, context) if implicit else _SMTP(address, name, port)
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


def probe_relay(address: str, name: str, port: int) -> dict:
    smtp = _SMTP(address, name, port)
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


def probe_imap(address: str, name: str, port: int, ca_pem: str | None, implicit: bool) -> dict:
    def session(context: ssl.SSLContext) -> dict:
        imap = _IMAP(address, name, port, context if implicit else None)
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
            imap.logout()

    return _verified_tls(session, verifying_context(ca_pem))


def probe_tls_handshake(address: str, name: str, port: int, ca_pem: str | None) -> dict:
    """Implicit TLS on a port with no mail protocol of its own checked (POP3S)."""

    def session(context: ssl.SSLContext) -> dict:
        with (
            socket.create_connection((address, port), timeout=TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=name) as sock,
        ):
            return tls_facts(sock)

    return _verified_tls(session, verifying_context(ca_pem))


def _starttls_socket(address: str, port: int, mode: str) -> socket.socket:
    raw = socket.create_connection((address, port), timeout=TIMEOUT)
    reader = raw.makefile("rb")
    if mode == "smtp":
        reader.readline()
        raw.sendall(b"EHLO " + EHLO_NAME.encode() + b"\r\n")
        while reader.readline()[3:4] == b"-":
            pass
        raw.sendall(b"STARTTLS\r\n")
        if not reader.readline().startswith(b"220"):
            raise ConnectionError("STARTTLS refused")
    elif mode == "imap":
        reader.readline()
        raw.sendall(b"a STARTTLS\r\n")
        if not reader.readline().startswith(b"a OK"):
            raise ConnectionError("STARTTLS refused")
    return raw


def probe_tls_versions(address: str, name: str, port: int, mode: str) -> dict:
    accepted, refused, untested = [], [], []
    for label, version in VERSIONS.items():
        try:
            context = permissive_context(version)
        except (ValueError, ssl.SSLError):
            untested.append(label)
            continue
        try:
            raw = (
                _starttls_socket(address, port, mode)
                if mode
                else socket.create_connection((address, port), timeout=TIMEOUT)
            )
        except OSError as e:
            return {"error": f"cannot connect: {e}"}
        try:
            with context.wrap_socket(raw, server_hostname=name):
                accepted.append(label)
        except ssl.SSLError as e:
            # The local OpenSSL refusing to offer the version at all is not the server's answer.
            (untested if "NO_PROTOCOLS_AVAILABLE" in str(e) or "no protocols available" in str(e) else refused).append(
                label
            )
        except OSError:
            refused.append(label)
        finally:
            raw.close()
    return {"accepted": accepted, "refused": refused, "untested": untested}


PROBES = {
    "smtp": lambda address, name, port, ca_pem, mode: probe_smtp(address, name, port, ca_pem, implicit=False),
    "smtps": lambda address, name, port, ca_pem, mode: probe_smtp(address, name, port, ca_pem, implicit=True),
    "relay": lambda address, name, port, ca_pem, mode: probe_relay(address, name, port),
    "imap": lambda address, name, port, ca_pem, mode: probe_imap(address, name, port, ca_pem, implicit=False),
    "imaps": lambda address, name, port, ca_pem, mode: probe_imap(address, name, port, ca_pem, implicit=True),
    "pop3s": lambda address, name, port, ca_pem, mode: probe_tls_handshake(address, name, port, ca_pem),
    "tls": lambda address, name, port, ca_pem, mode: probe_tls_versions(address, name, port, mode),
}


def run_probe(probe: str, address: str, name: str, ca_pem: str | None) -> dict:
    """The evidence of probe PROBE (kind:port) against ADDRESS, presenting NAME for SNI and the host name check."""
    kind, _, rest = probe.partition(":")
    mode, _, port_text = rest.rpartition(":")
    if kind not in PROBES:
        return {"error": f"unknown probe kind {kind!r}"}
    if not port_text.isdigit():
        return {"error": f"probe {probe!r} has no port"}
    try:
        return PROBES[kind](address, name, int(port_text), ca_pem, mode)
    except (OSError, smtplib.SMTPException, imaplib.IMAP4.error, ssl.SSLError) as e:
        return {"error": f"{type(e).__name__}: {e}"}


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
