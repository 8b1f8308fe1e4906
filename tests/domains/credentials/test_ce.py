"""CE rules and totals: two licence cycles against two rule versions, categories, a revoked
CE credential not counted, another member's CE not counted, and the rule's refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cred_world import (
    ANN,
    BO,
    BOARD,
    BOARD2,
    DAY,
    HOSPITAL,
    REGULATOR,
    T0,
    UNIVERSITY,
    YEAR,
    World,
    anchor,
    make_world,
)

from healthledger.app.reader import run_view
from healthledger.domains.credentials import ce
from healthledger.domains.credentials.ce import BoardParams, CeRuleReply, ce_cycles

PROVIDER = UNIVERSITY


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def rule(minutes: int, effective: int, **categories: int) -> dict[str, Any]:
    return {
        "minutes_per_cycle": minutes,
        "categories": [{"category": c, "min_minutes": m} for c, m in categories.items()],
        "effective_from_ms": effective,
    }


def cme(world: World, n: int, subject: str, day: int, minutes: int, category: str) -> None:
    """A CE certificate the university issues (its activity date: `day`)."""
    credential_id = f"{PROVIDER}:ce-{n}"
    world.issue(credential_id, subject, "ce", day, ce_minutes=minutes, ce_category=category)


def by_category(cycle: ce.CeCycle) -> dict[str, tuple[int, int]]:
    return {c.category: (c.minutes, c.shortfall) for c in cycle.categories}


@pytest.fixture
def ann_file(world: World) -> World:
    """Two cycles with BOARD (the second starts the day rule v2 takes effect), a licence
    of a board without a rule, and CE credits on both sides of the cycles' boundary."""
    world.ok(
        BOARD, "credential.ce_rule", rule(3000, T0 - 5 * YEAR, **{"AMA-1": 1200, "ethics": 120})
    )
    world.ok(BOARD, "credential.ce_rule", rule(2400, T0 - YEAR, **{"AMA-1": 1000}))
    # The first cycle ended before the chain began: planted as core would have anchored it.
    world.plant(anchor(f"{BOARD}:lic-1", ANN, "licence", T0 - 3 * YEAR, T0 - YEAR))
    world.issue(f"{BOARD}:lic-2", ANN, "licence", T0 - YEAR, T0 + YEAR)
    world.issue(f"{BOARD2}:lic-9", ANN, "licence", T0 - YEAR, T0 + YEAR)
    cme(world, 1, ANN, T0 - 3 * YEAR, 1500, "AMA-1")  # the first cycle's first day
    cme(world, 2, ANN, T0 - 2 * YEAR, 1500, "AMA-1")
    cme(world, 3, ANN, T0 - YEAR, 1000, "AMA-1")  # the second cycle's first day only
    cme(world, 4, ANN, T0 - 150 * DAY, 600, "ethics")
    cme(world, 5, ANN, T0 - 100 * DAY, 800, "AMA-2")
    cme(world, 6, ANN, T0 - 50 * DAY, 500, "AMA-1")
    cme(world, 7, BO, T0 - 40 * DAY, 900, "AMA-1")  # Bo's, not Ann's
    cme(world, 8, ANN, T0 - 4 * YEAR, 700, "AMA-1")  # before any cycle
    return world


def test_two_cycles_are_judged_each_by_the_rule_in_force_at_its_start(ann_file: World) -> None:
    first, second, other = ce_cycles(ann_file.reader(), ANN, ann_file.now)
    assert (first.licence, first.rule_version, first.required_minutes) == (
        f"{BOARD}:lic-1",
        1,
        3000,
    )
    assert first.credentials == [f"{PROVIDER}:ce-1", f"{PROVIDER}:ce-2"]
    assert (first.minutes, first.shortfall) == (3000, 0)
    assert by_category(first) == {"AMA-1": (3000, 0), "ethics": (0, 120)}
    assert first.compliant is False  # enough minutes, but no ethics
    assert (second.licence, second.rule_version, second.required_minutes) == (
        f"{BOARD}:lic-2",
        2,
        2400,
    )
    assert second.minutes == 1000 + 600 + 800 + 500
    assert by_category(second) == {"AMA-1": (1500, 0), "AMA-2": (800, 0), "ethics": (600, 0)}
    assert second.compliant is True
    # A board without a rule: totals, but no verdict.
    assert (other.board, other.rule_version, other.compliant) == (BOARD2, None, None)
    assert other.minutes == second.minutes


