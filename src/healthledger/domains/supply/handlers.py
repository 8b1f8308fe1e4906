"""Apply the supply transactions: a state machine that refuses impossible moves.

Every custody step is taken by the organisation that may take it (the current
owner, or the named receiver), on items in a state that allows it; moving a case
or pallet moves everything inside it. Suspicious presentations raise alerts that
the manufacturer and regulators see.

Who may send each type is declared once (`__init__.py`, role sets in `roles.py`)
and enforced by the permission check before a handler runs; handlers check only
what a declaration cannot say: the counterparty (a trading partner), the items
(held by the sender, in a state that allows the step), and the rules that depend
on the sender's role (a regulator destroys what it does not hold).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar
from weakref import WeakKeyDictionary

from healthledger.domains.governance.queries import org_role
from healthledger.domains.shared.schedule import DueQueue, day_after_ms
from healthledger.domains.supply import errors as e
from healthledger.domains.supply import messages as m
from healthledger.domains.supply import queries as q
from healthledger.domains.supply import state as st
from healthledger.domains.supply import ti
from healthledger.domains.supply.events import is_container, package_id, split_package_id
from healthledger.domains.supply.roles import DISPENSERS, REGULATOR, TRADING_ROLES
from healthledger.domains.supply.state import Container, Item, Package, Step, Tracked
from healthledger.ledger.context import TxContext

T = TypeVar("T", bound=Tracked)

# GS1 packing hierarchies are a few levels deep (pallet > case > inner pack > unit); deeper
# nesting is refused rather than walked, so no transaction's work depends on the attacker.
MAX_DEPTH = 8
# Items (packages and containers) one transaction may move; a container holding more can
# never be built, so every container stays movable in one transaction.
MAX_MOVED = 10_000
# Custody steps one item's record may hold. A package takes a handful; a reused SSCC a few
# hundred. At the bound an item starts no new step (pack, ship, return, export), so its
# record stops growing, since each step reads and rewrites it whole; steps that finish
# what was started (receive, unpack, dispense, destroy, a regulator's flags) still have
# FINISHING_STEPS of room, so nothing is stranded in transit or inside a case.
MAX_HISTORY = 1000
FINISHING_STEPS = 16
STARTING_ACTIONS = frozenset({"aggregate", "ship", "return", "export"})
# Serial-range recalls in force for one GTIN: each move checks every package against
# them. A lot is recalled at most once and checked by a set lookup, so lot recalls (a
# regulator's above all) are never refused for want of room.
MAX_RANGE_RECALLS = 32
# Lots marked expired per block by the end-of-block sweep (each costs two reads and a
# write; so does each idle day the sweep catches up on). Ten thousand lots expiring on
# one day are marked over about eighty blocks, never in one.
EXPIRY_SWEEP_BUDGET = 128
# Each new lot waits here for the day after its expiry date (00:00 UTC), one bucket a day.
EXPIRY_QUEUE = DueQueue(st.EXPIRY_QUEUE_PREFIX)

Moved = list[tuple[str, Item]]


def _org(ctx: TxContext) -> str:
    """The acting organisation (the sender, or the organisation of the member who sent).

    Every declared sender of a supply type is one of these, so this never refuses a
    transaction the permission check admitted; it narrows the type.
    """
    if ctx.actor.org is None:
        raise e.NotAnOrganisation()
    return ctx.actor.org


def sender_org(ctx: TxContext) -> str:
    """The organisation acting in this transaction (for operations built on these)."""
    return _org(ctx)


def _org_role(ctx: TxContext) -> str | None:
    """The acting organisation's role: an organisation's own is on the actor already."""
    if ctx.actor.kind == "org":
        return ctx.actor.role
    return org_role(ctx.reader, _org(ctx))


def _logged(record: T, ctx: TxContext, action: str, detail: str | None, **changes: object) -> T:
    """`record` with `changes` and one more custody step, within its bound."""
    bound = MAX_HISTORY if action in STARTING_ACTIONS else MAX_HISTORY + FINISHING_STEPS
    if len(record.history) >= bound:
        raise e.HistoryFull(record.name, len(record.history))
    step = Step(ctx.block.height, action, _org(ctx), detail)
    return record.model_copy(update={**changes, "history": (*record.history, step)})


# --- commissioning -------------------------------------------------------------------


def commission(ctx: TxContext, payload: m.Commission) -> None:
    """Serialize packages; the first manufacturer to commission a GTIN owns it."""
    maker = _org(ctx)
    product = ctx.load(st.product_key(payload.gtin), st.Product)
    if product is not None and product.manufacturer != maker:
        raise e.ProductOfAnother(payload.gtin, product.manufacturer)
    lot = ctx.load(st.lot_key(payload.gtin, payload.lot), st.Lot)
    if lot is not None and lot.expiry != payload.expiry:
        raise e.LotExpiryConflict(payload.lot, lot.expiry)
    if len(set(payload.serials)) != len(payload.serials):
        raise e.DuplicateSerial()
    # Up to MAX_COMMISSION new packages differ only by serial: the model is dumped once and
    # each record is its JSON with the serial put in (building and dumping 2,000 models cost
    # a third of commissioning's throughput). tests/domains/supply pins the bytes.
    template = st.new_package(
        payload.gtin, "", payload.lot, payload.expiry, maker, ctx.block.height
    ).model_dump(mode="json")
    for serial in payload.serials:
        key = st.package_key(payload.gtin, serial)
        if ctx.read_raw(ctx.namespace, key) is not None:
            raise e.SerialExists(payload.gtin, serial)
        ctx.put(key, {**template, "serial": serial})
    ctx.store(st.product_key(payload.gtin), st.Product(gtin=payload.gtin, manufacturer=maker))
    count = (0 if lot is None else lot.count) + len(payload.serials)
    ctx.store(
        st.lot_key(payload.gtin, payload.lot),
        st.Lot(
            gtin=payload.gtin,
            lot=payload.lot,
            expiry=payload.expiry,
            manufacturer=maker,
            count=count,
        ),
    )
    _adjust_holders(ctx, payload.gtin, {payload.lot: {maker: len(payload.serials)}})
    if lot is None:  # a new lot: marked expired the day after its expiry (now, if past)
        lot_key = st.lot_key(payload.gtin, payload.lot)
        EXPIRY_QUEUE.schedule(ctx, day_after_ms(payload.expiry), lot_key, _mark_expired)
    ctx.emit(
        "supply.commissioned",
        gtin=payload.gtin,
        lot=payload.lot,
        expiry=payload.expiry,
        count=len(payload.serials),
        first=payload.serials[0],
        last=payload.serials[-1],
    )


# --- expiry, at block time -------------------------------------------------------------


def expire_lots(ctx: TxContext, budget: int) -> None:
    """End of block: mark the lots whose expiry date has passed, `budget` at most."""
    EXPIRY_QUEUE.sweep(ctx, budget, _mark_expired)


def _mark_expired(ctx: TxContext, lot_key: str) -> None:
    lot = ctx.load(lot_key, st.Lot)
    if lot is None:
        return  # never happens: a lot is scheduled when it is first stored, and stays
    key = st.expired_key(lot.gtin, lot.lot)
    if ctx.read_raw(ctx.namespace, key) is None:
        expired = st.ExpiredLot(
            gtin=lot.gtin, lot=lot.lot, expiry=lot.expiry, height=ctx.block.height
        )
        ctx.store(key, expired)


# --- loading items and containers ------------------------------------------------------


def _item_key(item: str) -> str:
    if is_container(item):
        return st.container_key(item)
    gtin, serial = split_package_id(item)
    return st.package_key(gtin, serial)


def _load(ctx: TxContext, item: str) -> Item:
    if is_container(item):
        return _load_container(ctx, item)
    return _load_package(ctx, *split_package_id(item))


def _load_package(ctx: TxContext, gtin: str, serial: str) -> Package:
    record = ctx.load(st.package_key(gtin, serial), Package)
    if record is None:
        raise e.UnknownPackage(gtin, serial)
    return record


def _load_container(ctx: TxContext, sscc: str) -> Container:
    record = ctx.load(st.container_key(sscc), Container)
    if record is None:
        raise e.UnknownContainer(sscc)
    return record


def _contents(ctx: TxContext, roots: Moved) -> list[tuple[str, Item, int]]:
    """The roots and everything inside them, with each item's depth below its root.

    Walked iteratively in pre-order with an explicit stack, never by recursion: state
    written by members is not trusted to be a tree, so an item met twice (a cycle, or one
    item in two containers) is refused, as is nesting deeper than MAX_DEPTH or more than
    MAX_MOVED items in one transaction. The bounds are the same on every node.
    """
    found: list[tuple[str, Item, int]] = []
    seen: set[str] = set()
    stack = [(item, record, 0) for item, record in reversed(roots)]
    while stack:
        item, record, depth = stack.pop()
        if item in seen:
            raise e.ReachedTwice(item)
        if depth > MAX_DEPTH:
            raise e.NestedTooDeep(MAX_DEPTH)
        seen.add(item)
        found.append((item, record, depth))
        if len(found) > MAX_MOVED:
            raise e.TooManyMoved(MAX_MOVED)
        if isinstance(record, Container):
            for child in reversed(record.children):
                stack.append((child, _load(ctx, child), depth + 1))
    return found


def _gather(ctx: TxContext, items: list[str]) -> Moved:
    """The named unpacked items and everything inside them (a pallet moves with its cases)."""
    return [(item, record) for item, record, _ in _contents(ctx, _top_level(ctx, items))]


def _top_level(ctx: TxContext, items: list[str]) -> Moved:
    if len(set(items)) != len(items):
        raise e.DuplicateItem()
    loaded = [(item, _load(ctx, item)) for item in items]
    for item, record in loaded:
        if record.container is not None:
            raise e.PackedIn(item, record.container)
    return loaded


def _save(ctx: TxContext, item: str, record: Item) -> None:
    ctx.store(_item_key(item), record)


def _packages(moved: Moved) -> list[Package]:
    return [record for _item, record in moved if isinstance(record, Package)]


# --- custody -------------------------------------------------------------------------


def regulator_hold(package: Package) -> bool:
    """A regulator's (or inspector's) own quarantine is in force: its last flag was not cleared."""
    for step in reversed(package.history):
        if step.action in ("quarantine", "clear"):
            return step.action == "quarantine"
    return False


def _require_movable(
    item: str, record: Item, owner: str, allow_recalled: bool, ctx: TxContext
) -> None:
    if record.owner != owner:
        raise e.NotHolder(item, record.owner, owner)
    if record.status != st.ACTIVE:
        raise e.WrongStatus(item, record.status)
    if isinstance(record, Package) and record.quarantined:
        raise e.Quarantined(item, by_regulator=regulator_hold(record))
    if not allow_recalled and _is_recalled(ctx, record):
        raise e.Recalled(item)


# Recalls of each GTIN, read once per transaction (a move checks up to MAX_MOVED items).
_RECALL_INDEX: WeakKeyDictionary[TxContext, dict[str, RecallIndex]] = WeakKeyDictionary()


@dataclass(frozen=True)
class RecallIndex:
    lots: frozenset[str]
    ranges: tuple[tuple[str, str], ...]

    def applies(self, lot: str, serial: str) -> bool:
        return lot in self.lots or any(
            st.serial_in_range(serial, first, last) for first, last in self.ranges
        )


def _recall_index(ctx: TxContext, gtin: str) -> RecallIndex:
    by_gtin = _RECALL_INDEX.setdefault(ctx, {})
    if gtin not in by_gtin:
        stored = ctx.load(st.recalls_key(gtin), st.RecallsInForce)
        recalls = () if stored is None else stored.root
        by_gtin[gtin] = RecallIndex(
            frozenset(r.lot for r in recalls if r.lot is not None),
            tuple(
                (r.serial_from, r.serial_to)
                for r in recalls
                if r.lot is None and r.serial_from is not None and r.serial_to is not None
            ),
        )
    return by_gtin[gtin]


def _is_recalled(ctx: TxContext, record: Item) -> bool:
    if not isinstance(record, Package):
        return False
    return _recall_index(ctx, record.gtin).applies(record.lot, record.serial)


def _send(ctx: TxContext, items: list[str], to: str, action: str, allow_recalled: bool) -> Moved:
    sender = _org(ctx)
    if to == sender:
        raise e.ShipToSelf()
    if org_role(ctx.reader, to) not in TRADING_ROLES:
        raise e.NotTradingPartner(to)
    moved = _gather(ctx, items)
    for inner, inner_record in moved:
        _require_movable(inner, inner_record, sender, allow_recalled, ctx)
    for item, record in moved:
        _save(ctx, item, _logged(record, ctx, action, to, status=st.IN_TRANSIT, to=to))
    ctx.emit(f"supply.{action}", items=items, to=to, packages=len(_packages(moved)))
    return moved


def ship(ctx: TxContext, payload: m.Ship) -> None:
    """Ship items; named business transactions link the shipment to the seller's TI (ti.py)."""
    moved = _send(ctx, payload.items, payload.to, "ship", allow_recalled=False)
    if payload.biz_transactions is not None:
        ti.link_shipment(ctx, payload.biz_transactions, payload.to, payload.items, moved)


