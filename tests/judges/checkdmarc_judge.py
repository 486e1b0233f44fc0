# SPDX-License-Identifier: MIT
"""Ask checkdmarc about a domain as one DNS server serves it; print its results as JSON.

Usage: .venv-judges/bin/python tests/judges/checkdmarc_judge.py NAMESERVER DOMAIN CA_BUNDLE

Runs in .venv-judges, apart from mailfort's code. checkdmarc queries NAMESERVER for every record. It fetches the
MTA-STS policy over HTTPS from mta-sts.DOMAIN: that name is resolved through NAMESERVER as well (this process
only; the machine's resolver knows nothing of the lab), and the server's certificate must chain to CA_BUNDLE.
"""

from __future__ import annotations

import json
import os
import socket
import sys

import checkdmarc
import dns.resolver


def main(nameserver: str, domain: str, ca_bundle: str) -> int:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [nameserver]
    system_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and (host == domain or host.endswith("." + domain)):
            address = resolver.resolve(host, "A")[0].address
            return system_getaddrinfo(address, *args, **kwargs)
        return system_getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    os.environ["REQUESTS_CA_BUNDLE"] = ca_bundle
    results = checkdmarc.check_domains([domain], nameservers=[nameserver], timeout=5.0)
    json.dump(results, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
