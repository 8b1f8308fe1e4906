"""What a committed block did to each patient's books: the patient's live feed.

A block's results name what happened (`record.accessed`, `consent.granted`, ...);
this module turns them into `FeedEvent`s keyed by the patient they concern, with
the access's audit entry (reader, purpose, basis, break-glass flag) attached, so a
patient's open page hears of a read the moment its block commits. It reads only
the block in memory and point reads of the state that block left.
"""

from __future__ import annotations

from collections.abc import Callable

from healthledger.domains.records import state as st
from healthledger.domains.records.replies import FeedEvent
from healthledger.domains.records.state import Appointment, AuditEntry, RecordMeta
from healthledger.engines.base import CommittedBlock
from healthledger.ledger.context import StateReader

# The ledger events a patient's feed carries (`record.break_glass` is the organisation's
# alert of an access `record.accessed` already reports, flagged).
FEED_TYPES = frozenset(
    {
        "record.accessed",
        "record.added",
        "record.shredded",
        "consent.granted",
        "consent.revoked",
        "representative.appointed",
        "representative.ended",
    }
)


def feed_events(
    block: CommittedBlock, state: StateReader, wanted: Callable[[str], bool]
) -> dict[str, list[FeedEvent]]:
    """Each wanted patient's events of this block, in block order (break-glass ones first)."""
    found: dict[str, list[FeedEvent]] = {}
    for tx, result in zip(block.txs, block.results, strict=True):
        if not result.ok:
            continue
        for event in result.events:
            kind = str(event.get("type", ""))
            if kind not in FEED_TYPES:
                continue
            patient = _patient_of(kind, event, state)
            if patient is None or not wanted(patient):
                continue
            access = (
                _access(state, patient, block.header.height, tx.id)
                if kind == "record.accessed"
                else None
            )
            found.setdefault(patient, []).append(
                FeedEvent(
                    type=kind,
                    height=block.header.height,
                    tx_id=tx.id,
                    time_ms=block.header.time_ms,
                    event=dict(event),
                    access=access,
                )
            )
    for events in found.values():
        events.sort(key=lambda e: not (e.access is not None and e.access.break_glass))
    return found


def _patient_of(kind: str, event: dict[str, object], state: StateReader) -> str | None:
    """The patient an event concerns: named by most, looked up for a tombstone or an end."""
    named = event.get("patient")
    if isinstance(named, str):
        return named
    if kind == "record.shredded":
        record = state.load(st.NAMESPACE, st.record_key(str(event.get("record"))), RecordMeta)
        return None if record is None else record.patient
    if kind == "representative.ended":
        key = st.appointment_key(str(event.get("appointment")))
        appointment = state.load(st.NAMESPACE, key, Appointment)
        return None if appointment is None else appointment.patient
    return None


def _access(state: StateReader, patient: str, height: int, tx_id: str) -> AuditEntry | None:
    """The audit entry the access at (height, tx) left in the patient's trail."""
    return state.load(st.NAMESPACE, st.audit_key(patient, height, tx_id), AuditEntry)
