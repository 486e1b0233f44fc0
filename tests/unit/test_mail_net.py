# SPDX-License-Identifier: MIT
"""mail_net_cidrs: canonical CIDR lists, clear errors. mail_net_allowlist: collapsed per-family allowlists."""

from __future__ import annotations

import ipaddress
import itertools
import random
from typing import Any

import jinja2
import mail_net
import pytest
import sidecar
from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.plugin_utils import net
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import StrictUndefined

# No example database: each run stands alone, whatever an earlier run on this machine found.
HYPOTHESIS = settings(database=None, max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(
    ("networks", "expected"),
    [
        ([], []),
        (["192.0.2.0/24"], ["192.0.2.0/24"]),
        (["192.0.2.7"], ["192.0.2.7/32"]),
        (["2001:DB8::/32"], ["2001:db8::/32"]),
        (["2001:db8::1"], ["2001:db8::1/128"]),
        ([" 10.0.0.0/8 "], ["10.0.0.0/8"]),
        (["192.0.2.0/24", "192.0.2.0/24", "10.0.0.0/8"], ["192.0.2.0/24", "10.0.0.0/8"]),
    ],
)
def test_networks_are_returned_in_canonical_cidr_notation(networks, expected):
    assert mail_net.mail_net_cidrs(networks) == expected


@pytest.mark.parametrize(
    ("networks", "match"),
    [
        ("192.0.2.0/24", r"my_nets must be a list of networks"),
        (None, r"my_nets must be a list of networks"),
        ([42], r"my_nets\[0\] = 42 must be a string"),
        (["192.0.2.1/24"], r"my_nets\[0\] = '192.0.2.1/24' is not a network in CIDR notation \(host bits"),
        (["192.0.2.0/33"], r"my_nets\[0\] = '192.0.2.0/33' is not a network"),
        (["mail.example.org"], r"my_nets\[0\] = 'mail.example.org' is not a network"),
        (["10.0.0.0/8", ""], r"my_nets\[1\] = '' is not a network"),
    ],
)
def test_bad_networks_are_refused_naming_the_variable_and_entry(networks, match):
    with pytest.raises(AnsibleFilterError, match=rf"^mail_net_cidrs: {match}"):
        mail_net.mail_net_cidrs(networks, "my_nets")


def test_undefined_input_raises_the_undefined_error():
    with pytest.raises(Exception, match="is undefined") as raised:
        mail_net.mail_net_cidrs(StrictUndefined(name="my_nets"))
    assert not isinstance(raised.value, AnsibleFilterError)


@given(st.lists(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)), max_size=20))
def test_any_list_of_addresses_round_trips_as_host_networks(addresses):
    result = mail_net.mail_net_cidrs([str(a) for a in addresses])
    assert result == list(dict.fromkeys(str(ipaddress.ip_network(a)) for a in addresses))
    assert mail_net.mail_net_cidrs(result) == result


def test_filter_module_and_documentation_cover_the_filter():
    assert mail_net.FilterModule().filters() == {
        "mail_net_cidrs": mail_net.mail_net_cidrs,
        "mail_net_allowlist": mail_net.mail_net_allowlist,
        "mail_net_trusted": mail_net.mail_net_trusted,
        "mail_net_acknowledged": mail_net.mail_net_acknowledged,
    }
    assert sidecar.documentation("mail_net_cidrs")["DOCUMENTATION"]["positional"] == "_input, varname"
    assert sidecar.documentation("mail_net_cidrs")["RETURN"]
    assert sidecar.documentation("mail_net_cidrs")["EXAMPLES"]


# --- mail_net_allowlist ---------------------------------------------------------------------------------------


def allowlist(networks: Any, host_bits: str = "reject") -> dict:
    return mail_net.mail_net_allowlist(networks, "my_allow", host_bits)


def outcome(networks: Any, host_bits: str = "reject") -> tuple[dict | None, AnsibleFilterError | None]:
    try:
        return allowlist(networks, host_bits), None
    except AnsibleFilterError as e:
        return None, e


