# SPDX-License-Identifier: MIT
"""playbooks/audit.yml on the converged lab: the hardened hosts pass every control; a host weakened by hand fails
exactly the controls concerned, with the evidence; an acknowledged weakening is waived; the audit changes nothing on
a host (its managed trees before and after) and no report or output holds a secret.

Mutator phase: one test weakens mx1 by hand and puts it back in a finally block. The audit's probes come from the
controller (10.89.60.1), the lab's gateway, as they would from an admin's machine.
"""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update
import judges
import pytest
from conftest import MANAGED_TREES
from dovecot_facts import is_auth_failure, login_failing
from harness import tree_state
from lab import ADDRESSES, ALICE, CLIENT, CREDENTIALS, DOMAIN, MX1, MX2, NAMESERVER, TSIG_SECRET
from postfix_facts import SUBMISSION_PORT, WRONG_PASSWORD, answered, session, smtp, step

pytestmark = pytest.mark.mutator

AUDIT = Path(__file__).resolve().parents[3] / "playbooks" / "audit.yml"
CONTROLS = 56
# The lab's one acknowledged weakening: it has no route to the root servers, so its resolvers validate its own zone
# from its own anchor and not public names from the root's key (group_vars/mail_servers.yml). Every other control
# passes on a hardened host.
LAB_WAIVED = {"RES-02"}
# The ports sslyze judges on each host (controls.yml TLS-02): mx2 leaves port 25 to interop and serves IMAP STARTTLS
# and POP3S.
SCANNED = {MX1: {25, 587, 465, 993}, MX2: {587, 465, 993, 143, 995}}


@pytest.fixture(autouse=True, scope="module")
def _policy_web_server():
    """nginx on mx1, which mta-sts.<domain> points to, serves the MTA-STS policy that DNS-04 fetches over HTTPS:
    the lab leaves it stopped until a test needs it (molecule/lab/prepare.yml); stopped again if it was."""
    was_running = subprocess.run(["podman", "exec", MX1, "systemctl", "is-active", "--quiet", "nginx"], check=False)
    subprocess.run(["podman", "exec", MX1, "systemctl", "start", "nginx"], check=True)
    yield
    if was_running.returncode != 0:
        subprocess.run(["podman", "exec", MX1, "systemctl", "stop", "nginx"], check=True)


def _audit(run_playbook, report_dir: Path, *args: str):
    run = run_playbook("-e", f"mailfort_audit_report_dir={report_dir}", *args, playbook=AUDIT)
    document = json.loads((report_dir / "audit.json").read_text()) if (report_dir / "audit.json").exists() else None
    return run, document


def _statuses(document: dict, host: str) -> dict[str, str]:
    found = next(h for h in document["hosts"] if h["host"] == host)
    return {control["id"]: control["status"] for control in found["controls"]}


def _as_hardened(statuses: dict[str, str]) -> bool:
    """Every control passes but the lab's acknowledged weakenings, which are waived."""
    return statuses == {control: "waived" if control in LAB_WAIVED else "pass" for control in statuses}


def _failures(document: dict | None) -> dict[str, dict[str, str]]:
    """Each host's failed controls with their reasons: what an assertion on a run's success shows when it fails."""
    return {
        host["host"]: {c["id"]: c["reason"] for c in host["controls"] if c["status"] == "fail"}
        for host in (document or {}).get("hosts", [])
    }


def _secrets() -> list[str]:
    return [*CREDENTIALS.values(), TSIG_SECRET]