def return_items(ctx: TxContext, payload: m.Return) -> None:
    _send(ctx, payload.items, payload.to, "return", allow_recalled=True)


def receive(ctx: TxContext, payload: m.Receive) -> None:
    """Only the named receiver takes what was shipped to it."""
    receiver = _org(ctx)
    moved = _gather(ctx, payload.items)
    for inner, inner_record in moved:
        if inner_record.status != st.IN_TRANSIT or inner_record.to != receiver:
            raise e.NotShippedTo(inner, receiver)
    changes: dict[str, dict[str, int]] = {}
    for item, record in moved:
        sender = record.owner
        received = _logged(
            record, ctx, "receive", sender, owner=receiver, status=st.ACTIVE, to=None
        )
        _save(ctx, item, received)
        if isinstance(record, Package):
            _count(changes, record, sender, -1)
            _count(changes, record, receiver, +1)
    _apply_holder_changes(ctx, changes)
    ctx.emit("supply.receive", items=payload.items, packages=len(_packages(moved)))
    ti.check_receipt(ctx, receiver, payload.items, moved)


def dispense(ctx: TxContext, payload: m.Dispense) -> None:
    """A dispenser hands one package to a patient (who is not recorded)."""
    org = _org(ctx)
    # An organisation sender is a dispenser by its declared senders; a pharmacist member
    # may work for any organisation, which must itself dispense.
    if ctx.actor.kind != "org" and org_role(ctx.reader, org) not in DISPENSERS:
        raise e.NotDispenser(org)
    item = package_id(payload.gtin, payload.serial)
    record = _load_package(ctx, payload.gtin, payload.serial)
    if record.container is not None:
        raise e.PackedIn(item, record.container)
    if record.status == st.DISPENSED:
        raise e.AlreadyDispensed(item)
    if record.suspect:
        raise e.Suspect(item)
    _require_movable(item, record, org, allow_recalled=False, ctx=ctx)
    _finish(ctx, [(item, record)], st.DISPENSED, "dispense", None)


