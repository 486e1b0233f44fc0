# SPDX-License-Identifier: MIT
"""Unit tests for the mail_auth filters (plugins/plugin_utils/auth.py, auth_credentials.py):
user checks, password hashing, and the passwd-file slot files.

Hashing uses cheap parameters (Argon2 with 8 KiB and one pass, bcrypt cost 4) through the policy, except in the two
tests that check the production defaults' output format.
"""

from __future__ import annotations

import re
from typing import Any

import bcrypt
import jinja2
import mail_auth
import pytest
import sidecar
from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.plugin_utils import auth, auth_credentials
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import verify_secret
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# No example database: each run stands alone, whatever an earlier run on this machine found.
HYPOTHESIS = settings(database=None, max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CHEAP = {"argon2": {"memory_kib": 8, "time_cost": 1, "parallelism": 1}, "bcrypt_rounds": 4}
CHEAP_BCRYPT = {**CHEAP, "scheme": "BLF-CRYPT"}

MAIN_PW = "Tangerine-Kayak-42"
LAPTOP_PW = "Granite+Velvet-77"
PHONE_PW = "Orchid Lantern 905"
BACKUP_PW = "Quartz_Meadow_318"
PREHASHED_PW = "Prehashed-Cobalt-61"


def _argon2(password: str, kind: Type = Type.ID) -> str:
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=kind)
    return ("{ARGON2ID}" if kind is Type.ID else "{ARGON2I}") + hasher.hash(password)


def _bcrypt(password: str, variant: str = "2y") -> str:
    return "{BLF-CRYPT}$" + variant + bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()[3:]


ARGON2ID_HASH = _argon2(PREHASHED_PW)
ARGON2I_HASH = _argon2(PREHASHED_PW, Type.I)
BCRYPT_HASH = _bcrypt(PREHASHED_PW)
# Made by Dovecot 2.3.19.1: doveadm pw -s SHA512-CRYPT -p Correct-Horse-42
SHA512_BODY = "TDeElmA5WK6JrMMHxkOsjN6.vfLUbxwlG4u3ClUis.Z2/yM9YBwOUyDTBftdXZCp1/5MAfBl7c4Oc//CTJHj8/"
SHA512_HASH = "{SHA512-CRYPT}$6$dkrY4L4/bXXfABNf$" + SHA512_BODY
ARGON2_RE = r"\{ARGON2ID\}\$argon2id\$v=19\$m=%d,t=%d,p=%d\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}"


def alice(**overrides: Any) -> dict:
    user = {
        "name": "alice@example.org",
        "password": MAIN_PW,
        "app_passwords": [{"label": "laptop", "password": LAPTOP_PW}, {"label": "phone", "password": PHONE_PW}],
    }
    user.update(overrides)
    return user


def bob(**overrides: Any) -> dict:
    user = {"name": "bob@example.net", "app_passwords": [{"label": "backup-script", "password": BACKUP_PW}]}
    user.update(overrides)
    return user


def raises_filter_error(match: str) -> Any:
    return pytest.raises(AnsibleFilterError, match=match)


def check(users: Any, **policy: Any) -> list[dict]:
    return mail_auth.mail_auth_check_users(users, {**CHEAP, **policy})


def credentials(users: Any, existing: Any = None, **policy: Any) -> list[dict]:
    return mail_auth.mail_auth_credentials(users, existing, {**CHEAP, **policy})


def by_key(creds: list[dict]) -> dict[str, str]:
    return {f"{c['user']} {c['label']}": c["hash"] for c in creds}


def outcome(function: Any, *args: Any) -> tuple[Any, AnsibleFilterError | None]:
    """The filter's result, or the filter error it raised; any other exception escapes and fails the test."""
    try:
        return function(*args), None
    except AnsibleFilterError as e:
        return None, e


def argon2_verifies(hashed: str, password: str) -> bool:
    body = hashed.removeprefix("{ARGON2ID}")
    try:
        return verify_secret(body.encode(), password.encode(), Type.ID)
    except (VerificationError, InvalidHashError):
        return False


def bcrypt_verifies(hashed: str, password: str) -> bool:
    return bcrypt.checkpw(password.encode(), ("$2b$" + hashed.removeprefix("{BLF-CRYPT}$2y$")).encode())


# ------------------------------------------------------------------------------------ check: normalising


def test_users_are_normalised_without_any_secret_in_the_result():
    users = [
        alice(name="Alice@Example.ORG"),
        bob(password_hash=ARGON2ID_HASH, mail_login=False),
        {"name": "carol@example.org", "state": "absent"},
    ]

    result = check(users)

    assert result == [
        {
            "name": "alice@example.org",
            "state": "present",
            "mail_login": True,
            "main_given_as": "password",
            "app_passwords": [
                {"label": "laptop", "given_as": "password"},
                {"label": "phone", "given_as": "password"},
            ],
        },
        {
            "name": "bob@example.net",
            "state": "present",
            "mail_login": False,
            "main_given_as": "password_hash",
            "app_passwords": [{"label": "backup-script", "given_as": "password"}],
        },
        {
            "name": "carol@example.org",
            "state": "absent",
            "mail_login": True,
            "main_given_as": None,
            "app_passwords": [],
        },
    ]
    shown = repr(result)
    for secret in (MAIN_PW, LAPTOP_PW, PHONE_PW, BACKUP_PW, ARGON2ID_HASH):
        assert secret not in shown


@pytest.mark.parametrize(
    ("policy_default", "given", "expected"),
    [(True, None, True), (False, None, False), (False, True, True), (True, False, False)],
)
def test_mail_login_defaults_to_the_policy(policy_default, given, expected):
    user = bob(password=MAIN_PW)
    if given is not None:
        user["mail_login"] = given

    (result,) = check([user], main_password_mail_login=policy_default)

    assert result["mail_login"] is expected


def test_empty_user_list_is_fine():
    assert check([]) == []


def test_absent_users_need_no_password_and_skip_the_password_policy():
    users = [
        {"name": "carol@example.org", "state": "absent", "password": "short"},
        {"name": "dave@example.org", "state": "absent", "app_passwords": [{"label": "old", "password": "123456"}]},
    ]

    assert [user["state"] for user in check(users)] == ["absent", "absent"]


@pytest.mark.parametrize(
    "name",
    [
        "a@b.co",
        "first.last+tag@mail.example.org",
        "x_y-z.9@xn--bcher-kva.example",
        "a" * 64 + "@example.org",
        "a@" + ".".join(["a" * 63] * 3) + "." + "b" * 60,
        "ALICE@EXAMPLE.ORG",
    ],
    ids=["shortest", "plus and subdomain", "punycode", "64-char local part", "254-char address", "upper case"],
)
def test_valid_login_names_are_accepted_lower_cased(name):
    (result,) = check([bob(name=name)])

    assert result["name"] == name.lower()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "is empty"),
        ("alice", "must be one address local@domain"),
        ("a@b@example.org", "must be one address local@domain"),
        ("alice@localhost", "at least 2 labels"),
        ("al:ice@example.org", "contains a colon"),
        ("al ice@example.org", "whitespace or a control character"),
        ("alice@example.org\n", "whitespace or a control character"),
        ("al\tice@example.org", "whitespace or a control character"),
        ("al\x00ice@example.org", "whitespace or a control character"),
        ("#alice@example.org", "contains a '#'"),
        ("%u@example.org", "contains a '%'"),
        ("a/b@example.org", "contains a '/'"),
        ("ålice@example.org", "non-ASCII"),
        ("\u212aate@example.org", "non-ASCII"),  # Kelvin sign: lower-cases to an ASCII "k"
        ("alice!@example.org", "local part"),
        ("@example.org", "local part"),
        ("a" * 65 + "@example.org", "local part"),
        (".alice@example.org", "starts or ends with a dot"),
        ("alice.@example.org", "starts or ends with a dot"),
        ("al..ice@example.org", "two dots in a row"),
        ("alice@-example.org", "not a DNS name"),
        ("alice@example..org", "not a DNS name"),
        ("alice@exa_mple.org", "not a DNS name"),
        ("alice@example.org.", "not a DNS name"),
        ("alice@" + ".".join(["a" * 63] * 3) + "." + "b" * 62, "longer than 254 characters"),
    ],
)
def test_invalid_login_names_are_refused_with_index_and_reason(name, reason):
    with raises_filter_error(rf"^mail_auth_check_users: dovecot_hardening_users\[1\]\.name = .* {reason}"):
        check([alice(), bob(name=name)])


@pytest.mark.parametrize("name", [None, 42, ["alice@example.org"]])
def test_a_name_that_is_not_a_string_is_refused(name):
    with raises_filter_error(r"dovecot_hardening_users\[0\]\.name = .* must be a login name such as"):
        check([bob(name=name)])


