# SPDX-License-Identifier: MIT
"""Verify every DKIM signature of a message with dkimpy, fetching keys from one DNS server; print JSON.

Usage: .venv-judges/bin/python tests/judges/dkim_verify.py NAMESERVER < message

Runs in .venv-judges, apart from mailfort's code: the verdict is dkimpy's alone. The key records come from
NAMESERVER (the lab's authoritative server), not from this machine's resolver. Output: a list with, per
DKIM-Signature header, its d=, s=, a= and whether dkimpy verified it.
"""

from __future__ import annotations

import json
import sys

import dkim
import dns.message
import dns.query
import dns.rdatatype


def main(nameserver: str) -> int:
    message = sys.stdin.buffer.read()

    def txt(name: bytes, timeout: int = 5) -> bytes | None:
        query = dns.message.make_query(name.decode().rstrip("."), dns.rdatatype.TXT)
        answer = dns.query.tcp(query, nameserver, timeout=timeout)
        for rrset in answer.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                return b"".join(b"".join(r.strings) for r in rrset)
        return None

    verdicts = []
    signer = dkim.DKIM(message)
    headers = [value for name, value in signer.headers if name.lower() == b"dkim-signature"]
    for index, header in enumerate(headers):
        tags = dkim.util.parse_tag_value(b"".join(header.split()))
        try:
            verified, reason = bool(dkim.DKIM(message).verify(idx=index, dnsfunc=txt)), ""
        except dkim.DKIMException as e:  # a broken signature (body hash mismatch) is a verdict, not a crash
            verified, reason = False, str(e)
        verdicts.append(
            {
                "d": tags.get(b"d", b"").decode(),
                "s": tags.get(b"s", b"").decode(),
                "a": tags.get(b"a", b"").decode(),
                "c": tags.get(b"c", b"").decode(),
                "h": tags.get(b"h", b"").decode(),
                "verified": verified,
                "reason": reason,
            }
        )
    json.dump(verdicts, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
