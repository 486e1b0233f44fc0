# SPDX-License-Identifier: MIT
"""Unit tests for the mail_tls filters (plugins/plugin_utils/tls.py):
the TLS policy, the certificate bundle check and the small validators."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import jinja2
import mail_tls
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.plugin_utils import tls
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# No example database: each run stands alone, whatever an earlier run on this machine found.
HYPOTHESIS = settings(database=None, max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
HOST = "mx.example.org"
MOZILLA_6_INTERMEDIATE_TLS12 = [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
]
MOZILLA_6_TLS13 = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]


# --------------------------------------------------------------------------------------------- test PKI


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ec_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve or ec.SECP256R1())


def make_cert(
    key: Any,
    common_name: str,
    *,
    issuer: tuple[x509.Certificate, Any] | None = None,
    public_key: Any = None,
    sans: list[x509.GeneralName] | None = None,
    days: float = 90,
    not_before: dt.datetime | None = None,
    ca: bool = False,
    issuer_name: x509.Name | None = None,
) -> x509.Certificate:
    """A certificate for key (or public_key), self-signed unless issuer=(cert, key) is given."""
    start = not_before or NOW - dt.timedelta(hours=1)
    signer = issuer[1] if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer_name or (issuer[0].subject if issuer else _name(common_name)))
        .public_key(public_key or key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans is None and not ca:
        sans = [x509.DNSName(HOST)]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) else hashes.SHA256()
    return builder.sign(signer, algorithm)


def pem(*certificates: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)


def key_pem(
    key: Any,
    fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
    encryption: serialization.KeySerializationEncryption | None = None,
) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption or serialization.NoEncryption()).decode()


@dataclass(frozen=True)
class Pki:
    root: x509.Certificate
    root_key: Any
    intermediate: x509.Certificate
    intermediate_key: Any
    other_root: x509.Certificate
    other_root_key: Any

    def leaf(self, key: Any, **kwargs: Any) -> x509.Certificate:
        return make_cert(key, HOST, issuer=(self.intermediate, self.intermediate_key), **kwargs)


@pytest.fixture(scope="session")
def pki() -> Pki:
    root_key, other_key, intermediate_key = _ec_key(ec.SECP384R1()), _ec_key(ec.SECP384R1()), _ec_key()
    root = make_cert(root_key, "Mailfort Test Root", ca=True, days=3650)
    intermediate = make_cert(intermediate_key, "Mailfort Test Intermediate", issuer=(root, root_key), ca=True)
    other_root = make_cert(other_key, "Other Root", ca=True, days=3650)
    return Pki(root, root_key, intermediate, intermediate_key, other_root, other_key)


@pytest.fixture(scope="session")
def rsa_keys() -> dict[int, rsa.RSAPrivateKey]:
    return {bits: rsa.generate_private_key(public_exponent=65537, key_size=bits) for bits in (1024, 2048, 3072)}


@pytest.fixture
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    monkeypatch.setattr(tls, "_utcnow", lambda: NOW)
    return NOW


def assert_no_key_material(message: str, secret_pem: str) -> None:
    """The message shows no PEM framing and no line of the key's base64 body."""
    assert "-----" not in message
    body = [line for line in secret_pem.splitlines() if line and not line.startswith("-----") and ":" not in line]
    assert body, "the test key has a body to look for"
    for line in body:
        assert line[:16] not in message


def raises_filter_error(match: str) -> Any:
    return pytest.raises(AnsibleFilterError, match=match)


# ------------------------------------------------------------------------------------------- the policy


@pytest.mark.parametrize(
    ("profile", "min_protocol", "protocols", "postfix_protocols"),
    [
        ("intermediate", "TLSv1.2", ["TLSv1.2", "TLSv1.3"], ">=TLSv1.2"),
        ("modern", "TLSv1.3", ["TLSv1.3"], ">=TLSv1.3"),
    ],
)
def test_policy_protocols_follow_the_profile(profile, min_protocol, protocols, postfix_protocols):
    policy = mail_tls.mail_tls_policy(profile)

    assert policy["profile"] == profile
    assert policy["min_protocol"] == min_protocol
    assert policy["protocols"] == protocols
    assert policy["postfix"]["smtpd_tls_protocols"] == postfix_protocols
    assert policy["postfix"]["smtpd_tls_mandatory_protocols"] == postfix_protocols
    assert policy["dovecot"]["2.3"]["ssl_min_protocol"] == min_protocol
    assert policy["dovecot"]["2.4"]["ssl_min_protocol"] == min_protocol


@pytest.mark.parametrize("profile", ["intermediate", "modern"])
def test_policy_has_exactly_the_agreed_shape_and_mozilla_common_values(profile):
    policy = mail_tls.mail_tls_policy(profile)

    assert list(policy) == [
        "profile",
        "min_protocol",
        "protocols",
        "tls12_ciphers",
        "tls13_ciphersuites",
        "groups",
        "server_preference",
        "postfix",
        "dovecot",
    ]
    assert policy["tls13_ciphersuites"] == MOZILLA_6_TLS13
    assert policy["groups"] == ["X25519", "prime256v1", "secp384r1"]
    assert policy["server_preference"] is False
    assert list(policy["dovecot"]) == ["2.3", "2.4"]


@pytest.mark.parametrize("profile", ["intermediate", "modern"])
def test_policy_daemon_values_are_all_strings(profile):
    policy = mail_tls.mail_tls_policy(profile, postfix_version="3.10.1")
    settings_maps = [policy["postfix"], policy["dovecot"]["2.3"], policy["dovecot"]["2.4"]]

    for settings_map in settings_maps:
        assert all(isinstance(key, str) and isinstance(value, str) for key, value in settings_map.items())


def test_intermediate_tls12_ciphers_are_mozilla_6_exactly():
    assert mail_tls.mail_tls_policy("intermediate")["tls12_ciphers"] == MOZILLA_6_INTERMEDIATE_TLS12


