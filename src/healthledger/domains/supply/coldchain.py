"""Cold chain: allowed temperature ranges per GTIN, sensor reports, excursions and their outcome.

A manufacturer sets the range of its GTIN (`supply.product_range`). Whoever holds
packages (or has them in transit to it), or a regulator or inspector, records
sensor readings on them (`supply.sensor`, or an EPCIS 2.0 event with a
`sensorElementList`). Readings outside a package's range open an excursion: one
per GTIN and custodian, naming the worst reading and who held the goods, and
quarantining every affected package, those inside a named case or pallet included,
so moves and dispensing refuse them and verification flags them. The manufacturer
then clears the goods or destroys them (`supply.excursion_resolve`).

New facts live under new keys (`range/`, `sensor/`, `excursion/`, `cold/`): a
package's stored record only gains the quarantine flag and a history step, as a
regulator's quarantine gives it. Why a package is quarantined is kept apart: the
open excursions naming it (its `cold/` log) and a regulator's own quarantine (its
history), so clearing an excursion never lifts a regulator's hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from healthledger.domains.kit import validation_problem
from healthledger.domains.shared import coldchain as cc
from healthledger.domains.shared.coldchain import AllowedRange, Reading
from healthledger.domains.supply import errors as e
from healthledger.domains.supply import state as st
from healthledger.domains.supply.epcis import epc_uri, format_time, item_of_epc, parse_time
from healthledger.domains.supply.errors import fail_event as _fail
from healthledger.domains.supply.handlers import (
    Moved,
    _contents,
    _finish,
    _item_key,
    _load,
    _logged,
    _org,
    _org_role,
    regulator_hold,
)
from healthledger.domains.supply.messages import EventId, Gtin, Items, Reason
from healthledger.domains.supply.roles import INSPECTOR, REGULATOR
from healthledger.domains.supply.state import Package
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.context import Payload, StateModel, TxContext

# Readings one report may carry: a logger's day at a 6-minute interval fits.
MAX_READINGS = 256
# Range changes kept per GTIN (older ones stay in their blocks): bounds the record.
MAX_RANGE_HISTORY = 32
# Report numbers kept in an item's log, newest last (the count goes on): bounds the record.
MAX_LOGGED_REPORTS = 64
# Open excursions one package may be under: a holder's flood of reports stops here.
MAX_OPEN_EXCURSIONS = 16

SENSOR_COUNT_KEY = "sensors"
EXCURSION_COUNT_KEY = "excursions"
SENSOR_PREFIX = "sensor/"
EXCURSION_PREFIX = "excursion/"
EXCURSION_ACTION = "excursion"  # the history step of a package an excursion quarantined
EXCURSION_CLEAR_ACTION = "excursion_clear"

ExcursionStatus = Literal["open", "cleared", "destroyed"]
Decision = Literal["clear", "destroy"]
OPEN: ExcursionStatus = "open"


def range_key(gtin: str) -> str:
    return f"range/{gtin}"


def sensor_key(number: int) -> str:
    return f"{SENSOR_PREFIX}{number:012d}"


def excursion_key(number: int) -> str:
    return f"{EXCURSION_PREFIX}{number:012d}"


def cold_key(item: str) -> str:
    """An item's cold-chain log: `cold/pkg/<gtin>/<serial>` or `cold/sscc/<sscc>`."""
    return f"cold/{_item_key(item)}"


# --- payloads ----------------------------------------------------------------------------


class ProductRange(Payload):
    """The manufacturer of a GTIN sets the temperatures its packages may be kept at."""

    gtin: Gtin
    min_mc: Annotated[int, Field(ge=cc.ABSOLUTE_ZERO_MC, le=cc.MAX_MAGNITUDE)]
    max_mc: Annotated[int, Field(ge=cc.ABSOLUTE_ZERO_MC, le=cc.MAX_MAGNITUDE)]

    @model_validator(mode="after")
    def _ordered(self) -> ProductRange:
        if self.min_mc > self.max_mc:
            raise ValueError(f"minimum {self.min_mc} is above maximum {self.max_mc} (m°C)")
        return self

    @property
    def allowed(self) -> AllowedRange:
        return AllowedRange(min_mc=self.min_mc, max_mc=self.max_mc)


