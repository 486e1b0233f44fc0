# SPDX-License-Identifier: MIT
"""Dovecot credentials: hashes made or kept for every password, and the passwd-file slot files that hold them.

The users are checked first (auth.py). A hash is made only when no current one exists, so a second run changes
nothing. argon2-cffi and bcrypt are needed on the controller only here, each for its scheme (libraries.require).
"""

from __future__ import annotations

import contextlib
from typing import Any

from ansible_collections.mailfort.mail.plugins.plugin_utils.auth import (
    _ARGON2_HASH_BYTES,
    _ARGON2_SALT_BYTES,
    _ARGON2_VERSION,
    _BCRYPT_MAX_BYTES,
    _BCRYPT_RE,
    _CONTROL_RE,
    _CREDENTIALS,
    _LABEL_RE,
    _MAIN,
    _PREFIX_RE,
    _check_users,
    _describe,
    _hash_problem,
    _name_problem,
)
from ansible_collections.mailfort.mail.plugins.plugin_utils.common import (
    error,
    propagate_undefined,
    show,
    whole_number,
)
from ansible_collections.mailfort.mail.plugins.plugin_utils.libraries import require

with contextlib.suppress(ImportError):  # the filter names the package to install when it needs it
    import bcrypt
with contextlib.suppress(ImportError):
    from argon2 import PasswordHasher, Type, extract_parameters
    from argon2 import exceptions as argon2_exceptions
    from argon2.low_level import verify_secret


def _argon2_current(body: str, password: str, policy: dict) -> bool:
    """True when body is an argon2id hash with exactly the policy's parameters that password verifies against."""
    require("argon2", _CREDENTIALS)
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
    require("bcrypt", _CREDENTIALS)
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
    require("argon2" if policy["scheme"] == "ARGON2ID" else "bcrypt", filter_name)
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
        raise error(filter_name, where, f"could not be hashed with {policy['scheme']}") from None


def _check_existing(existing: Any, filter_name: str) -> dict[str, Any]:
    propagate_undefined(existing)
    if existing is None:
        return {}
    if not isinstance(existing, dict):
        raise error(
            filter_name, "existing", f"must be a dict of '<user> <label>' to hash, got {type(existing).__name__}"
        )
    for key, value in existing.items():
        propagate_undefined(value)
        if not isinstance(key, str):
            raise error(filter_name, "existing", f"has the key {show(key)}, which is not a '<user> <label>' string")
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
    propagate_undefined(credentials)
    if isinstance(credentials, str | bytes) or not isinstance(credentials, list | tuple):
        raise error(filter_name, "the credentials", f"must be a list, got {type(credentials).__name__}")
    seen: set[tuple[str, str]] = set()
    result = []
    for index, entry in enumerate(credentials):
        propagate_undefined(entry)
        where = f"credentials[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"user", "label", "hash"}:
            raise error(filter_name, where, "must be a dict with exactly the keys user, label and hash")
        user, label, hashed = entry["user"], entry["label"], entry["hash"]
        propagate_undefined(user, label, hashed)
        if not isinstance(user, str) or _name_problem(user) is not None or user != user.lower():
            raise error(filter_name, where, f"user = {show(user)} is not a lower-case login name local@domain")
        where = f"{where} ({user})"
        if not isinstance(label, str) or not (label == _MAIN or _LABEL_RE.fullmatch(label)):
            raise error(filter_name, where, f"label = {show(label)} is not 'main' or an app password label")
        where = f"{where} label {label!r}"
        if not isinstance(hashed, str):
            raise error(filter_name, where, f"hash must be a string, got {type(hashed).__name__}")
        problem = _hash_problem(hashed)
        if problem is not None:
            raise error(filter_name, where, f"hash {problem}")
        if (user, label) in seen:
            raise error(filter_name, where, "appears twice")
        seen.add((user, label))
        result.append((user, label, hashed))
    return result


def mail_auth_passdb_slots(credentials: Any, minimum: Any = 0) -> list[str]:
    """The passwd-file text of each slot: slot i holds every user's i-th credential."""
    checked = _check_credentials_list(credentials, "mail_auth_passdb_slots")
    floor = whole_number(minimum)
    if floor is None or floor < 0:
        raise error("mail_auth_passdb_slots", "minimum", f"= {show(minimum)} must be a whole number >= 0")
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
                raise error(
                    filter_name,
                    where,
                    f"should be the passwd-file line of {user} (after the credential comment on line {comment_line}); "
                    "the file was edited by hand",
                )
            if _PREFIX_RE.match(hashed) is None or any(c in hashed for c in ": \t\r") or _CONTROL_RE.search(hashed):
                raise error(
                    filter_name,
                    where,
                    f"({user} {label}) is not '<user>:{{SCHEME}}hash' with nothing else on the line; "
                    "the file was edited by hand",
                )
            key = f"{user} {label}"
            if key in result:
                raise error(
                    filter_name, where, f"({key}) repeats a credential found earlier; the file was edited by hand"
                )
            if user in users_here:
                raise error(filter_name, where, f"({user}) has a second line in this slot; the file was edited by hand")
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
                raise error(
                    filter_name, where, "is a credential comment without a valid '<user> <label>'; edited by hand?"
                )
            pending = (parts[0], parts[1], number)
        elif line.strip() and not line.startswith("#"):
            raise error(
                filter_name,
                where,
                "is a passwd-file line without its '# mailfort credential <user> <label>' comment; "
                "the file was edited by hand",
            )
    if pending is not None:
        raise error(
            filter_name,
            f"slot {slot} line {pending[2]}",
            "is a credential comment at the end of the file without its line",
        )


def mail_auth_parse_passdb(texts: Any) -> dict[str, str]:
    """Read slot files back into {"<user> <label>": "{SCHEME}hash"}."""
    filter_name = "mail_auth_parse_passdb"
    propagate_undefined(texts)
    if isinstance(texts, str | bytes) or not isinstance(texts, list | tuple):
        raise error(filter_name, "the slot files", f"must be a list of texts, got {type(texts).__name__}")
    result: dict[str, str] = {}
    for index, text in enumerate(texts):
        propagate_undefined(text)
        if text is None:
            continue
        if not isinstance(text, str):
            raise error(filter_name, f"slot {index + 1}", f"must be text, got {type(text).__name__}")
        _parse_slot(text, index + 1, result, filter_name)
    return result


def mail_auth_drop_revoked(credentials: Any, revoked: Any) -> list[dict]:
    """Return the credentials whose user and label are not on the revocation list."""
    filter_name = "mail_auth_drop_revoked"
    propagate_undefined(credentials, revoked)
    checked = _check_credentials_list(credentials, filter_name)
    if not isinstance(revoked, str):
        raise error(filter_name, "the revocation list", f"must be text, got {type(revoked).__name__}")
    gone: set[tuple[str, str]] = set()
    for number, line in enumerate(revoked.splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 2:
            raise error(filter_name, f"the revocation list, line {number}", "must be '<user> <label>'")
        gone.add((fields[0].lower(), fields[1].lower()))
    return [
        {"user": user, "label": label, "hash": hashed} for user, label, hashed in checked if (user, label) not in gone
    ]
