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

import bcrypt
from ansible.errors import AnsibleFilterError
from argon2 import PasswordHasher, Type, extract_parameters
from argon2 import exceptions as argon2_exceptions
from argon2.low_level import verify_secret
from jinja2 import Undefined

# Several filters live in this one file, so each filter's documentation is one entry of these YAML mappings, keyed
# by the filter's name (ansible-doc itself only reads per-filter sidecar files named <filter>.yml).
# ----------------------------------------------------------------------------------------------------- policy

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
_DIGITS_RE = re.compile(r"[0-9]+", re.ASCII)

# ------------------------------------------------------------------------------------------------- the users

_USER_KEYS = frozenset({"name", "password", "password_hash", "mail_login", "app_passwords", "state"})
_APP_KEYS = frozenset({"label", "password", "password_hash"})
_STATES = ("present", "absent")
_MAIN = "main"

_LABEL_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}", re.ASCII)
_LOCAL_RE = re.compile(r"[a-z0-9._+-]{1,64}", re.ASCII)
_DNS_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
_DNS_NAME_MAX = 253
# Characters that would end a passwd-file field or line, start a comment, or start a Dovecot variable.
_NAME_FORBIDDEN = {":": "a colon", "#": "a '#'", "%": "a '%'", "/": "a '/'"}
_SHOWN_VALUE_MAX = 80

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


def _key_text(key: Any) -> str:
    """A key the user wrote, as a message names it: as written, or quoted when it holds a line break or is no str."""
    return key if isinstance(key, str) and key.isprintable() else repr(key)


def _error(filter_name: str, subject: str, problem: str) -> AnsibleFilterError:
    return AnsibleFilterError(f"{filter_name}: {subject} {problem}")


def _show(value: Any) -> str:
    """Repr of a (non-secret) user value for an error message, cut short so a huge value cannot flood the output."""
    shown = repr(value)
    if len(shown) > _SHOWN_VALUE_MAX:
        shown = shown[: _SHOWN_VALUE_MAX - 3] + "..."
    return shown


def _propagate_undefined(*values: Any) -> None:
    """Let Ansible's own undefined-variable error surface instead of a less helpful type error of ours."""
    for value in values:
        if isinstance(value, Undefined):
            value._fail_with_undefined_error()


