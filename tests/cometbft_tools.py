"""Runs scripts/install-cometbft for the tests that need CometBFT or the ABCI classes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from healthledger.client.sdk import Signer
from healthledger.crypto.keys import KeyPair
from healthledger.ledger.transaction import Transaction

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "scripts" / "install-cometbft"
COMETBFT = REPO / ".tools" / "cometbft-v0.38.25" / "bin" / "cometbft"


def install_cometbft() -> Path:
    """Build (or find) the pinned binary and the protobuf classes; fail with the script's output."""
    result = subprocess.run(
        [str(INSTALL)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/install-cometbft failed:\n{result.stdout}\n{result.stderr}")
    return COMETBFT


def enrol(signer: Signer, member_id: str) -> Transaction:
    """An organisation's `member.enroll` of a nurse with fresh keys: the tests' usual write."""
    member = KeyPair.generate()
    return signer.sign(
        "member.enroll",
        {
            "member_id": member_id,
            "name": member_id.title(),
            "role": "nurse",
            "signing_key": member.key_id,
            "encryption_key": member.encryption_public.hex(),
        },
    )
