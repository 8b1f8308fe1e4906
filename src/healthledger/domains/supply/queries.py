"""Read side of the supply chain: verification, custody histories, lots, alerts.

Every read answers from one committed snapshot (a `LedgerReader`) and returns a
model of `views.py`. `verdict` is pure: the node computes it for
`GET /v1/supply/verify`, and a client that checked the state proofs of the same
records recomputes it itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from healthledger.crypto.canonical import parse_json
from healthledger.domains.kit import Access, LedgerReader, View
from healthledger.domains.supply import errors as e
from healthledger.domains.supply import observations as obs
from healthledger.domains.supply import state as st
from healthledger.domains.supply.events import ACTIONS, Action, CustodyEvent, package_id
from healthledger.domains.supply.observations import EventLink
from healthledger.domains.supply.state import Package, RecallsInForce
from healthledger.domains.supply.transformations import (
    TransformationAnswer,
    TransformationParams,
    package_links,
    transformation,
)
from healthledger.domains.supply.views import (
    Alerts,
    AlertsParams,
    CustodyStep,
    CustodySummary,
    ImportedEvent,
    LotParams,
    LotStatus,
    PackageHistory,
    PackageParams,
    RecallPage,
    RecallsParams,
    Verdict,
    VerifyAnswer,
    VerifyProofs,
)

VERIFIED: Verdict = "verified"
UNKNOWN_SERIAL: Verdict = "unknown_serial"
LOT_MISMATCH: Verdict = "lot_mismatch"
EXPIRY_MISMATCH: Verdict = "expiry_mismatch"
RECALLED: Verdict = "recalled"
ALREADY_DISPENSED: Verdict = "already_dispensed"
DESTROYED: Verdict = "destroyed"
SUSPECT: Verdict = "suspect"
TRANSFORMED: Verdict = "transformed"
VERDICTS: tuple[Verdict, ...] = (
    VERIFIED,
    UNKNOWN_SERIAL,
    LOT_MISMATCH,
    EXPIRY_MISMATCH,
    RECALLED,
    ALREADY_DISPENSED,
    DESTROYED,
    SUSPECT,
    TRANSFORMED,
)

# Package records of a GTIN one lot page may scan: bounds a request's work whatever the lot's size.
LOT_SCAN_ROWS = 20_000
# Custody actions by name; quarantine and clear are regulatory flags, not custody steps.
_CUSTODY_ACTIONS: dict[str, Action] = {action: action for action in ACTIONS}


# --- the verdict -------------------------------------------------------------------------


def package_verdict(
    package: Package | None, recalls: RecallsInForce | None, lot: str, expiry: str
) -> Verdict:
    """What a scan of (lot, expiry) on this package means, most serious finding first."""
    if package is None:
        return UNKNOWN_SERIAL
    if package.lot != lot:
        return LOT_MISMATCH
    if package.expiry != expiry:
        return EXPIRY_MISMATCH
    if package.status == st.DESTROYED:
        return DESTROYED
    if package.status == st.DISPENSED:
        return ALREADY_DISPENSED
    if package.status == st.TRANSFORMED:
        return TRANSFORMED
    # An exported package seen again at home is diversion: treated as suspect.
    if package.suspect or package.quarantined or package.status == st.EXPORTED:
        return SUSPECT
    in_force = () if recalls is None else recalls.root
    if any(r.applies(package.lot, package.serial) for r in in_force):
        return RECALLED
    return VERIFIED


def verdict(
    package: Mapping[str, Any] | None,
    recalls: Iterable[Mapping[str, Any]] | None,
    lot: str,
    expiry: str,
) -> Verdict:
    """`package_verdict` of the records as JSON (what a client holds after checking proofs)."""
    return package_verdict(
        None if package is None else Package.model_validate(package),
        None if recalls is None else RecallsInForce.model_validate(list(recalls)),
        lot,
        expiry,
    )


def custody_summary(package: Package) -> CustodySummary:
    """What a verifier is told about a package: owner and status, never prices or customers."""
    return CustodySummary(
        owner=package.owner,
        status=package.status,
        in_transit_to=package.to,
        container=package.container,
        manufacturer=package.manufacturer,
        suspect=package.suspect,
        quarantined=package.quarantined,
    )


def verify_package(
    reader: LedgerReader, gtin: str, serial: str, lot: str, expiry: str
) -> VerifyAnswer:
    """DSCSA verification: the verdict, owner and status, and state proofs of the records used.

    The package record, the GTIN's recalls and the scanned lot's expiry mark are proven
    against the same header, so a pharmacy can recompute the answer without trusting
    the node it asked.
    """
    package_proof = reader.proven(st.NAMESPACE, st.package_key(gtin, serial))
    recalls_proof = reader.proven(st.NAMESPACE, st.recalls_key(gtin))
    expired_proof = reader.proven(st.NAMESPACE, st.expired_key(gtin, lot))
    raw_package, raw_recalls = package_proof.raw_value, recalls_proof.raw_value
    package = None if raw_package is None else Package.model_validate_json(raw_package)
    recalls = None if raw_recalls is None else RecallsInForce.model_validate_json(raw_recalls)
    return VerifyAnswer(
        gtin=gtin,
        serial=serial,
        lot=lot,
        expiry=expiry,
        verdict=package_verdict(package, recalls, lot, expiry),
        package=None if package is None else custody_summary(package),
        expired=expired_proof.raw_value is not None,
        proofs=VerifyProofs(package=package_proof, recalls=recalls_proof, expired=expired_proof),
    )


# --- custody histories ----------------------------------------------------------------------


def _package(reader: LedgerReader, gtin: str, serial: str) -> Package:
    record = reader.state.load(st.NAMESPACE, st.package_key(gtin, serial), Package)
    if record is None:
        raise e.UnknownPackage(gtin, serial)
    return record


def package_history(reader: LedgerReader, params: PackageParams) -> PackageHistory:
    """A package's full chain of custody, oldest step first, the transformations that
    consumed or produced it, and the EPCIS events naming it."""
    record = _package(reader, params.gtin, params.serial)
    consumed_by, produced_by = package_links(reader, params.gtin, params.serial)
    links = package_event_links(reader, params.gtin, params.serial)
    return PackageHistory(
        epcis_events=[_imported(reader, link) for link in links],
        gtin=params.gtin,
        serial=params.serial,
        lot=record.lot,
        expiry=record.expiry,
        custody=custody_summary(record),
        history=[
            CustodyStep(height=step.height, action=step.action, org=step.org, detail=step.detail)
            for step in record.history
        ],
        consumed_by=consumed_by,
        produced_by=produced_by,
    )


def _links(reader: LedgerReader, prefix: str) -> list[EventLink]:
    """The events applied through supply.epcis under a link prefix, oldest first, each once."""
    rows = reader.scan(st.NAMESPACE, prefix, obs.MAX_LINKS_READ)
    return _unique([EventLink.model_validate_json(value) for _key, value in rows])


def _unique(links: Iterable[EventLink]) -> list[EventLink]:
    """Each event once, in order; applied by its actor and attested by others, the actor's
    custody form wins (its step is the one an export replaces)."""
    unique: dict[str, EventLink] = {}
    for link in links:
        if link.event_id not in unique or link.custody_actions:
            unique[link.event_id] = link
    return list(unique.values())


def package_event_links(reader: LedgerReader, gtin: str, serial: str) -> list[EventLink]:
    return _links(reader, obs.package_links_prefix(gtin, serial))


def lot_event_links(reader: LedgerReader, gtin: str, lot: str) -> list[EventLink]:
    return _links(reader, obs.lot_links_prefix(gtin, lot))


def _imported(reader: LedgerReader, link: EventLink) -> ImportedEvent:
    observation = reader.state.load(
        st.NAMESPACE, obs.observation_key(link.event_id), obs.Observation
    )
    mark = reader.state.load(st.NAMESPACE, obs.erroneous_key(link.event_id), obs.ErrorMark)
    return ImportedEvent(**link.model_dump(), observation=observation, erroneous=mark)


def imported_steps(links: Iterable[EventLink]) -> set[tuple[int, str, str]]:
    """(height, action, org) of the custody steps that imported events were applied as: an
    export shows those events as the partner wrote them, not as the step's native form."""
    return {(link.height, action, link.org) for link in links for action in link.custody_actions}


