# SPDX-License-Identifier: MIT
"""The shared layer (plugins/plugin_utils) on its own, then one rule per concept across every filter.

The cross-filter tests feed the same tricky values to every filter that takes that kind of value (a domain, a
mailbox, a whole number) and require one verdict: a value one role accepts, another does not refuse.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mail_auth
import mail_dkim
import mail_dns
import mail_fail2ban
import mail_firewall
import mail_postfix
import mail_tls
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.plugin_utils import common, libraries, names, pem
from jinja2 import StrictUndefined

ROOT = Path(__file__).resolve().parents[2]

# --- common ----------------------------------------------------------------------------------------------------


def test_show_cuts_a_long_value_to_the_limit():
    assert common.show("x") == "'x'"
    assert len(common.show("x" * 500)) == common.SHOWN_VALUE_MAX
    assert common.show("x" * 500).endswith("...")


def test_key_text_quotes_only_what_cannot_be_read_as_written():
    assert common.key_text("smtpd_tls_loglevel") == "smtpd_tls_loglevel"
    assert common.key_text("a\nb") == "'a\\nb'"
    assert common.key_text(3) == "3"


def test_error_names_the_filter_and_the_subject():
    assert str(common.error("mail_x", "my_var[2]", "= 'a' is bad")) == "mail_x: my_var[2] = 'a' is bad"


@pytest.mark.parametrize(
    "value",
    [StrictUndefined(name="gone"), [1, StrictUndefined(name="gone")], {"a": {"b": StrictUndefined(name="gone")}}],
    ids=["plain", "in a list", "in a nested dict"],
)
def test_undefined_values_raise_the_undefined_error_wherever_they_are(value):
    with pytest.raises(Exception, match="'gone' is undefined") as raised:
        common.propagate_undefined("fine", value)
    assert not isinstance(raised.value, AnsibleFilterError)


def test_defined_values_pass():
    common.propagate_undefined("a", [1, {"b": None}], ())


@pytest.mark.parametrize(
    ("value", "number"),
    [
        *[(90, 90), ("90", 90), (" 90 ", 90), ("0", 0), ("007", 7), (True, None), (False, None), (9.0, None)],
        *[("9.0", None), ("-1", None), ("+5", None), ("9_0", None), ("\u0669\u0660", None), ("", None)],
        *[(None, None), ("0x5a", None), ("90s", None)],
    ],
)
def test_whole_number_is_one_rule(value, number):
    assert common.whole_number(value) == number


def test_is_list_takes_lists_and_tuples_only():
    assert common.is_list([])
    assert common.is_list(())
    assert not common.is_list("abc")
    assert not common.is_list({"a": 1})


# --- names -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("Example.ORG", "example.org"),
        (" mail.example.org ", "mail.example.org"),
        ("example.org.", "example.org"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a-b.example", "a-b.example"),
    ],
)
def test_dns_names_are_given_in_one_normal_form(value, name):
    assert names.dns_name(value) == (name, None)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "it is empty"),
        ("localhost", "at least 2 labels"),
        ("mail.123", "last label is all digits"),
        ("192.0.2.1", "last label is all digits"),
        ("exa_mple.org", "the label 'exa_mple' has '_': labels are letters, digits and inner hyphens"),
        ("-a.example", "the label '-a' starts or ends with a hyphen"),
        ("a..example", "empty label"),
        ("example.org..", "empty label"),
        ("b\u00fccher.example", "non-ASCII"),
        ("\u212a.example", "non-ASCII"),  # the Kelvin sign, which lower() would turn into an ASCII k
        ("a" * 64 + ".example", "longer than 63 characters"),
        (".".join(["a" * 63] * 4) + ".org", "longer than 253 characters"),
        ("*.example.org", "wildcard is only allowed as the whole leftmost label"),
        (7, "must be a string, got int"),
    ],
)
def test_bad_dns_names_are_refused_with_the_reason(value, problem):
    name, found = names.dns_name(value)
    assert name is None
    assert problem in found


def test_wildcards_service_labels_and_selectors_are_allowed_where_asked():
    assert names.dns_name("*.example.org", wildcard=True) == ("*.example.org", None)
    assert "two labels after it" in names.dns_name("*.org", wildcard=True)[1]
    assert names.dns_name("_mta-sts.example.org", service_labels=True) == ("_mta-sts.example.org", None)
    assert names.dns_name("2024", min_labels=1, domain=False) == ("2024", None)
    assert names.dns_name("_mta-sts.example.org")[0] is None


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("alice@example.org", None),
        ("Bob.Smith+tag@Example.org", None),
        ("a_b-c@mail.example.org", None),
        ("alice", "exactly one '@'"),
        ("a@b@example.org", "exactly one '@'"),
        ("@example.org", "local part must be 1 to 64 characters"),
        ("a" * 65 + "@example.org", "local part must be 1 to 64 characters"),
        (".alice@example.org", "starts or ends with a dot"),
        ("al..ice@example.org", "two dots in a row"),
        ("o'brien@example.org", "a mailbox name is letters, digits, '.', '_', '+' and '-'"),
        ("alice@mail.123", "its domain is not a DNS name: its last label is all digits"),
        ("alice@example.org.", "empty label"),
        ("a@" + ".".join(["b" * 63] * 3) + "." + "c" * 61, "longer than 254 characters"),
    ],
)
def test_mailbox_addresses_follow_one_rule(address, problem):
    found = names.address_problem(address)
    assert found is None if problem is None else problem in found


def test_normal_address_lowers_the_domain_only():
    assert names.normal_address("Bob@Example.ORG") == "Bob@example.org"


# --- pem -------------------------------------------------------------------------------------------------------

_BLOCK = "-----BEGIN CERTIFICATE-----\nTUlJ\n-----END CERTIFICATE-----\n"


def test_pem_blocks_are_found_in_text_and_bytes():
    assert pem.pem_blocks(_BLOCK + _BLOCK) == [("CERTIFICATE", _BLOCK.strip().encode())] * 2
    assert pem.pem_blocks(_BLOCK.encode()) == [("CERTIFICATE", _BLOCK.strip().encode())]
    assert pem.pem_blocks("no pem here") == []


def test_a_broken_pem_block_is_refused_without_its_text():
    with pytest.raises(pem.PemFramingError) as raised:
        pem.pem_blocks(_BLOCK + "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n")
    assert str(raised.value) == pem.BROKEN_FRAMING
    assert "c2VjcmV0" not in str(raised.value)


# --- libraries -------------------------------------------------------------------------------------------------


def test_require_returns_an_installed_module():
    assert libraries.require("cryptography", "mail_x").__name__ == "cryptography"


def test_require_names_the_package_of_a_missing_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "argon2", None)  # what an uninstalled package looks like to import
    with pytest.raises(AnsibleFilterError, match=r"^mail_x: needs the Python package argon2-cffi .*pip install argon2"):
        libraries.require("argon2", "mail_x")


_WITHOUT = textwrap.dedent(
    """
    import sys

    class Missing:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == sys.argv[1]:
                raise ImportError(f"No module named {name!r}")

    sys.meta_path.insert(0, Missing())
    sys.path[:0] = [sys.argv[2] + "/collections", sys.argv[2] + "/plugins/filter"]
    import importlib
    from ansible.errors import AnsibleFilterError

    loaded = {}
    for module in ("mail_auth", "mail_dkim", "mail_dns", "mail_fail2ban", "mail_firewall", "mail_net",
                   "mail_postfix", "mail_tls"):
        loaded.update(importlib.import_module(module).FilterModule().filters())
    print(len(loaded))
    print(loaded["mail_net_cidrs"](["192.0.2.1"]))
    try:
        exec(sys.argv[3], {"f": loaded})
    except AnsibleFilterError as e:
        print(e.message)
    """
)


@pytest.mark.parametrize(
    ("module", "package", "call"),
    [
        (
            "argon2",
            "argon2-cffi",
            "f['mail_auth_credentials']([{'name': 'a@example.org', 'password': 'Velvet-Quartz-9'}])",
        ),
        (
            "bcrypt",
            "bcrypt",
            "f['mail_auth_credentials']([{'name': 'a@example.org', 'password': 'Velvet-Quartz-9'}], "
            "{}, {'scheme': 'BLF-CRYPT'})",
        ),
        ("cryptography", "cryptography", "f['mail_tls_check_bundle']('x', 'y')"),
        (
            "cryptography",
            "cryptography",
            "f['mail_dkim_keys']([{'domain': 'example.org', 'selector': 's', 'private_key': 'x'}])",
        ),
    ],
    ids=["argon2-cffi", "bcrypt", "cryptography for TLS", "cryptography for DKIM"],
)
def test_without_an_optional_library_the_filters_load_and_the_one_that_needs_it_names_it(module, package, call):
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT, module, str(ROOT), call], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr[-2000:]
    count, networks, message = result.stdout.splitlines()[:3]
    assert int(count) == 37
    assert networks == "['192.0.2.1/32']"
    assert f"needs the Python package {package} on the controller" in message


# --- one rule per concept across the filters --------------------------------------------------------------------


def _verdict(call: Callable[[], Any]) -> bool:
    try:
        call()
    except AnsibleFilterError:
        return False
    return True


_PASSWORD = "Velvet-Quartz-Tundra-11"  # noqa: S105 -- a test password, strong enough for the policy

# Every filter that takes a domain name, each given the same name where it takes one.
DOMAIN_TAKERS: dict[str, Callable[[str], Any]] = {
    "mail_auth_check_users (user domain)": lambda d: mail_auth.mail_auth_check_users(
        [{"name": f"alice@{d}", "password": _PASSWORD}]
    ),
    "mail_postfix_mailboxes (mailbox domain)": lambda d: mail_postfix.mail_postfix_mailboxes([f"alice@{d}"]),
    "mail_postfix_tls_policies (domain)": lambda d: mail_postfix.mail_postfix_tls_policies(
        [{"domain": d, "level": "encrypt"}]
    ),
    "mail_dkim_keys (domain)": lambda d: mail_dkim.mail_dkim_keys([{"domain": d, "selector": "mail2026"}]),
    "mail_tls_check_sans": lambda d: mail_tls.mail_tls_check_sans([d]),
    "mail_dns_dmarc (domain)": lambda d: mail_dns.mail_dns_dmarc({"p": "reject"}, d),
    "mail_dns_tlsrpt (domain)": lambda d: mail_dns.mail_dns_tlsrpt({"rua": [f"mailto:tls@{d}"]}, d),
}

TRICKY_DOMAINS = [
    "example.org",
    "Mail.Example.ORG",
    "xn--bcher-kva.example",
    "a-b.example",
    "mail.123",
    "192.0.2.1",
    "localhost",
    "exa_mple.org",
    "-a.example",
    "a-.example",
    "a..example",
    "b\u00fccher.example",
    "\u212a.example",
    "a" * 64 + ".example",
    "ex ample.org",
]


@pytest.mark.parametrize("domain", TRICKY_DOMAINS)
def test_every_filter_that_takes_a_domain_gives_it_the_same_verdict(domain):
    verdicts = {name: _verdict(lambda take=take: take(domain)) for name, take in DOMAIN_TAKERS.items()}

    assert len(set(verdicts.values())) == 1, verdicts
    assert verdicts["mail_tls_check_sans"] is (names.name_problem(domain) is None)


# Every filter that takes a mailbox address: the Dovecot users they come from, and Postfix's tables of them.
MAILBOX_TAKERS: dict[str, Callable[[str], Any]] = {
    "mail_auth_check_users": lambda a: mail_auth.mail_auth_check_users([{"name": a, "password": _PASSWORD}]),
    "mail_postfix_mailboxes": lambda a: mail_postfix.mail_postfix_mailboxes([a]),
    "mail_postfix_quota (mailboxes)": lambda a: mail_postfix.mail_postfix_quota(
        [{"window": 3600, "messages": 200, "recipients": 1000}], {}, [a]
    ),
    "mail_postfix_sender_logins (mailboxes)": lambda a: mail_postfix.mail_postfix_sender_logins({}, [a]),
}

TRICKY_ADDRESSES = [
    "alice@example.org",
    "Bob.Smith+tag@Example.org",
    "a_b-c@mail.example.org",
    "alice@mail.123",
    "o'brien@example.org",
    "x!y@example.org",
    "al..ice@example.org",
    ".alice@example.org",
    "alice@example.org.",
    "al ice@example.org",
    "alice@@example.org",
    "a" * 65 + "@example.org",
    "alice@exa_mple.org",
    "al%ice@example.org",
    "al#ice@example.org",
]


@pytest.mark.parametrize("address", TRICKY_ADDRESSES)
def test_every_filter_that_takes_a_mailbox_gives_it_the_same_verdict(address):
    verdicts = {name: _verdict(lambda take=take: take(address)) for name, take in MAILBOX_TAKERS.items()}

    assert len(set(verdicts.values())) == 1, verdicts
    assert verdicts["mail_postfix_mailboxes"] is (names.address_problem(address) is None)


# Every filter that takes a whole number, each given the same written form of a number it accepts.
NUMBER_TAKERS: dict[str, Callable[[Any], Any]] = {
    "mail_tls_check_lifetime": mail_tls.mail_tls_check_lifetime,
    "mail_fail2ban_jails (maxretry)": lambda n: mail_fail2ban.mail_fail2ban_jails({}, n, 600, 3600),
    "mail_firewall_services (port)": lambda n: mail_firewall.mail_firewall_services(
        [{"name": "smtp", "ports": [n], "sources": "any"}]
    ),
    "mail_auth_passdb_slots (minimum)": lambda n: mail_auth.mail_auth_passdb_slots([], n),
    "mail_dns_dmarc (ttl)": lambda n: mail_dns.mail_dns_dmarc({"p": "reject"}, "example.org", n),
}

TRICKY_NUMBERS = [90, "90", " 90 ", "090", True, 90.0, "90.0", "+90", "-90", "9_0", "\u0669\u0660", "0x5a", "90s", ""]


@pytest.mark.parametrize("number", TRICKY_NUMBERS, ids=[repr(n) for n in TRICKY_NUMBERS])
def test_every_filter_that_takes_a_whole_number_gives_it_the_same_verdict(number):
    verdicts = {name: _verdict(lambda take=take: take(number)) for name, take in NUMBER_TAKERS.items()}

    assert len(set(verdicts.values())) == 1, verdicts
    assert verdicts["mail_tls_check_lifetime"] is (common.whole_number(number) is not None)
