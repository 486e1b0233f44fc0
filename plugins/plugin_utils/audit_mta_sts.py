# SPDX-License-Identifier: MIT
"""The audit's look at the MTA-STS policy as a sending server fetches it (RFC 8461 section 3.3).

A sender looks up `mta-sts.<domain>`, connects to it on 443, checks its certificate for that name against the web
PKI (the audit: against the trust anchor it is given), sends `GET /.well-known/mta-sts.txt` and takes a 200 answer of
type text/plain, never following a redirect. This module does the same from the controller, with the domain's
records asked of the DNS server the audit was given, and compares the policy served at each address with the file
mail_dns wrote for the web server: the same lines, in the same order, line ends aside.
"""

from __future__ import annotations

import http.client
import socket
import ssl

from ansible_collections.mailfort.mail.plugins.plugin_utils import audit_probes

PATH = "/.well-known/mta-sts.txt"
PORT = 443
TIMEOUT = 10
# RFC 8461 section 3.3: a policy is at most 64 KiB.
MAX_BYTES = 64 * 1024


def policy_lines(text: str) -> list[str]:
    """A policy's lines as a sender reads them: CRLF or LF, trailing blanks and empty lines left out."""
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def policy_fields(text: str) -> dict:
    """The policy's `key: value` fields: version, mode, max_age (str) and mx (the list, in order)."""
    fields: dict = {"mx": []}
    for line in policy_lines(text):
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "mx":
            fields["mx"].append(value)
        else:
            fields.setdefault(key, value)
    return fields


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to ADDRESS, presenting NAME (SNI, the certificate check and the Host header): what a sender does
    after its own DNS lookup, here with the address the audit's DNS server gave."""

    def __init__(self, name: str, address: str, port: int, context: ssl.SSLContext, timeout: float):
        super().__init__(name, port, context=context, timeout=timeout)
        self._mailfort_address = address
        self._mailfort_context = context

    def connect(self) -> None:
        sock = socket.create_connection((self._mailfort_address, self.port), self.timeout)
        self.sock = self._mailfort_context.wrap_socket(sock, server_hostname=self.host)


def fetch_policy(name: str, address: str, ca_pem: str | None, port: int = PORT, timeout: float = TIMEOUT) -> dict:
    """GET https://NAME/.well-known/mta-sts.txt from ADDRESS: status, content_type and text, or error."""
    connection = _PinnedHTTPSConnection(name, address, port, audit_probes.verifying_context(ca_pem), timeout)
    try:
        connection.request("GET", PATH, headers={"Accept": "text/plain", "User-Agent": "mailfort-audit"})
        response = connection.getresponse()
        body = response.read(MAX_BYTES + 1)
    except ssl.SSLCertVerificationError as e:
        return {"error": f"certificate not trusted for {name}: {e.verify_message}"}
    except (OSError, http.client.HTTPException) as e:
        return {"error": f"{type(e).__name__}: {e}"}
    finally:
        connection.close()
    return {
        "status": response.status,
        "location": response.getheader("Location", ""),
        "content_type": response.getheader("Content-Type", ""),
        "too_large": len(body) > MAX_BYTES,
        "text": body[:MAX_BYTES].decode("utf-8", "replace"),
    }


def served_problem(served: dict, written: str) -> str:
    """What is wrong with one address's answer SERVED against the policy file WRITTEN; empty when nothing is."""
    if "error" in served:
        return served["error"]
    status, media_type = served["status"], served["content_type"].split(";")[0].strip().lower()
    problems = [
        (
            300 <= status < 400,
            f"HTTP {status} to {served['location'] or '?'}: a redirect, which RFC 8461 forbids following",
        ),
        (status != 200, f"HTTP {status}, wanted 200"),
        (
            media_type != "text/plain",
            f"Content-Type {served['content_type'] or 'none'}, wanted text/plain (RFC 8461 section 3.2)",
        ),
        (served["too_large"], f"the policy is larger than {MAX_BYTES} bytes (RFC 8461 section 3.3)"),
        (
            policy_lines(served["text"]) != policy_lines(written),
            f"serves {policy_lines(served['text'])}, mail_dns wrote {policy_lines(written)}",
        ),
    ]
    return next((problem for wrong, problem in problems if wrong), "")


def probe_mta_sts(server: str, domain: str, written: str | None, ca_pem: str | None, timeout: float = 5) -> dict:
    """The policy that https://mta-sts.DOMAIN serves at each address SERVER gives for the name, against WRITTEN (the
    file mail_dns wrote): url, addresses, policy (the served fields) and problem (empty when every address agrees)."""
    name = f"mta-sts.{domain.rstrip('.')}"
    found: dict = {"url": f"https://{name}{PATH}", "addresses": [], "policy": {}, "problem": ""}
    if written is None:
        found["problem"] = "the policy file mail_dns writes for the web server is missing on the host"
        return found
    try:
        addresses = [a for rdtype in ("A", "AAAA") for a in audit_probes.served_records(server, name, rdtype, timeout)]
    except Exception as e:  # any resolver failure is this probe's finding
        found["problem"] = f"asking {server} for {name}: {type(e).__name__}: {e}"
        return found
    if not addresses:
        found["problem"] = f"{server} serves no A or AAAA record for {name}"
        return found
    found["addresses"] = addresses
    problems = []
    for address in addresses:
        served = fetch_policy(name, address, ca_pem)
        if problem := served_problem(served, written):
            problems.append(f"{found['url']} at {address}: {problem}")
        elif not found["policy"]:
            found["policy"] = policy_fields(served["text"])
    found["problem"] = "; ".join(problems)
    return found
