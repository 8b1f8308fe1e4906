"""Exclusions: flags to every organisation where the member holds a privilege in force, a
privilege issued later flagged too, lifting clears what it raised, history, refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cred_world import (
    ANN,
    BO,
    BOARD,
    CLINIC,
    DAY,
    HOSPITAL,
    NORTH,
    OLD_CLINIC,
    REGULATOR,
    REGULATOR2,
    T0,
    YEAR,
    World,
    make_world,
)

from healthledger.app.reader import run_view
from healthledger.domains.credentials import exclusions as ex
from healthledger.ledger.context import BlockInfo, TxContext

LIST = "state-sanctions"


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = make_world(tmp_path)
    world.issue(f"{BOARD}:lic-1", ANN, "licence", T0 - YEAR, T0 + YEAR)
    world.issue(f"{HOSPITAL}:priv-1", ANN, "privilege", T0 - YEAR, T0 + YEAR)
    world.issue(f"{CLINIC}:priv-2", ANN, "privilege", T0 - YEAR)
    world.issue(f"{CLINIC}:priv-3", ANN, "privilege", T0 - YEAR)  # a second one, same org
    world.issue(f"{NORTH}:priv-4", ANN, "privilege", T0 - YEAR)
    world.set_status(f"{NORTH}:priv-4", "revoke")
    # A privilege whose period ends a second from now: ended (and swept) by the exclusion.
    world.issue(f"{OLD_CLINIC}:priv-5", ANN, "privilege", T0 - YEAR, world.now + 1_000)
    world.issue(f"{HOSPITAL}:priv-6", BO, "privilege", T0 - YEAR)  # Bo's
    return world


def exclude(world: World, action: str, who: str = REGULATOR, **change: Any) -> Any:
    payload = {"action": action, "member": ANN, "reason": "fraud", "list": LIST, **change}
    return world.send(who, "credential.exclusion", payload)


def flagged(world: World, org: str) -> dict[str, list[str]]:
    return {f.member: list(f.regulators) for f in ex.flags_of(world.reader(), org)}


def test_an_exclusion_flags_every_privilege_org_and_lifting_clears_them(world: World) -> None:
    assert exclude(world, "add").ok
    assert flagged(world, HOSPITAL) == {ANN: [REGULATOR]}
    assert flagged(world, CLINIC) == {ANN: [REGULATOR]}
    for org in (NORTH, OLD_CLINIC, BOARD):
        assert flagged(world, org) == {}
    record = ex.exclusions_of(world.reader(), ANN)
    assert record is not None
    (entry,) = record.entries
    assert (entry.active, entry.flagged) == (True, (HOSPITAL, CLINIC))
    # A second regulator's exclusion shares the flags; lifting one leaves the other's.
    assert exclude(world, "add", REGULATOR2, list="LEIE", reason="1128a1").ok
    assert flagged(world, CLINIC) == {ANN: [REGULATOR, REGULATOR2]}
    assert exclude(world, "lift", reason="reinstated").ok
    assert flagged(world, CLINIC) == {ANN: [REGULATOR2]}
    assert exclude(world, "lift", REGULATOR2, list="LEIE", reason="reinstated").ok
    assert flagged(world, HOSPITAL) == {} and flagged(world, CLINIC) == {}
    assert world.state(ex.flags_key(HOSPITAL)) is None
    assert world.state(ex.flag_key(HOSPITAL, ANN)) is None
    # History is kept, and the member may be listed again.
    assert exclude(world, "add", reason="again").ok
    record = ex.exclusions_of(world.reader(), ANN)
    assert record is not None
    entry = next(e for e in record.entries if e.regulator == REGULATOR)
    assert [(s.action, s.reason) for s in entry.history] == [
        ("add", "fraud"),
        ("lift", "reinstated"),
        ("add", "again"),
    ]
    assert entry.history[0].height < entry.history[1].height < entry.history[2].height


def test_a_privilege_issued_while_excluded_is_flagged(world: World) -> None:
    assert exclude(world, "add").ok
    assert flagged(world, NORTH) == {}  # its privilege was revoked
    world.issue(f"{NORTH}:priv-7", ANN, "privilege", T0)
    world.issue(f"{NORTH}:priv-8", BO, "privilege", T0)  # Bo is not excluded
    assert flagged(world, NORTH) == {ANN: [REGULATOR]}
    # Lifting clears it too: it is among the flags the exclusion raised.
    assert exclude(world, "lift").ok
    assert flagged(world, NORTH) == {}
    # Once lifted, a new privilege raises nothing.
    world.issue(f"{OLD_CLINIC}:priv-9", ANN, "privilege", T0)
    assert flagged(world, OLD_CLINIC) == {}


def test_flag_if_excluded_from_another_namespace_writes_credentials_state(world: World) -> None:
    """A base operation: called inside another domain's transaction, it writes its own."""
    assert exclude(world, "add").ok
    ctx = TxContext(
        world.chain.store.state_get,
        "records",
        world.actor(HOSPITAL),
        BlockInfo(99, world.now, "p"),
        "tx",
        bases=frozenset({"credentials"}),
    )
    ex.flag_if_excluded(ctx, ANN, "new-clinic")
    assert ("credentials", ex.flag_key("new-clinic", ANN)) in ctx.writes
    assert all(ns == "credentials" for ns, _key in ctx.writes)


