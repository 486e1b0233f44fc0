# SPDX-License-Identifier: MIT
"""Unit tests for mail_postfix_dnsbl_sites (plugins/plugin_utils/postfix_postscreen.py): postscreen's DNS lists,
refused where an answer a list gives for every address (127.255.255.252 to .255) could reject every sender."""

from __future__ import annotations

import re

import mail_postfix
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.plugin_utils.postfix_postscreen import (
    ERROR_ANSWERS,
    mail_postfix_dnsbl_sites,
)
from hypothesis import given, settings
from hypothesis import strategies as st

VAR = "postfix_hardening_postscreen_dnsbl_sites"


@pytest.mark.parametrize(
    "site",
    [
        "zen.spamhaus.org=127.0.0.2",
        "zen.spamhaus.org=127.0.0.[2..11]",
        "zen.spamhaus.org=127.0.0.[2..11]*3",
        "zen.spamhaus.org=127.0.0.[2;4;6]*2",
        "zen.spamhaus.org=127.0.0.[2..4;10;11]",
        "b.barracudacentral.org=127.0.[0..255].[2..11]*2",
        "list.dnswl.org=127.0.[0..255].[1..3]*-4",
        "list.dnswl.org=127.0.[0..255].0*-2",
        "abcdefghijklmnop.zen.dq.spamhaus.net=127.0.0.[2..11]*3",
        "dnsbl.mailfort.test=127.0.0.[2..11]*3",
        "bl.example.org=127.[0..254].[0..255].[0..255]",
        "bl.example.org=127.255.255.[0..251]",
    ],
)
def test_sites_postfix_accepts_with_a_safe_filter_pass_as_written(site):
    result = mail_postfix_dnsbl_sites([site])
    assert result["sites"] == [site]
    assert result["reply_map"] == {site.split("=")[0]: "dnsbl"}


def test_domains_are_lower_cased_and_each_maps_once_to_the_reply_name():
    sites = [
        "Zen.Spamhaus.org=127.0.0.[2..3]*3",
        "zen.spamhaus.org=127.0.0.[10..11]",
        "list.dnswl.org=127.0.[0..255].[1..3]*-4",
    ]
    result = mail_postfix_dnsbl_sites(sites, "blocklist")
    assert result["sites"] == [
        "zen.spamhaus.org=127.0.0.[2..3]*3",
        "zen.spamhaus.org=127.0.0.[10..11]",
        "list.dnswl.org=127.0.[0..255].[1..3]*-4",
    ]
    assert result["reply_map"] == {"zen.spamhaus.org": "blocklist", "list.dnswl.org": "blocklist"}
    assert result["max_score"] == 4  # 3 + 1 (no weight is 1); the allowlist lowers a score, never raises it


@pytest.mark.parametrize("sites", [[], None])
def test_no_site_is_no_list_and_an_empty_reply_map(sites):
    assert mail_postfix_dnsbl_sites(sites) == {"sites": [], "reply_map": {}, "max_score": 0}


def test_the_key_in_a_lists_domain_never_reaches_the_reply():
    result = mail_postfix_dnsbl_sites(["s3cr3tkey.zen.dq.spamhaus.net=127.0.0.[2..11]*3"], "zen.spamhaus.org")
    assert result["reply_map"] == {"s3cr3tkey.zen.dq.spamhaus.net": "zen.spamhaus.org"}
    assert all("s3cr3tkey" not in name for name in result["reply_map"].values())


@pytest.mark.parametrize(
    ("site", "rule"),
    [
        ("zen.spamhaus.org", "has no answer filter"),
        ("zen.spamhaus.org*3", "has no answer filter"),
        ("list.dnswl.org*-4", "has no answer filter"),
        ("zen.spamhaus.org=127.255.255.254", r"matches 127\.255\.255\.254"),
        ("zen.spamhaus.org=127.255.255.[0..255]", r"matches 127\.255\.255\.252, 127\.255\.255\.253"),
        ("zen.spamhaus.org=127.[0..255].[0..255].[0..255]*3", "reject every sender"),
        ("zen.spamhaus.org=127.255.[250..255].[252;255]", r"matches 127\.255\.255\.252, 127\.255\.255\.255"),
        ("zen.spamhaus.org=127.255.255.[2..252]", r"matches 127\.255\.255\.252\b"),
        ("zen.spamhaus.org=[0..255].0.0.2", "outside 127.0.0.0/8"),
        ("zen.spamhaus.org=10.0.0.2", "outside 127.0.0.0/8"),
        ("zen.spamhaus.org=[126;127].0.0.2", "outside 127.0.0.0/8"),
        ("zen.spamhaus.org=127.0.0", "has the filter '127.0.0'"),
        ("zen.spamhaus.org=127.0.0.2.1", "has the filter"),
        ("zen.spamhaus.org=", "has the filter ''"),
        ("zen.spamhaus.org=127.0.0.256", "a number from 0 to 255"),
        ("zen.spamhaus.org=127.0.0.02", "a number from 0 to 255"),
        ("zen.spamhaus.org=127.0.0.[11..2]", "runs backwards"),
        ("zen.spamhaus.org=127.0.0.[2..]", "a number from 0 to 255"),
        ("zen.spamhaus.org=127.0.0.[]", "a number from 0 to 255"),
        ("zen.spamhaus.org=127.0.0.x", "a number from 0 to 255"),
        ("zen.spamhaus.org=127.0.0.2*0", "whole number other than 0"),
        ("zen.spamhaus.org=127.0.0.2*", "whole number other than 0"),
        ("zen.spamhaus.org=127.0.0.2*three", "whole number other than 0"),
        ("zen.spamhaus.org=127.0.0.2*3*4", "not one DNS list entry"),
        ("zen.spamhaus.org=127.0.0.2, bl.example.org=127.0.0.2", "not one DNS list entry"),
        ("zen.spamhaus.org =127.0.0.2", "not one DNS list entry"),
        ("=127.0.0.2", "not one DNS list entry"),
        ("zen_spamhaus.org=127.0.0.2", "does not start with a DNS list's domain"),
        ("localhost=127.0.0.2", "does not start with a DNS list's domain"),
        ("127.0.0.2=127.0.0.2", "does not start with a DNS list's domain"),
    ],
)
def test_unsafe_or_malformed_sites_are_refused_naming_variable_index_value_and_rule(site, rule):
    with pytest.raises(AnsibleFilterError) as raised:
        mail_postfix_dnsbl_sites(["bl.example.org=127.0.0.2", site])
    message = str(raised.value)
    assert message.startswith(f"mail_postfix_dnsbl_sites: {VAR}[1] = {site!r}"), message
    assert re.search(rule, message), message