def test_hardened_hosts_pass_every_control_and_the_audit_changes_nothing(run_playbook, podman_host, tmp_path):
    before = {name: tree_state(podman_host(name), MANAGED_TREES, "/etc/postfix/main.cf") for name in (MX1, MX2)}
    run, document = _audit(run_playbook, tmp_path)
    assert run.returncode == 0, (_failures(document), run.output[-3000:])
    assert {host: recap["changed"] for host, recap in run.recap.items()} == {MX1: 0, MX2: 0}
    for host in (MX1, MX2):
        # Drift is not asked for by default (mailfort_audit_drift=false): the line ends with the counts.
        passing = CONTROLS - len(LAB_WAIVED)
        summary = rf"{host}: {CONTROLS} controls, {passing} pass, {len(LAB_WAIVED)} waived, 0 n/a, 0 fail'$"
        assert re.search(summary, run.output, re.M)
        assert next(h for h in document["hosts"] if h["host"] == host)["drift"] is None
        statuses = _statuses(document, host)
        assert _as_hardened(statuses), {c: s for c, s in statuses.items() if s != "pass"}
        # sslyze judged every TLS port the host serves against the Mozilla profile (the controller, the lab's
        # gateway, is exempt from the meters, so it may scan): 25 only where port 25 is not left to interop, IMAP
        # STARTTLS and POP3S only on mx2, which enables them.
        tls02 = next(c for h in document["hosts"] if h["host"] == host for c in h["controls"] if c["id"] == "TLS-02")
        judged = {
            int(found[1]): e["seen"]
            for e in tls02["evidence"]
            if (found := re.match(r"sslyze's verdict on (\d+) against Mozilla's intermediate profile$", e["what"]))
        }
        assert judged == dict.fromkeys(SCANNED[host], "compliant")
        # The MTA-STS policy, fetched over HTTPS from mta-sts.<domain>, is the file mail_dns wrote.
        dns04 = next(c for h in document["hosts"] if h["host"] == host for c in h["controls"] if c["id"] == "DNS-04")
        [policy] = [e for e in dns04["evidence"] if e["what"].startswith("MTA-STS policy at ")]
        assert policy["what"] == f"MTA-STS policy at https://mta-sts.{DOMAIN}/.well-known/mta-sts.txt"
        assert policy["seen"] == "served as generated"
    after = {name: tree_state(podman_host(name), MANAGED_TREES, "/etc/postfix/main.cf") for name in (MX1, MX2)}
    assert after == before

    # Every format parses; none holds a secret; nor does the playbook's output.
    junit = ElementTree.parse(tmp_path / "audit.junit.xml").getroot()  # noqa: S314 - the audit's own output
    assert len(junit.findall("./testsuite/testcase")) == 2 * CONTROLS
    assert junit.findall("./testsuite/testcase/failure") == []
    sarif = json.loads((tmp_path / "audit.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert sarif["runs"][0]["results"] == []
    HTMLParser().feed((tmp_path / "audit.html").read_text())
    texts = {path.name: path.read_text() for path in tmp_path.iterdir()} | {"output": run.output}
    leaks = {name: [s for s in _secrets() if s in text] for name, text in texts.items()}
    assert not any(leaks.values()), leaks


def test_audit_in_check_mode_also_changes_nothing(run_playbook, tmp_path):
    run, document = _audit(run_playbook, tmp_path, "--check")
    assert run.returncode == 0, (_failures(document), run.output[-3000:])
    assert {host: recap["changed"] for host, recap in run.recap.items()} == {MX1: 0, MX2: 0}
    assert document["summary"][0]["controls"] == CONTROLS


def _sh(host, command: str) -> None:
    subprocess.run(["podman", "exec", host, "sh", "-c", command], check=True, capture_output=True, text=True)


def _out(host, command: str) -> str:
    return subprocess.run(
        ["podman", "exec", host, "sh", "-c", command], check=True, capture_output=True, text=True
    ).stdout


def _audit_weakened_mx1(run_playbook, report_dir: Path, weaken: str, restore: str) -> tuple[dict, set[str]]:
    """Audit mx1 alone with WEAKEN applied by hand, RESTORE run whatever happens: the report, the failed controls."""
    try:
        _sh(MX1, weaken)
        run, document = _audit(run_playbook, report_dir, "-l", MX1)
    finally:
        _sh(MX1, restore)
    assert run.returncode != 0
    return document, {control for control, status in _statuses(document, MX1).items() if status == "fail"}


def test_host_weakened_by_hand_fails_exactly_the_controls_concerned(run_playbook, tmp_path):
    # AUTH before TLS on 587 (a master.cf edit), a port opened in the firewall's table, a jail stopped, the timer of
    # the daily upgrades stopped; with drift,
    # so site.yml --check --diff runs too and its master.cf change shows under the control it undoes.
    weaken = (
        "cp -p /etc/postfix/master.cf /root/audit-master.cf"
        " && postconf -P submission/inet/smtpd_tls_auth_only=no && postfix reload"
        " && nft insert rule inet mailfort input tcp dport 8080 accept"
        " && fail2ban-client stop sshd"
        " && systemctl stop apt-daily-upgrade.timer"
    )
    restore = (
        # The file byte for byte as the role installed it (postconf -P would rewrite its layout), and its mtime.
        "cp -p /root/audit-master.cf /etc/postfix/master.cf && rm -f /root/audit-master.cf; postfix reload;"
        " nft -f /etc/mailfort/firewall.nft; systemctl restart fail2ban; systemctl start apt-daily-upgrade.timer"
    )
    master = "sha256sum /etc/postfix/master.cf; stat -c %Y /etc/postfix/master.cf"
    untouched = _out(MX1, master)
    try:
        _sh(MX1, weaken)
        run, document = _audit(run_playbook, tmp_path, "-e", "mailfort_audit_drift=true")
    finally:
        _sh(MX1, restore)
    # Later tests compare /etc/postfix with what the role installed: it is back as it was.
    assert _out(MX1, master) == untouched
    assert run.returncode != 0
    failed = {control for control, status in _statuses(document, MX1).items() if status == "fail"}
    assert failed == {"PFX-01", "FW-01", "BAN-01", "UPD-01"}
    assert _as_hardened(_statuses(document, MX2))
    reasons = {c["id"]: c["reason"] for h in document["hosts"] if h["host"] == MX1 for c in h["controls"]}
    assert "smtpd_tls_auth_only: no" in reasons["PFX-01"]
    assert "8080" in reasons["FW-01"]
    assert "sshd" not in reasons["BAN-01"].split("wanted")[0]
    assert "unit apt-daily-upgrade.timer active: inactive" in reasons["UPD-01"]
    assert f"failed controls: {', '.join(sorted(failed, key=list(reasons).index))}" in run.output
    sarif = json.loads((tmp_path / "audit.sarif").read_text())
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == failed
    assert all(r["locations"] for r in sarif["runs"][0]["results"])
    # The lab's own SARIF, with its four results, judged against the OASIS 2.1.0 schema (tests/judges).
    assert judges.sarif_schema_errors([sarif]) == [[]]

    # Drift: site.yml would put master.cf back; the line that differs, and the controls whose settings it sets.
    drift = {h["host"]: h["drift"] for h in document["hosts"]}
    assert drift[MX2] == {"error": "", "changes": []}
    assert re.search(rf"{MX2}: .* 0 fail; no drift'$", run.output, re.M)
    [master_cf] = [c for c in drift[MX1]["changes"] if c["path"] == "/etc/postfix/master.cf"]
    assert drift[MX1]["error"] == ""
    assert master_cf["role"] == "postfix_hardening"
    assert "smtpd_tls_auth_only" in master_cf["keys"]
    assert {"PFX-01", "PFX-10"} <= set(master_cf["controls"])
    # postconf -P rewrote the file's spacing: only the setting it changed is shown as a change.
    assert {" ".join(line.split()) for line in master_cf["lines"] if not line.startswith("(")} == {
        "- -o smtpd_tls_auth_only=no",
        "+ -o smtpd_tls_auth_only=yes",
    }
    pfx01 = next(c for h in document["hosts"] if h["host"] == MX1 for c in h["controls"] if c["id"] == "PFX-01")
    assert [d["path"] for d in pfx01["drift"]] == ["/etc/postfix/master.cf"]
    assert re.search(rf"{MX1}: .* 4 fail; drift: \d+ changes?'$", run.output, re.M)
    markdown = (tmp_path / "audit.md").read_text()
    assert "/etc/postfix/master.cf (postfix_hardening: " in markdown
    texts = {path.name: path.read_text() for path in tmp_path.iterdir()} | {"output": run.output}
    leaks = {name: [s for s in _secrets() if s in text] for name, text in texts.items()}
    assert not any(leaks.values()), leaks


def test_a_cipher_weakening_only_the_tls_judge_sees_fails_its_control(run_playbook, tmp_path):
    # 465 alone offers the "medium" suites (CBC, CCM_8, ARIA, CAMELLIA) through two master.cf overrides: main.cf's
    # settings and the audit's own handshake (which gets TLS 1.3) look the same, only sslyze's scan sees the suites.
    weaken = (
        "cp -p /etc/postfix/master.cf /root/audit-master.cf"
        " && postconf -P submissions/inet/smtpd_tls_mandatory_ciphers=medium"
        " submissions/inet/smtpd_tls_mandatory_exclude_ciphers=aNULL && postfix reload"
    )
    restore = "cp -p /root/audit-master.cf /etc/postfix/master.cf && rm -f /root/audit-master.cf; postfix reload"
    document, failed_controls = _audit_weakened_mx1(run_playbook, tmp_path, weaken, restore)
    assert failed_controls == {"TLS-02"}
    tls02 = next(c for c in document["hosts"][0]["controls"] if c["id"] == "TLS-02")
    failed = [e for e in tls02["evidence"] if not e["passed"]]
    assert [e["what"] for e in failed] == ["sslyze's verdict on 465 against Mozilla's intermediate profile"]
    assert failed[0]["seen"].startswith("not compliant (ciphers: ")
    assert "sslyze's verdict on 465" in tls02["reason"]


def test_a_policy_the_web_server_no_longer_serves_fails_the_mta_sts_control(run_playbook, tmp_path):
    # mx2's audit fetches the domain's policy from mta-sts.<domain> (mx1's nginx), as a sending server would.
    _sh(MX1, "systemctl stop nginx")
    try:
        run, document = _audit(run_playbook, tmp_path, "-l", MX2)
    finally:
        _sh(MX1, "systemctl start nginx")
    assert run.returncode != 0
    assert {control for control, status in _statuses(document, MX2).items() if status == "fail"} == {"DNS-04"}
    dns04 = next(c for c in document["hosts"][0]["controls"] if c["id"] == "DNS-04")
    [failed] = [e for e in dns04["evidence"] if not e["passed"]]
    assert failed["what"] == f"MTA-STS policy at https://mta-sts.{DOMAIN}/.well-known/mta-sts.txt"
    assert failed["seen"].startswith(f"https://mta-sts.{DOMAIN}/.well-known/mta-sts.txt at {ADDRESSES[MX1]}: ")
    assert "ConnectionRefusedError" in failed["seen"]


def test_an_acknowledged_weakening_is_waived_and_report_only_does_not_fail(run_playbook, tmp_path):
    run, document = _audit(
        run_playbook,
        tmp_path,
        "-l",
        MX1,
        "-e",
        '{"postfix_hardening_extra_acknowledged": ["smtpd_tls_auth_only"]}',
        "-e",
        "mailfort_audit_report_only=true",
    )
    assert run.returncode == 0, run.output[-3000:]
    assert _statuses(document, MX1)["PFX-10"] == "waived"
    waived = len(LAB_WAIVED) + 1
    assert f"{MX1}: {CONTROLS} controls, {CONTROLS - waived} pass, {waived} waived, 0 n/a, 0 fail" in run.output


def test_a_certificate_about_to_expire_fails_only_its_control(run_playbook, tmp_path):
    # The same key and names, signed by the lab CA for 5 days: the chain still verifies, TLSA still matches, only
    # the expiry is wrong. The originals are put back (and the daemons reloaded) whatever happens.
    tls = "/etc/ssl/mailfort"
    replace = (
        f"cd {tls} && cp -p cert.pem /root/audit-cert.pem && cp -p fullchain.pem /root/audit-fullchain.pem"
        " && openssl x509 -x509toreq -copy_extensions copyall -in cert.pem -signkey private/key.pem -out /root/a.csr"
        " && openssl x509 -req -in /root/a.csr -copy_extensions copyall -days 5 -CA lab-ca/ca.pem"
        " -CAkey lab-ca/private/ca-key.pem -set_serial 4242 -out /root/a.pem"
        " && sed '1,/END CERTIFICATE/d' fullchain.pem > /root/a-rest.pem"
        " && cat /root/a.pem > cert.pem && cat /root/a.pem /root/a-rest.pem > fullchain.pem"
        " && postfix reload && systemctl reload dovecot"
    )
    restore = (
        f"cp -p /root/audit-cert.pem {tls}/cert.pem && cp -p /root/audit-fullchain.pem {tls}/fullchain.pem"
        " && rm -f /root/audit-*.pem /root/a.csr /root/a.pem /root/a-rest.pem"
        " && postfix reload && systemctl reload dovecot"
    )
    document, failed_controls = _audit_weakened_mx1(run_playbook, tmp_path, replace, restore)
    assert failed_controls == {"TLS-05"}
    reason = next(c["reason"] for c in document["hosts"][0]["controls"] if c["id"] == "TLS-05")
    assert re.search(r"days until the server certificate expires: [45] \(wanted at least 14\)", reason), reason


def _dmarc_update(action: str, values: list) -> None:
    """Delete or add the domain's DMARC TXT rdata at the lab's BIND, signed as mail_dns signs its updates."""
    update = dns.update.UpdateMessage(
        DOMAIN, keyring=dns.tsigkeyring.from_text({"mailfort-update": TSIG_SECRET}), keyalgorithm="hmac-sha256"
    )
    for rdata in values:
        getattr(update, action)(f"_dmarc.{DOMAIN}.", *((3600,) if action == "add" else ()), rdata)
    response = dns.query.tcp(update, ADDRESSES[NAMESERVER], timeout=10)
    assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())


def test_a_record_the_domain_no_longer_serves_fails_its_dns_control(run_playbook, tmp_path):
    answer = dns.query.udp(dns.message.make_query(f"_dmarc.{DOMAIN}.", "TXT"), ADDRESSES[NAMESERVER], timeout=10)
    published = [rdata for rrset in answer.answer for rdata in rrset]
    assert published, "the lab's DNS serves no DMARC record to withdraw"
    try:
        _dmarc_update("delete", published)
        run, document = _audit(run_playbook, tmp_path, "-l", MX1)
    finally:
        _dmarc_update("add", published)
    assert run.returncode != 0
    failed = {control for control, status in _statuses(document, MX1).items() if status == "fail"}
    assert failed == {"DNS-03"}
    reason = next(c["reason"] for c in document["hosts"][0]["controls"] if c["id"] == "DNS-03")
    assert f"_dmarc.{DOMAIN}. TXT: served []" in reason


def test_a_hand_edited_signer_and_allowlist_fail_their_controls_and_the_journal_counts_failed_logins_and_reboots(
    run_playbook, podman_host, tmp_path
):
    # From the client (which fail2ban and the limits exempt): two wrong passwords over IMAPS, one on 587. Then by
    # hand: an address added to the admin allowlist's set, and the RSA signer told to verify too (Mode sv); both put
    # back whatever happens. The journal's last ten minutes hold the client's failures, counted per service.
    client, mx1 = podman_host(CLIENT), podman_host(MX1)
    imap = login_failing(client, mx1, "imaps", (ALICE, WRONG_PASSWORD), (ALICE, WRONG_PASSWORD))
    assert all(is_auth_failure(result) for result in imap), imap
    [submission] = smtp(client, mx1, session(SUBMISSION_PORT, "starttls", ["ehlo"], ["auth", ALICE, WRONG_PASSWORD]))
    assert answered(step(submission, 1), 535, "5.7.8")
    # And an update that asks for a reboot, as Debian's packages say so (/run/reboot-required and its .pkgs).
    weaken = (
        "nft add element inet mailfort allow_admin_v4 '{ 192.0.2.99 }'"
        " && cp -p /etc/opendkim.conf /root/audit-opendkim.conf"
        " && sed -i 's/^Mode[[:space:]].*/Mode sv/' /etc/opendkim.conf"
        " && echo '*** System restart required ***' > /run/reboot-required && echo libc6 > /run/reboot-required.pkgs"
    )
    restore = (
        "nft delete element inet mailfort allow_admin_v4 '{ 192.0.2.99 }';"
        " cp -p /root/audit-opendkim.conf /etc/opendkim.conf && rm -f /root/audit-opendkim.conf;"
        " rm -f /run/reboot-required /run/reboot-required.pkgs"
    )
    try:
        _sh(MX1, weaken)
        run, document = _audit(run_playbook, tmp_path, "-l", MX1, "-e", "mail_audit_activity_since=-10m")
    finally:
        _sh(MX1, restore)
    assert run.returncode != 0
    failed = {c["id"]: c for c in document["hosts"][0]["controls"] if c["status"] == "fail"}
    assert set(failed) == {"FW-02", "DKIM-01"}, _failures(document)
    assert "192.0.2.99" in failed["FW-02"]["reason"]
    [mode] = [e for e in failed["DKIM-01"]["evidence"] if not e["passed"]]
    assert (mode["seen"], mode["wanted"]) == ("sv", "equals s")

    activity = document["hosts"][0]["activity"]
    client_address = ADDRESSES[CLIENT]
    assert activity["failed_login:imap"]["sources"][client_address] >= 2, activity
    assert activity["failed_login:smtp/submission"]["sources"][client_address] >= 1, activity
    assert activity["failed_login"]["count"] >= 3
    assert activity["certificate_days_left:/etc/ssl/mailfort/cert.pem"]["days_left"] > 300
    # The reboot the update asked for, with its package; the security updates waiting, whatever the day's are.
    assert activity["reboot_required"] == {"count": 1, "sources": {}, "detail": "libc6"}, activity
    pending = activity["security_updates_pending"]
    assert pending["count"] == len([name for name in pending["detail"].split(", ") if name]), pending
    # Counted by source and service: no user name, no password, in any report.
    texts = {path.name: path.read_text() for path in tmp_path.iterdir()} | {"output": run.output}
    assert not any(ALICE in text or WRONG_PASSWORD in text for text in texts.values())


def test_a_host_the_audit_cannot_reach_is_in_every_report_as_not_audited(run_playbook, tmp_path):
    # A third MX host in the inventory whose container does not exist: the audit still judges mx1, names the lost
    # host in every report with the reason, and fails the run for it.
    extra = tmp_path / "gone.yml"
    extra.write_text("mail_servers:\n  hosts:\n    mailfort-gone:\n      lab_address: 10.89.60.99\n")
    reports = tmp_path / "reports"
    run, document = _audit(run_playbook, reports, "-i", str(extra), "-l", f"{MX1},mailfort-gone")
    assert run.returncode != 0
    hosts = {host["host"]: host for host in document["hosts"]}
    assert set(hosts) == {MX1, "mailfort-gone"}
    assert hosts["mailfort-gone"]["status"] == "not audited", hosts["mailfort-gone"]
    assert hosts["mailfort-gone"]["controls"] == []
    assert _as_hardened(_statuses(document, MX1))
    assert re.search(r"mailfort-gone: not audited \(", run.output)
    junit = ElementTree.parse(reports / "audit.junit.xml").getroot()  # noqa: S314 - the audit's own output
    assert junit.findall("./testsuite[@name='mailfort-gone']/testcase/error")
    sarif = json.loads((reports / "audit.sarif").read_text())
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["NOT-AUDITED"]
    assert judges.sarif_schema_errors([sarif]) == [[]]
    assert "mailfort-gone" in (reports / "audit.html").read_text()
