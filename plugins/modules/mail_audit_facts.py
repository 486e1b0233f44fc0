#!/usr/bin/python
# SPDX-License-Identifier: MIT
"""Collect, in one module call, what an audit of a mail host needs to see on the host itself: the daemons' effective
settings, the firewall's table, the listening ports, files' owners and modes, certificates, units, fail2ban's jails,
whether the live configuration still passes each daemon's own check, and counts of the journal's security events.
The controller (the mail_audit action) judges it; this module only reads."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mail_audit_facts
short_description: Read what an audit of a mail host needs, in one call, changing nothing
version_added: "0.1.0"
description:
  - Reads the evidence that the controls of C(controls.yml) are judged by, for the M(mailfort.mail.mail_audit)
    action, which calls this module once per host. Every part is optional; a part whose program is missing is
    reported as missing, not as a failure, so an audit of a host without (say) fail2ban says so per control.
  - Reads only; never changes anything, so it runs in check mode too. It reads no file's content but OpenDKIM's
    configuration (O(opendkim)) with the host lists it names, and the public files mail_dns wrote; of other files
    only their owner, group and mode, and of certificates their public facts, so no secret leaves the host.
options:
  postconf:
    description: Postfix parameters whose effective values (C(postconf -x)) to return.
    type: list
    elements: str
    default: []
  postconf_services:
    description: Return every service override of C(master.cf) (C(postconf -P)) and every service (C(postconf -M)).
    type: bool
    default: false
  doveconf:
    description: Dovecot settings whose effective values to return; a setting this Dovecot does not know is left out.
    type: list
    elements: str
    default: []
  nft_table:
    description: The nftables table (family C(inet)) to return as C(nft -j) gives it; empty for none.
    type: str
    default: ""
  listening:
    description: Return the TCP ports something listens on (C(ss)).
    type: bool
    default: false
  files:
    description: Paths whose type, owner, group and mode to return (never their content).
    type: list
    elements: path
    default: []
  certificates:
    description: PEM certificate files whose subject, issuer, names, expiry and key to return.
    type: list
    elements: path
    default: []
  certificate_pem:
    description:
      - Paths of O(certificates) whose certificates to return as PEM too (a trust anchor the controller's probes
        verify against). Only the certificates of the file are returned, never anything else it holds.
    type: list
    elements: path
    default: []
  units:
    description: systemd units whose active and enabled states to return.
    type: list
    elements: str
    default: []
  fail2ban:
    description: Return fail2ban's jails, and for each its ban time and how many sources it holds banned.
    type: bool
    default: false
  updates:
    description:
      - Return what unattended-upgrades and needrestart will do, as they read their configuration
        (C(apt-config), needrestart's conf.d).
    type: bool
    default: false
  resolver:
    description:
      - Return the nameservers of C(/etc/resolv.conf) and of Postfix's chroot copy, and what unbound reads from its
        configuration with C(unbound-checkconf -o), that is the addresses it listens on, its modules and its root
        trust anchor.
    type: bool
    default: false
  config_checks:
    description:
      - Run each daemon's own check of its live configuration and return whether it passed, with its first lines
        of complaint. C(postfix) runs C(postfix check), C(dovecot) C(doveconf -n), C(fail2ban) C(fail2ban-client
        -t), C(opendkim) C(opendkim -n) for each of O(opendkim_configs), C(nftables) C(nft -c -f) for
        O(nftables_file).
    type: list
    elements: str
    choices: [postfix, dovecot, fail2ban, opendkim, nftables]
    default: []
  opendkim_configs:
    description: The OpenDKIM configuration files C(config_checks=opendkim) checks; one that does not exist is skipped.
    type: list
    elements: path
    default: []
  opendkim:
    description:
      - OpenDKIM configuration files whose settings to return as OpenDKIM reads them (a line is a name, blanks and a
        value; C(#) starts a comment; the last line of a name wins; C(Include) is followed), and the entries of the
        host lists they name (C(InternalHosts), C(ExternalIgnoreList), C(PeerList)) when those are files or lists.
      - Settings hold file names, sockets and networks, no key; a setting named like a password and the password of
        a database address are withheld all the same.
    type: list
    elements: path
    default: []
  nftables_file:
    description: The ruleset file C(config_checks=nftables) checks.
    type: path
    default: /etc/mailfort/firewall.nft
  dns_records:
    description:
      - The records mail_dns generated for the domain (its C(<domain>.json) under C(mail_dns_output_dir)), to compare
        with what the domain's DNS serves; empty for none. Public data (records only, never a key).
    type: path
    default: ""
  mta_sts_policy:
    description:
      - The MTA-STS policy file mail_dns wrote for the web server (C(.well-known/mta-sts.txt) under
        C(mail_dns_mta_sts_webroot)), to compare with what C(https://mta-sts.<domain>/) serves; empty for none.
        Public data.
    type: path
    default: ""
  journal_since:
    description:
      - Count the security events of the journal since this time (C(journalctl --since), e.g. C(-24h)); empty for
        none. Only counts and source addresses are returned, never a log line.
    type: str
    default: ""
attributes:
  check_mode:
    support: full
    details: Reads only.
  diff_mode:
    support: none
  platform:
    platforms: debian
seealso:
  - module: mailfort.mail.mail_files_info
author:
  - mailfort contributors
"""

