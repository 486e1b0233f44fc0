# SPDX-License-Identifier: MIT
"""Unit tests for the mail_postfix filters (plugins/plugin_utils/postfix.py, postfix_tls.py):
main.cf merging, TLS policies, mailboxes, sender logins, postconf."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import mail_postfix
import pytest
import sidecar
from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.plugin_utils import postfix, postfix_tls
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# No example database: each run stands alone, whatever an earlier run on this machine found.
HYPOTHESIS = settings(database=None, max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PARAMETER_FILE = Path(postfix.__file__).resolve().with_name("postfix_parameters.txt")

BASE = {
    "smtpd_tls_auth_only": True,
    "smtpd_helo_required": "yes",
    "smtpd_client_connection_rate_limit": 30,
    "mua_sender_restrictions": ["reject_sender_login_mismatch", "permit"],
    "smtpd_tls_loglevel": "1",
}
CONTROLS = {
    "smtpd_tls_auth_only": "PFX-01",
    "smtpd_client_connection_rate_limit": "PFX-04",
    "disable_vrfy_command": "PFX-02",
}


def raises_filter_error(match: str) -> Any:
    return pytest.raises(AnsibleFilterError, match=match)


def main_cf(extra: Any, acknowledged: Any = None, base: Any = None, controls: Any = None) -> dict[str, str]:
    return mail_postfix.mail_postfix_main_cf(
        BASE if base is None else base, extra, acknowledged, CONTROLS if controls is None else controls
    )


def outcome(function: Any, *args: Any) -> tuple[Any, AnsibleFilterError | None]:
    """The filter's result, or the filter error it raised; any other exception escapes and fails the test."""
    try:
        return function(*args), None
    except AnsibleFilterError as e:
        return None, e


# ------------------------------------------------------------------------------------------- parameter list


def test_parameter_list_loads_with_current_postfix_names():
    known = postfix._known_parameters()

    assert len(known) > 1000
    for name in (
        "smtpd_forbid_bare_newline",
        "smtpd_client_auth_rate_limit",
        "smtpd_tls_security_level",
        "smtpd_tls_CAfile",
        "smtpd_restriction_classes",
    ):
        assert name in known
    assert not any(name.startswith("#") for name in known)


@pytest.fixture
def parameter_file(monkeypatch, tmp_path):
    """Point the module at a parameter file in tmp_path; the cache is cleared before and after."""
    postfix._known_parameters.cache_clear()
    monkeypatch.setattr(postfix, "__file__", str(tmp_path / "postfix.py"))
    yield tmp_path / "postfix_parameters.txt"
    postfix._known_parameters.cache_clear()


def test_a_missing_parameter_list_is_a_clear_error(parameter_file):
    with raises_filter_error(
        r"^mail_postfix_main_cf: the Postfix parameter list .*postfix_parameters\.txt cannot be read"
    ) as caught:
        main_cf({"smtpd_tls_loglevel": 1})

    assert isinstance(caught.value.__cause__, OSError)


def test_a_broken_parameter_list_is_a_clear_error(parameter_file):
    parameter_file.write_text("# comment\nsmtpd_tls_loglevel\nnot a name\n")

    with raises_filter_error(r"^mail_postfix_main_cf: the Postfix parameter list .* line 3 is not a parameter name"):
        main_cf({"smtpd_tls_loglevel": 1})


def test_the_parameter_list_skips_comments_and_blank_lines(parameter_file):
    parameter_file.write_text("# Generated\n\n  smtpd_tls_loglevel  \n# another_comment\n")

    assert postfix._known_parameters() == frozenset({"smtpd_tls_loglevel"})


# ------------------------------------------------------------------------------------- main.cf: rendering


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (True, "yes"),
        (False, "no"),
        (0, "0"),
        (100, "100"),
        (-1, "-1"),
        ("  1s ", "1s"),
        ("", ""),
        ("$myhostname ESMTP", "$myhostname ESMTP"),
        (["permit_mynetworks", "reject"], "permit_mynetworks, reject"),
        (("a", 2, " b "), "a, 2, b"),
        ([], ""),
        ("tab\tinside", "tab\tinside"),
    ],
    ids=[
        "true",
        "false",
        "zero",
        "int",
        "negative",
        "stripped",
        "empty",
        "dollar",
        "list",
        "tuple",
        "empty list",
        "tab",
    ],
)
def test_values_are_rendered_as_main_cf_text(value, rendered):
    assert main_cf({"smtpd_banner": value})["smtpd_banner"] == rendered


def test_base_values_are_rendered_too():
    assert main_cf({}) == {
        "smtpd_tls_auth_only": "yes",
        "smtpd_helo_required": "yes",
        "smtpd_client_connection_rate_limit": "30",
        "mua_sender_restrictions": "reject_sender_login_mismatch, permit",
        "smtpd_tls_loglevel": "1",
    }


@pytest.mark.parametrize("extra", [None, {}])
def test_no_extra_returns_the_base(extra):
    assert list(main_cf(extra)) == list(BASE)


@pytest.mark.parametrize(
    ("value", "where", "rule"),
    [
        (None, r"smtpd_banner", r"is null; give a value \(an empty string for 'name ='\) or leave it out"),
        ({"a": 1}, r"smtpd_banner", r"= \{'a': 1\} is a dict; a value must be a string, a whole number, true/false"),
        (1.5, r"smtpd_banner", r"= 1\.5 is a float; .* quote it to write it as text"),
        ([["nested"]], r"smtpd_banner\[0\]", r"= \['nested'\] must be a string or a whole number"),
        (["a", True], r"smtpd_banner\[1\]", r"= True must be a string or a whole number"),
        (["a", None], r"smtpd_banner\[1\]", r"= None must be a string or a whole number"),
        (["a", 1.0], r"smtpd_banner\[1\]", r"= 1\.0 must be a string or a whole number"),
        (["a", "  "], r"smtpd_banner\[1\]", r"is empty; an empty item would render as ', ,'"),
        ("ok\nsmtpd_tls_auth_only = no", r"smtpd_banner", r"= 'ok\\nsmtpd_tls_auth_only = no' contains a newline"),
        ("ok\r", r"smtpd_banner", r"= 'ok\\r' contains a newline, carriage return or NUL character"),
        ("trailing\n", r"smtpd_banner", r"= 'trailing\\n' contains a newline"),
        ("nul\x00", r"smtpd_banner", r"= 'nul\\x00' contains a newline, carriage return or NUL character"),
        (["a", "b\nc"], r"smtpd_banner\[1\]", r"= 'b\\nc' contains a newline.*which would inject lines into main\.cf"),
    ],
    ids=[
        "null",
        "dict",
        "float",
        "nested list",
        "bool item",
        "null item",
        "float item",
        "blank item",
        "newline",
        "carriage return",
        "trailing newline",
        "nul",
        "newline in item",
    ],
)
def test_unrenderable_extra_values_are_refused_naming_the_parameter(value, where, rule):
    with raises_filter_error(rf"^mail_postfix_main_cf: postfix_hardening_extra\.{where} {rule}"):
        main_cf({"smtpd_banner": value})


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (None, r"base\.smtpd_banner is null"),
        (2.5, r"base\.smtpd_banner = 2\.5 is a float"),
        ("a\nb", r"base\.smtpd_banner = 'a\\nb' contains a newline"),
    ],
)
def test_unrenderable_base_values_are_refused_naming_base(value, match):
    with raises_filter_error(rf"^mail_postfix_main_cf: {match}"):
        main_cf({}, base={"smtpd_banner": value})


