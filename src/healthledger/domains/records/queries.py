"""Read-side of records: a patient's file, an audit trail, which basis allows a read.

Reads take one committed snapshot (`LedgerReader`, or its `StateReader` for point
reads), so a consent decision and the records it filters describe the same block.
The decisions use the same `policy` rules as the handlers, so the vault and the
chain cannot disagree about what they would allow.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from healthledger.crypto.canonical import parse_json
from healthledger.domains.kit import LedgerReader
from healthledger.domains.records import policy
from healthledger.domains.records import state as st
from healthledger.domains.records.errors import (
    ConsentNotFound,
    NoConsent,
    RecordNotFound,
    RecordShredded,
)
from healthledger.domains.records.state import Appointment, AuditEntry, Consent, RecordMeta
from healthledger.errors import LedgerError, NotFound
from healthledger.ledger.context import Actor, StateReader

M = TypeVar("M", bound=BaseModel)

# A patient's index is read whole: records, consents and appointments of one person.
MAX_PATIENT_KEYS = 1_000_000


class LocatorEntry(BaseModel):
    """What the record locator shows of a record: where it lives and what it is, no keys."""

    model_config = ConfigDict(frozen=True)

    id: str
    custodian: str
    author: str | None
    resource_type: str
    code: str
    date: str
    content_hash: str
    size: int
    status: str
    added_height: int
    replaces: str | None
    superseded_by: str | None

    @classmethod
    def of(cls, record: RecordMeta) -> LocatorEntry:
        return cls.model_validate(record.model_dump(include=set(cls.model_fields)))


class PatientFile(BaseModel):
    """A patient's records, consents and appointments, from one state snapshot."""

    model_config = ConfigDict(frozen=True)

    patient: str
    records: tuple[RecordMeta, ...]
    consents: tuple[Consent, ...]
    appointments: tuple[Appointment, ...]


def patient_file(ledger: LedgerReader, patient: str) -> PatientFile:
    """A patient's records, consents and appointments, through their index."""
    records: list[RecordMeta] = []
    consents: list[Consent] = []
    appointments: list[Appointment] = []
    for key, value in ledger.scan(st.NAMESPACE, st.patient_prefix(patient), MAX_PATIENT_KEYS):
        kind, target = key.split("/", 3)[2], str(parse_json(value))
        if kind == "record":
            records.append(_load(ledger.state, st.record_key(target), RecordMeta))
        elif kind == "consent":
            consents.append(_load(ledger.state, st.consent_key(target), Consent))
        elif kind == "appointment":
            appointments.append(_load(ledger.state, st.appointment_key(target), Appointment))
    return PatientFile(
        patient=patient,
        records=tuple(records),
        consents=tuple(consents),
        appointments=tuple(appointments),
    )


def record(state: StateReader, record_id: str) -> RecordMeta:
    """A record's chain entry (or tombstone); RecordNotFound if none."""
    found = state.load(st.NAMESPACE, st.record_key(record_id), RecordMeta)
    if found is None:
        raise RecordNotFound(record_id)
    return found


def consent(state: StateReader, consent_id: str) -> Consent:
    found = state.load(st.NAMESPACE, st.consent_key(consent_id), Consent)
    if found is None:
        raise ConsentNotFound(consent_id)
    return found


def audit_trail(ledger: LedgerReader, patient: str, limit: int = 10_000) -> list[AuditEntry]:
    """Every access to a patient's records, newest first."""
    rows = ledger.scan_newest(st.NAMESPACE, st.audit_prefix(patient), limit)
    return [AuditEntry.model_validate_json(value) for _key, value in rows]


def alert_feed(ledger: LedgerReader, org: str, limit: int = 1_000) -> list[AuditEntry]:
    """Break-glass accesses recorded by an organisation's vault, newest first.

    Each alert points to the patient's audit entry written by the same transaction,
    so the organisation and the patient see the same event.
    """
    rows = ledger.scan_newest(st.NAMESPACE, st.alert_prefix(org), limit)
    return [_load(ledger.state, str(parse_json(value)), AuditEntry) for _key, value in rows]


def appointment_for(
    file: PatientFile, reader: Actor, power: str, now_ms: int
) -> Appointment | None:
    """The first active appointment that lets this reader act with this power."""
    for appointment in file.appointments:
        if policy.appointment_allows(appointment, reader, file.patient, power, now_ms):
            return appointment
    return None


def read_basis(
    file: PatientFile,
    record: RecordMeta,
    reader: Actor,
    purpose: str,
    now_ms: int,
    break_glass_reason: str | None = None,
    reader_org_role: str | None = None,
    reader_country: str | None = None,
) -> policy.Decision:
    """The basis the vault will claim for a read, or the most telling refusal.

    `reader_org_role` is the role of the reader's organisation: break-glass is
    for clinicians of care-giving organisations only. `reader_country` is its
    country: a consent limited to countries covers organisations located there only.
    """
    if record.status == st.SHREDDED:
        raise RecordShredded(record.id)
    owner = policy.owner_basis(record, reader)
    if owner is not None:
        return policy.Decision(owner)
    appointment = appointment_for(file, reader, "read", now_ms)
    if appointment is not None:
        return policy.Decision("representative", appointment_id=appointment.id)
    if break_glass_reason is not None:
        decision = policy.check_break_glass(reader, reader_org_role, purpose, True)
        policy.check_reason_text(break_glass_reason)
        return decision
    problems: list[LedgerError] = []
    for consent in file.consents:
        try:
            return policy.check_consent_read(
                consent, record, reader, purpose, now_ms, reader_country
            )
        except LedgerError as refusal:
            if policy.grantee_matches(consent.grantee, reader) and policy.consent_scope_covers(
                consent, record
            ):
                problems.append(refusal)
    raise policy.best_refusal(problems)


def locatable_records(
    file: PatientFile,
    reader: Actor,
    purpose: str | None,
    now_ms: int,
    reader_country: str | None = None,
) -> list[LocatorEntry]:
    """The locator entries this reader may see; nothing else, not even a count.

    `reader_country` is the country of the reader's organisation (country-limited
    consents). A reader with no standing at all (no record they hold, no consent, no
    appointment) is refused outright, so the answer never depends on whether
    the patient has records elsewhere.
    """
    if reader.kind == "patient" and reader.id == file.patient:
        return [LocatorEntry.of(r) for r in file.records]
    if appointment_for(file, reader, "locate", now_ms) or appointment_for(
        file, reader, "read", now_ms
    ):
        return [LocatorEntry.of(r) for r in file.records]
    usable = [
        c
        for c in file.consents
        if policy.consent_matches(c, reader, reader_country)
        and policy.consent_problem(c, purpose, now_ms) is None
    ]
    shown = [
        LocatorEntry.of(record)
        for record in file.records
        if policy.owner_basis(record, reader) is not None
        or any(policy.consent_scope_covers(c, record) for c in usable)
    ]
    if not shown and not usable:
        raise NoConsent(f"no consent of {file.patient} lets this caller locate records")
    return shown


def _load(state: StateReader, key: str, model: type[M]) -> M:
    """A value an index points to: its absence is a broken index, reported as not found."""
    found = state.load(st.NAMESPACE, key, model)
    if found is None:
        raise NotFound(f"no {st.NAMESPACE}/{key}")
    return found