def test_intermediate_tls12_ciphers_are_only_ecdhe_with_aead():
    ciphers = mail_tls.mail_tls_policy("intermediate")["tls12_ciphers"]

    assert ciphers
    for cipher in ciphers:
        assert cipher.startswith(("ECDHE-ECDSA-", "ECDHE-RSA-"))  # no plain DHE-, no RSA key exchange
        assert "-GCM-" in cipher or cipher.endswith("-CHACHA20-POLY1305")
        assert "CBC" not in cipher
        assert not cipher.endswith("-SHA")  # the SHA-1 MAC suites
        assert not re.search(r"(^|-)DHE-", cipher)


def test_modern_has_no_tls12_cipher_settings_anywhere():
    policy = mail_tls.mail_tls_policy("modern")

    assert policy["tls12_ciphers"] == []
    for name in (
        "tls_high_cipherlist",
        "smtpd_tls_ciphers",
        "smtpd_tls_mandatory_ciphers",
        "smtpd_tls_exclude_ciphers",
    ):
        assert name not in policy["postfix"]
    assert "ssl_cipher_list" not in policy["dovecot"]["2.3"]
    assert "ssl_cipher_list" not in policy["dovecot"]["2.4"]


def test_intermediate_postfix_parameters_are_exact():
    assert mail_tls.mail_tls_policy("intermediate")["postfix"] == {
        "smtpd_tls_protocols": ">=TLSv1.2",
        "smtpd_tls_mandatory_protocols": ">=TLSv1.2",
        "smtpd_tls_ciphers": "high",
        "smtpd_tls_mandatory_ciphers": "high",
        "tls_high_cipherlist": ":".join(MOZILLA_6_INTERMEDIATE_TLS12),
        "smtpd_tls_exclude_ciphers": "aNULL, eNULL, kRSA, kDHE, SHA1",
        "tls_preempt_cipherlist": "no",
        "tls_ssl_options": "NO_COMPRESSION, NO_RENEGOTIATION",
        "tls_eecdh_auto_curves": "X25519 prime256v1 secp384r1",
    }


def test_modern_postfix_parameters_are_exact():
    assert mail_tls.mail_tls_policy("modern")["postfix"] == {
        "smtpd_tls_protocols": ">=TLSv1.3",
        "smtpd_tls_mandatory_protocols": ">=TLSv1.3",
        "tls_preempt_cipherlist": "no",
        "tls_ssl_options": "NO_COMPRESSION, NO_RENEGOTIATION",
        "tls_eecdh_auto_curves": "X25519 prime256v1 secp384r1",
    }


def test_submission_gets_the_same_values_as_opportunistic_smtpd():
    postfix = mail_tls.mail_tls_policy("intermediate")["postfix"]

    assert postfix["smtpd_tls_mandatory_protocols"] == postfix["smtpd_tls_protocols"]
    assert postfix["smtpd_tls_mandatory_ciphers"] == postfix["smtpd_tls_ciphers"]


def test_postfix_never_offers_dhe():
    postfix = mail_tls.mail_tls_policy("intermediate", postfix_version="3.10.1")["postfix"]

    assert "DHE-" not in postfix["tls_high_cipherlist"].replace("ECDHE-", "")
    assert "kDHE" in postfix["smtpd_tls_exclude_ciphers"]
    assert "ffdhe" not in postfix["tls_eecdh_auto_curves"].lower()
    assert postfix["tls_ffdhe_auto_groups"] == ""
    assert "smtpd_tls_dh1024_param_file" not in postfix


@pytest.mark.parametrize(
    ("postfix_version", "has_ffdhe_parameter"),
    [
        (None, False),
        ("", False),
        ("3.6", False),
        ("3.7", False),
        ("3.7.11", False),
        ("3.8", True),
        ("3.8.0", True),
        ("3.10.1", True),
        (" 3.10 ", True),
        ("3.10.0-1+deb13u1", True),
    ],
)
def test_tls_ffdhe_auto_groups_only_for_postfix_that_knows_it(postfix_version, has_ffdhe_parameter):
    postfix = mail_tls.mail_tls_policy("intermediate", postfix_version=postfix_version)["postfix"]

    assert ("tls_ffdhe_auto_groups" in postfix) is has_ffdhe_parameter


@pytest.mark.parametrize(
    ("postfix_version", "match"),
    [
        (3.10, r"postfix_version is the number 3\.1\b.*quote it"),
        (3, "postfix_version must be a string"),
        ("3.5.25", r"postfix_version = '3\.5\.25' is too old.*3\.6"),
        ("2.11", r"postfix_version = '2\.11' is too old"),
        ("three", r"postfix_version = 'three' is not a version"),
        ("3", r"postfix_version = '3' is not a version"),
    ],
)
def test_bad_postfix_version_is_refused(postfix_version, match):
    with raises_filter_error(f"^mail_tls_policy: {match}"):
        mail_tls.mail_tls_policy("intermediate", postfix_version=postfix_version)


def test_dovecot_23_settings_are_exact():
    assert mail_tls.mail_tls_policy("intermediate")["dovecot"]["2.3"] == {
        "ssl_min_protocol": "TLSv1.2",
        "ssl_cipher_list": ":".join(MOZILLA_6_INTERMEDIATE_TLS12),
        "ssl_cipher_suites": ":".join(MOZILLA_6_TLS13),
        "ssl_curve_list": "X25519:prime256v1:secp384r1",
        "ssl_prefer_server_ciphers": "no",
        "ssl_options": "no_compression",
    }


def test_dovecot_24_settings_are_exact():
    assert mail_tls.mail_tls_policy("intermediate")["dovecot"]["2.4"] == {
        "ssl_min_protocol": "TLSv1.2",
        "ssl_cipher_list": ":".join(MOZILLA_6_INTERMEDIATE_TLS12),
        "ssl_cipher_suites": ":".join(MOZILLA_6_TLS13),
        "ssl_curve_list": "X25519:prime256v1:secp384r1",
        "ssl_server_prefer_ciphers": "client",
        "ssl_options": "",
    }


