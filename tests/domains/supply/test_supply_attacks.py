"""Supply under attack: container cycles, deep nesting, huge moves (issue 10, #1 and #10).

Before the fix, `aggregate B [A]` after `aggregate A [B]` made a cycle and the next move
recursed until RecursionError escaped `finalize_block` and stopped the node for good.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_custody import EXPIRY, GTIN, LOT, PARTNERS, commission, do, pkg

from conftest import CHAIN, Chain, make_genesis, serve_network, stop_node
from healthledger.app.application import Application
from healthledger.client.sdk import Client, Signer
from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.keys import load_keypair
from healthledger.domains.supply import handlers
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.ledger.context import BlockInfo
from healthledger.ledger.store import Store
from healthledger.node.home import Home


def sscc(n: int) -> str:
    body = f"0061414{n:010d}"
    return body + str(gtin_check_digit(body))


@pytest.fixture
def sc(tmp_path: Path) -> Iterator[Chain]:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(make_genesis(PARTNERS))
    yield Chain(app, store)
    store.close()


def container(sc: Chain, code: str) -> Any:
    return sc.state("supply", f"sscc/{code}")


def test_the_reported_cycle_is_refused_and_nothing_changes(sc: Chain) -> None:
    a, b = sscc(1), sscc(2)
    commission(sc, "P1")
    assert do(sc, "medico-pharma", "aggregate", sscc=b, items=[pkg("P1")]).ok
    assert do(sc, "medico-pharma", "disaggregate", sscc=b).ok
    assert do(sc, "medico-pharma", "aggregate", sscc=a, items=[b]).ok
    before = sc.domain_state()
    # B is empty but packed inside A: packing A into B would close a loop.
    assert do(sc, "medico-pharma", "aggregate", sscc=b, items=[a]).code == "conflict"
    assert do(sc, "medico-pharma", "ship", items=[b], to="pharmalink").code == "conflict"
    assert sc.domain_state() == before
    assert container(sc, b)["container"] == a
    # The chain goes on: A (holding empty B) still moves.
    assert do(sc, "medico-pharma", "ship", items=[a], to="pharmalink").ok


def test_a_container_cannot_be_repacked_by_another_holder_or_in_transit(sc: Chain) -> None:
    box = sscc(3)
    commission(sc, "P1", "P2")
    assert do(sc, "medico-pharma", "aggregate", sscc=box, items=[pkg("P1")]).ok
    assert do(sc, "medico-pharma", "disaggregate", sscc=box).ok
    assert do(sc, "pharmalink", "aggregate", sscc=box, items=[pkg("P2")]).code == "unauthorized"
    assert do(sc, "medico-pharma", "aggregate", sscc=box, items=[box]).code == "cycle"


def test_nesting_deeper_than_the_bound_is_refused(sc: Chain) -> None:
    commission(sc, "P1")
    inner = pkg("P1")
    for level in range(handlers.MAX_DEPTH):
        outer = sscc(100 + level)
        assert do(sc, "medico-pharma", "aggregate", sscc=outer, items=[inner]).ok, level
        inner = outer
    too_deep = do(sc, "medico-pharma", "aggregate", sscc=sscc(999), items=[inner])
    assert too_deep.code == "too_large"
    assert container(sc, sscc(999)) is None
    assert do(sc, "medico-pharma", "ship", items=[inner], to="pharmalink").ok


def test_a_container_larger_than_one_transaction_can_move_is_never_built(sc: Chain) -> None:
    per_case = 1000
    cases = handlers.MAX_MOVED // per_case
    for start in range(0, cases * per_case, 2000):
        serials = [f"S{n:05d}" for n in range(start, start + 2000)]
        commission(sc, *serials)
    for c in range(cases):
        items = [pkg(f"S{n:05d}") for n in range(c * per_case, (c + 1) * per_case)]
        assert do(sc, "medico-pharma", "aggregate", sscc=sscc(200 + c), items=items).ok
    # cases x (1 case + 1000 packages) + the pallet itself is over MAX_MOVED.
    pallet = do(
        sc,
        "medico-pharma",
        "aggregate",
        sscc=sscc(300),
        items=[sscc(200 + c) for c in range(cases)],
    )
    assert pallet.code == "too_large"
    # Moving every case at once is over the bound as well: the client splits it.
    everything = [sscc(200 + c) for c in range(cases)]
    assert do(sc, "medico-pharma", "ship", items=everything, to="pharmalink").code == "too_large"
    assert do(sc, "medico-pharma", "ship", items=everything[:5], to="pharmalink").ok


def test_a_cycle_already_in_state_is_refused_not_recursed(sc: Chain) -> None:
    """Walks do not trust state to be a tree: a forged loop fails the move with `cycle`."""
    a, b = sscc(11), sscc(12)
    sc.one(sc.signer("medico-pharma").sign("supply.verify", verify_payload()))  # any block
    forged = {
        ("supply", f"sscc/{a}"): loop_container(a, b),
        ("supply", f"sscc/{b}"): loop_container(b, a),
    }
    height = sc.app.info().height + 1
    sc.app.finalize_block(BlockInfo(height, 1_700_000_000_000 + height, "test"), [])
    sc.app._pending.state.update(forged)  # type: ignore[union-attr]
    sc.app.commit()
    result = do(sc, "medico-pharma", "ship", items=[a], to="pharmalink")
    assert result.code == "cycle"


def verify_payload() -> dict[str, str]:
    return {"gtin": GTIN, "serial": "X", "lot": LOT, "expiry": EXPIRY}


def loop_container(code: str, child: str) -> bytes:
    return canonical_bytes(
        {
            "sscc": code,
            "owner": "medico-pharma",
            "status": "active",
            "to": None,
            "container": None,
            "children": [child],
            "history": [],
        }
    )


def test_an_unexpected_error_fails_the_transaction_and_the_chain_goes_on(
    sc: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Principle 6: any exception inside apply is a failed result, the same on every node."""
    commission(sc, "P1", "P2")

    def explode(*_args: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(handlers, "_contents", explode)
    failed = do(sc, "medico-pharma", "ship", items=[pkg("P1")], to="pharmalink")
    assert failed.code == "apply_failed"
    assert failed.message == "supply.ship failed unexpectedly (RecursionError)"
    monkeypatch.undo()
    assert do(sc, "medico-pharma", "ship", items=[pkg("P2")], to="pharmalink").ok


def test_the_cycle_attack_on_a_real_node_leaves_it_committing(tmp_path: Path) -> None:
    root = tmp_path / "net"
    url, process = serve_network(root, CHAIN, [(org, role, org.title()) for org, role in PARTNERS])
    try:
        maker = Signer(load_keypair(Home(root).key_path("medico-pharma")), CHAIN)
        with Client(url) as client:

            def send(tx_type: str, **payload: Any) -> dict[str, Any]:
                report = client.submit(maker.sign(f"supply.{tx_type}", payload), wait=True)
                assert report.status == "committed" and report.result is not None, report
                return report.result.to_dict()

            a, b = sscc(21), sscc(22)
            lot = {"gtin": GTIN, "lot": LOT, "expiry": EXPIRY, "serials": ["N1"]}
            assert send("commission", **lot)["code"] == "ok"
            assert send("aggregate", sscc=b, items=[pkg("N1")])["code"] == "ok"
            assert send("disaggregate", sscc=b)["code"] == "ok"
            assert send("aggregate", sscc=a, items=[b])["code"] == "ok"
            assert send("aggregate", sscc=b, items=[a])["code"] == "conflict"
            height = client.info().height
            assert send("ship", items=[b], to="pharmalink")["code"] == "conflict"
            assert send("ship", items=[a], to="pharmalink")["code"] == "ok"
            assert client.info().height > height
            assert process.poll() is None
    finally:
        stop_node(process)


def test_serial_range_recalls_are_bounded_and_lot_recalls_never_refused(sc: Chain) -> None:
    """Every move checks each package against the range recalls: their number is bounded.
    A manufacturer filling them with empty ranges cannot stop a regulator's lot recall."""
    commission(sc, "P1")
    for n in range(handlers.MAX_RANGE_RECALLS):
        serials = {"serial_from": f"X{n}A", "serial_to": f"X{n}B"}
        assert do(sc, "medico-pharma", "recall", gtin=GTIN, reason="r", **serials).ok
    one_more = do(
        sc, "health-authority", "recall", gtin=GTIN, reason="r", serial_from="Y", serial_to="Z"
    )
    assert one_more.code == "too_large"
    assert do(sc, "health-authority", "recall", gtin=GTIN, lot=LOT, reason="r").ok
    assert do(sc, "medico-pharma", "recall", gtin=GTIN, lot=LOT, reason="r").code == "conflict"
    assert do(sc, "medico-pharma", "ship", items=[pkg("P1")], to="pharmalink").code == (
        "invalid_state"  # recalled: it can only be returned
    )


def test_an_items_custody_history_is_bounded(sc: Chain) -> None:
    """Packing and unpacking one SSCC forever would make every later step rewrite it all."""
    box = sscc(50)
    commission(sc, "P1")
    steps = 0
    while True:
        packed = do(sc, "medico-pharma", "aggregate", sscc=box, items=[pkg("P1")])
        if not packed.ok:
            break
        assert do(sc, "medico-pharma", "disaggregate", sscc=box).ok
        steps += 2
    assert packed.code == "too_large"
    assert len(container(sc, box)["history"]) == handlers.MAX_HISTORY
    assert steps == handlers.MAX_HISTORY
    assert do(sc, "medico-pharma", "ship", items=[pkg("P1")], to="pharmalink").ok


def test_a_full_history_never_strands_goods_on_their_way(sc: Chain) -> None:
    """At the bound an item starts no new step, but what was started still finishes."""
    box = sscc(60)
    commission(sc, "P1")
    while len((container(sc, box) or {"history": []})["history"]) < handlers.MAX_HISTORY - 2:
        assert do(sc, "medico-pharma", "aggregate", sscc=box, items=[pkg("P1")]).ok
        assert do(sc, "medico-pharma", "disaggregate", sscc=box).ok
    assert do(sc, "medico-pharma", "aggregate", sscc=box, items=[pkg("P1")]).ok
    assert do(sc, "medico-pharma", "ship", items=[box], to="pharmalink").ok  # step 1,000
    assert do(sc, "pharmalink", "receive", items=[box]).ok
    assert do(sc, "pharmalink", "ship", items=[box], to="corner-pharmacy").code == "too_large"
    assert do(sc, "pharmalink", "disaggregate", sscc=box).ok
    assert do(sc, "pharmalink", "ship", items=[pkg("P1")], to="corner-pharmacy").ok


def test_a_lot_nobody_holds_leaves_the_holders_map(sc: Chain) -> None:
    commission(sc, "P1")
    assert do(sc, "medico-pharma", "destroy", items=[pkg("P1")], reason="damaged").ok
    assert sc.state("supply", f"holders/{GTIN}") == {}
