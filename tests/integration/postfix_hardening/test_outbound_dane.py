# SPDX-License-Identifier: MIT
"""Outbound DANE end to end: mx2 (postfix_hardening_outbound_dane, host_vars/mailfort-mx2.yml) delivers to mx1 and
authenticates it by the TLSA records mail_dns published for mx1's key, looked up through mx2's own validating
resolver (mail_resolver) in the lab's signed zone. A TLSA record that does not match the served key makes the message
wait in the queue instead of going out unverified; with the records of the current and the next key both published,
delivery stays verified when mx1 serves its next key.

Mutator: the TLSA records of mx1 are replaced on the lab's BIND (a TSIG-signed update, as mail_dns publishes them)
and mx1's served key is swapped; each test puts back what it changed, records and key, and flushes mx2's resolver.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shlex
import subprocess
import time
import uuid

import dns.message
import dns.query
import dns.rdatatype
import dns.tsigkeyring
import dns.update
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from lab import ADDRESSES, DOMAIN, LAB_CA, MX1, MX2, NAMES, NAMESERVER, TSIG_SECRET
from postfix_facts import now, postfix_journal
from tls_facts import CERT, FULLCHAIN, KEY, LAB_CA_KEY, NEXT_KEY, load_certs

pytestmark = pytest.mark.mutator

TLSA_NAME = f"_25._tcp.{NAMES[MX1]}."
PEER = f"{NAMES[MX1]}[{ADDRESSES[MX1]}]:25"
RECIPIENT = f"postmaster@{NAMES[MX1]}"  # mx1's own name is in its mydestination: accepted there, no relay refused
KEYRING = dns.tsigkeyring.from_text({"mailfort-update": TSIG_SECRET})
# A DANE-EE SPKI SHA-256 record of a key nobody has.
FOREIGN_TLSA = "3 1 1 " + "5A" * 32


def _tlsa_records() -> list[str]:
    query = dns.message.make_query(TLSA_NAME, dns.rdatatype.TLSA)
    answer = dns.query.udp(query, ADDRESSES[NAMESERVER], timeout=5)
    return sorted(rdata.to_text().lower() for rrset in answer.answer for rdata in rrset)


def _publish_tlsa(records: list[str]) -> None:
    update = dns.update.UpdateMessage(DOMAIN, keyring=KEYRING, keyname="mailfort-update", keyalgorithm="hmac-sha256")
    update.delete(TLSA_NAME, dns.rdatatype.TLSA)
    for record in records:
        update.add(TLSA_NAME, 300, dns.rdatatype.TLSA, record)
    response = dns.query.tcp(update, ADDRESSES[NAMESERVER], timeout=10)
    assert response.rcode() == 0, response
    # BIND signs the zone inline: it serves an update once it has signed it, a moment after it accepted it.
    wanted = sorted(record.lower() for record in records)
    deadline = time.monotonic() + 10
    while (served := _tlsa_records()) != wanted:
        assert time.monotonic() < deadline, f"the lab's BIND serves {served}, not {wanted}"
        time.sleep(0.5)


def _forget(sender) -> None:
    """mx2 forgets what it knows of mx1: its resolver's cache, and Postfix's smtp processes, each of which keeps the
    TLSA records it looked up for their TTL and may keep a connection to mx1 open for the next message (a reload
    replaces them once they are idle)."""
    sender.check_output(f"unbound-control flush_zone {NAMES[MX1]} && unbound-control flush_bogus")
    sender.check_output("postfix reload 2>&1")
    time.sleep(1)


def _send(sender, tag: str) -> str:
    """A message from mx2's Postfix to mx1, queued through sendmail; returns its queue id (cleanup logs it with the
    message's Message-ID, which carries TAG)."""
    message = (
        f"Message-ID: <{tag}@{NAMES[MX2]}>\nSubject: DANE probe\nFrom: root@{NAMES[MX2]}\nTo: {RECIPIENT}\n\n{tag}\n"
    )
    since = now(sender)
    sender.check_output(f"printf %s {shlex.quote(message)} | /usr/sbin/sendmail -f root@{NAMES[MX2]} {RECIPIENT}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for line in postfix_journal(sender, since).splitlines():
            if f"message-id=<{tag}@" in line:
                return line.split("]: ", 1)[1].split(":", 1)[0]
        time.sleep(0.5)
    raise AssertionError(f"mx2 did not queue the probe {tag}:\n{postfix_journal(sender, since)}")


def _delivery(sender, queue_id: str, since: float, *ends: str, timeout: float = 60) -> list[str]:
    """mx2's log lines of QUEUE_ID (and its TLS lines) once one of them holds one of ENDS."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in postfix_journal(sender, since).splitlines() if queue_id in line or PEER in line]
        if any(end in line for line in lines for end in ends) or time.monotonic() > deadline:
            return lines
        time.sleep(1)


def _delivered_verified(sender) -> None:
    """A new message from mx2 to mx1, looked up afresh: mx1 was authenticated by its TLSA records and took it."""
    _forget(sender)
    since = now(sender)
    queue_id = _send(sender, uuid.uuid4().hex)
    lines = _delivery(sender, queue_id, since, "status=sent", "status=deferred", "status=bounced")
    log = "\n".join(lines)
    assert any(f"Verified TLS connection established to {PEER}" in line for line in lines), log
    assert any(queue_id in line and "status=sent" in line and f"relay={PEER}" in line for line in lines), log


@pytest.fixture
def sender(podman_host):
    mx2 = podman_host(MX2)
    assert mx2.check_output("postconf -h smtp_tls_security_level smtp_dns_support_level").split() == [
        "dane",
        "dnssec",
    ]
    return mx2


@pytest.fixture
def published():
    """mx1's TLSA records as mail_dns published them; put back after the test, whatever it changed."""
    records = _tlsa_records()
    assert len(records) == 2, records  # the current key's and the next key's (mail_dns_tlsa_next_keys)
    yield records
    if _tlsa_records() != records:
        _publish_tlsa(records)


def test_delivery_to_a_peer_with_tlsa_records_is_verified(sender, published):
    _delivered_verified(sender)


def test_a_tlsa_record_that_does_not_match_defers_the_message(sender, published):
    _publish_tlsa([FOREIGN_TLSA])
    _forget(sender)
    since = now(sender)
    queue_id = _send(sender, uuid.uuid4().hex)
    try:
        lines = _delivery(sender, queue_id, since, "status=deferred", "status=sent")
        log = "\n".join(lines)
        # "num=65:no matching DANE TLSA records" (the case varies with Postfix's release)
        assert any("no matching dane tlsa records" in line.lower() for line in lines), log
        assert any(
            queue_id in line and "status=deferred" in line and "Server certificate not verified" in line
            for line in lines
        ), log
        assert not any(queue_id in line and "status=sent" in line for line in lines), log
    finally:
        with contextlib.suppress(AssertionError):
            sender.check_output(f"postsuper -d {queue_id}")
        _publish_tlsa(published)
        _forget(sender)


def _write(name: str, path: str, content: str) -> None:
    """PATH on container NAME rewritten in place (its owner and mode kept), the content through stdin only."""
    subprocess.run(["podman", "exec", "-i", name, "sh", "-c", f"cat > {path}"], input=content, text=True, check=True)


def _certificate_for_next_key(receiver) -> tuple[str, str]:
    """A certificate for mx1's next key (mail_tls keeps it ready), signed by the lab CA with the names and
    extensions of the one it serves: what a renewal with a new key gives. Returns it (PEM) and the key's."""
    leaf = load_certs(receiver.file(CERT).content_string)[0]
    ca = load_certs(receiver.file(LAB_CA).content_string)[0]
    ca_key = serialization.load_pem_private_key(receiver.file(LAB_CA_KEY).content_string.encode(), None)
    next_pem = receiver.file(NEXT_KEY).content_string
    next_public = serialization.load_pem_private_key(next_pem.encode(), None).public_key()
    now_utc = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(leaf.subject)
        .issuer_name(ca.subject)
        .public_key(next_public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now_utc - dt.timedelta(minutes=5))
        .not_valid_after(now_utc + dt.timedelta(days=30))
    )
    for extension in leaf.extensions:
        value = extension.value
        if isinstance(value, x509.SubjectKeyIdentifier):
            value = x509.SubjectKeyIdentifier.from_public_key(next_public)
        builder = builder.add_extension(value, extension.critical)
    certificate = builder.sign(ca_key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), next_pem