def collapsed(networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network], version: int) -> list[str]:
    """The reference: ipaddress.collapse_addresses over one family."""
    return [str(n) for n in ipaddress.collapse_addresses(n for n in networks if n.version == version)]


@pytest.mark.parametrize(
    ("networks", "ipv4", "ipv6"),
    [
        ([], [], []),
        (["192.0.2.7"], ["192.0.2.7/32"], []),
        (["2001:DB8:0:0::7"], [], ["2001:db8::7/128"]),
        ([" 192.0.2.0/24\t", "192.0.2.0/24", "192.0.2.0/24"], ["192.0.2.0/24"], []),
        (["192.0.2.0/25", "192.0.2.128/25"], ["192.0.2.0/24"], []),
        (["192.0.2.0/24", "192.0.2.77", "192.0.2.64/26"], ["192.0.2.0/24"], []),
        (["192.0.2.1", "192.0.2.2"], ["192.0.2.1/32", "192.0.2.2/32"], []),
        (["192.0.2.0/24", "192.0.3.0/24", "192.0.4.0/24"], ["192.0.2.0/23", "192.0.4.0/24"], []),
        (["10.0.0.0/8", "9.0.0.0/8", "100.64.0.0/10"], ["9.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10"], []),
        (["0.0.0.0/0", "192.0.2.7", "::/0", "2001:db8::/32"], ["0.0.0.0/0"], ["::/0"]),
        (["255.255.255.255", "255.255.255.254/31"], ["255.255.255.254/31"], []),
        (["2001:db8::/33", "2001:db8:8000::/33"], [], ["2001:db8::/32"]),
        (["2001:db8::1", "2001:db8::/127"], [], ["2001:db8::/127"]),
        (["198.51.100.0/24", "2001:db8::/32", "192.0.2.7"], ["192.0.2.7/32", "198.51.100.0/24"], ["2001:db8::/32"]),
        # inet_ntop would write these two in dotted form; the output is ipaddress's canonical text
        (["::192.0.2.1", "::1:2"], [], ["::1:2/128", "::c000:201/128"]),
        (["::ffff:0:192.0.2.1"], [], ["::ffff:0:c000:201/128"]),  # IPv4-translated (RFC 2765), not IPv4-mapped
        (("192.0.2.7",), ["192.0.2.7/32"], []),
    ],
)
def test_allowlist_is_split_by_family_collapsed_and_sorted(networks, ipv4, ipv6):
    result = allowlist(networks)

    assert result == {
        "ipv4": ipv4,
        "ipv6": ipv6,
        "count": {"ipv4": len(ipv4), "ipv6": len(ipv6), "input": len(networks)},
    }


@pytest.mark.parametrize(
    ("networks", "ipv4", "ipv6"),
    [
        (["192.0.2.1/24"], ["192.0.2.0/24"], []),
        (["192.0.2.1/24", "192.0.3.255/24"], ["192.0.2.0/23"], []),
        (["10.1.2.3/0"], ["0.0.0.0/0"], []),
        (["2001:db8::1/32", "2001:db8::/32"], [], ["2001:db8::/32"]),
        (["192.0.2.0/24", "192.0.2.7"], ["192.0.2.0/24"], []),
    ],
)
def test_normalise_turns_host_bits_into_the_network(networks, ipv4, ipv6):
    result = allowlist(networks, "normalise")

    assert (result["ipv4"], result["ipv6"]) == (ipv4, ipv6)


def test_the_default_variable_name_and_host_bit_policy():
    with pytest.raises(AnsibleFilterError, match=r"^mail_net_allowlist: allowlist\[0\] = '192\.0\.2\.1/24' has host"):
        mail_net.mail_net_allowlist(["192.0.2.1/24"])


_MAPPED = r"is in the IPv4-mapped IPv6 range ::ffff:0:0/96;"
_RULE = r"is not an IPv4 or IPv6 address or CIDR network such as 192\.0\.2\.7, 192\.0\.2\.0/24 or 2001:db8::/32"


