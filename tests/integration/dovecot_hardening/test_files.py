# SPDX-License-Identifier: MIT
"""Who may read Dovecot's configuration and credentials, the sockets Postfix talks to, and no secret in the open."""

from __future__ import annotations

import pytest
from dovecot_facts import AUTH_SOCKET, CREDENTIALS_DIR, DOVECOT_CONF, LMTP_SOCKET, USERS_FILE
from harness import files_holding_secrets
from lab import CREDENTIALS
from probes import host_name

pytestmark = pytest.mark.readonly

# A password hash as Dovecot stores one ({ARGON2ID}$argon2id$..., {BLF-CRYPT}$2y$..., a bare $6$...), in POSIX ERE
# for grep. Debian's own files under /etc/dovecot hold none (checked on Debian 12 and 13).
HASH_ERE = r"\{[A-Z0-9-]+\}[^[:space:]]|\$(1|2[aby]?|5|6|7|y|argon2(i|d|id))\$"


def test_dovecot_conf_is_root_owned_and_world_readable(host):
    conf = host.file(DOVECOT_CONF)
    assert conf.is_file
    assert (conf.user, conf.group, conf.mode) == ("root", "root", 0o644)


def test_credential_files_are_readable_by_dovecot_only(host):
    paths = host.check_output(f"find {CREDENTIALS_DIR} -maxdepth 1 -name 'passdb-*' | sort").split()
    assert paths, f"{host_name(host)}: no {CREDENTIALS_DIR}/passdb-* file"
    for path in paths:
        f = host.file(path)
        assert f.is_file, path
        assert (f.user, f.group, f.mode) == ("root", "dovecot", 0o640), path


def test_users_file_is_readable_by_dovecot_only(host):
    users = host.file(USERS_FILE)
    assert users.is_file
    assert (users.user, users.group, users.mode) == ("root", "dovecot", 0o640)


def test_auth_socket_for_postfix_belongs_to_postfix(host):
    sock = host.file(AUTH_SOCKET)
    assert sock.is_socket, f"{AUTH_SOCKET} is not a socket on {host_name(host)}"
    assert (sock.user, sock.group, sock.mode) == ("postfix", "postfix", 0o660)


def test_lmtp_socket_for_postfix_belongs_to_postfix(host):
    sock = host.file(LMTP_SOCKET)
    assert sock.is_socket, f"{LMTP_SOCKET} is not a socket on {host_name(host)}"
    assert sock.user == "postfix"


def test_no_plaintext_password_in_any_file_under_etc_dovecot(host):
    """Not one of the lab's passwords, the users' of the other roles (billing-app, campaign) included."""
    found = files_holding_secrets(host, CREDENTIALS, "/etc/dovecot")
    assert not found, f"{host_name(host)}: plaintext passwords in files: {found}"


def test_world_readable_files_under_etc_dovecot_hold_no_password_hash(host):
    # `|| true`: find fails when grep finds nothing in a batch, which is the good case.
    listing = host.check_output("find /etc/dovecot -type f -perm -0004 -exec grep -lE -e %s {} + || true", HASH_ERE)
    assert not listing, f"{host_name(host)}: password hashes in world-readable files: {listing.split()}"
