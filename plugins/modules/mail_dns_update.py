#!/usr/bin/python
# SPDX-License-Identifier: MIT
"""Publish a set of DNS records to an authoritative server in one RFC 2136 update, signed with TSIG."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mail_dns_update
short_description: Publish mail DNS records with one RFC 2136 dynamic update, signed with TSIG
version_added: "0.1.0"
description:
  - Reads the current records from the zone's primary server, works out what differs from the wanted records and
    sends all the differences in one dynamic update (RFC 2136), so the zone never holds half of a change.
  - A TXT record whose entry has a C(match) tag owns only the TXT strings that start with that tag (C(v=spf1),
    C(v=DMARC1), ...); other TXT records at the same name (site verifications) are left as they are.
  - Reads the records back after the update and fails unless the server serves what was sent.
  - "Runs on the controller (C(delegate_to: localhost)) and needs dnspython there."
options:
  server:
    description: IP address of the zone's primary (authoritative) server; a host name is not resolved.
    type: str
    required: true
  port:
    description: Port of the server.
    type: int
    default: 53
  zone:
    description: The zone to update; records outside it are refused.
    type: str
    required: true
  key_name:
    description: Name of the TSIG key the server accepts updates with. Empty sends unsigned updates.
    type: str
    default: ""
  key_secret:
    description: Base64 secret of the TSIG key.
    type: str
    default: ""
  key_algorithm:
    description: TSIG algorithm.
    type: str
    default: hmac-sha256
    choices: [hmac-sha256, hmac-sha384, hmac-sha512]
  timeout:
    description:
      - Seconds to wait for each answer, and for the server to serve what it accepted (a server that signs the zone
        inline serves an update a moment after it accepts it).
    type: float
    default: 10
  records:
    description: Records that must be present, each with C(name), C(type), C(ttl) (default 3600), C(values)
      (presentation format) and, for TXT, C(match).
    type: list
    elements: dict
    default: []
  absent:
    description: Records that must be gone, each with C(name), C(type) and, for TXT, C(match).
    type: list
    elements: dict
    default: []
requirements:
  - dnspython (on the controller)
attributes:
  check_mode:
    description: Compares with the server and reports what would change, sending no update.
    support: full
  diff_mode:
    description: Shows the deleted and added records in zone-file form.
    support: full
author: mailfort contributors
"""

EXAMPLES = r"""
- name: Publish the DMARC record
  mailfort.mail.mail_dns_update:
    server: 192.0.2.53
    zone: example.org
    key_name: mailfort-update
    key_secret: "{{ vault_tsig_secret }}"
    records:
      - name: _dmarc.example.org.
        type: TXT
        ttl: 3600
        values: ['"v=DMARC1; p=reject"']
        match: v=DMARC1
  delegate_to: localhost
  no_log: true
"""

RETURN = r"""
changes:
  description: What was (or, in check mode, would be) deleted and added, per name and type.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The absolute name of the record.
      type: str
      returned: always
      sample: _dmarc.example.org.
    type:
      description: The record type.
      type: str
      returned: always
      sample: TXT
    delete:
      description: The values deleted, in presentation format.
      type: list
      elements: str
      returned: always
      sample: ['"v=DMARC1; p=none"']
    add:
      description: The values added, in presentation format.
      type: list
      elements: str
      returned: always
      sample: ['"v=DMARC1; p=reject"']
"""

import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

# Seconds between two questions for records the server accepted and does not serve yet.
RECHECK_INTERVAL = 0.5

try:
    import dns.exception
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.tsig
    import dns.tsigkeyring
    import dns.update

    HAS_DNSPYTHON = True
except ImportError:
    HAS_DNSPYTHON = False


def _txt_text(rdata) -> str:
    return b"".join(rdata.strings).decode("utf-8", "replace")


def _owned(rdata, match: str) -> bool:
    """A TXT rdata belongs to a record kind when its text starts with the kind's tag, as a whole word."""
    if not match:
        return True
    text = _txt_text(rdata)
    if not text.lower().startswith(match.lower()):
        return False
    rest = text[len(match) :]
    return rest == "" or rest[0] in " ;"