def destroy(ctx: TxContext, payload: m.Destroy) -> None:
    """The owner, or a regulator, destroys items (recalled or suspect ones included)."""
    org = _org(ctx)
    regulator = _org_role(ctx) == REGULATOR
    moved = _gather(ctx, payload.items)
    for inner, inner_record in moved:
        if inner_record.status in st.FINAL:
            raise e.WrongStatus(inner, inner_record.status)
        if not regulator and inner_record.owner != org:
            raise e.NotHolder(inner, inner_record.owner)
    _finish(ctx, moved, st.DESTROYED, "destroy", payload.reason)


def export(ctx: TxContext, payload: m.Export) -> None:
    org = _org(ctx)
    moved = _gather(ctx, payload.items)
    for inner, inner_record in moved:
        _require_movable(inner, inner_record, org, allow_recalled=False, ctx=ctx)
    _finish(ctx, moved, st.EXPORTED, "export", payload.country)


def _finish(ctx: TxContext, moved: Moved, status: st.Status, action: str, note: str | None) -> None:
    """Items leave the supply chain: dispensed, destroyed or exported."""
    changes: dict[str, dict[str, int]] = {}
    for item, record in moved:
        if isinstance(record, Package) and record.status not in st.FINAL:
            _count(changes, record, record.owner, -1)
        _save(ctx, item, _logged(record, ctx, action, note, status=status, to=None))
    _apply_holder_changes(ctx, changes)
    ctx.emit(
        f"supply.{action}",
        items=[item for item, _ in moved if not is_container(item)][:50],
        packages=len(_packages(moved)),
        note=note,
    )