@pytest.mark.parametrize(
    ("networks", "match"),
    [
        ("192.0.2.0/24", r"my_allow must be a list of addresses and networks, got '192\.0\.2\.0/24'"),
        (None, r"my_allow must be a list of addresses and networks, got None"),
        ({"192.0.2.0/24": 1}, r"my_allow must be a list of addresses and networks, got \{"),
        ([42], r"my_allow\[0\] = 42 must be a string: an IPv4 or IPv6 address or CIDR network"),
        ([None], r"my_allow\[0\] = None must be a string"),
        ([b"192.0.2.7"], r"my_allow\[0\] = b'192\.0\.2\.7' must be a string"),
        (["192.0.2.7", ["192.0.2.8"]], r"my_allow\[1\] = \['192\.0\.2\.8'\] must be a string"),
        ([""], r"my_allow\[0\] = '' is empty"),
        (["192.0.2.7", " \t"], r"my_allow\[1\] = ' \\t' is empty"),
        (["mail.example.org"], rf"my_allow\[0\] = 'mail\.example\.org' {_RULE}"),
        (["192.0.2.7:25"], rf"my_allow\[0\] = '192\.0\.2\.7:25' {_RULE}"),
        (["192.0.2.256"], rf"my_allow\[0\] = '192\.0\.2\.256' {_RULE}"),
        (["192.0.02.7"], rf"my_allow\[0\] = '192\.0\.02\.7' {_RULE}"),
        (["192.0.2"], rf"my_allow\[0\] = '192\.0\.2' {_RULE}"),
        (["/24"], rf"my_allow\[0\] = '/24' {_RULE}"),
        (["2001:db8::1::2"], rf"my_allow\[0\] = '2001:db8::1::2' {_RULE}"),
        (["fe80::1%eth0"], rf"my_allow\[0\] = 'fe80::1%eth0' {_RULE}"),
        (["192.0.2.7\x00"], rf"my_allow\[0\] = '192\.0\.2\.7\\x00' {_RULE}"),
        (
            ["192.0.2.0/33"],
            r"my_allow\[0\] = '192\.0\.2\.0/33' has a prefix length out of range: IPv4 prefixes are 0 to 32$",
        ),
        (
            ["2001:db8::/129"],
            r"my_allow\[0\] = '2001:db8::/129' has a prefix length out of range: IPv6 prefixes are 0 to 128",
        ),
        (
            ["192.0.2.0/"],
            r"my_allow\[0\] = '192\.0\.2\.0/' has the prefix ''; write a prefix length from 0 to 32 without",
        ),
        (
            ["192.0.2.0/024"],
            r"my_allow\[0\] = '192\.0\.2\.0/024' has the prefix '024'; write a prefix length from 0 to 32 "
            r"without leading zeros, e\.g\. /24$",
        ),
        (
            ["192.0.2.0/255.255.255.0"],
            r"my_allow\[0\] = '192\.0\.2\.0/255\.255\.255\.0' has the prefix '255\.255\.255\.0'; write a prefix",
        ),
        (["192.0.2.0/-1"], r"my_allow\[0\] = '192\.0\.2\.0/-1' has the prefix '-1'; write a prefix length"),
        (["192.0.2.0/ 24"], r"my_allow\[0\] = '192\.0\.2\.0/ 24' has the prefix ' 24'; write a prefix length"),
        (
            ["2001:db8::/64/64"],
            r"my_allow\[0\] = '2001:db8::/64/64' has the prefix '64/64'; write a prefix length from 0 to 128",
        ),
        (
            ["192.0.2.1/24"],
            r"my_allow\[0\] = '192\.0\.2\.1/24' has host bits set for its prefix length; did you mean the network "
            r"192\.0\.2\.0/24\? \(or 192\.0\.2\.1/32 for the one address; host_bits='normalise' turns such",
        ),
        (
            ["2001:db8::1/32"],
            r"my_allow\[0\] = '2001:db8::1/32' has host bits set .* the network 2001:db8::/32\? "
            r"\(or 2001:db8::1/128 ",
        ),
        (
            ["::ffff:192.0.2.1"],
            rf"my_allow\[0\] = '::ffff:192\.0\.2\.1' {_MAPPED} write 192\.0\.2\.1 instead: nftables sees IPv4 "
            r"clients in its ip family",
        ),
        (["::FFFF:c000:0201/128"], rf"my_allow\[0\] = '::FFFF:c000:0201/128' {_MAPPED} write 192\.0\.2\.1 instead"),
        (["::ffff:192.0.2.0/120"], rf"my_allow\[0\] = '::ffff:192\.0\.2\.0/120' {_MAPPED} write 192\.0\.2\.0/24 "),
        (["::ffff:0:0/96"], rf"my_allow\[0\] = '::ffff:0:0/96' {_MAPPED} write 0\.0\.0\.0/0 instead"),
    ],
)
def test_bad_allowlist_entries_are_refused_naming_variable_index_value_and_rule(networks, match):
    with pytest.raises(AnsibleFilterError, match=rf"^mail_net_allowlist: {match}"):
        allowlist(networks)