EXAMPLES = r"""
- name: Read the evidence for the audit
  mailfort.mail.mail_audit_facts:
    postconf: [smtpd_tls_auth_only, smtpd_tls_mandatory_protocols]
    postconf_services: true
    nft_table: mailfort
    units: [postfix.service, dovecot.service]
  register: evidence
"""

RETURN = r"""
postconf:
  description: Parameter -> effective value; a parameter Postfix does not know is absent.
  returned: when O(postconf) is not empty and Postfix is installed
  type: dict
postconf_services:
  description: C(service/type) -> its C(master.cf) overrides (parameter -> value, C($name) expanded).
  returned: with O(postconf_services)
  type: dict
master_services:
  description: The C(service/type) names C(master.cf) defines.
  returned: with O(postconf_services)
  type: list
  elements: str
doveconf:
  description: Setting -> effective value.
  returned: when O(doveconf) is not empty and Dovecot is installed
  type: dict
opendkim:
  description:
    - Path -> C(exists), and when it exists C(files) (the files read, Includes after the file that names them),
      C(settings) (name as written -> value; booleans as C(yes) or C(no), C(UMask) as four octal digits) and
      C(hosts) (host list setting -> its entries), or C(error).
  returned: when O(opendkim) is not empty
  type: dict
  sample: {"/etc/opendkim.conf": {"exists": true, "files": ["/etc/opendkim.conf"],
           "settings": {"Mode": "s", "UMask": "0007", "InternalHosts": "file:/etc/opendkim/TrustedHosts"},
           "hosts": {"InternalHosts": ["127.0.0.1", "::1"]}}}
nft:
  description: The table's objects as C(nft -j list table) gives them, or null when the table does not exist.
  returned: when O(nft_table) is set
  type: list
listening:
  description: The TCP ports something listens on, sorted.
  returned: with O(listening)
  type: list
  elements: int
files:
  description: Path -> C(exists), and when it exists C(type), C(mode), C(owner), C(group).
  returned: always
  type: dict
certificates:
  description: >-
    Path -> C(exists), and when it is readable C(subject), C(issuer), C(names), C(not_after) (ISO 8601),
    C(days_left), C(lifetime_days), C(key_type), C(key_bits), C(key) (both in one), C(permitted_names) and
    C(name_constraints_critical) (X.509 name constraints), with O(certificate_pem) C(pem), or C(error).
  returned: always
  type: dict
units:
  description: Unit -> C(active) and C(enabled) as systemctl reports them.
  returned: always
  type: dict
fail2ban:
  description: C(running), and C(jails), jail -> C(bantime) and C(banned).
  returned: with O(fail2ban)
  type: dict
config_checks:
  description: Check -> C(passed) and C(output) (the first lines the check printed).
  returned: always
  type: dict
dns_records:
  description: The parsed C(<domain>.json) of O(dns_records) (C(domain), C(records)), or null when it is missing.
  returned: when O(dns_records) is set
  type: dict
mta_sts_policy:
  description: The text of O(mta_sts_policy) (at most 64 KiB, RFC 8461's bound), or null when it is missing.
  returned: when O(mta_sts_policy) is set
  type: str
updates:
  description:
    - C(origins) (Unattended-Upgrade::Origins-Pattern as apt reads it), C(periodic) (APT::Periodic, name to value)
      and C(needrestart_restart) (needrestart's restart mode, C(a) for automatic; C(unset) when needrestart is
      missing or asks).
    - C(security_pending), the packages an upgrade would take from a security archive (C(apt-get --simulate
      upgrade) with the package lists the host has), and C(reboot_required) with C(reboot_packages), whether an
      update asked for a reboot (C(/run/reboot-required)) and which packages did.
  returned: when O(updates) is true
  type: dict
resolver:
  description:
    - C(nameservers) (of C(/etc/resolv.conf)), C(postfix_nameservers) (of C(/var/spool/postfix/etc/resolv.conf), null
      when Postfix has no chroot copy), and unbound's C(interface) (a list), C(module-config) and
      C(auto-trust-anchor-file) (empty when unset; null when unbound is not installed).
  returned: when O(resolver) is true
  type: dict
journal:
  description:
    - Event -> C(count) and C(sources) (address -> count, the ten most frequent). Events are C(failed_login),
      C(relay_refused), C(quota_refused), C(fail2ban_ban) and C(fail2ban_unban), always; failed logins are broken
      down by service as C(failed_login:SERVICE) (C(smtp/submission), C(smtp/submissions) by Postfix's service
      name, C(imap), C(pop3); C(dovecot) when the session's login line is not in the window), bans and unbans by
      jail as C(fail2ban_ban:JAIL), each where it happened.
    - No user name, log line or anything typed at a login is returned.
  returned: when O(journal_since) is set
  type: dict
  sample: {"failed_login": {"count": 3, "sources": {"192.0.2.7": 3}},
           "failed_login:smtp/submission": {"count": 3, "sources": {"192.0.2.7": 3}},
           "fail2ban_ban": {"count": 1, "sources": {"192.0.2.7": 1}},
           "fail2ban_ban:postfix-sasl": {"count": 1, "sources": {"192.0.2.7": 1}}}
versions:
  description: The versions of Postfix and Dovecot found.
  returned: always
  type: dict
missing:
  description: The programs an asked-for part needs that the host does not have.
  returned: always
  type: list
  elements: str
"""