# --- aggregation ---------------------------------------------------------------------


def aggregate(ctx: TxContext, payload: m.Aggregate) -> None:
    """Pack owned, active, unpacked items into an empty case or pallet that is not packed itself."""
    owner = _org(ctx)
    existing = ctx.load(st.container_key(payload.sscc), Container)
    if existing is not None:
        _require_reusable(payload.sscc, existing, owner)
    if payload.sscc in payload.items:
        raise e.HoldsItself()
    loaded = _top_level(ctx, payload.items)
    for item, record in loaded:
        _require_movable(item, record, owner, allow_recalled=False, ctx=ctx)
    _require_packable(ctx, payload.sscc, loaded)
    container = Container(
        sscc=payload.sscc,
        owner=owner,
        status=st.ACTIVE,
        to=None,
        container=None,
        children=tuple(payload.items),
        history=() if existing is None else existing.history,
    )
    ctx.store(st.container_key(payload.sscc), _logged(container, ctx, "aggregate", None))
    for item, record in loaded:
        _save(ctx, item, record.model_copy(update={"container": payload.sscc}))
    ctx.emit("supply.aggregate", sscc=payload.sscc, items=payload.items)


def _require_reusable(sscc: str, existing: Container, owner: str) -> None:
    """An SSCC is packed again only when empty, at rest, unpacked and held by the packer."""
    if existing.children:
        raise e.ContainerInUse(sscc)
    if existing.owner != owner:
        raise e.ContainerHeldBy(sscc, existing.owner)
    if existing.status != st.ACTIVE:
        raise e.WrongStatus(f"SSCC {sscc}", existing.status)
    if existing.container is not None:
        raise e.PackedIn(f"SSCC {sscc}", existing.container, hint=False)


