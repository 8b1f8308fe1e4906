"""Whole EPCIS 2.0 feeds: `supply.epcis` carries a partner's raw events and applies each.

Design point 1 of issue 14: the transaction carries the events as the partner wrote
them; the handler recomputes each event's id (the CBV 2.0 event hash), maps it with the
pure functions below and applies it through the ordinary handlers with typed payloads.
The raw event stays in the block store, so an export reproduces it and its hash.

Design point 2: the acting party of an event resolves to an organisation. An event of
the sender's own organisation becomes that organisation's operation (custody, TI,
sensor report, transform); anything else is an anchored observation attested by the
sender, confirmed when the acting organisation later submits the same event itself.

Each event is carried as its JSON text, not as a JSON object: a partner's document may
hold decimal numbers (a quantity of 12.5 kg, a temperature of 4.2), which a signed
payload cannot (canonical JSON refuses floats). The text is parsed inside `apply` only
to hash and map it; floats never reach state (quantities are kept as decimal text).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, Field, StringConstraints, ValidationError

from healthledger.domains.governance import queries as gov
from healthledger.domains.kit import CAPABILITY_PREFIX, validation_problem
from healthledger.domains.supply import coldchain as cold
from healthledger.domains.supply import epcis, ti
from healthledger.domains.supply import errors as e
from healthledger.domains.supply import handlers as h
from healthledger.domains.supply import messages as m
from healthledger.domains.supply import transform as x
from healthledger.domains.supply.errors import fail_event as _fail
from healthledger.domains.supply.event_hash import event_hash
from healthledger.domains.supply.events import CustodyEvent, is_container, split_package_id
from healthledger.domains.supply.observations import (
    ErrorMark,
    EventLink,
    EventRecord,
    Observation,
    ObservationStatus,
    Quantity,
    container_links_prefix,
    erroneous_key,
    event_key,
    link_key,
    lot_links_prefix,
    observation_count_key,
    observation_key,
    package_links_prefix,
)
from healthledger.domains.supply.parties import state_party_resolver
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.context import Actor, Payload, StateReader, TxContext

# Events per transaction, characters of one event's JSON text, nesting of one event. A
# transaction is at most 64 KiB (ledger/transaction.py) whatever these allow.
MAX_EVENTS = 500
MAX_EVENT_CHARS = 32 * 1024
MAX_JSON_DEPTH = 12
# Namespace prefixes a document's @context may declare for its extension fields.
MAX_PREFIXES = 32
# Packages, containers, lots and quantities one observation names (and links from).
MAX_NAMED = 256
# Organisations listed as having attested one event (more are indexed, not listed).
MAX_ATTESTERS = 16
# Observations (events that moved nothing) one organisation links to one package,
# container or lot: a history reads MAX_LINKS_READ links, which one member alone may not
# fill with its own scans or attestations (the item's later events would fall out of it).
MAX_OBSERVATION_LINKS = 64
# A JSON string; an unterminated one runs to the end of the text (the closing quote is
# optional), so each is scanned once: requiring it made the engine rescan to the end from
# every quote of an unterminated run of escaped quotes (quadratic, seconds per event).
_STRING_IN_JSON = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
# GS1 Digital Link / EPC class URIs naming a lot of a GTIN (TDS LGTIN).
_DL_LOT = re.compile(r"https?://[^/?#]+/01/([0-9]{14})/10/([^/?#]+)")
_URN_LGTIN = re.compile(r"urn:epc:class:lgtin:([0-9]{6,12})\.([0-9]{1,7})\.(.+)")

Kind = str  # "custody:<action>", "transaction", "sensor", "transform", "observation", ...
ERROR_DECLARATION = "error declaration"
# Another organisation's declaration of an event: kept in its transaction, it marks nothing
# unless the acting organisation declared the event itself (it then seconds that mark).
DECLARATION_ATTESTED = "error declaration attested"


# --- the payload ---------------------------------------------------------------------------


def json_depth(text: str) -> int:
    """How deeply a JSON text nests arrays and objects (brackets inside strings ignored)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING_IN_JSON.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    # 1e999 is valid JSON that Python reads as inf: it would hash as "inf", be kept as
    # "Infinity" and export as null, so an event holding it is refused like NaN.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def parse_event_text(text: str) -> dict[str, Any]:
    """One event's JSON text as an object; refused when too deep, not JSON or not an object."""
    # A text can nest no deeper than it has opening brackets: most events have fewer
    # than the limit, and counting them is far cheaper than stripping strings first.
    opening = text.count("{") + text.count("[")
    if opening > MAX_JSON_DEPTH and json_depth(text) > MAX_JSON_DEPTH:
        raise ValueError(f"nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        # Our words and the position: the library's wording is not ours to hash into blocks.
        raise ValueError(f"not JSON (at character {exc.pos})") from None
    except ValueError:  # NaN or Infinity, or an integer of more digits than Python reads
        raise ValueError("not JSON (a number out of range)") from None
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def _checked_event_text(text: str) -> str:
    parse_event_text(text)
    return text


def raw_event(tx_payload: Mapping[str, Any], position: int, event_id: str) -> dict[str, Any]:
    """An applied event as its partner wrote it, from its transaction's payload, with
    `eventID` set to its id (the event hash leaves eventID out, so it still matches)."""
    body = parse_event_text(tx_payload["events"][position])
    body["eventID"] = event_id
    return body


def event_text(event: Mapping[str, Any]) -> str:
    """The JSON text a client puts in the payload for one event (compact, UTF-8)."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


EventText = Annotated[
    str,
    StringConstraints(min_length=2, max_length=MAX_EVENT_CHARS),
    AfterValidator(_checked_event_text),
]
# The hash expands a declared prefix wherever a value starts `prefix:`, and an export
# declares the prefixes of every transaction it reads from: a prefix naming a URI scheme
# (or starting like a time, `2026-03-01T10:`) would rewrite other organisations' EPCs,
# parties and times there, so their events would no longer hash to their ids.
URI_SCHEMES = frozenset(
    {"urn", "http", "https", "geo", "tag", "ni", "did", "mailto", "tel", "data", "ftp", "file"}
)


def check_prefix(prefix: str) -> str:
    """A namespace prefix a document may declare: no URI scheme, no leading digit."""
    if prefix.lower() in URI_SCHEMES or prefix[:1].isdigit():
        raise ValueError(f"@context prefix {prefix[:64]!r} would rewrite URIs or times")
    return prefix


Prefix = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(check_prefix)
]
Namespace = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class EpcisEvents(Payload):
    """Raw EPCIS 2.0 events (each as its JSON text), applied in order, all or none.

    `context` is the namespace prefixes the document's @context declared inline: an
    extension field `ex:f` is hashed under its full namespace (CBV 2.0 §8.9), so the
    events' ids depend on them.
    """

    events: Annotated[list[EventText], Field(min_length=1, max_length=MAX_EVENTS)]
    context: Annotated[
        dict[Prefix, Namespace], Field(default_factory=dict, max_length=MAX_PREFIXES)
    ]


# --- mapping (pure) --------------------------------------------------------------------------


def tx_type_of(kind: Kind) -> str | None:
    """The typed transaction an event's kind stands for (None: an observation or a
    declaration, which any sender of supply.epcis may make)."""
    if kind.startswith("custody:"):
        return "supply." + kind.removeprefix("custody:")
    if kind in ("transaction", "sensor", "transform"):
        return "supply." + kind
    return None


@dataclass(frozen=True)
class Op:
    """One typed operation an event becomes, applied by `handler` with `payload`."""

    kind: Kind
    tx_type: str  # the typed transaction it stands for: its senders are checked too
    handler: Callable[[TxContext, Any], None]
    payload: Payload


@dataclass(frozen=True)
class Named:
    """What an event names: serialized items, lots and class-level quantities."""

    packages: tuple[str, ...] = ()
    containers: tuple[str, ...] = ()
    lots: tuple[str, ...] = ()
    quantities: tuple[Quantity, ...] = ()


@dataclass(frozen=True)
class EventPlan:
    """What one event becomes for a given sender, decided without state."""

    index: int
    event_id: str
    body: Mapping[str, Any]
    actor: str | None  # None: the event names its place by no party identifier (geo:, ...)
    own: bool
    ops: tuple[Op, ...] = ()
    observe: bool = False  # anchored as an observation (alone, or beside the ops)
    declaration: ErrorMark | None = None
    named: Named = field(default_factory=Named)

    @property
    def declares(self) -> bool:
        """Whether its declaration may mark the event erroneous (design point 5: nobody
        declares another organisation's event erroneous): its acting organisation, or any
        recorder of an event that names no acting party (a `geo:` read point)."""
        return self.actor is None or self.own

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """What the event became, as the per-event report names it."""
        if self.declaration is not None:
            return (ERROR_DECLARATION if self.declares else DECLARATION_ATTESTED,)
        kinds = [op.kind for op in self.ops]
        if self.observe:
            kinds.append("observation confirmed" if self.own else "observation attested")
        return tuple(kinds)


def _text(index: int, body: Mapping[str, Any], name: str, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            _fail(index, name, "missing", ErrorCode.MALFORMED)
        return None
    if not isinstance(value, str):
        _fail(index, name, "expected a JSON string", ErrorCode.MALFORMED)
    return value


def _list(index: int, body: Mapping[str, Any], name: str) -> list[Any]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        _fail(index, name, "expected a JSON array", ErrorCode.MALFORMED)
    return value


def _lot_of_class(uri: str) -> tuple[str, str] | None:
    """The (GTIN, lot) an EPC class names, for a lot-level class (LGTIN); None otherwise."""
    if match := _DL_LOT.fullmatch(uri):
        return match[1], epcis.digital_link_lot(match[2])
    if match := _URN_LGTIN.fullmatch(uri):
        return epcis.lgtin_of_urn(uri, match[1], match[2], match[3])
    return None


def _serialized(index: int, where: str, uri: Any) -> str | None:
    """The package id or SSCC an EPC names; None for other identifiers (GIAI, GRAI ...)."""
    if not isinstance(uri, str):
        _fail(index, where, "expected a URI string", ErrorCode.MALFORMED)
    if not epcis.names_trade_item_or_unit(uri):
        return None
    try:
        return epcis.item_of_epc(uri)
    except LedgerError as exc:
        _fail(index, where, exc.message, exc.code)


def _quantity_text(index: int, where: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(index, where, "expected a JSON number", ErrorCode.MALFORMED)
    try:
        # A JSON float keeps the digits the partner wrote (Decimal of its shortest repr).
        amount = Decimal(str(value))
    except InvalidOperation:
        _fail(index, where, f"{value!r} is not a decimal")
    if amount < 0:
        _fail(index, where, f"{value} is negative")
    return format(amount.normalize(), "f")


_EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")


def named(index: int, body: Mapping[str, Any]) -> Named:
    """The packages, containers, lots and quantities an event names, bounded."""
    items: list[str] = []
    parent = body.get("parentID")
    uris: list[tuple[str, Any]] = [] if parent is None else [("parentID", parent)]
    for name in _EPC_LISTS:
        uris.extend((f"{name}[{i}]", uri) for i, uri in enumerate(_list(index, body, name)))
    for where, uri in uris:
        item = _serialized(index, where, uri)
        if item is not None and item not in items:
            items.append(item)
    quantities: list[Quantity] = []
    lots: list[str] = []
    for name in _QUANTITY_LISTS:
        for i, entry in enumerate(_list(index, body, name)):
            where = f"{name}[{i}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("epcClass"), str):
                _fail(index, where, "expected {'epcClass': URI, ...}", ErrorCode.MALFORMED)
            uom = entry.get("uom")
            if uom is not None and not isinstance(uom, str):
                _fail(index, f"{where}.uom", "expected a JSON string", ErrorCode.MALFORMED)
            amount = _quantity_text(index, f"{where}.quantity", entry.get("quantity"))
            quantities.append(Quantity(epc_class=entry["epcClass"], quantity=amount, uom=uom))
            lot = _lot_of_class(entry["epcClass"])
            if lot is not None and f"{lot[0]}:{lot[1]}" not in lots:
                lots.append(f"{lot[0]}:{lot[1]}")
    if len(items) + len(quantities) > MAX_NAMED:
        _fail(
            index, "epcList", f"names more than {MAX_NAMED} EPCs and classes", ErrorCode.TOO_LARGE
        )
    packages = tuple(item for item in items if not is_container(item))
    containers = tuple(item for item in items if is_container(item))
    return Named(packages, containers, tuple(lots), tuple(quantities))


P = TypeVar("P", bound=Payload)


def typed(index: int, model: type[P], **fields: Any) -> P:
    """A typed payload built from an event's fields; a bad field names the event."""
    try:
        return model(**fields)
    except ValidationError as exc:
        where, what = validation_problem(exc)
        _fail(index, where or model.__name__, what)


def _custody_ops(
    index: int, event: CustodyEvent, biz: list[m.BizTransaction] | None = None
) -> tuple[Op, ...]:
    """The typed operations a custody event becomes (the ordinary transactions' payloads)."""
    kind, tx_type = f"custody:{event.action}", f"supply.{event.action}"
    items = list(event.items)
    payloads: list[tuple[Callable[[TxContext, Any], None], Payload]] = []
    action = event.action
    if action == "commission":
        payloads.extend((h.commission, payload) for payload in _commissions(index, event))
    elif action == "aggregate":
        payloads.append(
            (h.aggregate, typed(index, m.Aggregate, sscc=event.parent or "", items=items))
        )
    elif action == "disaggregate":
        payloads.append((h.disaggregate, typed(index, m.Disaggregate, sscc=event.parent or "")))
    elif action in ("ship", "return"):
        to = event.counterparty
        if to is None:
            _fail(index, "destinationList", f"{action} needs the receiving owning_party")
        if action == "ship":
            # A shipment names the seller's TI it travels under by its bizTransactionList.
            ship = typed(index, m.Ship, items=items, to=to, biz_transactions=biz)
            payloads.append((h.ship, ship))
        else:
            reason = event.reason or "returned"
            payloads.append(
                (h.return_items, typed(index, m.Return, items=items, to=to, reason=reason))
            )
    elif action == "receive":
        payloads.append((h.receive, typed(index, m.Receive, items=items)))
    elif action == "dispense":
        payloads.extend((h.dispense, _dispense(index, item)) for item in items)
    elif action == "destroy":
        payloads.append(
            (h.destroy, typed(index, m.Destroy, items=items, reason=event.reason or "destroyed"))
        )
    else:
        payloads.append((h.export, typed(index, m.Export, items=items, country=event.reason or "")))
    return tuple(Op(kind, tx_type, handler, payload) for handler, payload in payloads)


def _commissions(index: int, event: CustodyEvent) -> list[m.Commission]:
    by_gtin: dict[str, list[str]] = {}
    for item in event.items:
        if is_container(item):
            _fail(index, "epcList", f"cannot commission the SSCC {item}")
        gtin, serial = split_package_id(item)
        by_gtin.setdefault(gtin, []).append(serial)
    return [
        typed(
            index,
            m.Commission,
            gtin=gtin,
            lot=event.lot or "",
            expiry=event.expiry or "",
            serials=serials[i : i + m.MAX_COMMISSION],
        )
        for gtin, serials in by_gtin.items()
        for i in range(0, len(serials), m.MAX_COMMISSION)
    ]


def _dispense(index: int, item: str) -> m.Dispense:
    if is_container(item):
        _fail(index, "epcList", "dispensing names packages, not SSCCs")
    gtin, serial = split_package_id(item)
    return typed(index, m.Dispense, gtin=gtin, serial=serial)


def custody_action(body: Mapping[str, Any]) -> str | None:
    """The custody step an event is, when the ledger can move items for it: a step of
    MAPPINGS in its event type and EPCIS action, with a fitting disposition, serialized EPCs,
    the receiving party of a transfer and (export) the country. None: an observation."""
    raw_step, raw_disp = body.get("bizStep"), body.get("disposition")
    if not isinstance(raw_step, str) or (raw_disp is not None and not isinstance(raw_disp, str)):
        return None
    step = epcis.biz_step_term(raw_step)
    disposition = None if raw_disp is None else epcis.disposition_term(raw_disp)
    for action, mapping in epcis.MAPPINGS.items():
        if (mapping.biz_step, mapping.event_type, mapping.action) != (
            step,
            body.get("type"),
            body.get("action"),
        ):
            continue
        if disposition is not None and mapping.disposition not in (None, disposition):
            continue
        return action if _complete(action, body) else None
    return None


def _complete(action: str, body: Mapping[str, Any]) -> bool:
    if any(body.get(name) for name in _QUANTITY_LISTS):
        return False  # class-level quantities: no serial to move
    if action in ("ship", "return") and not _names_destination(body):
        return False  # a shipment seen leaving, with no receiving party to move it to
    if action == "export" and epcis.REASON_FIELD not in body:
        return False  # a partner's "departing" leaves a site, not the market
    if action in ("aggregate", "disaggregate"):
        return isinstance(body.get("parentID"), str)
    return bool(body.get("epcList"))


def _names_destination(body: Mapping[str, Any]) -> bool:
    return _names_owning(body, "destinationList")


def _names_owning(body: Mapping[str, Any], field: str) -> bool:
    entries = body.get(field)
    return isinstance(entries, list) and any(
        isinstance(entry, dict) and epcis.is_owning_party(entry.get("type")) for entry in entries
    )


# The typed operations of the other parts of issue 14, wired in as they land.
@dataclass(frozen=True)
class _Own:
    """An event of the sender's own organisation, as each mapping sees it."""

    index: int
    body: Mapping[str, Any]
    org_of_party: Callable[[str], str]
    sender: str
    event_id: str
    named: Named


def _sensor(own: _Own) -> tuple[Op, ...]:
    """Readings on serialized goods; readings of a place or an asset alone are observations."""
    if not own.body.get("sensorElementList"):
        return ()
    if not (own.named.packages or own.named.containers):
        return ()
    report = cold.sensor_report_from_epcis(own.index, own.body, own.org_of_party)
    if report is None:
        return ()
    typed_report = report.model_copy(update={"event_id": own.event_id})
    return (Op("sensor", "supply.sensor", cold.report_sensor, typed_report),)


def _custody(own: _Own) -> tuple[Op, ...]:
    if custody_action(own.body) is None:
        return ()
    event = epcis.from_epcis_event(own.index, own.body, own.org_of_party, importer=own.sender)
    biz = ti.biz_transactions_from_epcis(own.index, own.body) if event.action == "ship" else None
    return _custody_ops(own.index, event, biz)


def _is_sale(own: _Own) -> bool:
    """A TransactionEvent that can be DSCSA transaction information: ADD, between two owning
    parties, under CBV business transactions only (a rail passage, a DELETE, a party-less
    event record no sale between partners: they are observations)."""
    body = own.body
    if body.get("type") != "TransactionEvent" or body.get("action") != "ADD":
        return False
    if not (_names_owning(body, "sourceList") and _names_owning(body, "destinationList")):
        return False
    entries = body.get("bizTransactionList")
    typed_entries = ti.biz_transactions_from_epcis(own.index, body) or []
    return isinstance(entries, list) and 0 < len(entries) == len(typed_entries)


def _transaction(own: _Own) -> tuple[Op, ...]:
    """The seller's DSCSA transaction information and statement."""
    if not _is_sale(own):
        return ()
    info = ti.transaction_from_epcis(own.index, own.body, own.org_of_party)
    typed_info = info.model_copy(update={"event_id": own.event_id})
    return (Op("transaction", "supply.transaction", ti.record_transaction, typed_info),)


def _transform(own: _Own) -> tuple[Op, ...]:
    """A TransformationEvent naming serialized EPCs (quantities alone are observations)."""
    if own.body.get("type") != x.TRANSFORMATION_EVENT:
        return ()
    payload = x.transform_from_epcis(own.index, own.body, own.org_of_party)
    if payload is None:
        return ()
    typed_payload = payload.model_copy(update={"event_id": own.event_id})
    return (Op("transform", "supply.transform", x.transform, typed_payload),)


# In this order: a sensor report before the custody step it travels with (the reporter
# still holds, or awaits, the goods), the step, then what builds on it.
_OWN_MAPPINGS: tuple[Callable[[_Own], tuple[Op, ...]], ...] = (
    _sensor,
    _transaction,
    _custody,
    _transform,
)


def _own_ops(own: _Own) -> tuple[Op, ...]:
    return tuple(op for mapping in _OWN_MAPPINGS for op in mapping(own))


def _declaration(index: int, body: Mapping[str, Any], event_id: str, sender: str) -> ErrorMark:
    raw = body["errorDeclaration"]
    where = "errorDeclaration"
    if not isinstance(raw, dict):
        _fail(index, where, "expected a JSON object", ErrorCode.MALFORMED)
    declared = raw.get("declarationTime")
    if not isinstance(declared, str):
        _fail(index, f"{where}.declarationTime", "missing or not a string", ErrorCode.MALFORMED)
    declared_ms = epcis.parse_time(f"event {index}: {where}.declarationTime:", declared)
    reason = raw.get("reason")
    if reason is not None and not isinstance(reason, str):
        _fail(index, f"{where}.reason", "expected a JSON string", ErrorCode.MALFORMED)
    corrective = raw.get("correctiveEventIDs") or []
    if not isinstance(corrective, list) or not all(isinstance(c, str) for c in corrective):
        _fail(index, f"{where}.correctiveEventIDs", "expected URI strings", ErrorCode.MALFORMED)
    if len(corrective) > MAX_NAMED:
        _fail(index, f"{where}.correctiveEventIDs", f"more than {MAX_NAMED}", ErrorCode.TOO_LARGE)
    return ErrorMark(
        event_id=event_id,
        by=sender,
        declared_ms=declared_ms,
        reason=None if reason is None else epcis.error_reason_term(reason)[:200],
        corrective_ids=tuple(corrective),
        tx="",
        position=index,
        height=0,
        seconded_by=(),
    )


def _check_type(index: int, body: Mapping[str, Any]) -> None:
    event_type = _text(index, body, "type", required=True)
    if event_type not in epcis.EVENT_TYPES:
        _fail(index, "type", f"{event_type!r} is not an EPCIS 2.0 event type")


def plan_event(
    index: int,
    body: Mapping[str, Any],
    org_of_party: Callable[[str], str],
    sender: str,
    prefixes: Mapping[str, str] | None = None,
) -> EventPlan:
    """What event `index` becomes when organisation `sender` submits it (pure); `prefixes`
    are the namespace prefixes of its document's @context."""
    # Mapped as hashed: `ex:shipping` under {"ex": ".../BizStep-"} is the id of a shipment,
    # so it is a shipment here too (else a variant with another's id maps differently).
    raw, body = body, expanded(body, prefixes or {})
    _check_type(index, body)
    _time_ms(index, body)
    event_id = event_hash(raw, prefixes)
    uri = epcis.acting_party(index, body)
    actor = _actor(uri, org_of_party, sender)
    own = actor == sender
    what = named(index, body)
    if "errorDeclaration" in body:
        mark = _declaration(index, body, event_id, sender)
        return EventPlan(index, event_id, body, actor, own, declaration=mark, named=what)
    ops = _own_ops(_Own(index, body, org_of_party, sender, event_id, what)) if own else ()
    return EventPlan(index, event_id, body, actor, own, ops, observe=not ops, named=what)


def expanded(value: Any, prefixes: Mapping[str, str]) -> Any:
    """`value` as the event hash reads its strings: every `prefix:local` of a declared
    prefix written in full, surrounding white space dropped (keys are left as written:
    extension names stay names)."""
    if isinstance(value, str):
        prefix, colon, local = value.partition(":")
        return (prefixes[prefix] + local if colon and prefix in prefixes else value).strip()
    if isinstance(value, list):
        return [expanded(item, prefixes) for item in value]
    if isinstance(value, dict):
        return {key: expanded(item, prefixes) for key, item in value.items()}
    return value


def _actor(uri: str | None, org_of_party: Callable[[str], str], sender: str) -> str | None:
    """The acting organisation: the party the URI names (an unregistered GLN is refused),
    the sender when the event names none, None when its place is no party identifier
    (a `geo:` read point): such an event is nobody's own, so always an observation."""
    if uri is None:
        return sender
    if not epcis.names_a_party(uri):
        return None
    return org_of_party(uri)


def _time_ms(index: int, body: Mapping[str, Any]) -> int:
    time = _text(index, body, "eventTime", required=True) or ""
    return epcis.parse_time(f"event {index}: eventTime:", time)


# --- resolving parties on the ledger ---------------------------------------------------------


def member_resolver(reader: StateReader) -> Callable[[str], str]:
    """Party URIs to organisations over ledger state (GLN registry); an organisation named
    by id must exist, so no observation names an actor the ledger does not know.

    Each URI is resolved once: a feed names the same few parties in every event, and
    parsing a GLN and reading the registry for each was a tenth of an import's time. The
    resolver lives for one transaction (or one check), in which no GLN changes hands.
    """
    resolve = state_party_resolver(reader)
    known: dict[str, str] = {}

    def org_of_party(uri: str) -> str:
        if uri not in known:
            org = resolve(uri)
            if gov.org(reader, org) is None:
                raise e.UnknownOrg(org)
            known[uri] = org
        return known[uri]

    return org_of_party


# --- applying (the handler) ------------------------------------------------------------------


Senders = Mapping[str, frozenset[str]]


def may_send(actor: Actor, allowed: frozenset[str]) -> bool:
    """The permission rule of app/permissions.py: role, every role of a kind, or capability."""
    if actor.permission in allowed or f"{actor.kind}:*" in allowed:
        return True
    return any(f"{CAPABILITY_PREFIX}{name}" in allowed for name in actor.capabilities)


def import_handler(senders: Senders) -> Callable[[TxContext, EpcisEvents], None]:
    """The `supply.epcis` handler; `senders` are the declared senders of the typed
    transactions an event may become, so an event does nothing its sender could not."""

    def import_events(ctx: TxContext, payload: EpcisEvents) -> None:
        """Apply a partner's events in order; any refusal fails the whole transaction,
        naming the event (principle 6: whatever an event holds, the node goes on)."""
        sender = h.sender_org(ctx)
        org_of_party = member_resolver(ctx.reader)
        for position, text in enumerate(payload.events):
            try:
                body = parse_event_text(text)
                plan = plan_event(position, body, org_of_party, sender, payload.context)
                for op in plan.ops:
                    if not may_send(ctx.actor, senders.get(op.tx_type, frozenset())):
                        raise e.MayNotSend(ctx.actor.permission, op.tx_type)
                kinds = apply_plan(ctx, plan, sender)
            except LedgerError as exc:
                raise _named(position, exc) from exc
            except Exception as exc:  # anything unforeseen fails this tx only
                message = f"event {position}: {type(exc).__name__} while applying it"
                raise LedgerError(message, ErrorCode.APPLY_FAILED) from exc
            ctx.emit("supply.epcis_event", position=position, event_id=plan.event_id, kinds=kinds)

    return import_events


def _named(position: int, exc: LedgerError) -> LedgerError:
    prefix = f"event {position}:"
    if exc.message.startswith(prefix):
        return exc
    return LedgerError(f"{prefix} {exc.message}", exc.code)


def apply_plan(ctx: TxContext, plan: EventPlan, sender: str) -> list[Kind]:
    """Apply one planned event; the kinds it became (as the report names them)."""
    if plan.declaration is not None:
        return [_declare(ctx, plan, plan.declaration, sender)]
    if ctx.read_raw(ctx.namespace, event_key(plan.event_id, sender)) is not None:
        raise e.EventAlreadyApplied(plan.event_id, sender)
    kinds = []
    for op in plan.ops:
        op.handler(ctx, op.payload)
        kinds.append(op.kind)
    if plan.observe:
        kinds.append(_observe(ctx, plan, sender))
    if plan.own:
        _confirm(ctx, plan.event_id)
    kind = "+".join(kinds)
    record = EventRecord(
        event_id=plan.event_id,
        kind=kind,
        tx=ctx.tx_id,
        position=plan.index,
        org=sender,
        height=ctx.block.height,
    )
    ctx.store(event_key(plan.event_id, sender), record)
    _link(ctx, plan, kind)
    return kinds


def _observe(ctx: TxContext, plan: EventPlan, sender: str) -> Kind:
    """Anchor the event, or add the sender to those who attested it; the actor's own
    submission confirms it (`apply_plan` then calls `_confirm`)."""
    existing = ctx.load(observation_key(plan.event_id), Observation)
    if existing is not None:
        attesters = existing.attesters
        if not plan.own and sender not in attesters and len(attesters) < MAX_ATTESTERS:
            attesters = (*attesters, sender)
            ctx.store(
                observation_key(plan.event_id),
                existing.model_copy(update={"attesters": attesters}),
            )
        return "observation confirmed" if plan.own else f"observation {existing.status}"
    by_actor = (
        plan.actor is not None
        and ctx.read_raw(ctx.namespace, event_key(plan.event_id, plan.actor)) is not None
    )
    status: ObservationStatus = "confirmed" if plan.own or by_actor else "attested"
    ctx.store(observation_key(plan.event_id), _observation(ctx, plan, sender, status))
    return f"observation {status}"


def _location(body: Mapping[str, Any], name: str) -> str | None:
    location = body.get(name)
    if isinstance(location, dict) and isinstance(location.get("id"), str):
        return str(location["id"])[:512]
    return None


def _term(body: Mapping[str, Any], name: str, normal: Callable[[str], str]) -> str | None:
    value = body.get(name)
    return normal(value)[:512] if isinstance(value, str) else None


def _observation(
    ctx: TxContext, plan: EventPlan, sender: str, status: ObservationStatus
) -> Observation:
    body = plan.body
    action = body.get("action")
    return Observation(
        event_id=plan.event_id,
        type=str(body["type"]),
        biz_step=_term(body, "bizStep", epcis.biz_step_term),
        disposition=_term(body, "disposition", epcis.disposition_term),
        action=action if isinstance(action, str) else None,
        time_ms=_time_ms(plan.index, body),
        actor=plan.actor,
        attested_by=sender,
        attesters=(sender,),
        status=status,
        read_point=_location(body, "readPoint"),
        biz_location=_location(body, "bizLocation"),
        packages=plan.named.packages,
        containers=plan.named.containers,
        lots=plan.named.lots,
        quantities=plan.named.quantities,
        tx=ctx.tx_id,
        position=plan.index,
        height=ctx.block.height,
        confirmed_tx=ctx.tx_id if status == "confirmed" else None,
        confirmed_height=ctx.block.height if status == "confirmed" else None,
    )


def _confirm(ctx: TxContext, event_id: str) -> None:
    """The acting organisation submitted the event itself: what others attested is confirmed."""
    existing = ctx.load(observation_key(event_id), Observation)
    if existing is None or existing.status == "confirmed":
        return
    confirmed = existing.model_copy(
        update={
            "status": "confirmed",
            "confirmed_tx": ctx.tx_id,
            "confirmed_height": ctx.block.height,
        }
    )
    ctx.store(observation_key(event_id), confirmed)


def _link(ctx: TxContext, plan: EventPlan, kind: Kind) -> None:
    link = EventLink(
        event_id=plan.event_id,
        kind=kind,
        tx=ctx.tx_id,
        position=plan.index,
        org=h.sender_org(ctx),
        height=ctx.block.height,
    )
    named = plan.named
    prefixes = [(p, package_links_prefix(*split_package_id(p))) for p in named.packages]
    prefixes += [(c, container_links_prefix(c)) for c in named.containers]
    prefixes += [(lot, lot_links_prefix(*lot.split(":", 1))) for lot in named.lots]
    for item, prefix in prefixes:
        if not plan.ops:
            _count_observation(ctx, item, prefix, link.org)
        ctx.store(link_key(prefix, ctx.block.height, plan.index, plan.event_id), link)


def _count_observation(ctx: TxContext, item: str, prefix: str, org: str) -> None:
    key = observation_count_key(prefix, org)
    count = ctx.get(key) or 0
    if count >= MAX_OBSERVATION_LINKS:
        raise e.TooManyObservations(org, item, MAX_OBSERVATION_LINKS)
    ctx.put(key, count + 1)


def _declare(ctx: TxContext, plan: EventPlan, mark: ErrorMark, sender: str) -> Kind:
    """Only an organisation that recorded or attested the event declares it erroneous, and
    only its acting organisation marks it so first (an attester seconds that mark)."""
    if ctx.read_raw(ctx.namespace, event_key(mark.event_id, sender)) is None:
        raise e.NotRecorder(mark.event_id, sender)
    existing = ctx.load(erroneous_key(mark.event_id), ErrorMark)
    if existing is None:
        if not plan.declares:
            return DECLARATION_ATTESTED
        stored = mark.model_copy(update={"tx": ctx.tx_id, "height": ctx.block.height})
        ctx.store(erroneous_key(mark.event_id), stored)
        return ERROR_DECLARATION
    # Another recorder declaring it too seconds the first declaration, which stands.
    if sender == existing.by or sender in existing.seconded_by:
        raise e.AlreadyDeclared(mark.event_id)
    if len(existing.seconded_by) < MAX_ATTESTERS:
        seconded = (*existing.seconded_by, sender)
        ctx.store(
            erroneous_key(mark.event_id), existing.model_copy(update={"seconded_by": seconded})
        )
    return ERROR_DECLARATION if plan.declares else DECLARATION_ATTESTED