@dataclass(frozen=True)
class Traced:
    """Custody steps recorded natively, and the imported EPCIS events to export as written."""

    events: list[CustodyEvent]
    imported: list[EventLink]


def package_events(reader: LedgerReader, gtin: str, serial: str) -> Traced:
    """A package's custody steps as `CustodyEvent`s, with the block times they happened at,
    except those applied from imported events, which are listed as links to their raw form."""
    record = _package(reader, gtin, serial)
    links = package_event_links(reader, gtin, serial)
    times = _block_times(reader, [record])
    return Traced(_package_events(record, times, imported_steps(links)), links)


@dataclass(frozen=True)
class LotPage:
    """One page of a lot's custody events; `cursor` continues after it (None: the lot is done)."""

    events: list[CustodyEvent]
    packages: int
    cursor: str | None
    imported: list[EventLink]


def lot_events(
    reader: LedgerReader, gtin: str, lot: str, limit: int, cursor: str | None = None
) -> LotPage:
    """The custody steps of up to `limit` packages of a lot, after `cursor`, in time order.

    Packages are keyed by GTIN and serial, not by lot, so one page scans at most
    LOT_SCAN_ROWS package records of the GTIN; the cursor is the last serial scanned.
    """
    prefix = st.package_key(gtin, "")
    if reader.state.raw(st.NAMESPACE, st.lot_key(gtin, lot)) is None:
        raise e.UnknownLot(gtin, lot)
    after = None if cursor is None else prefix + cursor
    rows = reader.scan(st.NAMESPACE, prefix, LOT_SCAN_ROWS, after=after)
    records: list[Package] = []
    last_key = None
    for key, value in rows:
        last_key = key
        # Most rows of a busy GTIN are other lots: look at the lot before parsing a model.
        if parse_json(value)["lot"] == lot:
            records.append(Package.model_validate_json(value))
            if len(records) == limit:
                break
    times = _block_times(reader, records)
    more = len(records) == limit or len(rows) == LOT_SCAN_ROWS
    next_cursor = last_key.removeprefix(prefix) if more and last_key is not None else None
    # The lot's own (class-level) events come with its first page; each package's with it.
    found = lot_event_links(reader, gtin, lot) if cursor is None else []
    for record in records:
        if len(found) >= obs.MAX_LINKS_READ:
            break  # bounded work per page: further packages export their native steps
        found.extend(package_event_links(reader, gtin, record.serial))
    links = _unique(found)
    skip = imported_steps(links)
    events = [event for record in records for event in _package_events(record, times, skip)]
    page = sorted(events, key=lambda event: event.time_ms)
    return LotPage(page, len(records), next_cursor, links)


