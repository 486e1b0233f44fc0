# SPDX-License-Identifier: MIT
"""mail_net_cidrs: canonical CIDR lists, clear errors."""

from __future__ import annotations

import ipaddress

import mail_net
import pytest
import yaml
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import StrictUndefined


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
    assert mail_net.FilterModule().filters() == {"mail_net_cidrs": mail_net.mail_net_cidrs}
    assert yaml.safe_load(mail_net.DOCUMENTATION)["mail_net_cidrs"]["positional"] == "_input, varname"
    assert "mail_net_cidrs" in yaml.safe_load(mail_net.RETURN)
    assert yaml.safe_load(mail_net.EXAMPLES)