def test_duplicate_users_after_lower_casing_name_both_indexes():
    with raises_filter_error(
        r"^mail_auth_check_users: dovecot_hardening_users\[2\] \(alice@example\.org\) "
        r"is the same user as dovecot_hardening_users\[0\]"
    ):
        check([alice(), bob(), {"name": "ALICE@example.org", "state": "absent"}])


@pytest.mark.parametrize(
    ("users", "match"),
    [
        ("alice@example.org", r"dovecot_hardening_users must be a list of users, got str"),
        ({"name": "alice@example.org"}, r"dovecot_hardening_users must be a list of users, got dict"),
        (None, r"dovecot_hardening_users must be a list of users, got NoneType"),
        (["alice@example.org"], r"dovecot_hardening_users\[0\] must be a dict with at least a name, got str"),
    ],
)
def test_users_that_are_not_a_list_of_dicts_are_refused(users, match):
    with raises_filter_error(f"^mail_auth_check_users: {match}"):
        check(users)


def test_errors_use_the_given_variable_name():
    with raises_filter_error(r"^mail_auth_check_users: site_users\[0\]\.name = 'x' is not a valid login name"):
        mail_auth.mail_auth_check_users([{"name": "x"}], CHEAP, "site_users")


@pytest.mark.parametrize(
    ("user", "match"),
    [
        (alice(passwrd=MAIN_PW), r"\[0\] \(alice@example\.org\) has unknown key\(s\) passwrd; known: app_passwords"),
        (
            alice(app_passwords=[{"label": "laptop", "pasword": LAPTOP_PW}]),
            r"\[0\]\.app_passwords\[0\] \(alice@example\.org, app password 'laptop'\) has unknown key\(s\) pasword; "
            r"known: label",
        ),
        (alice(state="gone"), r"\[0\]\.state \(alice@example\.org\) = 'gone' must be one of: present, absent"),
        (alice(mail_login="yes"), r"\[0\]\.mail_login \(alice@example\.org\) = 'yes' must be true or false"),
        (alice(app_passwords="laptop"), r"\[0\]\.app_passwords \(alice@example\.org\) must be a list, got str"),
        (
            alice(app_passwords=["laptop"]),
            r"\[0\]\.app_passwords\[0\] \(alice@example\.org\) must be a dict with label and password, got str",
        ),
    ],
)
def test_structural_mistakes_in_a_user_are_refused_naming_the_key(user, match):
    with raises_filter_error(f"^mail_auth_check_users: dovecot_hardening_users{match}"):
        check([user])


@pytest.mark.parametrize(
    ("user", "match"),
    [
        ({"name": "bob@example.net"}, r"it has no main password"),
        ({"name": "bob@example.net", "app_passwords": []}, r"it has no main password"),
        (bob(app_passwords=None), r"it has no main password"),
        (bob(password=MAIN_PW, mail_login=False, app_passwords=[]), r"its main password has mail_login false"),
    ],
)
def test_a_present_user_without_a_mail_credential_is_refused(user, match):
    with raises_filter_error(
        rf"^mail_auth_check_users: dovecot_hardening_users\[0\] \(bob@example\.net\) has no credential that can log "
        rf"in to mail \({match} and no app password\); give an app password, or a main password with mail_login true$"
    ):
        check([user])


def test_policy_default_without_main_password_mail_login_needs_an_app_password():
    with raises_filter_error(r"its main password has mail_login false"):
        check([bob(password=MAIN_PW, app_passwords=[])], main_password_mail_login=False)


@pytest.mark.parametrize(
    ("user", "match"),
    [
        (
            alice(password_hash=ARGON2ID_HASH),
            r" \(alice@example\.org, the main password\) has both password and password_hash; give exactly one",
        ),
        (
            alice(app_passwords=[{"label": "laptop", "password": LAPTOP_PW, "password_hash": BCRYPT_HASH}]),
            r"\.app_passwords\[0\] \(alice@example\.org, app password 'laptop'\) has both password and password_hash",
        ),
        (
            alice(app_passwords=[{"label": "laptop"}]),
            r"\.app_passwords\[0\] \(alice@example\.org, app password 'laptop'\) has neither password nor "
            r"password_hash; give exactly one",
        ),
        (
            alice(app_passwords=[{"label": "laptop", "password": None}]),
            r"\.app_passwords\[0\] \(alice@example\.org, app password 'laptop'\) has neither password nor "
            r"password_hash",
        ),
    ],
)
def test_password_and_password_hash_are_mutually_exclusive(user, match):
    with raises_filter_error(rf"dovecot_hardening_users\[0\]{match}"):
        check([user])


@pytest.mark.parametrize("label", ["a", "laptop", "backup-script", "phone_2", "0", "a" * 32])
def test_valid_labels_are_accepted(label):
    (result,) = check([bob(app_passwords=[{"label": label, "password": BACKUP_PW}])])

    assert result["app_passwords"] == [{"label": label, "given_as": "password"}]


@pytest.mark.parametrize("label", ["Laptop", "-phone", "_x", "", "a" * 33, "my phone", "laptop:1", "né", 42, None])
def test_invalid_labels_are_refused(label):
    with raises_filter_error(
        rf"dovecot_hardening_users\[0\]\.app_passwords\[0\]\.label \(bob@example\.net\) = {re.escape(repr(label))} "
        r"must match \^\[a-z0-9\]\[a-z0-9_-\]\{0,31\}\$ \(lower case\)$"
    ):
        check([bob(app_passwords=[{"label": label, "password": BACKUP_PW}])])


def test_the_label_main_is_reserved():
    with raises_filter_error(
        r"dovecot_hardening_users\[0\]\.app_passwords\[0\] \(bob@example\.net, app password 'main'\) "
        r"uses the reserved label 'main'"
    ):
        check([bob(app_passwords=[{"label": "main", "password": BACKUP_PW}])])


def test_duplicate_labels_within_a_user_are_refused():
    apps = [{"label": "phone", "password": LAPTOP_PW}, {"label": "phone", "password": PHONE_PW}]

    with raises_filter_error(
        r"\[0\]\.app_passwords\[1\] \(alice@example\.org, app password 'phone'\) repeats the label of "
        r"app_passwords\[0\]; labels must be unique"
    ):
        check([alice(app_passwords=apps)])


def test_the_same_label_for_different_users_is_fine():
    users = [alice(), bob(app_passwords=[{"label": "laptop", "password": BACKUP_PW}])]

    assert len(check(users)) == 2


# ------------------------------------------------------------------------------------- check: passwords


@pytest.mark.parametrize(
    ("password", "policy", "reason"),
    [
        ("Short-Pw-1", {}, "is shorter than 12 characters"),
        ("Eleven-Char", {}, "is shorter than 12 characters"),
        ("Kayak-Granite-Tangerine-4", {"max_length": 20}, "is longer than 20 characters"),
        ("Kayak-Granite-" + "x" * 200, {}, "is longer than 128 characters"),
        ("Kayak-Granite-42\n", {}, r"contains a control character such as a newline.*use '\|-'"),
        ("Kayak\x00Granite-42", {}, "contains a control character"),
        ("Kayak\rGranite-42", {}, "contains a control character"),
        ("Kayak\x85Granite-42", {}, "contains a control character"),
        (123456789012345, {}, r"must be a string \(quote it in YAML\), got int"),
        (["Kayak-Granite-42"], {}, r"must be a string \(quote it in YAML\), got list"),
        ("Kayak-" + "é" * 34, {"scheme": "BLF-CRYPT"}, "is longer than 72 UTF-8 bytes, the most BLF-CRYPT"),
        ("aaaaaaaaaaaa", {}, "is one character repeated"),
        ("ZZZZZZZZZZZZZZZZ", {}, "is one character repeated"),
        ("abcabcabcabc", {}, "is a group of 3 characters repeated"),
        ("PassPassPassPass", {}, "is a group of 4 characters repeated"),
        ("12121212121212", {}, "is a group of 2 characters repeated"),
        ("abcdefghijkl", {}, "is an ascending or descending run"),
        ("ABCDEFGHIJKLM", {}, "is an ascending or descending run"),
        ("123456789012", {}, "is an ascending or descending run"),
        ("890123456789", {}, "is an ascending or descending run"),
        ("zyxwvutsrqpo", {}, "is an ascending or descending run"),
        ("987654321098", {}, "is an ascending or descending run"),
        ("xyzabcdefghi", {}, "is an ascending or descending run"),
        ("password1234", {}, "is one of the most common passwords"),
        ("QwertyuiopASDFGHJKL", {}, "is one of the most common passwords"),
        ("1qaz2wsx3edc", {}, "is one of the most common passwords"),
        ("dragon", {"min_length": 6}, "is one of the most common passwords"),
        ("Kayak-Granite-42", {"extra_weak_passwords": ["kayak-granite-42"]}, "is in policy.extra_weak_passwords"),
        ("kayak-granite-42", {"extra_weak_passwords": ["KAYAK-Granite-42"]}, "is in policy.extra_weak_passwords"),
        ("My-Alice-Kayak-42", {}, "contains the user's name or the first label of the mail domain"),
        ("Kayak-EXAMPLE-Pw-42", {}, "contains the user's name or the first label of the mail domain"),
    ],
)
def test_weak_main_passwords_are_refused_without_showing_them(password, policy, reason):
    with raises_filter_error(
        rf"^mail_auth_check_users: dovecot_hardening_users\[0\]\.password \(alice@example\.org, the main password\) "
        rf"{reason}"
    ) as caught:
        check([alice(password=password)], **policy)

    if isinstance(password, str):
        assert password not in str(caught.value)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("john.smith@corp.example", "Blue-Smith-Kayak-42"),
        ("john.smith@corp.example", "Blue-JOHN-Kayak-42"),
        ("john.smith@corp.example", "Blue-john.smith-Kayak-4"),
        ("x+mailbox@corp.example", "Blue-Mailbox-Kayak-4"),
        ("x@mailhost.example", "Blue-Mailhost-Kayak-4"),
    ],
)
def test_passwords_holding_a_long_enough_part_of_the_login_are_refused(name, password):
    with raises_filter_error(
        rf"\[0\]\.app_passwords\[0\]\.password \({re.escape(name)}, app password 'laptop'\) contains the user's name "
        r"or the "
        r"first label"
    ):
        check([{"name": name, "app_passwords": [{"label": "laptop", "password": password}]}])


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("bo@ab.example", "Bo-Ab-Kayak-Granite-42"),  # parts shorter than 4 characters are not looked for
        ("alice@example.org", "Exampl-Alic-Kayak-42"),
        ("alice@example.org", "org-Kayak-Granite-42"),  # only the domain's first label
    ],
)
def test_short_name_parts_do_not_make_a_password_weak(name, password):
    assert check([{"name": name, "app_passwords": [{"label": "laptop", "password": password}]}])