def _block_times(reader: LedgerReader, records: list[Package]) -> dict[int, int]:
    heights = {step.height for record in records for step in record.history if step.height}
    return {height: reader.block_time_ms(height) for height in heights}


def _package_events(
    record: Package, times: dict[int, int], imported: set[tuple[int, str, str]]
) -> list[CustodyEvent]:
    item = package_id(record.gtin, record.serial)
    events = []
    for height, name, org, detail in record.history:
        action = _CUSTODY_ACTIONS.get(name)
        if action is None or (height, name, org) in imported:
            continue
        events.append(
            CustodyEvent(
                action=action,
                time_ms=times.get(height, 0),
                org=org,
                items=(item,),
                counterparty=detail if action in ("ship", "receive", "return") else None,
                lot=record.lot if action == "commission" else None,
                expiry=record.expiry if action == "commission" else None,
                reason=detail if action in ("destroy", "export") else None,
            )
        )
    return events


# --- lots and alerts ---------------------------------------------------------------------------


def lot_status(reader: LedgerReader, params: LotParams) -> LotStatus:
    """A lot, whether the block-time sweep found it expired, and who holds how much of it."""
    lot = reader.state.load(st.NAMESPACE, st.lot_key(params.gtin, params.lot), st.Lot)
    if lot is None:
        raise e.UnknownLot(params.gtin, params.lot)
    expired = reader.state.load(
        st.NAMESPACE, st.expired_key(params.gtin, params.lot), st.ExpiredLot
    )
    holders = reader.state.load(st.NAMESPACE, st.holders_key(params.gtin), st.Holders)
    return LotStatus(
        gtin=lot.gtin,
        lot=lot.lot,
        expiry=lot.expiry,
        manufacturer=lot.manufacturer,
        count=lot.count,
        expired=expired is not None,
        expired_at=None if expired is None else expired.height,
        holders={} if holders is None else holders.root.get(params.lot, {}),
    )


