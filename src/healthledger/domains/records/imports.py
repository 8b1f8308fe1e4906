"""`record.import`: a custodian registers a whole Bundle's records for one patient at once.

All or nothing: each entry is held to the rules of `record.add` (a new record id, a
ciphertext never registered before), and the first entry that fails refuses the whole
transaction, which then stores nothing. The entries' metadata is what `record.add` would
carry, less what they share (the patient, the author, the media type of FHIR JSON).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from healthledger.domains.records import handlers as h
from healthledger.domains.records.messages import (
    ActorRef,
    Code,
    Hash,
    IsoDate,
    PatientId,
    RecordId,
    ResourceType,
    WrappedKeys,
)
from healthledger.errors import InvalidField
from healthledger.ledger.context import Payload, TxContext

# The Bundle limit of `bundles.MAX_BUNDLE_ENTRIES`, restated here so the domain's payload
# does not depend on the FHIR edge; a test holds the two equal.
MAX_IMPORT_ENTRIES = 64
FHIR_JSON = "application/fhir+json"


class ImportEntry(Payload):
    """One record of an import: the fields of `record.add` that differ between entries."""

    record_id: RecordId
    resource_type: ResourceType
    code: Code = ""
    date: IsoDate = ""
    content_hash: Hash
    blob_id: Hash
    size: Annotated[int, Field(ge=0, le=2**50)]
    wrapped_keys: WrappedKeys


class RecordImport(Payload):
    """A custodian registers a Bundle's records for one patient in one atomic step."""

    patient: PatientId
    author: ActorRef | None = None
    entries: Annotated[list[ImportEntry], Field(min_length=1, max_length=MAX_IMPORT_ENTRIES)]


def import_records(ctx: TxContext, payload: RecordImport) -> None:
    """Register every entry as `record.add` would, or none (the transaction's overlay)."""
    custodian = ctx.actor.id  # an organisation's own key (its vault): the declared senders
    h.require_patient(ctx, payload.patient)
    if payload.author is not None:
        h.require_author(ctx, payload.author, custodian)
    _require_distinct(payload)
    for entry in payload.entries:
        h.require_new_record(ctx, entry.record_id, entry.blob_id)
        fields = entry.model_dump(exclude={"record_id"})
        fields.update(
            patient=payload.patient, media_type=FHIR_JSON, author=payload.author, replaces=None
        )
        h.register_record(ctx, entry.record_id, fields)
    ctx.emit(
        "record.imported", patient=payload.patient, custodian=custodian, count=len(payload.entries)
    )


def _require_distinct(payload: RecordImport) -> None:
    """No record id and no ciphertext twice within one import."""
    record_ids = [entry.record_id for entry in payload.entries]
    blob_ids = [entry.blob_id for entry in payload.entries]
    if len(set(record_ids)) != len(record_ids):
        raise InvalidField("an import names a record id twice")
    if len(set(blob_ids)) != len(blob_ids):
        raise InvalidField("an import names a ciphertext (blob id) twice")


__all__ = ["FHIR_JSON", "MAX_IMPORT_ENTRIES", "ImportEntry", "RecordImport", "import_records"]