@pytest.mark.parametrize(
    ("base", "extra", "match"),
    [
        ({}, {"bad name": 1}, r"postfix_hardening_extra has the key 'bad name', which is not a Postfix parameter name"),
        ({}, {"a=b": 1}, r"postfix_hardening_extra has the key 'a=b', which is not a Postfix parameter name"),
        ({}, {"_x": 1}, r"postfix_hardening_extra has the key '_x', which is not a Postfix parameter name"),
        ({}, {"": 1}, r"postfix_hardening_extra has the key '', which is not a Postfix parameter name"),
        ({}, {"x\n": 1}, r"postfix_hardening_extra has the key 'x\\n', which is not a Postfix parameter name"),
        ({}, {42: 1}, r"postfix_hardening_extra has the key 42, which is not a Postfix parameter name \(letters"),
        ({"bad name": 1}, {}, r"base has the key 'bad name', which is not a Postfix parameter name"),
    ],
)
def test_malformed_parameter_names_are_refused(base, extra, match):
    with raises_filter_error(rf"^mail_postfix_main_cf: {match}"):
        main_cf(extra, base=base)


@pytest.mark.parametrize(
    ("base", "extra", "match"),
    [
        (["a"], {}, r"base must be a dict of parameter names to values, got list"),
        (None, {}, r"base must be a dict of parameter names to values, got NoneType"),
        ({}, ["smtpd_banner"], r"postfix_hardening_extra must be a dict of parameter names to values, got list"),
        ({}, "smtpd_banner = x", r"postfix_hardening_extra must be a dict of parameter names to values, got str"),
    ],
)
def test_base_and_extra_must_be_dicts(base, extra, match):
    with raises_filter_error(rf"^mail_postfix_main_cf: {match}"):
        mail_postfix.mail_postfix_main_cf(base, extra)


# ----------------------------------------------------------------------------------------- main.cf: names


@pytest.mark.parametrize(
    "name",
    [
        "smtpd_forbid_bare_newline",
        "smtpd_client_auth_rate_limit",
        "smtpd_tls_CAfile",
        "2bounce_notice_recipient",
        "relay_destination_concurrency_limit",
        "relay-out_destination_rate_delay",
        "dovecot_destination_recipient_limit",
        "lmtp2_time_limit",
        "scan_transport_rate_delay",
        "x9_initial_destination_concurrency",
    ],
)
def test_known_and_per_transport_parameters_are_accepted(name):
    assert main_cf({name: "1"})[name] == "1"


@pytest.mark.parametrize("suffix", postfix._PER_TRANSPORT_SUFFIXES, ids=lambda suffix: suffix.replace("_", "-"))
def test_every_per_transport_suffix_works_with_any_transport_name(suffix):
    name = f"my-relay2_{suffix}"

    assert main_cf({name: 1}) == {**main_cf({}), name: "1"}


def test_the_roles_own_parameters_are_accepted_as_extras():
    result = main_cf({"mua_sender_restrictions": ["permit_sasl_authenticated", "reject"]})

    assert result["mua_sender_restrictions"] == "permit_sasl_authenticated, reject"


@pytest.mark.parametrize(
    ("base_classes", "extra"),
    [
        ("mua_clients, strict_senders", {"strict_senders": "reject_unknown_sender_domain"}),
        (None, {"smtpd_restriction_classes": "strict_senders", "strict_senders": "reject"}),
        (None, {"smtpd_restriction_classes": ["a_class", "strict_senders"], "strict_senders": "reject"}),
        ("other", {"smtpd_restriction_classes": "other\tstrict_senders", "strict_senders": "reject"}),
    ],
    ids=["from base", "from extra", "list in extra", "whitespace separated"],
)
def test_restriction_class_names_are_accepted(base_classes, extra):
    base = dict(BASE)
    if base_classes is not None:
        base["smtpd_restriction_classes"] = base_classes

    assert main_cf(extra, base=base)["strict_senders"] == extra["strict_senders"]


def test_a_restriction_class_the_extra_value_drops_is_no_longer_accepted():
    base = {**BASE, "smtpd_restriction_classes": "strict_senders"}

    with raises_filter_error(r"postfix_hardening_extra\.strict_senders is not a Postfix parameter"):
        main_cf({"smtpd_restriction_classes": "other", "strict_senders": "reject"}, base=base)


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("smtpd_tls_loglevl", "smtpd_tls_loglevel"),
        ("smtpd_forbid_bare_newlines", "smtpd_forbid_bare_newline"),
        ("smtpd_tls_cafile", "smtpd_tls_CAfile"),
        ("mua_sender_restriction", "mua_sender_restrictions"),
    ],
)
def test_a_misspelt_parameter_is_refused_with_a_suggestion(name, suggestion):
    with raises_filter_error(
        rf"^mail_postfix_main_cf: postfix_hardening_extra\.{name} is not a Postfix parameter "
        rf"\(did you mean {suggestion}\?\)$"
    ):
        main_cf({name: "1"})


@pytest.mark.parametrize("name", ["zzzqqq", "qwertyuiop", "x"])
def test_an_unknown_parameter_without_a_close_match_has_no_suggestion(name):
    with raises_filter_error(rf"^mail_postfix_main_cf: postfix_hardening_extra\.{name} is not a Postfix parameter$"):
        main_cf({name: "1"})


@pytest.mark.parametrize("name", ["my_relay_time_limit", "_time_limit", "relay_time_limits", "Relay_time_limit"])
def test_per_transport_names_need_a_transport_of_letters_digits_and_hyphens(name):
    with raises_filter_error(rf"postfix_hardening_extra\.{name} is not a Postfix parameter|has the key '{name}'"):
        main_cf({name: "1"})


def test_the_variable_name_appears_in_errors():
    with raises_filter_error(r"^mail_postfix_main_cf: site_postfix_extra\.smtpd_tls_loglevl is not a Postfix"):
        mail_postfix.mail_postfix_main_cf({}, {"smtpd_tls_loglevl": 1}, None, None, "site_postfix_extra")


# -------------------------------------------------------------------------------------- main.cf: controls


def test_an_override_of_a_control_is_refused_with_how_to_accept_it():
    with raises_filter_error(
        r"^mail_postfix_main_cf: postfix_hardening_extra\.smtpd_tls_auth_only = 'no' overrides 'yes', which "
        r"postfix_hardening sets for control PFX-01; if the weaker setting is intended, add smtpd_tls_auth_only "
        r"to postfix_hardening_extra_acknowledged$"
    ):
        main_cf({"smtpd_tls_auth_only": False})


def test_setting_a_controlled_parameter_the_role_leaves_at_the_default_is_refused():
    with raises_filter_error(
        r"^mail_postfix_main_cf: postfix_hardening_extra\.disable_vrfy_command = 'no' overrides Postfix's default, "
        r"which postfix_hardening relies on for control PFX-02; if the weaker setting is intended, add "
        r"disable_vrfy_command to postfix_hardening_extra_acknowledged$"
    ):
        main_cf({"disable_vrfy_command": False})


@pytest.mark.parametrize(
    ("varname", "role"), [("site_extra", "site"), ("custom", "the role"), ("_extra", "the role")], ids=str
)
def test_the_override_error_names_the_role_from_the_variable(varname, role):
    with raises_filter_error(
        rf"^mail_postfix_main_cf: {varname}\.smtpd_tls_auth_only = 'no' overrides 'yes', which {role} sets"
    ):
        mail_postfix.mail_postfix_main_cf(BASE, {"smtpd_tls_auth_only": "no"}, None, CONTROLS, varname, "acks")


