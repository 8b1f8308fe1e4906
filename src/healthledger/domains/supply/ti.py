"""DSCSA transaction information (TI) and transaction statements (TS) of changes of ownership.

The seller records a sale (`supply.transaction`): the buyer, the business transactions
that find it (purchase order, invoice, despatch advice: CBV 2.0 bizTransaction types),
the products, lots and quantities sold, and the SHA-256 of the DSCSA transaction
statement, which the seller's signature on the transaction makes. A shipment names the
TI it travels under (`supply.ship` with `biz_transactions`); the buyer's receipt is
counted against the TI's lines, and a lot that is not in the TI, more than its quantity,
or, once everything shipped under the TI has arrived, less than its quantity raises an
alert, as a counterfeit does. Each package keeps the TIs it travelled under, which a
regulator or a trading partner reads with state proofs.

Every fact lives under keys of its own (`ti/`, `tibt/`, `tiship/`, `tihist/`,
`tialert/`), so no existing record (Package, Container, Alert) changes its bytes, and
a ship or a receive without a TI does what it did before, plus one absent-key read per
named item at receipt.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, get_args
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints, ValidationError

from healthledger.domains.governance.queries import org_role
from healthledger.domains.kit import Access, LedgerReader, ProvenValue, View, validation_problem
from healthledger.domains.supply import epcis
from healthledger.domains.supply import errors as e
from healthledger.domains.supply import handlers as h
from healthledger.domains.supply import messages as m
from healthledger.domains.supply import state as st
from healthledger.domains.supply.errors import fail_event as _fail
from healthledger.domains.supply.gs1 import (
    digital_link_encode,
    gtin_check_digit,
    validate_gtin,
    validate_lot,
)
from healthledger.domains.supply.roles import TRADING_ROLES
from healthledger.domains.supply.state import Package
from healthledger.domains.supply.views import PackageParams
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.context import Payload, StateModel, TxContext

# The DSCSA transaction statement (FD&C Act section 581(27)), in the abbreviated form FDA's
# guidance on the TI/TS accepts. A TI carries the SHA-256 of this text; the seller's
# signature on the transaction carrying it is the seller's statement.
STATEMENT = "Seller has complied with each applicable subsection of FDCA Sec. 581(27)(A)-(G)."
STATEMENT_SHA256 = hashlib.sha256(STATEMENT.encode()).hexdigest()

# Distinct (GTIN, lot) lines of one TI. Received lots the TI did not list are counted on
# lines of their own, up to as many again, so a record never outgrows 2 * MAX_LINES lines.
MAX_LINES = 100
# TIs one package may travel under. A package changes hands a handful of times; the bound
# keeps its history, and the read that proves each entry, small.
MAX_TI_HISTORY = 100
# Packages on one line (a TI may cover several shipments; each moves at most MAX_MOVED items).
MAX_QUANTITY = 1_000_000

Problem = Literal["not_in_transaction", "over_quantity", "short_quantity"]
Status = Literal["open", "matched", "mismatch"]
OPEN: Status = "open"
MATCHED: Status = "matched"
MISMATCH: Status = "mismatch"

Moved = list[tuple[str, st.Item]]


# --- keys -------------------------------------------------------------------------------


def ti_key(ti_id: str) -> str:
    return f"ti/{ti_id}"


def biz_key(seller: str, kind: str, ref: str) -> str:
    """The index finding a seller's TI by one of its business transactions."""
    return f"tibt/{seller}/{kind}/{ref}"


def shipment_key(item: str) -> str:
    """The TI a shipped top-level item (package `gtin:serial` or SSCC) travels under."""
    return f"tiship/{item}"


def history_key(gtin: str, serial: str) -> str:
    """The TIs a package travelled under, oldest first."""
    return f"tihist/{gtin}/{serial}"


def alert_facts_key(number: int) -> str:
    """What a TI mismatch alert (`alert/<number>`) is about, in fields."""
    return f"tialert/{number:012d}"


def ti_id_of(seller: str, kind: str, ref: str) -> str:
    """A TI's id, from its seller and first business transaction (unique by the index)."""
    digest = hashlib.sha256(f"{seller}\n{kind}\n{ref}".encode()).hexdigest()
    return "ti-" + digest[:24]


# --- payload ----------------------------------------------------------------------------

Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class TransactionLine(Payload):
    """Packages of one product and lot sold (DSCSA TI: product, lot, quantity)."""

    gtin: m.Gtin
    lot: m.Lot
    quantity: Quantity