@pytest.mark.parametrize("profile", ["intermediate", "modern"])
def test_dovecot_24_uses_ssl_server_prefer_ciphers_and_23_the_old_name(profile):
    dovecot = mail_tls.mail_tls_policy(profile)["dovecot"]

    assert dovecot["2.4"]["ssl_server_prefer_ciphers"] == "client"
    assert "ssl_prefer_server_ciphers" not in dovecot["2.4"]
    assert dovecot["2.3"]["ssl_prefer_server_ciphers"] == "no"
    assert "ssl_server_prefer_ciphers" not in dovecot["2.3"]


def test_dovecot_24_never_gets_the_no_compression_flag_it_rejects():
    for profile in ("intermediate", "modern"):
        assert "no_compression" not in mail_tls.mail_tls_policy(profile)["dovecot"]["2.4"]["ssl_options"]


def test_policy_returns_a_fresh_copy_each_time():
    first = mail_tls.mail_tls_policy("intermediate")
    first["tls12_ciphers"].append("NULL-MD5")
    first["postfix"]["tls_preempt_cipherlist"] = "yes"
    first["dovecot"]["2.4"].clear()
    first["groups"].clear()

    second = mail_tls.mail_tls_policy("intermediate")

    assert second["tls12_ciphers"] == MOZILLA_6_INTERMEDIATE_TLS12
    assert second["postfix"]["tls_preempt_cipherlist"] == "no"
    assert second["dovecot"]["2.4"]["ssl_server_prefer_ciphers"] == "client"
    assert second["groups"] == ["X25519", "prime256v1", "secp384r1"]


@pytest.mark.parametrize("profile", ["", "Intermediate", "old", " modern", None, 42, ["modern"], True])
def test_unknown_profile_names_the_variable_and_lists_the_profiles(profile):
    with raises_filter_error(
        r"^mail_tls_policy: mail_tls_profile = .* is not a TLS profile; use one of: intermediate, modern$"
    ):
        mail_tls.mail_tls_policy(profile)


def test_unknown_profile_error_uses_the_given_variable_name():
    with raises_filter_error(r"^mail_tls_policy: postfix_hardening_tls_profile = 'old' "):
        mail_tls.mail_tls_policy("old", "postfix_hardening_tls_profile")


# ------------------------------------------------------------------------------------------ bundle: happy


@dataclass(frozen=True)
class BundleCase:
    key: str
    days: float = 90
    chain: str = "intermediate"  # "", "intermediate", "intermediate+root"
    ca: bool = True


BUNDLE_CASES = {
    "EC P-256, 30 days, chain and CA": BundleCase("ec256", days=30),
    "EC P-384, no CA (public roots are in the client)": BundleCase("ec384", ca=False),
    "RSA 2048, root sent along, no CA": BundleCase("rsa2048", chain="intermediate+root", ca=False),
    "RSA 3072, exactly 366 days": BundleCase("rsa3072", days=366),
    "Ed25519": BundleCase("ed25519"),
    "chain ends with the CA itself": BundleCase("ec256", chain="intermediate+root"),
}


def _bundle_key(name: str, rsa_keys: dict[int, rsa.RSAPrivateKey]) -> Any:
    return {
        "ec256": _ec_key,
        "ec384": lambda: _ec_key(ec.SECP384R1()),
        "rsa2048": lambda: rsa_keys[2048],
        "rsa3072": lambda: rsa_keys[3072],
        "ed25519": ed25519.Ed25519PrivateKey.generate,
    }[name]()


@pytest.mark.parametrize("case", BUNDLE_CASES.values(), ids=BUNDLE_CASES.keys())
def test_valid_bundles_pass_and_report_their_facts(case, pki, rsa_keys, fixed_now):
    key = _bundle_key(case.key, rsa_keys)
    leaf = pki.leaf(key, days=case.days)
    chain = {"": "", "intermediate": pem(pki.intermediate), "intermediate+root": pem(pki.intermediate, pki.root)}

    facts = mail_tls.mail_tls_check_bundle(pem(leaf), key_pem(key), chain[case.chain], pem(pki.root) if case.ca else "")

    expected_type, expected_bits = {
        "ec256": ("EC", 256),
        "ec384": ("EC", 384),
        "rsa2048": ("RSA", 2048),
        "rsa3072": ("RSA", 3072),
        "ed25519": ("Ed25519", 256),
    }[case.key]
    assert facts == {
        "subject": f"CN={HOST}",
        "issuer": "CN=Mailfort Test Intermediate",
        "sans": [HOST],
        "not_before": leaf.not_valid_before_utc.isoformat(),
        "not_after": leaf.not_valid_after_utc.isoformat(),
        "lifetime_days": int(case.days),
        "days_left": int(case.days) - 1,  # issued an hour before "now"
        "key_type": expected_type,
        "key_bits": expected_bits,
        "fingerprint_sha256": leaf.fingerprint(hashes.SHA256()).hex(":").upper(),
        "chain_length": len(case.chain.split("+")) if case.chain else 0,
    }


def test_bundle_facts_are_plain_printable_values(pki):
    key = _ec_key()
    facts = mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), key_pem(key), pem(pki.intermediate))

    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", facts["fingerprint_sha256"])
    assert dt.datetime.fromisoformat(facts["not_after"]).tzinfo is not None
    assert all(isinstance(value, str | int | list) for value in facts.values())


def test_bundle_accepts_bytes_and_traditional_key_format_with_ec_parameters_block(pki):
    key = _ec_key()
    ec_parameters = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    traditional = key_pem(key, serialization.PrivateFormat.TraditionalOpenSSL)

    facts = mail_tls.mail_tls_check_bundle(
        pem(pki.leaf(key)).encode(), (ec_parameters + traditional).encode(), pem(pki.intermediate).encode()
    )

    assert facts["key_type"] == "EC"


