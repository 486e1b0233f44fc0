# SPDX-License-Identifier: MIT
"""mail_dkim_keys: DKIM keys completed with their defaults and paths, and clear errors for bad input, never showing
a private key."""

from __future__ import annotations

import re

import mail_dkim
import pytest
from ansible.errors import AnsibleFilterError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import StrictUndefined

DOMAIN = "example.org"
RSA = {"domain": DOMAIN, "selector": "mail2026"}
ED25519 = {"domain": DOMAIN, "selector": "mail2026e", "algorithm": "ed25519"}


def pem(key, encryption=None) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        encryption or serialization.NoEncryption(),
    ).decode()


def public_pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="session")
def rsa_keys():
    return {bits: rsa.generate_private_key(public_exponent=65537, key_size=bits) for bits in (1024, 2048, 3072)}


@pytest.fixture(scope="session")
def ed25519_key():
    return ed25519.Ed25519PrivateKey.generate()


def keys(*entries, key_dir="/etc/opendkim/keys"):
    return mail_dkim.mail_dkim_keys(list(entries), key_dir, "my_keys")


def test_an_rsa_key_gets_its_defaults_name_and_paths():
    assert keys(RSA) == [
        {
            "index": 0,
            "domain": DOMAIN,
            "selector": "mail2026",
            "algorithm": "rsa",
            "bits": 2048,
            "signing": True,
            "state": "present",
            "supplied": False,
            "public_key": "",
            "key_name": "mail2026._domainkey.example.org",
            "private_path": "/etc/opendkim/keys/example.org/mail2026.private",
            "public_path": "/etc/opendkim/keys/example.org/mail2026.pub",
        }
    ]


def test_an_ed25519_key_has_no_size_and_signs_beside_rsa():
    result = keys(RSA, ED25519)

    assert [(k["algorithm"], k["bits"], k["signing"]) for k in result] == [("rsa", 2048, True), ("ed25519", None, True)]


@pytest.mark.parametrize("bits", [2048, 3072, 4096, "3072"])
def test_rsa_sizes_from_2048_to_4096_are_accepted(bits):
    assert keys(RSA | {"bits": bits})[0]["bits"] == int(bits)


def test_domain_and_selector_are_lower_cased():
    result = keys({"domain": "Example.ORG", "selector": "Mail-2026.A"})[0]

    assert (result["domain"], result["selector"]) == ("example.org", "mail-2026.a")
    assert result["key_name"] == "mail-2026.a._domainkey.example.org"


def test_a_retired_key_never_signs_whatever_signing_says():
    result = keys(RSA | {"selector": "old", "state": "absent"}, RSA)

    assert (result[0]["state"], result[0]["signing"]) == ("absent", False)


def test_a_published_key_that_does_not_sign_is_kept_for_rotation():
    result = keys(RSA, RSA | {"selector": "next", "signing": False})

    assert [(k["selector"], k["signing"]) for k in result] == [("mail2026", True), ("next", False)]


def test_a_domain_whose_keys_are_all_retired_needs_no_signing_key():
    result = keys(RSA | {"state": "absent"}, {"domain": "example.net", "selector": "s1"})

    assert [k["signing"] for k in result] == [False, True]


def test_a_key_dir_with_a_trailing_slash_gives_clean_paths():
    assert keys(RSA, key_dir="/srv/dkim/")[0]["private_path"] == "/srv/dkim/example.org/mail2026.private"


def test_a_supplied_rsa_key_is_checked_and_its_public_key_returned(rsa_keys):
    result = keys(RSA | {"private_key": pem(rsa_keys[3072])})[0]

    assert (result["supplied"], result["bits"]) == (True, 3072)
    assert result["public_key"] == public_pem(rsa_keys[3072])


def test_a_supplied_ed25519_key_is_checked_and_its_public_key_returned(ed25519_key):
    result = keys(RSA, ED25519 | {"private_key": pem(ed25519_key)})[1]

    assert result["supplied"]
    assert result["public_key"] == public_pem(ed25519_key)


def test_a_traditional_rsa_key_is_accepted(rsa_keys):
    traditional = (
        rsa_keys[2048]
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        .decode()
    )

    assert keys(RSA | {"private_key": traditional})[0]["bits"] == 2048


@pytest.mark.parametrize("empty", ["", None])
def test_an_empty_private_key_means_generate_on_the_host(empty):
    assert keys(RSA | {"private_key": empty})[0]["supplied"] is False


