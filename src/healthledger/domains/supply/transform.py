"""`supply.transform`: a transformation consumes packages and produces new ones.

Repackaging, kitting and compounding (EPCIS 2.0 TransformationEvent). The inputs leave
the chain as `transformed` (held by the sender, active, not quarantined, suspect or
recalled; a named case or pallet is consumed with its contents); the outputs are
commissioned by the sender under the rules of `supply.commission` (the first
manufacturer of a GTIN owns it). Several steps sharing an EPCIS transformationID form
one transformation of one organisation. Records and reads: transformations.py.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError

from healthledger.domains.kit import LedgerReader, validation_problem
from healthledger.domains.shared.fields import iso_day
from healthledger.domains.supply import errors as e
from healthledger.domains.supply import handlers as h
from healthledger.domains.supply import messages as m
from healthledger.domains.supply import state as st
from healthledger.domains.supply.epcis import (
    HEALTHLEDGER_NAMESPACE,
    ORG_FIELD,
    TX_ID_FIELD,
    epc_uri,
    format_time,
    item_of_epc,
    party_uri,
)
from healthledger.domains.supply.errors import fail_event as _fail
from healthledger.domains.supply.events import is_container, package_id, split_package_id
from healthledger.domains.supply.gs1 import validate_lot
from healthledger.domains.supply.state import Package
from healthledger.domains.supply.transformations import (
    GENERATED_PREFIX,
    MAX_TRANSFORMATION_ID,
    TRANSFORMATION_ID_PATTERN,
    Transformation,
    TransformLink,
    TransformPart,
    consumed_key,
    is_generated,
    load_transformation,
    produced_key,
    transformation_key,
)
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.context import Payload, TxContext

# Output groups (one GTIN, lot and expiry each) of one step; their serials together are
# bounded like one commissioning, so a step stays under the transaction size.
MAX_OUTPUT_GROUPS = 16
# Steps one transformation may gather, and items named across them: each step rewrites
# the record whole, so its size is bounded whatever members send.
MAX_PARTS = 64
MAX_TRANSFORMATION_ITEMS = 10_000

TransformationId = Annotated[
    str,
    StringConstraints(
        min_length=3, max_length=MAX_TRANSFORMATION_ID, pattern=TRANSFORMATION_ID_PATTERN
    ),
]


class Output(Payload):
    """New packages of one GTIN and lot, commissioned by the transformation."""

    gtin: m.Gtin
    lot: m.Lot
    expiry: m.Expiry
    serials: Annotated[list[m.Serial], Field(min_length=1, max_length=m.MAX_COMMISSION)]


class Transform(Payload):
    """Consume `inputs` (packages, or SSCCs with their contents) and produce `outputs`.

    `transformation_id` (an EPCIS transformationID, a URI) lets several steps form one
    transformation; without it the step is a transformation of its own and must name
    both inputs and outputs.
    """

    inputs: Annotated[list[m.Item], Field(max_length=m.MAX_ITEMS)] = Field(default_factory=list)
    outputs: Annotated[list[Output], Field(max_length=MAX_OUTPUT_GROUPS)] = Field(
        default_factory=list
    )
    transformation_id: TransformationId | None = None
    event_id: m.EventId | None = None


# --- the handler -------------------------------------------------------------------------


def transform(ctx: TxContext, payload: Transform) -> None:
    """Consume the inputs, commission the outputs, and link both ways."""
    org = h._org(ctx)
    _require_shape(payload)
    record = _transformation_for(ctx, payload, org)
    _require_room(record, payload)
    link = TransformLink(transformation=record.id, part=len(record.parts))
    consumed = _consume(ctx, payload.inputs, org, link)
    outputs = _produce(ctx, payload.outputs, link)
    part = TransformPart(
        height=ctx.block.height,
        tx_id=ctx.tx_id,
        event_id=payload.event_id,
        inputs=tuple(payload.inputs),
        outputs=tuple(outputs),
        consumed=consumed,
        lot=_shared(group.lot for group in payload.outputs),
        expiry=_shared(group.expiry for group in payload.outputs),
    )
    grown = record.model_copy(update={"parts": (*record.parts, part)})
    ctx.store(transformation_key(record.id), grown)
    ctx.emit(
        "supply.transformed",
        transformation=record.id,
        part=link.part,
        inputs=payload.inputs[:50],
        outputs=outputs[:50],
        consumed=consumed,
        produced=len(outputs),
        event_id=payload.event_id,
    )


def _require_shape(payload: Transform) -> None:
    one_sided = not payload.inputs or not payload.outputs
    if (not payload.inputs and not payload.outputs) or (
        one_sided and payload.transformation_id is None
    ):
        raise e.EmptyTransformation()
    serials = sum(len(group.serials) for group in payload.outputs)
    if serials > m.MAX_COMMISSION:
        raise e.TooManyOutputs(m.MAX_COMMISSION)


def _transformation_for(ctx: TxContext, payload: Transform, org: str) -> Transformation:
    """The transformation this step joins (a named one of the sender's), or a new one."""
    if payload.transformation_id is None:
        # One id per step: the transaction's id, or (a supply.epcis transaction may carry
        # several events) the EPCIS event's hash with the sender: any member may name an
        # event id, and one that knew a partner's event must not take the id it gets.
        if payload.event_id is None:
            source = ctx.tx_id
        else:
            digest = payload.event_id.split(";")[1].split("?")[0]
            source = hashlib.sha256(f"{org}\n{digest}".encode()).hexdigest()
        new_id = GENERATED_PREFIX + source[:16]
        if ctx.read_raw(ctx.namespace, transformation_key(new_id)) is not None:
            raise e.TransformationExists(new_id)
        return Transformation(id=new_id, org=org, parts=())
    existing = ctx.load(transformation_key(payload.transformation_id), Transformation)
    if existing is None:
        return Transformation(id=payload.transformation_id, org=org, parts=())
    if existing.org != org:
        raise e.TransformationOfAnother(existing.id, existing.org)
    return existing


def _shared(values: Iterable[str]) -> str | None:
    distinct = set(values)
    return next(iter(distinct)) if len(distinct) == 1 else None


def _require_room(record: Transformation, payload: Transform) -> None:
    """The record, grown by this step, stays within its bounds (checked before any work)."""
    if len(record.parts) + 1 > MAX_PARTS:
        raise e.TransformationFull(record.id, "steps", MAX_PARTS)
    named = len(record.inputs) + len(record.outputs) + len(payload.inputs)
    named += sum(len(group.serials) for group in payload.outputs)
    if named > MAX_TRANSFORMATION_ITEMS:
        raise e.TransformationFull(record.id, "items", MAX_TRANSFORMATION_ITEMS)


def _consume(ctx: TxContext, inputs: list[str], org: str, link: TransformLink) -> int:
    """The inputs and their contents leave the chain as `transformed`; packages consumed."""
    if not inputs:
        return 0
    moved = h._gather(ctx, inputs)
    for item, record in moved:
        h._require_movable(item, record, org, allow_recalled=False, ctx=ctx)
        if isinstance(record, Package) and record.suspect:
            raise e.Suspect(item)
    h._finish(ctx, moved, st.TRANSFORMED, "transform", link.transformation)
    for item, _record in moved:
        ctx.store(consumed_key(item), link)
    return sum(1 for _item, record in moved if isinstance(record, Package))


def _produce(ctx: TxContext, outputs: list[Output], link: TransformLink) -> list[str]:
    """Commission each output group as `supply.commission` would, and link each package."""
    produced: list[str] = []
    for group in outputs:
        h.commission(
            ctx,
            m.Commission(
                gtin=group.gtin, lot=group.lot, expiry=group.expiry, serials=group.serials
            ),
        )
        for serial in group.serials:
            ctx.store(produced_key(group.gtin, serial), link)
            produced.append(package_id(group.gtin, serial))
    return produced


# --- EPCIS 2.0 TransformationEvent ---------------------------------------------------------

TRANSFORMATION_EVENT = "TransformationEvent"
TRANSFORMATION_ID_FIELD = "transformationID"
# CBV 2.0 master data of the outputs' lot, carried as ILMD (as commissioning does).
LOT_FIELD = "cbvmda:lotNumber"
EXPIRY_FIELD = "cbvmda:itemExpirationDate"
# A ledger-made transformation is exported as a partner's would be: CBV 2.0 has no
# "transforming" step; "commissioning" with disposition "active" is what the outputs
# undergo (the standard's own TransformationEvent examples use commissioning too).
EXPORT_BIZ_STEP = "commissioning"
EXPORT_DISPOSITION = "active"


def _epcs(index: int, event: Mapping[str, Any], field: str) -> list[str]:
    uris = event.get(field)
    if uris is None:
        return []
    if not isinstance(uris, list):
        _fail(index, field, "expected a JSON array", ErrorCode.MALFORMED)
    items: list[str] = []
    for position, uri in enumerate(uris):
        where = f"{field}[{position}]"
        if not isinstance(uri, str):
            _fail(index, where, "expected a URI string", ErrorCode.MALFORMED)
        try:
            item = item_of_epc(uri)
        except LedgerError as exc:
            _fail(index, where, exc.message, exc.code)
        if item in items:
            _fail(index, where, f"{uri!r} is listed twice")
        items.append(item)
    return items


def _ilmd_text(index: int, ilmd: Mapping[str, Any], key: str) -> str:
    value = ilmd.get(key)
    if not isinstance(value, str):
        _fail(index, f"ilmd.{key}", "missing or not a string: the outputs need a lot and expiry")
    return str(value)


def _lot_and_expiry(index: int, event: Mapping[str, Any]) -> tuple[str, str]:
    ilmd = event.get("ilmd")
    if not isinstance(ilmd, dict):
        _fail(
            index,
            "ilmd",
            "missing: the outputs need cbvmda:lotNumber and cbvmda:itemExpirationDate",
        )
    lot, expiry = _ilmd_text(index, ilmd, LOT_FIELD), _ilmd_text(index, ilmd, EXPIRY_FIELD)
    try:
        validate_lot(lot)
    except LedgerError as exc:
        _fail(index, f"ilmd.{LOT_FIELD}", exc.message)
    try:
        iso_day(expiry)
    except ValueError:
        _fail(index, f"ilmd.{EXPIRY_FIELD}", f"{expiry!r} is not a YYYY-MM-DD date")
    return lot, expiry


def _output_groups(index: int, event: Mapping[str, Any], items: list[str]) -> list[Output]:
    if not items:
        return []
    lot, expiry = _lot_and_expiry(index, event)
    by_gtin: dict[str, list[str]] = {}
    for position, item in enumerate(items):
        if is_container(item):
            _fail(index, f"outputEPCList[{position}]", f"{item}: an SSCC is not commissioned")
        gtin, serial = split_package_id(item)
        by_gtin.setdefault(gtin, []).append(serial)
    if len(by_gtin) > MAX_OUTPUT_GROUPS:
        _fail(index, "outputEPCList", f"more than {MAX_OUTPUT_GROUPS} GTINs", ErrorCode.TOO_LARGE)
    return [
        Output(gtin=gtin, lot=lot, expiry=expiry, serials=serials)
        for gtin, serials in by_gtin.items()
    ]


def _transformation_id(index: int, event: Mapping[str, Any]) -> str | None:
    value = event.get(TRANSFORMATION_ID_FIELD)
    if value is None:
        return None
    if not isinstance(value, str):
        _fail(index, TRANSFORMATION_ID_FIELD, "expected a URI string", ErrorCode.MALFORMED)
    return str(value)


def transform_from_epcis(
    index: int, event: Mapping[str, Any], org_of_party: Callable[[str], str]
) -> Transform | None:
    """A TransformationEvent as a `Transform`; None when it names no serialized EPC.

    Class-level quantities (inputQuantityList, outputQuantityList) are not inventory
    this ledger tracks: an event of quantities alone is None (the caller anchors it as
    an observation); beside EPCs they stay in the raw event, and the EPCs are applied.
    Who acts is the caller's to resolve (`org_of_party` is part of the shared shape).
    """
    del org_of_party  # the dispatcher resolves the acting party before calling this
    if event.get("type") != TRANSFORMATION_EVENT:
        _fail(index, "type", f"{event.get('type')!r}: expected {TRANSFORMATION_EVENT}")
    inputs = _epcs(index, event, "inputEPCList")
    outputs = _epcs(index, event, "outputEPCList")
    if not inputs and not outputs:
        return None
    if len(inputs) > m.MAX_ITEMS:
        _fail(index, "inputEPCList", f"more than {m.MAX_ITEMS} EPCs", ErrorCode.TOO_LARGE)
    if len(outputs) > m.MAX_COMMISSION:
        _fail(index, "outputEPCList", f"more than {m.MAX_COMMISSION} EPCs", ErrorCode.TOO_LARGE)
    groups = _output_groups(index, event, outputs)
    transformation_id = _transformation_id(index, event)
    try:
        return Transform(inputs=inputs, outputs=groups, transformation_id=transformation_id)
    except ValidationError as exc:
        where, what = validation_problem(exc)
        if where.startswith("transformation_id"):
            what = "is not valid (a transformationID is a URI of at most 200 characters)"
            where = TRANSFORMATION_ID_FIELD
        _fail(index, where or "TransformationEvent", what)


def export_event_id(tx_id: str, transformation_id: str, part: int) -> str:
    """A stable eventID for a step (several may share a transaction, so not the tx alone)."""
    name = f"{HEALTHLEDGER_NAMESPACE}tx/{tx_id}/xform/{transformation_id}/{part}"
    return uuid.uuid5(uuid.NAMESPACE_URL, name).urn


def transform_to_epcis(
    record: Transformation,
    part: int,
    time_ms: int,
    org_gln: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One step of a transformation as an EPCIS 2.0 TransformationEvent.

    The ILMD carries the outputs' lot and expiry when they share one (as an imported
    event's do); otherwise each output's own commissioning event carries its lot. A step
    recorded from a partner's event (`event_id` set) is better exported from that raw
    event, which hashes to it.
    """
    step = record.parts[part]
    body: dict[str, Any] = {
        "type": TRANSFORMATION_EVENT,
        "eventID": export_event_id(step.tx_id, record.id, part),
        "eventTime": format_time(time_ms),
        "eventTimeZoneOffset": "+00:00",
    }
    if step.inputs:
        body["inputEPCList"] = [epc_uri(item) for item in step.inputs]
    if step.outputs:
        body["outputEPCList"] = [epc_uri(item) for item in step.outputs]
    if not is_generated(record.id):
        body[TRANSFORMATION_ID_FIELD] = record.id
    body["bizStep"] = EXPORT_BIZ_STEP
    body["disposition"] = EXPORT_DISPOSITION
    body[ORG_FIELD] = party_uri(record.org, org_gln)
    if step.outputs and step.lot is not None and step.expiry is not None:
        body["ilmd"] = {LOT_FIELD: step.lot, EXPIRY_FIELD: step.expiry}
    body[TX_ID_FIELD] = step.tx_id
    return body


def package_transformation_events(
    reader: LedgerReader, gtin: str, serial: str, org_gln: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The steps that consumed or produced a package, as EPCIS 2.0 TransformationEvents.

    A step recorded from a partner's event (`event_id` set) is left out: the supply.epcis
    export gives that raw event itself, which hashes to its id; a rebuilt one would not.
    """
    links = [
        reader.state.load(st.NAMESPACE, consumed_key(package_id(gtin, serial)), TransformLink),
        reader.state.load(st.NAMESPACE, produced_key(gtin, serial), TransformLink),
    ]
    events: list[dict[str, Any]] = []
    for link in dict.fromkeys(link for link in links if link is not None):
        record = load_transformation(reader, link.transformation)
        if record is None:
            raise e.UnknownTransformation(link.transformation)  # never: stored with its links
        if record.parts[link.part].event_id is not None:
            continue
        time_ms = reader.block_time_ms(record.parts[link.part].height)
        events.append(transform_to_epcis(record, link.part, time_ms, org_gln))
    return events


def with_events(event_list: list[Any], more: list[dict[str, Any]]) -> list[Any]:
    """Events of both lists in time order (eventTime is fixed-width RFC 3339 UTC here)."""
    return sorted([*event_list, *more], key=lambda event: str(event.get("eventTime", "")))
