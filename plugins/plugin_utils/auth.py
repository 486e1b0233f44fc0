# SPDX-License-Identifier: MIT
"""Authentication filters for mailfort: Dovecot users with a main password and per-device app passwords.

Credentials live in Dovecot passwd-file passdbs, one file per "slot": slot 1 holds every user's first credential,
slot 2 every user's second one, and so on. Dovecot tries passdbs in order and goes on to the next one when the
password does not match (``result_failure = continue``, the default), so any of a user's credentials logs in.
Passwords are hashed here, on the controller; a plaintext password never appears in an error, a return value or a
file. Hash formats and the two-slot design were checked with Debian 12's Dovecot 2.3.19.1 and Debian 13's Dovecot
2.4.1 (``doveadm pw -t`` and ``doveadm auth test`` against passwd-file passdbs).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.plugin_utils.common import (
    error,
    key_text,
    propagate_undefined,
    show,
    whole_number,
)
from ansible_collections.mailfort.mail.plugins.plugin_utils.names import address_problem

# Several filters live in this one file, so each filter's documentation is one entry of these YAML mappings, keyed
# by the filter's name (ansible-doc itself only reads per-filter sidecar files named <filter>.yml).
# ----------------------------------------------------------------------------------------------------- policy

_CREDENTIALS = "mail_auth_credentials"
_SCHEMES = ("ARGON2ID", "BLF-CRYPT")
_DEFAULT_ARGON2 = {"memory_kib": 65536, "time_cost": 3, "parallelism": 1}
_DEFAULT_POLICY: dict[str, Any] = {
    "min_length": 12,
    "max_length": 128,
    "scheme": "ARGON2ID",
    "argon2": _DEFAULT_ARGON2,
    "bcrypt_rounds": 12,
    "main_password_mail_login": True,
    "extra_weak_passwords": [],
}
_ARGON2_SALT_BYTES = 16
_ARGON2_HASH_BYTES = 32
_ARGON2_VERSION = 19
_ARGON2_MIN_KIB_PER_LANE = 8
_BCRYPT_MAX_BYTES = 72  # bcrypt ignores everything after the 72nd byte; bcrypt 5 refuses longer input outright
_BCRYPT_ROUNDS = (4, 31)

# ------------------------------------------------------------------------------------------------- the users

_USER_KEYS = frozenset({"name", "password", "password_hash", "mail_login", "app_passwords", "state"})
_APP_KEYS = frozenset({"label", "password", "password_hash"})
_STATES = ("present", "absent")
_MAIN = "main"

_LABEL_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}", re.ASCII)
# Characters that would end a passwd-file field or line, start a comment, or start a Dovecot variable.
_NAME_FORBIDDEN = {":": "a colon", "#": "a '#'", "%": "a '%'", "/": "a '/'"}

# Common entries of public breach top lists (the kind SecLists, NordPass and the UK NCSC publish), lower-cased.
# Most are shorter than the default min_length; they matter when a site lowers it, and the 12+ character ones
# (keyboard walks, "password1234") matter always. Repeated characters and plain runs are caught by rule instead.
_COMMON_PASSWORDS = frozenset(
    """
    123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon 123123 baseball abc123 football
    monkey letmein 696969 shadow master 666666 qwertyuiop 123321 mustang 1234567890 michael 654321 superman
    1qaz2wsx 7777777 121212 000000 qazwsx 123qwe killer trustno1 jordan jennifer zxcvbnm asdfgh hunter buster
    soccer harley batman andrew tigger sunshine iloveyou 2000 charlie robert thomas hockey ranger daniel
    starwars klaster 112233 george computer michelle jessica pepper 1111 zxcvbn 555555 11111111 131313 freedom
    777777 pass maggie 159753 aaaaaa ginger princess joshua cheese amanda summer love ashley nicole chelsea
    biteme matthew access yankees 987654321 dallas austin thunder taylor matrix william corvette hello martin
    heather secret merlin diamond 1234qwer gfhjkm hammer silver 222222 88888888 anthony justin test bailey
    q1w2e3r4t5 patrick internet scooter orange 11111 golfer cookie richard samantha bigdog guitar jackson
    whatever mickey chicken sparky snoopy maverick phoenix camaro peanut morgan welcome falcon cowboy ferrari
    samsung andrea smokey steelers joseph mercedes dakota arsenal eagles melissa boomer booboo spider nascar
    monster tigers yellow xxxxxx 123123123 gateway marina diablo bulldog qwer1234 compaq purple banana junior
    hannah 123654 porsche lakers iceman money cowboys 987654 london tennis 999999 ncc1701 coffee scooby 0000
    miller boston q1w2e3r4 brandon yamaha chester mother forever johnny edward 333333 oliver redsox player
    password1 password12 password123 password1234 password12345 passw0rd p@ssw0rd p@ssword 123456a a123456
    qwerty123 qwerty1 1q2w3e 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y q1w2e3r4t5y6 1qaz2wsx3edc zaq12wsx 1qazxsw2
    123qweasdzxc qazwsxedc qazwsxedcrfv qwertyuiop123 qwertyuiopasdfghjkl asdfghjkl asdfasdf zxcvbnm123
    admin admin123 administrator root toor changeme welcome1 welcome123 letmein123 iloveyou1 abc12345
    abcd1234 123abc qwe123 aa123456 123456789a passwordpassword login guest default secret123 mailpassword
    """.split()  # noqa: SIM905 -- a word list reads better as text than as 250 quoted strings
)

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass
class _Credential:
    label: str
    password: str | None = field(default=None, repr=False)  # never in a repr, so never in a traceback
    password_hash: str | None = field(default=None, repr=False)

    @property
    def given_as(self) -> str:
        return "password" if self.password is not None else "password_hash"


@dataclass
class _User:
    index: int
    name: str
    state: str
    mail_login: bool
    main: _Credential | None
    apps: list[_Credential]

    def mail_credentials(self) -> list[_Credential]:
        """The credentials that can log in to mail, in slot order."""
        main = [self.main] if self.main is not None and self.mail_login else []
        return main + self.apps


# --------------------------------------------------------------------------------------------- hash formats

_B64 = r"[A-Za-z0-9+/]"
_CRYPT64 = r"[./A-Za-z0-9]"
# Salt of at least 8 bytes (11 base64 characters) and output of at least 16 bytes (22), as Dovecot's libsodium
# and argon2-cffi produce and need; version 19 (0x13) is the only one libsodium verifies.
_ARGON2_RE = re.compile(
    rf"\$(?P<type>argon2id|argon2i)\$v=19\$m=(?P<m>[1-9][0-9]{{0,9}}),t=(?P<t>[1-9][0-9]{{0,9}}),"
    rf"p=(?P<p>[1-9][0-9]{{0,7}})\${_B64}{{11,}}\${_B64}{{22,}}",
    re.ASCII,
)
_BCRYPT_RE = re.compile(rf"\$2[aby]\$(?P<cost>[0-9]{{2}})\${_CRYPT64}{{53}}", re.ASCII)
_SHA512_CRYPT_RE = re.compile(
    rf"\$6\$(?:rounds=(?P<rounds>[0-9]{{1,9}})\$)?{_CRYPT64}{{1,16}}\${_CRYPT64}{{86}}", re.ASCII
)
_HASH_RULES = {
    "ARGON2ID": (
        "a PHC string '$argon2id$v=19$m=<kib>,t=<passes>,p=<lanes>$<base64 salt>$<base64 hash>' "
        "with m at least 8 per lane"
    ),
    "ARGON2I": (
        "a PHC string '$argon2i$v=19$m=<kib>,t=<passes>,p=<lanes>$<base64 salt>$<base64 hash>' "
        "with m at least 8 per lane"
    ),
    "BLF-CRYPT": "'$2y$' (or '$2b$', '$2a$'), a cost from 04 to 31, '$' and 53 characters of [./A-Za-z0-9]",
    "SHA512-CRYPT": "'$6$[rounds=<1000-999999999>$]<salt of 1-16 characters>$<86 characters of [./A-Za-z0-9]>'",
}
_SHA512_MIN_ROUNDS = 1000  # crypt(3)'s minimum
_PREFIX_RE = re.compile(r"\{(?P<scheme>[A-Z0-9-]+)\}")


# ---------------------------------------------------------------------------------------------------- helpers


# Where a credential's message names the field at fault (password or password_hash), or nothing for the entry.
_FIELD = "{field}"


def _well_formed(scheme: str, body: str) -> bool:
    """Whether body (the hash after its {SCHEME} prefix) has the format of scheme."""
    if scheme in {"ARGON2ID", "ARGON2I"}:
        match = _ARGON2_RE.fullmatch(body)
        return (
            match is not None
            and match.group("type") == scheme.lower()
            and int(match.group("m")) >= _ARGON2_MIN_KIB_PER_LANE * int(match.group("p"))
        )
    if scheme == "BLF-CRYPT":
        match = _BCRYPT_RE.fullmatch(body)
        return match is not None and _BCRYPT_ROUNDS[0] <= int(match.group("cost")) <= _BCRYPT_ROUNDS[1]
    match = _SHA512_CRYPT_RE.fullmatch(body)
    rounds = match.group("rounds") if match is not None else None
    return match is not None and (rounds is None or int(rounds) >= _SHA512_MIN_ROUNDS)


def _hash_problem(value: str) -> str | None:
    """Why value is not a hash Dovecot can use here, or None. Never quotes the value."""
    if _CONTROL_RE.search(value) or any(c.isspace() for c in value):
        return "contains whitespace, a newline or a control character"
    if ":" in value:
        return "contains a colon, which would end the passwd-file field"
    prefix = _PREFIX_RE.match(value)
    if prefix is None or prefix.group("scheme") not in _HASH_RULES:
        return "must start with {ARGON2ID}, {ARGON2I}, {BLF-CRYPT} or {SHA512-CRYPT}"
    scheme = prefix.group("scheme")
    if not _well_formed(scheme, value[prefix.end() :]):
        return f"is not a well-formed {scheme} hash: {{{scheme}}} must be followed by {_HASH_RULES[scheme]}"
    return None


# ----------------------------------------------------------------------------------------------- the policy


def _check_policy(policy: Any, filter_name: str) -> dict[str, Any]:
    """The policy with defaults filled in and numbers as ints; extra_weak_passwords becomes a lower-cased set."""
    propagate_undefined(policy)
    if policy is None:
        policy = {}
    if not isinstance(policy, dict):
        raise error(filter_name, "policy", f"must be a dict, got {type(policy).__name__}")
    unknown = sorted(str(key) for key in policy if key not in _DEFAULT_POLICY)
    if unknown:
        raise error(
            filter_name, "policy", f"has unknown key(s) {', '.join(unknown)}; known: {', '.join(_DEFAULT_POLICY)}"
        )
    result = {**_DEFAULT_POLICY, **policy}
    propagate_undefined(*result.values())
    result.update(_check_policy_numbers(result, filter_name))
    if result["scheme"] not in _SCHEMES:
        raise error(filter_name, "policy.scheme", f"= {show(result['scheme'])} must be one of: {', '.join(_SCHEMES)}")
    if not isinstance(result["main_password_mail_login"], bool):
        raise error(
            filter_name,
            "policy.main_password_mail_login",
            f"= {show(result['main_password_mail_login'])} must be true or false",
        )
    result["argon2"] = _check_argon2_policy(result["argon2"], filter_name)
    weak = result["extra_weak_passwords"]
    if isinstance(weak, str | bytes) or not isinstance(weak, list | tuple):
        raise error(filter_name, "policy.extra_weak_passwords", f"must be a list, got {type(weak).__name__}")
    for index, entry in enumerate(weak):
        propagate_undefined(entry)
        if not isinstance(entry, str):
            # The entry is not shown: it may be someone's real password.
            raise error(filter_name, f"policy.extra_weak_passwords[{index}]", "must be a string")
    result["extra_weak_passwords"] = frozenset(entry.lower() for entry in weak)
    return result


def _check_policy_numbers(policy: dict[str, Any], filter_name: str) -> dict[str, int]:
    numbers = {}
    for key in ("min_length", "max_length", "bcrypt_rounds"):
        number = whole_number(policy[key])
        if number is None:
            raise error(filter_name, f"policy.{key}", f"= {show(policy[key])} must be a whole number")
        numbers[key] = number
    if numbers["min_length"] < 1:
        raise error(filter_name, "policy.min_length", f"= {numbers['min_length']} must be at least 1")
    if numbers["max_length"] < numbers["min_length"]:
        raise error(
            filter_name, "policy.max_length", f"= {numbers['max_length']} is below min_length {numbers['min_length']}"
        )
    low, high = _BCRYPT_ROUNDS
    if not low <= numbers["bcrypt_rounds"] <= high:
        raise error(
            filter_name, "policy.bcrypt_rounds", f"= {numbers['bcrypt_rounds']} must be between {low} and {high}"
        )
    return numbers


def _check_argon2_policy(value: Any, filter_name: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise error(filter_name, "policy.argon2", f"must be a dict, got {type(value).__name__}")
    unknown = sorted(str(key) for key in value if key not in _DEFAULT_ARGON2)
    if unknown:
        raise error(
            filter_name,
            "policy.argon2",
            f"has unknown key(s) {', '.join(unknown)}; known: {', '.join(_DEFAULT_ARGON2)}",
        )
    merged = {**_DEFAULT_ARGON2, **value}
    propagate_undefined(*merged.values())
    result = {}
    for key, raw in merged.items():
        number = whole_number(raw)
        if number is None or number < 1:
            raise error(filter_name, f"policy.argon2.{key}", f"= {show(raw)} must be a whole number >= 1")
        result[key] = number
    if result["memory_kib"] < _ARGON2_MIN_KIB_PER_LANE * result["parallelism"]:
        raise error(
            filter_name,
            "policy.argon2.memory_kib",
            f"= {result['memory_kib']} is too small: Argon2 needs at least 8 KiB per lane (parallelism)",
        )
    return result


# --------------------------------------------------------------------------------------------- user checks


def _name_problem(name: str) -> str | None:
    """Why name is not a login name mailfort can write to a passwd-file, or None."""
    if not name:
        return "is empty"
    if not name.isascii():
        # Checked before lower-casing: str.lower() maps some non-ASCII letters (the Kelvin sign) to ASCII ones.
        return "has non-ASCII characters"
    if _CONTROL_RE.search(name) or any(c.isspace() for c in name):
        return "contains whitespace or a control character"
    forbidden = next((what for char, what in _NAME_FORBIDDEN.items() if char in name), None)
    if forbidden is not None:
        return f"contains {forbidden}, which a passwd-file line or Dovecot's variable expansion would misread"
    if name.count("@") != 1:
        return "must be one address local@domain"
    local, domain = name.lower().split("@")
    problem = address_problem(f"{local}@{domain}")
    return None if problem is None else f"is not a mailbox address: {problem}"


def _repeats_a_short_group(lowered: str) -> int:
    """Length (1 to 4) of the group of characters that lowered only repeats, or 0."""
    for size in range(1, 5):
        if len(lowered) > size and lowered == (lowered[:size] * (len(lowered) // size + 1))[: len(lowered)]:
            return size
    return 0


def _is_run(lowered: str) -> bool:
    """An ascending or descending run of letters or of digits, wrapping around (z to a, 9 to 0)."""
    if len(lowered) < 3:  # two characters are no pattern
        return False
    if lowered.isdigit() and lowered.isascii():
        alphabet = "0123456789"
    elif lowered.isalpha() and lowered.isascii():
        alphabet = "abcdefghijklmnopqrstuvwxyz"
    else:
        return False
    steps = {(alphabet.index(b) - alphabet.index(a)) % len(alphabet) for a, b in itertools.pairwise(lowered)}
    return steps in ({1}, {len(alphabet) - 1})


def _name_parts(name: str) -> set[str]:
    local, domain = name.split("@")
    parts = {local, *re.split(r"[._+-]", local), domain.split(".")[0]}
    return {part for part in parts if len(part) >= 4}  # shorter ones match too much by chance


def _password_problem(password: Any, user: str, policy: dict[str, Any]) -> str | None:
    """Why a plaintext password breaks the policy, or None. The message never quotes or measures the password."""
    if not isinstance(password, str):
        return f"must be a string (quote it in YAML), got {type(password).__name__}"
    if _CONTROL_RE.search(password):
        return (
            "contains a control character such as a newline, which no mail client can send "
            "(a YAML block scalar '|' keeps the final newline; use '|-')"
        )
    if len(password) < policy["min_length"]:
        return f"is shorter than {policy['min_length']} characters"
    if len(password) > policy["max_length"]:
        return f"is longer than {policy['max_length']} characters"
    if policy["scheme"] == "BLF-CRYPT" and len(password.encode("utf-8")) > _BCRYPT_MAX_BYTES:
        return f"is longer than {_BCRYPT_MAX_BYTES} UTF-8 bytes, the most BLF-CRYPT (bcrypt) uses"
    return _guessable_problem(password.lower(), user, policy["extra_weak_passwords"])


_DECORATION = "0123456789!@#$%^&*()-_=+.,;:?~ "


def _guessable_problem(lowered: str, user: str, extra_weak: frozenset[str]) -> str | None:
    group = _repeats_a_short_group(lowered)
    if group:
        return "is one character repeated" if group == 1 else f"is a group of {group} characters repeated"
    # "password123456", "letmein!2024": a listed password with digits and symbols tacked on is guessed as early.
    stem = lowered.rstrip(_DECORATION)
    rules = (
        (_is_run(lowered), "is an ascending or descending run of letters or digits"),
        (lowered in _COMMON_PASSWORDS, "is one of the most common passwords"),
        (lowered in extra_weak, "is in policy.extra_weak_passwords"),
        (
            stem != lowered and len(stem) >= 4 and (stem in _COMMON_PASSWORDS or stem in extra_weak),
            "is a common password with digits or symbols appended",
        ),
        (
            any(part in lowered for part in _name_parts(user)),
            "contains the user's name or the first label of the mail domain",
        ),
    )
    return next((problem for broken, problem in rules if broken), None)


def _check_credential(
    entry: dict, label: str, where: str, *, user: str, check_password: bool, policy: dict, filter_name: str
) -> _Credential:
    """WHERE names the credential with a FIELD placeholder: the field at fault goes there, or nothing."""
    whole, as_password, as_hash = (
        where.replace(f".{_FIELD}", ""),
        where.replace(_FIELD, "password"),
        where.replace(_FIELD, "password_hash"),
    )
    password, password_hash = entry.get("password"), entry.get("password_hash")
    propagate_undefined(password, password_hash)
    if password is not None and password_hash is not None:
        raise error(filter_name, whole, "has both password and password_hash; give exactly one")
    if password is None and password_hash is None:
        raise error(filter_name, whole, "has neither password nor password_hash; give exactly one")
    if password_hash is not None:
        if not isinstance(password_hash, str):
            raise error(filter_name, as_hash, f"must be a string, got {type(password_hash).__name__}")
        problem = _hash_problem(password_hash)
        if problem is not None:
            raise error(filter_name, as_hash, problem)
        return _Credential(label, password_hash=password_hash)
    if check_password:
        problem = _password_problem(password, user, policy)
        if problem is not None:
            raise error(filter_name, as_password, problem)
    elif not isinstance(password, str):
        raise error(filter_name, as_password, f"must be a string (quote it in YAML), got {type(password).__name__}")
    return _Credential(label, password=password)


def _check_app_passwords(
    value: Any, where: str, *, user: str, present: bool, policy: dict, filter_name: str
) -> list[_Credential]:
    propagate_undefined(value)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise error(filter_name, f"{where}.app_passwords ({user})", f"must be a list, got {type(value).__name__}")
    credentials: list[_Credential] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(value):
        propagate_undefined(entry)
        entry_where = f"{where}.app_passwords[{index}] ({user})"
        if not isinstance(entry, dict):
            raise error(filter_name, entry_where, f"must be a dict with label and password, got {type(entry).__name__}")
        label = entry.get("label")
        propagate_undefined(label)
        if not isinstance(label, str) or not _LABEL_RE.fullmatch(label):
            raise error(
                filter_name,
                f"{where}.app_passwords[{index}].label ({user})",
                f"= {show(label)} must match ^[a-z0-9][a-z0-9_-]{{0,31}}$ (lower case)",
            )
        entry_where = f"{where}.app_passwords[{index}] ({user}, app password {label!r})"
        if label == _MAIN:
            raise error(filter_name, entry_where, "uses the reserved label 'main' (the main password's)")
        unknown = sorted(key_text(key) for key in entry if key not in _APP_KEYS)
        if unknown:
            raise error(
                filter_name,
                entry_where,
                f"has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_APP_KEYS))}",
            )
        if label in seen:
            raise error(
                filter_name, entry_where, f"repeats the label of app_passwords[{seen[label]}]; labels must be unique"
            )
        seen[label] = index
        credentials.append(
            _check_credential(
                entry,
                label,
                f"{where}.app_passwords[{index}].{_FIELD} ({user}, app password {label!r})",
                user=user,
                check_password=present,
                policy=policy,
                filter_name=filter_name,
            )
        )
    return credentials


def _check_user(entry: Any, index: int, policy: dict, varname: str, filter_name: str) -> _User:
    propagate_undefined(entry)
    where = f"{varname}[{index}]"
    if not isinstance(entry, dict):
        raise error(filter_name, where, f"must be a dict with at least a name, got {type(entry).__name__}")
    raw_name = entry.get("name")
    propagate_undefined(raw_name)
    if not isinstance(raw_name, str):
        raise error(
            filter_name, f"{where}.name", f"= {show(raw_name)} must be a login name such as 'alice@example.org'"
        )
    problem = _name_problem(raw_name)
    if problem is not None:
        raise error(filter_name, f"{where}.name", f"= {show(raw_name)} is not a valid login name: it {problem}")
    name = raw_name.lower()
    base, where = where, f"{where} ({name})"
    unknown = sorted(key_text(key) for key in entry if key not in _USER_KEYS)
    if unknown:
        raise error(
            filter_name, where, f"has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_USER_KEYS))}"
        )
    state = entry.get("state", "present")
    propagate_undefined(state)
    if state not in _STATES:
        raise error(filter_name, f"{base}.state ({name})", f"= {show(state)} must be one of: {', '.join(_STATES)}")
    mail_login = entry.get("mail_login", policy["main_password_mail_login"])
    propagate_undefined(mail_login)
    if not isinstance(mail_login, bool):
        raise error(filter_name, f"{base}.mail_login ({name})", f"= {show(mail_login)} must be true or false")
    present = state == "present"
    main = None
    if entry.get("password") is not None or entry.get("password_hash") is not None:
        main = _check_credential(
            entry,
            _MAIN,
            f"{base}.{_FIELD} ({name}, the main password)",
            user=name,
            check_password=present,
            policy=policy,
            filter_name=filter_name,
        )
    apps = _check_app_passwords(
        entry.get("app_passwords"), base, user=name, present=present, policy=policy, filter_name=filter_name
    )
    user = _User(index, name, state, mail_login, main, apps)
    if present and not user.mail_credentials():
        reason = "its main password has mail_login false" if main is not None else "it has no main password"
        raise error(
            filter_name,
            where,
            f"has no credential that can log in to mail ({reason} and no app password); "
            "give an app password, or a main password with mail_login true",
        )
    return user


def _describe(user: _User, credential: _Credential) -> str:
    """The credential as every message of this module names it: "alice@example.org, the main password"."""
    what = "the main password" if credential.label == _MAIN else f"app password {credential.label!r}"
    return f"{user.name}, {what}"


def _check_users(users: Any, policy: Any, varname: str, filter_name: str) -> tuple[list[_User], dict[str, Any]]:
    propagate_undefined(users, varname)
    checked_policy = _check_policy(policy, filter_name)
    if isinstance(users, str | bytes) or not isinstance(users, list | tuple):
        raise error(filter_name, varname, f"must be a list of users, got {type(users).__name__}")
    result: list[_User] = []
    by_name: dict[str, int] = {}
    problems: list[str] = []  # every user's first problem, so that one run names them all
    for index, entry in enumerate(users):
        try:
            user = _check_user(entry, index, checked_policy, varname, filter_name)
        except AnsibleFilterError as refused:
            problems.append(refused.message.removeprefix(f"{filter_name}: "))
            continue
        if user.name in by_name:
            problems.append(
                f"{varname}[{index}] ({user.name}) is the same user as {varname}[{by_name[user.name]}]; "
                "give each user once"
            )
            continue
        by_name[user.name] = index
        result.append(user)
    if problems:
        # One problem a line: mail_validate reports each line as an error of its own.
        raise AnsibleFilterError(f"{filter_name}: " + "\n".join(problems))
    _check_reuse(result, varname, filter_name)
    return result, checked_policy


def _check_reuse(users: list[_User], varname: str, filter_name: str) -> None:
    """No two credentials of present users share a plaintext password or a hash."""
    seen: dict[str, tuple[_User, _Credential]] = {}
    for user in users:
        if user.state != "present":
            continue
        for credential in [*([user.main] if user.main else []), *user.apps]:
            # Prefixed so a password can never collide with a hash string.
            secret = f"p:{credential.password}" if credential.password is not None else f"h:{credential.password_hash}"
            if secret in seen:
                other_user, other = seen[secret]
                what = "password" if credential.password is not None else "password_hash"
                raise error(
                    filter_name,
                    f"{varname}[{user.index}] ({_describe(user, credential)})",
                    f"has the same {what} as {varname}[{other_user.index}] ({_describe(other_user, other)}); "
                    "every credential needs its own",
                )
            seen[secret] = (user, credential)


def mail_auth_check_users(users: Any, policy: Any = None, varname: str = "dovecot_hardening_users") -> list[dict]:
    """Validate and normalise the users; the result holds no password and no hash."""
    checked, _ = _check_users(users, policy, varname, "mail_auth_check_users")
    return [
        {
            "name": user.name,
            "state": user.state,
            "mail_login": user.mail_login,
            "main_given_as": user.main.given_as if user.main is not None else None,
            "app_passwords": [{"label": app.label, "given_as": app.given_as} for app in user.apps],
        }
        for user in checked
    ]


# ------------------------------------------------------------------------------------------------- hashing
