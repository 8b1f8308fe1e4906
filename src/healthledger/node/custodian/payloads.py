"""The vault's transactions, built from the records domain's message models.

Building the model here checks a payload before it is signed, with the words the
application would use to refuse it (`app/registry.parse_payload`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError

from healthledger.app.registry import first_problem
from healthledger.crypto.envelope import Sealed
from healthledger.crypto.signed_request import HEADER_INTENT, SignedRequest
from healthledger.domains.records import fhir
from healthledger.domains.records.imports import ImportEntry, RecordImport
from healthledger.domains.records.messages import ReaderIntent, RecordAccess, RecordAdd, WrappedKeys
from healthledger.domains.records.policy import BreakGlassReason, Decision
from healthledger.errors import BadSignature, InvalidField
from healthledger.ledger.context import Actor
from healthledger.node.custodian.signer import OrgTx


def record_add(
    custodian: str,
    record_id: str,
    patient: str,
    summary: fhir.ResourceSummary,
    media_type: str,
    sealed: Sealed,
    wrapped: WrappedKeys,
    author: Actor,
    replaces: str | None,
) -> OrgTx:
    """The custodian registers a record it encrypted: metadata and wrapped keys only."""
    with _checked("record.add"):
        payload = RecordAdd(
            record_id=record_id,
            patient=patient,
            resource_type=summary.resource_type,
            code=summary.code,
            date=summary.date,
            media_type=media_type,
            content_hash=sealed.content_hash,
            blob_id=sealed.blob_id,
            size=sealed.size,
            wrapped_keys=wrapped,
            author=author.id if author.kind == "member" else None,
            replaces=replaces,
        )
    return OrgTx(custodian, "record.add", payload)


def import_entry(
    record_id: str, summary: fhir.ResourceSummary, sealed: Sealed, wrapped: WrappedKeys
) -> ImportEntry:
    """One new record of a Bundle's `record.import`."""
    with _checked("record.import"):
        return ImportEntry(
            record_id=record_id,
            resource_type=summary.resource_type,
            code=summary.code,
            date=summary.date,
            content_hash=sealed.content_hash,
            blob_id=sealed.blob_id,
            size=sealed.size,
            wrapped_keys=wrapped,
        )


def record_import(custodian: str, patient: str, author: Actor, entries: list[ImportEntry]) -> OrgTx:
    """The custodian registers a Bundle's new records for one patient, all or none."""
    with _checked("record.import"):
        payload = RecordImport(
            patient=patient,
            author=author.id if author.kind == "member" else None,
            entries=entries,
        )
    return OrgTx(custodian, "record.import", payload)


def wrapped_keys(patient: str, custodian: str) -> WrappedKeys:
    with _checked("record.add"):
        return WrappedKeys(patient=patient, custodian=custodian)


def read_access(
    custodian: str,
    request: SignedRequest,
    reader: Actor,
    record_id: str,
    patient: str,
    purpose: str,
    decision: Decision,
    reason_hash: str | None,
    intent: ReaderIntent,
) -> OrgTx:
    """The access event a read is released after, recorded by the record's custodian."""
    # Validated, not constructed: the purpose is the reader's own text, checked here in the
    # application's words (and `Decision.basis` is the policy's plain string).
    with _checked("record.access"):
        payload = RecordAccess.model_validate(
            {
                "action": "read",
                "patient": patient,
                "record_id": record_id,
                "reader": reader.key_id,
                "purpose": purpose,
                "basis": decision.basis,
                "consent_id": decision.consent_id,
                "appointment_id": decision.appointment_id,
                "reason_hash": reason_hash,
                "request_id": request.request_id,
                "intent": intent,
            }
        )
    return OrgTx(custodian, "record.access", payload)


def locate_access(
    org: str, request: SignedRequest, reader: Actor, patient: str, note: str, intent: ReaderIntent
) -> OrgTx:
    """A break-glass search, recorded by the reader's own organisation before it is answered."""
    with _checked("record.access"):
        payload = RecordAccess(
            action="locate",
            patient=patient,
            reader=reader.key_id,
            purpose="emergency",
            basis="break_glass",
            reason_hash=note,
            request_id=request.request_id,
            intent=intent,
        )
    return OrgTx(org, "record.access", payload)


def reader_intent(request: SignedRequest, reason: BreakGlassReason | None) -> ReaderIntent:
    """The reader's signature over the access this node records in their name."""
    if request.intent is None:
        raise BadSignature(
            f"a read carries the reader's signature of the access it asks for ({HEADER_INTENT})"
        )
    with _checked("record.access"):
        return ReaderIntent(
            time_ms=request.time_ms,
            nonce=request.nonce,
            reason_hash=None if reason is None else reason.hash,
            signature=request.intent,
        )


@contextmanager
def _checked(tx_type: str) -> Iterator[None]:
    """Turn a payload the domain's model refuses into the error the application would give."""
    try:
        yield
    except ValidationError as exc:
        raise InvalidField(f"{tx_type}: {first_problem(exc)}") from exc


__all__ = [
    "import_entry",
    "locate_access",
    "read_access",
    "reader_intent",
    "record_add",
    "record_import",
    "wrapped_keys",
]