def test_bundle_allows_a_leaf_issued_straight_by_the_ca(pki):
    key = _ec_key()
    leaf = make_cert(key, HOST, issuer=(pki.root, pki.root_key))

    facts = mail_tls.mail_tls_check_bundle(pem(leaf), key_pem(key), "", pem(pki.root))

    assert facts["chain_length"] == 0
    assert facts["issuer"] == "CN=Mailfort Test Root"


def test_bundle_allows_a_self_signed_leaf_without_chain_or_ca():
    key = _ec_key()

    facts = mail_tls.mail_tls_check_bundle(pem(make_cert(key, HOST)), key_pem(key), None, None)

    assert facts["subject"] == facts["issuer"] == f"CN={HOST}"


def test_bundle_reports_every_dns_name_of_the_leaf_lower_cased_once(pki):
    key = _ec_key()
    sans = [x509.DNSName("MX.Example.org"), x509.IPAddress(ipaddress.ip_address("192.0.2.1"))]
    sans += [x509.DNSName("*.example.org"), x509.DNSName("mx.example.org")]

    facts = mail_tls.mail_tls_check_bundle(pem(pki.leaf(key, sans=sans)), key_pem(key), pem(pki.intermediate))

    assert facts["sans"] == ["mx.example.org", "*.example.org"]


# --------------------------------------------------------------------------------- bundle: the certificate


@pytest.mark.parametrize(
    ("cert_text", "match"),
    [
        ("", r"mail_tls_cert holds no PEM certificate"),
        ("   \n", r"mail_tls_cert holds no PEM certificate"),
        ("hello", r"mail_tls_cert holds no PEM certificate"),
        ("-----BEGIN CERTIFICATE-----\nTUlJ\n", r"mail_tls_cert has a PEM block with broken framing"),
        (
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
            r"mail_tls_cert PEM block 1 \(BEGIN CERTIFICATE\) is not a valid X\.509 certificate",
        ),
        (
            "-----BEGIN PUBLIC KEY-----\nTUlJ\n-----END PUBLIC KEY-----\n",
            r"mail_tls_cert PEM block 1 is a 'PUBLIC KEY' block, expected 'CERTIFICATE'",
        ),
    ],
    ids=["empty", "blank", "not PEM", "broken framing", "bad DER", "wrong block type"],
)
def test_malformed_certificate_is_refused(cert_text, match):
    key = _ec_key()
    with raises_filter_error(f"^mail_tls_check_bundle: {match}"):
        mail_tls.mail_tls_check_bundle(cert_text, key_pem(key))


def test_certificate_parse_error_keeps_the_parser_internals_out_of_the_message():
    """ansible-core prints an error's cause: the ASN.1 parser's words (tags, offsets) must not be one."""
    bad = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"

    with raises_filter_error(
        r"^mail_tls_check_bundle: mail_tls_cert_pem PEM block 1 \(BEGIN CERTIFICATE\) is not a valid X\.509 "
        r"certificate: what lies between its BEGIN and END lines is damaged or is not a certificate"
    ) as caught:
        mail_tls.mail_tls_check_bundle(bad, key_pem(_ec_key()), names={"cert": "mail_tls_cert_pem"})

    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert "asn1" not in str(caught.value).lower()
    assert "ParseError" not in str(caught.value)


@pytest.mark.parametrize("value", [None, 42, ["pem"]])
def test_certificate_that_is_not_text_is_refused(value):
    with raises_filter_error(
        r"^mail_tls_check_bundle: mail_tls_cert must be PEM text \(a string\), got a value of type"
    ):
        mail_tls.mail_tls_check_bundle(value, key_pem(_ec_key()))


def test_certificate_variable_with_two_certificates_is_refused(pki):
    key = _ec_key()
    with raises_filter_error(r"mail_tls_cert holds 2 certificates; give only the leaf here .* mail_tls_chain"):
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key), pki.intermediate), key_pem(key))


def test_private_key_pasted_into_the_certificate_variable_is_refused_without_echo(pki):
    key = _ec_key()
    secret = key_pem(key)

    with raises_filter_error(r"mail_tls_cert contains a private key") as caught:
        mail_tls.mail_tls_check_bundle(secret + pem(pki.leaf(key)), secret)

    assert_no_key_material(str(caught.value), secret)


def test_ca_certificate_as_leaf_is_refused(pki):
    with raises_filter_error(r"mail_tls_cert \(CN=Mailfort Test Intermediate\) is a CA certificate"):
        mail_tls.mail_tls_check_bundle(pem(pki.intermediate), key_pem(pki.intermediate_key), pem(pki.root))


@pytest.mark.parametrize(
    ("sans", "match"),
    [
        ([], r"mail_tls_cert \(CN=mx\.example\.org\) has no subjectAltName"),
        (
            [x509.IPAddress(ipaddress.ip_address("192.0.2.25"))],
            r"mail_tls_cert \(CN=mx\.example\.org\) has a subjectAltName without any DNS name",
        ),
    ],
    ids=["no SAN", "IP-only SAN"],
)
def test_leaf_without_dns_san_is_refused(sans, match, pki):
    key = _ec_key()
    with raises_filter_error(match):
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key, sans=sans)), key_pem(key), pem(pki.intermediate))


def test_expired_leaf_is_refused(pki):
    key = _ec_key()
    leaf = pki.leaf(key, not_before=NOW - dt.timedelta(days=100), days=90)

    with raises_filter_error(r"mail_tls_cert \(CN=mx\.example\.org\) has expired: notAfter was 20\d\d-"):
        mail_tls.mail_tls_check_bundle(pem(leaf), key_pem(key), pem(pki.intermediate))


