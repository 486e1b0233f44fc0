# SPDX-License-Identifier: MIT
"""The audit's MTA-STS fetch (plugins/plugin_utils/audit_mta_sts.py) against a real HTTPS server on loopback, with a
CA and a certificate made here: a policy served as written passes; a redirect, another status, another media type,
another policy, a certificate for another name or from another CA, a name the DNS does not serve each fail, naming
what is wrong."""

from __future__ import annotations

import datetime
import http.server
import ssl
import threading
from typing import ClassVar

import pytest
from ansible_collections.mailfort.mail.plugins.plugin_utils import audit, audit_evidence, audit_mta_sts, audit_probes
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NAME = "mta-sts.example.test"
POLICY = "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmx: mx2.example.test\nmax_age: 604800\n"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca(common: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict:
    """A CA, a certificate it signs for NAME, and the server's key and chain files."""
    ca_key, ca = _ca("mailfort test CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(NAME))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("pki")
    (directory / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (directory / "chain.pem").write_text(_pem(cert))
    return {"ca": _pem(ca), "other_ca": _pem(_ca("another CA")[1]), "dir": directory}


class _Handler(http.server.BaseHTTPRequestHandler):
    # What the server answers (status, headers, body): set by each test through the fixture.
    answer: ClassVar[tuple[int, dict, bytes]] = (200, {}, b"")
    hosts: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hosts.append(self.headers.get("Host", ""))
        status, headers, body = type(self).answer if self.path == audit_mta_sts.PATH else (404, {}, b"")
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server(pki):
    """An HTTPS server on 127.0.0.1 (a free port) with the certificate for NAME."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["dir"] / "chain.pem", pki["dir"] / "key.pem")
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


def _serve(status: int, body: str, content_type: str = "text/plain; charset=utf-8", **headers: str) -> None:
    _Handler.answer = (status, {"Content-Type": content_type, **headers}, body.encode())
    _Handler.hosts = []


def _problem(port: int, ca_pem: str, name: str = NAME, written: str = POLICY) -> str:
    return audit_mta_sts.served_problem(audit_mta_sts.fetch_policy(name, "127.0.0.1", ca_pem, port=port), written)


def test_a_policy_served_as_written_has_no_problem_and_names_the_host(server, pki):
    _serve(200, POLICY.replace("\n", "\r\n"))  # CRLF, as RFC 8461 writes it: the same lines
    assert _problem(server, pki["ca"]) == ""
    assert _Handler.hosts == [f"{NAME}:{server}"]  # the name, not the address it connected to


def test_the_served_fields_are_read():
    assert audit_mta_sts.policy_fields(POLICY) == {
        "version": "STSv1",
        "mode": "enforce",
        "mx": ["mx1.example.test", "mx2.example.test"],
        "max_age": "604800",
    }


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (
            (301, "", "text/html", {"Location": "https://example.test/"}),
            "HTTP 301 to https://example.test/: a redirect",
        ),
        ((404, "not here", "text/plain", {}), "HTTP 404, wanted 200"),
        ((200, POLICY, "text/html", {}), "Content-Type text/html, wanted text/plain"),
        ((200, POLICY.replace("enforce", "testing"), "text/plain", {}), "serves ['version: STSv1', 'mode: testing'"),
        ((200, POLICY.replace("mx: mx2.example.test\n", ""), "text/plain", {}), "mail_dns wrote ['version: STSv1'"),
    ],
)
def test_what_a_sender_would_refuse_or_read_otherwise_is_named(server, pki, answer, problem):
    status, body, content_type, headers = answer
    _serve(status, body, content_type, **headers)
    assert problem in _problem(server, pki["ca"])


def test_a_policy_over_64_kib_is_refused(server, pki):
    _serve(200, POLICY + "#" * audit_mta_sts.MAX_BYTES)
    assert (
        _problem(server, pki["ca"])
        == f"the policy is larger than {audit_mta_sts.MAX_BYTES} bytes (RFC 8461 section 3.3)"
    )


def test_a_certificate_from_another_ca_or_for_another_name_is_not_trusted(server, pki):
    _serve(200, POLICY)
    assert _problem(server, pki["other_ca"]).startswith(f"certificate not trusted for {NAME}: ")
    assert "mismatch" in _problem(server, pki["ca"], name="mta-sts.other.test").lower()


def test_nothing_listening_is_an_error_not_a_pass(pki):
    free = audit_mta_sts.fetch_policy(NAME, "127.0.0.1", pki["ca"], port=1, timeout=2)
    assert free["error"].startswith("ConnectionRefusedError")


def _probe(monkeypatch, addresses: dict, written: str | None, port: int, ca: str) -> dict:
    monkeypatch.setattr(audit_probes, "served_records", lambda server, name, rdtype, timeout: addresses[(name, rdtype)])
    real = audit_mta_sts.fetch_policy
    monkeypatch.setattr(audit_mta_sts, "fetch_policy", lambda name, address, ca_pem: real(name, address, ca_pem, port))
    return audit_mta_sts.probe_mta_sts("192.0.2.53", "example.test.", written, ca)


def test_the_probe_asks_the_dns_for_the_name_and_fetches_from_each_address(monkeypatch, server, pki):
    _serve(200, POLICY)
    found = _probe(monkeypatch, {(NAME, "A"): ["127.0.0.1"], (NAME, "AAAA"): []}, POLICY, server, pki["ca"])
    assert found == {
        "url": f"https://{NAME}/.well-known/mta-sts.txt",
        "addresses": ["127.0.0.1"],
        "policy": audit_mta_sts.policy_fields(POLICY),
        "problem": "",
    }


def test_the_probe_says_when_the_name_has_no_address_or_the_file_is_missing(monkeypatch, server, pki):
    nothing = {(NAME, "A"): [], (NAME, "AAAA"): []}
    assert _probe(monkeypatch, nothing, POLICY, server, pki["ca"])["problem"] == (
        f"192.0.2.53 serves no A or AAAA record for {NAME}"
    )
    assert _probe(monkeypatch, nothing, None, server, pki["ca"])["problem"] == (
        "the policy file mail_dns writes for the web server is missing on the host"
    )


def test_every_address_is_fetched_and_each_failure_named(monkeypatch, server, pki):
    _serve(200, POLICY)
    # 127.0.0.2 is loopback too, but nothing listens there on the server's port.
    addresses = {(NAME, "A"): ["127.0.0.1", "127.0.0.2"], (NAME, "AAAA"): []}
    found = _probe(monkeypatch, addresses, POLICY, server, pki["ca"])
    assert found["problem"].startswith(f"https://{NAME}/.well-known/mta-sts.txt at 127.0.0.2: ConnectionRefusedError")
    assert "127.0.0.1" not in found["problem"]


def test_the_audit_judges_the_probe_as_dns_04_reads_it():
    check = {"dns": "mta_sts_policy", "equals": audit_evidence.DNS_AGREE}
    url = f"https://{NAME}/.well-known/mta-sts.txt"
    served = {"dns": {}, "mta_sts": {"url": url, "addresses": ["192.0.2.1"], "policy": {}, "problem": ""}}
    assert audit.evaluate_check(check, served) == {
        "what": f"MTA-STS policy at {url}",
        "seen": audit_evidence.DNS_AGREE,
        "wanted": f"equals {audit_evidence.DNS_AGREE}",
        "passed": True,
    }
    wrong = {"dns": {}, "mta_sts": {**served["mta_sts"], "problem": "HTTP 404, wanted 200"}}
    assert audit.evaluate_check(check, wrong)["passed"] is False
    assert audit.evaluate_check(check, wrong)["seen"] == "HTTP 404, wanted 200"
    skipped = audit.evaluate_check(check, {"dns": {"skipped": "not compared: no DNS server"}})
    assert skipped["passed"] is None
    assert audit.evaluate_check(check, {"dns": {}})["seen"] == "absent"