class SensorReport(Payload):
    """Readings taken on packages or containers (EPCIS 2.0 sensorElementList)."""

    items: Items
    readings: Annotated[list[Reading], Field(min_length=1, max_length=MAX_READINGS)]
    device: cc.Device | None = None
    event_id: EventId | None = None


class ExcursionResolve(Payload):
    """The manufacturer's decision on an excursion: clear the goods, or destroy them."""

    number: Annotated[int, Field(ge=1)]
    decision: Decision
    reason: Reason


# --- records ------------------------------------------------------------------------------


class RangeStep(StateModel):
    height: int
    min_mc: int
    max_mc: int


class ProductRangeRecord(StateModel):
    """A GTIN's allowed range now, and its latest changes with the blocks that made them."""

    gtin: str
    manufacturer: str
    range: AllowedRange
    changes: int
    history: tuple[RangeStep, ...]


class SensorRecord(StateModel):
    """One report as recorded: every reading, what it was judged against, what it opened."""

    number: int
    reporter: str
    height: int
    tx: str
    event_id: str | None
    device: str | None
    items: tuple[str, ...]
    readings: tuple[Reading, ...]
    judged: tuple[str, ...]  # GTINs whose range the readings were held against
    unjudged: tuple[str, ...]  # GTINs named without a range: recorded, not judged
    excursions: tuple[int, ...]


class WorstReading(StateModel):
    index: int  # position in the report's readings
    reading: Reading
    side: Literal["below", "above"]
    by_mc: int  # how far outside the range, in milli-degrees Celsius, rounded up


class Resolution(StateModel):
    decision: Decision
    by: str
    reason: str
    height: int


class ExcursionRecord(StateModel):
    """Packages of one GTIN, held by one custodian, found outside their allowed range."""

    number: int
    gtin: str
    manufacturer: str
    range: AllowedRange
    worst: WorstReading
    report: int
    event_id: str | None
    items: tuple[str, ...]  # what the report named (a pallet, a case, packages)
    serials: tuple[str, ...]  # the packages of the GTIN quarantined
    custodian: str  # the owner when the readings were reported
    receiver: str | None  # the receiver, when the goods were in transit
    reporter: str
    height: int
    status: ExcursionStatus
    resolution: Resolution | None


class ColdLog(StateModel):
    """An item's sensor reports (the latest numbers, and how many) and open excursions."""

    reports: tuple[int, ...]
    total: int
    open: tuple[int, ...]


class Count(StateModel):
    count: int


# --- the manufacturer's range ---------------------------------------------------------------


def set_range(ctx: TxContext, payload: ProductRange) -> None:
    """The manufacturer of a commissioned GTIN sets or changes its allowed range."""
    org = _org(ctx)
    manufacturer = _manufacturer(ctx, payload.gtin)
    if manufacturer != org:
        raise e.NotManufacturerOf(payload.gtin, manufacturer, org)
    allowed = payload.allowed
    stored = ctx.load(range_key(payload.gtin), ProductRangeRecord)
    earlier = () if stored is None else stored.history
    step = RangeStep(height=ctx.block.height, min_mc=allowed.min_mc, max_mc=allowed.max_mc)
    record = ProductRangeRecord(
        gtin=payload.gtin,
        manufacturer=org,
        range=allowed,
        changes=(0 if stored is None else stored.changes) + 1,
        history=(*earlier, step)[-MAX_RANGE_HISTORY:],
    )
    ctx.store(range_key(payload.gtin), record)
    ctx.emit("supply.range_set", gtin=payload.gtin, min_mc=allowed.min_mc, max_mc=allowed.max_mc)