def _whole_number(value: Any) -> int | None:
    """An int, or a string of decimal digits, as an int; None for anything else (bools and floats included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value.strip()):
        return int(value.strip())
    return None


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
    _propagate_undefined(policy)
    if policy is None:
        policy = {}
    if not isinstance(policy, dict):
        raise _error(filter_name, "policy", f"must be a dict, got {type(policy).__name__}")
    unknown = sorted(str(key) for key in policy if key not in _DEFAULT_POLICY)
    if unknown:
        raise _error(
            filter_name, "policy", f"has unknown key(s) {', '.join(unknown)}; known: {', '.join(_DEFAULT_POLICY)}"
        )
    result = {**_DEFAULT_POLICY, **policy}
    _propagate_undefined(*result.values())
    result.update(_check_policy_numbers(result, filter_name))
    if result["scheme"] not in _SCHEMES:
        raise _error(filter_name, "policy.scheme", f"= {_show(result['scheme'])} must be one of: {', '.join(_SCHEMES)}")
    if not isinstance(result["main_password_mail_login"], bool):
        raise _error(
            filter_name,
            "policy.main_password_mail_login",
            f"= {_show(result['main_password_mail_login'])} must be true or false",
        )
    result["argon2"] = _check_argon2_policy(result["argon2"], filter_name)
    weak = result["extra_weak_passwords"]
    if isinstance(weak, str | bytes) or not isinstance(weak, list | tuple):
        raise _error(filter_name, "policy.extra_weak_passwords", f"must be a list, got {type(weak).__name__}")
    for index, entry in enumerate(weak):
        _propagate_undefined(entry)
        if not isinstance(entry, str):
            # The entry is not shown: it may be someone's real password.
            raise _error(filter_name, f"policy.extra_weak_passwords[{index}]", "must be a string")
    result["extra_weak_passwords"] = frozenset(entry.lower() for entry in weak)
    return result


def _check_policy_numbers(policy: dict[str, Any], filter_name: str) -> dict[str, int]:
    numbers = {}
    for key in ("min_length", "max_length", "bcrypt_rounds"):
        number = _whole_number(policy[key])
        if number is None:
            raise _error(filter_name, f"policy.{key}", f"= {_show(policy[key])} must be a whole number")
        numbers[key] = number
    if numbers["min_length"] < 1:
        raise _error(filter_name, "policy.min_length", f"= {numbers['min_length']} must be at least 1")
    if numbers["max_length"] < numbers["min_length"]:
        raise _error(
            filter_name, "policy.max_length", f"= {numbers['max_length']} is below min_length {numbers['min_length']}"
        )
    low, high = _BCRYPT_ROUNDS
    if not low <= numbers["bcrypt_rounds"] <= high:
        raise _error(
            filter_name, "policy.bcrypt_rounds", f"= {numbers['bcrypt_rounds']} must be between {low} and {high}"
        )
    return numbers


def _check_argon2_policy(value: Any, filter_name: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _error(filter_name, "policy.argon2", f"must be a dict, got {type(value).__name__}")
    unknown = sorted(str(key) for key in value if key not in _DEFAULT_ARGON2)
    if unknown:
        raise _error(
            filter_name,
            "policy.argon2",
            f"has unknown key(s) {', '.join(unknown)}; known: {', '.join(_DEFAULT_ARGON2)}",
        )
    merged = {**_DEFAULT_ARGON2, **value}
    _propagate_undefined(*merged.values())
    result = {}
    for key, raw in merged.items():
        number = _whole_number(raw)
        if number is None or number < 1:
            raise _error(filter_name, f"policy.argon2.{key}", f"= {_show(raw)} must be a whole number >= 1")
        result[key] = number
    if result["memory_kib"] < _ARGON2_MIN_KIB_PER_LANE * result["parallelism"]:
        raise _error(
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
    return _address_problem(local, domain)


def _address_problem(local: str, domain: str) -> str | None:
    if not _LOCAL_RE.fullmatch(local):
        return "has a local part that is not 1 to 64 characters of a-z, 0-9, '.', '_', '+' and '-'"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "has a local part that starts or ends with a dot or has two dots in a row"
    if len(domain) > _DNS_NAME_MAX:
        return f"has a domain longer than {_DNS_NAME_MAX} characters"
    labels = domain.split(".")
    if len(labels) < 2:
        return "has a domain with fewer than two labels"
    if not all(_DNS_LABEL_RE.fullmatch(label) for label in labels):
        return "has a domain that is not a DNS name (labels of letters, digits and inner hyphens)"
    return None


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
    _propagate_undefined(password, password_hash)
    if password is not None and password_hash is not None:
        raise _error(filter_name, whole, "has both password and password_hash; give exactly one")
    if password is None and password_hash is None:
        raise _error(filter_name, whole, "has neither password nor password_hash; give exactly one")
    if password_hash is not None:
        if not isinstance(password_hash, str):
            raise _error(filter_name, as_hash, f"must be a string, got {type(password_hash).__name__}")
        problem = _hash_problem(password_hash)
        if problem is not None:
            raise _error(filter_name, as_hash, problem)
        return _Credential(label, password_hash=password_hash)
    if check_password:
        problem = _password_problem(password, user, policy)
        if problem is not None:
            raise _error(filter_name, as_password, problem)
    elif not isinstance(password, str):
        raise _error(filter_name, as_password, f"must be a string (quote it in YAML), got {type(password).__name__}")
    return _Credential(label, password=password)


def _check_app_passwords(
    value: Any, where: str, *, user: str, present: bool, policy: dict, filter_name: str
) -> list[_Credential]:
    _propagate_undefined(value)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise _error(filter_name, f"{where}.app_passwords ({user})", f"must be a list, got {type(value).__name__}")
    credentials: list[_Credential] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(value):
        _propagate_undefined(entry)
        entry_where = f"{where}.app_passwords[{index}] ({user})"
        if not isinstance(entry, dict):
            raise _error(
                filter_name, entry_where, f"must be a dict with label and password, got {type(entry).__name__}"
            )
        label = entry.get("label")
        _propagate_undefined(label)
        if not isinstance(label, str) or not _LABEL_RE.fullmatch(label):
            raise _error(
                filter_name,
                f"{where}.app_passwords[{index}].label ({user})",
                f"= {_show(label)} must match ^[a-z0-9][a-z0-9_-]{{0,31}}$ (lower case)",
            )
        entry_where = f"{where}.app_passwords[{index}] ({user}, app password {label!r})"
        if label == _MAIN:
            raise _error(filter_name, entry_where, "uses the reserved label 'main' (the main password's)")
        unknown = sorted(
            repr(key) if not isinstance(key, str) or not key.isprintable() else key
            for key in entry
            if key not in _APP_KEYS
        )
        if unknown:
            raise _error(
                filter_name,
                entry_where,
                f"has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_APP_KEYS))}",
            )
        if label in seen:
            raise _error(
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
    _propagate_undefined(entry)
    where = f"{varname}[{index}]"
    if not isinstance(entry, dict):
        raise _error(filter_name, where, f"must be a dict with at least a name, got {type(entry).__name__}")
    raw_name = entry.get("name")
    _propagate_undefined(raw_name)
    if not isinstance(raw_name, str):
        raise _error(
            filter_name, f"{where}.name", f"= {_show(raw_name)} must be a login name such as 'alice@example.org'"
        )
    problem = _name_problem(raw_name)
    if problem is not None:
        raise _error(filter_name, f"{where}.name", f"= {_show(raw_name)} is not a valid login name: it {problem}")
    name = raw_name.lower()
    base, where = where, f"{where} ({name})"
    unknown = sorted(
        repr(key) if not isinstance(key, str) or not key.isprintable() else key
        for key in entry
        if key not in _USER_KEYS
    )
    if unknown:
        raise _error(
            filter_name, where, f"has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_USER_KEYS))}"
        )
    state = entry.get("state", "present")
    _propagate_undefined(state)
    if state not in _STATES:
        raise _error(filter_name, f"{base}.state ({name})", f"= {_show(state)} must be one of: {', '.join(_STATES)}")
    mail_login = entry.get("mail_login", policy["main_password_mail_login"])
    _propagate_undefined(mail_login)
    if not isinstance(mail_login, bool):
        raise _error(filter_name, f"{base}.mail_login ({name})", f"= {_show(mail_login)} must be true or false")
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
        raise _error(
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
    _propagate_undefined(users, varname)
    checked_policy = _check_policy(policy, filter_name)
    if isinstance(users, str | bytes) or not isinstance(users, list | tuple):
        raise _error(filter_name, varname, f"must be a list of users, got {type(users).__name__}")
    result: list[_User] = []
    by_name: dict[str, int] = {}
    problems: list[str] = []  # every user's first problem, so that one run names them all
    for index, entry in enumerate(users):
        try:
            user = _check_user(entry, index, checked_policy, varname, filter_name)
        except AnsibleFilterError as error:
            problems.append(error.message.removeprefix(f"{filter_name}: "))
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
                raise _error(
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


def _argon2_current(body: str, password: str, policy: dict) -> bool:
    """True when body is an argon2id hash with exactly the policy's parameters that password verifies against."""
    try:
        parameters = extract_parameters(body)
    except (argon2_exceptions.InvalidHashError, ValueError):
        return False
    wanted = policy["argon2"]
    if (
        parameters.type is not Type.ID
        or parameters.version != _ARGON2_VERSION
        or parameters.memory_cost != wanted["memory_kib"]
        or parameters.time_cost != wanted["time_cost"]
        or parameters.parallelism != wanted["parallelism"]
    ):
        # Not verified at all: it would be replaced anyway, and a hand-edited m= could make verifying very costly.
        return False
    try:
        return verify_secret(body.encode("ascii"), password.encode("utf-8"), Type.ID)
    except (argon2_exceptions.VerificationError, argon2_exceptions.InvalidHashError, UnicodeEncodeError):
        return False


