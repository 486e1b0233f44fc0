# SPDX-License-Identifier: MIT
"""What the lab's inventory says about DKIM and the domain's records (molecule/lab/inventory, read with
ansible-inventory; every other lab value comes from lab.py), and the helpers the mail_dns tests share: asking the
lab's DNS server, sending a message from the client, reading it back over IMAPS, and the judges."""

from __future__ import annotations

import functools
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
from lab import ADDRESSES, ALICE, ALICE_APPS, BOB, BOB_MAIN, DOMAIN, INVENTORY, PROJECT_DIR
from probes import address, host_name

JUDGES = PROJECT_DIR / "tests" / "judges"
KEY_DIR = "/etc/opendkim/keys"
# The dkim role's defaults for what a dkim_keys entry leaves out (roles/dkim/meta/argument_specs.yml).
KEY_DEFAULTS = {"algorithm": "rsa", "bits": 2048, "signing": True, "state": "present"}


@functools.cache
def _inventory_host(name: str) -> str:
    """ansible-inventory's view of one host of the lab's inventory (its group_vars and host_vars merged), as JSON."""
    return subprocess.run(
        ["ansible-inventory", "-i", str(INVENTORY), "--host", name],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_DIR,
        env={**os.environ, "ANSIBLE_CONFIG": str(PROJECT_DIR / "ansible.cfg")},
    ).stdout


def inventory_vars(name: str) -> dict:
    """The host's variables as the lab's inventory gives them (not templated: a fresh copy on every call)."""
    return json.loads(_inventory_host(name))


def inventory_keys(name: str) -> list[dict]:
    """dkim_keys of the host as the lab's inventory gives it, with the dkim role's defaults filled in."""
    return [KEY_DEFAULTS | key for key in inventory_vars(name)["dkim_keys"]]


def selectors(name: str) -> dict[str, str]:
    """The host's signing selector of each algorithm (rsa, ed25519), from the lab's inventory."""
    keys = inventory_keys(name)
    return {k["algorithm"]: k["selector"] for k in keys if k["state"] == "present" and k["signing"]}


def query(nameserver: str, name: str, rdtype: str) -> list:
    """The rdata the lab's server answers for NAME and TYPE (empty when there is none)."""
    response = dns.query.tcp(dns.message.make_query(name, rdtype), nameserver, timeout=5)
    wanted = dns.rdatatype.from_text(rdtype)
    return [r for rrset in response.answer if rrset.rdtype == wanted for r in rrset]


def txt(nameserver: str, name: str) -> list[str]:
    return [b"".join(r.strings).decode() for r in query(nameserver, name, "TXT")]


def serial(nameserver: str) -> int:
    return query(nameserver, DOMAIN, "SOA")[0].serial


def host_at(nameserver: str, name: str) -> str:
    """The lab host that NAME's A record points to, as the lab's DNS server answers."""
    addresses = [r.address for r in query(nameserver, name, "A")]
    assert len(addresses) == 1, f"{name} has A records {addresses}"
    return next(host for host, lab_address in ADDRESSES.items() if lab_address == addresses[0])


def token() -> str:
    return secrets.token_hex(6)


def submit(client, host, subject: str, sender: str = ALICE, password: str = ALICE_APPS["laptop"]) -> None:
    """The client submits one message to the host on 587 (STARTTLS, SASL login), as a mail program would. Alice's
    main password is barred from mail in the lab (mail_login: false): she logs in with her laptop's app password."""
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
    """The message with SUBJECT from Bob's inbox on the host, read over IMAPS as a mail client reads it: one
    connection that looks again until the message is there (a new connection per look would feed the firewall's
    per-source meter, which does not exempt the controller)."""
    context = ssl.create_default_context(cadata=anchor)
    context.check_hostname = False  # the lab certificate names the MX, the tests reach it by address
    deadline = time.monotonic() + timeout
    with imaplib.IMAP4_SSL(address(host), 993, ssl_context=context, timeout=15) as imap:
        imap.login(BOB, BOB_MAIN)
        imap.select("INBOX", readonly=True)
        while True:
            numbers = imap.search(None, "SUBJECT", f'"{subject}"')[1][0].split()
            if numbers:
                return imap.fetch(numbers[-1], "(BODY.PEEK[])")[1][0][1]
            assert time.monotonic() < deadline, f"{subject!r} did not reach Bob's mailbox on {host_name(host)}"
            time.sleep(0.5)
            imap.noop()  # the server reports what arrived meanwhile


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


SOCKET_DIR = "/var/spool/postfix/opendkim"
# One signer process per algorithm (roles/dkim/vars/main.yml): unit, configuration file, socket, Postfix address.
SIGNERS = {
    "rsa": ("opendkim.service", "/etc/opendkim.conf", f"{SOCKET_DIR}/opendkim.sock", "unix:opendkim/opendkim.sock"),
    "ed25519": (
        "opendkim-ed25519.service",
        "/etc/opendkim-ed25519.conf",
        f"{SOCKET_DIR}/opendkim-ed25519.sock",
        "unix:opendkim/opendkim-ed25519.sock",
    ),
}
# Everything the dkim role writes that a run must leave alone when nothing changed, and a refused run always.
DKIM_MANAGED = [
    "/etc/opendkim",
    "/etc/opendkim.conf",
    "/etc/opendkim-ed25519.conf",
    "/etc/default/opendkim",
    "/etc/systemd/system/opendkim.service.d",
    "/etc/systemd/system/opendkim-ed25519.service",
]
# What the mail_dns role writes on the host: a refused run leaves it, and the keys it publishes, alone.
DNS_MANAGED = ["/etc/opendkim", "/etc/mailfort/dns", "/var/www/mta-sts"]


def signer_pids(host) -> dict[str, str]:
    return {unit: host.check_output("systemctl show -P MainPID %s", unit) for unit, *_ in SIGNERS.values()}