def _manufacturer(ctx: TxContext, gtin: str) -> str:
    product = ctx.load(st.product_key(gtin), st.Product)
    if product is None:
        raise e.UnknownProduct(gtin)
    return product.manufacturer


# --- sensor reports -------------------------------------------------------------------------


def report_sensor(ctx: TxContext, payload: SensorReport) -> None:
    """Record readings on items; out-of-range ones open excursions that quarantine packages."""
    reporter = _org(ctx)
    walked, named_in = _walk(ctx, payload.items)
    _require_reporter(ctx, reporter, walked)
    number = _next(ctx, SENSOR_COUNT_KEY)
    ranges = _ranges(ctx, walked)
    worst = _worst_by_gtin(ranges, payload.readings)
    opened = [
        _open_excursion(
            ctx, payload, number, ranges[gtin], worst[gtin], packages, owner, to, named_in
        )
        for (gtin, owner, to), packages in _excursion_groups(walked, worst)
    ]
    gtins = sorted({record.gtin for _, record in walked if isinstance(record, Package)})
    record = SensorRecord(
        number=number,
        reporter=reporter,
        height=ctx.block.height,
        tx=ctx.tx_id,
        event_id=payload.event_id,
        device=payload.device,
        items=tuple(payload.items),
        readings=tuple(payload.readings),
        judged=tuple(g for g in gtins if g in ranges),
        unjudged=tuple(g for g in gtins if g not in ranges),
        excursions=tuple(opened),
    )
    ctx.store(sensor_key(number), record)
    _log_report(ctx, walked, number)
    ctx.emit(
        "supply.sensor_report",
        number=number,
        items=payload.items[:50],
        readings=len(payload.readings),
        excursions=opened,
        unjudged=list(record.unjudged),
        event_id=payload.event_id,
    )


def _walk(ctx: TxContext, items: list[str]) -> tuple[Moved, dict[str, str]]:
    """The named items and everything inside them still in the chain, and the named item
    each is in. A case packed in a pallet may be named on its own; a case may still hold
    packages an excursion destroyed in state written before they were unpacked."""
    if len(set(items)) != len(items):
        raise e.DuplicateItem()
    roots = [(item, _load(ctx, item)) for item in items]
    for item, record in roots:
        if record.status in st.FINAL:
            raise e.WrongStatus(item, record.status)
    walked: Moved = []
    named_in: dict[str, str] = {}
    root = ""
    for item, record, depth in _contents(ctx, roots):
        root = item if depth == 0 else root  # pre-order: a root comes before its contents
        if record.status not in st.FINAL:
            walked.append((item, record))
            named_in[item] = root
    return walked, named_in


def _require_reporter(ctx: TxContext, reporter: str, walked: Moved) -> None:
    """The holder, the receiver of goods in transit to it, or a regulator or inspector."""
    privileged = _org_role(ctx) == REGULATOR or INSPECTOR in ctx.actor.capabilities
    for item, record in walked:
        in_transit_to_reporter = record.status == st.IN_TRANSIT and record.to == reporter
        if not (privileged or record.owner == reporter or in_transit_to_reporter):
            raise e.NotCustodian(item, record.owner, reporter)


def _next(ctx: TxContext, counter_key: str) -> int:
    counter = ctx.load(counter_key, Count)
    number = (0 if counter is None else counter.count) + 1
    ctx.store(counter_key, Count(count=number))
    return number


def _ranges(ctx: TxContext, walked: Moved) -> dict[str, ProductRangeRecord]:
    """The allowed range of each GTIN among the packages, for those that have one."""
    ranges: dict[str, ProductRangeRecord] = {}
    for gtin in sorted({record.gtin for _, record in walked if isinstance(record, Package)}):
        stored = ctx.load(range_key(gtin), ProductRangeRecord)
        if stored is not None:
            ranges[gtin] = stored
    return ranges


Group = tuple[str, str, str | None]  # GTIN, custodian, receiver in transit