@pytest.mark.parametrize(
    ("networks", "match"),
    [
        (["::ffff:192.0.2.1/120"], rf"my_allow\[0\] = '::ffff:192\.0\.2\.1/120' {_MAPPED} write 192\.0\.2\.0/24 "),
        (["192.0.2.7", "192.0.2.0/33"], r"my_allow\[1\] = '192\.0\.2\.0/33' has a prefix length out of range"),
    ],
)
def test_normalise_still_refuses_what_is_not_a_host_bit_problem(networks, match):
    with pytest.raises(AnsibleFilterError, match=rf"^mail_net_allowlist: {match}"):
        allowlist(networks, "normalise")


@pytest.mark.parametrize("host_bits", ["normalize", "Reject", "", None, True, ["reject"]])
def test_unknown_host_bit_policies_are_refused(host_bits):
    with pytest.raises(
        AnsibleFilterError, match=r"^mail_net_allowlist: host_bits = .* is not one of: reject, normalise$"
    ):
        allowlist(["192.0.2.7"], host_bits)


def test_parse_errors_are_chained_to_their_cause():
    with pytest.raises(AnsibleFilterError) as caught:
        allowlist(["192.0.2.7", "mail.example.org"])

    assert isinstance(caught.value.__cause__, OSError)


def test_a_huge_bad_entry_is_cut_short_in_the_error():
    with pytest.raises(AnsibleFilterError) as caught:
        allowlist(["192.0.2.0/" + "9" * 5000, "x" * 5000])

    assert "my_allow[0] = '192.0.2.0/99999" in str(caught.value)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("undefined_class", [jinja2.StrictUndefined, jinja2.Undefined])
@pytest.mark.parametrize(
    "call",
    [
        mail_net.mail_net_allowlist,
        lambda u: mail_net.mail_net_allowlist(["192.0.2.7", u]),
        lambda u: mail_net.mail_net_allowlist(["192.0.2.7"], u),
        lambda u: mail_net.mail_net_allowlist(["192.0.2.7"], "my_allow", u),
    ],
    ids=["networks", "entry", "varname", "host_bits"],
)
def test_allowlist_undefined_values_raise_the_undefined_error_not_a_filter_error(call, undefined_class):
    with pytest.raises(jinja2.UndefinedError, match="is undefined"):
        call(undefined_class(name="mailfort_missing"))


# --- mail_net_allowlist: properties ---------------------------------------------------------------------------

_V4_POOL = st.one_of(st.ip_addresses(v=4), st.ip_addresses(network="192.0.2.0/24"))
_V6_POOL = st.one_of(st.ip_addresses(v=6), st.ip_addresses(network="2001:db8::/120")).filter(
    lambda address: address.ipv4_mapped is None  # refused on purpose, tested above
)