def _require_packable(ctx: TxContext, sscc: str, loaded: Moved) -> None:
    """The new container stays a tree within the bounds: movable in one transaction."""
    inside = _contents(ctx, loaded)
    if any(item == sscc for item, _, _ in inside):
        raise e.InsideItems(sscc)
    if max(depth for _, _, depth in inside) + 1 > MAX_DEPTH:
        raise e.NestedTooDeep(MAX_DEPTH)
    if len(inside) + 1 > MAX_MOVED:
        raise e.ContainerTooFull(MAX_MOVED)


def disaggregate(ctx: TxContext, payload: m.Disaggregate) -> None:
    owner = _org(ctx)
    container = _load_container(ctx, payload.sscc)
    if container.owner != owner or container.status != st.ACTIVE:
        raise e.NotActiveContainer(payload.sscc, owner)
    if container.container is not None:
        raise e.PackedIn(payload.sscc, container.container, hint=False)
    children = container.children
    if not children:
        raise e.EmptyContainer(payload.sscc)
    for child in children:
        _save(ctx, child, _load(ctx, child).model_copy(update={"container": None}))
    emptied = _logged(container, ctx, "disaggregate", None, children=())
    ctx.store(st.container_key(payload.sscc), emptied)
    ctx.emit("supply.disaggregate", sscc=payload.sscc, items=list(children))


# --- holders (who to notify of a recall) ---------------------------------------------


def _count(changes: dict[str, dict[str, int]], record: Package, org: str, delta: int) -> None:
    per_lot = changes.setdefault(f"{record.gtin}\x00{record.lot}", {})
    per_lot[org] = per_lot.get(org, 0) + delta


