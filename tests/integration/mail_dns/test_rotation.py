# SPDX-License-Identifier: MIT
"""DKIM key rotation without a gap: while playbooks/rotate_dkim.yml rolls each host's RSA key to a new selector,
the client keeps submitting mail, and every message, checked the moment it arrives as a receiver would, carries
signatures that dkimpy verifies against what the lab's DNS server serves at that moment: before, during and after.
Afterwards the old selector's record is withdrawn and its key is gone from the host. The test then does what an
operator does after a rotation, the other way round: the inventory still names the old selector, so a run of
site.yml (its dkim and mail_dns roles) with the new selector retired brings the hosts back to what the inventory
describes, the old selector with a new key. Destructive: the inventory's RSA keys are not the ones converge made.

Both hosts rotate side by side; the client, which submits the mail, is exempt from Postfix's rate limits."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from dns_facts import KEY_DIR, dkim_verdicts, fetch, inventory_vars, selectors, submit, token, txt
from lab import DOMAIN, LAB_CA, MAIL_HOSTS

pytestmark = pytest.mark.destructive

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
        # rotate_dkim.yml pauses twice (dkim_rotate_publish_wait, dkim_rotate_retire_wait; default the records' TTL)
        # for resolvers' caches and late verifiers. The verifier here asks the authoritative server itself, the
        # moment each message arrives: there are no caches to wait for, so 1 s each.
        "-e",
        "dkim_rotate_publish_wait=1",
        "-e",
        "dkim_rotate_retire_wait=1",
        playbook=project_dir / "playbooks" / "rotate_dkim.yml",
    )


def _restore(run_playbook, project_dir, name: str, new: str):
    """The inventory's keys again (the old selector gets a key anew), the rotated-to selector retired: the domain's
    playbook (mail_dns.yml: the dkim and mail_dns roles, the two that rotate_dkim.yml runs, and only their checks)."""
    keys = [*inventory_vars(name)["dkim_keys"], {"domain": DOMAIN, "selector": new, "state": "absent"}]
    retired = [{"domain": DOMAIN, "selector": new}]
    return run_playbook(
        "--limit",
        name,
        "--tags",
        "dkim,mail_dns",
        "-e",
        json.dumps({"dkim_keys": keys, "mail_dns_dkim_retired": retired}),
        playbook=project_dir / "playbooks" / "mail_dns.yml",
    )


def _keep_sending(host, client, anchor, project_dir, nameserver, *, stop: threading.Event) -> list[dict]:
    """Submit, read back and verify one message after another until STOP is set; each message's verdicts."""
    seen = []
    while not stop.is_set():
        subject = f"rotation {token()}"
        submit(client, host, subject)
        verdicts = dkim_verdicts(project_dir, nameserver, fetch(host, anchor, subject))
        seen.append({"subject": subject, "verdicts": verdicts})
        stop.wait(1)  # a steady trickle, not a load that slows the playbook down
    return seen


def _published_and_on_host(host, nameserver, old: str, new: str) -> dict:
    """The DKIM records the lab's server serves for the old and the new selector, and their key files on the host."""

    def record(selector: str) -> list[str]:
        return [t for t in txt(nameserver, f"{selector}._domainkey.{DOMAIN}") if t.startswith("v=DKIM1")]

    def files(selector: str) -> str:
        return host.check_output("find %s -name '%s.*' -printf '%%f\\n'", KEY_DIR, selector).strip()

    return {
        "old_record": record(old),
        "new_record": record(new),
        "old_key_files": files(old),
        "new_key_files": files(new),
    }


def _rotate_one(name, host, client, project_dir, nameserver, run_playbook) -> dict:  # noqa: PLR0917 - fixtures passed on
    """Rotate one host's RSA key while mail flows through it, then back; what was seen on the way."""
    anchor = host.file(LAB_CA).content_string
    old = selectors(name)["rsa"]
    new = ROTATED.format(old)
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        sending = pool.submit(_keep_sending, host, client, anchor, project_dir, nameserver, stop=stop)
        try:
            run = _rotate(run_playbook, project_dir, name, old, new)
        finally:
            stop.set()
        messages = sending.result()
    after = _published_and_on_host(host, nameserver, old, new)
    subject = f"after rotation {token()}"
    submit(client, host, subject)
    last = dkim_verdicts(project_dir, nameserver, fetch(host, anchor, subject))
    back = _restore(run_playbook, project_dir, name, new)
    restored = _published_and_on_host(host, nameserver, old, new)
    return {
        "run": run,
        "messages": messages,
        "after": after,
        "last": last,
        "back": back,
        "restored": restored,
        "old": old,
        "new": new,
    }


@pytest.fixture(scope="module")
def rotations(podman_host, client, project_dir, nameserver, run_playbook):
    """Both hosts rotated side by side, each with mail flowing through it; per host what was seen."""
    with ThreadPoolExecutor(max_workers=len(MAIL_HOSTS)) as pool:
        futures = {
            name: pool.submit(_rotate_one, name, podman_host(name), client, project_dir, nameserver, run_playbook)
            for name in MAIL_HOSTS
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(params=MAIL_HOSTS)
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
    assert rotation["after"]["old_key_files"] == ""


def test_the_restore_brings_back_the_inventory_s_selector_and_withdraws_the_rotated_one(rotation):
    """The lab ends as its inventory describes it: the old selector published with a key on the host again, the
    rotated-to selector's record withdrawn and its files gone."""
    restored = rotation["restored"]

    assert len(restored["old_record"]) == 1, restored
    assert restored["new_record"] == [], restored
    assert sorted(restored["old_key_files"].split()) == [f"{rotation['old']}.private", f"{rotation['old']}.pub"]
    assert restored["new_key_files"] == ""