def _not_mapped(network: ipaddress.IPv6Network) -> bool:
    return not (network.prefixlen >= 96 and network.network_address.ipv4_mapped is not None)


# Mostly long prefixes inside two small ranges, so that duplicates, overlaps and adjacent networks are common.
V4_NETWORKS = st.builds(
    lambda address, prefix: ipaddress.IPv4Network((address, prefix), strict=False),
    _V4_POOL,
    st.one_of(st.integers(22, 32), st.integers(0, 32)),
)
V6_NETWORKS = st.builds(
    lambda address, prefix: ipaddress.IPv6Network((address, prefix), strict=False),
    _V6_POOL,
    st.one_of(st.integers(112, 128), st.integers(0, 128)),
).filter(_not_mapped)
NETWORKS = st.lists(st.one_of(V4_NETWORKS, V6_NETWORKS), max_size=40)


def _text(network: ipaddress.IPv4Network | ipaddress.IPv6Network, form: int) -> str:
    """One of the ways a user may write the network."""
    if form == 1 and network.num_addresses == 1:
        return str(network.network_address)
    if form == 2:
        return f"  {network.network_address.exploded.upper()}/{network.prefixlen} "
    return str(network)


def _parsed(texts: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(text) for text in texts]


@HYPOTHESIS
@given(NETWORKS, st.data())
def test_output_is_ipaddress_collapse_of_the_input_split_by_family(networks, data):
    texts = [_text(network, data.draw(st.integers(0, 2))) for network in networks]

    result = allowlist(texts)

    assert result["ipv4"] == collapsed(networks, 4)
    assert result["ipv6"] == collapsed(networks, 6)
    assert result["count"] == {"ipv4": len(result["ipv4"]), "ipv6": len(result["ipv6"]), "input": len(texts)}


@HYPOTHESIS
@given(NETWORKS, st.lists(st.one_of(_V4_POOL, _V6_POOL), max_size=20))
def test_output_covers_exactly_the_addresses_the_input_covers(networks, probes):
    output = _parsed((result := allowlist([str(n) for n in networks]))["ipv4"] + result["ipv6"])
    # The edges of every network and their neighbours are where an off-by-one would show.
    edges = []
    for network in networks:
        top = 2**network.max_prefixlen - 1
        first, last = int(network.network_address), int(network.broadcast_address)
        edges += [
            type(network.network_address)(value) for value in (first - 1, first, last, last + 1) if 0 <= value <= top
        ]

    for address in [*probes, *edges]:
        assert any(address in n for n in networks) == any(address in n for n in output), address


@HYPOTHESIS
@given(NETWORKS)
def test_output_networks_are_canonical_sorted_and_never_overlap(networks):
    result = allowlist([str(n) for n in networks])

    for family, version in (("ipv4", 4), ("ipv6", 6)):
        output = _parsed(result[family])
        assert all(network.version == version for network in output)
        assert [str(network) for network in output] == result[family]  # canonical text, host bits zero
        for before, after in itertools.pairwise(output):
            assert before.broadcast_address < after.network_address


@HYPOTHESIS
@given(NETWORKS, st.randoms(use_true_random=False))
def test_allowlist_is_idempotent_and_order_does_not_matter(networks, rnd):
    texts = [str(n) for n in networks]
    result = allowlist(texts)
    shuffled = texts[:]
    rnd.shuffle(shuffled)

    again = allowlist(result["ipv4"] + result["ipv6"])

    assert (again["ipv4"], again["ipv6"]) == (result["ipv4"], result["ipv6"])
    assert (allowlist(shuffled)["ipv4"], allowlist(shuffled)["ipv6"]) == (result["ipv4"], result["ipv6"])