def test_the_result_never_holds_the_private_key(rsa_keys):
    secret = pem(rsa_keys[2048])

    result = keys(RSA | {"private_key": secret})

    assert "PRIVATE KEY" not in repr(result)
    assert secret.splitlines()[1] not in repr(result)


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ([RSA | {"selector": "mail_2026"}], r"my_keys\[0\]\.selector = 'mail_2026' is not a DKIM selector"),
        ([RSA | {"selector": "mail 2026"}], r"my_keys\[0\]\.selector = 'mail 2026' .*has ' '"),
        ([RSA | {"selector": "-mail"}], r"my_keys\[0\]\.selector = '-mail' .*inner hyphens"),
        ([RSA | {"selector": "a..b"}], r"my_keys\[0\]\.selector = 'a\.\.b' .*empty label"),
        ([RSA | {"selector": "x" * 64}], r"my_keys\[0\]\.selector = 'x+' .*longer than 63 characters"),
        ([RSA | {"selector": "sél"}], r"my_keys\[0\]\.selector = 'sél' .*has non-ASCII characters"),
        ([RSA | {"selector": ""}], r"my_keys\[0\]\.selector = '' .*it is empty"),
        ([RSA | {"selector": 2026}], r"my_keys\[0\]\.selector = 2026 .*must be a string, got int"),
        ([RSA | {"domain": "localhost"}], r"my_keys\[0\]\.domain = 'localhost' .*at least 2 labels"),
        ([RSA | {"domain": "example.org.."}], r"my_keys\[0\]\.domain = 'example\.org\.\.' .*empty label"),
        ([RSA | {"domain": "192.0.2.1"}], r"my_keys\[0\]\.domain = '192\.0\.2\.1' .*all digits"),
        ([RSA | {"domain": "ex*ample.org"}], r"my_keys\[0\]\.domain = 'ex\*ample\.org' .*wildcard is only allowed"),
        ([RSA | {"bits": 1024}], r"my_keys\[0\]\.bits = 1024 is too small: .*2048 bits .*RFC 8301"),
        ([RSA | {"bits": 2500}], r"my_keys\[0\]\.bits = 2500 must be one of: 2048, 3072, 4096"),
        ([RSA | {"bits": "big"}], r"my_keys\[0\]\.bits = 'big' must be a whole number of bits"),
        ([RSA | {"bits": True}], r"my_keys\[0\]\.bits = True must be a whole number of bits"),
        ([RSA, ED25519 | {"bits": 256}], r"my_keys\[1\]\.bits = 256 applies to rsa keys only"),
        ([RSA | {"algorithm": "ecdsa"}], r"my_keys\[0\]\.algorithm = 'ecdsa' must be one of: rsa, ed25519"),
        ([RSA | {"state": "retired"}], r"my_keys\[0\]\.state = 'retired' must be one of: present, absent"),
        ([RSA | {"signing": "yes"}], r"my_keys\[0\]\.signing = 'yes' must be true or false"),
        ([RSA | {"algoritm": "rsa"}], r"my_keys\[0\] has the unknown key 'algoritm'; a key takes domain, selector"),
        ([{"domain": DOMAIN}], r"my_keys\[0\] has no selector"),
        ([{"selector": "s1"}], r"my_keys\[0\] has no domain"),
        (["example.org"], r"my_keys\[0\] = 'example\.org' must be a dict"),
        ([RSA, RSA | {"selector": "MAIL2026"}], r"my_keys\[1\] repeats selector mail2026 of domain example\.org"),
        ([RSA | {"signing": False}], r"my_keys has no signing key for example\.org: my_keys\[0\] are present"),
        ([RSA | {"signing": False}, ED25519], r"my_keys signs example\.org with Ed25519 only .*RFC 8463"),
        ([ED25519], r"my_keys signs example\.org with Ed25519 only"),
    ],
)
def test_bad_keys_are_refused_naming_the_variable_and_rule(entries, match):
    with pytest.raises(AnsibleFilterError, match=rf"^mail_dkim_keys: {match}"):
        keys(*entries)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ([], r"my_keys is empty"),
        ("example.org", r"my_keys must be a list of keys"),
        ({"domain": DOMAIN}, r"my_keys must be a list of keys"),
        (None, r"my_keys must be a list of keys"),
    ],
)
def test_a_value_that_is_no_list_of_keys_is_refused(value, match):
    with pytest.raises(AnsibleFilterError, match=rf"^mail_dkim_keys: {match}"):
        mail_dkim.mail_dkim_keys(value, "/etc/opendkim/keys", "my_keys")


@pytest.mark.parametrize("key_dir", ["etc/opendkim", "/etc/open dkim", "/etc/dkim:keys", "", 5])
def test_a_key_dir_that_cannot_go_into_a_key_table_is_refused(key_dir):
    with pytest.raises(AnsibleFilterError, match=r"^mail_dkim_keys: key_dir = .* must be an absolute path"):
        keys(RSA, key_dir=key_dir)


