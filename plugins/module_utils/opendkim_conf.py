# SPDX-License-Identifier: MIT
"""OpenDKIM's configuration as opendkim reads it, for mailfort.mail.mail_audit_facts: the settings of a
configuration file with its Includes followed, shown as the audit compares them (booleans as yes or no, UMask in
octal, secrets withheld), and the entries of the host lists it names.

Standard library only, for the Python of Debian 12 and 13.
"""

from __future__ import annotations

import os
import re

# OpenDKIM's configuration as opendkim reads it (opendkim.conf(5)): each line is cut at "#" or a carriage return;
# its first word (up to a space or tab) names the setting, without regard to case, and the rest, blanks trimmed, is
# the value; a later line of the same setting wins, and Include reads another file in its place. A boolean counts
# by its first letter (t, y, 1 or f, n, 0), and UMask is a number in C's notation (007 is octal).
OPENDKIM_BOOLEANS = frozenset(
    name.lower()
    for name in (
        "AllowSHA1Only",
        "AlwaysAddARHeader",
        "AutoRestart",
        "Background",
        "Diagnostics",
        "DisableCryptoInit",
        "FixCRLF",
        "LogResults",
        "LogWhy",
        "MultipleSignatures",
        "Quarantine",
        "QueryCache",
        "RemoveOldSignatures",
        "RequireSafeKeys",
        "SendReports",
        "SoftwareHeader",
        "StrictHeaders",
        "SubDomains",
        "Syslog",
        "SyslogSuccess",
        "WeakSyntaxChecks",
    )
)
OPENDKIM_INCLUDE_DEPTH = 5
# Settings whose value lists hosts and networks (a data set): read from the file it names, or the list it is.
OPENDKIM_HOST_LISTS = ("InternalHosts", "ExternalIgnoreList", "PeerList")
# A setting named like a secret, and the password of a database address (dsn:mysql://user:password@host/...), are
# withheld: the rest of the configuration names files and networks, never a key.
OPENDKIM_SECRET_NAME = re.compile(r"password|secret", re.IGNORECASE)
OPENDKIM_DSN_PASSWORD = re.compile(r"(//[^/:@\s]*:)[^@\s]*@")
WITHHELD = "(withheld)"
# Data sets kept in a database or a service rather than a file: the audit does not query them.
OPENDKIM_DATABASE = re.compile(r"(?:db|dsn|ldaps?|ldapi|lua|memcache|redis|mdb|erlang|repute|socket):")


def opendkim_lines(text: str) -> list[tuple[str, str]]:
    """(name, value) of each setting of an OpenDKIM configuration's text, in order; a name without a value, which
    opendkim refuses, is left out."""
    found = []
    for line in text.split("\n"):
        setting = re.match(r"[ \t]*([^ \t]+)[ \t]*(.*)", re.split(r"[#\r]", line, maxsplit=1)[0])
        if setting and setting.group(2).rstrip(" \t"):
            found.append((setting.group(1), setting.group(2).rstrip(" \t")))
    return found


def _c_number(text: str) -> int | None:
    """TEXT as C's strtol(text, &end, 0) reads a whole value: 0x hexadecimal, a leading 0 octal, else decimal."""
    match = re.fullmatch(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", text)
    if not match:
        return None
    digits = match.group(2)
    base = 16 if digits[:2].lower() == "0x" else 8 if digits.startswith("0") else 10
    number = int(digits[2:] if base == 16 else digits, base)
    return -number if match.group(1) == "-" else number


def opendkim_value(name: str, value: str) -> str:
    """VALUE as the audit shows it: booleans as yes or no, UMask as four octal digits, secrets withheld."""
    if OPENDKIM_SECRET_NAME.search(name):
        return WITHHELD
    if name.lower() in OPENDKIM_BOOLEANS and value[0] in "tTyY1fFnN0":
        return "yes" if value[0] in "tTyY1" else "no"
    if name.lower() == "umask" and (number := _c_number(value)) is not None:
        return f"{number:04o}"
    return OPENDKIM_DSN_PASSWORD.sub(rf"\1{WITHHELD}@", value)


def host_list(value: str) -> list[str] | None:
    """The entries of a host list setting: the lines of the file it names (file:, refile: or a path), without
    comments, or the entries of a comma-separated list (csl:); None for a database, which the audit does not read."""
    path = re.sub(r"^(?:re)?file:", "", value)
    if path.startswith("/"):
        with open(path, encoding="utf-8", errors="replace") as handle:
            entries = [line.split("#", 1)[0].strip() for line in handle]
        return [entry for entry in entries if entry]
    if OPENDKIM_DATABASE.match(value):
        return None
    return [entry.strip() for entry in value.removeprefix("csl:").split(",") if entry.strip()]


def read_opendkim(path: str) -> dict:
    """PATH as OpenDKIM reads it: C(settings) (name -> value, the last line of each name, Includes followed),
    C(files) (every file read) and C(hosts) (each host list setting's entries); C(error) when a file cannot be read."""
    settings: dict[str, tuple[str, str]] = {}
    files: list[str] = []

    def load(file: str, depth: int) -> None:
        if depth > OPENDKIM_INCLUDE_DEPTH:
            raise ValueError(f"Include nested more than {OPENDKIM_INCLUDE_DEPTH} deep at {file}")
        with open(file, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        files.append(file)
        for name, value in opendkim_lines(text):
            if name.lower() == "include":
                load(value, depth + 1)
            else:
                settings.pop(name.lower(), None)
                settings[name.lower()] = (name, value)

    if not os.path.exists(path):
        return {"exists": False}
    try:
        load(path, 0)
    except (OSError, ValueError) as e:
        return {"exists": True, "files": files, "error": str(e)}
    found: dict = {
        "exists": True,
        "files": files,
        "settings": {name: opendkim_value(name, value) for name, value in settings.values()},
        "hosts": {},
    }
    for name in OPENDKIM_HOST_LISTS:
        if name.lower() in settings:
            try:
                entries = host_list(settings[name.lower()][1])
            except OSError as e:
                entries = [f"unreadable: {e.strerror}"]
            if entries is not None:
                found["hosts"][name] = entries
    return found