def _bcrypt_current(body: str, password: str, policy: dict) -> bool:
    """True when body is a bcrypt hash with the policy's cost that password verifies against."""
    match = _BCRYPT_RE.fullmatch(body)
    if match is None or int(match.group("cost")) != policy["bcrypt_rounds"]:
        return False
    secret = password.encode("utf-8")
    if len(secret) > _BCRYPT_MAX_BYTES:
        return False  # bcrypt 5 refuses such input; Dovecot would compare only the first 72 bytes
    try:
        # $2y$ (what Dovecot writes) and $2b$ (what the bcrypt library writes) are the same algorithm.
        return bcrypt.checkpw(secret, ("$2b$" + body[4:]).encode("ascii"))
    except ValueError:
        return False


def _existing_is_current(existing_hash: Any, password: str, policy: dict) -> bool:
    """Whether the host's hash still fits: it verifies and uses the policy's scheme and cost."""
    if not isinstance(existing_hash, str):
        return False
    scheme = policy["scheme"]
    prefix = f"{{{scheme}}}"
    if not existing_hash.startswith(prefix):
        return False  # another scheme (SHA512-CRYPT cannot be verified here at all): hash anew
    body = existing_hash[len(prefix) :]
    if scheme == "ARGON2ID":
        return _argon2_current(body, password, policy)
    return _bcrypt_current(body, password, policy)