@HYPOTHESIS
@given(st.lists(st.one_of(_V4_POOL, _V6_POOL), max_size=30))
def test_every_address_lands_in_its_own_family(addresses):
    result = allowlist([str(a) for a in addresses])

    v4 = {ipaddress.ip_network(a) for a in addresses if a.version == 4}
    v6 = {ipaddress.ip_network(a) for a in addresses if a.version == 6}
    assert all(any(network.subnet_of(out) for out in _parsed(result["ipv4"])) for network in v4)
    assert all(any(network.subnet_of(out) for out in _parsed(result["ipv6"])) for network in v6)
    assert all(":" not in text for text in result["ipv4"])
    assert all(":" in text for text in result["ipv6"])


@HYPOTHESIS
@given(st.one_of(_V4_POOL, _V6_POOL), st.data())
def test_normalise_agrees_with_ipaddress_non_strict(address, data):
    prefix = data.draw(st.integers(0, address.max_prefixlen))
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    if network.version == 6 and not _not_mapped(network):
        return

    result, error = outcome([f"{address}/{prefix}"], "normalise")

    assert error is None
    assert result[f"ipv{network.version}"] == [str(network)]


# Text near the valid forms: digits, hex, separators and a few characters ipaddress treats specially.
_NEAR_ADDRESS = st.one_of(
    st.text(alphabet="0123456789abcdefABCDEF:./% ", max_size=45),
    st.builds(
        lambda address, exploded, zone, prefix: (address.exploded if exploded else str(address)) + zone + prefix,
        st.one_of(_V4_POOL, _V6_POOL, st.ip_addresses(network="::ffff:0:0/96")),
        st.booleans(),
        st.sampled_from(["", "", "", "%eth0"]),
        st.one_of(
            st.just(""),
            st.integers(0, 130).map(lambda length: f"/{length}"),
            st.text(alphabet="0123456789.", max_size=4).map(lambda text: f"/{text}"),
        ),
    ),
)


@HYPOTHESIS
@given(_NEAR_ADDRESS, st.sampled_from(net._HOST_BITS))
def test_the_fast_parser_accepts_exactly_what_ipaddress_accepts_apart_from_documented_refusals(text, host_bits):
    try:
        expected = ipaddress.ip_network(text.strip(), strict=host_bits == "reject")
    except ValueError:
        expected = None

    result, error = outcome([text], host_bits)

    if error is None:
        assert expected is not None
        assert result[f"ipv{expected.version}"] == [str(expected)]
    elif expected is not None:
        # ipaddress also takes netmasks, leading zeros in the prefix, zone ids and IPv4-mapped addresses.
        prefix = text.strip().partition("/")[2]
        assert (
            "." in prefix
            or (prefix.startswith("0") and prefix != "0")
            or "%" in text
            or (expected.version == 6 and not _not_mapped(expected))
        ), str(error)
    else:
        assert str(error).startswith("mail_net_allowlist: my_allow[0] = ")


def test_a_hundred_thousand_entries_give_the_same_networks_as_ipaddress():
    rnd = random.Random(20260101)  # noqa: S311 -- test data, not a secret; the fixed seed repeats the same entries
    networks = []
    for _ in range(100_000):
        if rnd.random() < 0.7:
            # A /16 of IPv4 space so that addresses repeat and networks overlap and touch.
            address, prefix = (198 << 24 | 51 << 16) + rnd.getrandbits(16), rnd.choice([32, 32, 32, 30, 28, 24])
            networks.append(ipaddress.IPv4Network((address, prefix), strict=False))
        else:
            address, prefix = (0x2001_0DB8 << 96) + rnd.getrandbits(24), rnd.choice([128, 128, 124, 120])
            networks.append(ipaddress.IPv6Network((address, prefix), strict=False))
    texts = [str(network) for network in networks]

    result = allowlist(texts)

    assert result["count"]["input"] == 100_000
    assert result["ipv4"] == collapsed(networks, 4)
    assert result["ipv6"] == collapsed(networks, 6)
    assert 0 < result["count"]["ipv4"] < 70_000  # the data really has overlaps to collapse