@pytest.mark.parametrize(
    ("password", "policy"),
    [
        ("Kayak-" + "é" * 34, {}),  # 74 bytes: fine for Argon2
        ("Kayak-" + "é" * 33, {"scheme": "BLF-CRYPT"}),  # exactly 72 bytes
        ("Kayak-Granite-42", {}),
        ("correct horse battery staple", {}),
        ("abcdefghijkm", {}),  # a run with one step broken
        ("abcabcabcabx", {}),
        ("x" * 11 + "y", {}),
        ("Kayak!", {"min_length": 6}),
        ("K" + "ayak" * 32 + "-", {"max_length": 130}),
    ],
)
def test_passwords_that_meet_the_policy_are_accepted(password, policy):
    assert check([bob(password=password)], **policy)[0]["main_given_as"] == "password"


def test_app_password_policy_errors_name_the_label():
    apps = [{"label": "laptop", "password": LAPTOP_PW}, {"label": "phone", "password": "123456789012"}]

    with raises_filter_error(
        r"^mail_auth_check_users: dovecot_hardening_users\[0\]\.app_passwords\[1\]\.password "
        r"\(alice@example\.org, app password 'phone'\) is an ascending or descending run"
    ):
        check([alice(app_passwords=apps)])


@pytest.mark.parametrize(
    ("users", "match"),
    [
        (
            [alice(app_passwords=[{"label": "laptop", "password": MAIN_PW}])],
            r"\[0\] \(alice@example\.org, app password 'laptop'\) has the same password as "
            r"dovecot_hardening_users\[0\] \(alice@example\.org, the main password\)",
        ),
        (
            [alice(), bob(app_passwords=[{"label": "backup-script", "password": PHONE_PW}])],
            r"\[1\] \(bob@example\.net, app password 'backup-script'\) has the same password as "
            r"dovecot_hardening_users\[0\] \(alice@example\.org, app password 'phone'\)",
        ),
        (
            [bob(password=BACKUP_PW, mail_login=False)],
            r"\[0\] \(bob@example\.net, app password 'backup-script'\) has the same password as "
            r"dovecot_hardening_users\[0\] \(bob@example\.net, the main password\)",
        ),
        (
            [alice(password_hash=BCRYPT_HASH, password=None), bob(password_hash=BCRYPT_HASH)],
            r"\[1\] \(bob@example\.net, the main password\) has the same password_hash as "
            r"dovecot_hardening_users\[0\] \(alice@example\.org, the main password\)",
        ),
    ],
    ids=["same user", "different users", "main without mail login", "same hash"],
)
def test_reused_passwords_are_refused_naming_both_credentials(users, match):
    with raises_filter_error(rf"^mail_auth_check_users: dovecot_hardening_users{match}; every credential") as caught:
        check(users)

    for secret in (MAIN_PW, PHONE_PW, BACKUP_PW, BCRYPT_HASH):
        assert secret not in str(caught.value)


def test_reuse_by_an_absent_user_does_not_count():
    assert check([alice(), {"name": "old@example.org", "state": "absent", "password": MAIN_PW}])


# ------------------------------------------------------------------------------------ check: hash formats


@pytest.mark.parametrize(
    "password_hash",
    [
        ARGON2ID_HASH,
        ARGON2I_HASH,
        BCRYPT_HASH,
        _bcrypt(PREHASHED_PW, "2b"),
        _bcrypt(PREHASHED_PW, "2a"),
        SHA512_HASH,
        "{SHA512-CRYPT}$6$rounds=5000$dkrY4L4/bXXfABNf$" + SHA512_BODY,
        "{SHA512-CRYPT}$6$x$" + SHA512_BODY,
        "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$" + "A" * 43,
        # Made by Dovecot 2.4.1: doveadm pw -s BLF-CRYPT
        "{BLF-CRYPT}$2y$05$sTyAKMHorIXvOKcg8iGdme.1/N0u9cTI.4urOMzcuLa1wDz.2gG16",
    ],
    ids=["argon2id", "argon2i", "bcrypt 2y", "bcrypt 2b", "bcrypt 2a", "sha512", "sha512 rounds", "1-char salt", "p=4",
         "doveadm bcrypt"],
)  # fmt: skip
def test_well_formed_hashes_are_accepted(password_hash):
    (result,) = check([bob(password_hash=password_hash)])

    assert result["main_given_as"] == "password_hash"


ARGON2_BODY = ARGON2ID_HASH.removeprefix("{ARGON2ID}")
BCRYPT_BODY = BCRYPT_HASH.removeprefix("{BLF-CRYPT}")