import datetime  # noqa: E402
import grp  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import re  # noqa: E402
import stat  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.mailfort.mail.plugins.module_utils.audit_journal import count_journal  # noqa: E402
from ansible_collections.mailfort.mail.plugins.module_utils.opendkim_conf import read_opendkim  # noqa: E402

# How many lines of a failed check's output the result keeps.
CHECK_OUTPUT_LINES = 5
# RFC 8461 section 3.3: a policy is at most 64 KiB.
MTA_STS_MAX = 64 * 1024
# The units whose journal lines count_journal() reads (module_utils/audit_journal.py).
JOURNAL_UNITS = ("postfix*", "dovecot.service", "fail2ban.service", "mailfort-quota.service")


class Reader:
    def __init__(self, module: AnsibleModule):
        self.module = module
        self.missing: list[str] = []

    def program(self, name: str) -> str | None:
        path = self.module.get_bin_path(name, opt_dirs=["/usr/sbin", "/sbin"])
        if path is None and name not in self.missing:
            self.missing.append(name)
        return path

    def run(self, argv: list[str]) -> tuple[int, str, str]:
        return self.module.run_command(argv, environ_update={"LC_ALL": "C"})


def key_value_lines(text: str) -> dict[str, str]:
    """`name = value` lines (postconf, doveconf) as a dict."""
    found = {}
    for line in text.splitlines():
        name, sep, value = line.partition(" = ")
        if sep:
            found[name.strip()] = value.strip()
        elif line.endswith(" ="):
            found[line[:-2].strip()] = ""
    return found