def test_not_yet_valid_leaf_is_refused(pki):
    key = _ec_key()
    leaf = pki.leaf(key, not_before=NOW + dt.timedelta(days=2))

    with raises_filter_error(r"mail_tls_cert \(CN=mx\.example\.org\) is not valid yet: notBefore is 20\d\d-"):
        mail_tls.mail_tls_check_bundle(pem(leaf), key_pem(key), pem(pki.intermediate))


@pytest.mark.parametrize(
    ("days", "max_lifetime_days", "match"),
    [
        (400, 366, "has a lifetime of 400 days .* at most 366 are allowed"),
        (367, 366, "has a lifetime of 367 days"),
        (366.5, 366, "has a lifetime of 367 days"),
        (91, 90, "has a lifetime of 91 days .* at most 90 are allowed"),
    ],
)
def test_leaf_living_too_long_is_refused(days, max_lifetime_days, match, pki):
    key = _ec_key()
    leaf = pki.leaf(key, days=days)

    with raises_filter_error(rf"^mail_tls_check_bundle: mail_tls_cert \(CN=mx\.example\.org\) {match}"):
        mail_tls.mail_tls_check_bundle(pem(leaf), key_pem(key), pem(pki.intermediate), "", max_lifetime_days)


@pytest.mark.parametrize("max_lifetime_days", [0, -5, "abc", True, 3.5, None])
def test_bad_max_lifetime_days_is_refused(max_lifetime_days, pki):
    key = _ec_key()
    with raises_filter_error(r"^mail_tls_check_bundle: max_lifetime_days = .* must be a whole number of days >= 1"):
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), key_pem(key), max_lifetime_days=max_lifetime_days)


def test_max_lifetime_days_may_be_a_numeric_string(pki):
    key = _ec_key()
    facts = mail_tls.mail_tls_check_bundle(pem(pki.leaf(key, days=30)), key_pem(key), max_lifetime_days="30")

    assert facts["lifetime_days"] == 30


# ----------------------------------------------------------------------------------------- bundle: the key


def _encrypted(key: Any, fmt: serialization.PrivateFormat) -> str:
    return key_pem(key, fmt, serialization.BestAvailableEncryption(b"correct horse battery staple"))


KEY_ERRORS = {
    "no key at all": (lambda key, cert: "", r"mail_tls_key holds no PEM private key"),
    "a certificate instead": (lambda key, cert: cert, r"mail_tls_key holds no PEM private key"),
    "two keys": (lambda key, cert: key_pem(key) + key_pem(_ec_key()), r"mail_tls_key holds 2 private keys"),
    "encrypted PKCS#8": (
        lambda key, cert: _encrypted(key, serialization.PrivateFormat.PKCS8),
        r"mail_tls_key is an encrypted private key; Postfix and Dovecot start unattended and need it unencrypted",
    ),
    "encrypted traditional": (
        lambda key, cert: _encrypted(key, serialization.PrivateFormat.TraditionalOpenSSL),
        r"mail_tls_key is an encrypted private key",
    ),
    "OpenSSH format": (
        lambda key, cert: key_pem(key, serialization.PrivateFormat.OpenSSH),
        r"mail_tls_key could not be read as a PEM private key \(PKCS#8 or traditional",
    ),
    "garbage inside the block": (
        lambda key, cert: key_pem(key).replace(key_pem(key).splitlines()[2], "Z" * 64),
        r"mail_tls_key could not be read as a PEM private key",
    ),
    "broken framing": (
        lambda key, cert: key_pem(key).replace("-----END PRIVATE KEY-----", ""),
        r"mail_tls_key has a PEM block with broken framing",
    ),
}


@pytest.mark.parametrize(("make_key_text", "match"), KEY_ERRORS.values(), ids=KEY_ERRORS.keys())
def test_unusable_key_is_refused_without_showing_it(make_key_text, match, pki):
    key = _ec_key()
    cert = pem(pki.leaf(key))
    key_text = make_key_text(key, cert)

    with raises_filter_error(f"^mail_tls_check_bundle: {match}") as caught:
        mail_tls.mail_tls_check_bundle(cert, key_text, pem(pki.intermediate))

    assert_no_key_material(str(caught.value), key_pem(key))


@pytest.mark.parametrize("fmt", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.OpenSSH])
def test_key_parse_errors_do_not_carry_the_parser_message(fmt, pki):
    key = _ec_key()
    text = key_pem(key, fmt)
    if fmt is serialization.PrivateFormat.PKCS8:
        text = text.replace(text.splitlines()[1], "A" * 64)

    with raises_filter_error("mail_tls_key could not be read") as caught:
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), text)

    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True


def test_key_that_is_not_text_is_refused(pki):
    with raises_filter_error(r"^mail_tls_check_bundle: mail_tls_key must be PEM text"):
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(_ec_key())), None)


@pytest.mark.parametrize(
    ("make_key", "match"),
    [
        (lambda keys: keys[1024], r"mail_tls_key is an RSA key of 1024 bits; at least 2048 are needed"),
        (lambda keys: _ec_key(ec.SECP521R1()), r"mail_tls_key is an EC key on curve secp521r1; only P-256 and P-384"),
        (lambda keys: _ec_key(ec.SECP256K1()), r"mail_tls_key is an EC key on curve secp256k1"),
        (
            lambda keys: ed448.Ed448PrivateKey.generate(),
            r"mail_tls_key has the unsupported key type Ed448PrivateKey; only RSA, EC",
        ),
    ],
    ids=["RSA 1024", "EC P-521", "EC secp256k1", "Ed448"],
)
def test_weak_or_unsupported_key_is_refused_without_showing_it(make_key, match, rsa_keys, pki):
    key = make_key(rsa_keys)
    secret = key_pem(key)

    with raises_filter_error(f"^mail_tls_check_bundle: {match}") as caught:
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), secret, pem(pki.intermediate))

    assert_no_key_material(str(caught.value), secret)