class TransactionInfo(Payload):
    """The seller's transaction information and the hash of its transaction statement.

    `items` (packages or SSCCs the seller holds) count as lines of their lot, added to
    `lines`: what an EPCIS TransactionEvent listing EPCs says.
    """

    buyer: m.OrgId
    biz_transactions: m.BizTransactions
    lines: list[TransactionLine] = Field(default_factory=list, max_length=MAX_LINES)
    items: m.Items | None = None
    statement: Sha256
    event_id: m.EventId | None = None


# --- records ----------------------------------------------------------------------------


class BizRef(StateModel):
    type: str
    id: str


class TiRef(StateModel):
    ti: str


class LineCount(StateModel):
    """A line and what travelled under it; `quantity` 0: a lot the TI did not list."""

    gtin: str
    lot: str
    quantity: int
    shipped: int
    received: int


class TransactionRecord(StateModel):
    id: str
    seller: str
    buyer: str
    biz_transactions: tuple[BizRef, ...]
    lines: tuple[LineCount, ...]
    statement: str  # SHA-256 of STATEMENT
    event_id: str | None
    tx_id: str
    height: int
    status: Status


class Shipment(StateModel):
    ti: str
    to: str


class TiHistory(RootModel[tuple[str, ...]]):
    model_config = ConfigDict(frozen=True)


class TiAlert(StateModel):
    """The facts of a TI mismatch alert, beside the alert record every alert has."""

    number: int
    ti: str
    seller: str
    buyer: str
    gtin: str
    lot: str
    problem: Problem
    quantity: int  # in the TI (0: not listed)
    received: int


# --- recording the TI ---------------------------------------------------------------------


def record_transaction(ctx: TxContext, payload: TransactionInfo) -> None:
    """The seller records a sale's TI and, by signing it, the transaction statement."""
    seller = h._org(ctx)
    _require_buyer(ctx, seller, payload.buyer)
    if payload.statement != STATEMENT_SHA256:
        raise e.UnknownStatement(payload.statement)
    refs = _new_refs(ctx, seller, payload.biz_transactions)
    lines = _lines(ctx, seller, payload)
    ti_id = ti_id_of(seller, refs[0].type, refs[0].id)
    record = TransactionRecord(
        id=ti_id,
        seller=seller,
        buyer=payload.buyer,
        biz_transactions=refs,
        lines=tuple(
            LineCount(gtin=gtin, lot=lot, quantity=quantity, shipped=0, received=0)
            for (gtin, lot), quantity in lines.items()
        ),
        statement=payload.statement,
        event_id=payload.event_id,
        tx_id=ctx.tx_id,
        height=ctx.block.height,
        status=OPEN,
    )
    ctx.store(ti_key(ti_id), record)
    for ref in refs:
        ctx.store(biz_key(seller, ref.type, ref.id), TiRef(ti=ti_id))
    ctx.emit(
        "supply.transaction",
        ti=ti_id,
        seller=seller,
        buyer=payload.buyer,
        biz_transactions=[ref.model_dump() for ref in refs],
        lines=len(record.lines),
    )


def _require_buyer(ctx: TxContext, seller: str, buyer: str) -> None:
    if buyer == seller:
        raise e.TransactionToSelf()
    if org_role(ctx.reader, buyer) not in TRADING_ROLES:
        raise e.NotTradingPartner(buyer)


def _new_refs(ctx: TxContext, seller: str, named: Sequence[m.BizTransaction]) -> tuple[BizRef, ...]:
    """The business transactions, each new for this seller and named once."""
    refs: list[BizRef] = []
    for each in named:
        ref = BizRef(type=each.type, id=each.id)
        if ref in refs:
            raise e.DuplicateBizTransaction(ref.type, ref.id)
        existing = ctx.load(biz_key(seller, ref.type, ref.id), TiRef)
        if existing is not None:
            raise e.BizTransactionExists(seller, ref.type, ref.id, existing.ti)
        refs.append(ref)
    return tuple(refs)