def _served_public_key(sender) -> bytes:
    """The public key mx1 serves on 25, as mx2 sees it (STARTTLS)."""
    pem = sender.check_output(
        f"openssl s_client -starttls smtp -connect {ADDRESSES[MX1]}:25 -servername {NAMES[MX1]} </dev/null "
        "2>/dev/null | openssl x509 -pubkey -noout"
    )
    return serialization.load_pem_public_key(pem.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_delivery_stays_verified_when_the_peer_serves_its_next_key(sender, published, podman_host):
    """The rollover DANE asks for (RFC 7671 section 8.1): the next key's TLSA record was published beside the current
    one before the key changed, so a peer that switches to its next key is verified at once."""
    receiver = podman_host(MX1)
    saved = {path: receiver.file(path).content_string for path in (KEY, CERT, FULLCHAIN)}
    chain = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in load_certs(saved[FULLCHAIN])[1:])
    certificate, next_key = _certificate_for_next_key(receiver)
    try:
        _write(MX1, KEY, next_key)
        _write(MX1, CERT, certificate)
        _write(
            MX1, FULLCHAIN, certificate + "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain)
        )
        receiver.check_output("postfix reload")
        next_public = serialization.load_pem_private_key(next_key.encode(), None).public_key()
        wanted = next_public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        deadline = time.monotonic() + 30
        while _served_public_key(sender) != wanted:
            assert time.monotonic() < deadline, "mx1 does not serve its next key"
            time.sleep(1)
        _delivered_verified(sender)
    finally:
        for path, content in saved.items():
            _write(MX1, path, content)
        receiver.check_output("postfix reload")