def test_key_of_another_certificate_is_refused_without_showing_it(pki):
    key, other = _ec_key(), _ec_key()
    secret = key_pem(other)

    with raises_filter_error(
        r"^mail_tls_check_bundle: mail_tls_key does not belong to mail_tls_cert \(CN=mx\.example\.org\): "
        r"the public keys differ$"
    ) as caught:
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), secret, pem(pki.intermediate))

    assert_no_key_material(str(caught.value), secret)


# --------------------------------------------------------------------------------------- bundle: the chain


def test_chain_in_the_wrong_order_is_refused(pki):
    key = _ec_key()
    with raises_filter_error(
        r"mail_tls_chain\[0\] \(CN=Mailfort Test Root\) did not issue mail_tls_cert: "
        r"the issuer of mail_tls_cert is CN=Mailfort Test Intermediate"
    ) as caught:
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), key_pem(key), pem(pki.root, pki.intermediate))

    assert isinstance(caught.value.__cause__, ValueError)


def test_chain_link_with_the_right_name_but_the_wrong_key_is_refused(pki):
    key = _ec_key()
    impostor_key = _ec_key()
    impostor = make_cert(impostor_key, "Mailfort Test Intermediate", issuer=(pki.root, pki.root_key), ca=True)

    with raises_filter_error(
        r"mail_tls_chain\[0\] \(CN=Mailfort Test Intermediate\) did not sign mail_tls_cert: its signature does not"
    ):
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), key_pem(key), pem(impostor))


def test_second_chain_link_is_checked_too(pki):
    key = _ec_key()
    with raises_filter_error(r"mail_tls_chain\[1\] \(CN=Other Root\) did not issue mail_tls_chain\[0\]"):
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), key_pem(key), pem(pki.intermediate, pki.other_root))


def test_chain_starting_with_the_leaf_itself_is_refused(pki):
    key = _ec_key()
    leaf = pki.leaf(key)

    with raises_filter_error(r"mail_tls_chain starts with mail_tls_cert itself; give only the intermediates"):
        mail_tls.mail_tls_check_bundle(pem(leaf), key_pem(key), pem(leaf, pki.intermediate))


def test_chain_issuer_whose_key_cannot_sign_is_refused(pki):
    key = _ec_key()
    odd = make_cert(
        pki.intermediate_key,
        "Odd Issuer",
        issuer=(pki.root, pki.root_key),
        public_key=x25519.X25519PrivateKey.generate().public_key(),
        ca=True,
    )
    leaf = make_cert(key, HOST, issuer=(odd, pki.intermediate_key))

    with raises_filter_error(r"mail_tls_chain\[0\] \(CN=Odd Issuer\) has a key type that cannot verify mail_tls_cert"):
        mail_tls.mail_tls_check_bundle(pem(leaf), key_pem(key), pem(odd))


def test_self_signed_top_must_verify_against_itself(pki):
    key = _ec_key()
    forged_root = make_cert(
        pki.other_root_key, "Mailfort Test Root", public_key=pki.root_key.public_key(), ca=True, days=3650
    )

    with raises_filter_error(r"mail_tls_chain\[1\] \(CN=Mailfort Test Root\) did not sign mail_tls_chain\[1\]"):
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), key_pem(key), pem(pki.intermediate, forged_root))


@pytest.mark.parametrize(
    ("chain_text", "match"),
    [
        ("junk", r"mail_tls_chain holds no PEM certificate"),
        (
            "-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n",
            r"mail_tls_chain PEM block 1 \(BEGIN CERTIFICATE\) is not",
        ),
        (42, r"mail_tls_chain must be PEM text"),
    ],
)
def test_malformed_chain_is_refused(chain_text, match, pki):
    key = _ec_key()
    with raises_filter_error(f"^mail_tls_check_bundle: {match}"):
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), key_pem(key), chain_text)


def test_private_key_in_the_chain_is_refused_without_showing_it(pki):
    key = _ec_key()
    secret = key_pem(key)

    with raises_filter_error(r"mail_tls_chain contains a private key") as caught:
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), secret, pem(pki.intermediate) + secret)

    assert_no_key_material(str(caught.value), secret)


# ------------------------------------------------------------------------------------------ bundle: the CA


def test_chain_not_issued_by_the_given_ca_is_refused(pki):
    key = _ec_key()
    with raises_filter_error(
        r"^mail_tls_check_bundle: mail_tls_ca \(CN=Other Root\) did not issue mail_tls_chain\[0\]"
    ) as caught:
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), key_pem(key), pem(pki.intermediate), pem(pki.other_root))

    assert caught.value.__cause__ is not None


def test_leaf_not_issued_by_the_given_ca_is_refused_when_there_is_no_chain(pki):
    key = _ec_key()
    with raises_filter_error(r"mail_tls_ca \(CN=Mailfort Test Root\) did not issue mail_tls_cert"):
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), key_pem(key), "", pem(pki.root))


@pytest.mark.parametrize(
    ("ca_text", "match"),
    [
        ("junk", r"mail_tls_ca holds no PEM certificate"),
        ("two", r"mail_tls_ca holds 2 certificates; give exactly one trust anchor"),
        ("key", r"mail_tls_ca contains a private key"),
    ],
)
def test_malformed_ca_is_refused(ca_text, match, pki):
    key = _ec_key()
    value = {"junk": "junk", "two": pem(pki.root, pki.other_root), "key": key_pem(pki.root_key)}[ca_text]

    with raises_filter_error(f"^mail_tls_check_bundle: {match}"):
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), key_pem(key), pem(pki.intermediate), value)


def test_bundle_errors_use_the_given_variable_prefix(pki):
    key = _ec_key()
    with raises_filter_error(r"^mail_tls_check_bundle: mailfort_tls_key does not belong to mailfort_tls_cert"):
        mail_tls.mail_tls_check_bundle(pem(pki.leaf(key)), key_pem(_ec_key()), varname="mailfort_tls")