def test_the_selector_in_the_whole_record_name_may_not_pass_253_characters():
    long_domain = ".".join(["d" * 60] * 4)
    with pytest.raises(AnsibleFilterError, match=r"my_keys\[0\]\.selector = .* longer than 253 characters"):
        keys({"domain": long_domain, "selector": "s" * 10})


def test_a_supplied_key_too_small_is_refused_without_showing_it(rsa_keys):
    secret = pem(rsa_keys[1024])

    with pytest.raises(AnsibleFilterError, match=r"my_keys\[0\]\.private_key is an RSA key of 1024 bits") as raised:
        keys(RSA | {"private_key": secret})

    assert secret.splitlines()[1] not in str(raised.value)
    assert raised.value.__cause__ is None


@pytest.mark.parametrize(
    ("entry_bits", "key_bits", "match"),
    [(2048, 3072, r"is an RSA key of 3072 bits, but my_keys\[0\]\.bits is 2048")],
)
def test_a_supplied_key_of_another_size_than_bits_is_refused(rsa_keys, entry_bits, key_bits, match):
    with pytest.raises(AnsibleFilterError, match=rf"my_keys\[0\]\.private_key {match}"):
        keys(RSA | {"bits": entry_bits, "private_key": pem(rsa_keys[key_bits])})


def test_a_supplied_key_of_the_wrong_type_is_refused(rsa_keys, ed25519_key):
    with pytest.raises(AnsibleFilterError, match=r"my_keys\[0\]\.private_key is an Ed25519 key, but .*is rsa"):
        keys(RSA | {"private_key": pem(ed25519_key)})
    with pytest.raises(AnsibleFilterError, match=r"my_keys\[1\]\.private_key is an RSA key, but .*is ed25519"):
        keys(RSA, ED25519 | {"private_key": pem(rsa_keys[2048])})


def test_a_supplied_ec_key_is_refused():
    with pytest.raises(AnsibleFilterError, match=r"private_key is a key of type .*RSA .* or Ed25519 .* keys only"):
        keys(RSA | {"private_key": pem(ec.generate_private_key(ec.SECP256R1()))})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not a key", r"holds no PEM private key"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n", r"has a PEM block with broken framing"),
        ("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n", r"could not be read as a PEM"),
    ],
)
def test_a_supplied_key_that_does_not_parse_is_refused_without_its_cause(text, match):
    with pytest.raises(AnsibleFilterError, match=rf"my_keys\[0\]\.private_key {match}") as raised:
        keys(RSA | {"private_key": text})

    assert raised.value.__cause__ is None


def test_two_supplied_keys_in_one_value_are_refused(rsa_keys):
    with pytest.raises(AnsibleFilterError, match=r"holds 2 private keys; give exactly one"):
        keys(RSA | {"private_key": pem(rsa_keys[2048]) + pem(rsa_keys[3072])})


def test_an_encrypted_supplied_key_is_refused(rsa_keys):
    encrypted = pem(rsa_keys[2048], serialization.BestAvailableEncryption(b"lab-only passphrase"))

    with pytest.raises(AnsibleFilterError, match=r"private_key is an encrypted private key; OpenDKIM starts"):
        keys(RSA | {"private_key": encrypted})


def test_a_supplied_key_that_is_no_text_is_refused():
    with pytest.raises(AnsibleFilterError, match=r"private_key must be PEM text \(a string\), got .* int"):
        keys(RSA | {"private_key": 42})


def test_undefined_input_raises_the_undefined_error():
    with pytest.raises(Exception, match="is undefined") as raised:
        mail_dkim.mail_dkim_keys(StrictUndefined(name="my_keys"))
    assert not isinstance(raised.value, AnsibleFilterError)


def test_an_undefined_field_raises_the_undefined_error():
    with pytest.raises(Exception, match="is undefined") as raised:
        keys(RSA | {"selector": StrictUndefined(name="selector")})
    assert not isinstance(raised.value, AnsibleFilterError)


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@given(st.lists(LABEL, min_size=1, max_size=4))
def test_any_selector_of_dns_labels_is_accepted_as_written(labels):
    selector = ".".join(labels)

    assert keys(RSA | {"selector": selector})[0]["selector"] == selector


@given(st.text(min_size=1, max_size=20))
def test_a_selector_is_accepted_only_when_it_is_dns_labels(text):
    name = text.strip().lower()
    label = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
    valid = text.isascii() and all(re.fullmatch(label, part) for part in name.split("."))

    if valid:
        assert keys(RSA | {"selector": text})[0]["selector"] == name
    else:
        with pytest.raises(AnsibleFilterError, match=r"my_keys\[0\]\.selector"):
            keys(RSA | {"selector": text})


