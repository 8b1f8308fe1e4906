"""The due-queue: items handled once due, at most `budget` units of work per block, in order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from healthledger.domains.shared.schedule import DAY_MS, DueQueue, SweepReport, day_after_ms
from healthledger.ledger.context import Actor, BlockInfo, TxContext

QUEUE = DueQueue("due/test/")
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
ACTOR = Actor(key_id="", kind="block", id="block", org=None, role="block")


class Ledger:
    """One namespace of state, applied block by block as the application would."""

    def __init__(self) -> None:
        self.state: dict[str, bytes] = {}
        self.height = 0
        self.reads = 0
        self.handled: list[tuple[int, str]] = []

    def _read(self, ns: str, key: str) -> bytes | None:
        self.reads += 1
        return self.state.get(key) if ns == "test" else None

    def _context(self, time_ms: int) -> TxContext:
        self.height += 1
        return TxContext(self._read, "test", ACTOR, BlockInfo(self.height, time_ms, "p"), "tx")

    def _apply(self, ctx: TxContext) -> None:
        for (_ns, key), value in ctx.writes.items():
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value

    def schedule(self, time_ms: int, *due: tuple[int, str]) -> None:
        ctx = self._context(time_ms)
        for due_ms, item in due:
            QUEUE.schedule(ctx, due_ms, item, self._handle)
        self._apply(ctx)

    def _handle(self, ctx: TxContext, item: str) -> None:
        self.handled.append((ctx.block.height, item))

    def sweep(self, time_ms: int, budget: int) -> SweepReport:
        ctx = self._context(time_ms)
        self.reads = 0
        report = QUEUE.sweep(ctx, budget, self._handle)
        self._apply(ctx)
        return report

    def items(self) -> list[str]:
        return [item for _height, item in self.handled]


def test_nothing_scheduled_costs_one_read_and_writes_nothing() -> None:
    ledger = Ledger()
    assert ledger.sweep(T0, budget=10) == SweepReport(0, 0)
    assert (ledger.reads, ledger.state) == (1, {})


def test_items_are_handled_once_due_in_time_then_scheduling_order() -> None:
    ledger = Ledger()
    ledger.schedule(T0, (T0 + 3 * DAY_MS, "c"), (T0 + DAY_MS, "a"), (T0 + DAY_MS, "b"))
    ledger.sweep(T0 + DAY_MS // 2, budget=10)
    assert ledger.items() == []  # nothing is due yet
    # "a" and "b" are due during day 1, so they sit in the bucket starting day 2 (ceiling).
    day_two = (T0 // DAY_MS + 2) * DAY_MS
    ledger.sweep(day_two - 1, budget=10)
    assert ledger.items() == []
    ledger.sweep(day_two, budget=10)
    assert ledger.items() == ["a", "b"]
    ledger.sweep(day_two + 2 * DAY_MS, budget=10)
    assert ledger.items() == ["a", "b", "c"]
    assert all(key.endswith("cursor") or "/b/" in key for key in ledger.state)
    assert not any(key.count("/") == 4 for key in ledger.state)  # handled items are deleted


def test_ten_thousand_items_due_at_once_are_done_budget_per_block() -> None:
    """Whatever is scheduled, one sweep does at most `budget` units: bounded reads and writes."""
    ledger = Ledger()
    ledger.schedule(T0, *[(T0 + 1, f"i{n:05d}") for n in range(10_000)])
    assert ledger.handled == []  # not due when scheduled: queued
    budget = 100
    blocks = 0
    while len(ledger.handled) < 10_000:
        report = ledger.sweep(T0 + DAY_MS, budget)
        blocks += 1
        assert report.spent <= budget
        assert ledger.reads <= 2 * budget + 2
    assert blocks == 101  # a bucket passed in the first block, then 100 items a block
    assert ledger.items() == [f"i{n:05d}" for n in range(10_000)]
    assert ledger.sweep(T0 + DAY_MS, budget).spent == 0


def test_an_idle_year_is_caught_up_over_blocks_not_in_one() -> None:
    ledger = Ledger()
    ledger.schedule(T0, (T0 + 365 * DAY_MS, "late"))
    later = T0 + 400 * DAY_MS
    reports = []
    while not ledger.handled:
        reports.append(ledger.sweep(later, budget=50))
    assert all(r.spent <= 50 for r in reports)
    # The item waits in the bucket 366 days after the cursor's: 367 units at 50 a block.
    assert [r.handled for r in reports] == [0] * 7 + [1]
    assert [r.buckets_passed for r in reports[:7]] == [50] * 7


def test_an_item_already_due_is_handled_by_the_transaction_that_schedules_it() -> None:
    ledger = Ledger()
    ledger.schedule(T0, (T0 + 10 * DAY_MS, "later"))
    ledger.schedule(T0 + 5 * DAY_MS, (T0 - 30 * DAY_MS, "overdue"), (T0 + 5 * DAY_MS, "now"))
    assert ledger.handled == [(2, "overdue"), (2, "now")]  # in block 2, queueing nothing
    queued = [key for key in ledger.state if "/b/" in key and key.count("/") == 4]
    assert len(queued) == 1  # only "later" waits in the queue


def test_a_flood_of_scheduling_pays_for_the_sweep_so_honest_items_are_not_late() -> None:
    """Each item queued sweeps one unit: with no end-of-block budget at all, a queue that
    an attacker keeps filling still reaches an honest item due earlier."""
    ledger = Ledger()
    ledger.schedule(T0, (T0 + DAY_MS, "honest"))
    flood = [(T0 + 400 * DAY_MS, f"spam{n}") for n in range(3)]
    ledger.schedule(T0 + 3 * DAY_MS, *flood)
    assert ledger.items() == ["honest"]


def test_sweeps_are_deterministic() -> None:
    def run() -> tuple[list[tuple[int, str]], dict[str, bytes]]:
        ledger = Ledger()
        ledger.schedule(T0, *[(T0 + (n % 7) * DAY_MS, f"x{n}") for n in range(300)])
        for day in range(1, 12):
            ledger.sweep(T0 + day * DAY_MS, budget=37)
        return ledger.handled, ledger.state

    assert run() == run()
    handled, _state = run()
    assert len(handled) == 300


def test_day_after_is_midnight_utc_of_the_next_day() -> None:
    expected = datetime(2027, 7, 1, tzinfo=UTC).timestamp() * 1000
    assert day_after_ms("2027-06-30") == int(expected)
    assert day_after_ms("9999-12-31") < 2**53  # the last ISO day still fits a safe integer


def test_a_queue_needs_a_prefix_and_a_width() -> None:
    with pytest.raises(ValueError):
        DueQueue("no-slash")
    with pytest.raises(ValueError):
        DueQueue("due/x/", bucket_ms=0)
