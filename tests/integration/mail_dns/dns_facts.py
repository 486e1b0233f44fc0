# SPDX-License-Identifier: MIT
"""What the mail_dns scenario's inventory says (molecule/mail_dns/molecule.yml), and the helpers its tests share:
asking the lab's DNS server, sending a message from the client, reading it back over IMAPS, and the judges."""

from __future__ import annotations

import imaplib
import json
import os
import secrets
import ssl
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
from probes import address, host_name

DOMAIN = "lab.mailfort.test"
CLIENT = "mailfort-dns-client"
NAMESERVER = "mailfort-dns-ns"
NETWORK = "mailfort-molecule-dns"
# The lab-only TSIG secret of molecule.yml: the tests look for it where it must never be.
TSIG_SECRET = "cJ11+e6vnSsNA3TOYoH5rHE4d/7INAwfVzGgDuZuSCk="  # noqa: S105 - a lab secret, searched for, not used
LAB_CA = "/etc/ssl/mailfort/lab-ca/ca.pem"
ALICE, ALICE_PASSWORD = f"alice@{DOMAIN}", "Tangerine-Orbit-Velvet-91"
BOB, BOB_PASSWORD = f"bob@{DOMAIN}", "Juniper-Cascade-Falcon-73"
# Each MX host: its name in DNS and its DKIM selectors (rsa, ed25519).
MX = {
    "mailfort-dns-bookworm": {"name": f"mx1.{DOMAIN}", "rsa": "mx1r2026", "ed25519": "mx1e2026"},
    "mailfort-dns-trixie": {"name": f"mx2.{DOMAIN}", "rsa": "mx2r2026", "ed25519": "mx2e2026"},
}
# mta-sts.<domain> points to the first MX host, whose nginx serves the policy.
MTA_STS_HOST = "mailfort-dns-bookworm"
JUDGES = Path(__file__).resolve().parents[2] / "judges"


def inventory_keys(name: str) -> list[dict]:
    """dkim_keys of the host as molecule's inventory gives it, with the dkim role's defaults filled in."""
    shown = subprocess.run(
        ["ansible-inventory", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--host", name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    defaults = {"algorithm": "rsa", "bits": 2048, "signing": True, "state": "present"}
    return [defaults | key for key in json.loads(shown)["dkim_keys"]]


def container_address(name: str) -> str:
    inspected = subprocess.run(["podman", "container", "inspect", name], capture_output=True, check=True).stdout
    inspect = json.loads(inspected)
    return inspect[0]["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]


def query(nameserver: str, name: str, rdtype: str) -> list:
    """The rdata the lab's server answers for NAME and TYPE (empty when there is none)."""
    response = dns.query.tcp(dns.message.make_query(name, rdtype), nameserver, timeout=5)
    wanted = dns.rdatatype.from_text(rdtype)
    return [r for rrset in response.answer if rrset.rdtype == wanted for r in rrset]


def txt(nameserver: str, name: str) -> list[str]:
    return [b"".join(r.strings).decode() for r in query(nameserver, name, "TXT")]


def serial(nameserver: str) -> int:
    return query(nameserver, DOMAIN, "SOA")[0].serial


def token() -> str:
    return secrets.token_hex(6)


def submit(client, host, subject: str, sender: str = ALICE, password: str = ALICE_PASSWORD) -> None:
    """The client submits one message to the host on 587 (STARTTLS, SASL login), as a mail program would."""
    result = client.run(
        "swaks --silent 2 --server %s --port 587 --tls --auth PLAIN --auth-user %s --auth-password %s "
        "--from %s --to %s --header %s --body %s",
        address(host),
        sender,
        password,
        sender,
        BOB,
        f"Subject: {subject}",
        f"DKIM test {subject}",
    )
    assert result.rc == 0, f"submission to {host_name(host)} failed: {result.stdout[-2000:]} {result.stderr[-2000:]}"


def fetch(host, anchor: str, subject: str, timeout: float = 30) -> bytes:
    """The message with SUBJECT from Bob's inbox on the host, read over IMAPS as a mail client reads it."""
    context = ssl.create_default_context(cadata=anchor)
    context.check_hostname = False  # the lab certificate names the MX, the tests reach it by address
    deadline = time.monotonic() + timeout
    while True:
        with imaplib.IMAP4_SSL(address(host), 993, ssl_context=context, timeout=15) as imap:
            imap.login(BOB, BOB_PASSWORD)
            imap.select("INBOX", readonly=True)
            numbers = imap.search(None, "SUBJECT", f'"{subject}"')[1][0].split()
            if numbers:
                return imap.fetch(numbers[-1], "(BODY.PEEK[])")[1][0][1]
        assert time.monotonic() < deadline, f"{subject!r} did not reach Bob's mailbox on {host_name(host)}"
        time.sleep(0.5)


def dkim_verdicts(project_dir: Path, nameserver: str, message: bytes) -> list[dict]:
    """dkimpy's verdict on each DKIM-Signature of the message, keys fetched from the lab's server."""
    result = subprocess.run(
        [str(project_dir / ".venv-judges/bin/python"), str(JUDGES / "dkim_verify.py"), nameserver],
        input=message,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return json.loads(result.stdout)


def checkdmarc_results(project_dir: Path, nameserver: str, ca_bundle: Path) -> dict:
    """checkdmarc's results for the lab domain as the lab's server serves it; HTTPS trusts CA_BUNDLE."""
    result = subprocess.run(
        [
            str(project_dir / ".venv-judges/bin/python"),
            str(JUDGES / "checkdmarc_judge.py"),
            nameserver,
            DOMAIN,
            str(ca_bundle),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(result.stdout)
    return results[0] if isinstance(results, list) else results