def _worst_by_gtin(
    ranges: Mapping[str, ProductRangeRecord], readings: Sequence[Reading]
) -> dict[str, cc.Excursion]:
    """The worst reading outside each GTIN's range, for the GTINs whose range is exceeded."""
    judge = cc.excursion_judge(readings)  # each reading converted once, not once per GTIN
    found = {gtin: judge(stored.range) for gtin, stored in ranges.items()}
    return {gtin: worst for gtin, worst in found.items() if worst is not None}


def _excursion_groups(
    walked: Moved, exceeded: Mapping[str, cc.Excursion]
) -> list[tuple[Group, list[Package]]]:
    """Packages out of their GTIN's range, grouped so each excursion has one manufacturer
    (who alone resolves it) and one custodian (who is named); in the order first met."""
    groups: dict[Group, list[Package]] = {}
    for _, record in walked:
        if isinstance(record, Package) and record.gtin in exceeded:
            groups.setdefault((record.gtin, record.owner, record.to), []).append(record)
    return list(groups.items())


def _open_excursion(
    ctx: TxContext,
    payload: SensorReport,
    report: int,
    stored: ProductRangeRecord,
    worst: cc.Excursion,
    packages: list[Package],
    custodian: str,
    receiver: str | None,
    named_in: Mapping[str, str],
) -> int:
    number = _next(ctx, EXCURSION_COUNT_KEY)
    # Only the named items holding this excursion's packages: the whole list in each of a
    # report's excursions (one per GTIN) grew as items x GTINs, quadratic in one report.
    holding = tuple(dict.fromkeys(named_in[package.name] for package in packages))
    record = ExcursionRecord(
        number=number,
        gtin=stored.gtin,
        manufacturer=stored.manufacturer,
        range=stored.range,
        worst=WorstReading(
            index=worst.index, reading=worst.reading, side=worst.side, by_mc=worst.by_mc
        ),
        report=report,
        event_id=payload.event_id,
        items=holding,
        serials=tuple(package.serial for package in packages),
        custodian=custodian,
        receiver=receiver,
        reporter=_org(ctx),
        height=ctx.block.height,
        status=OPEN,
        resolution=None,
    )
    ctx.store(excursion_key(number), record)
    for package in packages:
        _quarantine(ctx, package, number)
    ctx.emit(
        "supply.excursion",
        number=number,
        gtin=stored.gtin,
        manufacturer=stored.manufacturer,
        custodian=custodian,
        receiver=receiver,
        packages=len(packages),
        side=worst.side,
        by_mc=worst.by_mc,
    )
    return number


def _quarantine(ctx: TxContext, package: Package, number: int) -> None:
    item = package.name
    log = _cold_log(ctx, item)
    if len(log.open) >= MAX_OPEN_EXCURSIONS:
        raise e.TooManyOpenExcursions(item, MAX_OPEN_EXCURSIONS)
    # The package may have been saved already in this transaction (two GTIN groups never
    # share a package, but reload to be sure the step goes on the newest record).
    current = ctx.load(st.package_key(package.gtin, package.serial), Package) or package
    flagged = _logged(current, ctx, EXCURSION_ACTION, f"excursion {number}", quarantined=True)
    ctx.store(st.package_key(package.gtin, package.serial), flagged)
    ctx.store(cold_key(item), log.model_copy(update={"open": (*log.open, number)}))


def _cold_log(ctx: TxContext, item: str) -> ColdLog:
    return ctx.load(cold_key(item), ColdLog) or ColdLog(reports=(), total=0, open=())


def _log_report(ctx: TxContext, walked: Moved, number: int) -> None:
    for item, _record in walked:
        log = _cold_log(ctx, item)
        reports = (*log.reports, number)[-MAX_LOGGED_REPORTS:]
        ctx.store(
            cold_key(item), log.model_copy(update={"reports": reports, "total": log.total + 1})
        )


# --- the manufacturer's decision ----------------------------------------------------------