def _apply_holder_changes(ctx: TxContext, changes: dict[str, dict[str, int]]) -> None:
    by_gtin: dict[str, dict[str, dict[str, int]]] = {}
    for gtin_lot, deltas in changes.items():
        gtin, lot = gtin_lot.split("\x00", 1)
        by_gtin.setdefault(gtin, {})[lot] = deltas
    for gtin, lots in sorted(by_gtin.items()):
        _adjust_holders(ctx, gtin, lots)


def _adjust_holders(ctx: TxContext, gtin: str, lots: dict[str, dict[str, int]]) -> None:
    stored = ctx.load(st.holders_key(gtin), st.Holders)
    holders = {} if stored is None else {lot: dict(counts) for lot, counts in stored.root.items()}
    for lot, deltas in lots.items():
        counts = holders.setdefault(lot, {})
        for org, delta in deltas.items():
            counts[org] = counts.get(org, 0) + delta
            if counts[org] == 0:
                del counts[org]
        if not counts:
            del holders[lot]  # a lot nobody holds any more names nobody to notify
    ctx.store(st.holders_key(gtin), st.Holders(holders))


# --- verification and alerts ------------------------------------------------------------


def verify(ctx: TxContext, payload: m.Verify) -> None:
    """Record a scan by a trading partner; anything irregular flags the package and alerts."""
    org = _org(ctx)
    key = st.package_key(payload.gtin, payload.serial)
    package = ctx.load(key, Package)
    recalls = ctx.load(st.recalls_key(payload.gtin), st.RecallsInForce)
    outcome = q.package_verdict(package, recalls, payload.lot, payload.expiry)
    reason = _suspicion(ctx, org, package, outcome)
    if reason is not None:
        _raise_alert(ctx, payload.gtin, payload.serial, reason, package)
        if package is not None:
            ctx.store(key, package.model_copy(update={"suspect": True}))
        outcome = q.SUSPECT if outcome == q.VERIFIED else outcome
    ctx.emit("supply.verified", gtin=payload.gtin, serial=payload.serial, by=org, verdict=outcome)


def _suspicion(ctx: TxContext, org: str, package: Package | None, outcome: str) -> str | None:
    """Why a presentation looks like a counterfeit or a diversion, if it does."""
    if outcome in (q.UNKNOWN_SERIAL, q.LOT_MISMATCH, q.EXPIRY_MISMATCH):
        return outcome
    if package is None:
        return None
    if package.status in st.FINAL:
        return f"{package.status} package presented again"
    regulator = _org_role(ctx) == REGULATOR
    if not regulator and org not in (package.owner, package.to):
        return f"presented by {org}, outside its custody path (held by {package.owner})"
    return None


def _raise_alert(
    ctx: TxContext, gtin: str, serial: str, reason: str, package: Package | None
) -> int:
    """Store alert number N+1 (open) and return N+1."""
    counter = ctx.load(st.ALERT_COUNT_KEY, st.AlertCount)
    number = (0 if counter is None else counter.count) + 1
    if package is not None:
        manufacturer: str | None = package.manufacturer
    else:
        product = ctx.load(st.product_key(gtin), st.Product)
        manufacturer = None if product is None else product.manufacturer
    alert = st.Alert(
        number=number,
        gtin=gtin,
        serial=serial,
        reason=reason,
        presented_by=_org(ctx),
        manufacturer=manufacturer,
        height=ctx.block.height,
        status="open",
    )
    ctx.store(st.alert_key(number), alert)
    ctx.store(st.ALERT_COUNT_KEY, st.AlertCount(count=number))
    ctx.emit("supply.alert", **alert.model_dump(mode="json"))
    return number


def quarantine(ctx: TxContext, payload: m.Quarantine) -> None:
    """A regulator, or a holder of the inspector capability, quarantines a package."""
    record = _load_package(ctx, payload.gtin, payload.serial)
    flagged = _logged(record, ctx, "quarantine", payload.reason, quarantined=True)
    ctx.store(st.package_key(payload.gtin, payload.serial), flagged)
    ctx.emit("supply.quarantined", gtin=payload.gtin, serial=payload.serial, reason=payload.reason)


