"""Primary-source verification records and their reuse: who, when, the age at each reuse and
NCQA's 120-day boundary; the view; refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cred_world import (
    ANN,
    BOARD,
    CLINIC,
    DAY,
    HOSPITAL,
    INSURER,
    T0,
    YEAR,
    World,
    make_world,
)

from healthledger.app.reader import run_view
from healthledger.domains.credentials import psv

LICENCE = f"{BOARD}:lic-1"
PSV_ID = f"{LICENCE}/1"


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = make_world(tmp_path)
    world.issue(LICENCE, ANN, "licence", T0 - YEAR, T0 + YEAR)
    return world


def verify(world: World, who: str = HOSPITAL, time_ms: int | None = None, **change: Any) -> Any:
    payload = {"credential_id": LICENCE, "method": "board_website", "result": "ok", **change}
    return world.send(who, "credential.psv", payload, time_ms=time_ms)


def reuse(world: World, who: str, time_ms: int | None = None, **change: Any) -> Any:
    payload = {"psv": PSV_ID, "decision": "privileges granted", **change}
    return world.send(who, "credential.psv_reuse", payload, time_ms=time_ms)


def test_reuses_are_recorded_with_their_age_and_the_120_day_boundary(world: World) -> None:
    verified_at = world.now + DAY
    result = verify(world, time_ms=verified_at)
    assert result.ok, result.message
    record = world.state(psv.psv_key(PSV_ID))
    assert (record["verifier"], record["method"], record["result"]) == (
        HOSPITAL,
        "board_website",
        "ok",
    )
    assert record["time_ms"] == verified_at
    assert reuse(world, CLINIC, verified_at + 10 * DAY).ok
    assert reuse(world, INSURER, verified_at + 120 * DAY).ok  # exactly 120 days: within
    assert reuse(world, BOARD, verified_at + 120 * DAY + 1).ok  # a millisecond more: not
    assert reuse(world, CLINIC, verified_at + 200 * DAY, decision="re-credentialing").ok
    entries = psv.psvs_of(world.reader(), LICENCE)
    (entry,) = entries
    assert entry.psv.reuses == 4
    assert [(r.by, r.age_days, r.within_120_days) for r in entry.reuse_records] == [
        (CLINIC, 10, True),
        (INSURER, 120, True),
        (BOARD, 120, False),
        (CLINIC, 200, False),
    ]
    assert entry.reuse_records[3].decision == "re-credentialing"


def test_the_view_lists_a_credentials_psvs_in_order(world: World) -> None:
    assert verify(world).ok
    assert verify(world, CLINIC, method="ledger", result="discrepancy").ok
    assert reuse(world, INSURER).ok
    view = psv.VIEWS[0]
    reply = run_view(world.chain.store, view, psv.CredentialParams(credential_id=LICENCE))
    assert isinstance(reply, psv.PsvsReply)
    assert [(e.psv.id, e.psv.verifier, e.psv.result) for e in reply.verifications] == [
        (PSV_ID, HOSPITAL, "ok"),
        (f"{LICENCE}/2", CLINIC, "discrepancy"),
    ]
    assert [len(e.reuse_records) for e in reply.verifications] == [1, 0]


def test_psv_refusals(world: World) -> None:
    assert verify(world, ANN).code == "unauthorized"  # a member, not an organisation
    assert verify(world, credential_id=f"{BOARD}:nope").code == "not_found"
    assert verify(world, method="Board Website").code == "invalid_field"
    assert verify(world, result="maybe").code == "invalid_field"
    assert verify(world, credential_id="no colon").code == "invalid_field"
    assert world.state(psv.count_key(LICENCE)) is None
    payload = {"credential_id": LICENCE, "method": "issuer_api", "result": "ok"}
    tx = world.signer(HOSPITAL).sign("credential.psv", payload)
    assert [r.code for r in world.block([tx])] == ["ok"]
    assert [r.code for r in world.block([tx])] == ["duplicate_nonce"]
    assert world.state(psv.count_key(LICENCE)) == 1


def test_psv_reuse_refusals(world: World) -> None:
    assert reuse(world, CLINIC).code == "not_found"
    assert verify(world).ok
    assert reuse(world, HOSPITAL).code == "invalid_state"  # its own verification
    assert reuse(world, ANN).code == "unauthorized"
    assert reuse(world, CLINIC, decision="").code == "invalid_field"
    assert reuse(world, CLINIC, decision="x" * 201).code == "invalid_field"
    assert reuse(world, CLINIC, psv=LICENCE).code == "invalid_field"
    assert world.state(psv.reuse_key(PSV_ID, 1)) is None


def test_psvs_per_credential_are_bounded(world: World) -> None:
    payload = {"credential_id": LICENCE, "method": "ledger", "result": "ok"}
    txs = [
        world.signer(org).sign("credential.psv", payload)
        for org in (CLINIC, HOSPITAL)
        for _ in range(psv.MAX_PSV_PER_VERIFIER + 1)
    ]
    codes = [r.code for r in world.block(txs)]
    share = ["ok"] * psv.MAX_PSV_PER_VERIFIER + ["too_large"]
    assert codes == share * 2  # each verifier's share; the others' stay free
    assert world.state(psv.count_key(LICENCE)) == 2 * psv.MAX_PSV_PER_VERIFIER