def resolve_excursion(ctx: TxContext, payload: ExcursionResolve) -> None:
    """The GTIN's manufacturer clears the goods (lifting this excursion's hold) or destroys them.

    Each excursion names packages of one GTIN, so on a mixed pallet every manufacturer
    resolves its own. Packages that left the chain meanwhile (a regulator cleared and they
    were dispensed) are left as they are.
    """
    org = _org(ctx)
    record = ctx.load(excursion_key(payload.number), ExcursionRecord)
    if record is None:
        raise e.UnknownExcursion(payload.number)
    if record.manufacturer != org:
        raise e.NotManufacturerOf(record.gtin, record.manufacturer, org)
    if record.status != OPEN:
        raise e.ExcursionResolved(payload.number, record.status)
    live: Moved = []
    for serial in record.serials:
        package = ctx.load(st.package_key(record.gtin, serial), Package)
        if package is None:
            continue  # never: packages are not deleted
        log = _cold_log(ctx, package.name)
        remaining = tuple(n for n in log.open if n != payload.number)
        ctx.store(cold_key(package.name), log.model_copy(update={"open": remaining}))
        if package.status not in st.FINAL:
            live.append((package.name, _release(ctx, package, payload, remaining)))
    if payload.decision == "destroy" and live:
        unpacked = _unpack(ctx, live)
        _finish(
            ctx, unpacked, st.DESTROYED, "destroy", f"excursion {payload.number}: {payload.reason}"
        )
    resolution = Resolution(
        decision=payload.decision, by=org, reason=payload.reason, height=ctx.block.height
    )
    status: ExcursionStatus = "cleared" if payload.decision == "clear" else "destroyed"
    ctx.store(
        excursion_key(payload.number),
        record.model_copy(update={"status": status, "resolution": resolution}),
    )
    ctx.emit(
        "supply.excursion_resolved",
        number=payload.number,
        decision=payload.decision,
        packages=len(live),
    )


def _unpack(ctx: TxContext, packages: Moved) -> Moved:
    """Destroyed packages leave their case or pallet, so the rest still moves.

    Every move checks each item inside a container; a destroyed one left inside made a
    pallet in transit impossible to receive (stranded, with other makers' goods) and one
    at rest impossible to ship. Each container is rewritten once, whatever its size.
    """
    leaving: dict[str, set[str]] = {}
    for item, package in packages:
        if package.container is not None:
            leaving.setdefault(package.container, set()).add(item)
    for sscc in sorted(leaving):
        holder = ctx.load(st.container_key(sscc), st.Container)
        if holder is None:
            continue  # never: a package names a stored container
        children = tuple(child for child in holder.children if child not in leaving[sscc])
        ctx.store(st.container_key(sscc), holder.model_copy(update={"children": children}))
    return [
        (item, package.model_copy(update={"container": None}) if package.container else package)
        for item, package in packages
    ]


def _release(
    ctx: TxContext, package: Package, payload: ExcursionResolve, remaining: tuple[int, ...]
) -> Package:
    """A cleared package stays quarantined while another excursion or a regulator holds it."""
    if payload.decision == "destroy":
        return package
    held = bool(remaining) or regulator_hold(package)
    detail = f"excursion {payload.number}: {payload.reason}"
    released = _logged(package, ctx, EXCURSION_CLEAR_ACTION, detail, quarantined=held)
    ctx.store(st.package_key(package.gtin, package.serial), released)
    return released


# --- EPCIS 2.0 -----------------------------------------------------------------------------