@pytest.mark.parametrize(
    ("password_hash", "reason"),
    [
        (ARGON2_BODY, r"must start with \{ARGON2ID\}, \{ARGON2I\}, \{BLF-CRYPT\} or \{SHA512-CRYPT\}"),
        ("{PLAIN}" + PREHASHED_PW, r"must start with \{ARGON2ID\}"),
        ("{argon2id}" + ARGON2_BODY, r"must start with \{ARGON2ID\}"),
        ("{MD5-CRYPT}$1$salt$hash", r"must start with \{ARGON2ID\}"),
        (
            "{ARGON2ID}" + ARGON2_BODY.replace("argon2id", "argon2i"),
            r"is not a well-formed ARGON2ID hash.*\$argon2id\$",
        ),
        ("{ARGON2I}" + ARGON2_BODY, r"is not a well-formed ARGON2I hash"),
        ("{ARGON2ID}" + ARGON2_BODY.replace("v=19", "v=16"), r"is not a well-formed ARGON2ID hash"),
        (
            "{ARGON2ID}" + ARGON2_BODY.replace("m=8,t=1,p=1", "m=8,t=1,p=2"),
            r"is not a well-formed ARGON2ID hash: .* with m at least 8 per lane$",
        ),
        ("{ARGON2ID}" + ARGON2_BODY.replace("m=8,t=1,p=1", "m=8,t=0,p=1"), r"is not a well-formed ARGON2ID hash"),
        ("{ARGON2ID}$argon2id$v=19$m=8,t=1,p=1$c2FsdA$" + "A" * 43, r"is not a well-formed ARGON2ID hash"),
        ("{ARGON2ID}" + ARGON2_BODY + "$", r"is not a well-formed ARGON2ID hash"),
        ("{ARGON2ID}" + ARGON2_BODY + "=", r"is not a well-formed ARGON2ID hash"),
        ("{BLF-CRYPT}" + BCRYPT_BODY[:-1], r"is not a well-formed BLF-CRYPT hash: \{BLF-CRYPT\} must be followed by"),
        ("{BLF-CRYPT}" + BCRYPT_BODY + "x", r"is not a well-formed BLF-CRYPT hash"),
        ("{BLF-CRYPT}" + BCRYPT_BODY.replace("$04$", "$03$"), r"is not a well-formed BLF-CRYPT hash"),
        ("{BLF-CRYPT}" + BCRYPT_BODY.replace("$04$", "$32$"), r"is not a well-formed BLF-CRYPT hash"),
        ("{BLF-CRYPT}" + BCRYPT_BODY.replace("$2y$", "$2x$"), r"is not a well-formed BLF-CRYPT hash"),
        ("{BLF-CRYPT}" + BCRYPT_BODY.replace("$2y$", "$2$"), r"is not a well-formed BLF-CRYPT hash"),
        ("{SHA512-CRYPT}$6$dkrY4L4/bXXfABNf$" + SHA512_BODY[:-1], r"is not a well-formed SHA512-CRYPT hash"),
        ("{SHA512-CRYPT}$6$rounds=999$dkrY4L4/bXXfABNf$" + SHA512_BODY, r"is not a well-formed SHA512-CRYPT hash"),
        ("{SHA512-CRYPT}$6$" + "s" * 17 + "$" + SHA512_BODY, r"is not a well-formed SHA512-CRYPT hash"),
        ("{SHA512-CRYPT}$5$dkrY4L4/bXXfABNf$" + SHA512_BODY, r"is not a well-formed SHA512-CRYPT hash"),
        (ARGON2ID_HASH + "\n", r"contains whitespace, a newline or a control character"),
        (ARGON2ID_HASH + "\nroot:x", r"contains whitespace, a newline or a control character"),
        (" " + ARGON2ID_HASH, r"contains whitespace"),
        (ARGON2ID_HASH + ":1000:1000", r"contains a colon, which would end the passwd-file field"),
        ("", r"must start with \{ARGON2ID\}"),
        (42, r"must be a string, got int$"),
    ],
)
def test_malformed_hashes_are_refused_naming_the_rule_not_the_hash(password_hash, reason):
    apps = [{"label": "tablet", "password_hash": password_hash}]

    with raises_filter_error(
        rf"^mail_auth_check_users: dovecot_hardening_users\[0\]\.app_passwords\[0\]\.password_hash \(bob@example\.net, "
        rf"app password 'tablet'\) {reason}"
    ) as caught:
        check([bob(app_passwords=apps)])

    if isinstance(password_hash, str) and len(password_hash) > 20:
        assert password_hash[-20:] not in str(caught.value)


# ------------------------------------------------------------------------------ check: every user at once

GIVE_EACH_USER_ONCE = "give each user once"
TOO_SHORT_PW = "Short-Pw-1"


@pytest.mark.parametrize(
    ("users", "lines"),
    [
        (
            [alice(state="gone"), bob(), {"name": "carol@example.org", "password": TOO_SHORT_PW}],
            [
                "dovecot_hardening_users[0].state (alice@example.org) = 'gone' must be one of: present, absent",
                "dovecot_hardening_users[2].password (carol@example.org, the main password) "
                "is shorter than 12 characters",
            ],
        ),
        (
            [{"name": "al:ice@example.org"}, bob(), alice(app_passwords=[{"label": "Lap", "password": LAPTOP_PW}])],
            [
                "dovecot_hardening_users[0].name = 'al:ice@example.org' is not a valid login name: it contains "
                "a colon, which a passwd-file line or Dovecot's variable expansion would misread",
                "dovecot_hardening_users[2].app_passwords[0].label (alice@example.org) = 'Lap' must match "
                "^[a-z0-9][a-z0-9_-]{0,31}$ (lower case)",
            ],
        ),
        (
            [
                alice(state="gone", mail_login="yes"),
                bob(),
                {
                    "name": "carol@example.org",
                    "password": TOO_SHORT_PW,
                    "app_passwords": [{"label": "Bad", "password": "123456789012"}],
                },
            ],
            [
                "dovecot_hardening_users[0].state (alice@example.org) = 'gone' must be one of: present, absent",
                "dovecot_hardening_users[2].password (carol@example.org, the main password) "
                "is shorter than 12 characters",
            ],
        ),
    ],
    ids=["state and password", "name and label", "only each user's first problem"],
)
def test_every_bad_user_is_named_in_one_error_one_line_each(users, lines):
    with pytest.raises(AnsibleFilterError) as caught:
        check(users)

    message = str(caught.value)
    assert message == "mail_auth_check_users: " + "\n".join(lines)
    assert message.count("mail_auth_check_users") == 1
    assert "[1]" not in message
    assert "bob@example.net" not in message


def test_credentials_name_every_bad_user_under_their_own_filter_name():
    users = [alice(mail_login="yes"), bob(), {"name": "carol@example.org"}]

    with raises_filter_error(
        r"^mail_auth_credentials: dovecot_hardening_users\[0\]\.mail_login \(alice@example\.org\) = 'yes' must be "
        r"true or false\ndovecot_hardening_users\[2\] \(carol@example\.org\) has no credential that can log in to "
        r"mail \(it has no main password and no app password\); give an app password, or a main password with "
        r"mail_login true$"
    ):
        credentials(users)


@pytest.mark.parametrize(
    ("users", "lines"),
    [
        (
            [alice(), bob(password=TOO_SHORT_PW), {"name": "ALICE@example.org", "state": "absent"}],
            [
                "dovecot_hardening_users[1].password (bob@example.net, the main password) "
                "is shorter than 12 characters",
                "dovecot_hardening_users[2] (alice@example.org) is the same user as dovecot_hardening_users[0]; "
                + GIVE_EACH_USER_ONCE,
            ],
        ),
        (
            [alice(), {"name": "ALICE@example.org", "state": "absent"}, bob(password=TOO_SHORT_PW)],
            [
                "dovecot_hardening_users[1] (alice@example.org) is the same user as dovecot_hardening_users[0]; "
                + GIVE_EACH_USER_ONCE,
                "dovecot_hardening_users[2].password (bob@example.net, the main password) "
                "is shorter than 12 characters",
            ],
        ),
    ],
    ids=["bad user first", "duplicate first"],
)
def test_a_bad_user_and_a_duplicate_user_are_both_reported_in_list_order(users, lines):
    with pytest.raises(AnsibleFilterError) as caught:
        check(users)

    assert str(caught.value) == "mail_auth_check_users: " + "\n".join(lines)


def test_password_reuse_is_only_checked_once_every_user_passed():
    reusing = bob(app_passwords=[{"label": "backup-script", "password": PHONE_PW}])

    with raises_filter_error(
        r"^mail_auth_check_users: dovecot_hardening_users\[2\] \(carol@example\.org\) has no credential that can "
        r"log in to mail \(it has no main password and no app password\); give an app password, or a main "
        r"password with mail_login true$"
    ):
        check([alice(), reusing, {"name": "carol@example.org"}])
    with raises_filter_error(r"^mail_auth_check_users: dovecot_hardening_users\[1\] .* has the same password as"):
        check([alice(), reusing])


# Each password and hash below is made of words no filter message contains.
NAMED_PW = "Sapphire-dave-Dinghy-93"
LISTED_PW = "Walrus-Tuba-Pickle-58"
NEWLINE_PW = "Nimbus-Otter\n-Crayon-27"
BOTH_PW = "Harbor-Quince-Lichen-16"
BOTH_HASH = _argon2("Marigold-Anvil-Tundra-84")
MALFORMED_HASH = "{ARGON2ID}Saffron-Badger-Quill-64"
GOOD_PW = "Juniper-Sextant-Mango-72"
SHORT_PW = "Ferret-Kiw9"
LONG_PW = "Basalt-Heron-Velvet-35" * 6