def read_postconf(reader: Reader, params: dict, result: dict) -> None:
    postconf = reader.program("postconf")
    if postconf is None:
        return
    _, out, _ = reader.run([postconf, "-d", "mail_version"])
    result["versions"]["postfix"] = out.partition(" = ")[2].strip() or None
    if params["postconf"]:
        # An unknown parameter is a warning on stderr; the others are still printed.
        _, out, _ = reader.run([postconf, "-x", "--", *params["postconf"]])
        result["postconf"] = key_value_lines(out)
    if params["postconf_services"]:
        # -x: an override that names a main.cf parameter ($mua_sender_restrictions) is shown as what it expands to.
        _, out, _ = reader.run([postconf, "-x", "-P"])
        services: dict[str, dict[str, str]] = {}
        for name, value in key_value_lines(out).items():
            service, _, parameter = name.rpartition("/")
            services.setdefault(service, {})[parameter] = value
        result["postconf_services"] = services
        _, out, _ = reader.run([postconf, "-M"])
        result["master_services"] = ["/".join(line.split()[:2]) for line in out.splitlines() if len(line.split()) >= 2]


def read_doveconf(reader: Reader, params: dict, result: dict) -> None:
    doveconf = reader.program("doveconf")
    if doveconf is None:
        return
    _, version, _ = reader.run([reader.program("dovecot") or doveconf, "--version"])
    result["versions"]["dovecot"] = version.split()[0] if version.strip() else None
    if not params["doveconf"]:
        return
    values: dict[str, str] = {}
    rc, out, _ = reader.run([doveconf, *params["doveconf"]])
    if rc == 0:
        values = key_value_lines(out)
    else:
        # One unknown setting fails the whole call: ask for each alone.
        for name in params["doveconf"]:
            rc, out, _ = reader.run([doveconf, "-h", name])
            if rc == 0:
                values[name] = out.strip()
    result["doveconf"] = values


def read_nft(reader: Reader, params: dict, result: dict) -> None:
    nft = reader.program("nft")
    if nft is None:
        return
    rc, out, _ = reader.run([nft, "-j", "list", "table", "inet", params["nft_table"]])
    result["nft"] = json.loads(out).get("nftables", []) if rc == 0 and out.strip() else None


def read_listening(reader: Reader, result: dict) -> None:
    ss = reader.program("ss")
    if ss is None:
        return
    _, out, _ = reader.run([ss, "-Hltn"])
    ports = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            ports.add(int(fields[3].rpartition(":")[2]))
    result["listening"] = sorted(ports)


def name_of(lookup, number: int) -> str:
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def read_files(paths: list[str]) -> dict:
    found = {}
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            found[path] = {"exists": False}
            continue
        kind = "file" if stat.S_ISREG(st.st_mode) else "directory" if stat.S_ISDIR(st.st_mode) else "other"
        found[path] = {
            "exists": True,
            "type": kind,
            "mode": f"{stat.S_IMODE(st.st_mode):04o}",
            "owner": name_of(pwd.getpwuid, st.st_uid),
            "group": name_of(grp.getgrgid, st.st_gid),
        }
    return found


