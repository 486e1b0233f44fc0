# SPDX-License-Identifier: MIT
"""DKIM key rotation without a gap: while playbooks/rotate_dkim.yml rolls each host's RSA key to a new selector,
the client keeps submitting mail, and every message, checked the moment it arrives as a receiver would, carries
signatures that dkimpy verifies against what the lab's DNS server serves at that moment: before, during and after.
Afterwards the old selector's record is withdrawn and its key is gone from the host. The test then does what an
operator does after a rotation, the other way round: the inventory still names the old selector, so a run of the
scenario's playbook with the new selector retired brings the hosts back to what the inventory describes."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from dns_facts import DOMAIN, LAB_CA, MX, dkim_verdicts, fetch, submit, token, txt

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


def _restore(run_playbook, name: str, new: str):
    """The inventory's keys again (the old selector gets a key anew), the rotated-to selector retired."""
    keys = [
        {"domain": DOMAIN, "selector": MX[name]["rsa"]},
        {"domain": DOMAIN, "selector": MX[name]["ed25519"], "algorithm": "ed25519"},
        {"domain": DOMAIN, "selector": new, "state": "absent"},
    ]
    retired = [{"domain": DOMAIN, "selector": new}]
    return run_playbook("--limit", name, "-e", json.dumps({"dkim_keys": keys, "mail_dns_dkim_retired": retired}))


def _keep_sending(host, client, anchor, project_dir, nameserver, *, stop: threading.Event) -> list[dict]:
    """Submit, read back and verify one message after another until STOP is set; each message's verdicts."""
    seen = []
    while not stop.is_set():
        subject = f"rotation {token()}"
        submit(client, host, subject)
        verdicts = dkim_verdicts(project_dir, nameserver, fetch(host, anchor, subject))
        seen.append({"subject": subject, "verdicts": verdicts})
        stop.wait(2)  # a steady trickle, not a load that slows the playbook down
    return seen


def _rotate_one(name, host, client, project_dir, nameserver, run_playbook) -> dict:  # noqa: PLR0917 - fixtures passed on
    """Rotate one host's RSA key while mail flows through it, then back; what was seen on the way."""
    anchor = host.file(LAB_CA).content_string
    old = MX[name]["rsa"]
    new = ROTATED.format(old)
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        sending = pool.submit(_keep_sending, host, client, anchor, project_dir, nameserver, stop=stop)
        try:
            run = _rotate(run_playbook, project_dir, name, old, new)
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
    back = _restore(run_playbook, name, new)
    return {"run": run, "messages": messages, "after": after, "last": last, "back": back, "old": old, "new": new}


@pytest.fixture(scope="module")
def rotations(podman_host, client, project_dir, nameserver, run_playbook):
    """Both hosts rotated side by side, each with mail flowing through it; per host what was seen."""
    with ThreadPoolExecutor(max_workers=len(MX)) as pool:
        futures = {
            name: pool.submit(_rotate_one, name, podman_host(name), client, project_dir, nameserver, run_playbook)
            for name in MX
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(params=sorted(MX))
def rotation(request, rotations):
    return rotations[request.param]


def test_the_rotation_and_the_restore_succeed(rotation):
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