@pytest.mark.parametrize(
    "extra",
    [
        {"smtpd_tls_auth_only": True},
        {"smtpd_tls_auth_only": "yes"},
        {"smtpd_tls_auth_only": " yes "},
        {"smtpd_client_connection_rate_limit": 30},
        {"smtpd_client_connection_rate_limit": "30"},
    ],
    ids=["bool", "string", "padded", "int", "int as string"],
)
def test_a_control_override_equal_to_the_role_value_needs_no_acknowledgement(extra):
    assert main_cf(extra) == main_cf({})


@pytest.mark.parametrize(
    ("extra", "acknowledged"),
    [
        ({"smtpd_tls_auth_only": False}, ["smtpd_tls_auth_only"]),
        ({"smtpd_client_connection_rate_limit": 0}, ("smtpd_client_connection_rate_limit",)),
        ({"disable_vrfy_command": "no"}, ["disable_vrfy_command"]),
        (
            {"smtpd_tls_auth_only": "no", "smtpd_client_connection_rate_limit": 60},
            ["smtpd_client_connection_rate_limit", "smtpd_tls_auth_only"],
        ),
    ],
)
def test_an_acknowledged_override_is_applied(extra, acknowledged):
    result = main_cf(extra, acknowledged)

    for name, value in extra.items():
        assert result[name] == postfix._render(value, name)


def test_uncontrolled_parameters_may_change_freely():
    assert main_cf({"smtpd_helo_required": "no"})["smtpd_helo_required"] == "no"


@pytest.mark.parametrize(
    ("extra", "acknowledged", "match"),
    [
        (
            {"smtpd_tls_auth_only": True},
            ["smtpd_tls_auth_only"],
            r"\[0\] = 'smtpd_tls_auth_only' does not override a controlled parameter \(postfix_hardening_extra "
            r"sets it to the role's value or not at all\); remove it: a stale acknowledgement would silently permit "
            r"a later weakening$",
        ),
        ({}, ["smtpd_tls_auth_only"], r"\[0\] = 'smtpd_tls_auth_only' does not override a controlled parameter"),
        (
            {"smtpd_helo_required": "no"},
            ["smtpd_helo_required"],
            r"\[0\] = 'smtpd_helo_required' does not override a controlled parameter \(no control depends on it\)",
        ),
        (
            {"smtpd_tls_auth_only": False},
            ["smtpd_tls_auth_only", "smtpd_tls_loglevl"],
            r"\[1\] = 'smtpd_tls_loglevl' does not override a controlled parameter \(no control depends on it\)",
        ),
    ],
    ids=["equal value", "not in extra", "not controlled", "misspelt"],
)
def test_a_stale_acknowledgement_is_refused(extra, acknowledged, match):
    with raises_filter_error(rf"^mail_postfix_main_cf: postfix_hardening_extra_acknowledged{match}"):
        main_cf(extra, acknowledged)


@pytest.mark.parametrize(
    ("acknowledged", "match"),
    [
        ("smtpd_tls_auth_only", r" must be a list of parameter names, got str"),
        ({"smtpd_tls_auth_only": True}, r" must be a list of parameter names, got dict"),
        ([42], r"\[0\] = 42 must be a parameter name"),
        (
            ["smtpd_tls_auth_only", "smtpd_tls_auth_only"],
            r"\[1\] = 'smtpd_tls_auth_only' repeats postfix_hardening_extra_acknowledged\[0\]; list it once",
        ),
    ],
)
def test_acknowledged_must_be_a_list_of_names(acknowledged, match):
    with raises_filter_error(rf"^mail_postfix_main_cf: postfix_hardening_extra_acknowledged{match}"):
        main_cf({"smtpd_tls_auth_only": False}, acknowledged)


@pytest.mark.parametrize(
    ("controls", "match"),
    [
        (["smtpd_tls_auth_only"], r"controls must be a dict of parameter names to values, got list"),
        ({"smtpd_tls_auth_only": None}, r"controls maps 'smtpd_tls_auth_only' to None; it must map parameter names"),
        ({"smtpd_tls_auth_only": " "}, r"controls maps 'smtpd_tls_auth_only' to ' '; it must map .* 'PFX-01'"),
        ({1: "PFX-01"}, r"controls maps 1 to 'PFX-01'; it must map parameter names to control ids"),
    ],
)
def test_controls_must_map_names_to_control_ids(controls, match):
    with raises_filter_error(rf"^mail_postfix_main_cf: {match}"):
        main_cf({}, controls=controls)


def test_no_controls_means_nothing_is_protected():
    result = mail_postfix.mail_postfix_main_cf(BASE, {"smtpd_tls_auth_only": False})

    assert result["smtpd_tls_auth_only"] == "no"


# ----------------------------------------------------------------------------------------- main.cf: order


def test_output_is_base_order_then_extra_only_parameters_sorted():
    extra = {
        "smtpd_tls_loglevel": 2,
        "smtp_tls_loglevel": 1,
        "relay_destination_rate_delay": "1s",
        "smtpd_helo_required": "no",
        "disable_vrfy_command": True,
        "2bounce_notice_recipient": "postmaster",
    }

    result = mail_postfix.mail_postfix_main_cf(BASE, extra)

    assert list(result.items()) == [
        ("smtpd_tls_auth_only", "yes"),
        ("smtpd_helo_required", "no"),
        ("smtpd_client_connection_rate_limit", "30"),
        ("mua_sender_restrictions", "reject_sender_login_mismatch, permit"),
        ("smtpd_tls_loglevel", "2"),
        ("2bounce_notice_recipient", "postmaster"),
        ("disable_vrfy_command", "yes"),
        ("relay_destination_rate_delay", "1s"),
        ("smtp_tls_loglevel", "1"),
    ]


def test_the_inputs_are_not_changed():
    base, extra = dict(BASE), {"smtpd_tls_loglevel": 2}

    mail_postfix.mail_postfix_main_cf(base, extra)

    assert (base, extra) == (BASE, {"smtpd_tls_loglevel": 2})


VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda children: st.lists(children, max_size=4),
    max_leaves=8,
)


@HYPOTHESIS
@given(st.dictionaries(st.sampled_from(sorted(postfix._known_parameters())), VALUES, max_size=6))
def test_rendered_values_never_contain_line_breaks(extra):
    result, error = outcome(mail_postfix.mail_postfix_main_cf, BASE, extra)

    if error is not None:
        assert str(error).startswith("mail_postfix_main_cf: postfix_hardening_extra.")
    else:
        assert all(isinstance(value, str) for value in result.values())
        assert not any(char in value for value in result.values() for char in "\n\r\0")
        assert all(value == value.strip() for value in result.values())


@HYPOTHESIS
@given(st.text(max_size=30))
def test_any_extra_name_is_accepted_only_if_postfix_or_the_role_knows_it(name):
    result, error = outcome(mail_postfix.mail_postfix_main_cf, BASE, {name: "x"})

    if error is None:
        assert name in postfix._known_parameters() or name in BASE or postfix._PER_TRANSPORT_RE.fullmatch(name)
        assert result[name] == "x"
    else:
        assert str(error).startswith("mail_postfix_main_cf: postfix_hardening_extra")


# ----------------------------------------------------------------------------------------- TLS policies