def alerts(reader: LedgerReader, params: AlertsParams) -> Alerts:
    """Counterfeit and diversion alerts, newest first (manufacturers and regulators watch these)."""
    rows = reader.scan_newest(st.NAMESPACE, st.ALERT_PREFIX, params.limit)
    return Alerts([st.Alert.model_validate_json(value) for _key, value in rows])


def recalls(reader: LedgerReader, params: RecallsParams) -> RecallPage:
    """The recalls issued (lots and serial ranges), with who was notified and who acknowledged.

    Recall ids are not in time order, so pages follow the ids; a regulator's screen
    sorts them by height. A page reads at most `limit` records (bounded work).
    """
    after = None if params.after is None else st.recall_key(params.after)
    rows = reader.scan(st.NAMESPACE, st.RECALL_PREFIX, params.limit, after=after)
    found = [st.Recall.model_validate_json(value) for _key, value in rows]
    more = len(rows) == params.limit
    return RecallPage(recalls=found, next_after=found[-1].id if more and found else None)


# Reads mounted by api/views.py. Verification and the EPCIS documents stay in api/supply.py:
# they log the request, read the clock, or answer JSON-LD with a Link header (HTTP matters).
# A serial or lot may hold `/` (GS1 character set 82): `{name:path}` lets that segment
# span slashes (a client sends them percent-encoded).
VIEWS = (
    View(
        name="package_history",
        path="/v1/supply/packages/{gtin}/{serial:path}/history",
        summary="A package's chain of custody",
        params=PackageParams,
        response=PackageHistory,
        run=package_history,
        access=Access.MEMBER,
    ),
    View(
        name="lot",
        path="/v1/supply/lots/{gtin}/{lot:path}/status",
        summary="A lot: size, expiry (marked at block time) and who holds it",
        params=LotParams,
        response=LotStatus,
        run=lot_status,
        access=Access.MEMBER,
    ),
    View(
        name="recalls",
        path="/v1/supply/recalls",
        summary="Recalls issued, with the holders notified and those who acknowledged",
        params=RecallsParams,
        response=RecallPage,
        run=recalls,
        access=Access.MEMBER,
    ),
    View(
        name="transformation",
        path="/v1/supply/transformations/{id:path}",
        summary="A transformation (repackaging, kitting): its inputs and outputs, proven",
        params=TransformationParams,
        response=TransformationAnswer,
        run=transformation,
        access=Access.MEMBER,
    ),
    View(
        name="alerts",
        path="/v1/supply/alerts",
        summary="Counterfeit and diversion alerts",
        params=AlertsParams,
        response=Alerts,
        run=alerts,
        access=Access.MEMBER,
    ),
)
