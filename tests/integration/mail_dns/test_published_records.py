# SPDX-License-Identifier: MIT
"""The domain as the world checks it: mail submitted on 587 arrives DKIM-signed and dkimpy verifies every signature
against the keys the lab's DNS server received from mail_dns; checkdmarc judges the SPF, DMARC, MTA-STS and TLS-RPT
records that server serves; the TLSA record matches the certificate the host serves on 25; the records on the host
(zone fragment, JSON) are the ones published; someone else's TXT record at the apex survives publishing. That a
re-run publishes nothing and shows no TSIG secret is in test_rerun.py.

Alice submits, with her laptop's app password (her main password is barred from mail in the lab)."""

from __future__ import annotations

import hashlib
import json
import re
import smtplib
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key
from dns_facts import (
    checkdmarc_results,
    dkim_verdicts,
    fetch,
    host_at,
    query,
    selectors,
    submit,
    token,
    txt,
)
from lab import DOMAIN, LAB_CA, MAIL_HOSTS, MTA_STS_NAME, NAMES
from probes import address, host_name, server_name

pytestmark = pytest.mark.readonly


@pytest.fixture(scope="module")
def signed(host, client, anchor):
    """One message the client submitted on 587 to this host, as Bob's mailbox holds it."""
    subject = f"signed {token()}"
    submit(client, host, subject)
    return fetch(host, anchor, subject)


def test_submitted_mail_carries_an_rsa_and_an_ed25519_signature_of_the_domain(host, signed, project_dir, nameserver):
    verdicts = dkim_verdicts(project_dir, nameserver, signed)
    wanted = selectors(host_name(host))

    assert sorted((v["d"], v["s"], v["a"]) for v in verdicts) == sorted(
        [(DOMAIN, wanted["rsa"], "rsa-sha256"), (DOMAIN, wanted["ed25519"], "ed25519-sha256")]
    )


def test_dkimpy_verifies_every_signature_against_the_published_keys(host, signed, project_dir, nameserver):
    verdicts = dkim_verdicts(project_dir, nameserver, signed)

    assert verdicts
    assert all(v["verified"] for v in verdicts), verdicts


def test_signatures_are_relaxed_and_oversign_from(signed, project_dir, nameserver):
    for verdict in dkim_verdicts(project_dir, nameserver, signed):
        signed_headers = [h.strip().lower() for h in verdict["h"].split(":")]
        assert verdict["c"] == "relaxed/relaxed"
        # From listed once more than the message has: no second From can be added without breaking the signature.
        assert signed_headers.count("from") >= 2, verdict["h"]


def test_a_tampered_message_fails_verification(signed, project_dir, nameserver):
    tampered = signed.replace(b"DKIM test", b"DKIM TEST", 1)

    assert tampered != signed
    assert not any(v["verified"] for v in dkim_verdicts(project_dir, nameserver, tampered))


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_published_dkim_records_are_strings_of_at_most_255_octets(host, nameserver, algorithm):
    records = query(nameserver, f"{selectors(host_name(host))[algorithm]}._domainkey.{DOMAIN}", "TXT")

    assert len(records) == 1
    assert all(len(piece) <= 255 for piece in records[0].strings)
    # A 2048-bit RSA key does not fit one string; an Ed25519 key does.
    assert len(records[0].strings) == (2 if algorithm == "rsa" else 1)


@pytest.fixture
def policy_host(podman_host, nameserver):
    """The MX host that mta-sts.<domain> points to, with its nginx serving the policy mail_dns wrote there: the lab
    prepares nginx but leaves it stopped until the certificate exists (molecule/lab/prepare.yml). It is stopped
    again afterwards if it was stopped before, so that this phase leaves the host as it found it."""
    policy_host = podman_host(host_at(nameserver, MTA_STS_NAME))
    was_running = policy_host.service("nginx").is_running
    started = policy_host.run("systemctl start nginx")
    assert started.rc == 0, started.stderr
    yield policy_host
    if not was_running:
        policy_host.run("systemctl stop nginx")