def _lines(ctx: TxContext, seller: str, payload: TransactionInfo) -> dict[tuple[str, str], int]:
    """(GTIN, lot) -> quantity: the lines given plus the packages of the items given."""
    quantities: dict[tuple[str, str], int] = {}
    for line in payload.lines:
        if (line.gtin, line.lot) in quantities:
            raise e.DuplicateLine(line.gtin, line.lot)
        quantities[(line.gtin, line.lot)] = line.quantity
    for package in _held_packages(ctx, seller, payload.items or []):
        product = (package.gtin, package.lot)
        quantities[product] = quantities.get(product, 0) + 1
    if not quantities:
        raise e.NoTransactionLines()
    if len(quantities) > MAX_LINES:
        raise e.TooManyLines(MAX_LINES)
    for gtin, lot in quantities:
        if ctx.read_raw(ctx.namespace, st.lot_key(gtin, lot)) is None:
            raise e.UnknownLot(gtin, lot)
    return quantities


def _held_packages(ctx: TxContext, seller: str, items: list[str]) -> list[Package]:
    """The packages of items the seller holds, or shipped and still owns (TI after ship)."""
    if not items:
        return []
    packages = []
    for item, record in h._gather(ctx, items):
        if record.owner != seller:
            raise e.NotHolder(item, record.owner, seller)
        if record.status not in (st.ACTIVE, st.IN_TRANSIT):
            raise e.WrongStatus(item, record.status)
        if isinstance(record, Package):
            packages.append(record)
    return packages


# --- shipping under a TI ------------------------------------------------------------------


def link_shipment(
    ctx: TxContext,
    named: Sequence[m.BizTransaction],
    to: str,
    items: Sequence[str],
    moved: Moved,
) -> None:
    """A shipment travels under the shipper's TI to that TI's buyer; count what it carries.

    Business transactions the shipper never recorded (a despatch advice the TI does not
    list) are passed over; those it did must all name one TI, and at least one must.
    """
    seller = h._org(ctx)
    record = _shipper_ti(ctx, seller, named)
    if record.buyer != to:
        raise e.BuyerMismatch(record.id, record.buyer, to)
    for item in items:
        ctx.store(shipment_key(item), Shipment(ti=record.id, to=to))
    packages = [r for _item, r in moved if isinstance(r, Package)]
    for package in packages:
        _add_to_history(ctx, package, record.id)
    counts = Counter((p.gtin, p.lot) for p in packages)
    lines = _counted(record, counts, "shipped")
    status = OPEN if record.status == MATCHED and counts else record.status
    ctx.store(ti_key(record.id), record.model_copy(update={"lines": lines, "status": status}))
    ctx.emit("supply.shipped_under", ti=record.id, to=to, packages=len(packages))


def _shipper_ti(
    ctx: TxContext, seller: str, named: Sequence[m.BizTransaction]
) -> TransactionRecord:
    found: str | None = None
    for ref in named:
        index = ctx.load(biz_key(seller, ref.type, ref.id), TiRef)
        if index is None:
            continue
        if found is not None and index.ti != found:
            raise e.BizTransactionsDisagree(found, index.ti)
        found = index.ti
    if found is None:
        raise e.UnknownBizTransaction(seller, named[0].type, named[0].id)
    record = ctx.load(ti_key(found), TransactionRecord)
    if record is None:
        raise e.UnknownTransaction(found)  # never: an index entry is written with its record
    return record


def _add_to_history(ctx: TxContext, package: Package, ti_id: str) -> None:
    key = history_key(package.gtin, package.serial)
    stored = ctx.load(key, TiHistory)
    history = () if stored is None else stored.root
    if len(history) >= MAX_TI_HISTORY:
        raise e.TransactionHistoryFull(package.name, len(history))
    ctx.store(key, TiHistory((*history, ti_id)))


def _counted(
    record: TransactionRecord, counts: Mapping[tuple[str, str], int], field: str
) -> tuple[LineCount, ...]:
    """The record's lines with `counts` added to `field`; an unlisted lot gets a line."""
    lines = {(line.gtin, line.lot): line for line in record.lines}
    for (gtin, lot), count in counts.items():
        line = lines.get((gtin, lot))
        if line is None:
            line = LineCount(gtin=gtin, lot=lot, quantity=0, shipped=0, received=0)
        lines[(gtin, lot)] = line.model_copy(update={field: getattr(line, field) + count})
    if len(lines) > 2 * MAX_LINES:
        raise e.TooManyLines(2 * MAX_LINES)
    return tuple(lines.values())


# --- receiving under a TI -------------------------------------------------------------------