# ----------------------------------------------------------------------------------------------- lifetime


@pytest.mark.parametrize(
    ("days", "maximum", "expected"),
    [(1, 366, 1), (366, 366, 366), (90, 366, 90), ("30", 366, 30), (" 90 ", 366, 90), ("825", "825", 825)],
)
def test_lifetime_accepts_whole_numbers_in_range(days, maximum, expected):
    assert mail_tls.mail_tls_check_lifetime(days, maximum=maximum) == expected


@pytest.mark.parametrize(
    ("days", "match"),
    [
        (0, r"mail_tls_lifetime_days = 0 must be between 1 and 366 days"),
        (367, r"mail_tls_lifetime_days = 367 must be between 1 and 366 days"),
        (-1, r"mail_tls_lifetime_days = -1 must be between 1 and 366 days"),
        ("abc", r"mail_tls_lifetime_days = 'abc' must be a whole number of days"),
        ("", r"mail_tls_lifetime_days = '' must be a whole number of days"),
        ("3.5", r"mail_tls_lifetime_days = '3\.5' must be a whole number"),
        ("-3", r"mail_tls_lifetime_days = '-3' must be a whole number"),
        (30.0, r"mail_tls_lifetime_days = 30\.0 must be a whole number"),
        (True, r"mail_tls_lifetime_days = True must be a whole number"),
        (None, r"mail_tls_lifetime_days = None must be a whole number"),
        ([30], r"mail_tls_lifetime_days = \[30\] must be a whole number"),
    ],
)
def test_lifetime_out_of_range_or_not_a_number_is_refused(days, match):
    with raises_filter_error(f"^mail_tls_check_lifetime: {match}"):
        mail_tls.mail_tls_check_lifetime(days)


def test_lifetime_error_uses_the_given_variable_name():
    with raises_filter_error(r"^mail_tls_check_lifetime: dovecot_hardening_cert_days = 400 must be between 1 and 90"):
        mail_tls.mail_tls_check_lifetime(400, "dovecot_hardening_cert_days", 90)


@pytest.mark.parametrize("maximum", [0, "x", True, None])
def test_lifetime_with_a_bad_maximum_is_refused(maximum):
    with raises_filter_error(r"^mail_tls_check_lifetime: maximum = .* must be a whole number >= 1"):
        mail_tls.mail_tls_check_lifetime(30, maximum=maximum)


# ---------------------------------------------------------------------------------------------------- SANs


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["MX.Example.ORG"], ["mx.example.org"]),
        (
            ["b.example.org", "A.example.org", "a.example.org", "B.EXAMPLE.ORG"],
            ["b.example.org", "a.example.org"],
        ),
        (["*.example.org", "example.org"], ["*.example.org", "example.org"]),
        (("mail.xn--bcher-kva.example",), ["mail.xn--bcher-kva.example"]),
        (["a" * 63 + ".example.org"], ["a" * 63 + ".example.org"]),
        ([".".join(["a" * 63] * 3) + "." + "b" * 61], [".".join(["a" * 63] * 3) + "." + "b" * 61]),
        (["smtp-1.mail.example.org", "0mx.example.org"], ["smtp-1.mail.example.org", "0mx.example.org"]),
    ],
    ids=["lower-cased", "deduplicated in order", "wildcard", "punycode tuple", "63-char label", "253 chars", "LDH"],
)
def test_valid_san_lists_are_normalised(names, expected):
    assert mail_tls.mail_tls_check_sans(names) == expected


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "it is empty"),
        ("localhost", "at least 2 labels"),
        ("example..", "empty label"),
        (".example.org", "empty label"),
        ("mx..example.org", "empty label"),
        ("-mx.example.org", "labels are letters, digits and inner hyphens"),
        ("mx-.example.org", "labels are letters, digits and inner hyphens"),
        ("mx_1.example.org", "labels are letters, digits and inner hyphens"),
        ("mx example.org", "labels are letters, digits and inner hyphens"),
        ("*.org", r"a wildcard needs at least two labels after it"),
        ("*", r"a wildcard needs at least two labels after it"),
        ("f*o.example.org", r"only allowed as the whole leftmost label"),
        ("mail.*.example.org", r"only allowed as the whole leftmost label"),
        ("*.*.example.org", r"only allowed as the whole leftmost label"),
        ("192.0.2.1", "last label is all digits"),
        ("mx.example.123", "last label is all digits"),
        ("bücher.example", "non-ASCII"),
        ("\u212aelvin.example.org", "non-ASCII"),  # Kelvin sign: lower-cases to an ASCII "k"
        ("a" * 64 + ".example.org", "longer than 63 characters"),
        (".".join(["a" * 63] * 3) + "." + "b" * 62, "longer than 253 characters"),
    ],
)
def test_invalid_host_names_are_refused_with_the_entry_and_the_reason(name, reason):
    names = ["ok.example.org", name]

    with raises_filter_error(rf"^mail_tls_check_sans: mail_tls_san_dns\[1\] = {re.escape(repr(name)[:40])}.*{reason}"):
        mail_tls.mail_tls_check_sans(names)


@pytest.mark.parametrize(
    ("names", "match"),
    [
        ("mx.example.org", r"mail_tls_san_dns = 'mx\.example\.org' must be a list of host names, not one string"),
        (b"mx.example.org", r"mail_tls_san_dns = b'mx\.example\.org' must be a list of host names, not one string"),
        (None, r"mail_tls_san_dns must be a list of host names, got NoneType"),
        ({"mx.example.org": 1}, r"mail_tls_san_dns must be a list of host names, got dict"),
        ([], r"mail_tls_san_dns is empty; a certificate needs at least one DNS name"),
        (["mx.example.org", 42], r"mail_tls_san_dns\[1\] = 42 must be a string"),
        ([None], r"mail_tls_san_dns\[0\] = None must be a string"),
    ],
)
def test_san_values_that_are_not_a_list_of_strings_are_refused(names, match):
    with raises_filter_error(f"^mail_tls_check_sans: {match}"):
        mail_tls.mail_tls_check_sans(names)


