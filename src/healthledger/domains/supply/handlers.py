"""Apply the supply transactions: a state machine that refuses impossible moves.

Every custody step is taken by the organisation that may take it (the current
owner, or the named receiver), on items in a state that allows it; moving a case
or pallet moves everything inside it. Suspicious presentations raise alerts that
the manufacturer and regulators see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from healthledger.domains.governance.queries import org_role
from healthledger.domains.supply import messages as m
from healthledger.domains.supply import queries as q
from healthledger.domains.supply import state as st
from healthledger.domains.supply.events import is_container, split_package_id
from healthledger.domains.supply.roles import DISPENSERS, TRADING_ROLES
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.context import TxContext

Record = dict[str, Any]

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


def _fail(message: str, code: ErrorCode) -> LedgerError:
    return LedgerError(message, code)


def _org(ctx: TxContext) -> str:
    if ctx.actor.org is None:
        raise _fail("only an organisation or its staff may do this", ErrorCode.UNAUTHORIZED)
    return ctx.actor.org


def _log(record: Record, ctx: TxContext, action: str, counterparty: str | None) -> None:
    bound = MAX_HISTORY if action in STARTING_ACTIONS else MAX_HISTORY + FINISHING_STEPS
    if len(record["history"]) >= bound:
        name = record.get("sscc") or f"{record.get('gtin')}:{record.get('serial')}"
        raise _fail(
            f"{name} has {len(record['history'])} custody steps: it starts no more",
            ErrorCode.TOO_LARGE,
        )
    record["history"].append([ctx.block.height, action, _org(ctx), counterparty])


# --- commissioning -------------------------------------------------------------------


def commission(ctx: TxContext, payload: m.Commission) -> None:
    """Serialize packages; the first manufacturer to commission a GTIN owns it."""
    maker = _org(ctx)
    product = ctx.get(st.product_key(payload.gtin))
    if product is not None and product["manufacturer"] != maker:
        raise _fail(
            f"GTIN {payload.gtin} belongs to {product['manufacturer']}", ErrorCode.UNAUTHORIZED
        )
    lot = ctx.get(st.lot_key(payload.gtin, payload.lot))
    if lot is not None and lot["expiry"] != payload.expiry:
        raise _fail(f"lot {payload.lot} has expiry {lot['expiry']}", ErrorCode.CONFLICT)
    if len(set(payload.serials)) != len(payload.serials):
        raise _fail("a serial appears twice in this commissioning", ErrorCode.CONFLICT)
    for serial in payload.serials:
        key = st.package_key(payload.gtin, serial)
        if ctx.get(key) is not None:
            raise _fail(
                f"serial {serial} of {payload.gtin} already exists", ErrorCode.ALREADY_EXISTS
            )
        ctx.put(
            key,
            st.new_package(
                payload.gtin, serial, payload.lot, payload.expiry, maker, ctx.block.height
            ),
        )
    ctx.put(st.product_key(payload.gtin), {"gtin": payload.gtin, "manufacturer": maker})
    count = (lot or {}).get("count", 0) + len(payload.serials)
    ctx.put(
        st.lot_key(payload.gtin, payload.lot),
        {
            "gtin": payload.gtin,
            "lot": payload.lot,
            "expiry": payload.expiry,
            "manufacturer": maker,
            "count": count,
        },
    )
    _adjust_holders(ctx, payload.gtin, {payload.lot: {maker: len(payload.serials)}})
    ctx.emit(
        "supply.commissioned",
        gtin=payload.gtin,
        lot=payload.lot,
        expiry=payload.expiry,
        count=len(payload.serials),
        first=payload.serials[0],
        last=payload.serials[-1],
    )


# --- loading items and containers ------------------------------------------------------


def _item_key(item: str) -> str:
    if is_container(item):
        return st.container_key(item)
    gtin, serial = split_package_id(item)
    return st.package_key(gtin, serial)


def _load(ctx: TxContext, item: str) -> Record:
    record = ctx.get(_item_key(item))
    if record is None:
        kind = "container" if is_container(item) else "package"
        raise _fail(f"unknown {kind} {item}", ErrorCode.NOT_FOUND)
    return dict(record)


def _contents(ctx: TxContext, roots: list[tuple[str, Record]]) -> list[tuple[str, Record, int]]:
    """The roots and everything inside them, with each item's depth below its root.

    Walked iteratively in pre-order with an explicit stack, never by recursion: state
    written by members is not trusted to be a tree, so an item met twice (a cycle, or one
    item in two containers) is refused, as is nesting deeper than MAX_DEPTH or more than
    MAX_MOVED items in one transaction. The bounds are the same on every node.
    """
    found: list[tuple[str, Record, int]] = []
    seen: set[str] = set()
    stack = [(item, record, 0) for item, record in reversed(roots)]
    while stack:
        item, record, depth = stack.pop()
        if item in seen:
            raise _fail(f"{item} is reached twice inside these containers", ErrorCode.CYCLE)
        if depth > MAX_DEPTH:
            raise _fail(f"containers nest deeper than {MAX_DEPTH} levels", ErrorCode.TOO_LARGE)
        seen.add(item)
        found.append((item, record, depth))
        if len(found) > MAX_MOVED:
            raise _fail(
                f"more than {MAX_MOVED} items in one transaction: split it", ErrorCode.TOO_LARGE
            )
        for child in reversed(record.get("children", [])):
            stack.append((child, _load(ctx, child), depth + 1))
    return found


def _gather(ctx: TxContext, items: list[str]) -> list[tuple[str, Record]]:
    """The named unpacked items and everything inside them (a pallet moves with its cases)."""
    return [(item, record) for item, record, _ in _contents(ctx, _top_level(ctx, items))]


def _top_level(ctx: TxContext, items: list[str]) -> list[tuple[str, Record]]:
    if len(set(items)) != len(items):
        raise _fail("an item is named twice", ErrorCode.CONFLICT)
    loaded = [(item, _load(ctx, item)) for item in items]
    for item, record in loaded:
        if record["container"] is not None:
            raise _fail(
                f"{item} is packed in {record['container']}: move or unpack that",
                ErrorCode.CONFLICT,
            )
    return loaded


def _save(ctx: TxContext, item: str, record: Record) -> None:
    ctx.put(_item_key(item), record)


def _packages(moved: list[tuple[str, Record]]) -> list[Record]:
    return [record for item, record in moved if not is_container(item)]


# --- custody -------------------------------------------------------------------------


def _require_movable(
    item: str, record: Record, owner: str, allow_recalled: bool, ctx: TxContext
) -> None:
    if record["owner"] != owner:
        raise _fail(f"{item} is held by {record['owner']}, not {owner}", ErrorCode.UNAUTHORIZED)
    if record["status"] != st.ACTIVE:
        raise _fail(f"{item} is {record['status']}", ErrorCode.INVALID_STATE)
    if record.get("quarantined"):
        raise _fail(f"{item} is quarantined by a regulator", ErrorCode.INVALID_STATE)
    if not allow_recalled and _is_recalled(ctx, item, record):
        raise _fail(f"{item} is recalled: it can only be returned", ErrorCode.INVALID_STATE)


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
        recalls = ctx.get(st.recalls_key(gtin)) or []
        by_gtin[gtin] = RecallIndex(
            frozenset(r["lot"] for r in recalls if r["lot"] is not None),
            tuple((r["serial_from"], r["serial_to"]) for r in recalls if r["lot"] is None),
        )
    return by_gtin[gtin]


def _is_recalled(ctx: TxContext, item: str, record: Record) -> bool:
    if is_container(item):
        return False
    return _recall_index(ctx, record["gtin"]).applies(record["lot"], record["serial"])


def _send(ctx: TxContext, items: list[str], to: str, action: str, allow_recalled: bool) -> None:
    sender = _org(ctx)
    if to == sender:
        raise _fail("an organisation cannot ship to itself", ErrorCode.INVALID_FIELD)
    if org_role(ctx.read_raw, to) not in TRADING_ROLES:
        raise _fail(f"{to} is not an active trading partner", ErrorCode.NOT_FOUND)
    moved = _gather(ctx, items)
    for inner, inner_record in moved:
        _require_movable(inner, inner_record, sender, allow_recalled, ctx)
    for item, record in moved:
        record["status"], record["to"] = st.IN_TRANSIT, to
        _log(record, ctx, action, to)
        _save(ctx, item, record)
    ctx.emit(f"supply.{action}", items=items, to=to, packages=len(_packages(moved)))


def ship(ctx: TxContext, payload: m.Ship) -> None:
    _send(ctx, payload.items, payload.to, "ship", allow_recalled=False)


def return_items(ctx: TxContext, payload: m.Return) -> None:
    _send(ctx, payload.items, payload.to, "return", allow_recalled=True)


def receive(ctx: TxContext, payload: m.Receive) -> None:
    """Only the named receiver takes what was shipped to it."""
    receiver = _org(ctx)
    moved = _gather(ctx, payload.items)
    for inner, inner_record in moved:
        if inner_record["status"] != st.IN_TRANSIT or inner_record["to"] != receiver:
            raise _fail(f"{inner} was not shipped to {receiver}", ErrorCode.INVALID_STATE)
    changes: dict[str, dict[str, int]] = {}
    for item, record in moved:
        sender = record["owner"]
        record["owner"], record["status"], record["to"] = receiver, st.ACTIVE, None
        _log(record, ctx, "receive", sender)
        _save(ctx, item, record)
        if not is_container(item):
            _count(changes, record, sender, -1)
            _count(changes, record, receiver, +1)
    _apply_holder_changes(ctx, changes)
    ctx.emit("supply.receive", items=payload.items, packages=len(_packages(moved)))


def dispense(ctx: TxContext, payload: m.Dispense) -> None:
    """A dispenser hands one package to a patient (who is not recorded)."""
    org = _org(ctx)
    if org_role(ctx.read_raw, org) not in DISPENSERS:
        raise _fail(f"{org} does not dispense", ErrorCode.UNAUTHORIZED)
    item = f"{payload.gtin}:{payload.serial}"
    ((_, record),) = _top_level(ctx, [item])
    if record["status"] == st.DISPENSED:
        raise _fail(f"{item} was already dispensed", ErrorCode.INVALID_STATE)
    if record.get("suspect"):
        raise _fail(f"{item} is suspect: it must not be dispensed", ErrorCode.INVALID_STATE)
    _require_movable(item, record, org, allow_recalled=False, ctx=ctx)
    _finish(ctx, [(item, record)], st.DISPENSED, "dispense", None)


def destroy(ctx: TxContext, payload: m.Destroy) -> None:
    """The owner, or a regulator, destroys items (recalled or suspect ones included)."""
    org = _org(ctx)
    regulator = org_role(ctx.read_raw, org) == "regulator"
    moved = _gather(ctx, payload.items)
    for inner, inner_record in moved:
        if inner_record["status"] in st.FINAL:
            raise _fail(f"{inner} is {inner_record['status']}", ErrorCode.INVALID_STATE)
        if not regulator and inner_record["owner"] != org:
            raise _fail(f"{inner} is held by {inner_record['owner']}", ErrorCode.UNAUTHORIZED)
    _finish(ctx, moved, st.DESTROYED, "destroy", payload.reason)


def export(ctx: TxContext, payload: m.Export) -> None:
    org = _org(ctx)
    moved = _gather(ctx, payload.items)
    for inner, inner_record in moved:
        _require_movable(inner, inner_record, org, allow_recalled=False, ctx=ctx)
    _finish(ctx, moved, st.EXPORTED, "export", payload.country)


def _finish(
    ctx: TxContext, moved: list[tuple[str, Record]], status: str, action: str, note: str | None
) -> None:
    """Items leave the supply chain: dispensed, destroyed or exported."""
    changes: dict[str, dict[str, int]] = {}
    for item, record in moved:
        if not is_container(item) and record["status"] not in st.FINAL:
            _count(changes, record, record["owner"], -1)
        record["status"], record["to"] = status, None
        _log(record, ctx, action, note)
        _save(ctx, item, record)
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
    existing = ctx.get(st.container_key(payload.sscc))
    if existing is not None:
        _require_reusable(payload.sscc, existing, owner)
    if payload.sscc in payload.items:
        raise _fail("a container cannot hold itself", ErrorCode.CYCLE)
    loaded = _top_level(ctx, payload.items)
    for item, record in loaded:
        _require_movable(item, record, owner, allow_recalled=False, ctx=ctx)
    _require_packable(ctx, payload.sscc, loaded)
    container = {
        "sscc": payload.sscc,
        "owner": owner,
        "status": st.ACTIVE,
        "to": None,
        "container": None,
        "children": payload.items,
        "history": (existing or {}).get("history", []),
    }
    _log(container, ctx, "aggregate", None)
    ctx.put(st.container_key(payload.sscc), container)
    for item, record in loaded:
        record["container"] = payload.sscc
        _save(ctx, item, record)
    ctx.emit("supply.aggregate", sscc=payload.sscc, items=payload.items)


def _require_reusable(sscc: str, existing: Record, owner: str) -> None:
    """An SSCC is packed again only when empty, at rest, unpacked and held by the packer."""
    if existing["children"]:
        raise _fail(f"SSCC {sscc} already holds items", ErrorCode.ALREADY_EXISTS)
    if existing["owner"] != owner:
        raise _fail(f"SSCC {sscc} is held by {existing['owner']}", ErrorCode.UNAUTHORIZED)
    if existing["status"] != st.ACTIVE:
        raise _fail(f"SSCC {sscc} is {existing['status']}", ErrorCode.INVALID_STATE)
    if existing["container"] is not None:
        raise _fail(f"SSCC {sscc} is packed in {existing['container']}", ErrorCode.CONFLICT)


def _require_packable(ctx: TxContext, sscc: str, loaded: list[tuple[str, Record]]) -> None:
    """The new container stays a tree within the bounds: movable in one transaction."""
    inside = _contents(ctx, loaded)
    if any(item == sscc for item, _, _ in inside):
        raise _fail(f"{sscc} is inside one of the items to pack", ErrorCode.CYCLE)
    if max(depth for _, _, depth in inside) + 1 > MAX_DEPTH:
        raise _fail(f"containers nest deeper than {MAX_DEPTH} levels", ErrorCode.TOO_LARGE)
    if len(inside) + 1 > MAX_MOVED:
        raise _fail(f"a container holds at most {MAX_MOVED} items", ErrorCode.TOO_LARGE)


def disaggregate(ctx: TxContext, payload: m.Disaggregate) -> None:
    owner = _org(ctx)
    container = _load(ctx, payload.sscc)
    if container["owner"] != owner or container["status"] != st.ACTIVE:
        raise _fail(
            f"{payload.sscc} is not an active container held by {owner}", ErrorCode.INVALID_STATE
        )
    if container["container"] is not None:
        raise _fail(f"{payload.sscc} is packed in {container['container']}", ErrorCode.CONFLICT)
    children = container["children"]
    if not children:
        raise _fail(f"{payload.sscc} is empty", ErrorCode.INVALID_STATE)
    for child in children:
        record = _load(ctx, child)
        record["container"] = None
        _save(ctx, child, record)
    container["children"] = []
    _log(container, ctx, "disaggregate", None)
    ctx.put(st.container_key(payload.sscc), container)
    ctx.emit("supply.disaggregate", sscc=payload.sscc, items=children)


# --- holders (who to notify of a recall) ---------------------------------------------


def _count(changes: dict[str, dict[str, int]], record: Record, org: str, delta: int) -> None:
    per_lot = changes.setdefault(f"{record['gtin']}\x00{record['lot']}", {})
    per_lot[org] = per_lot.get(org, 0) + delta


def _apply_holder_changes(ctx: TxContext, changes: dict[str, dict[str, int]]) -> None:
    by_gtin: dict[str, dict[str, dict[str, int]]] = {}
    for gtin_lot, deltas in changes.items():
        gtin, lot = gtin_lot.split("\x00", 1)
        by_gtin.setdefault(gtin, {})[lot] = deltas
    for gtin, lots in sorted(by_gtin.items()):
        _adjust_holders(ctx, gtin, lots)


def _adjust_holders(ctx: TxContext, gtin: str, lots: dict[str, dict[str, int]]) -> None:
    holders = ctx.get(st.holders_key(gtin)) or {}
    for lot, deltas in lots.items():
        counts = holders.setdefault(lot, {})
        for org, delta in deltas.items():
            counts[org] = counts.get(org, 0) + delta
            if counts[org] == 0:
                del counts[org]
        if not counts:
            del holders[lot]  # a lot nobody holds any more names nobody to notify
    ctx.put(st.holders_key(gtin), holders)


# --- verification and alerts ------------------------------------------------------------


def verify(ctx: TxContext, payload: m.Verify) -> None:
    """Record a scan by a trading partner; anything irregular flags the package and alerts."""
    org = _org(ctx)
    key = st.package_key(payload.gtin, payload.serial)
    package = ctx.get(key)
    recalls = ctx.get(st.recalls_key(payload.gtin))
    outcome = q.verdict(package, recalls, payload.lot, payload.expiry)
    reason = _suspicion(ctx, org, package, outcome)
    if reason is not None:
        _raise_alert(ctx, payload.gtin, payload.serial, reason, package)
        if package is not None:
            package["suspect"] = True
            ctx.put(key, package)
        outcome = q.SUSPECT if outcome == q.VERIFIED else outcome
    ctx.emit("supply.verified", gtin=payload.gtin, serial=payload.serial, by=org, verdict=outcome)


def _suspicion(ctx: TxContext, org: str, package: Record | None, outcome: str) -> str | None:
    """Why a presentation looks like a counterfeit or a diversion, if it does."""
    if outcome in (q.UNKNOWN_SERIAL, q.LOT_MISMATCH, q.EXPIRY_MISMATCH):
        return outcome
    if package is None:
        return None
    if package["status"] in st.FINAL:
        return f"{package['status']} package presented again"
    regulator = org_role(ctx.read_raw, org) == "regulator"
    if not regulator and org not in (package["owner"], package["to"]):
        return f"presented by {org}, outside its custody path (held by {package['owner']})"
    return None


def _raise_alert(
    ctx: TxContext, gtin: str, serial: str, reason: str, package: Record | None
) -> None:
    counter = ctx.get(st.ALERT_COUNT_KEY) or {"count": 0}
    number = counter["count"] + 1
    manufacturer = (
        package["manufacturer"]
        if package
        else (ctx.get(st.product_key(gtin)) or {}).get("manufacturer")
    )
    alert = {
        "number": number,
        "gtin": gtin,
        "serial": serial,
        "reason": reason,
        "presented_by": _org(ctx),
        "manufacturer": manufacturer,
        "height": ctx.block.height,
        "status": "open",
    }
    ctx.put(st.alert_key(number), alert)
    ctx.put(st.ALERT_COUNT_KEY, {"count": number})
    ctx.emit("supply.alert", **alert)


def quarantine(ctx: TxContext, payload: m.Quarantine) -> None:
    record = _flag(ctx, payload.gtin, payload.serial)
    record["quarantined"] = True
    _log(record, ctx, "quarantine", payload.reason)
    ctx.put(st.package_key(payload.gtin, payload.serial), record)
    ctx.emit("supply.quarantined", gtin=payload.gtin, serial=payload.serial, reason=payload.reason)


def clear(ctx: TxContext, payload: m.Clear) -> None:
    """A regulator lifts quarantine and suspicion after investigation."""
    record = _flag(ctx, payload.gtin, payload.serial)
    record["quarantined"], record["suspect"] = False, False
    _log(record, ctx, "clear", payload.reason)
    ctx.put(st.package_key(payload.gtin, payload.serial), record)
    ctx.emit("supply.cleared", gtin=payload.gtin, serial=payload.serial, reason=payload.reason)


def _flag(ctx: TxContext, gtin: str, serial: str) -> Record:
    record = ctx.get(st.package_key(gtin, serial))
    if record is None:
        raise _fail(f"unknown package {gtin}:{serial}", ErrorCode.NOT_FOUND)
    return dict(record)


# --- recalls ---------------------------------------------------------------------------


def recall(ctx: TxContext, payload: m.Recall) -> None:
    """Recall a lot or a serial range; the current holders are named for notification."""
    org = _org(ctx)
    product = ctx.get(st.product_key(payload.gtin))
    if product is None:
        raise _fail(f"GTIN {payload.gtin} was never commissioned", ErrorCode.NOT_FOUND)
    if org_role(ctx.read_raw, org) != "regulator" and product["manufacturer"] != org:
        raise _fail(
            f"only {product['manufacturer']} or a regulator may recall it", ErrorCode.UNAUTHORIZED
        )
    by_lot = payload.lot is not None
    by_range = payload.serial_from is not None and payload.serial_to is not None
    if by_lot == by_range:
        raise _fail(
            "recall either a lot, or a serial range (serial_from and serial_to)",
            ErrorCode.INVALID_FIELD,
        )
    if by_lot and ctx.get(st.lot_key(payload.gtin, str(payload.lot))) is None:
        raise _fail(f"lot {payload.lot} of {payload.gtin} is unknown", ErrorCode.NOT_FOUND)
    holders = ctx.get(st.holders_key(payload.gtin)) or {}
    lots = [str(payload.lot)] if by_lot else sorted(holders)
    notify = sorted({org_id for lot in lots for org_id in holders.get(lot, {})})
    recall_id = "rcl-" + ctx.tx_id[:16]
    record = {
        "id": recall_id,
        "gtin": payload.gtin,
        "lot": payload.lot,
        "serial_from": payload.serial_from,
        "serial_to": payload.serial_to,
        "reason": payload.reason,
        "by": org,
        "height": ctx.block.height,
        "notify": notify,
        "acknowledged": [],
    }
    ctx.put(st.recall_key(recall_id), record)
    active = ctx.get(st.recalls_key(payload.gtin)) or []
    _require_room_for_recall(payload, active)
    summary = {k: record[k] for k in ("id", "lot", "serial_from", "serial_to")}
    ctx.put(st.recalls_key(payload.gtin), [*active, summary])
    ctx.emit("supply.recall", recall=recall_id, gtin=payload.gtin, lot=payload.lot, notify=notify)


def _require_room_for_recall(payload: m.Recall, active: list[Record]) -> None:
    if payload.lot is not None:
        if any(r["lot"] == payload.lot for r in active):
            raise _fail(
                f"lot {payload.lot} of {payload.gtin} is already recalled", ErrorCode.CONFLICT
            )
        return
    ranges = sum(1 for r in active if r["lot"] is None)
    if ranges >= MAX_RANGE_RECALLS:
        raise _fail(
            f"{payload.gtin} has {MAX_RANGE_RECALLS} serial-range recalls in force: "
            "recall whole lots instead",
            ErrorCode.TOO_LARGE,
        )


def acknowledge_recall(ctx: TxContext, payload: m.RecallAck) -> None:
    org = _org(ctx)
    record = ctx.get(st.recall_key(payload.recall_id))
    if record is None:
        raise _fail(f"no recall {payload.recall_id}", ErrorCode.NOT_FOUND)
    if org not in record["notify"]:
        raise _fail(f"{org} was not asked to act on {payload.recall_id}", ErrorCode.UNAUTHORIZED)
    if org in record["acknowledged"]:
        raise _fail(f"{org} already acknowledged {payload.recall_id}", ErrorCode.CONFLICT)
    record["acknowledged"] = sorted([*record["acknowledged"], org])
    ctx.put(st.recall_key(payload.recall_id), record)
    ctx.emit("supply.recall_acknowledged", recall=payload.recall_id, org=org)