@pytest.mark.parametrize(
    ("policy", "rendered"),
    [
        ({"domain": "example.org", "level": "may"}, "may"),
        ({"domain": "example.org", "level": "none"}, "none"),
        ({"domain": "example.org", "level": "encrypt", "protocols": ">=TLSv1.2"}, "encrypt protocols=>=TLSv1.2"),
        ({"domain": "example.org", "level": "dane"}, "dane"),
        ({"domain": "example.org", "level": "dane-only", "ciphers": "high"}, "dane-only ciphers=high"),
        ({"domain": "example.org", "level": "verify"}, "verify"),
        (
            {"domain": "example.org", "level": "verify", "match": ["hostname", "Mail.Example.NET"]},
            "verify match=hostname:mail.example.net",
        ),
        (
            {"domain": "example.org", "level": "secure", "match": ["nexthop", "dot-nexthop", ".example.net"]},
            "secure match=nexthop:dot-nexthop:.example.net",
        ),
        (
            {
                "domain": "example.org",
                "level": "fingerprint",
                "match": ["3d:95:34:51:24:66:33:b9:d2:40:99:c0:c1:17:0b:d1"],
            },
            "fingerprint match=3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1",
        ),
        (
            {"domain": "example.org", "level": "fingerprint", "match": ["ab" * 32, "CD" * 20]},
            "fingerprint match=" + ":".join(["AB"] * 32) + "|" + ":".join(["CD"] * 20),
        ),
        (
            {"domain": "example.org", "level": "may", "protocols": "!SSLv2, !SSLv3 , !TLSv1:!TLSv1.1"},
            "may protocols=!SSLv2:!SSLv3:!TLSv1:!TLSv1.1",
        ),
        (
            {"domain": "example.org", "level": "encrypt", "protocols": "TLSv1.2 TLSv1.3"},
            "encrypt protocols=TLSv1.2:TLSv1.3",
        ),
        (
            {"domain": "example.org", "level": "encrypt", "protocols": ">=TLSv1.2, <=TLSv1.3"},
            "encrypt protocols=>=TLSv1.2:<=TLSv1.3",
        ),
        (
            {"domain": "example.org", "level": "encrypt", "protocols": ">=TLSv1.3 <=TLSv1.3"},
            "encrypt protocols=>=TLSv1.3:<=TLSv1.3",
        ),
        (
            {
                "domain": "example.org",
                "level": "secure",
                "match": ["nexthop"],
                "protocols": ">=TLSv1.2",
                "ciphers": "medium",
            },
            "secure match=nexthop protocols=>=TLSv1.2 ciphers=medium",
        ),
    ],
)
def test_tls_policies_render_as_policy_table_entries(policy, rendered):
    assert mail_postfix.mail_postfix_tls_policies([policy]) == {"example.org": rendered}


def test_tls_policy_domains_are_lower_cased_and_kept_in_input_order():
    policies = [
        {"domain": "Zeta.example", "level": "secure"},
        {"domain": ".Example.ORG", "level": "encrypt"},
        {"domain": "example.org", "level": "dane"},
    ]

    result = mail_postfix.mail_postfix_tls_policies(policies)

    assert list(result.items()) == [("zeta.example", "secure"), (".example.org", "encrypt"), ("example.org", "dane")]


def test_no_tls_policies_give_an_empty_table():
    assert mail_postfix.mail_postfix_tls_policies([]) == {}


def policy(**overrides: Any) -> dict:
    return {"domain": "example.org", "level": "secure", **overrides}


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ("example.org", r"\[0\] must be a dict with domain and level, got str"),
        ({"level": "may"}, r"\[0\]\.domain is missing; every policy needs a domain and a level"),
        ({"domain": "example.org"}, r"\[0\]\.level is missing; every policy needs a domain and a level"),
        (policy(exclude="MD5"), r"\[0\] has unknown key\(s\) exclude; known: domain, level, match, protocols"),
        (policy(Level="may"), r"\[0\] has unknown key\(s\) Level; known: domain"),
        (policy(domain=None), r"\[0\]\.domain = None must be a DNS name, or \.name .* not: it is not a string"),
        (policy(domain=""), r"\[0\]\.domain = '' must be a DNS name.* it is empty"),
        (policy(domain="org"), r"\[0\]\.domain = 'org' .* it needs at least 2 labels"),
        (policy(domain=".org"), r"\[0\]\.domain = '\.org' .* it needs at least 2 labels"),
        (
            policy(domain="example.org."),
            r"\[0\]\.domain = 'example\.org\.' .* empty label",
        ),
        (policy(domain="..example.org"), r"\[0\]\.domain = '\.\.example\.org' .* empty label"),
        (policy(domain="exa_mple.org"), r"\[0\]\.domain .* the label 'exa_mple' has '_': labels are letters"),
        (policy(domain="-example.org"), r"\[0\]\.domain .* the label '-example' starts or ends with a hyphen"),
        (policy(domain="example-.org"), r"\[0\]\.domain .* the label 'example-' starts or ends with a hyphen"),
        (policy(domain="a" * 64 + ".org"), r"\[0\]\.domain .* the label 'a{20}'... is longer than 63"),
        (policy(domain=".".join(["a" * 63] * 4)), r"\[0\]\.domain .* it is longer than 253 characters"),
        (policy(domain="192.0.2.1"), r"\[0\]\.domain .* its last label is all digits"),
        (policy(domain="[mail.example.org]"), r"\[0\]\.domain .* label '\[mail' has '\['"),
        (policy(domain="exämple.org"), r"\[0\]\.domain .* non-ASCII characters; write internationalised names as"),
        (policy(domain="\u212aelvin.org"), r"\[0\]\.domain .* non-ASCII"),
        (policy(domain="example.org example.net"), r"\[0\]\.domain .* label 'org example' has ' '"),
        (policy(level="dane_only"), r"\[0\]\.level = 'dane_only' is not a TLS security level; use none, may, encrypt"),
        (policy(level="SECURE"), r"\[0\]\.level = 'SECURE' is not a TLS security level"),
        (policy(level=None), r"\[0\]\.level = None is not a TLS security level"),
        (
            policy(level="encrypt", match=["nexthop"]),
            r"\[0\]\.match is given with level encrypt; match only goes with verify, secure, fingerprint",
        ),
        (policy(level="dane", match=["nexthop"]), r"\[0\]\.match is given with level dane; match only goes with"),
        (policy(match="nexthop"), r"\[0\]\.match = 'nexthop' must be a non-empty list"),
        (policy(match=[]), r"\[0\]\.match = \[\] must be a non-empty list"),
        (policy(match=[None]), r"\[0\]\.match\[0\] = None must be a string"),
        (
            policy(match=["nexthop", "mx:example.net"]),
            r"\[0\]\.match\[1\] = 'mx:example\.net' must be hostname, nexthop, dot-nexthop or a DNS name .* not:",
        ),
        (policy(match=["next hop"]), r"\[0\]\.match\[0\] = 'next hop' must be hostname, nexthop, dot-nexthop"),
        (policy(match=[""]), r"\[0\]\.match\[0\] = '' must be hostname.* it is empty"),
        (policy(match=["localhost"]), r"\[0\]\.match\[0\] = 'localhost' must be .* at least 2 labels"),
        (policy(level="fingerprint"), r"\[0\]\.match is missing; level fingerprint needs the fingerprints to match"),
        (
            policy(level="fingerprint", match=["AB:CD"]),
            r"\[0\]\.match\[0\] = 'AB:CD' is not a certificate or public key fingerprint \(hex digits in pairs, "
            r"optionally separated by ':', of 16, 20, 32, 48, 64 bytes\)",
        ),
        (policy(level="fingerprint", match=["G" * 64]), r"\[0\]\.match\[0\] = 'G{64}' is not a certificate or public"),
        (policy(level="fingerprint", match=["A" * 63]), r"\[0\]\.match\[0\] = 'A{63}' is not a certificate"),
        (policy(level="fingerprint", match=["AB|CD" * 8]), r"\[0\]\.match\[0\] = .* is not a certificate or public"),
        (policy(level="none", protocols=">=TLSv1.2"), r"\[0\]\.protocols is given with level none, which does not"),
        (policy(level="none", ciphers="high"), r"\[0\]\.ciphers is given with level none, which does not use TLS"),
        (policy(protocols=["TLSv1.2"]), r"\[0\]\.protocols = \['TLSv1\.2'\] must be a string such as '>=TLSv1\.2'"),
        (policy(protocols=" , "), r"\[0\]\.protocols is empty; leave it out for Postfix's default"),
        (
            policy(protocols=">=TLSv1.2, !SSLv3"),
            r"\[0\]\.protocols = '>=TLSv1\.2, !SSLv3' mixes version bounds \(>=TLSv1\.2\) with protocol names",
        ),
        (policy(protocols=">=TLSv1.2 >=TLSv1.3"), r"\[0\]\.protocols = '>=TLSv1\.2 >=TLSv1\.3' names '>=' twice"),
        (policy(protocols="!SSLv3 SSLv3"), r"\[0\]\.protocols = '!SSLv3 SSLv3' names 'SSLv3' twice"),
        (
            policy(protocols=">=TLSv1.4"),
            r"\[0\]\.protocols has '>=TLSv1\.4', and 'TLSv1\.4' is not a protocol; use SSLv2, SSLv3, TLSv1, TLSv1\.1",
        ),
        (policy(protocols="!tlsv1"), r"\[0\]\.protocols has '!tlsv1', and 'tlsv1' is not a protocol"),
        (policy(protocols="=>TLSv1.2"), r"\[0\]\.protocols has '=>TLSv1\.2', and '=>TLSv1\.2' is not a protocol"),
        (policy(protocols=">=0x0303"), r"\[0\]\.protocols has '>=0x0303', and '0x0303' is not a protocol"),
        (
            policy(protocols=">=TLSv1.3, <=TLSv1.2"),
            r"\[0\]\.protocols = '>=TLSv1\.3, <=TLSv1\.2' has a lower bound above its upper bound",
        ),
        (policy(ciphers="HIGH"), r"\[0\]\.ciphers = 'HIGH' is not a cipher grade; use export, low, medium, high, null"),
        (policy(ciphers=["high"]), r"\[0\]\.ciphers = \['high'\] is not a cipher grade"),
    ],
)
def test_bad_tls_policies_are_refused_naming_index_key_and_rule(entry, match):
    with raises_filter_error(rf"^mail_postfix_tls_policies: postfix_hardening_tls_policies{match}"):
        mail_postfix.mail_postfix_tls_policies([entry])