def test_a_filter_matching_the_public_resolver_answer_says_it_would_reject_every_sender():
    with pytest.raises(AnsibleFilterError, match=r"127\.255\.255\.254.*reject every sender"):
        mail_postfix_dnsbl_sites(["zen.spamhaus.org=127.255.255.[250..254]*3"])


def test_a_repeated_site_is_refused():
    with pytest.raises(AnsibleFilterError, match=rf"{VAR}\[1\] = .* repeats {VAR}\[0\]"):
        mail_postfix_dnsbl_sites(["zen.spamhaus.org=127.0.0.2", "ZEN.spamhaus.org=127.0.0.2"])


@pytest.mark.parametrize(
    ("sites", "match"),
    [
        ("zen.spamhaus.org=127.0.0.2", "must be a list"),
        ({"zen.spamhaus.org": "127.0.0.2"}, "must be a list"),
        ([3], r"\[0\] = 3 must be a string"),
        ([None], r"\[0\] = None must be a string"),
    ],
)
def test_sites_of_the_wrong_type_are_refused(sites, match):
    with pytest.raises(AnsibleFilterError, match=match):
        mail_postfix_dnsbl_sites(sites)


@pytest.mark.parametrize("name", ["", "two words", "a,b", "x" * 64, "-dnsbl", 3, None, "dnsbl\n"])
def test_a_reply_name_that_is_not_one_word_is_refused_naming_its_variable(name):
    with pytest.raises(AnsibleFilterError, match=r"postfix_hardening_postscreen_dnsbl_reply_name = .* one word"):
        mail_postfix_dnsbl_sites(["zen.spamhaus.org=127.0.0.2"], name)


def test_the_filter_is_exported_by_mail_postfix():
    assert mail_postfix.FilterModule().filters()["mail_postfix_dnsbl_sites"] is mail_postfix_dnsbl_sites


# --- every filter Postfix would read: refused exactly when it matches an error answer or leaves 127/8 ---------

_OCTET = st.one_of(
    st.integers(0, 255).map(str),
    st.lists(
        st.tuples(st.integers(0, 255), st.integers(0, 255)).map(lambda pair: tuple(sorted(pair))),
        min_size=1,
        max_size=3,
    ).map(lambda ranges: "[" + ";".join(f"{low}..{high}" if low != high else str(low) for low, high in ranges) + "]"),
)


def _values(octet: str) -> set[int]:
    if not octet.startswith("["):
        return {int(octet)}
    values = set()
    for item in octet[1:-1].split(";"):
        low, _, high = item.partition("..")
        values.update(range(int(low), int(high or low) + 1))
    return values


@settings(database=None, max_examples=300, deadline=None)
@given(st.one_of(st.just("127"), _OCTET), _OCTET, _OCTET, _OCTET)
def test_a_filter_is_refused_exactly_when_it_could_match_an_error_answer_or_leaves_loopback(first, second, third, last):
    octets = [first, second, third, last]
    matched = [_values(octet) for octet in octets]
    unsafe = matched[0] != {127} or any(
        all(int(part) in values for part, values in zip(answer.split("."), matched, strict=True))
        for answer in ERROR_ANSWERS
    )
    site = "bl.example.org=" + ".".join(octets)
    try:
        mail_postfix_dnsbl_sites([site])
    except AnsibleFilterError:
        refused = True
    else:
        refused = False
    assert refused == unsafe, site


def test_the_error_answers_are_spamhaus_252_to_255():
    assert ERROR_ANSWERS == ("127.255.255.252", "127.255.255.253", "127.255.255.254", "127.255.255.255")
