"""Work due by time (expiry, deadlines, refunds), done at block time in bounded sweeps.

A domain keeps a `DueQueue` in its own namespace. A transaction `schedule`s an item
(a string the domain understands, such as the key of a record) for a time; the
domain's end-of-block hook `sweep`s what is due by the block's time, at most
`budget` units of work per block, and carries the rest to the next block.

Layout, point reads only (no scan inside `apply`):

- time is cut into buckets of `bucket_ms`; an item goes into the first bucket that
  starts at or after its due time, so a bucket is due as a whole once the block
  time reaches its start (an item is handled no earlier than due, and at most one
  bucket late, plus any backlog);
- `<prefix>b/<bucket>` counts the items a bucket was given; `<prefix>b/<bucket>/<n>`
  is its n-th item, in the order scheduled;
- `<prefix>cursor` is where the sweep stands: the bucket it is in and the next item.
  Buckets before it are done; an item scheduled for one of them (it is overdue)
  joins the cursor's bucket, so nothing lands behind the sweep.

The cursor starts at the bucket of the block that scheduled the first item and
never passes the bucket of the current block time. Each item handled costs one
unit of the budget and so does each bucket the cursor steps over, empty or not: a
chain idle for a year catches up over several blocks, never in one long walk. Work
per block is therefore at most `budget` units whatever anyone scheduled (ten
thousand lots expiring on one day are done `budget` per block). The order is the
bucket, then the order of scheduling: the same on every node.

`handle` runs inside the sweep's context and must not raise for an item it is
given (the application drops a failed sweep's writes and retries next block, so an
item that always fails would stall its queue): a handler re-checks state and
skips an item that no longer applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from healthledger.ledger.context import StateModel, TxContext

DAY_MS = 86_400_000
_EPOCH_DAY = date(1970, 1, 1).toordinal()

Handle = Callable[[TxContext, str], None]


def day_start_ms(day: str) -> int:
    """Milliseconds since the epoch at 00:00 UTC of an ISO day YYYY-MM-DD (integers only)."""
    return (date.fromisoformat(day).toordinal() - _EPOCH_DAY) * DAY_MS


def day_after_ms(day: str) -> int:
    """00:00 UTC of the day after `day`: when something good through `day` stops being so."""
    return day_start_ms(day) + DAY_MS


class Cursor(StateModel):
    bucket: int
    index: int  # the next item of `bucket` to handle


class Bucket(StateModel):
    count: int  # items scheduled into the bucket (handled ones included)


class DueItem(StateModel):
    due_ms: int
    item: str


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did (for tests and logs; the state says the rest)."""

    handled: int
    buckets_passed: int

    @property
    def spent(self) -> int:
        return self.handled + self.buckets_passed


@dataclass(frozen=True)
class DueQueue:
    """Items due by time, kept under `prefix` in the namespace of the context given."""

    prefix: str
    bucket_ms: int = DAY_MS

    def __post_init__(self) -> None:
        if self.bucket_ms <= 0 or not self.prefix.endswith("/"):
            raise ValueError("a due-queue needs a positive bucket width and a prefix ending in /")

    # --- keys ---------------------------------------------------------------------------

    @property
    def cursor_key(self) -> str:
        return f"{self.prefix}cursor"

    def bucket_key(self, bucket: int) -> str:
        return f"{self.prefix}b/{bucket}"

    def item_key(self, bucket: int, index: int) -> str:
        return f"{self.prefix}b/{bucket}/{index}"

    def bucket_of(self, due_ms: int) -> int:
        """The first bucket starting at or after `due_ms` (ceiling division)."""
        return -(-due_ms // self.bucket_ms)

    # --- writing (inside a transaction) -------------------------------------------------------

    def schedule(self, ctx: TxContext, due_ms: int, item: str, handle: Handle) -> int | None:
        """Have `item` handled once the block time reaches `due_ms`; returns its bucket.

        An item already due is handled now, in the scheduling transaction (None): it
        never waits behind others. Each item queued also pays for one unit of the
        sweep here, so however fast items are scheduled, the queue is swept at least
        as fast, and an attacker's flood cannot make honest items late.
        """
        if due_ms <= ctx.block.time_ms:
            handle(ctx, item)
            return None
        bucket = self._enqueue(ctx, due_ms, item)
        self.sweep(ctx, 1, handle)
        return bucket

    def _enqueue(self, ctx: TxContext, due_ms: int, item: str) -> int:
        cursor = ctx.load(self.cursor_key, Cursor)
        if cursor is None:
            cursor = Cursor(bucket=ctx.block.time_ms // self.bucket_ms, index=0)
            ctx.store(self.cursor_key, cursor)
        bucket = max(self.bucket_of(due_ms), cursor.bucket)  # overdue: join the sweep
        head = ctx.load(self.bucket_key(bucket), Bucket)
        count = 0 if head is None else head.count
        ctx.store(self.item_key(bucket, count), DueItem(due_ms=due_ms, item=item))
        ctx.store(self.bucket_key(bucket), Bucket(count=count + 1))
        return bucket

    # --- sweeping (at the end of a block) ------------------------------------------------------

    def sweep(self, ctx: TxContext, budget: int, handle: Handle) -> SweepReport:
        """Handle what is due by the block's time, `budget` units at most; the rest waits."""
        cursor = ctx.load(self.cursor_key, Cursor)
        if cursor is None:
            return SweepReport(0, 0)  # nothing was ever scheduled
        now = ctx.block.time_ms
        bucket, index = cursor.bucket, cursor.index
        head = ctx.load(self.bucket_key(bucket), Bucket)
        handled = passed = 0
        while handled + passed < budget:
            count = 0 if head is None else head.count
            if index < count:
                key = self.item_key(bucket, index)
                due = ctx.load(key, DueItem)
                ctx.delete(key)
                index += 1
                handled += 1
                if due is not None:
                    handle(ctx, due.item)
            elif (bucket + 1) * self.bucket_ms <= now:
                if head is not None:
                    ctx.delete(self.bucket_key(bucket))
                bucket, index = bucket + 1, 0
                passed += 1
                head = ctx.load(self.bucket_key(bucket), Bucket)
            else:
                break  # the next bucket is not due yet
        if (bucket, index) != (cursor.bucket, cursor.index):
            ctx.store(self.cursor_key, Cursor(bucket=bucket, index=index))
        return SweepReport(handled, passed)