def test_documented_host_bit_choices_are_the_accepted_ones():
    options = sidecar.documentation("mail_net_allowlist")["DOCUMENTATION"]["options"]

    assert tuple(options["host_bits"]["choices"]) == net._HOST_BITS
    for host_bits in net._HOST_BITS:
        assert allowlist(["192.0.2.0/24"], host_bits)["ipv4"] == ["192.0.2.0/24"]


# --- mail_net_trusted ----------------------------------------------------------------------------------------------

TRUST = {"varname": "v_networks", "acknowledged_varname": "v_trust_acknowledged", "grants": "is never banned"}


@pytest.mark.parametrize(
    "networks",
    [
        [],
        ["192.0.2.7", "198.51.100.0/24", "2001:db8:1::/48"],  # within the bound, public or not
        ["203.0.113.0/25", "8.8.8.8"],  # narrower than the bound
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16"],  # off the internet
        ["fc00::/7", "fe80::/10", "::1", "2001:db8::/32"],
        [" 10.0.0.0/8 "],
    ],
)
def test_trust_lists_within_the_bound_or_off_the_internet_pass_unchanged(networks):
    assert mail_net.mail_net_trusted(networks, **TRUST) is networks


@pytest.mark.parametrize(
    ("entry", "bound", "reach"),
    [
        ("0.0.0.0/0", 24, "the whole internet"),
        ("::/0", 48, "the whole internet"),
        ("8.0.0.0/8", 24, "16,777,216 addresses"),
        ("203.0.112.0/23", 24, "512 addresses"),
        ("10.0.0.0/7", 24, "33,554,432 addresses"),  # 10/8 and 11/8: wider than the private range
        ("100.64.0.0/10", 24, "4,194,304 addresses"),  # shared address space: a carrier's other customers
        ("2001:db8::/31", 48, "addresses"),
        ("2a00::/47", 48, "addresses"),
        ("0.0.0.1/0", 24, "the whole internet"),  # host bits do not hide the reach (the format filter refuses them)
    ],
)
def test_entries_covering_public_space_are_refused_naming_variable_index_value_rule_and_acknowledgement(
    entry, bound, reach
):
    with pytest.raises(AnsibleFilterError) as raised:
        mail_net.mail_net_trusted(["192.0.2.7", entry], **TRUST)
    message = str(raised.value)
    assert message.startswith(f"mail_net_trusted: v_networks[1] = {entry!r} covers public address space wider than")
    assert f"a /{bound} (" in message
    assert reach in message
    assert "every address in it is never banned" in message
    assert "to v_trust_acknowledged" in message


def test_every_refused_entry_is_reported_in_one_error():
    with pytest.raises(AnsibleFilterError) as raised:
        mail_net.mail_net_trusted(["0.0.0.0/0", "10.0.0.0/8", "::/0"], **TRUST)
    assert "v_networks[0] = '0.0.0.0/0'" in str(raised.value)
    assert "v_networks[2] = '::/0'" in str(raised.value)
    assert "v_networks[1]" not in str(raised.value)


@pytest.mark.parametrize(
    ("entry", "acknowledged"),
    [
        ("0.0.0.0/0", ["0.0.0.0/0"]),
        ("::/0", ["::/0"]),
        ("2A00::/32", ["2a00::/32"]),  # compared as networks, not as text
        ("8.0.0.0/8", [" 8.0.0.0/8"]),
    ],
)
def test_an_acknowledged_entry_is_accepted(entry, acknowledged):
    assert mail_net.mail_net_trusted([entry], acknowledged=acknowledged, **TRUST) == [entry]


def test_an_acknowledgement_covers_only_the_network_it_names():
    with pytest.raises(AnsibleFilterError, match=r"v_networks\[0\] = '8\.0\.0\.0/7'"):
        mail_net.mail_net_trusted(["8.0.0.0/7"], acknowledged=["8.0.0.0/8"], **TRUST)


