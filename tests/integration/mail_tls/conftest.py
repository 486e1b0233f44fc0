# SPDX-License-Identifier: MIT
"""Fixtures of the mail_tls scenario."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def provided_pki() -> Path:
    """The PKI that molecule/mail_tls/prepare.yml made on the controller for the provided-certificate host."""
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "pki"