@pytest.mark.parametrize(
    ("policies", "match"),
    [
        (
            {"domain": "example.org", "level": "may"},
            r"postfix_hardening_tls_policies must be a list of policies, got dict",
        ),
        (None, r"postfix_hardening_tls_policies must be a list of policies, got NoneType"),
        ("example.org may", r"postfix_hardening_tls_policies must be a list of policies, got str"),
    ],
)
def test_tls_policies_must_be_a_list(policies, match):
    with raises_filter_error(rf"^mail_postfix_tls_policies: {match}"):
        mail_postfix.mail_postfix_tls_policies(policies)


def test_a_domain_may_have_one_tls_policy_compared_lower_cased():
    policies = [policy(), policy(domain=".example.org"), policy(domain="EXAMPLE.org", level="may")]

    with raises_filter_error(
        r"^mail_postfix_tls_policies: site_policies\[2\]\.domain = 'EXAMPLE\.org' repeats site_policies\[0\]; "
        r"each domain may have one policy$"
    ):
        mail_postfix.mail_postfix_tls_policies(policies, "site_policies")


def test_the_longest_domain_is_accepted_with_and_without_the_subdomain_dot():
    longest = ".".join(["a" * 63] * 3 + ["b" * 61])

    result = mail_postfix.mail_postfix_tls_policies([policy(domain=longest), policy(domain="." + longest)])

    assert list(result) == [longest, "." + longest]


_LDH = "abcdefghijklmnopqrstuvwxyz0123456789"
DNS_LABEL = st.builds(
    lambda first, middle: first + middle,
    st.sampled_from(_LDH),
    st.text(alphabet=_LDH + "-", max_size=10).map(lambda rest: rest.rstrip("-")),
)
DNS_NAME = st.builds(
    lambda labels, top: ".".join([*labels, top]),
    st.lists(DNS_LABEL, min_size=1, max_size=3),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6),
)
RANDOM_CASE = st.sampled_from([str.upper, str.lower, str.title, str.swapcase])


@HYPOTHESIS
@given(
    st.lists(st.tuples(DNS_NAME, st.booleans(), RANDOM_CASE), max_size=6, unique_by=lambda t: (t[0], t[1])),
    st.sampled_from(postfix_tls._TLS_LEVELS[:5]),
)
def test_tls_policy_domains_round_trip_lower_cased(domains, level):
    policies = [{"domain": case(("." if dot else "") + name), "level": level} for name, dot, case in domains]

    result = mail_postfix.mail_postfix_tls_policies(policies)

    assert list(result) == [entry["domain"].lower() for entry in policies]
    assert set(result.values()) <= {level}
    assert mail_postfix.mail_postfix_tls_policies([{"domain": d, "level": level} for d in result]) == result


@HYPOTHESIS
@given(st.text(max_size=40))
def test_any_domain_is_a_clean_table_key_or_refused(domain):
    result, error = outcome(mail_postfix.mail_postfix_tls_policies, [policy(domain=domain)])

    if error is not None:
        assert str(error).startswith("mail_postfix_tls_policies: postfix_hardening_tls_policies[0].domain = ")
    else:
        assert re.fullmatch(r"\.?[a-z0-9-]+(\.[a-z0-9-]+)+", next(iter(result)))


# ------------------------------------------------------------------------------------------------ mailboxes


def test_mailboxes_get_lower_cased_domains_and_their_domain_list():
    result = mail_postfix.mail_postfix_mailboxes(["Alice@Example.ORG", "bob+tag@mail.example.net", "carol@example.org"])

    assert result == {
        "mailboxes": ["Alice@example.org", "bob+tag@mail.example.net", "carol@example.org"],
        "domains": ["example.org", "mail.example.net"],
    }


@pytest.mark.parametrize(
    "address",
    [
        "a@b.co",
        "first.last@example.org",
        "Bob_Smith+tag-2@example.org",
        "a" * 64 + "@example.org",
        "a@" + ".".join(["b" * 63] * 3) + "." + "c" * 60,
        "postmaster@xn--bcher-kva.example",
    ],
    ids=["shortest", "dotted", "login characters", "64-char local", "254 characters", "punycode"],
)
def test_valid_mailboxes_are_accepted(address):
    assert mail_postfix.mail_postfix_mailboxes([address])["mailboxes"] == [_lower_domain(address)]


def _lower_domain(address: str) -> str:
    local, domain = address.split("@")
    return f"{local}@{domain.lower()}"