def test_no_password_or_hash_appears_in_an_error_naming_several_users():
    users = [
        {"name": "dave@example.org", "password": NAMED_PW},
        {"name": "erin@example.org", "app_passwords": [{"label": "laptop", "password": LISTED_PW}]},
        {"name": "finn@example.org", "app_passwords": [{"label": "phone", "password": NEWLINE_PW}]},
        {"name": "gwen@example.org", "password": BOTH_PW, "password_hash": BOTH_HASH},
        {"name": "hugo@example.org", "app_passwords": [{"label": "tablet", "password_hash": MALFORMED_HASH}]},
        {"name": "ivy@example.org", "password": GOOD_PW},
        {"name": "IVY@example.org", "password": GOOD_PW},
        {"name": "jack@example.org", "password": SHORT_PW},
        {"name": "kim@example.org", "password": LONG_PW},
    ]

    expected = [
        ("[0].password", "contains the user's name"),
        ("[1].app_passwords[0].password", "is in policy.extra_weak_passwords"),
        ("[2].app_passwords[0].password", "contains a control character"),
        ("[3]", "has both password and password_hash"),
        ("[4].app_passwords[0].password_hash", "is not a well-formed ARGON2ID hash"),
        ("[6]", "is the same user as dovecot_hardening_users[5]; " + GIVE_EACH_USER_ONCE),
        ("[7].password", "is shorter than 12 characters"),
        ("[8].password", "is longer than 128 characters"),
    ]

    with pytest.raises(AnsibleFilterError) as caught:
        check(users, extra_weak_passwords=[LISTED_PW.lower()])

    message = str(caught.value)
    lines = message.removeprefix("mail_auth_check_users: ").split("\n")
    assert len(lines) == len(expected)
    for line, (path, problem) in zip(lines, expected, strict=True):
        assert line.startswith(f"dovecot_hardening_users{path} (")
        assert problem in line
    for secret in (NAMED_PW, LISTED_PW, NEWLINE_PW, BOTH_PW, BOTH_HASH, MALFORMED_HASH, GOOD_PW, SHORT_PW, LONG_PW):
        assert secret.lower() not in message.lower()
    for word in ("sapphire", "walrus", "nimbus", "otter", "harbor", "saffron", "juniper", "ferret", "basalt"):
        assert word not in message.lower()
    assert BOTH_HASH[-20:] not in message


# ------------------------------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    ("policy", "match"),
    [
        ("strict", r"policy must be a dict, got str"),
        ({"min_lenght": 12}, r"policy has unknown key\(s\) min_lenght; known: min_length, max_length"),
        ({"argon2": {"memory": 8}}, r"policy\.argon2 has unknown key\(s\) memory; known: memory_kib"),
        ({"argon2": None}, r"policy\.argon2 must be a dict, got NoneType"),
        ({"min_length": 0}, r"policy\.min_length = 0 must be at least 1"),
        ({"min_length": "twelve"}, r"policy\.min_length = 'twelve' must be a whole number"),
        ({"min_length": 12.5}, r"policy\.min_length = 12\.5 must be a whole number"),
        ({"min_length": True}, r"policy\.min_length = True must be a whole number"),
        ({"min_length": 20, "max_length": 16}, r"policy\.max_length = 16 is below min_length 20"),
        ({"bcrypt_rounds": 3}, r"policy\.bcrypt_rounds = 3 must be between 4 and 31"),
        ({"bcrypt_rounds": 32}, r"policy\.bcrypt_rounds = 32 must be between 4 and 31"),
        ({"scheme": "SHA512-CRYPT"}, r"policy\.scheme = 'SHA512-CRYPT' must be one of: ARGON2ID, BLF-CRYPT"),
        ({"scheme": "argon2id"}, r"policy\.scheme = 'argon2id' must be one of"),
        ({"main_password_mail_login": "yes"}, r"policy\.main_password_mail_login = 'yes' must be true or false"),
        ({"argon2": {"time_cost": 0}}, r"policy\.argon2\.time_cost = 0 must be a whole number >= 1"),
        ({"argon2": {"parallelism": "x"}}, r"policy\.argon2\.parallelism = 'x' must be a whole number >= 1"),
        ({"argon2": {"memory_kib": 15, "parallelism": 2}}, r"policy\.argon2\.memory_kib = 15 is too small"),
        ({"extra_weak_passwords": "hunter2"}, r"policy\.extra_weak_passwords must be a list, got str"),
        ({"extra_weak_passwords": ["ok", 1234]}, r"policy\.extra_weak_passwords\[1\] must be a string$"),
    ],
)
def test_bad_policies_are_refused(policy, match):
    with raises_filter_error(f"^mail_auth_check_users: {match}"):
        mail_auth.mail_auth_check_users([alice()], policy)


def test_policy_numbers_may_be_digit_strings_and_defaults_fill_gaps():
    six_characters = "Kayak!"

    assert check([bob(password=six_characters)], min_length="6", max_length="64", argon2={"time_cost": "1"})


def test_no_policy_means_the_defaults():
    with raises_filter_error(r"is shorter than 12 characters"):
        mail_auth.mail_auth_check_users([bob(password=MAIN_PW[:11])])


# -------------------------------------------------------------------------------------------- credentials


def test_credentials_are_in_slot_order_main_first_and_skip_absent_users():
    users = [
        {"name": "zed@example.org", "app_passwords": [{"label": "phone", "password": "Zed-Phone-Kayak-7"}]},
        alice(),
        {"name": "carol@example.org", "state": "absent", "password": "Carol-Old-Kayak-7"},
        bob(password=MAIN_PW + "x", mail_login=False),
    ]

    creds = credentials(users)

    assert [(c["user"], c["label"]) for c in creds] == [
        ("zed@example.org", "phone"),
        ("alice@example.org", "main"),
        ("alice@example.org", "laptop"),
        ("alice@example.org", "phone"),
        ("bob@example.net", "backup-script"),
    ]
    assert all(set(c) == {"user", "label", "hash"} for c in creds)


def test_argon2_hashes_have_dovecots_format_and_verify():
    creds = by_key(credentials([alice()]))

    for key, password in (("main", MAIN_PW), ("laptop", LAPTOP_PW), ("phone", PHONE_PW)):
        hashed = creds[f"alice@example.org {key}"]
        assert re.fullmatch(ARGON2_RE % (8, 1, 1), hashed)
        assert argon2_verifies(hashed, password)
        assert not argon2_verifies(hashed, password + "x")


def test_bcrypt_hashes_use_the_2y_prefix_and_verify():
    creds = by_key(credentials([alice()], **CHEAP_BCRYPT))

    for key, password in (("main", MAIN_PW), ("laptop", LAPTOP_PW), ("phone", PHONE_PW)):
        hashed = creds[f"alice@example.org {key}"]
        assert re.fullmatch(r"\{BLF-CRYPT\}\$2y\$04\$[./A-Za-z0-9]{53}", hashed)
        assert bcrypt_verifies(hashed, password)
        assert not bcrypt_verifies(hashed, password + "x")


def test_production_argon2_parameters_give_m65536_t3_p1():
    (cred,) = mail_auth.mail_auth_credentials([bob()])

    assert re.fullmatch(ARGON2_RE % (65536, 3, 1), cred["hash"])
    assert argon2_verifies(cred["hash"], BACKUP_PW)


def test_production_bcrypt_cost_is_12():
    (cred,) = mail_auth.mail_auth_credentials([bob()], None, {"scheme": "BLF-CRYPT"})

    assert re.fullmatch(r"\{BLF-CRYPT\}\$2y\$12\$[./A-Za-z0-9]{53}", cred["hash"])
    assert bcrypt_verifies(cred["hash"], BACKUP_PW)


@pytest.mark.parametrize("policy", [CHEAP, CHEAP_BCRYPT], ids=["argon2id", "bcrypt"])
def test_every_new_hash_gets_a_fresh_salt(policy):
    first = credentials([bob()], **policy)
    second = credentials([bob()], **policy)

    assert first[0]["hash"] != second[0]["hash"]


def test_prehashed_credentials_pass_through_unchanged():
    users = [bob(password_hash=SHA512_HASH, app_passwords=[{"label": "old", "password_hash": BCRYPT_HASH}])]

    assert credentials(users, {"bob@example.net main": ARGON2ID_HASH}) == [
        {"user": "bob@example.net", "label": "main", "hash": SHA512_HASH},
        {"user": "bob@example.net", "label": "old", "hash": BCRYPT_HASH},
    ]


def test_credentials_never_contain_a_plaintext_password():
    shown = repr(credentials([alice(), bob()]))

    for secret in (MAIN_PW, LAPTOP_PW, PHONE_PW, BACKUP_PW):
        assert secret not in shown


@pytest.mark.parametrize("policy", [CHEAP, CHEAP_BCRYPT], ids=["argon2id", "bcrypt"])
def test_existing_hashes_that_verify_are_kept_through_the_slot_files(policy):
    users = [alice(), bob()]
    first = credentials(users, **policy)
    on_host = mail_auth.mail_auth_parse_passdb(mail_auth.mail_auth_passdb_slots(first))

    second = credentials(users, on_host, **policy)

    assert second == first
    assert mail_auth.mail_auth_passdb_slots(second) == mail_auth.mail_auth_passdb_slots(first)


def test_a_changed_password_gets_a_new_hash_and_the_others_stay():
    first = by_key(credentials([alice()]))
    apps = [{"label": "laptop", "password": LAPTOP_PW}, {"label": "phone", "password": "New-Phone-Kayak-5"}]

    second = by_key(credentials([alice(app_passwords=apps)], first))

    assert second["alice@example.org main"] == first["alice@example.org main"]
    assert second["alice@example.org laptop"] == first["alice@example.org laptop"]
    assert second["alice@example.org phone"] != first["alice@example.org phone"]
    assert argon2_verifies(second["alice@example.org phone"], "New-Phone-Kayak-5")