def test_views_list_flags_and_exclusions(world: World) -> None:
    assert exclude(world, "add").ok
    flags_view, exclusions_view = ex.VIEWS
    reply = run_view(world.chain.store, flags_view, ex.OrgParams(org=HOSPITAL))
    assert isinstance(reply, ex.FlagsReply)
    assert [(f.member, f.regulators) for f in reply.flags] == [(ANN, (REGULATOR,))]
    answer = run_view(
        world.chain.store, exclusions_view, ex.MemberParams(org=HOSPITAL, member_id="dr-ann")
    )
    assert isinstance(answer, ex.ExclusionsReply)
    assert [(e.regulator, e.list, e.active) for e in answer.entries] == [(REGULATOR, LIST, True)]


def test_exclusion_refusals(world: World) -> None:
    for sender in (HOSPITAL, BOARD, ANN):
        assert exclude(world, "add", sender).code == "unauthorized"
    assert exclude(world, "add", member=f"{HOSPITAL}/nobody").code == "not_found"
    assert exclude(world, "lift").code == "conflict"  # not listed
    assert exclude(world, "remove").code == "invalid_field"
    assert exclude(world, "add", reason="Has Space").code == "invalid_field"
    assert exclude(world, "add", reason="x" * 33).code == "invalid_field"
    assert exclude(world, "add", member="not-a-member").code == "invalid_field"
    assert world.state(ex.exclusion_key(ANN)) is None
    payload = {"action": "add", "member": ANN, "reason": "fraud", "list": LIST}
    tx = world.signer(REGULATOR).sign("credential.exclusion", payload)
    assert [r.code for r in world.block([tx])] == ["ok"]
    assert [r.code for r in world.block([tx])] == ["duplicate_nonce"]
    assert exclude(world, "add").code == "conflict"  # already listed
    assert exclude(world, "lift", list="other-list").code == "conflict"
    assert exclude(world, "lift", REGULATOR2).code == "conflict"  # not on its list


def test_exclusion_history_is_bounded(world: World) -> None:
    signer = world.signer(REGULATOR)
    txs = [
        signer.sign(
            "credential.exclusion",
            {"action": ("add", "lift")[i % 2], "member": ANN, "reason": "r", "list": LIST},
        )
        for i in range(ex.MAX_EXCLUSION_HISTORY + 1)
    ]
    codes = [r.code for r in world.block(txs, time_ms=world.now + DAY)]
    assert codes == ["ok"] * ex.MAX_EXCLUSION_HISTORY + ["too_large"]