def test_empty_mailbox_list_is_fine():
    assert mail_postfix.mail_postfix_mailboxes([]) == {"mailboxes": [], "domains": []}


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("alice", r"it must have exactly one '@' \(local@domain\)"),
        ("alice@b@example.org", r"it must have exactly one '@'"),
        ("a" * 65 + "@example.org", r"its local part must be 1 to 64 characters"),
        ("@example.org", r"its local part must be 1 to 64 characters"),
        ("ab@" + ".".join(["b" * 63] * 3) + "." + "c" * 61, r"it is longer than 254 characters"),
        ("al ice@example.org", r"its local part has ' ': a mailbox name is letters, digits"),
        ("al\tice@example.org", r"its local part has '\\t'"),
        ("alice\n@example.org", r"its local part has '\\n'"),
        ("al,ice@example.org", r"its local part has ','"),
        # Other atext characters are valid in mail, but not in a Dovecot login, and every mailbox is one.
        ("o'brien@example.org", r"its local part has \"'\": a mailbox name is .*Dovecot accepts in a login"),
        ("x!y@example.org", r"its local part has '!'"),
        ("x%y@example.org", r"its local part has '%'"),
        ('"alice"@example.org', r"its local part has '\"'"),
        ("<alice@example.org", r"its local part has '<'"),
        ("alice>@example.org", r"its local part has '>'"),
        ("al(ice)@example.org", r"its local part has '\('"),
        ("al:ice@example.org", r"its local part has ':'"),
        ("al;ice@example.org", r"its local part has ';'"),
        ("al\\ice@example.org", r"its local part has '\\\\'"),
        ("[alice]@example.org", r"its local part has '\['"),
        ("#alice@example.org", r"its local part has '#'"),
        ("alïce@example.org", r"its local part has 'ï'"),
        (".alice@example.org", r"its local part starts or ends with a dot or has two dots in a row"),
        ("alice.@example.org", r"its local part starts or ends with a dot"),
        ("al..ice@example.org", r"its local part starts or ends with a dot or has two dots in a row"),
        ("alice@", r"its domain is not a DNS name: it is empty"),
        ("alice@localhost", r"its domain is not a DNS name: it needs at least 2 labels"),
        ("alice@.example.org", r"its domain is not a DNS name: it has an empty label \(a leading, trailing or doubled"),
        ("alice@example.org.", r"its domain is not a DNS name: it has an empty label"),
        ("alice@exa_mple.org", r"its domain is not a DNS name: the label 'exa_mple' has '_'"),
        ("alice@[192.0.2.1]", r"its domain is not a DNS name: the label '\[192' has '\['"),
        ("alice@192.0.2.1", r"its domain is not a DNS name: its last label is all digits"),
        ("alice@exämple.org", r"its domain is not a DNS name: it has non-ASCII characters"),
    ],
)
def test_bad_mailboxes_are_refused_naming_index_and_rule(address, rule):
    with raises_filter_error(
        rf"^mail_postfix_mailboxes: postfix_hardening_mailboxes\[1\] = .* is not a mail address: {rule}"
    ):
        mail_postfix.mail_postfix_mailboxes(["ok@example.org", address])


@pytest.mark.parametrize(
    ("mailboxes", "match"),
    [
        ("alice@example.org", r"site_mailboxes must be a list of mail addresses, got str"),
        ({"alice@example.org": 1}, r"site_mailboxes must be a list of mail addresses, got dict"),
        (None, r"site_mailboxes must be a list of mail addresses, got NoneType"),
        ([["alice@example.org"]], r"site_mailboxes\[0\] = \['alice@example\.org'\] must be a mail address string"),
        ([42], r"site_mailboxes\[0\] = 42 must be a mail address string"),
        (
            ["alice@example.org", "bob@example.org", "ALICE@Example.Org"],
            r"site_mailboxes\[2\] = 'ALICE@Example\.Org' is the same mailbox as site_mailboxes\[0\]; list each once",
        ),
    ],
)
def test_mailboxes_must_be_a_list_of_distinct_addresses(mailboxes, match):
    with raises_filter_error(rf"^mail_postfix_mailboxes: {match}$"):
        mail_postfix.mail_postfix_mailboxes(mailboxes, "site_mailboxes")


LOCAL_PART = st.builds(
    lambda first, middle: first + middle,
    st.sampled_from(_LDH),
    st.text(alphabet=_LDH + "._+-", max_size=10).filter(lambda rest: ".." not in rest and not rest.endswith(".")),
)
ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL_PART, DNS_NAME)


@HYPOTHESIS
@given(st.text(max_size=40))
def test_any_mailbox_is_a_clean_table_key_or_refused(address):
    result, error = outcome(mail_postfix.mail_postfix_mailboxes, [address])

    if error is not None:
        assert str(error).startswith("mail_postfix_mailboxes: postfix_hardening_mailboxes[0] = ")
    else:
        (accepted,) = result["mailboxes"]
        assert re.fullmatch(r"[!-~]+@[a-z0-9.-]+", accepted)
        assert not set(accepted) & set(',"<>()[]:;\\#')


# ------------------------------------------------------------------------------------------- sender logins


MAILBOXES = ["alice@example.org", "Bob@example.org", "carol@example.net"]


def test_every_mailbox_owns_its_own_address():
    assert mail_postfix.mail_postfix_sender_logins({}, MAILBOXES) == {
        "alice@example.org": ["alice@example.org"],
        "bob@example.org": ["Bob@example.org"],
        "carol@example.net": ["carol@example.net"],
    }


def test_send_as_grants_further_addresses_and_domains():
    send_as = {
        "alice@EXAMPLE.org": ["postmaster@example.org", "@Example.NET", "Bob@Example.org"],
        "bob@example.org": ["postmaster@example.org", "postmaster@example.org"],
        "carol@example.net": [],
    }

    result = mail_postfix.mail_postfix_sender_logins(send_as, MAILBOXES)

    assert result == {
        "@example.net": ["alice@example.org"],
        "alice@example.org": ["alice@example.org"],
        "bob@example.org": ["Bob@example.org", "alice@example.org"],
        "carol@example.net": ["carol@example.net"],
        "postmaster@example.org": ["Bob@example.org", "alice@example.org"],
    }
    assert list(result) == sorted(result)


def test_without_own_address_only_grants_count():
    result = mail_postfix.mail_postfix_sender_logins(
        {"carol@example.net": ["noreply@example.net"], "alice@example.org": None}, MAILBOXES, False
    )

    assert result == {"noreply@example.net": ["carol@example.net"]}


@pytest.mark.parametrize("send_as", [None, {}])
def test_no_send_as_leaves_the_own_addresses(send_as):
    assert list(mail_postfix.mail_postfix_sender_logins(send_as, MAILBOXES)) == [
        "alice@example.org",
        "bob@example.org",
        "carol@example.net",
    ]


