# SPDX-License-Identifier: MIT
"""Bad input stops the play with a message that names the variable, before anything on the host changes.

Lab CA inputs are refused on the MX hosts (the lab's inventory), provided-certificate inputs on the provided host
(its own inventory, molecule/lab/provided), each with playbooks/mail_tls.yml, which validates without gathering
facts. Each case's variables are host variables of its host in an inventory file of its own, given after the
lab's: one run refuses one case on MX1 and another on MX2, each with its own message, and the runs go at once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lab import INVENTORY, MX1, MX2, NAMES, PROJECT_DIR, PROVIDED, PROVIDED_INVENTORY
from tls_facts import PROVIDED_NAMES, tls_dir_state

pytestmark = pytest.mark.bad_input

PLAYBOOK = PROJECT_DIR / "playbooks" / "mail_tls.yml"
INVENTORIES = {MX1: INVENTORY, MX2: INVENTORY, PROVIDED: PROVIDED_INVENTORY}
# A name the provided certificate does not carry (it has PROVIDED_NAMES).
UNCOVERED_NAME = "pop.provided.mailfort.test"


def _key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _sign(subject_key, issuer_key, issuer_name: x509.Name | None, days: int, name: str) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or subject)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _body(pem: str) -> list[str]:
    """The base64 lines of a PEM block: what would show if it leaked."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


@dataclass(frozen=True)
class Material:
    """Keys and certificates the bad inputs are made of."""

    stray_key: rsa.RSAPrivateKey
    stray_cert: x509.Certificate
    long_lived: dict[str, str]


def _material(provided_pki: Path) -> Material:
    stray_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # A certificate from the provided PKI's own issuing CA that lives 400 days, with its own key.
    issuer_key = serialization.load_pem_private_key((provided_pki / "intermediate-key.pem").read_bytes(), None)
    issuer = x509.load_pem_x509_certificate((provided_pki / "intermediate.pem").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    long_lived = _sign(key, issuer_key, issuer.subject, 400, NAMES[PROVIDED])
    return Material(
        stray_key=stray_key,
        stray_cert=_sign(stray_key, stray_key, None, 30, "stray.example.org"),
        long_lived={"mail_tls_cert_pem": _pem(long_lived), "mail_tls_key_pem": _key_pem(key)},
    )


# What a certificate parser says about bytes it cannot read: no help to someone who pasted a certificate.
PARSER_WORDS = ("ParseError", "asn1", "UnexpectedTag", "Finalization of task args")

# case: (host, variables made from the material, words the error must contain). The lab CA cases alternate
# between MX1 and MX2, so that two of them share a run.
CASES: dict[str, tuple[str, Callable[[Material], dict], list[str]]] = {
    "unknown profile": (MX1, lambda m: {"mail_tls_profile": "legacy"}, ["mail_tls_profile", "legacy"]),
    "lifetime over 366 days": (MX2, lambda m: {"mail_tls_lifetime_days": 400}, ["mail_tls_lifetime_days", "366"]),
    "malformed name": (MX1, lambda m: {"mail_tls_san_dns": ["mail..example.org"]}, ["mail_tls_san_dns"]),
    "no names": (MX2, lambda m: {"mail_tls_san_dns": []}, ["mail_tls_san_dns"]),
    "renewal after expiry": (MX1, lambda m: {"mail_tls_renew_days": 365}, ["mail_tls_renew_days"]),
    "malformed PEM": (
        PROVIDED,
        lambda m: {"mail_tls_cert_pem": "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"},
        # The variable the user wrote, and the rule in words, not the ASN.1 parser's.
        [
            "mail_tls_cert_pem PEM block 1 (BEGIN CERTIFICATE) is not a valid X.509 certificate",
            "is damaged or is not a certificate",
        ],
    ),
    "key of another certificate": (
        PROVIDED,
        lambda m: {"mail_tls_key_pem": _key_pem(m.stray_key)},
        ["mail_tls_key"],
    ),
    "chain that does not verify": (
        PROVIDED,
        lambda m: {"mail_tls_chain_pem": _pem(m.stray_cert)},
        ["mail_tls_chain"],
    ),
    "provided lifetime over 366 days": (PROVIDED, lambda m: m.long_lived, ["mail_tls_cert", "366"]),
    "certificate not covering a name": (
        PROVIDED,
        lambda m: {"mail_tls_san_dns": [PROVIDED_NAMES[0], UNCOVERED_NAME]},
        ["mail_tls_san_dns", UNCOVERED_NAME],
    ),
    "certificate without key": (PROVIDED, lambda m: {"mail_tls_key_src": ""}, ["mail_tls_key_pem"]),
    "no certificate and no lab CA": (
        PROVIDED,
        lambda m: {"mail_tls_cert_src": "", "mail_tls_key_src": "", "mail_tls_chain_src": ""},
        ["mail_tls_lab_ca_allowed"],
    ),
}


def _batches() -> list[dict[str, str]]:
    """The cases grouped into runs, each a host -> case map with one case per host and hosts of one inventory."""
    batches: list[dict[str, str]] = []
    for case, (target, _, _) in CASES.items():
        batch = next(
            (b for b in batches if target not in b and INVENTORIES[next(iter(b))] == INVENTORIES[target]),
            None,
        )
        if batch is None:
            batches.append(batch := {})
        batch[target] = case
    return batches


@dataclass(frozen=True)
class Refusals:
    """Each case's run and variables, and the TLS directory of every host before and after all the runs."""

    runs: dict
    variables: dict[str, dict]
    before: dict[str, str]
    after: dict[str, str]


@pytest.fixture(scope="module")
def refusals(run_playbook, podman_host, provided_pki, tmp_path_factory) -> Refusals:
    material = _material(provided_pki)
    variables = {case: make_vars(material) for case, (_, make_vars, _) in CASES.items()}
    hosts = {name: podman_host(name) for name in INVENTORIES}
    before = {name: tls_dir_state(h) for name, h in hosts.items()}

    def run(batch: dict[str, str]):
        # Host variables of an inventory given after the host's own: above its group_vars, below -e.
        cases_inventory = tmp_path_factory.mktemp("bad-input") / "cases.yml"
        cases_inventory.write_text(
            yaml.safe_dump({"all": {"hosts": {name: variables[case] for name, case in batch.items()}}})
        )
        inventory = INVENTORIES[next(iter(batch))]
        return run_playbook(
            "-i", str(cases_inventory), "--limit", ",".join(batch), playbook=PLAYBOOK, inventory=inventory
        )

    batches = _batches()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, batches))
    runs = {case: result for batch, result in zip(batches, results, strict=True) for case in batch.values()}
    after = {name: tls_dir_state(h) for name, h in hosts.items()}
    return Refusals(runs, variables, before, after)