class Publisher:
    def __init__(self, module: AnsibleModule):
        self.module = module
        params = module.params
        self.server = params["server"]
        self.port = params["port"]
        self.timeout = params["timeout"]
        self.zone = dns.name.from_text(params["zone"])
        self.keyring = None
        self.algorithm = dns.tsig.default_algorithm
        if params["key_name"]:
            try:
                self.keyring = dns.tsigkeyring.from_text({params["key_name"]: params["key_secret"]})
            except (ValueError, TypeError, dns.exception.DNSException) as e:  # a bad base64 secret or key name
                module.fail_json(msg=f"mail_dns_update: the TSIG key {params['key_name']!r} is unusable: {e}")
            self.algorithm = dns.name.from_text(params["key_algorithm"])

    def _send(self, message):
        if self.keyring:
            message.use_tsig(self.keyring, algorithm=self.algorithm)
        try:
            return dns.query.tcp(message, self.server, timeout=self.timeout, port=self.port)
        except (OSError, dns.exception.DNSException) as e:
            self.module.fail_json(msg=f"mail_dns_update: no answer from {self.server}:{self.port}: {e}")

    def _name(self, text: str):
        name = dns.name.from_text(text)
        if not name.is_subdomain(self.zone):
            self.module.fail_json(msg=f"mail_dns_update: {text} is not in zone {self.zone}")
        return name

    def current(self, name, rdtype):
        response = self._send(dns.message.make_query(name, rdtype))
        if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            self.module.fail_json(
                msg=f"mail_dns_update: {self.server} answered {dns.rcode.to_text(response.rcode())} for {name} {rdtype}"
            )
        for rrset in response.answer:
            if rrset.name == name and rrset.rdtype == rdtype:
                return rrset.ttl, list(rrset)
        return None, []

    def plan(self):
        """Compare each wanted and unwanted record with the server; return the changes as (name, type, del, add)."""
        changes = []
        wanted = [(r, True) for r in self.module.params["records"]] + [(r, False) for r in self.module.params["absent"]]
        for record, present in wanted:
            name = self._name(record["name"])
            rdtype = dns.rdatatype.from_text(record["type"])
            match = record.get("match") or ""
            ttl, rdatas = self.current(name, rdtype)
            owned = [r for r in rdatas if rdtype != dns.rdatatype.TXT or _owned(r, match)]
            desired = []
            if present:
                try:
                    desired = [
                        dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, origin=dns.name.root)
                        for value in record["values"]
                    ]
                except dns.exception.DNSException as e:
                    self.module.fail_json(msg=f"mail_dns_update: {record['name']} {record['type']} is malformed: {e}")
            new_ttl = int(record.get("ttl", 3600))
            if present and owned and set(owned) == set(desired) and ttl != new_ttl:
                delete, add = owned, desired  # a changed TTL is sent as a replacement
            else:
                delete = [r for r in owned if r not in desired]
                add = [r for r in desired if r not in owned]
            if delete or add:
                changes.append((name, rdtype, new_ttl, delete, add))
        return changes

    def apply(self, changes):
        update = dns.update.UpdateMessage(self.zone)
        for name, _rdtype, ttl, delete, add in changes:
            for rdata in delete:
                update.delete(name, rdata)
            for rdata in add:
                update.add(name, ttl, rdata)
        response = self._send(update)
        if response.rcode() != dns.rcode.NOERROR:
            self.module.fail_json(
                msg=f"mail_dns_update: {self.server} refused the update of zone {self.zone}: "
                f"{dns.rcode.to_text(response.rcode())}"
            )
        # A server that signs the zone inline (BIND's dnssec-policy) serves an update once it has signed it, a moment
        # after it accepted it: each record is asked for again until it is served or the timeout is over.
        deadline = time.monotonic() + self.timeout
        for name, rdtype, ttl, delete, add in changes:
            gone = [r for r in delete if r not in add]  # a TTL change deletes and adds the same rdata
            while True:
                served_ttl, served = self.current(name, rdtype)
                if not (
                    any(r not in served for r in add) or any(r in served for r in gone) or (add and served_ttl != ttl)
                ):
                    break
                if time.monotonic() > deadline:
                    self.module.fail_json(
                        msg=f"mail_dns_update: {self.server} accepted the update but does not serve {name} "
                        f"{dns.rdatatype.to_text(rdtype)} as sent (asked again for {self.timeout:g} s)"
                    )
                time.sleep(RECHECK_INTERVAL)


def _line(name, rdtype, ttl, rdata) -> str:
    return f"{name} {ttl} IN {dns.rdatatype.to_text(rdtype)} {rdata.to_text()}\n"


def main():
    module = AnsibleModule(
        argument_spec={
            "server": {"type": "str", "required": True},
            "port": {"type": "int", "default": 53},
            "zone": {"type": "str", "required": True},
            "key_name": {"type": "str", "default": ""},
            "key_secret": {"type": "str", "default": "", "no_log": True},
            "key_algorithm": {
                "type": "str",
                "default": "hmac-sha256",
                "choices": ["hmac-sha256", "hmac-sha384", "hmac-sha512"],
            },
            "timeout": {"type": "float", "default": 10},
            "records": {"type": "list", "elements": "dict", "default": []},
            "absent": {"type": "list", "elements": "dict", "default": []},
        },
        supports_check_mode=True,
    )
    if not HAS_DNSPYTHON:
        module.fail_json(msg=missing_required_lib("dnspython"))

    publisher = Publisher(module)
    changes = publisher.plan()
    if changes and not module.check_mode:
        publisher.apply(changes)

    report = [
        {
            "name": name.to_text(),
            "type": dns.rdatatype.to_text(rdtype),
            "delete": [r.to_text() for r in delete],
            "add": [r.to_text() for r in add],
        }
        for name, rdtype, _ttl, delete, add in changes
    ]
    diff = {
        "before_header": f"zone {publisher.zone} on {publisher.server}",
        "after_header": f"zone {publisher.zone} on {publisher.server}",
        "before": "".join(_line(n, t, ttl, r) for n, t, ttl, delete, _ in changes for r in delete),
        "after": "".join(_line(n, t, ttl, r) for n, t, ttl, _, add in changes for r in add),
    }
    module.exit_json(changed=bool(changes), changes=report, diff=diff)


if __name__ == "__main__":
    main()