def _new_hash(password: str, policy: dict, filter_name: str, where: str) -> str:
    secret = password.encode("utf-8")
    try:
        if policy["scheme"] == "ARGON2ID":
            argon2 = policy["argon2"]
            hasher = PasswordHasher(
                time_cost=argon2["time_cost"],
                memory_cost=argon2["memory_kib"],
                parallelism=argon2["parallelism"],
                hash_len=_ARGON2_HASH_BYTES,
                salt_len=_ARGON2_SALT_BYTES,
                type=Type.ID,
            )
            return "{ARGON2ID}" + hasher.hash(secret)
        hashed = bcrypt.hashpw(secret, bcrypt.gensalt(rounds=policy["bcrypt_rounds"])).decode("ascii")
        # The library writes $2b$; Dovecot (through libxcrypt) takes $2y$ as well, and $2y$ is what it writes itself.
        return "{BLF-CRYPT}$2y$" + hashed[4:]
    except (argon2_exceptions.HashingError, ValueError, MemoryError):
        # Raised "from None", not "from e": nothing a hashing library says about a password may reach a log.
        raise _error(filter_name, where, f"could not be hashed with {policy['scheme']}") from None


def _check_existing(existing: Any, filter_name: str) -> dict[str, Any]:
    _propagate_undefined(existing)
    if existing is None:
        return {}
    if not isinstance(existing, dict):
        raise _error(
            filter_name, "existing", f"must be a dict of '<user> <label>' to hash, got {type(existing).__name__}"
        )
    for key, value in existing.items():
        _propagate_undefined(value)
        if not isinstance(key, str):
            raise _error(filter_name, "existing", f"has the key {_show(key)}, which is not a '<user> <label>' string")
    return existing