def sensor_report_from_epcis(
    index: int, event: Mapping[str, Any], org_of_party: Callable[[str], str]
) -> SensorReport | None:
    """The sensor report an EPCIS 2.0 event carries, or None if it has no sensorElementList.

    The reporter is whoever submits it (the dispatcher applies it as the sender's own
    operation only when the event's acting party is the sender), so `org_of_party` is
    not needed here. Readings without a number (a boolean alarm, a string) stay in the
    raw event only.
    """
    del org_of_party
    elements = event.get("sensorElementList")
    if elements is None or elements == []:
        return None
    if not isinstance(elements, list):
        _fail(index, "sensorElementList", "expected a JSON array", ErrorCode.MALFORMED)
    readings: list[Reading] = []
    device: str | None = None
    for position, element in enumerate(elements):
        where = f"sensorElementList[{position}]"
        found, element_device = _element_readings(index, where, element)
        readings += found
        device = device or element_device
        if len(readings) > MAX_READINGS:
            _fail(
                index,
                "sensorElementList",
                f"more than {MAX_READINGS} readings",
                ErrorCode.TOO_LARGE,
            )
    if not readings:
        return None
    try:
        return SensorReport(items=_epcis_items(index, event), readings=readings, device=device)
    except ValidationError as exc:
        _fail(index, "sensorElementList", _first_error(exc))


def _element_readings(index: int, where: str, element: Any) -> tuple[list[Reading], str | None]:
    if not isinstance(element, dict):
        _fail(index, where, "expected a JSON object", ErrorCode.MALFORMED)
    metadata = element.get("sensorMetadata") or {}
    if not isinstance(metadata, dict):
        _fail(index, f"{where}.sensorMetadata", "expected a JSON object", ErrorCode.MALFORMED)
    reports = element.get("sensorReport")
    if not isinstance(reports, list):
        _fail(index, f"{where}.sensorReport", "expected a JSON array", ErrorCode.MALFORMED)
    device = _optional_text(index, f"{where}.sensorMetadata.deviceID", metadata.get("deviceID"))
    time_ms = _optional_time(index, f"{where}.sensorMetadata.time", metadata.get("time"))
    readings = []
    for position, report in enumerate(reports):
        reading = _reading(index, f"{where}.sensorReport[{position}]", report, device, time_ms)
        if reading is not None:
            readings.append(reading)
    return readings, device


_NUMBERS: dict[str, cc.Rounding] = {
    "value": "half_even",
    "minValue": "floor",
    "meanValue": "half_even",
    "maxValue": "ceiling",
}


def _reading(
    index: int, where: str, report: Any, device: str | None, time_ms: int | None
) -> Reading | None:
    if not isinstance(report, dict):
        _fail(index, where, "expected a JSON object", ErrorCode.MALFORMED)
    values = {
        name: _milli(index, f"{where}.{name}", report[name], rounding)
        for name, rounding in _NUMBERS.items()
        if report.get(name) is not None
    }
    if not values:
        return None
    fields: dict[str, Any] = {
        "type": _measurement_type(index, where, report.get("type")),
        "device": _either(
            _optional_text(index, f"{where}.deviceID", report.get("deviceID")), device
        ),
        "time_ms": _either(_optional_time(index, f"{where}.time", report.get("time")), time_ms),
        "value": values.get("value"),
        "min": values.get("minValue"),
        "mean": values.get("meanValue"),
        "max": values.get("maxValue"),
        "uom": _optional_text(index, f"{where}.uom", report.get("uom")),
    }
    try:
        return Reading.model_validate(fields)
    except ValidationError as exc:
        _fail(index, where, _first_error(exc))


def _either(own: Any, inherited: Any) -> Any:
    """A report's own field, else its sensor's metadata (EPCIS 2.0: the report's wins)."""
    return inherited if own is None else own


def _first_error(exc: ValidationError) -> str:
    where, what = validation_problem(exc)
    return f"{where}: {what}" if where else what


def _measurement_type(index: int, where: str, value: Any) -> str:
    """CBV 2.0 MeasurementType, as `gs1:Temperature`, a full URI, or bare."""
    if not isinstance(value, str):
        _fail(index, f"{where}.type", "expected a measurement type such as gs1:Temperature")
    return value.rsplit("/", 1)[-1].removeprefix("gs1:")


