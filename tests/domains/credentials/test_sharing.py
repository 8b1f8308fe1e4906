"""Sharing a credential file (whole or chosen credentials) and revoking it; who may read a
file; the share transactions' refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cred_world import (
    ANN,
    AUDITOR,
    BO,
    BOARD,
    CLINIC,
    CY,
    DAY,
    HOSPITAL,
    INSURER,
    REGULATOR,
    T0,
    YEAR,
    World,
    make_world,
)

from healthledger.domains.credentials import sharing
from healthledger.domains.credentials.file import file_for, may_read_file
from healthledger.errors import Unauthorized

LICENCE = f"{BOARD}:lic-1"
CERT = f"{BOARD}:cert-1"
BO_LICENCE = f"{BOARD}:lic-bo"


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = make_world(tmp_path)
    world.issue(LICENCE, ANN, "licence", T0 - YEAR, T0 + YEAR)
    world.issue(CERT, ANN, "certification", T0 - YEAR)
    world.issue(BO_LICENCE, BO, "licence", T0 - YEAR, T0 + YEAR)
    return world


def share(world: World, grantee: str, credentials: list[str] | None = None, days: int = 10) -> Any:
    payload = {
        "grantee": grantee,
        "credentials": credentials or [],
        "until_ms": world.now + days * DAY,
    }
    return world.send(ANN, "credential.share", payload)


def may(world: World, who: str, now_ms: int | None = None) -> bool:
    return may_read_file(
        world.reader(), world.actor(who), ANN, world.now if now_ms is None else now_ms
    )


def test_who_reads_a_file_without_a_share(world: World) -> None:
    assert may(world, ANN)
    assert may(world, HOSPITAL)  # the member's own organisation
    assert may(world, REGULATOR) and may(world, AUDITOR)
    assert not may(world, BO) and not may(world, INSURER) and not may(world, CLINIC)
    assert not may(world, CY)
    # An organisation where the member holds a privilege in force reads it, until revoked.
    world.issue(f"{CLINIC}:priv-1", ANN, "privilege", T0 - DAY, T0 + YEAR)
    assert may(world, CLINIC)
    world.set_status(f"{CLINIC}:priv-1", "revoke")
    assert not may(world, CLINIC)


def test_sharing_the_whole_file_then_revoking_it(world: World) -> None:
    result = share(world, INSURER)
    assert result.ok, result.message
    share_id = f"{ANN}:1"
    assert world.state(sharing.share_key(share_id))["grantee"] == INSURER
    assert may(world, INSURER)
    seen = file_for(world.reader(), world.actor(INSURER), ANN, world.now, world.now)
    assert not seen.partial and [c.id for c in seen.credentials] == [LICENCE, CERT]
    assert [s.id for s in seen.shares] == [share_id]
    assert world.ok(ANN, "credential.unshare", {"share": share_id})
    assert not may(world, INSURER)
    with pytest.raises(Unauthorized):
        file_for(world.reader(), world.actor(INSURER), ANN, world.now, world.now)
    assert world.state(sharing.shares_key(ANN)) == {"count": 1, "live": []}
    # Ids are never reused.
    assert share(world, INSURER).ok
    assert world.state(sharing.shares_key(ANN))["live"] == [f"{ANN}:2"]


def test_a_share_ends_at_its_time(world: World) -> None:
    assert share(world, INSURER, days=1).ok
    until = world.state(sharing.share_key(f"{ANN}:1"))["until_ms"]
    assert may(world, INSURER, until - 1)
    assert not may(world, INSURER, until)


def test_a_share_of_chosen_credentials_shows_only_those(world: World) -> None:
    assert share(world, CY, [CERT]).ok  # with a person: a nurse at the clinic
    seen = file_for(world.reader(), world.actor(CY), ANN, world.now, world.now)
    assert seen.partial
    assert [c.id for c in seen.credentials] == [CERT]
    assert seen.ce_cycles == [] and seen.shares == []
    # Her organisation is not the grantee, nor is anyone else.
    assert not may(world, CLINIC) and not may(world, INSURER)
    # A second share adds to what she sees; a whole-file one shows all.
    assert share(world, CY, [LICENCE]).ok
    seen = file_for(world.reader(), world.actor(CY), ANN, world.now, world.now)
    assert [c.id for c in seen.credentials] == [LICENCE, CERT]
    assert share(world, CY).ok
    assert not file_for(world.reader(), world.actor(CY), ANN, world.now, world.now).partial


def test_share_refusals(world: World) -> None:
    until = world.now + DAY
    base = {"grantee": INSURER, "credentials": [], "until_ms": until}

    def code(who: str, **change: Any) -> str:
        return world.send(who, "credential.share", {**base, **change}).code

    assert code(HOSPITAL) == "unauthorized"  # an organisation does not share a member's file
    assert code(ANN, credentials=[BO_LICENCE]) == "unauthorized"  # another member's
    assert code(ANN, credentials=[f"{BOARD}:nope"]) == "not_found"
    assert code(ANN, grantee="no-such-org") == "not_found"
    assert code(ANN, grantee=f"{HOSPITAL}/nobody") == "not_found"
    assert code(ANN, grantee=ANN) == "invalid_field"
    assert code(ANN, until_ms=T0 - 1) == "invalid_field"
    assert code(ANN, credentials=[CERT, CERT]) == "invalid_field"
    assert code(ANN, credentials=[CERT] * (sharing.MAX_SHARED_CREDENTIALS + 1)) == "invalid_field"
    assert code(ANN, grantee="Not An Org") == "invalid_field"
    assert code(ANN, until_ms=-1) == "invalid_field"
    assert world.state(sharing.shares_key(ANN)) is None
    tx = world.signer(ANN).sign("credential.share", base)
    assert [r.code for r in world.block([tx])] == ["ok"]
    assert [r.code for r in world.block([tx])] == ["duplicate_nonce"]


def test_unshare_refusals(world: World) -> None:
    assert share(world, INSURER).ok
    share_id = f"{ANN}:1"
    assert world.send(BO, "credential.unshare", {"share": share_id}).code == "unauthorized"
    assert world.send(HOSPITAL, "credential.unshare", {"share": share_id}).code == "unauthorized"
    assert world.send(ANN, "credential.unshare", {"share": f"{ANN}:9"}).code == "not_found"
    assert world.send(ANN, "credential.unshare", {"share": "st-marys"}).code == "invalid_field"
    assert world.ok(ANN, "credential.unshare", {"share": share_id})
    assert world.send(ANN, "credential.unshare", {"share": share_id}).code == "conflict"


def test_live_shares_are_bounded_and_ended_ones_make_room(world: World) -> None:
    signer = world.signer(ANN)
    txs = [
        signer.sign(
            "credential.share",
            {"grantee": INSURER, "credentials": [], "until_ms": world.now + (1 + i % 2) * DAY},
        )
        for i in range(sharing.MAX_LIVE_SHARES + 1)
    ]
    codes = [r.code for r in world.block(txs)]
    assert codes == ["ok"] * sharing.MAX_LIVE_SHARES + ["too_large"]
    # A day and a half later, the shares that ended at one day are pruned on the next share.
    world.now += DAY + DAY // 2
    assert share(world, INSURER).ok
    live = world.state(sharing.shares_key(ANN))["live"]
    assert len(live) == sharing.MAX_LIVE_SHARES // 2 + 1