def check_receipt(ctx: TxContext, receiver: str, items: Sequence[str], moved: Moved) -> None:
    """Count what arrived under each TI against its lines; a mismatch raises an alert.

    The receipt itself stands (custody did move): like a counterfeit, a mismatch is
    flagged for the seller, the buyer, the manufacturer and regulators to look into.
    """
    links = {item: ctx.load(shipment_key(item), Shipment) for item in items}
    if all(link is None for link in links.values()):
        return
    arrived = _arrivals(links, receiver, moved)
    for item, link in links.items():
        if link is not None:
            ctx.delete(shipment_key(item))
    for ti_id in sorted(arrived):
        _receive_under(ctx, receiver, ti_id, arrived[ti_id])


def _arrivals(
    links: Mapping[str, Shipment | None], receiver: str, moved: Moved
) -> dict[str, Counter[tuple[str, str]]]:
    """TI -> (GTIN, lot) -> packages received: each named item and what is inside it.

    `moved` lists each named item followed by its contents (pre-order), so a package
    belongs to the last named item before it.
    """
    arrived: dict[str, Counter[tuple[str, str]]] = {}
    link: Shipment | None = None
    for item, record in moved:
        if item in links:
            link = links[item]
        if link is None or link.to != receiver or not isinstance(record, Package):
            continue
        arrived.setdefault(link.ti, Counter())[(record.gtin, record.lot)] += 1
    return arrived


def _receive_under(
    ctx: TxContext, receiver: str, ti_id: str, counts: Mapping[tuple[str, str], int]
) -> None:
    record = ctx.load(ti_key(ti_id), TransactionRecord)
    if record is None:
        return  # never: a shipment names a stored TI, and TIs are not deleted
    before = {(line.gtin, line.lot): line.received for line in record.lines}
    lines = _counted(record, counts, "received")
    problems: list[tuple[LineCount, Problem]] = []
    for line in lines:
        if (line.gtin, line.lot) not in counts:
            continue
        if line.quantity == 0:
            problems.append((line, "not_in_transaction"))
        elif before.get((line.gtin, line.lot), 0) <= line.quantity < line.received:
            problems.append((line, "over_quantity"))
    complete = sum(line.received for line in lines) == sum(line.shipped for line in lines)
    if complete:
        problems += [(line, "short_quantity") for line in lines if line.received < line.quantity]
    for line, problem in problems:
        _raise_mismatch(ctx, record, line, problem)
    status = _status(record.status, bool(problems), complete)
    ctx.store(ti_key(ti_id), record.model_copy(update={"lines": lines, "status": status}))
    ctx.emit("supply.received_under", ti=ti_id, by=receiver, status=status)


def _status(previous: Status, mismatched: bool, complete: bool) -> Status:
    """A mismatch stays on record; otherwise matched once all shipped arrived as listed."""
    if mismatched or previous == MISMATCH:
        return MISMATCH
    return MATCHED if complete else OPEN


_PROBLEM_TEXT: Mapping[Problem, str] = {
    "not_in_transaction": "is not in the transaction information",
    "over_quantity": "received more than the transaction information",
    "short_quantity": "received less than the transaction information",
}


def _raise_mismatch(
    ctx: TxContext, record: TransactionRecord, line: LineCount, problem: Problem
) -> None:
    first = record.biz_transactions[0]
    reason = (
        f"transaction information mismatch: {record.id} ({first.type} {first.id}) "
        f"from {record.seller}: lot {line.lot} of {line.gtin} {_PROBLEM_TEXT[problem]} "
        f"({line.received} received, {line.quantity} listed)"
    )
    # serial "": the alert is about a line of a TI, not one package.
    number = h._raise_alert(ctx, line.gtin, "", reason, None)
    facts = TiAlert(
        number=number,
        ti=record.id,
        seller=record.seller,
        buyer=record.buyer,
        gtin=line.gtin,
        lot=line.lot,
        problem=problem,
        quantity=line.quantity,
        received=line.received,
    )
    ctx.store(alert_facts_key(number), facts)


# --- EPCIS 2.0 TransactionEvent ---------------------------------------------------------------