def _milli(index: int, where: str, value: Any, rounding: cc.Rounding) -> int:
    # JSON numbers arrive as int or float; a float is read through its shortest repr.
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(index, where, "expected a number", ErrorCode.MALFORMED)
    number = Decimal(str(value)) if isinstance(value, float) else value
    try:
        return cc.milli(number, rounding)
    except ValueError as exc:
        _fail(index, where, str(exc))


def _optional_text(index: int, where: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 200:
        _fail(index, where, "expected a URI of at most 200 characters")
    return value


def _optional_time(index: int, where: str, value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str):
        _fail(index, where, "expected an RFC 3339 time", ErrorCode.MALFORMED)
    return parse_time(f"event {index}: {where}:", value)


def _epcis_items(index: int, event: Mapping[str, Any]) -> list[str]:
    """What the readings were taken on: the epcList, or an aggregation's parent (its
    children come with it), or its children, or a transformation's outputs."""
    parent = event.get("parentID")
    fields = ["epcList", "outputEPCList"] + (["parentID"] if parent else ["childEPCs"])
    items: list[str] = []
    for field in fields:
        uris = event.get(field)
        for position, uri in enumerate([uris] if isinstance(uris, str) else uris or []):
            where = field if isinstance(uris, str) else f"{field}[{position}]"
            if not isinstance(uri, str):
                _fail(index, where, "expected a URI string", ErrorCode.MALFORMED)
            try:
                item = item_of_epc(uri)
            except LedgerError as exc:
                _fail(index, where, exc.message, exc.code)
            if item not in items:
                items.append(item)
    if not items:
        _fail(index, "epcList", "a sensor report names serialized packages or SSCCs")
    return items


def sensor_report_to_epcis(
    report: SensorReport, org_uri: str, time_ms: int, event_id: str | None = None
) -> dict[str, Any]:
    """A sensor report as an EPCIS 2.0 ObjectEvent (bizStep sensor_reporting)."""
    body: dict[str, Any] = {"type": "ObjectEvent"}
    if event_id is not None:
        body["eventID"] = event_id
    body.update(
        {
            "eventTime": format_time(time_ms),
            "eventTimeZoneOffset": "+00:00",
            "epcList": [epc_uri(item) for item in report.items],
            "action": "OBSERVE",
            "bizStep": "sensor_reporting",
            "healthledger:org": org_uri,
            "sensorElementList": _epcis_elements(report),
        }
    )
    return body


def _epcis_elements(report: SensorReport) -> list[dict[str, Any]]:
    """Consecutive readings of one device at one time share a sensorElement and its metadata."""
    elements: list[dict[str, Any]] = []
    last: tuple[str | None, int | None] | None = None
    for reading in report.readings:
        device = _either(reading.device, report.device)
        if (device, reading.time_ms) != last:
            metadata: dict[str, Any] = {}
            if reading.time_ms is not None:
                metadata["time"] = format_time(reading.time_ms)
            if device is not None:
                metadata["deviceID"] = device
            elements.append(
                {"sensorMetadata": metadata, "sensorReport": []}
                if metadata
                else {"sensorReport": []}
            )
            last = (device, reading.time_ms)
        elements[-1]["sensorReport"].append(_epcis_reading(reading))
    return elements


def _epcis_reading(reading: Reading) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": f"gs1:{reading.type}"}
    for name, value in (
        ("value", reading.value),
        ("minValue", reading.min),
        ("maxValue", reading.max),
        ("meanValue", reading.mean),
    ):
        if value is not None:
            entry[name] = _json_number(value)
    if reading.uom is not None:
        entry["uom"] = reading.uom
    return entry


def _json_number(value: int) -> int | float:
    """Milli-units as the JSON number EPCIS carries: 26200 -> 26.2 (the shortest float repr
    of a three-decimal number reads back as the same decimal), 8000 -> 8."""
    if value % cc.MILLI == 0:
        return value // cc.MILLI
    return float(cc.format_milli(value))
