# SPDX-License-Identifier: MIT
"""The shared lab every integration suite runs in (molecule/lab): its hosts, their addresses and names, the users
and secrets its inventory gives the roles. One place, so that a suite never looks an address up and never repeats a
lab value; the inventory (molecule/lab/inventory) is the source, tests/integration/test_lab_facts.py keeps the two
in step.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
INVENTORY = PROJECT_DIR / "molecule" / "lab" / "inventory"
# The provided-certificate host's own inventory: playbooks/postfix_hardening.yml alone, as a user would run it.
PROVIDED_INVENTORY = PROJECT_DIR / "molecule" / "lab" / "provided"
# Files the lab makes on the controller (the provided host's PKI), gone with `make lab-down`.
STATE_DIR = PROJECT_DIR / ".lab" / "test"

DOMAIN = "lab.mailfort.test"
NETWORK = "mailfort-test"
GATEWAY = "10.89.60.1"  # this machine, the controller

# The two MX hosts of the domain, converged with playbooks/site.yml.
MX1 = "mailfort-mx1"  # Debian 12: the roles' defaults
MX2 = "mailfort-mx2"  # Debian 13: the options a user may turn on (host_vars/mailfort-mx2.yml)
MAIL_HOSTS = [MX1, MX2]
PROVIDED = "mailfort-provided"  # Debian 13, playbooks/postfix_hardening.yml with a provided certificate
NAMESERVER = "mailfort-ns"  # BIND, primary for DOMAIN
CLIENT = "mailfort-client"  # on every allowlist and exemption
OUTSIDER = "mailfort-outsider"  # exempt from nothing in Postfix; fail2ban ignores it
ATTACKER = "mailfort-attacker"  # on no list at all

ADDRESSES = {
    MX1: "10.89.60.11",
    MX2: "10.89.60.12",
    PROVIDED: "10.89.60.13",
    NAMESERVER: "10.89.60.53",
    CLIENT: "10.89.60.21",
    OUTSIDER: "10.89.60.22",
    ATTACKER: "10.89.60.66",
}
# Each host's name in DNS, the first name of its certificate.
NAMES = {
    MX1: f"mx1.{DOMAIN}",
    MX2: f"mx2.{DOMAIN}",
    PROVIDED: "smtp.provided.mailfort.test",
}
# Every name on an MX host's certificate (mail_tls_san_dns): its own, the one clients use, MTA-STS's web server.
CLIENT_NAME = f"mail.{DOMAIN}"
MTA_STS_NAME = f"mta-sts.{DOMAIN}"
RELEASES = {MX1: "bookworm", MX2: "trixie", PROVIDED: "trixie"}

LAB_CA = "/etc/ssl/mailfort/lab-ca/ca.pem"

# The users group_vars/mail_servers.yml gives the roles. Lab-only passwords: a real inventory takes them from
# ansible-vault.
ALICE = f"alice@{DOMAIN}"
ALICE_MAIN = "Tangerine-Orbit-Velvet-91"  # barred from mail (mail_login: false)
ALICE_APPS = {
    "laptop": "Quartz-Lantern-Meadow-57",
    "phone": "Cobalt-Harbor-Whisper-38",
    "backup": "Saffron-Glacier-Ember-64",
}
BOB = f"bob@{DOMAIN}"
BOB_MAIN = "Juniper-Cascade-Falcon-73"  # allowed for mail (mail_login: true), no app passwords
BILLING_APP = f"billing-app@{DOMAIN}"
BILLING_APP_PASSWORD = "Walnut-Semaphore-Drift-42"  # noqa: S105 - a lab value
CAMPAIGN = f"campaign@{DOMAIN}"
CAMPAIGN_PASSWORD = "Saffron-Tundra-Ledger-38"  # noqa: S105 - a lab value
# Each lab password by what it is, so that a failure message can say which one leaked without showing it.
CREDENTIALS = {
    "alice's main password": ALICE_MAIN,
    **{f"alice's {label} app password": password for label, password in ALICE_APPS.items()},
    "bob's main password": BOB_MAIN,
    "billing-app's password": BILLING_APP_PASSWORD,
    "campaign's password": CAMPAIGN_PASSWORD,
}
# The lab-only TSIG secret (group_vars/all.yml): the tests look for it where it must never be.
TSIG_SECRET = "cJ11+e6vnSsNA3TOYoH5rHE4d/7INAwfVzGgDuZuSCk="  # noqa: S105 - a lab secret, searched for, not used


def address(name: str) -> str:
    """A lab host's address on the lab network."""
    return ADDRESSES[name]