@pytest.mark.parametrize(
    ("send_as", "own_address", "match"),
    [
        (["alice@example.org"], True, r"site_send_as must be a dict of login to a list of addresses, got list"),
        (
            {"dave@example.org": []},
            True,
            r"site_send_as\.dave@example\.org is not one of the mailboxes; only a mailbox",
        ),
        ({"alice@example.com": []}, True, r"site_send_as\.alice@example\.com is not one of the mailboxes"),
        ({42: []}, True, r"site_send_as\.42 is not one of the mailboxes"),
        (
            {"alice@example.org": "postmaster@example.org"},
            True,
            r"site_send_as\.alice@example\.org must be a list of addresses and @domain entries, got str",
        ),
        (
            {"alice@example.org": ["ok@example.org", 7]},
            True,
            r"site_send_as\.alice@example\.org\[1\] = 7 must be an address or @domain string",
        ),
        (
            {"alice@example.org": ["@localhost"]},
            True,
            r"site_send_as\.alice@example\.org\[0\] = '@localhost' is not @domain: it needs at least 2 labels",
        ),
        (
            {"alice@example.org": ["@"]},
            True,
            r"site_send_as\.alice@example\.org\[0\] = '@' is not @domain: it is empty",
        ),
        (
            {"alice@example.org": ["@@example.org"]},
            True,
            r"site_send_as\.alice@example\.org\[0\] = '@@example\.org' is not @domain: the label '@example' has '@'",
        ),
        (
            {"alice@example.org": ["post master@example.org"]},
            True,
            r"site_send_as\.alice@example\.org\[0\] = 'post master@example\.org' is not a mail address or @domain: "
            r"its local part has ' '",
        ),
        (
            {"alice@example.org": ["example.org"]},
            True,
            r"site_send_as\.alice@example\.org\[0\] = 'example\.org' is not a mail address or @domain: it must have",
        ),
        ({}, "yes", r"own_address = 'yes' must be true or false"),
        ({}, None, r"own_address = None must be true or false"),
    ],
)
def test_bad_send_as_is_refused_naming_login_index_and_rule(send_as, own_address, match):
    with raises_filter_error(rf"^mail_postfix_sender_logins: {match}"):
        mail_postfix.mail_postfix_sender_logins(send_as, MAILBOXES, own_address, "site_send_as")


@pytest.mark.parametrize(
    ("mailboxes", "match"),
    [
        ("alice@example.org", r"postfix_hardening_mailboxes must be a list of mail addresses, got str"),
        (["alice"], r"postfix_hardening_mailboxes\[0\] = 'alice' is not a mail address: it must have exactly one '@'"),
        (
            ["a@example.org", "A@EXAMPLE.ORG"],
            r"postfix_hardening_mailboxes\[1\] = 'A@EXAMPLE\.ORG' is the same mailbox as "
            r"postfix_hardening_mailboxes\[0\]",
        ),
    ],
)
def test_sender_logins_check_the_mailboxes_too(mailboxes, match):
    with raises_filter_error(rf"^mail_postfix_sender_logins: {match}"):
        mail_postfix.mail_postfix_sender_logins({}, mailboxes)


@st.composite
def mailboxes_and_grants(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]]]:
    mailboxes = draw(st.lists(ADDRESS, min_size=1, max_size=6, unique_by=str.lower))
    grantable = st.one_of(ADDRESS, DNS_NAME.map(lambda domain: "@" + domain), st.sampled_from(mailboxes))
    logins = draw(st.lists(st.sampled_from(mailboxes), unique=True))
    # A login may be named with its domain in any case.
    send_as = {}
    for login in logins:
        local, domain = login.split("@")
        send_as[f"{local}@{draw(RANDOM_CASE)(domain)}"] = draw(st.lists(grantable, max_size=4))
    return mailboxes, send_as


@HYPOTHESIS
@given(mailboxes_and_grants(), st.booleans())
def test_sender_map_holds_own_addresses_and_exactly_the_grants(case, own_address):
    mailboxes, send_as = case

    result = mail_postfix.mail_postfix_sender_logins(send_as, mailboxes, own_address)

    expected: dict[str, set[str]] = {}
    for mailbox in mailboxes:
        if own_address:
            expected.setdefault(mailbox.lower(), set()).add(_lower_domain(mailbox))
    for login, entries in send_as.items():
        for entry in entries:
            expected.setdefault(entry.lower(), set()).add(_lower_domain(login))
    assert result == {key: sorted(logins) for key, logins in sorted(expected.items())}
    if own_address:
        assert all(_lower_domain(mailbox) in result[mailbox.lower()] for mailbox in mailboxes)
    granted_logins = {_lower_domain(login) for login in send_as}
    for key, logins in result.items():
        owners = {_lower_domain(m) for m in mailboxes if m.lower() == key and own_address}
        assert set(logins) <= owners | granted_logins
        assert logins == sorted(set(logins))


# ---------------------------------------------------------------------------------------------- postconf


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", {}),
        ("\n\n", {}),
        ("smtpd_tls_auth_only = yes\n", {"smtpd_tls_auth_only": "yes"}),
        ("tls_ffdhe_auto_groups =\n", {"tls_ffdhe_auto_groups": ""}),
        ("tls_ffdhe_auto_groups = \n", {"tls_ffdhe_auto_groups": ""}),
        (
            "smtpd_banner = $myhostname ESMTP = ok\r\n\r\nsmtpd_tls_CAfile = /etc/ssl/ca.pem",
            {"smtpd_banner": "$myhostname ESMTP = ok", "smtpd_tls_CAfile": "/etc/ssl/ca.pem"},
        ),
        (
            "relay-out_destination_rate_delay = 1s\nmua_sender_restrictions = reject_sender_login_mismatch, permit\n",
            {
                "relay-out_destination_rate_delay": "1s",
                "mua_sender_restrictions": "reject_sender_login_mismatch, permit",
            },
        ),
    ],
    ids=["empty", "blank lines", "one", "empty value", "empty value with space", "crlf and equals in value", "names"],
)
def test_postconf_output_is_parsed(text, parsed):
    assert mail_postfix.mail_postfix_parse_postconf(text) == parsed


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("postconf: warning: /etc/postfix/main.cf: unused parameter: x=y\n", r"line 1 'postconf: warning: .*' is not"),
        ("a = b\nsmtpd_tls_auth_only=yes\n", r"line 2 'smtpd_tls_auth_only=yes' is not 'name = value'$"),
        (
            "a = b\n    continued\n",
            r"line 2 '    continued' is not 'name = value' \(a folded line: run postconf without",
        ),
        ("= value\n", r"line 1 '= value' is not 'name = value'"),
        ("smtpd tls = yes\n", r"line 1 'smtpd tls = yes' is not 'name = value'"),
        ("a = 1\nb = 2\na = 3\n", r"line 3 sets a again \(first on line 1\)"),
        (None, r"must be text, got NoneType"),
        (b"a = b", r"must be text, got bytes"),
    ],
)
def test_malformed_postconf_output_is_refused_quoting_the_line(text, match):
    with raises_filter_error(rf"^mail_postfix_parse_postconf: live postconf output {match}"):
        mail_postfix.mail_postfix_parse_postconf(text, "live postconf output")


@HYPOTHESIS
@given(
    st.dictionaries(
        st.sampled_from(sorted(postfix._known_parameters())),
        st.text(alphabet=st.characters(blacklist_categories=("Cc", "Zl", "Zp", "Cs")), max_size=30).map(str.strip),
        max_size=8,
    )
)
def test_postconf_output_round_trips(parameters):
    text = "".join(f"{name} = {value}\n" if value else f"{name} =\n" for name, value in parameters.items())

    assert mail_postfix.mail_postfix_parse_postconf(text) == parameters


def test_main_cf_output_written_as_postconf_lines_parses_back():
    rendered = main_cf({"smtpd_tls_loglevel": 2, "tls_ffdhe_auto_groups": ""})
    text = "\n".join(f"{name} = {value}".rstrip() for name, value in rendered.items())

    assert mail_postfix.mail_postfix_parse_postconf(text) == rendered


# -------------------------------------------------------------------------------- undefined and plumbing


