# SPDX-License-Identifier: MIT
"""mail_dns filters: TXT splitting and presentation, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, TLSA, CAA and zone text.

The records are read back by a small TXT parser of the tests' own and, where it is installed, by dnspython, so that
a presentation bug cannot hide behind a parser that shares it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined
from mail_dns import (
    FilterModule,
    mail_dns_caa,
    mail_dns_dkim,
    mail_dns_dmarc,
    mail_dns_mta_sts,
    mail_dns_spf,
    mail_dns_tlsa,
    mail_dns_tlsrpt,
    mail_dns_txt_rdata,
    mail_dns_txt_strings,
    mail_dns_zone,
)

DOMAIN = "example.org"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# ------------------------------------------------------------------------------------------------ helpers


def parse_txt_rdata(rdata: str) -> list[bytes]:
    """The character-strings of TXT presentation text: quoted strings, backslash escapes and \\DDD, one space apart."""
    strings, position = [], 0
    while position < len(rdata):
        assert rdata[position] == '"', rdata
        position += 1
        data = bytearray()
        while rdata[position] != '"':
            char = rdata[position]
            if char == "\\" and rdata[position + 1].isdigit():
                data.append(int(rdata[position + 1 : position + 4]))
                position += 4
            elif char == "\\":
                data += rdata[position + 1].encode("ascii")
                position += 2
            else:
                assert 0x20 <= ord(char) <= 0x7E, rdata  # presentation text is printable ASCII
                data += char.encode("ascii")
                position += 1
        strings.append(bytes(data))
        position += 1
        if position < len(rdata):
            assert rdata[position] == " ", rdata
            position += 1
    return strings


def dnspython_rdata(rtype: str, text: str):
    rdata = pytest.importorskip("dns.rdata")
    return rdata.from_text("IN", rtype, text)


def public_pem(key) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def spki(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def certificate(private_key, name: str = "mx1.example.org") -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(private_key, hashes.SHA256())
    )


def certificate_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def rsa_keys():
    """Real RSA keys, generated once for the module: key generation is the slow part of these tests."""
    return {bits: rsa.generate_private_key(public_exponent=65537, key_size=bits) for bits in (1024, 2048, 3072)}


@pytest.fixture(scope="module")
def ed_key():
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def mx_cert(rsa_keys):
    return certificate(rsa_keys[2048])


# -------------------------------------------------------------------------------------------------- TXT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [""]),
        ("v=spf1 -all", ["v=spf1 -all"]),
        ("a" * 255, ["a" * 255]),
        ("a" * 256, ["a" * 255, "a"]),
        ("a" * 600, ["a" * 255, "a" * 255, "a" * 90]),
        ("é" * 128, ["é" * 127, "é"]),  # 256 octets; 255 would cut the 128th character in half
        ("a" + "€" * 85, ["a" + "€" * 84, "€"]),  # 1 + 255 octets: the cut moves back to the 84th euro sign
        ("𝄞" * 64, ["𝄞" * 63, "𝄞"]),  # four-octet characters: 252 octets fit, 256 do not
    ],
)
def test_txt_strings_are_cut_at_255_octets_between_characters(text, expected):
    assert mail_dns_txt_strings(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", '""'),
        ("v=spf1 mx -all", '"v=spf1 mx -all"'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("tab\there\x00", r'"tab\009here\000"'),
        ("\x7f", r'"\127"'),
        ("é", r'"\195\169"'),
        ("a" * 256, '"' + "a" * 255 + '" "a"'),
    ],
)
def test_txt_rdata_quotes_escapes_and_splits(text, expected):
    assert mail_dns_txt_rdata(text) == expected


UNICODE_TEXT = st.text(max_size=800) | st.lists(
    st.sampled_from(["a", " ", "é", "€", "𝄞", '"', "\\", "\x00", "\n", ";"]), max_size=900
).map("".join)


@given(UNICODE_TEXT)
@FAST
def test_any_text_splits_into_short_strings_that_join_back_exactly(text):
    pieces = mail_dns_txt_strings(text)

    assert "".join(pieces) == text
    assert all(len(piece.encode()) <= 255 for piece in pieces)
    assert pieces == [""] if not text else all(pieces)
    # Each cut is as late as it can be: the next character would not have fitted.
    assert all(len(piece.encode()) + len(after[0].encode()) > 255 for piece, after in itertools.pairwise(pieces))


@given(UNICODE_TEXT)
@FAST
def test_any_text_survives_its_presentation_format(text):
    rdata = mail_dns_txt_rdata(text)

    assert rdata.isascii()
    assert "\n" not in rdata
    assert parse_txt_rdata(rdata) == [piece.encode() for piece in mail_dns_txt_strings(text)]
    assert b"".join(parse_txt_rdata(rdata)).decode() == text


@given(UNICODE_TEXT)
@FAST
def test_dnspython_reads_the_presentation_format_back(text):
    parsed = dnspython_rdata("TXT", mail_dns_txt_rdata(text))

    assert b"".join(parsed.strings).decode() == text


@pytest.mark.parametrize("function", [mail_dns_txt_strings, mail_dns_txt_rdata])
@pytest.mark.parametrize(
    ("text", "match"),
    [
        (None, r"TXT text: the text must be a string, got None"),
        (42, r"the text must be a string, got 42"),
        (b"bytes", r"the text must be a string"),
        ("lone \ud800 surrogate", r"cannot be encoded as UTF-8"),
    ],
)
def test_txt_filters_refuse_what_is_not_text(function, text, match):
    with pytest.raises(AnsibleFilterError, match=match):
        function(text)


# -------------------------------------------------------------------------------------------------- SPF


def spf(mechanisms=(), domain=DOMAIN, resolved=None, **keys):
    return mail_dns_spf({"mechanisms": list(mechanisms), **({"all": "-all"} | keys)}, domain, resolved)


@pytest.mark.parametrize(
    ("mechanisms", "text", "lookups"),
    [
        ([], "v=spf1 -all", 0),
        (["mx"], "v=spf1 mx -all", 1),
        (["a", "mx"], "v=spf1 a mx -all", 2),
        (["ip4:192.0.2.0/24", "ip6:2001:DB8::/32", "ip4:198.51.100.7"], None, 0),
        (
            ["+mx", "-ip4:203.0.113.5", "~a", "?include:_spf.example.net"],
            "v=spf1 mx -ip4:203.0.113.5 ~a ?include:_spf.example.net -all",
            3,
        ),
        (["a/24", "mx//64", "a:mail.example.org/24//64", "mx:MX.Example.ORG."], None, 4),
        (["ip4:192.0.2.1/32", "ip4:0.0.0.0/0", "ip6:::/0", "ip6:::ffff:192.0.2.1"], None, 0),
        (["ip4:192.0.2.1/24"], None, 0),  # host bits are allowed by RFC 7208 section 5.6
        (["exists:%{i}._spf.example.org"], None, 1),
        (["exists:%{ir}.%{v}._spf.%{d2}", "include:%{l1r-}.u.example.org", "a:%{d}"], None, 3),
        (["exists:%{S}.%%.%_.%-.%{h}.%{o}.%{p}.example.org"], None, 1),
        (["exists:%{i}.example.org."], "v=spf1 exists:%{i}.example.org. -all", 1),
        (["INCLUDE:_SPF.Example.NET."], "v=spf1 include:_spf.example.net -all", 1),
    ],
)
def test_spf_terms_are_checked_normalised_and_counted(mechanisms, text, lookups):
    record = spf(mechanisms)

    if text is not None:
        assert record["text"] == text
    assert record["lookups"] == lookups
    assert record["void_lookups"] == 0


def test_spf_record_has_the_common_shape_and_its_counts():
    record = mail_dns_spf({"mechanisms": ["mx", "include:_spf.example.net"], "all": "~all"}, "Example.ORG.", ttl=300)

    assert record == {
        "name": "example.org.",
        "type": "TXT",
        "ttl": 300,
        "values": ['"v=spf1 mx include:_spf.example.net ~all"'],
        "text": "v=spf1 mx include:_spf.example.net ~all",
        "match": "v=spf1",
        "lookups": 2,
        "void_lookups": 0,
        "unresolved": ["_spf.example.net"],
    }


@pytest.mark.parametrize(
    ("keys", "text", "lookups"),
    [
        ({"redirect": "_spf.example.net", "all": None}, "v=spf1 mx redirect=_spf.example.net", 2),
        ({"exp": "explain._spf.%{d}"}, "v=spf1 mx -all exp=explain._spf.%{d}", 1),
        ({"redirect": "_spf.example.net", "all": None, "exp": "why.example.org"}, None, 2),
    ],
)
def test_spf_redirect_counts_and_exp_does_not(keys, text, lookups):
    record = spf(["mx"], **keys)

    if text is not None:
        assert record["text"] == text
    assert record["lookups"] == lookups


def test_a_record_for_an_include_target_may_live_at_a_service_label():
    record = spf(["ip4:192.0.2.0/24"], domain="_spf.example.org")

    assert record["name"] == "_spf.example.org."


def include_chain(depth: int) -> tuple[list[str], dict[str, str]]:
    """A record that includes i1, which includes i2, ... down to i<depth>: depth lookups in all."""
    resolved = {f"i{n}.example.net": f"v=spf1 include:i{n + 1}.example.net -all" for n in range(1, depth)}
    resolved[f"i{depth}.example.net"] = "v=spf1 ip4:192.0.2.1 -all"
    return ["include:i1.example.net"], resolved


def test_nested_includes_that_add_up_to_exactly_ten_lookups_are_accepted():
    mechanisms, resolved = include_chain(10)

    record = spf(mechanisms, resolved=resolved)

    assert (record["lookups"], record["unresolved"]) == (10, [])


def test_nested_includes_that_add_up_to_eleven_lookups_are_refused_naming_the_eleventh():
    mechanisms, resolved = include_chain(11)
    path = " -> ".join(f"include:i{n}.example.net" for n in range(1, 12))

    with pytest.raises(AnsibleFilterError, match=rf"the 11th at {re.escape(path)}; RFC 7208 section 4\.6\.4 allows 10"):
        spf(mechanisms, resolved=resolved)


MIXED = {
    "x.example.net": "v=spf1 a mx exists:%{i}.x.example.net include:y.example.net ip4:192.0.2.0/24 -all",
    "y.example.net": "v=spf1 redirect=z.example.net",
    "z.example.net": "v=spf1 a:h.example.net mx -all",
}


def test_a_mx_exists_include_and_redirect_all_count_through_the_records():
    # mx, a, include:x (3); x: a, mx, exists, include:y (7); y: redirect=z (8); z: a:h, mx (10)
    record = spf(["mx", "a", "include:x.example.net"], resolved=MIXED)

    assert record["lookups"] == 10


def test_one_more_mx_on_top_of_ten_is_refused():
    with pytest.raises(AnsibleFilterError, match=r"the 11th at include:x\.example\.net -> include:y\.example\.net"):
        spf(["mx", "a", "mx:other.example.org", "include:x.example.net"], resolved=MIXED)


def test_a_redirect_that_brings_the_total_to_eleven_is_refused():
    mechanisms = [f"a:h{n}.example.org" for n in range(9)]

    with pytest.raises(AnsibleFilterError, match=r"the 11th at redirect=r\.example\.net -> mx"):
        spf(mechanisms, redirect="r.example.net", all=None, resolved={"r.example.net": "v=spf1 mx -all"})


def test_ip4_and_ip6_cost_no_lookup():
    mechanisms = [f"ip4:192.0.2.{n}" for n in range(12)] + [f"ip6:2001:db8::{n}" for n in range(12)]

    assert spf(mechanisms)["lookups"] == 0


@pytest.mark.parametrize(
    ("included", "lookups"),
    [
        ("v=spf1 -all include:q.example.net a mx", 1),  # section 5.1: terms after all are never tested
        ("v=spf1 ip4:192.0.2.1 -all redirect=q.example.net", 1),  # section 6.1: redirect ignored beside all
        ("v=spf1 ptr a:x.example.net -all", 3),  # someone else's ptr still costs a lookup
        ("v=spf1  mx   foo=bar  ~all ", 2),  # extra spaces and unknown modifiers are fine
        ("V=SPF1 MX -ALL", 2),
    ],
)
def test_included_records_count_as_a_receiver_evaluates_them(included, lookups):
    assert spf(["include:s.example.net"], resolved={"s.example.net": included})["lookups"] == lookups


def test_unresolved_lists_followed_targets_missing_from_resolved_once_each():
    record = spf(
        ["include:a.example.net", "include:b.example.net", "exists:%{i}.c.example.net", "a:d.example.net"],
        resolved={"a.example.net": "v=spf1 include:b.example.net -all"},
        redirect=None,
    )

    assert record["unresolved"] == ["b.example.net"]
    assert record["lookups"] == 5


def test_the_own_domain_in_resolved_is_ignored():
    resolved = {DOMAIN: "v=spf1 " + " ".join(f"a:h{n}.example.org" for n in range(10)) + " -all"}

    assert spf(["mx"], resolved=resolved)["lookups"] == 1


@pytest.mark.parametrize("mechanism", ["a", "mx", "exists"])
def test_two_void_lookups_are_accepted_and_a_third_is_refused(mechanism):
    resolved = {f"v{n}.example.net": None for n in range(3)}
    two = [f"{mechanism}:v{n}.example.net" for n in range(2)]

    assert spf(two, resolved=resolved)["void_lookups"] == 2
    with pytest.raises(AnsibleFilterError, match=r"makes 3 void lookups .*the last at .*v2\.example\.net; RFC 7208"):
        spf([*two, f"{mechanism}:v2.example.net"], resolved=resolved)


def test_void_lookups_inside_included_records_count_too():
    resolved = {
        "s.example.net": "v=spf1 a:gone1.example.net a:gone2.example.net -all",
        "gone1.example.net": None,
        "gone2.example.net": None,
        "gone3.example.net": None,
    }

    assert spf(["include:s.example.net"], resolved=resolved)["void_lookups"] == 2
    with pytest.raises(AnsibleFilterError, match=r"makes 3 void lookups"):
        spf(["mx:gone3.example.net", "include:s.example.net"], resolved=resolved)


@pytest.mark.parametrize(
    ("mechanisms", "keys", "match"),
    [
        (["include:gone.example.net"], {}, r"include:gone\.example\.net: gone\.example\.net has no SPF record.*5\.2"),
        ([], {"redirect": "gone.example.net", "all": None}, r"has no SPF record, which RFC 7208 section 6\.1"),
        (["include:s.example.net"], {}, r"include:s\.example\.net -> include:gone\.example\.net: gone\.example\.net"),
    ],
)
def test_following_a_name_without_spf_record_is_a_permerror(mechanisms, keys, match):
    resolved = {"gone.example.net": None, "s.example.net": "v=spf1 include:gone.example.net -all"}

    with pytest.raises(AnsibleFilterError, match=match):
        spf(mechanisms, resolved=resolved, **keys)


@pytest.mark.parametrize(
    ("mechanisms", "keys", "resolved", "match"),
    [
        (
            ["include:a.example.net"],
            {},
            {"a.example.net": "v=spf1 include:b.example.net -all", "b.example.net": "v=spf1 include:a.example.net"},
            r"include loop \(example\.org -> a\.example\.net -> b\.example\.net -> a\.example\.net\)",
        ),
        (["include:example.org"], {}, None, r"include loop \(example\.org -> example\.org\)"),
        (
            [],
            {"redirect": "a.example.net", "all": None},
            {"a.example.net": "v=spf1 redirect=a.example.net"},
            r"redirect=a\.example\.net -> redirect=a\.example\.net makes an include loop",
        ),
    ],
)
def test_include_loops_are_refused(mechanisms, keys, resolved, match):
    with pytest.raises(AnsibleFilterError, match=match):
        spf(mechanisms, resolved=resolved, **keys)


@pytest.mark.parametrize(
    ("included", "match"),
    [
        ("spf2.0/pra mx -all", r"does not start with 'v=spf1 '.*RFC 7208 section 4\.5"),
        ("v=spf1 foo:bar -all", r"the record of s\.example\.net: 'foo:bar' has the unknown mechanism 'foo'"),
        ("v=spf1 ip4:300.1.1.1 -all", r"'ip4:300\.1\.1\.1' has no valid IPv4 address"),
        ("v=spf1 redirect=a.example.net redirect=b.example.net", r"has redirect= twice"),
        ("v=spf1 exp=%{x}.example.net -all", r"'exp=%\{x\}\.example\.net' uses the unknown macro letter"),
    ],
)
def test_broken_included_records_are_refused_naming_them(included, match):
    with pytest.raises(AnsibleFilterError, match=match):
        spf(["include:s.example.net"], resolved={"s.example.net": included})


@pytest.mark.parametrize(
    ("mechanisms", "match"),
    [
        (["mx", "mx"], r"mechanisms\[1\] = 'mx' repeats mechanisms\[0\]; only the first can ever match"),
        (["MX", "mx"], r"mechanisms\[1\] = 'mx' repeats mechanisms\[0\]"),
        (["ip4:192.0.2.1", "-ip4:192.0.2.1"], r"mechanisms\[1\] = '-ip4:192\.0\.2\.1' repeats mechanisms\[0\]"),
        (["include:a.example.net", "include:A.example.net."], r"repeats mechanisms\[0\]"),
    ],
)
def test_duplicate_mechanisms_are_refused(mechanisms, match):
    with pytest.raises(AnsibleFilterError, match=match):
        spf(mechanisms)


@pytest.mark.parametrize(
    ("term", "match"),
    [
        ("ptr", r"RFC 7208 section 5\.5 says ptr should not be used"),
        ("ptr:example.org", r"ptr should not be used"),
        ("all", r"give all as the key 'all', which mailfort writes last; RFC 7208 section 5\.1"),
        ("-all", r"give all as the key 'all'"),
        ("redirect=_spf.example.net", r"is a modifier; give it as the key 'redirect'.*RFC 7208 section 6"),
        ("exp=why.example.org", r"give it as the key 'exp'"),
        ("ra=postmaster", r"is the unknown modifier 'ra'; receivers ignore it"),
        ("ipv4:192.0.2.1", r"has the unknown mechanism 'ipv4'; RFC 7208 section 5 defines"),
        ("+", r"is not an SPF mechanism"),
        ("", r"must be one term, without spaces"),
        ("mx ip4:192.0.2.1", r"must be one term, without spaces"),
        (7, r"mechanisms\[0\] = 7 must be a string"),
        ("include", r"needs a domain: include:<domain> \(RFC 7208 section 5\.2\)"),
        ("include:", r"has an empty domain \(RFC 7208 section 7\.1\)"),
        ("exists", r"needs a domain: exists:<domain> \(RFC 7208 section 5\.7\)"),
        ("include:example", r"names 'example', which is not a domain name: it needs at least 2 labels"),
        ("include:-bad.example.org", r"the label '-bad' starts or ends with a hyphen: labels are letters"),
        ("a:example.123", r"its last label is all digits"),
        ("include:é.example.org", r"has the character 'é'"),
        ("include:50%.example.org", r"has a '%' that starts no macro.*write %% for a literal %"),
        ("exists:%{c}.example.org", r"uses the macro %\{c\}, which RFC 7208 section 7\.2 allows only in explanation"),
        ("exists:%{R}.example.org", r"macro %\{R\}"),
        ("exists:%{t}.example.org", r"macro %\{t\}"),
        ("exists:%{x}.example.org", r"unknown macro letter 'x'"),
        ("exists:%{d0}.example.org", r"has the transformer 0 in '%\{d0\}'; RFC 7208 section 7\.3"),
        ("exists:%{i}.example.1", r"must end in a macro or in '\.' and a top label"),
        ("exists:%{i}x", r"must end in a macro"),
        ("ip4", r"needs an address: ip4:<network> \(RFC 7208 section 5\.6\)"),
        ("ip4:", r"has no valid IPv4 address"),
        ("ip4:192.0.2.300", r"has no valid IPv4 address \(RFC 7208 section 5\.6\)"),
        ("ip4:192.0.02.1", r"has no valid IPv4 address"),
        ("ip4:2001:db8::1", r"has no valid IPv4 address"),
        ("ip4:192.0.2.0/33", r"has the prefix length '33'; IPv4 prefix lengths are 0 to 32"),
        ("ip4:192.0.2.0/024", r"prefix length '024'"),
        ("ip4:192.0.2.0/", r"prefix length ''"),
        ("ip6:2001:db8::/129", r"IPv6 prefix lengths are 0 to 128"),
        ("ip6:192.0.2.1", r"has no valid IPv6 address"),
        ("ip6:fe80::1%eth0", r"has no valid IPv6 address"),
        ("a/33", r"has the prefix length /33; lengths are 0 to 32"),
        ("mx//129", r"has the prefix length //129; lengths are 0 to 128"),
        ("a/08", r"prefix length /08"),
        ("ax", r"has the unknown mechanism 'ax'"),
        ("mx=x", r"is the unknown modifier 'mx'"),
        ("a;example.org", r"is not a, a:<domain> or a/<prefix> \(RFC 7208 section 5\.3\)"),
        ("all:example.org", r"has text after 'all'"),
    ],
)
def test_bad_terms_are_refused_naming_the_record_and_the_rule(term, match):
    with pytest.raises(AnsibleFilterError, match=r"mail_dns_spf: SPF record for example\.org: .*" + match):
        spf([term])


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("mx -all", r"the input must be a dict with the keys"),
        ({"mechanisms": [], "al": "-all"}, r"unknown keys \['al'\]"),
        ({"mechanisms": "mx", "all": "-all"}, r"mechanisms must be a list of terms, got 'mx'"),
        ({"mechanisms": []}, r"needs 'all' \('-all' or '~all'\) or 'redirect'.*RFC 7208 section 4\.7"),
        (
            {"all": "-all", "redirect": "x.example.org"},
            r"give either 'all' or 'redirect', not both: RFC 7208 section 6\.1",
        ),
        ({"all": "+all"}, r"all = '\+all' passes every host on the Internet \(RFC 7208 section 5\.1\)"),
        ({"all": "all"}, r"all = 'all' passes every host"),
        ({"all": "?all"}, r"all = '\?all' is neutral.*RFC 7208 section 8\.2"),
        ({"all": "-ALL"}, r"all = '-ALL' is not an all term; use '-all' \(fail\) or '~all' \(softfail\)"),
        ({"all": True}, r"all = True is not an all term"),
        ({"redirect": 5}, r"redirect = 5 must be a domain"),
        ({"redirect": "x"}, r"redirect = 'x' names 'x', which is not a domain name"),
        ({"all": "-all", "exp": "%{c}.example.org"}, r"exp = '%\{c\}\.example\.org' uses the macro %\{c\}"),
        (
            {"mechanisms": [f"ip6:2001:db8:{n:x}::/48" for n in range(30)], "all": "-all"},
            r"the record text has \d+ octets; mailfort allows 450 .* RFC 7208 section 3\.4",
        ),
    ],
)
def test_bad_spf_policies_are_refused(spec, match):
    with pytest.raises(AnsibleFilterError, match=r"SPF record for example\.org: " + match):
        mail_dns_spf(spec, DOMAIN)


@pytest.mark.parametrize(
    ("domain", "resolved", "ttl", "match"),
    [
        ("example", None, 3600, r"SPF record for 'example': the domain 'example' is not a domain name"),
        ("exa mple.org", None, 3600, r"the label 'exa mple' has ' '"),
        ("bücher.example", None, 3600, r"non-ASCII characters; write internationalised names as xn-- A-labels"),
        (None, None, 3600, r"the domain None is not a domain name: it must be a string, got NoneType"),
        ("x" * 250 + ".org", None, 3600, r"longer than 253 characters"),
        (DOMAIN, ["x"], 3600, r"resolved must be a dict from domain name to SPF text or None"),
        (DOMAIN, {"a.example.net": 5}, 3600, r"resolved\['a\.example\.net'\] = 5 must be the SPF record's text"),
        (DOMAIN, {5: "v=spf1"}, 3600, r"resolved has the key 5"),
        (
            DOMAIN,
            None,
            -1,
            r"ttl = -1 is not a TTL: TTLs are whole seconds from 0 to 2147483647 \(RFC 2181 section 8\)",
        ),
        (DOMAIN, None, 2**31, r"ttl = 2147483648 is not a TTL"),
        (DOMAIN, None, True, r"ttl = True is not a TTL"),
        (DOMAIN, None, 1.5, r"ttl = 1\.5 is not a TTL"),
        (DOMAIN, None, "1h", r"ttl = '1h' is not a TTL"),
    ],
)
def test_bad_spf_domains_resolved_maps_and_ttls_are_refused(domain, resolved, ttl, match):
    with pytest.raises(AnsibleFilterError, match=match):
        mail_dns_spf({"all": "-all"}, domain, resolved, ttl)


# " 90 " is accepted since the DNS filters read whole numbers by the collection's one rule (common.whole_number),
# as a certificate lifetime or a limit passed with -e is read: whitespace around the digits is no other number.
@pytest.mark.parametrize("ttl", [0, 2**31 - 1, "600", " 90 ", "300\n"])
def test_ttls_from_zero_to_the_largest_signed_32_bit_number_are_accepted(ttl):
    assert mail_dns_spf({"all": "-all"}, DOMAIN, ttl=ttl)["ttl"] == int(ttl)


LOOKUP_TERMS = st.builds(
    str.format,
    st.sampled_from(["a:h{}.example.org", "mx:h{}.example.org", "exists:%{{i}}.h{}.example.org"]),
    st.integers(0, 99),
)
FREE_TERMS = st.integers(0, 255).map(lambda n: f"ip4:198.51.100.{n}")


@given(st.lists(LOOKUP_TERMS, unique=True, max_size=14), st.lists(FREE_TERMS, unique=True, max_size=8), st.randoms())
@FAST
def test_any_mix_of_terms_is_accepted_exactly_up_to_ten_lookups(lookup_terms, free_terms, random):
    mechanisms = lookup_terms + free_terms
    random.shuffle(mechanisms)
    if len(lookup_terms) <= 10:
        assert spf(mechanisms)["lookups"] == len(lookup_terms)
    else:
        with pytest.raises(AnsibleFilterError, match=r"needs more than 10 DNS lookups, the 11th"):
            spf(mechanisms)


# ------------------------------------------------------------------------------------------------- DKIM


def dkim(public_key, **keys):
    return mail_dns_dkim({"domain": DOMAIN, "selector": "mail2026", "public_key": public_key, **keys})


@pytest.mark.parametrize("bits", [2048, 3072])
def test_rsa_keys_of_2048_and_3072_bits_give_the_der_spki_in_base64(rsa_keys, bits):
    public_key = rsa_keys[bits].public_key()

    record = dkim(public_pem(public_key))

    assert record["name"] == "mail2026._domainkey.example.org."
    assert record["text"] == "v=DKIM1; k=rsa; p=" + base64.b64encode(spki(public_key)).decode()
    assert (record["algorithm"], record["bits"], record["match"]) == ("rsa", bits, "v=DKIM1")
    assert b"".join(parse_txt_rdata(record["values"][0])).decode() == record["text"]
    assert all(len(piece) <= 255 for piece in parse_txt_rdata(record["values"][0]))


def test_an_ed25519_key_gives_its_raw_32_bytes_in_44_base64_characters(ed_key):
    raw = ed_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    record = dkim(public_pem(ed_key.public_key()))

    p = record["text"].rpartition("p=")[2]
    assert record["text"] == f"v=DKIM1; k=ed25519; p={p}"
    assert len(p) == 44
    assert base64.b64decode(p) == raw
    assert (record["algorithm"], record["bits"]) == ("ed25519", 256)


def test_testing_and_service_flags_come_before_the_key(ed_key):
    record = dkim(public_pem(ed_key.public_key()), testing=True, service="email", selector="Mail-2026.Sub")

    assert record["text"].startswith("v=DKIM1; k=ed25519; s=email; t=y; p=")
    assert record["name"] == "mail-2026.sub._domainkey.example.org."


def test_dnspython_reads_the_dkim_record(rsa_keys):
    record = dkim(public_pem(rsa_keys[3072].public_key()))

    assert b"".join(dnspython_rdata("TXT", record["values"][0]).strings).decode() == record["text"]


def test_rsa_keys_under_2048_bits_are_refused(rsa_keys):
    with pytest.raises(
        AnsibleFilterError,
        match=r"DKIM record mail2026\._domainkey\.example\.org: the RSA key has 1024 bits: RFC 8301 section 3\.2 "
        r"requires at least 1024, mailfort requires 2048",
    ):
        dkim(public_pem(rsa_keys[1024].public_key()))


def test_rsa_keys_over_4096_bits_are_refused():
    huge = rsa.RSAPublicNumbers(65537, (1 << 8191) | 1).public_key()

    with pytest.raises(AnsibleFilterError, match=r"the RSA key has 8192 bits: RFC 8301 section 3\.2 has verifiers"):
        dkim(public_pem(huge))


def test_a_private_key_is_refused_without_showing_it(rsa_keys):
    private_pem = (
        rsa_keys[2048]
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )

    with pytest.raises(AnsibleFilterError, match=r"public_key holds a private key; never pass private keys") as raised:
        dkim(private_pem)
    assert private_pem.splitlines()[1] not in str(raised.value)


@pytest.mark.parametrize(
    ("selector", "match"),
    [
        ("mail_2026", r"the selector 'mail_2026' is not dot-separated labels .*RFC 6376 section 3\.1.*'mail_2026'"),
        ("-mail", r"the label '-mail' starts or ends with a hyphen"),
        ("mail-", r"the label 'mail-'"),
        ("ma il", r"the label 'ma il'"),
        ("", r"the selector '' is not .*: it is empty"),
        ("a..b", r"empty label"),
        ("s" * 64, r"is longer than 63 characters"),
        ("sélecteur", r"the selector 'sélecteur' is not .*: it has non-ASCII characters"),
        (2026, r"the selector 2026 is not .*: it must be a string, got int"),
        ("mail2026..", r"the selector 'mail2026\.\.' is not .*empty label"),
    ],
)
def test_bad_selectors_are_refused_naming_them(ed_key, selector, match):
    with pytest.raises(AnsibleFilterError, match=r"mail_dns_dkim: DKIM record for example\.org: .*" + match):
        dkim(public_pem(ed_key.public_key()), selector=selector)


# The selector is read by the shared DNS rule, as mail_dkim_keys reads it: a selector mail_dkim_keys accepts can be
# published. So an all-digit selector (2026, no address) is accepted now, and one trailing dot is dropped as on
# every other name.
@pytest.mark.parametrize(("selector", "name"), [("2026", "2026"), ("Mail2026.", "mail2026"), (" s1 ", "s1")])
def test_selectors_are_read_by_the_shared_dns_rule(ed_key, selector, name):
    record = dkim(public_pem(ed_key.public_key()), selector=selector)
    assert record["name"] == f"{name}._domainkey.example.org."


def test_a_name_longer_than_the_dns_allows_is_refused(ed_key):
    selector = ".".join(["s" * 63] * 3 + ["s" * 40])  # 232 characters, 255 with ._domainkey.example.org

    with pytest.raises(AnsibleFilterError, match=r"owner name .* RFC 1035 section 2\.3\.4 allows 253"):
        dkim(public_pem(ed_key.public_key()), selector=selector)


@pytest.mark.parametrize(
    ("make_key", "match"),
    [
        (lambda: "not pem", r"public_key is not PEM text"),
        (lambda: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", r"is not a readable PEM"),
        (lambda: "-----BEGIN PUBLIC KEY-----\nAAAA\n", r"public_key has a PEM block with broken framing"),
        (lambda: 42, r"public_key must be PEM text \(a string\), got a int"),
        (
            lambda: public_pem(ec.generate_private_key(ec.SECP256R1()).public_key()),
            r"public_key holds an EC key on secp256r1; DKIM knows RSA",
        ),
        (lambda: public_pem(ed448.Ed448PrivateKey.generate().public_key()), r"DKIM knows RSA .* and Ed25519"),
    ],
)
def test_what_is_not_one_usable_public_key_is_refused(make_key, match):
    with pytest.raises(AnsibleFilterError, match=match):
        dkim(make_key())


def test_a_certificate_or_two_keys_are_refused(ed_key, mx_cert):
    with pytest.raises(AnsibleFilterError, match=r"public_key holds CERTIFICATE; give exactly one '-----BEGIN PUBLIC"):
        dkim(certificate_pem(mx_cert))
    with pytest.raises(AnsibleFilterError, match=r"public_key holds PUBLIC KEY, PUBLIC KEY; give exactly one"):
        dkim(public_pem(ed_key.public_key()) * 2)


@pytest.mark.parametrize(
    ("key", "match"),
    [
        ({"domain": DOMAIN, "selector": "s"}, r"DKIM record for example\.org: the key 'public_key' is missing"),
        ({"domain": DOMAIN, "public_key": "x"}, r"the key 'selector' is missing"),
        ({"selector": "s", "public_key": "x"}, r"DKIM record for None: the domain None is not a domain name"),
        (
            {"domain": DOMAIN, "selector": "s", "public_key": "x", "flags": "y"},
            r"DKIM record: unknown keys \['flags'\]",
        ),
        ("mail2026", r"DKIM record: the input must be a dict"),
    ],
)
def test_incomplete_dkim_keys_are_refused(key, match):
    with pytest.raises(AnsibleFilterError, match=match):
        mail_dns_dkim(key)


@pytest.mark.parametrize(
    ("keys", "match"),
    [
        ({"testing": "yes"}, r"testing = 'yes' must be true or false"),
        ({"service": "web"}, r"service = 'web' must be one of \['email', '\*'\] \(RFC 6376 section 3\.6\.1\)"),
    ],
)
def test_bad_dkim_flags_are_refused(ed_key, keys, match):
    with pytest.raises(AnsibleFilterError, match=match):
        dkim(public_pem(ed_key.public_key()), **keys)


# ------------------------------------------------------------------------------------------------ DMARC


def dmarc_text(spec, domain=DOMAIN):
    return mail_dns_dmarc(spec, domain)["record"]["text"]


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ({}, "v=DMARC1; p=none"),
        ({"p": "reject"}, "v=DMARC1; p=reject"),
        (
            {"aspf": "r", "adkim": "s", "t": "y", "psd": "u", "np": "reject", "sp": "reject", "p": "quarantine"},
            "v=DMARC1; p=quarantine; sp=reject; np=reject; psd=u; t=y; adkim=s; aspf=r",
        ),
        ({"p": "reject", "t": True}, "v=DMARC1; p=reject; t=y"),
        ({"p": "reject", "t": False, "psd": "n"}, "v=DMARC1; p=reject; psd=n; t=n"),
        (
            {"rua": ["mailto:dmarc@example.org", "MAILTO:Agg@Reports.Example.org"]},
            "v=DMARC1; p=none; rua=mailto:dmarc@example.org,mailto:Agg@reports.example.org",
        ),
        (
            {"p": "reject", "ruf": ["mailto:fail@example.org"], "fo": ["1", "d", "s"]},
            "v=DMARC1; p=reject; fo=1:d:s; ruf=mailto:fail@example.org",
        ),
        ({"ruf": ["mailto:fail@example.org"], "fo": "0:s"}, "v=DMARC1; p=none; fo=0:s; ruf=mailto:fail@example.org"),
        ({"rua": ["mailto:a%2Cb%21c@example.org"]}, "v=DMARC1; p=none; rua=mailto:a%2Cb%21c@example.org"),
        ({"rua": [], "sp": None}, "v=DMARC1; p=none"),
    ],
)
def test_dmarc_tags_are_written_v_first_p_second_then_in_a_fixed_order(spec, text):
    assert dmarc_text(spec) == text


def test_dmarc_record_has_the_common_shape():
    result = mail_dns_dmarc({"p": "reject"}, "Example.ORG", ttl=60)

    assert result == {
        "record": {
            "name": "_dmarc.example.org.",
            "type": "TXT",
            "ttl": 60,
            "values": ['"v=DMARC1; p=reject"'],
            "text": "v=DMARC1; p=reject",
            "match": "v=DMARC1",
        },
        "authorizations": [],
    }


OPTIONAL_TAGS = {
    "sp": st.sampled_from(["none", "quarantine", "reject"]),
    "np": st.sampled_from(["none", "quarantine", "reject"]),
    "adkim": st.sampled_from(["r", "s"]),
    "aspf": st.sampled_from(["r", "s"]),
    "t": st.sampled_from(["y", "n"]),
    "psd": st.sampled_from(["y", "n", "u"]),
}


@given(st.fixed_dictionaries({}, optional={"p": st.sampled_from(["none", "quarantine", "reject"]), **OPTIONAL_TAGS}))
@FAST
def test_any_valid_policy_reads_back_to_its_tags_with_p_always_second(spec):
    tags = [tag.split("=", 1) for tag in dmarc_text(spec).split("; ")]

    assert tags[0] == ["v", "DMARC1"]
    assert tags[1] == ["p", spec.get("p", "none")]
    assert dict(tags[2:]) == {tag: value for tag, value in spec.items() if tag != "p"}


@pytest.mark.parametrize("tag", ["pct", "rf", "ri"])
def test_tags_removed_by_rfc_9989_are_refused(tag):
    with pytest.raises(
        AnsibleFilterError, match=rf"DMARC record for example\.org: the tag '{tag}' was removed by RFC 9989"
    ):
        dmarc_text({"p": "reject", tag: "100"})


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"v": "DMARC1"}, r"the tag 'v' is not yours to set"),
        ({"policy": "reject"}, r"unknown keys \['policy'\]"),
        ({"p": "block"}, r"p = 'block' is not one of \['none', 'quarantine', 'reject'\] \(RFC 9989 section 4\.7"),
        ({"sp": "None"}, r"sp = 'None' is not one of"),
        ({"np": "deny"}, r"np = 'deny'"),
        ({"adkim": "strict"}, r"adkim = 'strict' is not one of \['r', 's'\]"),
        ({"aspf": "x"}, r"aspf = 'x'"),
        ({"t": "true"}, r"t = 'true' is not one of \['y', 'n'\]"),
        ({"psd": True}, r"psd = True is not one of \['y', 'n', 'u'\]"),
        ({"rua": "mailto:dmarc@example.org"}, r"rua must be a list of mailto: URIs"),
        ({"rua": ["https://dmarc.example.org/report"]}, r"must be mailto: URIs; RFC 9989 section 4\.7 allows any URI"),
        ({"rua": ["dmarc@example.org"]}, r"rua\[0\] = 'dmarc@example\.org': report addresses must be mailto: URIs"),
        ({"rua": ["mailto:dmarc@example.org!10m"]}, r"has a '!size' limit: RFC 9989 section 4\.8 makes it obsolete"),
        ({"rua": ["mailto:dmarc@example.org!5"]}, r"'!size' limit"),
        ({"rua": ["mailto:a!b@example.org"]}, r"has a raw '!'; write it as %21 \(RFC 9989 section 4\.8"),
        ({"rua": ["mailto:a,b@example.org"]}, r"has a raw ','; write it as %2C"),
        ({"rua": ["mailto:a@example.org;x"]}, r"has a raw ';'; write it as %3B"),
        ({"rua": ["mailto:a @example.org"]}, r"has whitespace"),
        ({"rua": ["mailto:a@example.org?subject=x"]}, r"has a query \('\?'\)"),
        ({"rua": ["mailto:nobody"]}, r"is not mailto:<local part>@<domain>"),
        ({"rua": ["mailto:a@localhost"]}, r"has a bad domain: 'localhost' is not a domain name: it needs at least 2"),
        ({"rua": ["mailto:a..b@example.org"]}, r"has a local part that is not letters"),
        ({"rua": ["mailto:" + "a" * 65 + "@example.org"]}, r"local part longer than 64 characters"),
        ({"rua": [7]}, r"rua\[0\] = 7 must be a mailto: URI"),
        ({"rua": ["mailto:d@example.org", "mailto:d@EXAMPLE.org"]}, r"rua\[1\] = 'mailto:d@example\.org' repeats"),
        ({"fo": ["1"]}, r"fo without ruf: RFC 9989 section 4\.7 ignores fo"),
        ({"ruf": ["mailto:f@example.org"], "fo": ["0", "1"]}, r"has both 0 and 1.*mutually exclusive"),
        ({"ruf": ["mailto:f@example.org"], "fo": "1:x"}, r"fo has 'x'; the options are"),
        ({"ruf": ["mailto:f@example.org"], "fo": ["d", "d"]}, r"lists an option twice"),
        ({"ruf": ["mailto:f@example.org"], "fo": []}, r"fo = \[\] must be a list of"),
        ({"ruf": ["mailto:f@example.org"], "fo": 1}, r"fo = 1 must be a list of"),
        ("p=reject", r"the input must be a dict"),
    ],
)
def test_bad_dmarc_tags_are_refused_naming_the_rule(spec, match):
    with pytest.raises(AnsibleFilterError, match=r"mail_dns_dmarc: DMARC record for example\.org: .*" + match):
        dmarc_text(spec)


@pytest.mark.parametrize(
    ("domain", "uris", "authorized"),
    [
        (DOMAIN, ["mailto:dmarc@example.org"], []),
        (DOMAIN, ["mailto:dmarc@reports.example.org"], []),
        ("lists.example.org", ["mailto:dmarc@example.org"], []),
        ("lists.example.org", ["mailto:dmarc@reports.example.org"], []),
        ("a.example.co.uk", ["mailto:dmarc@b.example.co.uk"], []),
        (DOMAIN, ["mailto:r@dmarc.example.net"], ["example.org._report._dmarc.dmarc.example.net."]),
        (
            DOMAIN,
            ["mailto:r@dmarc.example.net", "mailto:x@dmarc.example.net", "mailto:y@other.example"],
            ["example.org._report._dmarc.dmarc.example.net.", "example.org._report._dmarc.other.example."],
        ),
        # co.uk is a public suffix: example.co.uk and other.co.uk are two organizations.
        ("example.co.uk", ["mailto:r@other.co.uk"], ["example.co.uk._report._dmarc.other.co.uk."]),
    ],
)
def test_report_addresses_outside_the_organization_need_an_authorization(domain, uris, authorized):
    result = mail_dns_dmarc({"rua": uris[:1], "ruf": uris[1:] or None}, domain)

    assert [record["name"] for record in result["authorizations"]] == authorized
    assert all(
        (record["text"], record["match"], record["values"]) == ("v=DMARC1", "v=DMARC1", ['"v=DMARC1"'])
        for record in result["authorizations"]
    )


# ---------------------------------------------------------------------------------------------- MTA-STS

STS = {"mode": "enforce", "mx": ["mx1.example.org", "*.example.net"], "max_age": 604800}


def test_mta_sts_policy_lines_end_in_crlf_and_the_record_carries_its_id():
    result = mail_dns_mta_sts(STS, DOMAIN, ttl=300)

    assert result["policy"] == (
        "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.org\r\nmx: *.example.net\r\nmax_age: 604800\r\n"
    )
    assert result["id"] == hashlib.sha256(result["policy"].encode()).hexdigest()[:20]
    assert re.fullmatch(r"[A-Za-z0-9]{1,32}", result["id"])
    assert result["record"] == {
        "name": "_mta-sts.example.org.",
        "type": "TXT",
        "ttl": 300,
        "values": [f'"v=STSv1; id={result["id"]}"'],
        "text": f"v=STSv1; id={result['id']}",
        "match": "v=STSv1",
    }
    assert result["policy_url"] == "https://mta-sts.example.org/.well-known/mta-sts.txt"


@pytest.mark.parametrize("max_age", [0, 86400, 31557600, "604800"])
def test_max_age_up_to_31557600_is_accepted(max_age):
    assert mail_dns_mta_sts(STS | {"max_age": max_age}, DOMAIN)["policy"].endswith(f"max_age: {max_age}\r\n")


@pytest.mark.parametrize("max_age", [31557601, -1, True, 1.5, "1w", None])
def test_max_age_outside_the_rfc_range_is_refused(max_age):
    with pytest.raises(
        AnsibleFilterError,
        match=r"MTA-STS policy for example\.org: max_age = .* must be whole seconds from 0 to 31557600 "
        r"\(RFC 8461 section 3\.2",
    ):
        mail_dns_mta_sts(STS | {"max_age": max_age}, DOMAIN)


def test_the_id_is_stable_for_the_same_policy_and_changes_with_it():
    same = mail_dns_mta_sts(STS | {"mx": ["MX1.Example.ORG.", "*.example.net"]}, DOMAIN)

    assert mail_dns_mta_sts(STS, DOMAIN)["id"] == same["id"]
    changes = [{"mode": "testing"}, {"mx": ["mx1.example.org"]}, {"max_age": 604801}, {"mx": STS["mx"][::-1]}]
    ids = {mail_dns_mta_sts(STS | change, DOMAIN)["id"] for change in changes}
    assert same["id"] not in ids
    assert len(ids) == len(changes)


POLICIES = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(["enforce", "testing"]),
        "mx": st.lists(
            st.sampled_from(["mx1.example.org", "mx2.example.org", "*.example.net"]), min_size=1, unique=True
        ),
        "max_age": st.integers(0, 31557600),
    }
)


@given(POLICIES, POLICIES)
@FAST
def test_two_policies_share_an_id_exactly_when_they_are_the_same_policy(one, other):
    first, second = mail_dns_mta_sts(one, DOMAIN), mail_dns_mta_sts(other, DOMAIN)

    assert (first["id"] == second["id"]) == (first["policy"] == second["policy"])


def test_mode_none_needs_no_mx():
    result = mail_dns_mta_sts({"mode": "none", "max_age": 86400}, DOMAIN)

    assert result["policy"] == "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n"


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"mode": "enforce", "max_age": 86400}, r"mode enforce needs at least one mx pattern.*RFC 8461"),
        (STS | {"mx": []}, r"needs at least one mx pattern"),
        (STS | {"mode": "strict"}, r"mode = 'strict' must be one of \['enforce', 'testing', 'none'\]"),
        (
            STS | {"mx": ["mx*.example.net"]},
            r"mx\[0\] 'mx\*\.example\.net' is not a domain name: a wildcard is only allowed as the whole leftmost",
        ),
        (
            STS | {"mx": ["*.*.example.net"]},
            r"mx\[0\] '\*\.\*\.example\.net' is not a domain name: a wildcard is only allowed as the whole leftmost",
        ),
        (
            STS | {"mx": ["*.net"]},
            r"'\*\.net' is not a domain name: a wildcard needs at least two labels after it \(\*\.example\.org\) \(RFC",
        ),
        (STS | {"mx": ["mx1.example.org", "MX1.example.org"]}, r"mx\[1\] = 'mx1\.example\.org' repeats mx\[0\]"),
        (STS | {"mx": "mx1.example.org"}, r"mx must be a list of strings"),
        (STS | {"mx": [None]}, r"mx\[0\] = None must be a string"),
        (STS | {"max-age": 1}, r"unknown keys \['max-age'\]"),
    ],
)
def test_bad_mta_sts_policies_are_refused(spec, match):
    with pytest.raises(AnsibleFilterError, match=r"mail_dns_mta_sts: MTA-STS policy for example\.org: .*" + match):
        mail_dns_mta_sts(spec, DOMAIN)


# ---------------------------------------------------------------------------------------------- TLS-RPT


@pytest.mark.parametrize(
    ("uris", "text"),
    [
        (["mailto:tlsrpt@example.org"], "v=TLSRPTv1; rua=mailto:tlsrpt@example.org"),
        (
            ["MAILTO:TLS!rpt@Example.ORG", "https://Reports.Example.NET:8443/v1/tlsrpt?x=1"],
            "v=TLSRPTv1; rua=mailto:TLS!rpt@example.org,https://reports.example.net:8443/v1/tlsrpt?x=1",
        ),
        (["https://report.example.net/a%2Cb%3Bc"], "v=TLSRPTv1; rua=https://report.example.net/a%2Cb%3Bc"),
    ],
)
def test_tlsrpt_record_lists_its_uris(uris, text):
    record = mail_dns_tlsrpt({"rua": uris}, DOMAIN)

    assert (record["name"], record["text"], record["match"]) == ("_smtp._tls.example.org.", text, "v=TLSRPTv1")


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"rua": ["mailto:a,b@example.org"]}, r"has a raw ','; write it as %2C \(RFC 8460 section 3"),
        ({"rua": ["https://example.org/a;b"]}, r"has a raw ';'; write it as %3B"),
        ({"rua": ["http://example.org/tlsrpt"]}, r"must be a mailto: or https: URI \(RFC 8460 section 3"),
        ({"rua": ["tlsrpt@example.org"]}, r"must be a mailto: or https: URI"),
        ({"rua": []}, r"rua is empty; RFC 8460 section 3 requires at least one"),
        ({}, r"rua is empty"),
        ({"rua": "mailto:tlsrpt@example.org"}, r"rua must be a list of strings"),
        ({"rua": ["mailto:a@example.org", "mailto:a@EXAMPLE.ORG"]}, r"rua\[1\] = 'mailto:a@example\.org' repeats"),
        ({"rua": ["mailto:a @example.org"]}, r"has whitespace or non-ASCII characters"),
        ({"rua": ["mailto:nobody"]}, r"is not mailto:<local part>@<domain>"),
        ({"rua": ["https://user:pw@example.org/"]}, r"has user information before the host"),
        ({"rua": ["https://exa_mple.org/"]}, r"has a bad host: 'exa_mple\.org' is not a domain name"),
        ({"rua": ["https://example.org:99999/"]}, r"has a port that is not 1 to 65535"),
        ({"rua": ["https://example.org/#frag"]}, r"has a fragment"),
        ({"ruf": []}, r"unknown keys \['ruf'\]"),
    ],
)
def test_bad_tlsrpt_uris_are_refused(spec, match):
    with pytest.raises(AnsibleFilterError, match=r"mail_dns_tlsrpt: TLS-RPT record for example\.org: .*" + match):
        mail_dns_tlsrpt(spec, DOMAIN)


# ------------------------------------------------------------------------------------------------- TLSA


def test_a_certificate_and_its_public_key_give_the_same_independently_computed_digest(rsa_keys, mx_cert):
    expected = hashlib.sha256(
        mx_cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).hexdigest()

    from_cert = mail_dns_tlsa([certificate_pem(mx_cert)], "mx1.example.org")
    from_key = mail_dns_tlsa([public_pem(rsa_keys[2048].public_key())], "mx1.example.org")

    assert (
        from_cert
        == from_key
        == {
            "name": "_25._tcp.mx1.example.org.",
            "type": "TLSA",
            "ttl": 3600,
            "values": [f"3 1 1 {expected}"],
        }
    )


def test_the_next_key_is_published_beside_the_current_one_in_order_without_duplicates(rsa_keys, ed_key, mx_cert):
    current = certificate_pem(mx_cert)
    upcoming = public_pem(ed_key.public_key())

    record = mail_dns_tlsa([current, upcoming, public_pem(rsa_keys[2048].public_key())], "MX1.example.org.", 465)

    assert record["name"] == "_465._tcp.mx1.example.org."
    assert record["values"] == [
        f"3 1 1 {hashlib.sha256(spki(rsa_keys[2048].public_key())).hexdigest()}",
        f"3 1 1 {hashlib.sha256(spki(ed_key.public_key())).hexdigest()}",
    ]


def test_a_chain_gives_the_value_of_its_first_certificate(rsa_keys, mx_cert):
    issuer = certificate(rsa_keys[3072], "ca.example.org")
    chain = certificate_pem(mx_cert) + certificate_pem(issuer)

    assert mail_dns_tlsa([chain], "mx1.example.org") == mail_dns_tlsa([certificate_pem(mx_cert)], "mx1.example.org")


def test_dnspython_reads_the_tlsa_values(mx_cert):
    (value,) = mail_dns_tlsa([certificate_pem(mx_cert)], "mx1.example.org", 25, "tcp", 60)["values"]

    parsed = dnspython_rdata("TLSA", value)
    assert (parsed.usage, parsed.selector, parsed.mtype) == (3, 1, 1)
    assert parsed.cert == hashlib.sha256(spki(mx_cert.public_key())).digest()


@pytest.mark.parametrize(
    "private_format", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL]
)
def test_private_keys_are_refused_without_showing_them(rsa_keys, mx_cert, private_format):
    private_pem = (
        rsa_keys[2048].private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption()).decode()
    )

    with pytest.raises(AnsibleFilterError, match=r"pems\[1\] holds a private key; never pass private keys") as raised:
        mail_dns_tlsa([certificate_pem(mx_cert), certificate_pem(mx_cert) + private_pem], "mx1.example.org")
    assert private_pem.splitlines()[1] not in str(raised.value)


@pytest.mark.parametrize(
    ("pems", "host", "port", "protocol", "match"),
    [
        ([], "mx1.example.org", 25, "tcp", r"TLSA record _25\._tcp\.mx1\.example\.org: the list .* is empty"),
        ("PEM", "mx1.example.org", 25, "tcp", r"the input must be a list of PEM certificates or public keys, got str"),
        (["garbage"], "mx1.example.org", 25, "tcp", r"pems\[0\] is not PEM text"),
        ([None], "mx1.example.org", 25, "tcp", r"pems\[0\] must be PEM text \(a string\), got a NoneType"),
        (
            ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
            "mx1.example.org",
            25,
            "tcp",
            r"pems\[0\] is a CERTIFICATE PEM block that cannot be read",
        ),
        (
            ["-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"],
            "mx1.example.org",
            25,
            "tcp",
            r"is a 'CERTIFICATE REQUEST' PEM block; give a CERTIFICATE or a PUBLIC KEY",
        ),
        (["x"], "mx1", 25, "tcp", r"TLSA record _25\._tcp\.mx1: the host 'mx1' is not a domain name"),
        (["x"], "mx1.example.org", 0, "tcp", r"port = 0 is not a port number \(1 to 65535\)"),
        (["x"], "mx1.example.org", 65536, "tcp", r"port = 65536 is not a port number"),
        (["x"], "mx1.example.org", "smtp", "tcp", r"port = 'smtp' is not a port number"),
        (["x"], "mx1.example.org", 25, "icmp", r"protocol = 'icmp' must be one of \['tcp', 'udp', 'sctp'\]"),
    ],
)
def test_bad_tlsa_input_is_refused(pems, host, port, protocol, match):
    with pytest.raises(AnsibleFilterError, match=match):
        mail_dns_tlsa(pems, host, port, protocol)


def test_a_key_and_a_certificate_in_one_entry_are_refused(ed_key, mx_cert):
    with pytest.raises(AnsibleFilterError, match=r"pems\[0\] holds 2 PEM blocks \(CERTIFICATE, PUBLIC KEY\)"):
        mail_dns_tlsa([certificate_pem(mx_cert) + public_pem(ed_key.public_key())], "mx1.example.org")


# -------------------------------------------------------------------------------------------------- CAA

ACCOUNT = "accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1"


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        ({"issue": ["letsencrypt.org"]}, ['0 issue "letsencrypt.org"']),
        ({"issue": ["LetsEncrypt.org."], "issuewild": []}, ['0 issue "letsencrypt.org"', '0 issuewild ";"']),
        (
            {"issue": ["letsencrypt.org", "sectigo.com"], "issuewild": ["sectigo.com"]},
            ['0 issue "letsencrypt.org"', '0 issue "sectigo.com"', '0 issuewild "sectigo.com"'],
        ),
        (
            {"issue": [f"letsencrypt.org ;{ACCOUNT}; validationmethods=dns-01"]},
            [f'0 issue "letsencrypt.org; {ACCOUNT}; validationmethods=dns-01"'],
        ),
        (
            {"issue": ["letsencrypt.org"], "iodef": ["mailto:security@example.org", "https://iodef.example.org/caa"]},
            [
                '0 issue "letsencrypt.org"',
                '0 iodef "mailto:security@example.org"',
                '0 iodef "https://iodef.example.org/caa"',
            ],
        ),
        (
            {"issue": ["letsencrypt.org"], "issuewild": [], "critical": True},
            ['128 issue "letsencrypt.org"', '128 issuewild ";"'],
        ),
    ],
)
def test_caa_values_name_the_cas_for_names_wildcards_and_reports(spec, values):
    record = mail_dns_caa(spec, DOMAIN)

    assert record == {"name": "example.org.", "type": "CAA", "ttl": 3600, "values": values}


def test_dnspython_reads_the_caa_values():
    values = mail_dns_caa(
        {"issue": ["letsencrypt.org; validationmethods=dns-01"], "issuewild": [], "iodef": ["mailto:s@example.org"]},
        DOMAIN,
    )["values"]

    parsed = [dnspython_rdata("CAA", value) for value in values]
    assert [(p.flags, p.tag, p.value) for p in parsed] == [
        (0, b"issue", b"letsencrypt.org; validationmethods=dns-01"),
        (0, b"issuewild", b";"),
        (0, b"iodef", b"mailto:s@example.org"),
    ]


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({}, r"issue is empty; name at least one CA"),
        ({"issue": []}, r"issue is empty"),
        ({"issue": "letsencrypt.org"}, r"issue must be a list of strings"),
        ({"issue": [";"]}, r"issue\[0\]: the issuer '' is not a domain name.*RFC 8659 section 4\.2"),
        ({"issue": ["lets encrypt.org"]}, r"the issuer 'lets encrypt\.org' is not a domain name"),
        ({"issue": ["letsencrypt.org; accounturi"]}, r"has the parameter 'accounturi'; parameters are tag=value"),
        ({"issue": ["letsencrypt.org; acc_uri=x"]}, r"has the parameter 'acc_uri=x'"),
        ({"issue": ["letsencrypt.org; a=b c"]}, r"has the parameter 'a=b c'"),
        ({"issue": ["letsencrypt.org; a="]}, r"has the parameter 'a='"),
        ({"issue": ["letsencrypt.org; a=1; A=2"]}, r"has the parameter 'A' twice"),
        ({"issue": ["letsencrypt.org", "LetsEncrypt.org"]}, r"issue\[1\] = 'letsencrypt\.org' repeats issue\[0\]"),
        ({"issue": ["letsencrypt.org"], "issuewild": [5]}, r"issuewild\[0\] = 5 must be a string"),
        (
            {"issue": ["letsencrypt.org"], "iodef": ["http://example.org/"]},
            r"must be a mailto: or https: URI \(RFC 8659",
        ),
        ({"issue": ["letsencrypt.org"], "iodef": ["mailto:x"]}, r"is not mailto:<local part>@<domain>"),
        ({"issue": ["letsencrypt.org"], "iodef": ['mailto:"x"@example.org']}, r"has whitespace, quotes"),
        ({"issue": ["letsencrypt.org"], "critical": "yes"}, r"critical = 'yes' must be true or false"),
        ({"issue": ["letsencrypt.org"], "issue_wild": []}, r"unknown keys \['issue_wild'\]"),
    ],
)
def test_bad_caa_policies_are_refused(spec, match):
    with pytest.raises(AnsibleFilterError, match=r"mail_dns_caa: CAA record for example\.org: .*" + match):
        mail_dns_caa(spec, DOMAIN)


# ------------------------------------------------------------------------------------------------- zone


@pytest.fixture
def records(mx_cert):
    return [
        mail_dns_tlsa([certificate_pem(mx_cert)], "mx1.example.org"),
        mail_dns_dmarc({"p": "reject", "rua": ["mailto:r@dmarc.example.net"]}, DOMAIN)["record"],
        mail_dns_spf({"mechanisms": ["mx"], "all": "-all"}, DOMAIN),
        mail_dns_caa({"issue": ["letsencrypt.org"], "issuewild": []}, DOMAIN),
        mail_dns_dmarc({"p": "reject", "rua": ["mailto:r@dmarc.example.net"]}, DOMAIN)["authorizations"][0],
        mail_dns_mta_sts(STS, DOMAIN)["record"],
        mail_dns_tlsrpt({"rua": ["mailto:tlsrpt@example.org"]}, DOMAIN),
    ]


def test_zone_lines_are_in_canonical_order_relative_to_the_origin(records, mx_cert):
    digest = hashlib.sha256(spki(mx_cert.public_key())).hexdigest()
    sts_id = mail_dns_mta_sts(STS, DOMAIN)["id"]

    # example.net sorts before example.org: canonical order compares the labels from the right.
    assert mail_dns_zone(records, "example.org.") == (
        'example.org._report._dmarc.dmarc.example.net. 3600 IN TXT "v=DMARC1"\n'
        '@ 3600 IN CAA 0 issue "letsencrypt.org"\n'
        '@ 3600 IN CAA 0 issuewild ";"\n'
        '@ 3600 IN TXT "v=spf1 mx -all"\n'
        '_dmarc 3600 IN TXT "v=DMARC1; p=reject; rua=mailto:r@dmarc.example.net"\n'
        f'_mta-sts 3600 IN TXT "v=STSv1; id={sts_id}"\n'
        '_smtp._tls 3600 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.org"\n'
        f"_25._tcp.mx1 3600 IN TLSA 3 1 1 {digest}\n"
    )


def test_without_origin_every_name_stays_absolute(records):
    lines = mail_dns_zone(records).splitlines()

    assert all(line.split(" ", 1)[0].endswith(".") for line in lines)
    assert lines[1] == 'example.org. 3600 IN CAA 0 issue "letsencrypt.org"'
    assert mail_dns_zone([]) == ""


def test_dnspython_loads_the_zone_fragment_with_the_same_records(records, rsa_keys):
    zone_module = pytest.importorskip("dns.zone")
    in_zone = [
        record for record in records if record["name"].endswith(".example.org.") or record["name"] == "example.org."
    ]
    in_zone.append(dkim(public_pem(rsa_keys[3072].public_key())))
    text = mail_dns_zone(in_zone, "example.org")

    zone = zone_module.from_text(text, origin="example.org.", relativize=False, check_origin=False)

    for record in in_zone:
        rdataset = zone.find_rdataset(record["name"], record["type"])
        assert rdataset.ttl == record["ttl"]
        if record["type"] == "TXT":
            assert [b"".join(rdata.strings).decode() for rdata in rdataset] == [record["text"]]
        else:
            assert sorted(rdata.to_text() for rdata in rdataset) == sorted(record["values"])


@pytest.mark.parametrize(
    ("records", "origin", "match"),
    [
        ("records", None, r"mail_dns_zone: records: must be a list of records"),
        (["x"], None, r"record 0: must be a record dict"),
        ([{"record": {}, "authorizations": []}], None, r"record 0: has no \['name', 'type', 'ttl', 'values'\] key"),
        ([{"name": "example.org", "type": "TXT", "ttl": 1, "values": ['"x"']}], None, r"must be an absolute name"),
        (
            [{"name": "exa mple.org.", "type": "TXT", "ttl": 1, "values": ['"x"']}],
            None,
            r"name 'exa mple\.org\.' is not",
        ),
        ([{"name": "example.org.", "type": "SPF", "ttl": 1, "values": ['"x"']}], None, r"type = 'SPF' must be one of"),
        ([{"name": "example.org.", "type": "TXT", "ttl": -5, "values": ['"x"']}], None, r"ttl = -5 is not a TTL"),
        ([{"name": "example.org.", "type": "TXT", "ttl": 1, "values": []}], None, r"values must be a non-empty list"),
        (
            [{"name": "example.org.", "type": "TXT", "ttl": 1, "values": '"x"'}],
            None,
            r"values must be a non-empty list",
        ),
        (
            [{"name": "example.org.", "type": "TXT", "ttl": 1, "values": ['"a"\n"b"']}],
            None,
            r"values\[0\] = .* one line",
        ),
        ([{"name": "example.org.", "type": "TXT", "ttl": 1, "values": [" "]}], None, r"must be a non-empty string"),
        (
            [
                {"name": "example.org.", "type": "TXT", "ttl": 60, "values": ['"a"']},
                {"name": "example.org.", "type": "TXT", "ttl": 3600, "values": ['"b"']},
            ],
            None,
            r"example\.org\. TXT: has the TTLs 60 and 3600; .* one TTL \(RFC 2181 section 5\.2\)",
        ),
        ([], "exa mple.org", r"mail_dns_zone: origin: 'exa mple\.org' is not a domain name"),
    ],
)
def test_bad_records_for_a_zone_are_refused(records, origin, match):
    with pytest.raises(AnsibleFilterError, match=match):
        mail_dns_zone(records, origin)


def test_records_of_one_name_keep_their_order_and_names_outside_the_origin_stay_absolute():
    records = [
        {"name": "example.org.", "type": "TXT", "ttl": 60, "values": ['"second"']},
        {"name": "example.net.", "type": "MX", "ttl": 60, "values": ["10 mx1.example.net."]},
        {"name": "example.org.", "type": "TXT", "ttl": 60, "values": ['"third"', '"fourth"']},
        {"name": "example.org.", "type": "A", "ttl": 60, "values": ["192.0.2.1"]},
    ]

    assert mail_dns_zone(records, "example.org").splitlines() == [
        "example.net. 60 IN MX 10 mx1.example.net.",
        "@ 60 IN A 192.0.2.1",
        '@ 60 IN TXT "second"',
        '@ 60 IN TXT "third"',
        '@ 60 IN TXT "fourth"',
    ]


# --------------------------------------------------------------------------------------------- all filters

UNDEFINED = StrictUndefined(name="not_set")
CALLS = {
    "txt_strings": mail_dns_txt_strings,
    "txt_rdata": mail_dns_txt_rdata,
    "spf": lambda value: mail_dns_spf(value, DOMAIN),
    "spf_nested": lambda value: mail_dns_spf({"mechanisms": ["mx", value], "all": "-all"}, DOMAIN),
    "spf_domain": lambda value: mail_dns_spf({"all": "-all"}, value),
    "spf_resolved": lambda value: mail_dns_spf({"all": "-all"}, DOMAIN, {"a.example.net": value}),
    "dkim": lambda value: mail_dns_dkim({"domain": DOMAIN, "selector": value, "public_key": "x"}),
    "dmarc": lambda value: mail_dns_dmarc({"p": value}, DOMAIN),
    "dmarc_rua": lambda value: mail_dns_dmarc({"rua": [value]}, DOMAIN),
    "mta_sts": lambda value: mail_dns_mta_sts({"mode": "none", "max_age": value}, DOMAIN),
    "tlsrpt": lambda value: mail_dns_tlsrpt({"rua": value}, DOMAIN),
    "tlsa": lambda value: mail_dns_tlsa([value], "mx1.example.org"),
    "tlsa_port": lambda value: mail_dns_tlsa(["x"], "mx1.example.org", value),
    "caa": lambda value: mail_dns_caa({"issue": ["letsencrypt.org"], "iodef": [value]}, DOMAIN),
    "zone": lambda value: mail_dns_zone([{"name": "example.org.", "type": "TXT", "ttl": value, "values": ['"x"']}]),
    "zone_origin": lambda value: mail_dns_zone([], value),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS)
def test_undefined_input_raises_the_undefined_error(call):
    with pytest.raises(Exception, match="is undefined") as raised:
        call(UNDEFINED)
    assert not isinstance(raised.value, AnsibleFilterError)


def test_filter_module_maps_the_names():
    assert FilterModule().filters() == {
        "mail_dns_txt_strings": mail_dns_txt_strings,
        "mail_dns_txt_rdata": mail_dns_txt_rdata,
        "mail_dns_spf": mail_dns_spf,
        "mail_dns_dkim": mail_dns_dkim,
        "mail_dns_dmarc": mail_dns_dmarc,
        "mail_dns_mta_sts": mail_dns_mta_sts,
        "mail_dns_tlsrpt": mail_dns_tlsrpt,
        "mail_dns_tlsa": mail_dns_tlsa,
        "mail_dns_caa": mail_dns_caa,
        "mail_dns_zone": mail_dns_zone,
    }


CRYPTOGRAPHY_ABSENT = """
import sys

