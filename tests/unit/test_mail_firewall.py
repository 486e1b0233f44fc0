# SPDX-License-Identifier: MIT
"""mail_firewall filters: the services a ruleset opens and the fail2ban ban set names."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import StrictUndefined
from mail_firewall import FilterModule, mail_firewall_ban_sets, mail_firewall_services
from mail_net import mail_net_allowlist

ANY = "any"
OFFICE = mail_net_allowlist(["192.0.2.0/25", "192.0.2.128/25", "2001:db8::/48"], "office")


def service(**overrides):
    return {"name": "submission", "ports": [587, 465], "sources": ANY, "varname": "submission_ports", **overrides}


def test_an_open_service_has_sorted_ports_and_no_allowlist():
    (result,) = mail_firewall_services([service(rate_limit=True)])

    assert result == {
        "name": "submission",
        "proto": "tcp",
        "ports": [465, 587],
        "rate_limit": True,
        "open": True,
        "ipv4": [],
        "ipv6": [],
        "set_v4": "allow_submission_v4",
        "set_v6": "allow_submission_v6",
    }


def test_an_allowlisted_service_carries_its_networks_and_set_names():
    (result,) = mail_firewall_services([service(name="admin", ports=[22], sources=OFFICE)])

    assert (result["open"], result["ipv4"], result["ipv6"]) == (False, ["192.0.2.0/24"], ["2001:db8::/48"])
    assert (result["set_v4"], result["set_v6"]) == ("allow_admin_v4", "allow_admin_v6")
    assert result["rate_limit"] is False


def test_a_service_without_ports_is_left_out():
    result = mail_firewall_services([service(name="mx", ports=[]), service()])

    assert [s["name"] for s in result] == ["submission"]


def test_the_same_port_may_serve_tcp_and_udp():
    result = mail_firewall_services(
        [service(name="dns_tcp", ports=[53]), service(name="dns_udp", ports=[53], proto="udp")]
    )

    assert [(s["proto"], s["ports"]) for s in result] == [("tcp", [53]), ("udp", [53])]


def test_ports_given_as_digit_strings_become_numbers():
    (result,) = mail_firewall_services([service(ports=["587", 465, "465"])])

    assert result["ports"] == [465, 587]


@pytest.mark.parametrize(
    ("services", "match"),
    [
        ("submission", r"mail_firewall_services must be a list of services"),
        (["submission"], r"mail_firewall_services\[0\] = 'submission' must be a dict"),
        ([service(ports=[0])], r"submission_ports port 0 = 0 is out of range: ports are 1 to 65535"),
        ([service(ports=[65536])], r"65536 is out of range"),
        ([service(ports=[-25])], r"-25 is out of range"),
        ([service(ports=["smtp"])], r"submission_ports port 0 = 'smtp' is not a port number"),
        ([service(ports=[True])], r"True is not a port number"),
        ([service(ports=[587.0])], r"587.0 is not a port number"),
        ([service(ports="587")], r"submission_ports: ports must be a list of port numbers, got '587'"),
        ([service(proto="sctp")], r"submission_ports: proto 'sctp' must be one of \['tcp', 'udp'\]"),
        ([service(name="Sub-mission")], r"the name 'Sub-mission' must be lower case letters"),
        ([service(name="x" * 32)], r"at most 31 characters"),
        ([service(), service(varname="other")], r"other: the name 'submission' is used by two services"),
        (
            [service(name="mx", ports=[25], varname="mx_ports"), service(ports=[25, 587])],
            r"tcp port 25 is in both mx_ports and submission_ports; a port belongs to one service",
        ),
        ([service(sources=["192.0.2.1"])], r"submission_ports sources = \['192.0.2.1'\] must be 'any' or an allowlist"),
        ([service(sources="everyone")], r"must be 'any' or an allowlist"),
        (
            [service(sources=mail_net_allowlist([], "x"))],
            r"submission_ports sources is empty, so nobody could reach ports \[465, 587\]",
        ),
        ([service(rate_limit="yes")], r"rate_limit must be true or false, got 'yes'"),
        ([service(colour="red")], r"submission_ports has unknown keys \['colour'\]"),
    ],
)
def test_bad_services_are_refused_naming_the_variable_and_the_rule(services, match):
    with pytest.raises(AnsibleFilterError, match=match):
        mail_firewall_services(services)


def test_a_service_without_varname_is_named_by_its_index():
    bad = {"name": "metrics", "ports": [70000], "sources": ANY}

    with pytest.raises(AnsibleFilterError, match=r"my_services\[0\] port 0 = 70000 is out of range"):
        mail_firewall_services([bad], "my_services")


@given(st.lists(st.integers(min_value=1, max_value=65535), min_size=1, max_size=50))
def test_any_valid_ports_come_back_sorted_and_unique(ports):
    (result,) = mail_firewall_services([service(ports=ports)])

    assert result["ports"] == sorted(set(ports))


@given(st.lists(st.integers(min_value=1, max_value=65535), min_size=2, max_size=20, unique=True), st.data())
def test_any_port_in_two_services_is_refused(ports, data):
    shared = data.draw(st.sampled_from(ports))
    first = service(name="first", ports=ports, varname="first")
    second = service(name="second", ports=[shared], varname="second")

    with pytest.raises(AnsibleFilterError, match=rf"tcp port {shared} is in both first and second"):
        mail_firewall_services([first, second])


@pytest.mark.parametrize(
    ("jails", "expected"),
    [
        (["sshd"], [("sshd", "ban_sshd", "ban_sshd_v4", "ban_sshd_v6")]),
        (["postfix-sasl"], [("postfix-sasl", "ban_postfix_sasl", "ban_postfix_sasl_v4", "ban_postfix_sasl_v6")]),
        (["Dovecot.IMAP"], [("Dovecot.IMAP", "ban_dovecot_imap", "ban_dovecot_imap_v4", "ban_dovecot_imap_v6")]),
        ([], []),
    ],
)
def test_ban_set_names_follow_the_jail_names(jails, expected):
    result = mail_firewall_ban_sets(jails)

    assert [(r["jail"], r["base"], r["ipv4"], r["ipv6"]) for r in result] == expected


@pytest.mark.parametrize(
    ("jails", "match"),
    [
        ("sshd", r"mail_firewall_ban_sets must be a list of fail2ban jail names"),
        (["ssh d"], r"mail_firewall_ban_sets\[0\] = 'ssh d' is not a jail name"),
        (["-sshd"], r"is not a jail name"),
        ([7], r"= 7 is not a jail name"),
        (["postfix-sasl", "postfix_sasl"], r"\[1\] = 'postfix_sasl' needs the set ban_postfix_sasl, as 'postfix-sasl'"),
    ],
)
def test_bad_jail_names_are_refused(jails, match):
    with pytest.raises(AnsibleFilterError, match=match):
        mail_firewall_ban_sets(jails)


@pytest.mark.parametrize("function", [mail_firewall_services, mail_firewall_ban_sets])
def test_undefined_input_raises_the_undefined_error(function):
    with pytest.raises(Exception, match="is undefined") as raised:
        function(StrictUndefined(name="not_set"))
    assert not isinstance(raised.value, AnsibleFilterError)


def test_filter_module_maps_the_names():
    assert FilterModule().filters() == {
        "mail_firewall_services": mail_firewall_services,
        "mail_firewall_ban_sets": mail_firewall_ban_sets,
    }