def test_a_revoked_ce_credential_is_not_counted_from_its_revocation(ann_file: World) -> None:
    before = ann_file.now - 1
    ann_file.set_status(f"{PROVIDER}:ce-6", "revoke")
    ann_file.set_status(f"{PROVIDER}:ce-5", "suspend")
    second = ce_cycles(ann_file.reader(), ANN, ann_file.now)[1]
    assert second.credentials == [f"{PROVIDER}:ce-3", f"{PROVIDER}:ce-4"]
    assert (second.minutes, second.shortfall, second.compliant) == (1600, 800, False)
    # Asked as of a time before the changes, they count.
    assert ce_cycles(ann_file.reader(), ANN, before)[1].minutes == 2900


def test_the_rule_view_lists_every_version(ann_file: World) -> None:
    view = next(v for v in ce.VIEWS if v.name == "ce_rule")
    reply = run_view(ann_file.chain.store, view, BoardParams(board=BOARD))
    assert isinstance(reply, CeRuleReply)
    assert [(v.version, v.minutes_per_cycle) for v in reply.versions] == [(1, 3000), (2, 2400)]
    empty = run_view(ann_file.chain.store, view, BoardParams(board=HOSPITAL))
    assert isinstance(empty, CeRuleReply) and empty.versions == []


def test_rule_refusals(world: World) -> None:
    good = rule(600, T0, **{"AMA-1": 60})
    assert world.send(HOSPITAL, "credential.ce_rule", good).code == "unauthorized"
    assert world.send(REGULATOR, "credential.ce_rule", good).code == "unauthorized"
    assert world.send(ANN, "credential.ce_rule", good).code == "unauthorized"
    twice = {**good, "categories": [{"category": "A", "min_minutes": 1}] * 2}
    assert world.send(BOARD, "credential.ce_rule", twice).code == "invalid_field"
    over = rule(600, T0, **{"AMA-1": 601})
    assert world.send(BOARD, "credential.ce_rule", over).code == "invalid_field"
    many = rule(600, T0, **{f"c{i}": 1 for i in range(ce.MAX_CE_CATEGORIES + 1)})
    assert world.send(BOARD, "credential.ce_rule", many).code == "invalid_field"
    assert world.send(BOARD, "credential.ce_rule", {**good, "minutes_per_cycle": "600"}).code == (
        "invalid_field"
    )
    assert world.send(BOARD, "credential.ce_rule", {**good, "extra": 1}).code == "invalid_field"
    assert world.state(ce.rule_key(BOARD)) is None
    tx = world.signer(BOARD).sign("credential.ce_rule", good)
    assert [r.code for r in world.block([tx])] == ["ok"]
    assert [r.code for r in world.block([tx])] == ["duplicate_nonce"]
    # A version must take effect after the last one.
    assert world.send(BOARD, "credential.ce_rule", good).code == "conflict"
    assert world.send(BOARD, "credential.ce_rule", rule(600, T0 - 1)).code == "conflict"


def test_rule_versions_are_bounded(world: World) -> None:
    signer = world.signer(BOARD)
    txs = [
        signer.sign("credential.ce_rule", rule(600, T0 + i))
        for i in range(ce.MAX_RULE_VERSIONS + 1)
    ]
    codes = [r.code for r in world.block(txs)]
    assert codes == ["ok"] * ce.MAX_RULE_VERSIONS + ["too_large"]
    assert len(world.state(ce.rule_key(BOARD))["versions"]) == ce.MAX_RULE_VERSIONS
