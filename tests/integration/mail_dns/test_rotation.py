# SPDX-License-Identifier: MIT
"""DKIM key rotation without a gap: while playbooks/rotate_dkim.yml rolls each host's RSA key to a new selector,
the client keeps submitting mail, and every message, checked the moment it arrives as a receiver would, carries
signatures that dkimpy verifies against what the lab's DNS server serves at that moment: before, during and after.
Afterwards the old selector's record is withdrawn and its key is gone from the host. The test then rotates back,
which leaves the hosts as the inventory describes them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from dns_facts import DOMAIN, MX, dkim_verdicts, fetch, submit, token, txt
from probes import host_name

ROTATED = "{}b"  # the new selector: the inventory's RSA selector with a "b"


def _rotate(run_playbook, project_dir, name: str, old: str, new: str):
    return run_playbook(
        "--limit",
        name,
        "-e",
        f"dkim_rotate_domain={DOMAIN}",
        "-e",
        f"dkim_rotate_from={old}",
        "-e",
        f"dkim_rotate_to={new}",
        # The verifier asks the authoritative server itself: there are no caches to wait for.
        "-e",
        "dkim_rotate_publish_wait=5",
        "-e",
        "dkim_rotate_retire_wait=5",
        playbook=project_dir / "playbooks" / "rotate_dkim.yml",
    )


def _keep_sending(host, client, anchor, project_dir, nameserver, *, stop: threading.Event) -> list[dict]:
    """Submit, read back and verify one message after another until STOP is set; each message's verdicts."""
    seen = []
    while not stop.is_set():
        subject = f"rotation {token()}"
        submit(client, host, subject)
        verdicts = dkim_verdicts(project_dir, nameserver, fetch(host, anchor, subject))
        seen.append({"subject": subject, "verdicts": verdicts})
    return seen


@pytest.fixture(scope="module")
def rotation(host, client, anchor, project_dir, nameserver, run_playbook):  # noqa: PLR0917 - pytest injects fixtures by name
    """Each host's RSA key rotated while mail flows through that host; the messages' verdicts and the run."""
    selectors = MX[host_name(host)]
    old, new = selectors["rsa"], ROTATED.format(selectors["rsa"])
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        sending = pool.submit(_keep_sending, host, client, anchor, project_dir, nameserver, stop=stop)
        try:
            run = _rotate(run_playbook, project_dir, host_name(host), old, new)
        finally:
            stop.set()
        messages = sending.result()
    after = {
        "old_record": [t for t in txt(nameserver, f"{old}._domainkey.{DOMAIN}") if t.startswith("v=DKIM1")],
        "new_record": [t for t in txt(nameserver, f"{new}._domainkey.{DOMAIN}") if t.startswith("v=DKIM1")],
        "old_key_files": host.check_output("find /etc/opendkim/keys -name '%s.*' -printf '%%f\\n'", old),
    }
    subject = f"after rotation {token()}"
    submit(client, host, subject)
    last = dkim_verdicts(project_dir, nameserver, fetch(host, anchor, subject))
    back = _rotate(run_playbook, project_dir, host_name(host), new, old)
    return {"run": run, "messages": messages, "after": after, "last": last, "back": back, "old": old, "new": new}


def test_the_rotation_playbook_succeeds_both_ways(rotation):
    assert rotation["run"].returncode == 0, rotation["run"].output[-4000:]
    assert rotation["back"].returncode == 0, rotation["back"].output[-4000:]


def test_mail_kept_flowing_during_the_rotation(rotation):
    assert len(rotation["messages"]) >= 5, "too few messages were sent while the playbook ran"


def test_every_message_sent_during_the_rotation_verifies(rotation):
    failed = [m for m in rotation["messages"] if not m["verdicts"] or not all(v["verified"] for v in m["verdicts"])]

    assert not failed, failed[:3]


def test_every_message_carries_one_rsa_signature_old_before_new(rotation):
    rsa_selectors = []
    for message in rotation["messages"]:
        rsa = [v["s"] for v in message["verdicts"] if v["a"] == "rsa-sha256"]
        assert len(rsa) == 1, message
        rsa_selectors.append(rsa[0])

    assert rsa_selectors[0] == rotation["old"]
    # Old until the switch, new from then on: never back.
    switched = rsa_selectors.index(rotation["new"]) if rotation["new"] in rsa_selectors else len(rsa_selectors)
    assert set(rsa_selectors[:switched]) == {rotation["old"]}
    assert set(rsa_selectors[switched:]) <= {rotation["new"]}


def test_after_the_rotation_the_new_key_signs_and_the_old_one_is_withdrawn(rotation):
    assert [v["s"] for v in rotation["last"] if v["a"] == "rsa-sha256"] == [rotation["new"]]
    assert all(v["verified"] for v in rotation["last"])
    assert rotation["after"]["old_record"] == []
    assert len(rotation["after"]["new_record"]) == 1
    assert rotation["after"]["old_key_files"].strip() == ""
