# SPDX-License-Identifier: MIT
"""What the mail_firewall scenario (molecule/mail_firewall) deploys where, and the probes its client and attacker
run against the mail hosts' firewall (built on probes.py)."""

from __future__ import annotations

import json
from collections import Counter

from probes import address, host_name

# The scenario's hosts (molecule/mail_firewall/molecule.yml).
BOOKWORM = "mailfort-firewall-bookworm"  # Debian 12
TRIXIE = "mailfort-firewall-trixie"  # Debian 13
MAIL_HOSTS = [BOOKWORM, TRIXIE]
CLIENT = "mailfort-firewall-client"  # on every allowlist (admin, fail2ban's ignoreip)
ATTACKER = "mailfort-firewall-attacker"  # on none
NETWORK = "mailfort-molecule-firewall"

TABLE = "inet mailfort"
RULESET = "/etc/mailfort/firewall.nft"
STATE_DIR = "/var/lib/mailfort/firewall"
ROLLBACK_TIMER = "mailfort-firewall-rollback.timer"

SSH_PORT, SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT, IMAPS_PORT = 22, 25, 587, 465, 993
MAIL_PORTS = [SMTP_PORT, SUBMISSION_PORT, SUBMISSIONS_PORT, IMAPS_PORT]
# The scenario's meter: new connections a source may open to the mail ports (a minute, and at once).
RATE_LIMIT_PER_MINUTE = 120
RATE_LIMIT_BURST = 40

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


def port_states(peer, host, ports, timeout: float = 3) -> dict[int, str]:
    """What PEER finds on each TCP port of the mail host."""
    return dict(zip(ports, connect(peer, host, ports, timeout), strict=True))


def flood(peer, host, port: int, count: int, timeout: float = 3) -> dict[str, int]:
    """COUNT new connections to one port at once, counted by outcome."""
    return dict(Counter(connect(peer, host, [port] * count, timeout)))


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
