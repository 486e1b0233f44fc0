# SPDX-License-Identifier: MIT
"""What the lab (molecule/lab, tests/integration/lab.py) gives the mail hosts' firewall and fail2ban, and the probes
the client, the outsider and the attacker run against the firewall (built on probes.py).

The figures a test depends on (the meter's, fail2ban's maxretry, which host serves IMAP on 143) are read from the
lab's inventory, never repeated here.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache

import yaml
from lab import ADDRESSES, INVENTORY
from probes import address, host_name, wait_for

TABLE = "inet mailfort"
RULESET = "/etc/mailfort/firewall.nft"
STATE_DIR = "/var/lib/mailfort/firewall"
ROLLBACK_TIMER = "mailfort-firewall-rollback.timer"

SSH_PORT, SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT, IMAP_PORT, IMAPS_PORT = 22, 25, 587, 465, 143, 993
# The mail ports every MX host of the lab opens to the world; mail_ports(host) adds what only some hosts serve.
MAIL_PORTS = [SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT, IMAPS_PORT]

# The jails fail2ban runs (the defaults of roles/fail2ban) and the base names of their nftables ban sets.
JAILS = {
    "postfix": "ban_postfix",
    "postfix-sasl": "ban_postfix_sasl",
    "dovecot": "ban_dovecot",
    "sshd": "ban_sshd",
    "recidive": "ban_recidive",
}

# A SYN-ACK on the lab's bridge takes well under a millisecond: a port that has not answered within a second was
# dropped. Probes that expect a drop wait that long and no longer.
DROP_TIMEOUT = 1
# A flood waits longer, so that the SYNs the meter dropped are sent again (after 1 s) and meet it once more: the
# meter, not the probe's patience, decides what gets through.
FLOOD_TIMEOUT = 3


@cache
def inventory_vars(name: str) -> dict:
    """The variables the lab's inventory gives a mail host, as written (group_vars/all.yml, group_vars/
    mail_servers.yml, then host_vars/<name>.yml over them). For the literal numbers and switches the tests need,
    never a templated value."""
    merged: dict = {}
    for path in ("group_vars/all.yml", "group_vars/mail_servers.yml", f"host_vars/{name}.yml"):
        file = INVENTORY / path
        if file.exists():
            merged.update(yaml.safe_load(file.read_text()) or {})
    return merged


def lab_setting(name: str, variable: str):
    """One variable of a mail host in the lab's inventory; a KeyError names the variable if the lab does not set it."""
    return inventory_vars(name)[variable]


def mail_ports(host) -> list[int]:
    """The mail ports the firewall opens on the host: MX, submission and IMAPS everywhere, and IMAP on 143 where the
    inventory turns Dovecot's STARTTLS listener on (mail_firewall_mailbox_ports follows it)."""
    starttls = inventory_vars(host_name(host)).get("dovecot_hardening_imap_starttls_enabled", False)
    return [*MAIL_PORTS, *([IMAP_PORT] if starttls else [])]


# Opens one TCP connection per port given (a port may be given many times), all at once, each closed straight away,
# and says for each "open" (handshake done), "refused" (a reset: nothing listens, or a reject rule) or "dropped" (no
# answer within the timeout: the firewall dropped the SYN), in the order given.
CONNECT_PROBE = """
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor
address, ports, timeout = sys.argv[1], [int(p) for p in sys.argv[2].split(",")], float(sys.argv[3])

def state(port):
    try:
        socket.create_connection((address, port), timeout=timeout).close()
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except (TimeoutError, socket.timeout):
        return "dropped"
    except OSError as error:
        return f"error: {error!r}"

with ThreadPoolExecutor(len(ports)) as pool:
    print(json.dumps(list(pool.map(state, ports))))
"""


def connect(peer, host, ports, timeout: float) -> list[str]:
    """What PEER (a client container) finds on each port of the mail host, one new connection per entry."""
    result = peer.run("python3 -c %s %s %s %s", CONNECT_PROBE, address(host), ",".join(map(str, ports)), str(timeout))
    assert result.rc == 0, f"the connect probe against {host_name(host)} failed on {host_name(peer)}:\n{result.stderr}"
    return json.loads(result.stdout)