def clear(ctx: TxContext, payload: m.Clear) -> None:
    """A regulator or an inspector lifts quarantine and suspicion after investigation."""
    record = _load_package(ctx, payload.gtin, payload.serial)
    cleared = _logged(record, ctx, "clear", payload.reason, quarantined=False, suspect=False)
    ctx.store(st.package_key(payload.gtin, payload.serial), cleared)
    ctx.emit("supply.cleared", gtin=payload.gtin, serial=payload.serial, reason=payload.reason)


# --- recalls ---------------------------------------------------------------------------


def recall(ctx: TxContext, payload: m.Recall) -> None:
    """Recall a lot or a serial range; the current holders are named for notification."""
    org = _org(ctx)
    product = ctx.load(st.product_key(payload.gtin), st.Product)
    if product is None:
        raise e.UnknownProduct(payload.gtin)
    if _org_role(ctx) != REGULATOR and product.manufacturer != org:
        raise e.NotRecaller(product.manufacturer)
    by_lot = payload.lot is not None
    by_range = payload.serial_from is not None and payload.serial_to is not None
    if by_lot == by_range:
        raise e.RecallScope()
    if by_lot and ctx.read_raw(ctx.namespace, st.lot_key(payload.gtin, str(payload.lot))) is None:
        raise e.RecallOfUnknownLot(payload.gtin, str(payload.lot))
    stored = ctx.load(st.holders_key(payload.gtin), st.Holders)
    holders = {} if stored is None else stored.root
    lots = [str(payload.lot)] if by_lot else sorted(holders)
    notify = tuple(sorted({org_id for lot in lots for org_id in holders.get(lot, {})}))
    recall_id = "rcl-" + ctx.tx_id[:16]
    active = ctx.load(st.recalls_key(payload.gtin), st.RecallsInForce)
    in_force = () if active is None else active.root
    _require_room_for_recall(payload, in_force)
    ctx.store(
        st.recall_key(recall_id),
        st.Recall(
            id=recall_id,
            gtin=payload.gtin,
            lot=payload.lot,
            serial_from=payload.serial_from,
            serial_to=payload.serial_to,
            reason=payload.reason,
            by=org,
            height=ctx.block.height,
            notify=notify,
            acknowledged=(),
        ),
    )
    summary = st.RecallRef(
        id=recall_id, lot=payload.lot, serial_from=payload.serial_from, serial_to=payload.serial_to
    )
    ctx.store(st.recalls_key(payload.gtin), st.RecallsInForce((*in_force, summary)))
    ctx.emit(
        "supply.recall", recall=recall_id, gtin=payload.gtin, lot=payload.lot, notify=list(notify)
    )


def _require_room_for_recall(payload: m.Recall, active: tuple[st.RecallRef, ...]) -> None:
    if payload.lot is not None:
        if any(r.lot == payload.lot for r in active):
            raise e.LotAlreadyRecalled(payload.gtin, payload.lot)
        return
    ranges = sum(1 for r in active if r.lot is None)
    if ranges >= MAX_RANGE_RECALLS:
        raise e.TooManyRangeRecalls(payload.gtin, MAX_RANGE_RECALLS)


def acknowledge_recall(ctx: TxContext, payload: m.RecallAck) -> None:
    org = _org(ctx)
    record = ctx.load(st.recall_key(payload.recall_id), st.Recall)
    if record is None:
        raise e.UnknownRecall(payload.recall_id)
    if org not in record.notify:
        raise e.NotNotified(org, payload.recall_id)
    if org in record.acknowledged:
        raise e.AlreadyAcknowledged(org, payload.recall_id)
    acknowledged = tuple(sorted([*record.acknowledged, org]))
    ctx.store(
        st.recall_key(payload.recall_id), record.model_copy(update={"acknowledged": acknowledged})
    )
    ctx.emit("supply.recall_acknowledged", recall=payload.recall_id, org=org)