def _refusal(case: str, run, name: str, must_name: list[str]) -> str:
    """The run failed on host NAME, and that host's error (not another host's in the same run) names every word in
    MUST_NAME; returns the error text."""
    assert run.returncode != 0, f"{case}: the play succeeded:\n{run.output[-3000:]}"
    # From the host's failed result to the next line that is not part of it (results and task headers start at
    # the margin; the YAML callback indents a result's fields).
    failed = re.search(rf"^(?:fatal|failed): \[{re.escape(name)}\].*?(?=^\S|\Z)", run.output, re.M | re.S)
    assert failed, f"{case}: no failure on {name}:\n{run.output[-3000:]}"
    failure = failed.group(0)
    flat = " ".join(failure.split())  # the YAML callback folds long messages over several lines
    for word in must_name:
        assert " ".join(word.split()) in flat, f"{case}: the error does not name {word!r}:\n{failure[:3000]}"
    return failure


@pytest.mark.parametrize("case", CASES)
def test_bad_input_fails_clearly_and_leaves_host_unchanged(case, refusals):
    target, _, must_name = CASES[case]
    run, extra_vars = refusals.runs[case], refusals.variables[case]

    failure = _refusal(case, run, target, must_name)
    assert [words for words in PARSER_WORDS if words in failure] == [], failure[:3000]
    for pem in (v for v in extra_vars.values() if isinstance(v, str) and "PRIVATE KEY" in v):
        assert not any(line in run.output for line in _body(pem)), f"{case}: key material in the output"
    assert refusals.after[target] == refusals.before[target], f"{case}: the host changed"