def test_a_hash_is_only_reused_for_the_same_user_and_label():
    first = by_key(credentials([bob()]))
    moved = {"bob@example.net laptop": first["bob@example.net backup-script"]}

    second = by_key(credentials([bob()], moved))

    assert second["bob@example.net backup-script"] != first["bob@example.net backup-script"]


@pytest.mark.parametrize(
    ("existing_policy", "policy"),
    [
        (CHEAP, {"argon2": {"memory_kib": 16, "time_cost": 1, "parallelism": 1}}),
        (CHEAP, {"argon2": {"memory_kib": 8, "time_cost": 2, "parallelism": 1}}),
        (CHEAP, {"argon2": {"memory_kib": 16, "time_cost": 1, "parallelism": 2}}),
        (CHEAP, {"scheme": "BLF-CRYPT"}),
        (CHEAP_BCRYPT, {"scheme": "BLF-CRYPT", "bcrypt_rounds": 5}),
        (CHEAP_BCRYPT, {}),
    ],
    ids=["more memory", "more passes", "more lanes", "argon2 to bcrypt", "higher bcrypt cost", "bcrypt to argon2"],
)
def test_a_changed_scheme_or_cost_rehashes_passwords_that_still_verify(existing_policy, policy):
    existing = by_key(credentials([bob()], **existing_policy))

    (cred,) = credentials([bob()], existing, **policy)

    assert cred["hash"] != existing["bob@example.net backup-script"]
    assert cred["hash"].startswith("{BLF-CRYPT}" if policy.get("scheme") == "BLF-CRYPT" else "{ARGON2ID}")


@pytest.mark.parametrize(
    "existing_hash",
    [
        SHA512_HASH,
        ARGON2I_HASH,
        "{ARGON2ID}garbage",
        "{ARGON2ID}" + ARGON2_BODY[:-5],
        "{PLAIN}" + BACKUP_PW,
        "{CLEAR}" + BACKUP_PW,
        "",
        None,
        42,
    ],
)
def test_existing_hashes_that_cannot_be_verified_are_replaced(existing_hash):
    (cred,) = credentials([bob()], {"bob@example.net backup-script": existing_hash})

    assert cred["hash"] != existing_hash
    assert argon2_verifies(cred["hash"], BACKUP_PW)


def test_an_existing_bcrypt_hash_of_a_long_password_counts_as_not_matching():
    password = "Kayak-Granite-" + "q" * 70  # 84 bytes: bcrypt 5 refuses it, Dovecot would compare only 72
    existing = {"bob@example.net backup-script": _bcrypt(password[:72])}

    (cred,) = credentials([bob(app_passwords=[{"label": "backup-script", "password": password}])], existing)

    assert cred["hash"].startswith("{ARGON2ID}")


def test_an_existing_argon2_hash_with_other_parameters_is_not_even_verified(monkeypatch):
    def refuse(*_args: Any) -> bool:
        raise AssertionError("verify_secret must not run for a hash that is replaced anyway")

    monkeypatch.setattr(auth_credentials, "verify_secret", refuse)
    costly = "{ARGON2ID}$argon2id$v=19$m=4194304,t=10,p=1$c2FsdHNhbHRzYWx0$" + "A" * 43

    (cred,) = credentials([bob()], {"bob@example.net backup-script": costly})

    assert re.fullmatch(ARGON2_RE % (8, 1, 1), cred["hash"])


def test_an_existing_hash_of_a_main_password_without_mail_login_is_not_returned():
    existing = by_key(credentials([bob(password=MAIN_PW)]))

    creds = credentials([bob(password=MAIN_PW, mail_login=False)], existing)

    assert [c["label"] for c in creds] == ["backup-script"]


@pytest.mark.parametrize(
    ("existing", "match"),
    [
        ("alice@example.org main", r"existing must be a dict of '<user> <label>' to hash, got str"),
        ([], r"existing must be a dict of '<user> <label>' to hash, got list"),
        ({1: ARGON2ID_HASH}, r"existing has the key 1, which is not a '<user> <label>' string"),
    ],
)
def test_existing_that_is_not_a_map_of_strings_is_refused(existing, match):
    with raises_filter_error(f"^mail_auth_credentials: {match}"):
        credentials([bob()], existing)


def test_credentials_errors_name_their_own_filter():
    with raises_filter_error(
        r"^mail_auth_credentials: dovecot_hardening_users\[0\]\.app_passwords\[0\]\.password \(bob@example\.net, "
        r"app password 'backup-script'\) is an ascending or descending run"
    ):
        credentials([bob(app_passwords=[{"label": "backup-script", "password": "123456789012"}])])


def test_a_hashing_failure_is_reported_without_its_cause(monkeypatch):
    def broken(*_args: Any, **_kwargs: Any) -> bytes:
        raise ValueError(f"library says something about {BACKUP_PW}")

    monkeypatch.setattr(auth_credentials.bcrypt, "hashpw", broken)

    with raises_filter_error(
        r"^mail_auth_credentials: dovecot_hardening_users\[0\] \(bob@example\.net, app password 'backup-script'\) "
        r"could not be hashed with BLF-CRYPT$"
    ) as caught:
        credentials([bob()], **CHEAP_BCRYPT)

    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


# ------------------------------------------------------------------------------------------------ slot files

SLOT_INPUT = [
    {"user": "zed@example.org", "label": "main", "hash": ARGON2ID_HASH},
    {"user": "alice@example.org", "label": "main", "hash": BCRYPT_HASH},
    {"user": "alice@example.org", "label": "laptop", "hash": SHA512_HASH},
    {"user": "alice@example.org", "label": "phone", "hash": ARGON2I_HASH},
    {"user": "bob@example.net", "label": "backup-script", "hash": ARGON2ID_HASH},
    {"user": "bob@example.net", "label": "tablet", "hash": BCRYPT_HASH},
]
HEADER = (
    "# Generated by mailfort (mail_auth_passdb_slots). Do not edit: the next run replaces this file, and\n"
    "# a hand-edited line makes mail_auth_parse_passdb refuse to run. Change dovecot_hardening_users instead.\n"
)


def test_slot_files_hold_the_ith_credential_of_each_user_sorted_by_user():
    assert mail_auth.mail_auth_passdb_slots(SLOT_INPUT) == [
        HEADER
        + "# mailfort credential alice@example.org main\n"
        + f"alice@example.org:{BCRYPT_HASH}\n"
        + "# mailfort credential bob@example.net backup-script\n"
        + f"bob@example.net:{ARGON2ID_HASH}\n"
        + "# mailfort credential zed@example.org main\n"
        + f"zed@example.org:{ARGON2ID_HASH}\n",
        HEADER
        + "# mailfort credential alice@example.org laptop\n"
        + f"alice@example.org:{SHA512_HASH}\n"
        + "# mailfort credential bob@example.net tablet\n"
        + f"bob@example.net:{BCRYPT_HASH}\n",
        HEADER + f"# mailfort credential alice@example.org phone\nalice@example.org:{ARGON2I_HASH}\n",
    ]


def test_slot_files_are_deterministic_and_independent_of_user_order():
    reordered = SLOT_INPUT[4:] + SLOT_INPUT[:4]

    assert mail_auth.mail_auth_passdb_slots(reordered) == mail_auth.mail_auth_passdb_slots(SLOT_INPUT)


def test_no_credentials_means_no_slot_files():
    assert mail_auth.mail_auth_passdb_slots([]) == []


def test_every_passwd_line_is_exactly_user_colon_hash():
    for text in mail_auth.mail_auth_passdb_slots(SLOT_INPUT):
        assert text.startswith("# Generated by mailfort")
        assert text.endswith("\n")
        for line in text.splitlines():
            if not line.startswith("#"):
                user, hashed = line.split(":", 1)
                assert {"user": user, "hash": hashed}.items() <= next(
                    c for c in SLOT_INPUT if c["user"] == user and c["hash"] == hashed
                ).items()


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ({"user": "bob@example.net", "label": "x"}, r"must be a dict with exactly the keys"),
        ({"user": "bob@example.net", "label": "x", "hash": BCRYPT_HASH, "extra": 1}, r"with exactly the keys"),
        ("bob@example.net", r"must be a dict with exactly the keys"),
        ({"user": "Bob@example.net", "label": "x", "hash": BCRYPT_HASH}, r"user = 'Bob@example\.net' is not a lower"),
        ({"user": "bob@example.net\nroot", "label": "x", "hash": BCRYPT_HASH}, r"is not a lower-case login name"),
        ({"user": "bob:x@example.net", "label": "x", "hash": BCRYPT_HASH}, r"is not a lower-case login name"),
        ({"user": "bob@example.net", "label": "two words", "hash": BCRYPT_HASH}, r"label = 'two words' is not"),
        ({"user": "bob@example.net", "label": "x", "hash": BCRYPT_HASH + "\nroot:x"}, r"hash contains whitespace"),
        ({"user": "bob@example.net", "label": "x", "hash": "{PLAIN}x"}, r"hash must start with \{ARGON2ID\}"),
        ({"user": "bob@example.net", "label": "x", "hash": None}, r"hash must be a string, got NoneType"),
    ],
)
def test_slot_input_that_could_corrupt_a_file_is_refused(entry, match):
    with raises_filter_error(rf"^mail_auth_passdb_slots: credentials\[0\] .*{match}"):
        mail_auth.mail_auth_passdb_slots([entry])