def test_san_error_uses_the_given_variable_name_and_cuts_long_values():
    with raises_filter_error(r"^mail_tls_check_sans: postfix_hardening_san\[0\] = '_{60}[^']*\.\.\. is not") as caught:
        mail_tls.mail_tls_check_sans(["_" * 500], "postfix_hardening_san")

    assert len(str(caught.value)) < 300


LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)
TOP_LABEL = st.from_regex(r"[a-z](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@st.composite
def host_names(draw: st.DrawFn) -> str:
    labels = draw(st.lists(LABEL, min_size=1, max_size=3))
    wildcard = ["*"] if draw(st.booleans()) else []
    name = ".".join([*wildcard, *labels, draw(TOP_LABEL)])  # at most 2 + 3 * 64 + 22 characters: always <= 253
    return draw(st.sampled_from([name, name.upper(), name.title()]))


@HYPOTHESIS
@given(st.lists(host_names(), min_size=1, max_size=6))
def test_generated_valid_names_round_trip_lower_cased_and_deduplicated(names):
    assert mail_tls.mail_tls_check_sans(names) == list(dict.fromkeys(name.lower() for name in names))


@HYPOTHESIS
@given(st.lists(host_names(), min_size=1, max_size=6))
def test_checked_san_lists_are_stable_when_checked_again(names):
    once = mail_tls.mail_tls_check_sans(names)

    assert mail_tls.mail_tls_check_sans(once) == once


JUNK_ITEM = st.one_of(st.text(), st.binary(), st.integers(), st.floats(), st.none(), st.booleans())


def check_sans_outcome(value: Any) -> tuple[list[str] | None, AnsibleFilterError | None]:
    """The filter's result, or the filter error it raised; any other exception escapes and fails the test."""
    try:
        return mail_tls.mail_tls_check_sans(value), None
    except AnsibleFilterError as e:
        return None, e


@HYPOTHESIS
@given(st.one_of(JUNK_ITEM, st.lists(JUNK_ITEM, max_size=5), st.dictionaries(st.text(), st.text(), max_size=2)))
def test_random_junk_never_fails_with_anything_but_a_filter_error(value):
    result, error = check_sans_outcome(value)

    if error is not None:
        assert str(error).startswith("mail_tls_check_sans: mail_tls_san_dns")
    else:
        assert result
        assert all(isinstance(name, str) and name == name.lower() for name in result)


@HYPOTHESIS
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_any_single_string_entry_is_either_clean_ascii_or_refused(text):
    result, error = check_sans_outcome([text])

    if error is not None:
        assert "mail_tls_san_dns[0]" in str(error)
    else:
        (name,) = result
        assert name.isascii()
        assert re.fullmatch(r"(\*\.)?([a-z0-9-]+\.)+[a-z0-9-]+", name)
        assert len(name) <= 253


# -------------------------------------------------------------------------------- undefined and plumbing


@pytest.mark.parametrize("undefined_class", [jinja2.StrictUndefined, jinja2.Undefined])
@pytest.mark.parametrize(
    "call",
    [
        mail_tls.mail_tls_policy,
        mail_tls.mail_tls_check_lifetime,
        mail_tls.mail_tls_check_sans,
        lambda u: mail_tls.mail_tls_check_sans(["mx.example.org", u]),
        lambda u: mail_tls.mail_tls_check_bundle(u, ""),
    ],
    ids=["policy", "lifetime", "sans", "sans entry", "bundle"],
)
def test_undefined_values_raise_the_undefined_error_not_a_filter_error(call, undefined_class):
    with pytest.raises(jinja2.UndefinedError, match="is undefined"):
        call(undefined_class(name="mailfort_missing"))


# --- mail_tls_uncovered_names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "sans", "uncovered"),
    [
        (["mail.example.org"], ["mail.example.org"], []),
        (["MAIL.example.org"], ["mail.EXAMPLE.org"], []),
        (["mail.example.org", "mx.example.org"], ["*.example.org"], []),
        (["mail.example.org."], ["mail.example.org"], []),
        (["example.org"], ["*.example.org"], ["example.org"]),
        (["a.b.example.org"], ["*.example.org"], ["a.b.example.org"]),
        (["mail.example.net"], ["*.example.org", "mail.example.org"], ["mail.example.net"]),
        (["imap.example.org", "smtp.example.org"], ["smtp.example.org"], ["imap.example.org"]),
        ([], ["mail.example.org"], []),
        (["mail.example.org"], [], ["mail.example.org"]),
    ],
)
def test_uncovered_names_match_like_tls_clients(names, sans, uncovered):
    assert mail_tls.mail_tls_uncovered_names(names, sans) == uncovered


def test_a_wildcard_in_the_name_to_check_is_only_covered_by_the_same_wildcard():
    assert mail_tls.mail_tls_uncovered_names(["*.example.org"], ["*.example.org"]) == []
    assert mail_tls.mail_tls_uncovered_names(["*.example.org"], ["mail.example.org"]) == ["*.example.org"]


@pytest.mark.parametrize(
    ("names", "sans", "match"),
    [
        ("mail.example.org", ["mail.example.org"], r"the names to check must be a list"),
        (["mail.example.org"], "mail.example.org", r"sans must be a list"),
        ([42], ["mail.example.org"], r"the names to check holds 42"),
        (["mail.example.org"], [None], r"sans holds None"),
    ],
)
def test_uncovered_names_refuses_what_is_not_a_list_of_names(names, sans, match):
    with pytest.raises(AnsibleFilterError, match=rf"mail_tls_uncovered_names: .*{match}"):
        mail_tls.mail_tls_uncovered_names(names, sans)
