"""The Python verifiers over tests/vectors/proofs.json, the file the portal's JavaScript
verifiers are tested against too (tests/web/test_proofs_js.py): one set of cases, two
implementations, the same outcomes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from healthledger.client.sdk import verify_state_view, verify_tx_view
from healthledger.errors import InvalidProof
from healthledger.ledger import proofs

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "tests" / "vectors" / "proofs.json").read_text(encoding="utf-8"))


def _hexes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def _accepts(check: Any) -> bool:
    try:
        check()
    except (proofs.ProofError, InvalidProof):
        return False
    return True


def _cases(kind: str) -> list[Any]:
    return [pytest.param(case, id=case["name"]) for case in VECTORS[kind]]


def test_the_file_is_what_the_script_writes() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "proof-vectors"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_every_kind_has_cases_either_way() -> None:
    for kind in ("inclusion", "consistency", "state", "tx_views", "state_views"):
        outcomes = {case["ok"] for case in VECTORS[kind]}
        assert outcomes == {True, False}, kind


@pytest.mark.parametrize("case", _cases("inclusion"))
def test_inclusion(case: dict[str, Any]) -> None:
    def check() -> None:
        proofs.verify_inclusion(
            bytes.fromhex(case["leaf"]),
            case["index"],
            case["size"],
            _hexes(case["path"]),
            bytes.fromhex(case["root"]),
        )

    assert _accepts(check) is case["ok"]


@pytest.mark.parametrize("case", _cases("consistency"))
def test_consistency(case: dict[str, Any]) -> None:
    def check() -> None:
        proofs.verify_consistency(
            case["old_size"],
            case["new_size"],
            bytes.fromhex(case["old_root"]),
            bytes.fromhex(case["new_root"]),
            _hexes(case["path"]),
        )

    assert _accepts(check) is case["ok"]


@pytest.mark.parametrize("case", _cases("state"))
def test_state_proof(case: dict[str, Any]) -> None:
    value = case["value_hash"]

    def check() -> None:
        proofs.verify_state_proof(
            bytes.fromhex(case["root"]),
            bytes.fromhex(case["key_hash"]),
            None if value is None else bytes.fromhex(value),
            case["proof"],
        )

    assert _accepts(check) is case["ok"]


@pytest.mark.parametrize("case", VECTORS["state_key_hashes"])
def test_state_key_hash(case: dict[str, Any]) -> None:
    assert proofs.state_key_hash(case["namespace"], case["key"]).hex() == case["key_hash"]


@pytest.mark.parametrize("case", _cases("tx_views"))
def test_tx_view(case: dict[str, Any]) -> None:
    def check() -> None:
        verify_tx_view(case["view"])
        if "asked" in case and case["view"]["id"] != case["asked"]:  # sdk.require_tx_of
            raise InvalidProof("a proof of another transaction")

    assert _accepts(check) is case["ok"]


@pytest.mark.parametrize("case", _cases("state_views"))
def test_state_view(case: dict[str, Any]) -> None:
    view = case["view"]

    def check() -> None:
        verify_state_view(view)
        asked = (case.get("namespace"), case.get("key"))
        if "namespace" in case and (view["namespace"], view["key"]) != asked:
            raise InvalidProof("a proof of another key")  # sdk.require_state_of

    assert _accepts(check) is case["ok"]