def test_a_credential_given_twice_to_the_slots_is_refused():
    with raises_filter_error(r"credentials\[1\] \(bob@example\.net\) label 'x' appears twice"):
        mail_auth.mail_auth_passdb_slots([{"user": "bob@example.net", "label": "x", "hash": BCRYPT_HASH}] * 2)


@pytest.mark.parametrize("credentials_value", ["text", None, {"user": "bob@example.net"}])
def test_slot_input_that_is_not_a_list_is_refused(credentials_value):
    with raises_filter_error(r"^mail_auth_passdb_slots: the credentials must be a list"):
        mail_auth.mail_auth_passdb_slots(credentials_value)


# ------------------------------------------------------------------------------------------------- parsing


def test_parsing_the_slot_files_gives_back_every_hash():
    texts = mail_auth.mail_auth_passdb_slots(SLOT_INPUT)

    assert mail_auth.mail_auth_parse_passdb(texts) == {f"{c['user']} {c['label']}": c["hash"] for c in SLOT_INPUT}


def test_missing_slot_files_and_foreign_comments_are_ignored():
    managed = (
        "# Ansible managed\n\n" + HEADER + f"# mailfort credential bob@example.net x\nbob@example.net:{BCRYPT_HASH}\n"
    )

    assert mail_auth.mail_auth_parse_passdb(["", None, managed + "\n\n", ""]) == {"bob@example.net x": BCRYPT_HASH}


def test_parsing_nothing_gives_nothing():
    assert mail_auth.mail_auth_parse_passdb([]) == {}


CREDENTIAL = f"# mailfort credential bob@example.net x\nbob@example.net:{BCRYPT_HASH}\n"


@pytest.mark.parametrize(
    ("texts", "match"),
    [
        ([HEADER + f"bob@example.net:{BCRYPT_HASH}\n"], r"slot 1 line 3 is a passwd-file line without its"),
        (["", HEADER + CREDENTIAL + f"eve@example.org:{BCRYPT_HASH}\n"], r"slot 2 line 5 is a passwd-file line"),
        ([HEADER + "# mailfort credential bob@example.net x\n"], r"slot 1 line 3 is a credential comment at the end"),
        ([HEADER + "# mailfort credential bob@example.net x"], r"slot 1 line 3 is a credential comment at the end"),
        (
            [HEADER + f"# mailfort credential bob@example.net x\neve@example.org:{BCRYPT_HASH}\n"],
            r"slot 1 line 4 should be the passwd-file line of bob@example\.net \(after the credential comment on "
            r"line 3\)",
        ),
        ([HEADER + "# mailfort credential bob@example.net x\n\n"], r"slot 1 line 4 should be the passwd-file line"),
        (
            [HEADER + f"# mailfort credential bob@example.net x\nbob@example.net:{BCRYPT_HASH}:1000:1000::/home\n"],
            r"slot 1 line 4 \(bob@example\.net x\) is not '<user>:\{SCHEME\}hash' with nothing else on the line",
        ),
        (
            [HEADER + f"# mailfort credential bob@example.net x\nbob@example.net:{BCRYPT_HASH} \n"],
            r"slot 1 line 4 \(bob@example\.net x\) is not '<user>:\{SCHEME\}hash'",
        ),
        (
            [CREDENTIAL.replace("\n", "\r\n")],
            r"slot 1 line 1 is a credential comment without a valid '<user> <label>'",
        ),
        (
            [f"# mailfort credential bob@example.net x\nbob@example.net:{BCRYPT_HASH.removeprefix('{BLF-CRYPT}')}\n"],
            r"slot 1 line 2 \(bob@example\.net x\) is not '<user>:\{SCHEME\}hash'",
        ),
        (
            ["# mailfort credential bob@example.net Laptop\nbob@example.net:{PLAIN}x\n"],
            r"slot 1 line 1 is a credential comment without a valid '<user> <label>'",
        ),
        (["# mailfort credential bob@example.net\n"], r"slot 1 line 1 is a credential comment without a valid"),
        (["# mailfort credential bob@example.net x y\n"], r"slot 1 line 1 is a credential comment without a valid"),
        ([CREDENTIAL, CREDENTIAL], r"slot 2 line 2 \(bob@example\.net x\) repeats a credential found earlier"),
        (
            [CREDENTIAL + CREDENTIAL.replace(" x\n", " y\n")],
            r"slot 1 line 4 \(bob@example\.net\) has a second line in this slot",
        ),
    ],
)
def test_hand_edited_slot_files_are_refused_with_slot_and_line_but_no_hash(texts, match):
    with raises_filter_error(f"^mail_auth_parse_passdb: {match}") as caught:
        mail_auth.mail_auth_parse_passdb(texts)

    assert BCRYPT_HASH[-20:] not in str(caught.value)


@pytest.mark.parametrize(
    ("texts", "match"),
    [
        (CREDENTIAL, r"the slot files must be a list of texts, got str"),
        (None, r"the slot files must be a list of texts, got NoneType"),
        ([CREDENTIAL, b"bytes"], r"slot 2 must be text, got bytes"),
    ],
)
def test_parse_input_that_is_not_a_list_of_texts_is_refused(texts, match):
    with raises_filter_error(f"^mail_auth_parse_passdb: {match}"):
        mail_auth.mail_auth_parse_passdb(texts)


# --------------------------------------------------------------------------------------- property tests

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
LOCAL = st.builds(
    lambda first, middle, last: first + middle + last,
    st.sampled_from(_ALNUM),
    st.text(alphabet=_ALNUM + "._+-", max_size=10),
    st.sampled_from(_ALNUM),
).filter(lambda local: ".." not in local)
DOMAIN = st.builds(
    lambda label, top: f"{label}.{top}",
    st.text(alphabet=_ALNUM, min_size=1, max_size=10),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6),
)
LABEL = st.builds(
    lambda first, rest: first + rest, st.sampled_from(_ALNUM), st.text(alphabet=_ALNUM + "_-", max_size=31)
).filter(lambda label: label != "main")
HASHES = st.sampled_from([ARGON2ID_HASH, ARGON2I_HASH, BCRYPT_HASH, SHA512_HASH])


@st.composite
def credential_lists(draw: st.DrawFn) -> list[dict]:
    names = draw(st.lists(st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN), unique=True, max_size=5))
    result = []
    for name in names:
        labels = draw(st.lists(LABEL, unique=True, min_size=1, max_size=4))
        if draw(st.booleans()):
            labels = ["main", *labels]
        result.extend({"user": name, "label": label, "hash": draw(HASHES)} for label in labels)
    return draw(st.permutations(result))


@settings(HYPOTHESIS, max_examples=100)  # the slowest property here; 100 cases cover the small shapes well
@given(credential_lists())
def test_generated_credentials_round_trip_through_the_slot_files(creds):
    slots = mail_auth.mail_auth_passdb_slots(creds)

    assert mail_auth.mail_auth_parse_passdb(slots) == by_key(creds)
    assert len(slots) == max((sum(c["user"] == u for c in creds) for u in {c["user"] for c in creds}), default=0)


@HYPOTHESIS
@given(st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN), st.sampled_from([str.upper, str.title]))
def test_generated_valid_names_are_accepted_and_lower_cased(name, case):
    (result,) = check([bob(name=case(name))])

    assert result["name"] == name


@HYPOTHESIS
@given(st.text(max_size=40))
def test_any_name_is_either_a_clean_passwd_file_field_or_refused(name):
    result, error = outcome(check, [bob(name=name)])

    if error is not None:
        assert str(error).startswith("mail_auth_check_users: dovecot_hardening_users[0].name = ")
    else:
        assert re.fullmatch(r"[a-z0-9._+-]+@[a-z0-9.-]+", result[0]["name"])


MARKER = "Zq7Vw!"  # no message of the filters contains it, so finding it means a password leaked