def port_states(peer, host, ports, timeout: float = DROP_TIMEOUT) -> dict[int, str]:
    """What PEER finds on each TCP port of the mail host."""
    return dict(zip(ports, connect(peer, host, ports, timeout), strict=True))


def flood(peer, host, ports, count: int, timeout: float = FLOOD_TIMEOUT) -> dict[str, int]:
    """COUNT new connections at once, spread over PORTS in turn, counted by outcome."""
    spread = [ports[index % len(ports)] for index in range(count)]
    return dict(Counter(connect(peer, host, spread, timeout)))


def table(host) -> dict:
    """The firewall's table as nft's JSON, keyed by object kind and name."""
    listing = json.loads(host.check_output(f"nft -j list table {TABLE}"))["nftables"]
    result: dict = {"set": {}, "counter": {}, "chain": {}, "rule": []}
    for entry in listing:
        ((kind, body),) = entry.items()
        if kind == "rule":
            result["rule"].append(body)
        elif kind in result:
            result[kind][body["name"]] = body
    return result


def set_elements(host, name: str) -> list[str]:
    """The elements of one of the table's sets, as strings (addresses, or prefixes as ADDRESS/LENGTH)."""
    elements = []
    for element in table(host)["set"][name].get("elem", []):
        value = element.get("elem", {}).get("val", element) if isinstance(element, dict) else element
        if isinstance(value, dict) and "prefix" in value:
            value = f"{value['prefix']['addr']}/{value['prefix']['len']}"
        elements.append(str(value))
    return elements


def counter(host, name: str) -> int:
    """Packets a named counter of the table has counted."""
    return int(table(host)["counter"][name]["packets"])


def metered_sources(host) -> list[str]:
    """The IPv4 sources the per-source meter counts at the moment (each forgotten a minute after its last new
    connection to a mail port)."""
    return set_elements(host, "flood_v4")


def forget_meter(host, name: str) -> None:
    """The meter holds no count of the lab host NAME: it meets its next connection as a new source, as it would a
    minute after its last. A test that connects from a metered container to the mail ports leaves nothing of its
    count for the tests after it. Where the kernel refuses to delete a meter's element, wait out its timeout."""
    source = ADDRESSES[name]
    host.run("nft delete element %s %s flood_v4 %s", *TABLE.split(), f"{{ {source} }}")  # absent: nothing to do
    assert wait_for(lambda: source not in metered_sources(host), timeout=75), (
        f"the meter of {host_name(host)} still counts {name} ({source})"
    )


def stateless_table(host) -> str:
    """The table's rules, sets and allowlists without counter values and meter contents (which come and go with
    traffic): what a ruleset change would change. JSON text, for comparisons and messages."""
    listing = json.loads(host.check_output(f"nft -j --stateless list table {TABLE}"))["nftables"]
    kept = []
    for entry in listing:
        ((kind, body),) = entry.items()
        if kind == "metainfo":
            continue
        # The meters are the sets with timeouts; nft's JSON does not list their "dynamic" flag.
        volatile = {"handle", "packets", "bytes"} | ({"elem"} if "timeout" in body.get("flags", []) else set())
        body = {key: value for key, value in body.items() if key not in volatile}
        kept.append({kind: body})
    return json.dumps(kept, indent=1, sort_keys=True)


def banned(host, jail: str) -> list[str]:
    """The addresses fail2ban lists as banned in the jail."""
    status = host.check_output("fail2ban-client status %s", jail)
    listed = re.search(r"Banned IP list:\s*(.*)$", status, re.MULTILINE)
    assert listed, status
    return listed.group(1).split()


def ban_set(host, jail: str) -> list[str]:
    """The addresses in the jail's IPv4 ban set of the firewall."""
    return set_elements(host, f"{JAILS[jail]}_v4")


def unban(host, name: str) -> None:
    """Lift every ban of the lab host NAME in every jail; nothing to lift is fine."""
    host.run("fail2ban-client unban %s", ADDRESSES[name])