def read_certificate(path: str, now: datetime.datetime, with_pem: bool) -> dict:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return {"exists": False}
    try:  # the roles install it; a host the roles never touched may lack it
        from cryptography import x509  # noqa: PLC0415 - optional on the host, needed only here
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: PLC0415 - as above
    except ImportError:
        return {"exists": True, "error": "Python's cryptography is not installed on the host"}
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError as e:
        return {"exists": True, "error": f"not a PEM certificate: {e}"}
    # cryptography 42 and newer say it in UTC; Debian 12's 38 only as a naive datetime, which is UTC too.
    not_after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(tzinfo=datetime.UTC)
    not_before = getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before.replace(tzinfo=datetime.UTC)
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key_type, bits = "RSA", key.key_size
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_type, bits = f"ECDSA {key.curve.name}", key.curve.key_size
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key_type, bits = "Ed25519", 256
    else:
        key_type, bits = type(key).__name__, None
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    except x509.ExtensionNotFound:
        names = []
    try:
        constraints = cert.extensions.get_extension_for_class(x509.NameConstraints)
        permitted = [
            subtree.value for subtree in constraints.value.permitted_subtrees or [] if isinstance(subtree, x509.DNSName)
        ]
        constraints_critical = constraints.critical
    except x509.ExtensionNotFound:
        permitted, constraints_critical = [], False
    found = {
        "exists": True,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "names": list(names),
        "not_after": not_after.isoformat(),
        "days_left": (not_after - now).days,
        "lifetime_days": (not_after - not_before).days,
        "key_type": key_type,
        "key_bits": bits,
        "key": f"{key_type} {bits}",
        "permitted_names": permitted,
        "name_constraints_critical": constraints_critical,
    }
    if with_pem:
        # The file's certificates only, each re-encoded from its parsed form: nothing else the file holds leaves it.
        from cryptography.hazmat.primitives.serialization import Encoding  # noqa: PLC0415 - as above

        blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", data, re.S)
        found["pem"] = "".join(
            x509.load_pem_x509_certificate(block).public_bytes(Encoding.PEM).decode() for block in blocks
        )
    return found


def read_units(reader: Reader, units: list[str]) -> dict:
    systemctl = reader.program("systemctl")
    if systemctl is None or not units:
        return {}
    _, out, _ = reader.run([systemctl, "show", "--property=Id,ActiveState,UnitFileState", "--", *units])
    found = {}
    # One block of properties a unit, in the order asked, separated by empty lines.
    blocks = out.strip().split("\n\n")
    for unit, block in zip(units, blocks, strict=False):
        props = dict(line.partition("=")[::2] for line in block.splitlines())
        found[unit] = {"active": props.get("ActiveState", "unknown"), "enabled": props.get("UnitFileState", "")}
    return found


# needrestart's configuration evaluated as needrestart evaluates it (needrestart.conf reads conf.d/*.conf).
NEEDRESTART_MODE = (
    'our %nrconf; our $LOGPREF = ""; do "/etc/needrestart/needrestart.conf" // exit 1; '
    'print $nrconf{restart} // "unset"'
)


# A line of apt-get --simulate: "Inst NAME [OLD] (NEW ORIGIN:VERSION/ARCHIVE, ... [ARCH])".
SIMULATED_INSTALL = re.compile(r"^Inst (?P<name>\S+)(?: \[[^\]]*\])? \((?P<new>\S+) (?P<origins>[^\[)]*)")
REBOOT_REQUIRED = "/run/reboot-required"


def security_pending(simulated: str) -> list[str]:
    """The packages apt-get --simulate would install from an archive whose name says security, sorted."""
    found = set()
    for line in simulated.splitlines():
        match = SIMULATED_INSTALL.match(line)
        if match and "security" in match["origins"].lower():
            found.add(match["name"])
    return sorted(found)


def read_reboot_required(path: str = REBOOT_REQUIRED) -> tuple[bool, list[str]]:
    """Whether an update asked for a reboot, and the packages that did (Debian's update-notifier convention)."""
    if not os.path.exists(path):
        return False, []
    try:
        with open(path + ".pkgs", encoding="utf-8", errors="replace") as handle:
            return True, sorted({line.strip() for line in handle if line.strip()})
    except OSError:
        return True, []