@HYPOTHESIS
@given(st.text(max_size=30), st.sampled_from(["password", "app"]))
def test_no_password_ever_appears_in_an_error(rest, where):
    password = MARKER + rest
    user = bob(password=password) if where == "password" else bob(app_passwords=[{"label": "x", "password": password}])
    users = [user, alice(app_passwords=[{"label": "reuse", "password": password}])]

    with pytest.raises(AnsibleFilterError) as caught:
        check(users, extra_weak_passwords=[password], min_length=1)

    assert MARKER not in str(caught.value)


@HYPOTHESIS
@given(st.lists(st.one_of(st.text(max_size=200), st.none()), max_size=3))
def test_random_slot_texts_parse_or_fail_with_a_filter_error_only(texts):
    result, error = outcome(mail_auth.mail_auth_parse_passdb, texts)

    if error is not None:
        assert str(error).startswith("mail_auth_parse_passdb: slot ")
    else:
        assert all(isinstance(key, str) and isinstance(value, str) for key, value in result.items())


# -------------------------------------------------------------------------------- undefined and plumbing


@pytest.mark.parametrize("undefined_class", [jinja2.StrictUndefined, jinja2.Undefined])
@pytest.mark.parametrize(
    "call",
    [
        mail_auth.mail_auth_check_users,
        lambda u: check([alice(), u]),
        lambda u: check([alice(name=u)]),
        lambda u: check([alice(password=u)]),
        lambda u: check([alice(app_passwords=u)]),
        lambda u: check([alice(app_passwords=[{"label": "laptop", "password_hash": u}])]),
        lambda u: check([alice(app_passwords=[{"label": u, "password": LAPTOP_PW}])]),
        lambda u: check([alice(mail_login=u)]),
        lambda u: check([alice(state=u)]),
        lambda u: mail_auth.mail_auth_check_users([alice()], u),
        lambda u: mail_auth.mail_auth_check_users([alice()], {"min_length": u}),
        lambda u: mail_auth.mail_auth_check_users([alice()], {"argon2": {"time_cost": u}}),
        lambda u: mail_auth.mail_auth_check_users([alice()], {"extra_weak_passwords": [u]}),
        mail_auth.mail_auth_credentials,
        lambda u: credentials([bob()], u),
        lambda u: credentials([bob()], {"bob@example.net backup-script": u}),
        mail_auth.mail_auth_passdb_slots,
        lambda u: mail_auth.mail_auth_passdb_slots([u]),
        lambda u: mail_auth.mail_auth_passdb_slots([{"user": "bob@example.net", "label": "x", "hash": u}]),
        mail_auth.mail_auth_parse_passdb,
        lambda u: mail_auth.mail_auth_parse_passdb(["", u]),
    ],
    ids=[
        "check users",
        "check user entry",
        "name",
        "password",
        "app_passwords",
        "password_hash",
        "label",
        "mail_login",
        "state",
        "policy",
        "policy value",
        "argon2 value",
        "weak entry",
        "credentials users",
        "existing",
        "existing value",
        "slots",
        "slot entry",
        "slot hash",
        "parse",
        "parse text",
    ],
)
def test_undefined_values_raise_the_undefined_error_not_a_filter_error(call, undefined_class):
    with pytest.raises(jinja2.UndefinedError, match="is undefined"):
        call(undefined_class(name="mailfort_missing"))


def test_documented_policy_defaults_match_the_code():
    documented = sidecar.documentation("mail_auth_check_users")["DOCUMENTATION"]["options"]["policy"]["suboptions"]

    assert set(documented) == set(auth._DEFAULT_POLICY)
    for key, value in auth._DEFAULT_POLICY.items():
        if isinstance(value, dict):
            assert {name: option["default"] for name, option in documented[key]["suboptions"].items()} == value
        else:
            assert documented[key]["default"] == (list(value) if isinstance(value, frozenset | tuple) else value), key


def test_documented_common_password_count_is_right():
    described = " ".join(sidecar.documentation("mail_auth_check_users")["DOCUMENTATION"]["description"])
    (count,) = re.findall(r"about (\d+) of the most common", described)

    assert abs(int(count) - len(auth._COMMON_PASSWORDS)) <= 10


def test_examples_hide_the_passwords_they_handle():
    names = [path.stem for path in sorted(sidecar.FILTER_DIR.glob("mail_auth_*.yml"))]
    tasks = [task for name in names for task in sidecar.documentation(name)["EXAMPLES"]]

    assert len(names) == 5
    assert all(task.get("no_log") is True for task in tasks)


# --- mail_auth_drop_revoked -----------------------------------------------------------------------------------

_ARGON = "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43
_CREDS = [
    {"user": "alice@example.org", "label": "main", "hash": _ARGON},
    {"user": "alice@example.org", "label": "phone", "hash": _ARGON},
    {"user": "bob@example.org", "label": "phone", "hash": _ARGON},
]


@pytest.mark.parametrize(
    ("revoked", "kept"),
    [
        ("", [0, 1, 2]),
        ("alice@example.org phone\n", [0, 2]),
        ("# revoked by mailfort\n\nALICE@example.org Phone  # lost in a taxi\n", [0, 2]),
        ("alice@example.org main\nbob@example.org phone\n", [1]),
        ("carol@example.org laptop\n", [0, 1, 2]),
    ],
)
def test_revoked_credentials_are_dropped_and_others_kept(revoked, kept):
    assert mail_auth.mail_auth_drop_revoked(_CREDS, revoked) == [_CREDS[i] for i in kept]


@pytest.mark.parametrize(
    ("credentials", "revoked", "match"),
    [
        (_CREDS, "alice@example.org\n", r"the revocation list, line 1 must be '<user> <label>'"),
        (_CREDS, "a b c\n", r"the revocation list, line 1 must be"),
        (_CREDS, None, r"the revocation list must be text"),
        ("not a list", "", r"the credentials must be a list"),
    ],
)
def test_bad_revocation_input_is_refused(credentials, revoked, match):
    with pytest.raises(AnsibleFilterError, match=rf"mail_auth_drop_revoked: {match}"):
        mail_auth.mail_auth_drop_revoked(credentials, revoked)


@pytest.mark.parametrize("password", ["password123456", "Password2026!!!", "letmein!!2026#", "qwerty12345678"])
def test_common_password_with_digits_or_symbols_appended_is_refused(password):
    users = [{"name": "carol@example.org", "password": password}]
    with pytest.raises(AnsibleFilterError, match=r"carol@example.org.*common password with digits or symbols appended"):
        mail_auth.mail_auth_check_users(users)


def test_a_passphrase_that_merely_starts_with_a_common_word_is_accepted():
    users = [{"name": "carol@example.org", "password": "Dragon-Kettle-Orchard-41"}]
    assert mail_auth.mail_auth_check_users(users)[0]["name"] == "carol@example.org"


def test_slots_are_padded_with_header_only_files_up_to_the_minimum():
    credentials = [{"user": "alice@example.org", "label": "laptop", "hash": _ARGON}]
    slots = mail_auth.mail_auth_passdb_slots(credentials, 3)
    assert len(slots) == 3
    assert slots[0] == mail_auth.mail_auth_passdb_slots(credentials)[0]
    assert slots[1] == slots[2]
    assert mail_auth.mail_auth_parse_passdb(slots[1:]) == {}
    assert "alice" not in slots[1]


def test_the_minimum_never_removes_slots():
    credentials = [
        {"user": "alice@example.org", "label": "laptop", "hash": _ARGON},
        {"user": "alice@example.org", "label": "phone", "hash": _ARGON},
    ]
    assert len(mail_auth.mail_auth_passdb_slots(credentials, 1)) == 2
    assert mail_auth.mail_auth_passdb_slots([], 0) == []


@pytest.mark.parametrize("minimum", [-1, "many", 1.5, None])
def test_bad_minimum_is_refused(minimum):
    with pytest.raises(AnsibleFilterError, match=r"mail_auth_passdb_slots: minimum = .* must be a whole number >= 0"):
        mail_auth.mail_auth_passdb_slots([], minimum)


@pytest.mark.parametrize(
    ("password_hash", "match"),
    [
        ("{ARGON2ID}not-a-hash", r"\.password_hash \(alice@example\.org, the main password\) is not a well-formed "),
        (42, r"\.password_hash \(alice@example\.org, the main password\) must be a string, got int$"),
    ],
)
def test_a_main_password_hash_is_named_by_its_own_field(password_hash, match):
    user = {"name": "alice@example.org", "password_hash": password_hash, "mail_login": True}
    with pytest.raises(AnsibleFilterError, match=rf"^mail_auth_check_users: dovecot_hardening_users\[0\]{match}"):
        mail_auth.mail_auth_check_users([user])
