# SPDX-License-Identifier: MIT
"""The lab CA's name constraints hold: it cannot vouch for a name outside mail_tls_san_dns.

Signs a throwaway certificate in a temporary directory it removes again: nothing a later test sees changes.
"""

from __future__ import annotations

import pytest
from tls_facts import FOREIGN_NAME, LAB_CA, LAB_CA_KEY

pytestmark = pytest.mark.readonly


def test_lab_ca_cannot_vouch_for_other_names(host):
    """The lab CA's name constraints: a certificate it signs for a foreign name does not verify."""
    work = host.check_output("mktemp -d")
    try:
        host.check_output(
            f"openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {work}/k.pem "
            f"-subj /CN={FOREIGN_NAME} -addext subjectAltName=DNS:{FOREIGN_NAME} -out {work}/r.pem 2>/dev/null"
        )
        host.check_output(
            f"openssl x509 -req -in {work}/r.pem -CA {LAB_CA} -CAkey {LAB_CA_KEY} -days 1 "
            f"-copy_extensions copy -out {work}/c.pem 2>/dev/null"
        )
        result = host.run(f"openssl verify -CAfile {LAB_CA} {work}/c.pem")
    finally:
        host.run(f"rm -rf {work}")
    assert result.rc != 0
    assert "permitted subtree violation" in result.stdout + result.stderr