@pytest.mark.parametrize("undefined_class", [jinja2.StrictUndefined, jinja2.Undefined])
@pytest.mark.parametrize(
    "call",
    [
        lambda u: mail_postfix.mail_postfix_main_cf(u, {}),
        lambda u: mail_postfix.mail_postfix_main_cf(BASE, u),
        lambda u: mail_postfix.mail_postfix_main_cf(BASE, {}, u),
        lambda u: mail_postfix.mail_postfix_main_cf(BASE, {}, None, u),
        lambda u: mail_postfix.mail_postfix_main_cf(BASE, {"smtpd_banner": u}),
        lambda u: mail_postfix.mail_postfix_main_cf(BASE, {"smtpd_banner": ["a", u]}),
        lambda u: mail_postfix.mail_postfix_main_cf({"smtpd_banner": u}, {}),
        lambda u: mail_postfix.mail_postfix_main_cf(BASE, {"smtpd_tls_auth_only": False}, [u]),
        lambda u: mail_postfix.mail_postfix_main_cf(BASE, {}, None, {"smtpd_tls_auth_only": u}),
        mail_postfix.mail_postfix_tls_policies,
        lambda u: mail_postfix.mail_postfix_tls_policies([u]),
        lambda u: mail_postfix.mail_postfix_tls_policies([policy(domain=u)]),
        lambda u: mail_postfix.mail_postfix_tls_policies([policy(level=u)]),
        lambda u: mail_postfix.mail_postfix_tls_policies([policy(match=u)]),
        lambda u: mail_postfix.mail_postfix_tls_policies([policy(match=["nexthop", u])]),
        lambda u: mail_postfix.mail_postfix_tls_policies([policy(protocols=u)]),
        lambda u: mail_postfix.mail_postfix_tls_policies([policy(ciphers=u)]),
        mail_postfix.mail_postfix_mailboxes,
        lambda u: mail_postfix.mail_postfix_mailboxes(["alice@example.org", u]),
        lambda u: mail_postfix.mail_postfix_sender_logins(u, MAILBOXES),
        lambda u: mail_postfix.mail_postfix_sender_logins({}, u),
        lambda u: mail_postfix.mail_postfix_sender_logins({}, MAILBOXES, u),
        lambda u: mail_postfix.mail_postfix_sender_logins({"alice@example.org": u}, MAILBOXES),
        lambda u: mail_postfix.mail_postfix_sender_logins({"alice@example.org": [u]}, MAILBOXES),
        mail_postfix.mail_postfix_parse_postconf,
    ],
    ids=[
        "main_cf base",
        "main_cf extra",
        "main_cf acknowledged",
        "main_cf controls",
        "main_cf extra value",
        "main_cf extra list item",
        "main_cf base value",
        "main_cf acknowledged item",
        "main_cf control id",
        "tls_policies",
        "tls_policies entry",
        "tls domain",
        "tls level",
        "tls match",
        "tls match item",
        "tls protocols",
        "tls ciphers",
        "mailboxes",
        "mailbox",
        "send_as",
        "sender mailboxes",
        "own_address",
        "send_as entries",
        "send_as entry",
        "parse_postconf",
    ],
)
def test_undefined_values_raise_the_undefined_error_not_a_filter_error(call, undefined_class):
    with pytest.raises(jinja2.UndefinedError, match="is undefined"):
        call(undefined_class(name="mailfort_missing"))


def test_documented_choices_match_the_code():
    described = " ".join(sidecar.documentation("mail_postfix_tls_policies")["DOCUMENTATION"]["description"])

    for word in (*postfix_tls._TLS_LEVELS, *postfix_tls._CIPHER_GRADES, *postfix_tls._TLS_PROTOCOLS):
        assert f"C({word})" in described
    for size in postfix_tls._FINGERPRINT_BYTES:
        assert str(size) in described


# ------------------------------------------------------------------------------------------- mail_postfix_quota

QUOTA_MAILBOXES = ["alice@example.org", "News@Example.org"]
HOURLY = {"window": 3600, "messages": 200, "recipients": 1000}
DAILY = {"window": 86400, "messages": 1000, "recipients": 3000}


def test_quota_renders_defaults_shortest_window_first_and_overrides_by_lower_case_login():
    overrides = {"news@example.org": [{"window": 60, "messages": 500, "recipients": 5000}], "ALICE@example.org": []}

    result = mail_postfix.mail_postfix_quota([DAILY, HOURLY], overrides, QUOTA_MAILBOXES)

    assert result == {
        "defaults": "3600:200:1000 86400:1000:3000",
        "logins": {"alice@example.org": "", "news@example.org": "60:500:5000"},
    }


def test_quota_without_overrides_has_no_logins():
    assert mail_postfix.mail_postfix_quota([HOURLY], None, QUOTA_MAILBOXES)["logins"] == {}


@pytest.mark.parametrize(
    ("limits", "overrides", "match"),
    [
        ([], {}, r"postfix_hardening_quota_limits must hold at least one limit"),
        ("3600:200:1000", {}, r"postfix_hardening_quota_limits must be a list of limits"),
        ([{**HOURLY, "messages": -5}], {}, r"quota_limits\[0\]\.messages = -5 must be a whole number from 1"),
        ([{**HOURLY, "recipients": 0}], {}, r"quota_limits\[0\]\.recipients = 0 must be a whole number from 1"),
        ([{**HOURLY, "window": "3600"}], {}, r"quota_limits\[0\]\.window = '3600' must be a whole number"),
        ([{**HOURLY, "messages": 2.5}], {}, r"quota_limits\[0\]\.messages = 2\.5 must be a whole number"),
        ([{**HOURLY, "messages": True}], {}, r"quota_limits\[0\]\.messages = True must be a whole number"),
        ([{**HOURLY, "window": 604801}], {}, r"quota_limits\[0\]\.window = 604801 must be a whole number from 1 to"),
        ([{**HOURLY, "burst": 3}], {}, r"quota_limits\[0\] has unknown key\(s\) burst"),
        ([{"window": 60, "messages": 3}], {}, r"quota_limits\[0\] lacks recipients"),
        ([HOURLY, {**DAILY, "window": 3600}], {}, r"quota_limits\[1\]\.window = 3600 is already the window of"),
        ([HOURLY], {"carol@example.org": []}, r"quota_overrides\.carol@example\.org is not one of the mailboxes"),
        ([HOURLY], {"alice@example.org": [{**HOURLY, "messages": 0}]}, r"overrides\.alice@example\.org\[0\]\.mess"),
        ([HOURLY], {"alice@example.org": None}, r"overrides\.alice@example\.org must be a list of limits"),
        ([HOURLY], ["alice@example.org"], r"postfix_hardening_quota_overrides must be a dict of login"),
        ([HOURLY], {"alice@example.org": [], "Alice@example.org": []}, r"is the same login as another key"),
    ],
    ids=[
        "no default limit",
        "limits not a list",
        "negative messages",
        "zero recipients",
        "window as a string",
        "fractional messages",
        "boolean messages",
        "window longer than a week",
        "unknown key",
        "missing key",
        "window twice",
        "override for a login that is no mailbox",
        "bad override limit",
        "override not a list",
        "overrides not a dict",
        "override twice in different case",
    ],
)
def test_bad_quota_is_refused_naming_the_variable_and_the_rule(limits, overrides, match):
    with pytest.raises(AnsibleFilterError, match=rf"^mail_postfix_quota: .*{match}"):
        mail_postfix.mail_postfix_quota(limits, overrides, QUOTA_MAILBOXES)
