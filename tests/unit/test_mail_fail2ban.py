# SPDX-License-Identifier: MIT
"""mail_fail2ban_jails: the jails a host runs, their limits and nftables sets, and clear errors for bad input."""

from __future__ import annotations

import mail_fail2ban
import pytest
from ansible.errors import AnsibleFilterError
from jinja2 import StrictUndefined

ALL = ["postfix", "postfix-sasl", "dovecot", "sshd", "recidive"]


def jails(value, maxretry=5, findtime=600, bantime=3600):
    return {j["name"]: j for j in mail_fail2ban.mail_fail2ban_jails(value, maxretry, findtime, bantime, "my_jails")}


def test_every_known_jail_is_returned_in_a_fixed_order():
    result = mail_fail2ban.mail_fail2ban_jails(list(reversed(ALL)), 5, 600, 3600)

    assert [j["name"] for j in result] == ALL


@pytest.mark.parametrize(
    ("name", "set_name"),
    [
        ("postfix", "ban_postfix"),
        ("postfix-sasl", "ban_postfix_sasl"),
        ("dovecot", "ban_dovecot"),
        ("sshd", "ban_sshd"),
        ("recidive", "ban_recidive"),
    ],
)
def test_each_jail_bans_into_the_sets_named_after_it(name, set_name):
    assert jails(ALL)[name]["set"] == set_name


def test_a_list_runs_exactly_the_jails_it_names():
    result = jails(["dovecot", "sshd"])

    assert [n for n, j in result.items() if j["enabled"]] == ["dovecot", "sshd"]


def test_an_empty_list_runs_no_jail():
    assert not any(j["enabled"] for j in jails([]).values())


def test_a_dict_runs_every_jail_and_changes_only_what_it_names():
    result = jails({"sshd": {"enabled": False}, "dovecot": {"maxretry": 3, "bantime": "120"}, "postfix": None})

    assert [n for n, j in result.items() if j["enabled"]] == ["postfix", "postfix-sasl", "dovecot", "recidive"]
    assert result["dovecot"] | {"set": None} == {
        "name": "dovecot",
        "enabled": True,
        "maxretry": 3,
        "findtime": 600,
        "bantime": 120,
        "set": None,
    }
    assert result["postfix"]["maxretry"] == 5


def test_jails_without_overrides_take_the_defaults_and_recidive_its_own():
    result = jails(ALL, maxretry="3", findtime=60, bantime=300)

    assert {k: result["postfix-sasl"][k] for k in ("maxretry", "findtime", "bantime")} == {
        "maxretry": 3,
        "findtime": 60,
        "bantime": 300,
    }
    assert {k: result["recidive"][k] for k in ("maxretry", "findtime", "bantime")} == {
        "maxretry": 5,
        "findtime": 86400,
        "bantime": 604800,
    }


def test_recidive_overrides_apply_over_its_own_defaults():
    result = jails({"recidive": {"maxretry": 2}})

    assert (result["recidive"]["maxretry"], result["recidive"]["bantime"]) == (2, 604800)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (["postfix", "smtp"], r"my_jails\[1\] = 'smtp' is not a known jail; known: postfix, postfix-sasl"),
        ({"imap": {}}, r"my_jails key = 'imap' is not a known jail"),
        (["sshd", "sshd"], r"my_jails\[1\] = 'sshd' is listed twice"),
        ("postfix", r"my_jails must be a list of jail names or a dict"),
        (None, r"my_jails must be a list of jail names or a dict"),
        ({"sshd": ["enabled"]}, r"my_jails\.sshd = \['enabled'\] must be a dict of overrides"),
        ({"sshd": {"ban_time": 60}}, r"my_jails\.sshd has the unknown key 'ban_time'"),
        ({"sshd": {"enabled": "yes"}}, r"my_jails\.sshd\.enabled = 'yes' must be true or false"),
        (
            {"sshd": {"bantime": -1}},
            r"my_jails\.sshd\.bantime = -1 must be at least 1: it is how many seconds a ban lasts "
            r"\(fail2ban reads a negative bantime",
        ),
        ({"sshd": {"findtime": 0}}, r"my_jails\.sshd\.findtime = 0 must be at least 1"),
        ({"sshd": {"maxretry": 2.5}}, r"my_jails\.sshd\.maxretry = 2\.5 must be a whole number"),
        ({"sshd": {"findtime": "10m"}}, r"my_jails\.sshd\.findtime = '10m' must be a whole number"),
        ({"sshd": {"maxretry": True}}, r"my_jails\.sshd\.maxretry = True must be a whole number"),
        ({"sshd": {"bantime": "-5"}}, r"my_jails\.sshd\.bantime = '-5' must be a whole number"),
    ],
)
def test_bad_jails_are_refused_naming_the_variable_jail_and_rule(value, match):
    with pytest.raises(AnsibleFilterError, match=rf"^mail_fail2ban_jails: {match}"):
        mail_fail2ban.mail_fail2ban_jails(value, 5, 600, 3600, "my_jails")


@pytest.mark.parametrize(
    ("numbers", "match"),
    [
        ((-1, 600, 3600), r"fail2ban_maxretry = -1 must be at least 1: it is how many failures"),
        ((0, 600, 3600), r"fail2ban_maxretry = 0 must be at least 1: it is how many failures within findtime ban"),
        ((5, "1.5", 3600), r"fail2ban_findtime = '1\.5' must be a whole number"),
        ((5, 600, -1), r"fail2ban_bantime = -1 must be at least 1"),
        ((5, 600, None), r"fail2ban_bantime = None must be a whole number"),
    ],
)
def test_bad_defaults_are_refused_naming_the_number(numbers, match):
    with pytest.raises(AnsibleFilterError, match=rf"^mail_fail2ban_jails: {match}"):
        mail_fail2ban.mail_fail2ban_jails(ALL, *numbers)


def test_undefined_input_raises_the_undefined_error():
    with pytest.raises(Exception, match="is undefined") as raised:
        mail_fail2ban.mail_fail2ban_jails(StrictUndefined(name="my_jails"), 5, 600, 3600)
    assert not isinstance(raised.value, AnsibleFilterError)


def test_undefined_override_raises_the_undefined_error():
    with pytest.raises(Exception, match="is undefined") as raised:
        mail_fail2ban.mail_fail2ban_jails({"sshd": {"bantime": StrictUndefined(name="ban")}}, 5, 600, 3600)
    assert not isinstance(raised.value, AnsibleFilterError)