@pytest.mark.parametrize(
    ("acknowledged", "match"),
    [
        ("0.0.0.0/0", r"v_trust_acknowledged must be a list of networks, got '0\.0\.0\.0/0'"),
        (["0.0.0.0/0", "everything"], r"v_trust_acknowledged\[1\] = 'everything' is not an IPv4 or IPv6 address"),
        ([None], r"v_trust_acknowledged\[0\] = None is not"),
    ],
)
def test_a_bad_acknowledgement_is_refused_naming_its_variable(acknowledged, match):
    with pytest.raises(AnsibleFilterError, match=rf"^mail_net_trusted: {match}"):
        mail_net.mail_net_trusted(["10.0.0.0/8"], acknowledged=acknowledged, **TRUST)


@pytest.mark.parametrize("networks", ["0.0.0.0/0", None, [42, "not a network", "192.0.2.1/24"]])
def test_entries_that_are_no_networks_are_left_to_the_format_filter(networks):
    assert mail_net.mail_net_trusted(networks, **TRUST) is networks


def test_trusted_undefined_input_raises_the_undefined_error():
    with pytest.raises(Exception, match="is undefined") as raised:
        mail_net.mail_net_trusted(StrictUndefined(name="v_networks"), **TRUST)
    assert not isinstance(raised.value, AnsibleFilterError)


@HYPOTHESIS
@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=32))
def test_an_ipv4_network_is_refused_exactly_when_wider_than_a_24_and_not_inside_a_private_range(address, length):
    network = ipaddress.ip_network(f"{address}/{length}", strict=False)
    private = any(network.subnet_of(other) for other in net.NOT_PUBLIC if other.version == 4)
    refused = length < 24 and not private
    try:
        mail_net.mail_net_trusted([str(network)], **TRUST)
    except AnsibleFilterError:
        assert refused
    else:
        assert not refused


# --- mail_net_acknowledged -----------------------------------------------------------------------------------------

LISTS = {"v_relay": ["10.0.0.0/8", "0.0.0.0/0"], "v_exempt": ["2001:db8::/32", "8.0.0.0/8"], "v_other": "not a list"}


@pytest.mark.parametrize("acknowledged", [None, [], ["0.0.0.0/0"], ["0.0.0.0/00", "8.0.0.0/8"], ["::/0", "x"][1:]])
def test_acknowledgements_that_name_listed_entries_pass_unchanged(acknowledged):
    assert mail_net.mail_net_acknowledged(acknowledged, LISTS, "v_ack") is acknowledged


def test_an_acknowledgement_that_names_no_entry_is_refused_naming_both_variables():
    with pytest.raises(AnsibleFilterError) as raised:
        mail_net.mail_net_acknowledged(["0.0.0.0/0", "::/0", "1.0.0.0/8"], LISTS, "v_ack")
    lines = str(raised.value).removeprefix("mail_net_acknowledged: ").splitlines()
    assert [line.split(" names no entry of ")[0] for line in lines] == ["v_ack[1] = '::/0'", "v_ack[2] = '1.0.0.0/8'"]
    assert all("names no entry of v_relay or v_exempt or v_other; remove it" in line for line in lines)


def test_acknowledgement_compares_networks_not_text():
    assert mail_net.mail_net_acknowledged(["::0/0"], {"v": ["::/0"]}, "v_ack") == ["::0/0"]


def test_acknowledgement_needs_the_lists_by_name():
    with pytest.raises(AnsibleFilterError, match=r"^mail_net_acknowledged: lists must map each trust list's name"):
        mail_net.mail_net_acknowledged(["0.0.0.0/0"], [["0.0.0.0/0"]], "v_ack")


def test_acknowledgement_undefined_input_raises_the_undefined_error():
    with pytest.raises(Exception, match="is undefined") as raised:
        mail_net.mail_net_acknowledged(StrictUndefined(name="v_ack"), LISTS, "v_ack")
    assert not isinstance(raised.value, AnsibleFilterError)
