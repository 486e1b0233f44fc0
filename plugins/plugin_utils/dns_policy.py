# SPDX-License-Identifier: MIT
"""The policy records of a mail domain: DMARC (RFC 7489 and RFC 9989), MTA-STS (RFC 8461), TLS-RPT (RFC 8460) and
CAA (RFC 8659).

RFC 9989 (DMARC, which obsoletes RFC 7489) is cited with the section numbers of its last draft,
draft-ietf-dmarc-dmarcbis-41: 4.7 (the tags), 4.8 (the formal definition) and appendix C.5 (tags added and removed).

Report addresses are mailto: URIs (RFC 6068), not mailboxes: their local parts follow URI syntax (RFC 5322
specials, percent-encoding) and stay checked here; their domains, and every other name, follow the collection's
shared DNS rule (names).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.mailfort.mail.plugins.plugin_utils.common import propagate_undefined, show, whole_number
from ansible_collections.mailfort.mail.plugins.plugin_utils.dns_records import (
    checked_spec,
    checked_ttl,
    domain_name,
    named_record,
    no_duplicates,
    owner_name,
    record_error,
    record_subject,
    string_list,
    txt_record,
)
from ansible_collections.mailfort.mail.plugins.plugin_utils.names import LOCAL_MAX

_DMARC = "mail_dns_dmarc"
_MTA_STS = "mail_dns_mta_sts"
_TLSRPT = "mail_dns_tlsrpt"
_CAA = "mail_dns_caa"


# ----------------------------------------------------------------------------------------------- DMARC

_DMARC_TAGS = ("p", "sp", "np", "psd", "t", "adkim", "aspf", "fo", "rua", "ruf")  # also the order they are written
_DMARC_REMOVED = {
    "pct": "use t=y to test a policy",
    "rf": "failure reports have one format",
    "ri": "aggregate reports come daily",
}
_DMARC_POLICIES = ("none", "quarantine", "reject")
_DMARC_CHOICES = {
    "p": _DMARC_POLICIES,
    "sp": _DMARC_POLICIES,
    "np": _DMARC_POLICIES,
    "adkim": ("r", "s"),
    "aspf": ("r", "s"),
    "t": ("y", "n"),
    "psd": ("y", "n", "u"),
}
_DMARC_FO = ("0", "1", "d", "s")
_DMARC_SIZE = re.compile(r"![0-9]+[kmgtKMGT]?\Z")
_MAILTO_LOCAL = re.compile(r"(?:[A-Za-z0-9#$&'*+/=^_`{|}~.-]|%[0-9A-Fa-f]{2})+")


def _mailto(uri: str, *, bang: bool) -> tuple[str, str]:
    """(the URI with the scheme in lower case, the address's domain) of a mailto: URI; ValueError when not one."""
    address = uri[len("mailto:") :]
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise ValueError("is not mailto:<local part>@<domain>")
    if "?" in address:
        raise ValueError("has a query ('?'); a report address is mailto:<local part>@<domain> alone")
    checked = local.replace("!", "") if bang else local
    if not _MAILTO_LOCAL.fullmatch(checked) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError(
            "has a local part that is not letters, digits, inner dots and the specials of RFC 5322 section 3.2.3 "
            "(others percent-encoded, RFC 6068 section 2)"
        )
    if len(local) > LOCAL_MAX:
        raise ValueError(f"has a local part longer than {LOCAL_MAX} characters (RFC 5321 section 4.5.3.1.1)")
    name, problem = domain_name(domain)
    if name is None:
        raise ValueError(f"has a bad domain: {problem}")
    return f"mailto:{local}@{name}", name


def _dmarc_uri(record: str, where: str, uri: Any) -> tuple[str, str]:
    if not isinstance(uri, str):
        raise record_error(_DMARC, record, f"{where} = {show(uri)} must be a mailto: URI (a string)")
    if not uri.lower().startswith("mailto:"):
        raise record_error(
            _DMARC,
            record,
            f"{where} = {show(uri)}: report addresses must be mailto: URIs; RFC 9989 section 4.7 "
            "allows any URI, but receivers must support only mailto:, so another scheme may get no reports",
        )
    if _DMARC_SIZE.search(uri):
        raise record_error(
            _DMARC,
            record,
            f"{where} = {show(uri)} has a '!size' limit: RFC 9989 section 4.8 makes it obsolete "
            "syntax that reporters ignore (RFC 7489 section 6.2 had it); leave it out",
        )
    for char, encoded in (("!", "%21"), (",", "%2C"), (";", "%3B")):
        if char in uri:
            raise record_error(
                _DMARC,
                record,
                f"{where} = {show(uri)} has a raw {char!r}; write it as {encoded} (RFC 9989 section "
                "4.8: commas and exclamation points in a report URI must be percent-encoded, and ';' ends the tag)",
            )
    if any(char.isspace() for char in uri):
        raise record_error(_DMARC, record, f"{where} = {show(uri)} has whitespace, which no URI holds (RFC 3986)")
    try:
        return _mailto("mailto:" + uri[len("mailto:") :], bang=False)
    except ValueError as e:
        raise record_error(_DMARC, record, f"{where} = {show(uri)} {e}") from e


def _org_domain(name: str) -> str:
    """The organizational domain, approximated without the public suffix list (see DOCUMENTATION)."""
    labels = name.split(".")
    keep = 3 if len(labels[-1]) == 2 else 2  # a two-letter TLD is a country's, often sold below co., com. and the like
    return ".".join(labels[-keep:])


def _same_organization(one: str, other: str) -> bool:
    return (
        one == other or one.endswith("." + other) or other.endswith("." + one) or _org_domain(one) == _org_domain(other)
    )


def _dmarc_fo(record: str, value: Any) -> str:
    options = value.split(":") if isinstance(value, str) else value
    if isinstance(options, bytes) or not isinstance(options, list | tuple) or not options:
        raise record_error(
            _DMARC, record, f"fo = {show(value)} must be a list of {list(_DMARC_FO)} or a string like '1:d'"
        )
    for option in options:
        if option not in _DMARC_FO:
            raise record_error(
                _DMARC, record, f"fo has {show(option)}; the options are {list(_DMARC_FO)} (RFC 9989 4.7)"
            )
    if len(set(options)) != len(options):
        raise record_error(
            _DMARC, record, f"fo = {show(value)} lists an option twice (RFC 9989 section 4.8: each once)"
        )
    if "0" in options and "1" in options:
        raise record_error(
            _DMARC, record, f"fo = {show(value)} has both 0 and 1, which RFC 9989 section 4.7 makes mutually exclusive"
        )
    return ":".join(options)


def _dmarc_tags(record: str, spec: Any) -> Mapping:
    """The tags, after refusing the ones RFC 9989 removed, v, and unknown ones."""
    if isinstance(spec, Mapping):
        for tag in spec:
            if tag in _DMARC_REMOVED:
                raise record_error(
                    _DMARC,
                    record,
                    f"the tag {tag!r} was removed by RFC 9989 (appendix C.5); RFC 9989 receivers "
                    f"ignore it and RFC 7489 receivers would apply it: leave it out ({_DMARC_REMOVED[tag]})",
                )
            if tag == "v":
                raise record_error(_DMARC, record, "the tag 'v' is not yours to set: mailfort writes v=DMARC1 first")
    return checked_spec(_DMARC, record, spec, _DMARC_TAGS)


def _dmarc_reports(record: str, domain: str, spec: Mapping, values: dict[str, str]) -> list[str]:
    """Put rua and ruf into values; return the report domains outside the organization, in order."""
    report_domains: dict[str, None] = {}
    for tag in ("rua", "ruf"):
        uris = spec.get(tag)
        if uris is None:
            continue
        if isinstance(uris, str | bytes) or not isinstance(uris, list | tuple):
            raise record_error(_DMARC, record, f"{tag} must be a list of mailto: URIs, got {show(uris)}")
        written = []
        for index, uri in enumerate(uris):
            text, report_domain = _dmarc_uri(record, f"{tag}[{index}]", uri)
            written.append(text)
            if not _same_organization(domain, report_domain):
                report_domains.setdefault(report_domain, None)
        no_duplicates(_DMARC, record, tag, written)
        if written:
            values[tag] = ",".join(written)
    return list(report_domains)


def mail_dns_dmarc(spec: dict, domain: str, ttl: int = 3600, varname: str = "") -> dict[str, Any]:
    """The DMARC record of a domain, valid under RFC 7489 and RFC 9989, and the report authorizations it needs."""
    propagate_undefined(spec, domain, ttl)
    domain, record = record_subject(_DMARC, "DMARC record", domain)
    record = named_record(record, varname)
    ttl = checked_ttl(_DMARC, record, ttl)
    spec = _dmarc_tags(record, spec)
    values: dict[str, str] = {"p": "none"}
    for tag, choices in _DMARC_CHOICES.items():
        value = spec.get(tag)
        if tag == "t" and isinstance(value, bool):
            value = "y" if value else "n"
        if value is None:
            continue
        if value not in choices:
            raise record_error(
                _DMARC,
                record,
                f"{tag} = {show(value)} is not one of {list(choices)} (RFC 9989 section 4.7, RFC 7489 section 6.3)",
            )
        values[tag] = value
    report_domains = _dmarc_reports(record, domain, spec, values)
    if spec.get("fo") is not None:
        if "ruf" not in values:
            raise record_error(
                _DMARC,
                record,
                "fo without ruf: RFC 9989 section 4.7 ignores fo unless ruf names where failure reports go",
            )
        values["fo"] = _dmarc_fo(record, spec["fo"])
    text = "; ".join(["v=DMARC1", *(f"{tag}={values[tag]}" for tag in _DMARC_TAGS if tag in values)])
    authorizations = []
    for report_domain in report_domains:
        name = f"{domain}._report._dmarc.{report_domain}"
        owner = owner_name(_DMARC, f"DMARC report authorization {name}", name)
        authorizations.append(txt_record(owner, ttl, "v=DMARC1", "v=DMARC1"))
    return {
        "record": txt_record(owner_name(_DMARC, record, f"_dmarc.{domain}"), ttl, text, "v=DMARC1"),
        "authorizations": authorizations,
    }


# --------------------------------------------------------------------------------------------- MTA-STS

_MTA_STS_KEYS = ("mode", "mx", "max_age")
_MTA_STS_MODES = ("enforce", "testing", "none")
_MTA_STS_MAX_AGE = 31557600  # RFC 8461 section 3.2
_MTA_STS_ID_DIGITS = 20


def _mx_pattern(record: str, index: int, value: Any) -> str:
    # The shared DNS rule and its wildcard: '*' only as the whole leftmost label, two labels or more after it.
    name, problem = domain_name(value, wildcard=True)
    if name is None:
        raise record_error(_MTA_STS, record, f"mx[{index}] {problem} (RFC 8461 section 3.2)")
    return name


def mail_dns_mta_sts(spec: dict, domain: str, ttl: int = 3600, varname: str = "") -> dict[str, Any]:
    """An MTA-STS policy, its id (from its content) and the _mta-sts TXT record that announces it."""
    propagate_undefined(spec, domain, ttl)
    domain, record = record_subject(_MTA_STS, "MTA-STS policy", domain)
    record = named_record(record, varname)
    ttl = checked_ttl(_MTA_STS, record, ttl)
    spec = checked_spec(_MTA_STS, record, spec, _MTA_STS_KEYS)
    mode = spec.get("mode")
    if mode not in _MTA_STS_MODES:
        raise record_error(
            _MTA_STS, record, f"mode = {show(mode)} must be one of {list(_MTA_STS_MODES)} (RFC 8461 3.2)"
        )
    raw_max_age = spec.get("max_age")
    max_age = whole_number(raw_max_age)
    if max_age is None or not 0 <= max_age <= _MTA_STS_MAX_AGE:
        raise record_error(
            _MTA_STS,
            record,
            f"max_age = {show(raw_max_age)} must be whole seconds from 0 to {_MTA_STS_MAX_AGE} "
            "(RFC 8461 section 3.2: at most about one year)",
        )
    patterns = [
        _mx_pattern(record, index, value)
        for index, value in enumerate(string_list(_MTA_STS, record, "mx", spec.get("mx", [])))
    ]
    no_duplicates(_MTA_STS, record, "mx", patterns)
    if not patterns and mode != "none":
        raise record_error(
            _MTA_STS,
            record,
            f"mode {mode} needs at least one mx pattern: senders accept only MX hosts that one "
            "matches (RFC 8461 sections 3.2 and 4.1)",
        )
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {pattern}" for pattern in patterns), f"max_age: {max_age}"]
    policy = "".join(line + "\r\n" for line in lines)
    policy_id = hashlib.sha256(policy.encode("ascii")).hexdigest()[:_MTA_STS_ID_DIGITS]
    name = owner_name(_MTA_STS, record, f"_mta-sts.{domain}")
    return {
        "policy": policy,
        "id": policy_id,
        "record": txt_record(name, ttl, f"v=STSv1; id={policy_id}", "v=STSv1"),
        "policy_url": f"https://mta-sts.{domain}/.well-known/mta-sts.txt",
    }


# --------------------------------------------------------------------------------------------- TLS-RPT


def _https_uri(uri: str) -> str:
    """The https: URI with scheme and host in lower case; ValueError when it is not one a reporter can post to."""
    parts = urlsplit(uri)
    if parts.username is not None or parts.password is not None:
        raise ValueError("has user information before the host, which RFC 9110 section 4.2.4 forbids in https: URIs")
    try:
        port = parts.port
    except ValueError as e:
        raise ValueError("has a port that is not 1 to 65535") from e
    name, problem = domain_name(parts.hostname or "")
    if name is None:
        raise ValueError(f"has a bad host: {problem}")
    if parts.fragment:
        raise ValueError("has a fragment ('#'), which reporters would not send")
    host = name if port is None else f"{name}:{port}"
    return f"https://{host}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def _tlsrpt_uri(record: str, index: int, uri: Any) -> str:
    where = f"rua[{index}]"
    if not isinstance(uri, str):
        raise record_error(_TLSRPT, record, f"{where} = {show(uri)} must be a mailto: or https: URI (a string)")
    for char, encoded in ((",", "%2C"), (";", "%3B")):
        if char in uri:
            raise record_error(
                _TLSRPT,
                record,
                f"{where} = {show(uri)} has a raw {char!r}; write it as {encoded} (RFC 8460 "
                "section 3: commas and semicolons in a URI must be percent-encoded)",
            )
    if not uri.isascii() or any(char.isspace() or not char.isprintable() for char in uri):
        raise record_error(_TLSRPT, record, f"{where} = {show(uri)} has whitespace or non-ASCII characters (RFC 3986)")
    return _mailto_or_https(_TLSRPT, record, where, uri, "RFC 8460 section 3 knows no other")


def mail_dns_tlsrpt(spec: dict, domain: str, ttl: int = 3600, varname: str = "") -> dict[str, Any]:
    """The SMTP TLS reporting record (RFC 8460) of a domain."""
    propagate_undefined(spec, domain, ttl)
    domain, record = record_subject(_TLSRPT, "TLS-RPT record", domain)
    record = named_record(record, varname)
    ttl = checked_ttl(_TLSRPT, record, ttl)
    spec = checked_spec(_TLSRPT, record, spec, ("rua",))
    uris = [
        _tlsrpt_uri(record, index, uri)
        for index, uri in enumerate(string_list(_TLSRPT, record, "rua", spec.get("rua", [])))
    ]
    if not uris:
        raise record_error(_TLSRPT, record, "rua is empty; RFC 8460 section 3 requires at least one reporting URI")
    no_duplicates(_TLSRPT, record, "rua", uris)
    name = owner_name(_TLSRPT, record, f"_smtp._tls.{domain}")
    return txt_record(name, ttl, "v=TLSRPTv1; rua=" + ",".join(uris), "v=TLSRPTv1")


# ------------------------------------------------------------------------------------------------- CAA

_CAA_KEYS = ("issue", "issuewild", "iodef", "critical")
_CAA_TAG = re.compile(r"[A-Za-z0-9](?:-*[A-Za-z0-9])*")  # RFC 8659 section 4.2 parameter tag
_CAA_VALUE = re.compile(r"[\x21-\x3a\x3c-\x7e]+")  # RFC 8659 section 4.2 parameter value, made non-empty
_CAA_CRITICAL = 128


def _caa_issuer(record: str, where: str, value: Any) -> str:
    """An issue or issuewild value: the CA's domain name and its parameters, normalised as 'ca; tag=value'."""
    if not isinstance(value, str):
        raise record_error(_CAA, record, f"{where} = {show(value)} must be a CA's domain name (a string)")
    issuer, *parameters = (part.strip() for part in value.split(";"))
    name, problem = domain_name(issuer)
    if name is None:
        raise record_error(
            _CAA, record, f"{where}: the issuer {problem} (RFC 8659 section 4.2); to forbid issuance, leave the CA out"
        )
    written = [name]
    tags: set[str] = set()
    for parameter in parameters:
        tag, equals, text = (part.strip() for part in parameter.partition("="))
        if not equals or not _CAA_TAG.fullmatch(tag) or not _CAA_VALUE.fullmatch(text):
            raise record_error(
                _CAA,
                record,
                f"{where} has the parameter {show(parameter)}; parameters are tag=value, the tag "
                "letters, digits and inner hyphens, the value visible ASCII without ';' (RFC 8659 section 4.2)",
            )
        if tag.lower() in tags:
            raise record_error(_CAA, record, f"{where} has the parameter {tag!r} twice")
        tags.add(tag.lower())
        written.append(f"{tag}={text}")
    return "; ".join(written)


def _mailto_or_https(kind: str, record: str, where: str, uri: str, rule: str) -> str:
    """A report URI that must be mailto: or https:, normalised; RULE says which RFC allows only these two."""
    scheme = uri.partition(":")[0].lower()
    try:
        if scheme == "mailto":
            return _mailto(uri, bang=True)[0]
        if scheme == "https":
            return _https_uri(uri)
    except ValueError as e:
        raise record_error(kind, record, f"{where} = {show(uri)} {e}") from e
    raise record_error(kind, record, f"{where} = {show(uri)} must be a mailto: or https: URI ({rule})")


def _caa_iodef(record: str, where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise record_error(_CAA, record, f"{where} = {show(value)} must be a mailto: or https: URI (a string)")
    if not value.isascii() or any(char.isspace() or char in '"\\;' or not char.isprintable() for char in value):
        raise record_error(_CAA, record, f"{where} = {show(value)} has whitespace, quotes, ';' or non-ASCII characters")
    return _mailto_or_https(_CAA, record, where, value, "RFC 8659 section 4.4")


def mail_dns_caa(spec: dict, domain: str, ttl: int = 3600, varname: str = "") -> dict[str, Any]:
    """The CAA record of a domain: which CAs may issue certificates, for wildcards too, and where they report."""
    propagate_undefined(spec, domain, ttl)
    domain, record = record_subject(_CAA, "CAA record", domain)
    record = named_record(record, varname)
    ttl = checked_ttl(_CAA, record, ttl)
    spec = checked_spec(_CAA, record, spec, _CAA_KEYS)
    critical = spec.get("critical", False)
    if not isinstance(critical, bool):
        raise record_error(_CAA, record, f"critical = {show(critical)} must be true or false")
    flags = _CAA_CRITICAL if critical else 0
    issue = [
        _caa_issuer(record, f"issue[{index}]", value)
        for index, value in enumerate(string_list(_CAA, record, "issue", spec.get("issue", [])))
    ]
    if not issue:
        raise record_error(
            _CAA,
            record,
            "issue is empty; name at least one CA: the MTA-STS policy host mta-sts.<domain> needs a "
            "certificate (RFC 8461 section 3.3)",
        )
    no_duplicates(_CAA, record, "issue", issue)
    values = [f'{flags} issue "{value}"' for value in issue]
    if spec.get("issuewild") is not None:
        wild = [
            _caa_issuer(record, f"issuewild[{index}]", value)
            for index, value in enumerate(string_list(_CAA, record, "issuewild", spec["issuewild"]))
        ]
        no_duplicates(_CAA, record, "issuewild", wild)
        values += [f'{flags} issuewild "{value}"' for value in wild] or [f'{flags} issuewild ";"']
    iodef = [
        _caa_iodef(record, f"iodef[{index}]", value)
        for index, value in enumerate(string_list(_CAA, record, "iodef", spec.get("iodef", [])))
    ]
    no_duplicates(_CAA, record, "iodef", iodef)
    values += [f'{flags} iodef "{value}"' for value in iodef]
    return {"name": owner_name(_CAA, record, domain), "type": "CAA", "ttl": ttl, "values": values}