# CBV 2.0 business transaction types: bare (EPCIS 2.0 JSON-LD context), Web URI, or CBV 1.x URN.
_BTT_PREFIXES = ("https://ref.gs1.org/cbv/BTT-", "urn:epcglobal:cbv:btt:")
_SDT_PREFIXES = ("https://ref.gs1.org/cbv/SDT-", "urn:epcglobal:cbv:sdt:")
_BIZ_TYPES: frozenset[str] = frozenset(get_args(m.BizTransactionType))
# TDS LGTIN EPC class URI (company prefix . indicator+item reference . lot) and Digital Link.
_URN_LGTIN = re.compile(r"urn:epc:class:lgtin:([0-9]{6,12})\.([0-9]{1,7})\.(.+)")
_DL_LGTIN = re.compile(r"https?://[^/?#]+/01/([0-9]{8,14})/10/([^/?#]+)")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Our extension field: the SHA-256 of the statement, when an event states it explicitly.
STATEMENT_FIELD = "healthledger:transactionStatement"


def _term(value: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def _biz_entries(index: int, event: Mapping[str, Any]) -> list[tuple[int, str | None, str]]:
    entries = event.get("bizTransactionList")
    if entries is None:
        return []
    if not isinstance(entries, list):
        _fail(index, "bizTransactionList", "expected a JSON array", ErrorCode.MALFORMED)
    found = []
    for position, entry in enumerate(entries):
        where = f"bizTransactionList[{position}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("bizTransaction"), str):
            _fail(
                index, where, "expected {'type': ..., 'bizTransaction': URI}", ErrorCode.MALFORMED
            )
        kind = entry.get("type")
        if kind is not None and not isinstance(kind, str):
            _fail(index, f"{where}.type", "expected a string", ErrorCode.MALFORMED)
        found.append(
            (
                position,
                None if kind is None else _term(kind, _BTT_PREFIXES),
                entry["bizTransaction"],
            )
        )
    return found


def _biz_transaction(index: int, position: int, kind: str, ref: str) -> m.BizTransaction:
    try:
        return m.BizTransaction.model_validate({"type": kind, "id": ref})
    except ValueError:
        _fail(index, f"bizTransactionList[{position}]", f"{ref!r} is not a business transaction id")


def biz_transactions_from_epcis(
    index: int, event: Mapping[str, Any]
) -> list[m.BizTransaction] | None:
    """The typed business transactions of a (shipping) event, for `Ship.biz_transactions`.

    Entries without a type, or of a type CBV 2.0 does not define, cannot name a TI and
    are left out; None when none is left.
    """
    found = [
        _biz_transaction(index, position, kind, ref)
        for position, kind, ref in _biz_entries(index, event)
        if kind in _BIZ_TYPES
    ]
    if len(found) > m.MAX_BIZ_TRANSACTIONS:
        _fail(index, "bizTransactionList", f"more than {m.MAX_BIZ_TRANSACTIONS} typed entries")
    return found or None


def _owning_party(index: int, event: Mapping[str, Any], field: str, kind: str) -> str:
    entries = event.get(field)
    if not isinstance(entries, list):
        _fail(index, field, "missing: a transaction names its owning parties", ErrorCode.MALFORMED)
    parties = [
        entry[kind]
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get(kind), str)
        and _term(str(entry.get("type")), _SDT_PREFIXES) == "owning_party"
    ]
    if len(parties) != 1:
        _fail(index, field, f"expected one owning_party, found {len(parties)}")
    return str(parties[0])


def _product_class(index: int, where: str, uri: str) -> tuple[str, str]:
    """(GTIN-14, lot) of an LGTIN class URN or a Digital Link with AI 10."""
    try:
        if match := _URN_LGTIN.fullmatch(uri):
            prefix, indicator_item, lot = match[1], match[2], match[3]
            if len(prefix) + len(indicator_item) != 13:
                raise LedgerError(
                    "company prefix and indicator/item reference must total 13 digits"
                )
            body = indicator_item[0] + prefix + indicator_item[1:]
            return body + str(gtin_check_digit(body)), validate_lot(_unquote(lot))
        if match := _DL_LGTIN.fullmatch(uri):
            return validate_gtin(match[1]), validate_lot(_unquote(match[2]))
    except (LedgerError, UnicodeDecodeError) as exc:
        _fail(index, where, f"{uri!r}: {getattr(exc, 'message', exc)}")
    _fail(
        index,
        where,
        f"{uri!r}: expected an LGTIN class (urn:epc:class:lgtin:...) "
        "or a Digital Link with a lot (/01/../10/..)",
    )


def _unquote(value: str) -> str:
    if _BAD_PERCENT.search(value):
        raise LedgerError("'%' must start a %HH escape")
    return unquote(value, errors="strict")