def test_checkdmarc_judges_spf_dmarc_mta_sts_and_tls_rpt_valid(policy_host, project_dir, nameserver, tmp_path):
    """Once for the domain: the policy's web server (nginx on the MX that mta-sts.<domain> points to) serves what
    mail_dns wrote there."""
    bundle = tmp_path / "lab-ca.pem"
    bundle.write_text(policy_host.file(LAB_CA).content_string)

    results = checkdmarc_results(project_dir, nameserver, bundle)

    verdicts = {part: results[part] for part in ("spf", "dmarc", "mta_sts", "smtp_tls_reporting")}
    assert all(v.get("valid") for v in verdicts.values()), json.dumps(verdicts, indent=1)[:4000]
    assert results["spf"]["record"] == "v=spf1 mx -all"
    assert results["dmarc"]["tags"]["p"]["value"] == "reject"
    assert results["mta_sts"]["policy"]["mode"] == "testing"


def test_tlsa_record_matches_the_certificate_served_on_25(host, nameserver):
    with smtplib.SMTP(address(host), 25, timeout=15) as smtp:
        smtp.starttls(context=ssl._create_unverified_context())  # noqa: S323 - only the served key is compared
        served = x509.load_der_x509_certificate(smtp.sock.getpeercert(binary_form=True))
    spki = served.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.sha256(spki).hexdigest()

    records = query(nameserver, f"_25._tcp.{server_name(host)}", "TLSA")

    assert (3, 1, 1, digest) in [(r.usage, r.selector, r.mtype, r.cert.hex()) for r in records]


def test_tlsa_record_holds_the_next_key_ahead_of_a_rollover(host, nameserver):
    """mail_tls keeps the next server key ready; its record is published before any daemon uses it."""
    next_key = load_pem_public_key(host.file("/etc/ssl/mailfort/next-public-key.pem").content)
    digest = hashlib.sha256(next_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).hexdigest()
    certificate = x509.load_pem_x509_certificate(host.file("/etc/ssl/mailfort/cert.pem").content)

    records = query(nameserver, f"_25._tcp.{server_name(host)}", "TLSA")

    assert len(records) == 2
    assert (3, 1, 1, digest) in [(r.usage, r.selector, r.mtype, r.cert.hex()) for r in records]
    assert next_key != certificate.public_key()


def test_someone_elses_txt_record_at_the_apex_survives_publishing(nameserver):
    texts = txt(nameserver, DOMAIN)

    assert "lab-site-verification=kept-by-publishing" in texts
    assert [t for t in texts if t.startswith("v=spf1")] == ["v=spf1 mx -all"]


def test_the_json_on_the_host_lists_what_the_server_serves(host, nameserver):
    written = json.loads(host.file(f"/etc/mailfort/dns/{DOMAIN}.json").content_string)
    assert host.file(f"/etc/mailfort/dns/{DOMAIN}.zone").mode == 0o644

    checked = 0
    for record in written["records"]:
        if record["type"] == "TXT":
            assert record["text"] in txt(nameserver, record["name"]), record["name"]
            checked += 1
    assert checked >= 5  # SPF, DMARC, _mta-sts, TLS-RPT, two DKIM keys


def test_the_mta_sts_policy_id_follows_the_policy(host, nameserver):
    policy = host.file("/var/www/mta-sts/.well-known/mta-sts.txt")
    assert policy.mode == 0o644
    lines = policy.content_string.split("\r\n")
    assert lines[:2] == ["version: STSv1", "mode: testing"]
    assert {f"mx: {NAMES[name]}" for name in MAIL_HOSTS} <= set(lines)

    records = [t for t in txt(nameserver, f"_mta-sts.{DOMAIN}") if t.startswith("v=STSv1")]
    assert len(records) == 1
    assert re.fullmatch(r"v=STSv1; id=[A-Za-z0-9]{1,32}", records[0]), records


def test_caa_names_the_certificate_authority_and_the_incident_address(nameserver):
    records = sorted(r.to_text() for r in query(nameserver, DOMAIN, "CAA"))

    assert records == ['0 iodef "mailto:security@lab.mailfort.test"', '0 issue "ca.lab.mailfort.test"']
