"""Lots past their expiry date are marked expired at block time, a bounded number per block."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

from conftest import CHAIN, make_genesis, seeded_keys
from healthledger.app.application import Application
from healthledger.app.reader import SnapshotReader
from healthledger.client.sdk import Signer
from healthledger.domains.shared.schedule import DAY_MS, day_after_ms
from healthledger.domains.supply import queries as q
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.domains.supply.handlers import EXPIRY_SWEEP_BUDGET
from healthledger.domains.supply.views import LotParams
from healthledger.ledger.context import BlockInfo
from healthledger.ledger.store import Store
from healthledger.ledger.transaction import Transaction

PARTNERS = [("medico-pharma", "manufacturer"), ("pharmalink", "distributor")]
GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))
EXPIRY = "2024-03-31"
EXPIRED_FROM = day_after_ms(EXPIRY)  # 2024-04-01T00:00:00Z
T0 = 1_700_000_000_000  # 2023-11-14, months before


class Node:
    """A real application over its own SQLite store, given blocks at chosen times."""

    def __init__(self, path: Path) -> None:
        self.store = Store(path)
        self.app = Application(self.store)
        self.app.init_chain(make_genesis(PARTNERS))
        self.hashes: list[str] = []

    def block(self, time_ms: int, txs: Sequence[Transaction] = ()) -> None:
        height = self.app.info().height + 1
        pending = self.app.finalize_block(BlockInfo(height, time_ms, "test"), txs)
        assert all(result.ok for *_rest, result in pending.txs)
        self.hashes.append(self.app.commit().hash())

    def expired_lots(self) -> list[str]:
        rows = self.store.state_scan("supply", f"expired/{GTIN}/", 100_000)
        return [key.rsplit("/", 1)[1] for key, _value in rows]

    def lot(self, lot: str) -> q.LotStatus:
        with self.store.snapshot():
            return q.lot_status(SnapshotReader(self.store), LotParams(gtin=GTIN, lot=lot))

    def verify(self, serial: str, lot: str) -> q.VerifyAnswer:
        with self.store.snapshot():
            return q.verify_package(SnapshotReader(self.store), GTIN, serial, lot, EXPIRY)


MAKER = Signer(seeded_keys("medico-pharma"), CHAIN)


def commissions(count: int, expiry: str = EXPIRY, prefix: str = "L") -> list[Transaction]:
    """One transaction per new lot (each schedules the lot's expiry)."""
    return [
        MAKER.sign(
            "supply.commission",
            {"gtin": GTIN, "lot": f"{prefix}{n}", "expiry": expiry, "serials": [f"{prefix}S{n}"]},
        )
        for n in range(count)
    ]


def test_a_lot_is_marked_expired_by_the_first_block_after_its_expiry_date(tmp_path: Path) -> None:
    node = Node(tmp_path / "a.sqlite")
    node.block(T0, commissions(1))
    node.block(EXPIRED_FROM - 1)  # the last millisecond of the expiry date: still good
    assert node.expired_lots() == []
    before = node.verify("LS0", "L0")
    assert (before.verdict, before.expired) == ("verified", False)
    assert before.proofs.expired.raw_value is None  # an absence, proven

    node.block(EXPIRED_FROM)
    assert node.expired_lots() == ["L0"]
    lot = node.lot("L0")
    assert (lot.expired, lot.expired_at, lot.holders) == (True, 3, {"medico-pharma": 1})
    after = node.verify("LS0", "L0")
    assert after.expired and after.verdict == "verified"  # the verdict is the package's own
    assert after.proofs.expired.header == after.proofs.package.header
    node.store.close()


def test_more_lots_than_the_budget_are_marked_over_several_blocks(tmp_path: Path) -> None:
    """An attacker's ten thousand lots of one day cost each block at most the budget."""
    node = Node(tmp_path / "a.sqlite")
    total = 2 * EXPIRY_SWEEP_BUDGET + 10
    node.block(T0, commissions(total))
    marked = [0]
    while marked[-1] < total:
        node.block(EXPIRED_FROM + len(marked))
        marked.append(len(node.expired_lots()))
    steps = [b - a for a, b in pairwise(marked)]
    assert all(step <= EXPIRY_SWEEP_BUDGET for step in steps)
    # Each idle day from the commissioning to the expiry costs a unit of the budget too.
    idle_days = EXPIRED_FROM // DAY_MS - T0 // DAY_MS
    assert len(steps) == -(-(idle_days + total) // EXPIRY_SWEEP_BUDGET)
    node.block(EXPIRED_FROM + DAY_MS - 1)
    assert len(node.expired_lots()) == total  # each lot is marked once
    node.store.close()


def test_two_nodes_applying_the_same_blocks_agree_on_every_root(tmp_path: Path) -> None:
    txs = commissions(EXPIRY_SWEEP_BUDGET + 20)
    overdue = commissions(2, expiry="2023-01-01", prefix="OLD")  # expired when commissioned

    def run(path: Path) -> tuple[list[str], list[str]]:
        node = Node(path)
        node.block(T0, txs)
        node.block(T0 + 1, overdue)  # marked by the sweep at the end of this very block
        marked_at_once = node.expired_lots()
        for n in range(4):
            node.block(EXPIRED_FROM + n * 1000)
        assert len(node.expired_lots()) == EXPIRY_SWEEP_BUDGET + 22
        node.store.close()
        return marked_at_once, node.hashes

    (marked_a, first), (marked_b, second) = run(tmp_path / "a.sqlite"), run(tmp_path / "b.sqlite")
    assert marked_a == marked_b == ["OLD0", "OLD1"]
    assert first == second