def _quantity(index: int, where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(index, where, "expected a number", ErrorCode.MALFORMED)
    try:
        exact = Decimal(str(value))
    except InvalidOperation:
        _fail(index, where, f"{value!r} is not a number")
    if exact != exact.to_integral_value() or not 1 <= exact <= MAX_QUANTITY:
        _fail(index, where, f"{value}: expected a whole number of packages, 1 to {MAX_QUANTITY}")
    return int(exact)


def _lines_of(index: int, event: Mapping[str, Any]) -> list[dict[str, Any]]:
    entries = event.get("quantityList") or []
    if not isinstance(entries, list):
        _fail(index, "quantityList", "expected a JSON array", ErrorCode.MALFORMED)
    lines: list[dict[str, Any]] = []
    for position, entry in enumerate(entries):
        where = f"quantityList[{position}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("epcClass"), str):
            _fail(index, where, "expected {'epcClass': URI, 'quantity': N}", ErrorCode.MALFORMED)
        if entry.get("uom") is not None:
            _fail(index, f"{where}.uom", "a TI counts packages: no unit of measure")
        gtin, lot = _product_class(index, f"{where}.epcClass", entry["epcClass"])
        quantity = _quantity(index, f"{where}.quantity", entry.get("quantity"))
        lines.append({"gtin": gtin, "lot": lot, "quantity": quantity})
    return lines


def _items_of(index: int, event: Mapping[str, Any]) -> list[str]:
    uris = event.get("epcList") or []
    if not isinstance(uris, list):
        _fail(index, "epcList", "expected a JSON array", ErrorCode.MALFORMED)
    if not uris and isinstance(event.get("parentID"), str):
        uris = [event["parentID"]]
    items = []
    for position, uri in enumerate(uris):
        if not isinstance(uri, str):
            _fail(index, f"epcList[{position}]", "expected a URI string", ErrorCode.MALFORMED)
        try:
            items.append(epcis.item_of_epc(uri))
        except LedgerError as exc:
            _fail(index, f"epcList[{position}]", exc.message, exc.code)
    return items


def _statement_of(index: int, event: Mapping[str, Any]) -> str:
    """The event's stated TS hash, else the standard TS: the seller submitting its own
    TransactionEvent signs the statement, as `supply.transaction` does."""
    stated = event.get(STATEMENT_FIELD, STATEMENT_SHA256)
    if stated != STATEMENT_SHA256:
        _fail(index, STATEMENT_FIELD, f"{stated!r} is not the SHA-256 of the DSCSA statement")
    return STATEMENT_SHA256


def transaction_from_epcis(
    index: int, event: Mapping[str, Any], org_of_party: Callable[[str], str]
) -> TransactionInfo:
    """The TI of an EPCIS 2.0 TransactionEvent (action ADD): seller = source owning_party.

    The seller is not in the payload (it is the sender); the caller applies the TI only
    when `org_of_party` of the source is the sending organisation (`transaction_seller`).
    Lines come from class-level quantities (LGTIN) and, through the handler, from listed
    EPCs. `event_id` is left for the caller, which hashed the event.
    """
    if event.get("type") != "TransactionEvent":
        _fail(
            index, "type", f"{event.get('type')!r}: transaction information is a TransactionEvent"
        )
    if event.get("action") != "ADD":
        _fail(index, "action", f"{event.get('action')!r}: only ADD records transaction information")
    entries = _biz_entries(index, event)
    if not entries:
        _fail(index, "bizTransactionList", "a TransactionEvent names its business transactions")
    refs = []
    for position, kind, ref in entries:
        if kind not in _BIZ_TYPES:
            _fail(
                index,
                f"bizTransactionList[{position}].type",
                f"{kind!r} is not a CBV 2.0 business transaction type",
            )
        refs.append(_biz_transaction(index, position, kind, ref))
    buyer = org_of_party(_owning_party(index, event, "destinationList", "destination"))
    items = _items_of(index, event)
    fields: dict[str, Any] = {
        "buyer": buyer,
        "biz_transactions": [ref.model_dump() for ref in refs],
        "lines": _lines_of(index, event),
        "statement": _statement_of(index, event),
    }
    if items:
        fields["items"] = items
    try:
        return TransactionInfo.model_validate(fields)
    except ValidationError as exc:
        where, what = validation_problem(exc)
        _fail(index, where or "TransactionEvent", what)


def transaction_seller(
    index: int, event: Mapping[str, Any], org_of_party: Callable[[str], str]
) -> str:
    """The organisation selling in a TransactionEvent: its source owning_party."""
    return org_of_party(_owning_party(index, event, "sourceList", "source"))


def transaction_to_epcis(
    record: TransactionRecord, time_ms: int, org_gln: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A TI as an EPCIS 2.0 TransactionEvent (class-level quantities, owning parties)."""
    body: dict[str, Any] = {
        "type": "TransactionEvent",
        "eventID": epcis.event_id(record.tx_id),
        "eventTime": epcis.format_time(time_ms),
        "eventTimeZoneOffset": "+00:00",
        "action": "ADD",
        "bizTransactionList": [
            {"type": ref.type, "bizTransaction": ref.id} for ref in record.biz_transactions
        ],
        "epcList": [],
        "quantityList": [
            {
                "epcClass": f"{epcis.DIGITAL_LINK_DOMAIN}/01/{line.gtin}/10/"
                + digital_link_encode(line.lot),
                "quantity": line.quantity,
            }
            for line in record.lines
            if line.quantity > 0
        ],
        "sourceList": [{"type": "owning_party", "source": epcis.party_uri(record.seller, org_gln)}],
        "destinationList": [
            {"type": "owning_party", "destination": epcis.party_uri(record.buyer, org_gln)}
        ],
        STATEMENT_FIELD: record.statement,
        epcis.TX_ID_FIELD: record.tx_id,
    }
    return body


# --- reads ------------------------------------------------------------------------------------


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


class TransactionParams(BaseModel):
    seller: Annotated[str, Field(min_length=1, max_length=64)]
    type: m.BizTransactionType
    id: Annotated[str, Field(min_length=1, max_length=200)]


class ProvenTransaction(_Answer):
    """A TI found by one of its business transactions: the index entry and the record,
    each with its state proof against one header."""

    statement_text: str = Field(description="the DSCSA statement whose SHA-256 the TI carries")
    index: ProvenValue
    transaction: ProvenValue


class PackageTransactions(_Answer):
    """The TIs a package travelled under, oldest first, each with its state proof."""

    gtin: str
    serial: str
    statement_text: str = Field(description="the DSCSA statement whose SHA-256 each TI carries")
    history: ProvenValue = Field(description="the package's list of TI ids")
    transactions: list[ProvenValue]


def transaction(reader: LedgerReader, params: TransactionParams) -> ProvenTransaction:
    """A seller's TI by one of its business transactions, with proofs."""
    index = reader.proven(st.NAMESPACE, biz_key(params.seller, params.type, params.id))
    if index.raw_value is None:
        raise e.UnknownBizTransaction(params.seller, params.type, params.id)
    ref = TiRef.model_validate_json(index.raw_value)
    record = reader.proven(st.NAMESPACE, ti_key(ref.ti))
    return ProvenTransaction(statement_text=STATEMENT, index=index, transaction=record)


def package_transactions(reader: LedgerReader, params: PackageParams) -> PackageTransactions:
    """A package's full TI/TS history: every TI it travelled under, with proofs."""
    if reader.state.raw(st.NAMESPACE, st.package_key(params.gtin, params.serial)) is None:
        raise e.UnknownPackage(params.gtin, params.serial)
    history = reader.proven(st.NAMESPACE, history_key(params.gtin, params.serial))
    ids = () if history.raw_value is None else TiHistory.model_validate_json(history.raw_value).root
    # A package may travel under one TI twice (shipped, returned, shipped again): prove it once.
    unique = list(dict.fromkeys(ids))
    return PackageTransactions(
        gtin=params.gtin,
        serial=params.serial,
        statement_text=STATEMENT,
        history=history,
        transactions=[reader.proven(st.NAMESPACE, ti_key(ti_id)) for ti_id in unique],
    )


VIEWS = (
    View(
        name="package_transactions",
        path="/v1/supply/packages/{gtin}/{serial:path}/transactions",
        summary="A package's DSCSA transaction information and statements, with proofs",
        params=PackageParams,
        response=PackageTransactions,
        run=package_transactions,
        access=Access.MEMBER,
    ),
    View(
        name="transaction",
        path="/v1/supply/transactions/{seller}/{type}/{id:path}",
        summary="A seller's DSCSA transaction information by a business transaction, with proofs",
        params=TransactionParams,
        response=ProvenTransaction,
        run=transaction,
        access=Access.MEMBER,
    ),
)