SIGNERS = [{"algorithm": "rsa", "always": True, "unit": "opendkim.service"}, {"algorithm": "ed25519"}]


def test_each_signer_gets_the_signing_keys_of_its_algorithm():
    checked = keys(
        RSA, RSA | {"selector": "next", "signing": False}, ED25519, {"domain": "example.net", "selector": "s"}
    )

    rsa_signer, ed25519_signer = mail_dkim.mail_dkim_signers(SIGNERS, checked)

    assert [k["key_name"] for k in rsa_signer["keys"]] == [
        "mail2026._domainkey.example.org",
        "s._domainkey.example.net",
    ]
    assert [k["key_name"] for k in ed25519_signer["keys"]] == ["mail2026e._domainkey.example.org"]
    assert (rsa_signer["active"], ed25519_signer["active"]) == (True, True)
    assert rsa_signer["unit"] == "opendkim.service"


def test_a_signer_without_keys_runs_only_when_it_always_runs():
    rsa_signer, ed25519_signer = mail_dkim.mail_dkim_signers(SIGNERS, keys(RSA | {"state": "absent"}))

    assert (rsa_signer["keys"], rsa_signer["active"]) == ([], True)
    assert (ed25519_signer["keys"], ed25519_signer["active"]) == ([], False)


def test_two_signing_keys_of_one_domain_and_algorithm_need_multiple_signatures():
    two = keys(RSA, RSA | {"selector": "second"}, ED25519)

    assert [s["multiple"] for s in mail_dkim.mail_dkim_signers(SIGNERS, two)] == [True, False]
    assert [s["multiple"] for s in mail_dkim.mail_dkim_signers(SIGNERS, keys(RSA, ED25519))] == [False, False]


@pytest.mark.parametrize(
    ("signers", "checked", "match"),
    [
        ("rsa", [], r"the signers must be a list of dicts, got str"),
        ([], None, r"keys must be a list of dicts, got NoneType"),
        ([{"algorithm": "ecdsa"}], [], r"\{'algorithm': 'ecdsa'\} must be a dict whose algorithm is one of: rsa"),
    ],
)
def test_bad_signers_are_refused(signers, checked, match):
    with pytest.raises(AnsibleFilterError, match=rf"^mail_dkim_signers: {match}"):
        mail_dkim.mail_dkim_signers(signers, checked)


def info(kind, size=None, public_key=""):
    return {"type": kind, "public_data": {"size": size} if size else {}, "public_key": public_key}


def test_keys_on_the_host_that_match_their_entries_raise_no_problem(rsa_keys, ed25519_key):
    checked = keys(RSA | {"bits": 3072}, ED25519 | {"private_key": pem(ed25519_key)})

    reports = [info("RSA", 3072), info("Ed25519", public_key=public_pem(ed25519_key) + "\n")]

    assert mail_dkim.mail_dkim_host_key_problems(reports, checked) == []


@pytest.mark.parametrize(
    ("report", "match"),
    [
        (
            info("RSA", 2048),
            r"dkim_keys\[0\] \(selector mail2026 of example\.org\) asks for RSA 3072 bits, but .* holds"
            r" RSA 2048 bits\. A key is never replaced under its selector.*new selector",
        ),
        (
            info("Ed25519"),
            r"asks for RSA 3072 bits, but /etc/opendkim/keys/example\.org/mail2026\.private holds Ed25519",
        ),
    ],
)
def test_a_key_on_the_host_of_another_size_or_type_is_a_problem(report, match):
    problems = mail_dkim.mail_dkim_host_key_problems([report], keys(RSA | {"bits": 3072}), "dkim_keys")

    assert len(problems) == 1
    assert re.search(match, problems[0])


def test_a_supplied_key_that_is_not_the_key_on_the_host_is_a_problem(rsa_keys):
    checked = keys(RSA | {"private_key": pem(rsa_keys[2048])})
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    problems = mail_dkim.mail_dkim_host_key_problems([info("RSA", 2048, public_pem(other))], checked)

    assert problems == [
        "dkim_keys[0] (selector mail2026 of example.org) asks for the supplied RSA 2048 bits, but "
        "/etc/opendkim/keys/example.org/mail2026.private holds another key. A key is never replaced under its "
        "selector, because the published record names it: give the new key a new selector and rotate to it "
        "(README, Rotation)."
    ]


def test_reports_and_keys_must_pair_up():
    with pytest.raises(AnsibleFilterError, match=r"^mail_dkim_host_key_problems: 0 key reports for 1 keys"):
        mail_dkim.mail_dkim_host_key_problems([], keys(RSA))