def read_updates(reader: Reader) -> dict:
    """What unattended-upgrades installs and when (apt-config), and needrestart's restart mode."""
    found: dict = {"origins": [], "periodic": {}, "needrestart_restart": "unset"}
    found["reboot_required"], found["reboot_packages"] = read_reboot_required()
    apt_get = reader.program("apt-get")
    if apt_get is not None:
        # A simulation takes no lock and changes nothing; it reads the lists APT's daily run refreshed.
        rc, out, _ = reader.run([apt_get, "--simulate", "--quiet", "-o", "Debug::NoLocking=true", "upgrade"])
        found["security_pending"] = security_pending(out) if rc == 0 else []
    apt_config = reader.program("apt-config")
    if apt_config is not None:
        _, out, _ = reader.run([apt_config, "dump", "--format", "%v%n", "Unattended-Upgrade::Origins-Pattern"])
        found["origins"] = [line for line in out.splitlines() if line]
        _, out, _ = reader.run([apt_config, "dump", "--format", "%f %v%n", "APT::Periodic"])
        for line in out.splitlines():
            name, _, value = line.partition(" ")
            if value:
                found["periodic"][name.removeprefix("APT::Periodic::")] = value
    perl = reader.program("perl")
    if perl is not None and os.path.exists("/etc/needrestart/needrestart.conf"):
        rc, out, _ = reader.run([perl, "-e", NEEDRESTART_MODE])
        found["needrestart_restart"] = out.strip() if rc == 0 and out.strip() else "unset"
    return found


# Where the host's resolver configuration is, and Postfix's chroot copy of it.
RESOLV_CONFS = {"nameservers": "/etc/resolv.conf", "postfix_nameservers": "/var/spool/postfix/etc/resolv.conf"}
UNBOUND_OPTIONS = ("interface", "module-config", "auto-trust-anchor-file")


def nameservers(text: str) -> list[str]:
    """The nameserver lines of a resolv.conf, in order."""
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            found.append(words[1])
    return found


def read_resolver(reader: Reader) -> dict:
    """Whom the host (and Postfix in its chroot) asks, and what unbound reads from its configuration."""
    found: dict = {}
    for key, path in RESOLV_CONFS.items():
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                found[key] = nameservers(handle.read())
        except OSError:
            found[key] = None
    checkconf = reader.program("unbound-checkconf")
    for option in UNBOUND_OPTIONS:
        if checkconf is None:
            found[option] = None
            continue
        rc, out, _ = reader.run([checkconf, "-o", option])
        values = [line.strip() for line in out.splitlines() if line.strip()] if rc == 0 else []
        found[option] = values if option == "interface" else " ".join(values)
    return found


def read_fail2ban(reader: Reader) -> dict:
    client = reader.program("fail2ban-client")
    if client is None:
        return {"running": False, "jails": {}}
    rc, out, _ = reader.run([client, "status"])
    if rc != 0:
        return {"running": False, "jails": {}}
    listed = re.search(r"Jail list:\s*(.*)", out)
    names = [name.strip() for name in (listed.group(1) if listed else "").split(",") if name.strip()]
    jails = {}
    for name in names:
        _, bantime, _ = reader.run([client, "get", name, "bantime"])
        _, status, _ = reader.run([client, "status", name])
        banned = re.search(r"Currently banned:\s*(\d+)", status)
        jails[name] = {
            "bantime": int(bantime.strip()) if bantime.strip().lstrip("-").isdigit() else None,
            "banned": int(banned.group(1)) if banned else None,
        }
    return {"running": True, "jails": jails}


def first_lines(text: str) -> str:
    return "\n".join(line for line in text.strip().splitlines()[:CHECK_OUTPUT_LINES])


def run_check(reader: Reader, program: str, args: list[str]) -> dict:
    path = reader.program(program)
    if path is None:
        return {"passed": False, "output": f"{program} is not installed"}
    rc, out, err = reader.run([path, *args])
    # postfix check and fail2ban-client -t print warnings on stderr and still exit 0: a warning is a complaint.
    complaint = err.strip() if program == "postfix" else ""
    return {"passed": rc == 0 and not complaint, "output": first_lines(err or out) if rc or complaint else ""}


