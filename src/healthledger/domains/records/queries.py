"""Read-side of records: which basis allows a read, and what a locator query may show.

Pure functions over the records a caller's node has loaded from state; the
same `policy` rules as the handlers, so the vault and the chain cannot disagree
about what they would allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from healthledger.domains.records import policy
from healthledger.domains.records import state as st
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.context import Actor

LOCATOR_FIELDS = (
    "id",
    "custodian",
    "author",
    "resource_type",
    "code",
    "date",
    "content_hash",
    "size",
    "status",
    "added_height",
    "replaces",
    "superseded_by",
)


def locator_entry(record: dict[str, Any]) -> dict[str, Any]:
    """What the record locator shows of a record: where it lives and what it is, no keys."""
    return {field: record[field] for field in LOCATOR_FIELDS}


@dataclass(frozen=True)
class PatientFile:
    """A patient's records, consents and appointments, from one state snapshot."""

    patient: str
    records: Sequence[dict[str, Any]]
    consents: Sequence[dict[str, Any]]
    appointments: Sequence[dict[str, Any]]


def representative_for(
    file: PatientFile, reader: Actor, power: str, now_ms: int
) -> dict[str, Any] | None:
    """The first active appointment that lets this reader act with this power."""
    for appointment in file.appointments:
        if policy.appointment_allows(appointment, reader, file.patient, power, now_ms):
            return appointment
    return None


def choose_read_basis(
    file: PatientFile,
    record: dict[str, Any],
    reader: Actor,
    purpose: str,
    now_ms: int,
    break_glass_reason: str | None = None,
    reader_org_role: str | None = None,
) -> policy.Decision:
    """The basis the vault will claim for a read, or the most telling refusal.

    `reader_org_role` is the role of the reader's organisation: break-glass is
    for clinicians of care-giving organisations only.
    """
    if record["status"] == st.SHREDDED:
        raise LedgerError(f"record {record['id']} was shredded", ErrorCode.RECORD_SHREDDED)
    owner = policy.owner_basis(record, reader)
    if owner is not None:
        return policy.Decision(owner)
    appointment = representative_for(file, reader, "read", now_ms)
    if appointment is not None:
        return policy.Decision("representative", appointment_id=appointment["id"])
    if break_glass_reason is not None:
        decision = policy.check_break_glass(reader, reader_org_role, purpose, True)
        policy.check_reason_text(break_glass_reason)
        return decision
    problems: list[LedgerError] = []
    for consent in file.consents:
        try:
            return policy.check_consent_read(consent, record, reader, purpose, now_ms)
        except LedgerError as refusal:
            if policy.grantee_matches(consent["grantee"], reader) and policy.consent_scope_covers(
                consent, record
            ):
                problems.append(refusal)
    raise policy.best_refusal(problems)


def visible_records(
    file: PatientFile, reader: Actor, purpose: str | None, now_ms: int
) -> list[dict[str, Any]]:
    """The locator entries this reader may see; nothing else, not even a count.

    A reader with no standing at all (no record they hold, no consent, no
    appointment) is refused outright, so the answer never depends on whether
    the patient has records elsewhere.
    """
    if reader.kind == "patient" and reader.id == file.patient:
        return [locator_entry(r) for r in file.records]
    if representative_for(file, reader, "locate", now_ms) or representative_for(
        file, reader, "read", now_ms
    ):
        return [locator_entry(r) for r in file.records]
    usable = [
        c
        for c in file.consents
        if policy.grantee_matches(c["grantee"], reader)
        and policy.consent_problem(c, purpose, now_ms) is None
    ]
    shown = [
        locator_entry(record)
        for record in file.records
        if policy.owner_basis(record, reader) is not None
        or any(policy.consent_scope_covers(c, record) for c in usable)
    ]
    if not shown and not usable:
        raise LedgerError(
            f"no consent of {file.patient} lets this caller locate records", ErrorCode.NO_CONSENT
        )
    return shown