def mail_auth_credentials(
    users: Any, existing: Any = None, policy: Any = None, varname: str = "dovecot_hardening_users"
) -> list[dict]:
    """Hashed credentials of every present user in slot order, keeping existing hashes that still fit."""
    filter_name = "mail_auth_credentials"
    checked, checked_policy = _check_users(users, policy, varname, filter_name)
    current = _check_existing(existing, filter_name)
    result = []
    for user in checked:
        if user.state != "present":
            continue
        for credential in user.mail_credentials():
            old = current.get(f"{user.name} {credential.label}")
            if credential.password is None:
                hashed = credential.password_hash  # pre-hashed input is passed through as given
            elif _existing_is_current(old, credential.password, checked_policy):
                hashed = old
            else:
                where = f"{varname}[{user.index}] ({_describe(user, credential)})"
                hashed = _new_hash(credential.password, checked_policy, filter_name, where)
            result.append({"user": user.name, "label": credential.label, "hash": hashed})
    return result


# ---------------------------------------------------------------------------------------------- slot files

_HEADER = (
    "# Generated by mailfort (mail_auth_passdb_slots). Do not edit: the next run replaces this file, and\n"
    "# a hand-edited line makes mail_auth_parse_passdb refuse to run. Change dovecot_hardening_users instead.\n"
)
_COMMENT_PREFIX = "# mailfort credential "


def _check_credentials_list(credentials: Any, filter_name: str) -> list[tuple[str, str, str]]:
    _propagate_undefined(credentials)
    if isinstance(credentials, str | bytes) or not isinstance(credentials, list | tuple):
        raise _error(filter_name, "the credentials", f"must be a list, got {type(credentials).__name__}")
    seen: set[tuple[str, str]] = set()
    result = []
    for index, entry in enumerate(credentials):
        _propagate_undefined(entry)
        where = f"credentials[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"user", "label", "hash"}:
            raise _error(filter_name, where, "must be a dict with exactly the keys user, label and hash")
        user, label, hashed = entry["user"], entry["label"], entry["hash"]
        _propagate_undefined(user, label, hashed)
        if not isinstance(user, str) or _name_problem(user) is not None or user != user.lower():
            raise _error(filter_name, where, f"user = {_show(user)} is not a lower-case login name local@domain")
        where = f"{where} ({user})"
        if not isinstance(label, str) or not (label == _MAIN or _LABEL_RE.fullmatch(label)):
            raise _error(filter_name, where, f"label = {_show(label)} is not 'main' or an app password label")
        where = f"{where} label {label!r}"
        if not isinstance(hashed, str):
            raise _error(filter_name, where, f"hash must be a string, got {type(hashed).__name__}")
        problem = _hash_problem(hashed)
        if problem is not None:
            raise _error(filter_name, where, f"hash {problem}")
        if (user, label) in seen:
            raise _error(filter_name, where, "appears twice")
        seen.add((user, label))
        result.append((user, label, hashed))
    return result


def mail_auth_passdb_slots(credentials: Any, minimum: Any = 0) -> list[str]:
    """The passwd-file text of each slot: slot i holds every user's i-th credential."""
    checked = _check_credentials_list(credentials, "mail_auth_passdb_slots")
    floor = _whole_number(minimum)
    if floor is None or floor < 0:
        raise _error("mail_auth_passdb_slots", "minimum", f"= {_show(minimum)} must be a whole number >= 0")
    per_user: dict[str, list[tuple[str, str]]] = {}
    for user, label, hashed in checked:
        per_user.setdefault(user, []).append((label, hashed))
    slot_count = max(max((len(entries) for entries in per_user.values()), default=0), floor)
    slots = []
    for slot in range(slot_count):
        lines = [_HEADER]
        for user in sorted(per_user):
            if slot < len(per_user[user]):
                label, hashed = per_user[user][slot]
                lines.append(f"{_COMMENT_PREFIX}{user} {label}\n{user}:{hashed}\n")
        slots.append("".join(lines))
    return slots