def read_config_checks(reader: Reader, params: dict) -> dict:
    checks = {}
    for name in params["config_checks"]:
        if name == "postfix":
            checks[name] = run_check(reader, "postfix", ["check"])
        elif name == "dovecot":
            found = run_check(reader, "doveconf", ["-n"])
            checks[name] = {"passed": found["passed"], "output": found["output"] if not found["passed"] else ""}
        elif name == "fail2ban":
            checks[name] = run_check(reader, "fail2ban-client", ["-t"])
        elif name == "unbound":
            checks[name] = run_check(reader, "unbound-checkconf", [])
        elif name == "nftables":
            checks[name] = run_check(reader, "nft", ["-c", "-f", params["nftables_file"]])
        elif name == "opendkim":
            # A signer whose configuration is not installed (no Ed25519 key) has nothing to check.
            configs = [config for config in params["opendkim_configs"] if os.path.exists(config)]
            results = [run_check(reader, "opendkim", ["-n", "-x", config]) for config in configs]
            checks[name] = {
                "passed": bool(results) and all(r["passed"] for r in results),
                "output": "\n".join(r["output"] for r in results if r["output"])
                or ("" if results else "no OpenDKIM configuration to check"),
            }
    return checks


def read_journal(reader: Reader, since: str) -> dict:
    journalctl = reader.program("journalctl")
    if journalctl is None:
        return {}
    # The mail daemons' and fail2ban's own lines only: another unit's line may quote these messages (a module's
    # logged arguments holding a fail2ban filter's examples).
    units = [arg for unit in JOURNAL_UNITS for arg in ("-u", unit)]
    _, out, _ = reader.run([journalctl, "--no-pager", "--quiet", "-o", "short", "--since", since, *units])
    return count_journal(out)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "postconf": {"type": "list", "elements": "str", "default": []},
            "postconf_services": {"type": "bool", "default": False},
            "doveconf": {"type": "list", "elements": "str", "default": []},
            "nft_table": {"type": "str", "default": ""},
            "listening": {"type": "bool", "default": False},
            "files": {"type": "list", "elements": "path", "default": []},
            "certificates": {"type": "list", "elements": "path", "default": []},
            "certificate_pem": {"type": "list", "elements": "path", "default": []},
            "units": {"type": "list", "elements": "str", "default": []},
            "fail2ban": {"type": "bool", "default": False},
            "updates": {"type": "bool", "default": False},
            "resolver": {"type": "bool", "default": False},
            "config_checks": {
                "type": "list",
                "elements": "str",
                "default": [],
                "choices": ["postfix", "dovecot", "fail2ban", "opendkim", "nftables", "unbound"],
            },
            "opendkim_configs": {"type": "list", "elements": "path", "default": []},
            "opendkim": {"type": "list", "elements": "path", "default": []},
            "nftables_file": {"type": "path", "default": "/etc/mailfort/firewall.nft"},
            "journal_since": {"type": "str", "default": ""},
            "dns_records": {"type": "path", "default": ""},
            "mta_sts_policy": {"type": "path", "default": ""},
        },
        supports_check_mode=True,
    )
    params = module.params
    reader = Reader(module)
    result: dict = {"changed": False, "versions": {}}
    now = datetime.datetime.now(datetime.UTC)
    read_postconf(reader, params, result)
    read_doveconf(reader, params, result)
    if params["opendkim"]:
        result["opendkim"] = {path: read_opendkim(path) for path in params["opendkim"]}
    if params["nft_table"]:
        read_nft(reader, params, result)
    if params["listening"]:
        read_listening(reader, result)
    result["files"] = read_files(params["files"])
    result["certificates"] = {
        path: read_certificate(path, now, path in params["certificate_pem"]) for path in params["certificates"]
    }
    result["units"] = read_units(reader, params["units"])
    if params["fail2ban"]:
        result["fail2ban"] = read_fail2ban(reader)
    if params["updates"]:
        result["updates"] = read_updates(reader)
    if params["resolver"]:
        result["resolver"] = read_resolver(reader)
    result["config_checks"] = read_config_checks(reader, params)
    if params["journal_since"]:
        result["journal"] = read_journal(reader, params["journal_since"])
    # Public files the roles wrote, read whole (None when missing or unreadable).
    readers = {"dns_records": json.load, "mta_sts_policy": lambda handle: handle.read(MTA_STS_MAX)}
    for name, read in readers.items():
        if params[name]:
            try:
                with open(params[name], encoding="utf-8") as handle:
                    result[name] = read(handle)
            except (OSError, ValueError):
                result[name] = None
    result["missing"] = reader.missing
    module.exit_json(**result)


if __name__ == "__main__":
    main()