class NoCryptography:
    def find_spec(self, name, path=None, target=None):
        if name == "cryptography" or name.startswith("cryptography."):
            raise ImportError(f"No module named {name!r}")

sys.meta_path.insert(0, NoCryptography())
from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.filter import mail_dns

spf = mail_dns.mail_dns_spf({"mechanisms": ["mx"], "all": "-all"}, "example.org")
caa = mail_dns.mail_dns_caa({"issue": ["letsencrypt.org"]}, "example.org")
print(spf["text"], "|", caa["values"][0])
for call in (
    lambda: mail_dns.mail_dns_dkim({"domain": "example.org", "selector": "s", "public_key": "x"}),
    lambda: mail_dns.mail_dns_tlsa(["x"], "mx1.example.org"),
):
    try:
        call()
    except AnsibleFilterError as e:
        print(e)
"""


def test_without_cryptography_the_filters_load_and_only_dkim_and_tlsa_name_the_package():
    # A fresh interpreter: the test session has cryptography imported already.
    collections = Path(__file__).resolve().parents[2] / "collections"
    done = subprocess.run(
        [sys.executable, "-c", CRYPTOGRAPHY_ABSENT],
        env={**os.environ, "PYTHONPATH": str(collections)},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == 'v=spf1 mx -all | 0 issue "letsencrypt.org"'
    assert lines[1].startswith("mail_dns_dkim: needs the Python package cryptography on the controller")
    assert lines[2].startswith("mail_dns_tlsa: needs the Python package cryptography on the controller")
    assert all("pip install cryptography" in line for line in lines[1:])
