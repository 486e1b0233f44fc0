# SPDX-License-Identifier: MIT
"""Each tag works alone: `--tags mail_tls_certificate` runs the certificate tasks (with what they need) on converged
hosts and changes nothing: site.yml on both MX hosts, playbooks/postfix_hardening.yml on the provided host.

A real run of its own, not one of the rerun phase's shared runs, hence the mutator phase; the TLS directory of
every host is compared before and after.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from lab import MAIL_HOSTS, PROJECT_DIR, PROVIDED, PROVIDED_INVENTORY
from tls_facts import tls_dir_state

pytestmark = pytest.mark.mutator

TAG = "mail_tls_certificate"
PROVIDED_PLAYBOOK = PROJECT_DIR / "playbooks" / "postfix_hardening.yml"
# The task each kind of host must have run under the tag: the proof that the tag reached the certificate tasks.
SIGN_TASK = "lab_ca | Sign the server certificate with the lab CA"
INSTALL_TASK = "provided | Install the certificate, the chain and the full chain the daemons send"


@pytest.fixture(scope="module")
def tag_runs(run_playbook, podman_host):
    """Both runs at once: they reach different hosts."""
    hosts = {name: podman_host(name) for name in [*MAIL_HOSTS, PROVIDED]}
    before = {name: tls_dir_state(h) for name, h in hosts.items()}
    with ThreadPoolExecutor(2) as pool:
        site = pool.submit(run_playbook, "--tags", TAG)
        provided = pool.submit(run_playbook, "--tags", TAG, playbook=PROVIDED_PLAYBOOK, inventory=PROVIDED_INVENTORY)
        runs = {"site": site.result(), "provided": provided.result()}
    after = {name: tls_dir_state(h) for name, h in hosts.items()}
    return runs, before, after


def test_certificate_tag_runs_on_its_own_without_change(tag_runs):
    runs, before, after = tag_runs
    run = runs["site"]
    assert run.returncode == 0, run.output[-4000:]
    assert set(run.recap) >= set(MAIL_HOSTS)
    assert SIGN_TASK in run.output
    assert all(r["changed"] == 0 for r in run.recap.values()), "\n".join(run.changed_tasks())
    for name in MAIL_HOSTS:
        assert after[name] == before[name], f"{name}: the TLS directory changed"


def test_certificate_tag_runs_on_its_own_without_change_on_the_provided_host(tag_runs):
    runs, before, after = tag_runs
    run = runs["provided"]
    assert run.returncode == 0, run.output[-4000:]
    assert PROVIDED in run.recap, run.output[-4000:]
    assert INSTALL_TASK in run.output
    assert all(r["changed"] == 0 for r in run.recap.values()), "\n".join(run.changed_tasks())
    assert after[PROVIDED] == before[PROVIDED], f"{PROVIDED}: the TLS directory changed"