def _parse_slot(text: str, slot: int, result: dict[str, str], filter_name: str) -> None:
    pending: tuple[str, str, int] | None = None  # (user, label, line number) of a credential comment
    users_here: set[str] = set()
    lines = text.split("\n")  # Dovecot splits on newlines only, so no splitlines() here
    if lines[-1] == "":
        lines.pop()  # what follows the final newline is no line
    for number, line in enumerate(lines, start=1):
        where = f"slot {slot} line {number}"
        if pending is not None:
            user, label, comment_line = pending
            name, colon, hashed = line.partition(":")
            if not colon or name != user:
                raise _error(
                    filter_name,
                    where,
                    f"should be the passwd-file line of {user} (after the credential comment on line {comment_line}); "
                    "the file was edited by hand",
                )
            if _PREFIX_RE.match(hashed) is None or any(c in hashed for c in ": \t\r") or _CONTROL_RE.search(hashed):
                raise _error(
                    filter_name,
                    where,
                    f"({user} {label}) is not '<user>:{{SCHEME}}hash' with nothing else on the line; "
                    "the file was edited by hand",
                )
            key = f"{user} {label}"
            if key in result:
                raise _error(
                    filter_name, where, f"({key}) repeats a credential found earlier; the file was edited by hand"
                )
            if user in users_here:
                raise _error(
                    filter_name, where, f"({user}) has a second line in this slot; the file was edited by hand"
                )
            users_here.add(user)
            result[key] = hashed
            pending = None
        elif line.startswith(_COMMENT_PREFIX):
            parts = line[len(_COMMENT_PREFIX) :].split(" ")
            if (
                len(parts) != 2
                or _name_problem(parts[0]) is not None
                or not (parts[1] == _MAIN or _LABEL_RE.fullmatch(parts[1]))
            ):
                raise _error(
                    filter_name, where, "is a credential comment without a valid '<user> <label>'; edited by hand?"
                )
            pending = (parts[0], parts[1], number)
        elif line.strip() and not line.startswith("#"):
            raise _error(
                filter_name,
                where,
                "is a passwd-file line without its '# mailfort credential <user> <label>' comment; "
                "the file was edited by hand",
            )
    if pending is not None:
        raise _error(
            filter_name,
            f"slot {slot} line {pending[2]}",
            "is a credential comment at the end of the file without its line",
        )


def mail_auth_parse_passdb(texts: Any) -> dict[str, str]:
    """Read slot files back into {"<user> <label>": "{SCHEME}hash"}."""
    filter_name = "mail_auth_parse_passdb"
    _propagate_undefined(texts)
    if isinstance(texts, str | bytes) or not isinstance(texts, list | tuple):
        raise _error(filter_name, "the slot files", f"must be a list of texts, got {type(texts).__name__}")
    result: dict[str, str] = {}
    for index, text in enumerate(texts):
        _propagate_undefined(text)
        if text is None:
            continue
        if not isinstance(text, str):
            raise _error(filter_name, f"slot {index + 1}", f"must be text, got {type(text).__name__}")
        _parse_slot(text, index + 1, result, filter_name)
    return result


def mail_auth_drop_revoked(credentials: Any, revoked: Any) -> list[dict]:
    """Return the credentials whose user and label are not on the revocation list."""
    filter_name = "mail_auth_drop_revoked"
    _propagate_undefined(credentials, revoked)
    checked = _check_credentials_list(credentials, filter_name)
    if not isinstance(revoked, str):
        raise _error(filter_name, "the revocation list", f"must be text, got {type(revoked).__name__}")
    gone: set[tuple[str, str]] = set()
    for number, line in enumerate(revoked.splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 2:
            raise _error(filter_name, f"the revocation list, line {number}", "must be '<user> <label>'")
        gone.add((fields[0].lower(), fields[1].lower()))
    return [
        {"user": user, "label": label, "hash": hashed} for user, label, hashed in checked if (user, label) not in gone
    ]


class FilterModule:
    """mailfort authentication filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "mail_auth_check_users": mail_auth_check_users,
            "mail_auth_credentials": mail_auth_credentials,
            "mail_auth_passdb_slots": mail_auth_passdb_slots,
            "mail_auth_parse_passdb": mail_auth_parse_passdb,
            "mail_auth_drop_revoked": mail_auth_drop_revoked,
        }
