"""What a custodian's vault answers (/v1/records, /v1/consents, /v1/audit), as frozen models.

One definition for the three places that need it: the node's records service
builds them, the API serialises them, the SDK parses the wire back into them.
They live with the domain because that is the one layer the API (above the node)
and the SDK (beside the node) may both import.

Ledger entries inside an answer are the records state's own models (`Consent`,
`AuditEntry`, the locator's `LocatorEntry`), which dump exactly the stored JSON.
Three stay `JsonObject`, because the vault changes the stored shape: a record's
entry shown to a reader (`RecordRead.record`, `RecordHistory.versions`) leaves out
its wrapped data keys, and an audit event of `AuditTrail` or `Alerts` may carry
the sealed break-glass reason (`reason_note`) beside the stored fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from healthledger.domains.records.queries import LocatorEntry
from healthledger.domains.records.state import Appointment, AuditEntry, Consent

JsonObject = dict[str, JsonValue]


class Reply(BaseModel):
    """Base of the vault's answers: frozen, unknown fields kept (a newer node may add some)."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    def wire(self) -> JsonObject:
        """The JSON object sent on the wire, field for field."""
        return self.model_dump(mode="json", by_alias=True)


class AddedRecord(Reply):
    """A record the vault encrypted and the chain registered."""

    record_id: str
    tx_id: str
    height: int
    resource_type: str
    code: str
    date: str
    content_hash: str
    blob_id: str
    size: int


class ImportedEntry(Reply):
    """What became of one entry of an imported Bundle: a new record, or one already held."""

    index: int
    full_url: str | None
    resource_type: str
    status: Literal["added", "duplicate"]
    record_id: str


class BundleImported(Reply):
    """A Bundle imported in one `record.import` (none when every entry was a duplicate)."""

    patient: str
    tx_id: str | None
    height: int | None
    added: int
    duplicates: int
    entries: list[ImportedEntry]


class ErrorBody(Reply):
    code: str
    message: str


class BatchFailure(Reply):
    """One refused record of a batch: its error in place of the record."""

    error: ErrorBody


class BatchAdded(Reply):
    """A batch's outcomes, in the order the records were sent."""

    results: list[AddedRecord | BatchFailure]


class AccessSummary(Reply):
    """The access event recorded for a read or a break-glass search (the audit receipt's gist)."""

    tx_id: str
    height: int
    basis: str  # self, custodian, author, consent, representative, break_glass
    consent: str | None
    appointment: str | None
    break_glass: bool


class RecordRead(Reply):
    """A released read: the record's entry, a data key sealed to the reader, the proof of audit."""

    record: JsonObject
    access: AccessSummary
    wrapped_key: str
    receipt: JsonObject  # the access event's transaction view with its inclusion proof
    content_url: str
    # Small records come with the answer; large ones stream from content_url.
    ciphertext: str | None


class Located(Reply):
    """Where a patient has records, as far as the caller's standing allows."""

    patient: str
    height: int
    records: list[LocatorEntry]


class BreakGlassLocated(Located):
    """An emergency search: every record, and the access event that recorded the search."""

    access: AccessSummary


class SealedNote(Reply):
    """A break-glass reason from the vault, sealed to the one reading the audit trail."""

    ciphertext: str
    wrapped_key: str


class AuditTrail(Reply):
    """The accounting of disclosures: every access, break-glass ones also listed apart."""

    patient: str
    break_glass: list[JsonObject]
    events: list[JsonObject]


class Alerts(Reply):
    """An organisation's break-glass feed."""

    org: str
    break_glass: list[JsonObject]


class FeedEvent(Reply):
    """Something that just happened to a patient's books, pushed to their open page.

    `event` is the ledger event as the block's result holds it; an access also
    carries its audit entry (who read, why, on what basis, break-glass or not).
    """

    type: str
    height: int
    tx_id: str
    time_ms: int
    event: JsonObject
    access: AuditEntry | None = None


class ConsentList(Reply):
    """A patient's consents, and the representatives they appointed (who may act for them)."""

    patient: str
    consents: list[Consent]
    appointments: list[Appointment] = []


class RecordHistory(Reply):
    """A record's versions (oldest first) and every access to any of them."""

    record: str
    versions: list[JsonObject]  # without wrapped_keys: not a RecordMeta
    accesses: list[AuditEntry]


class BundleEntry(Reply):
    resource: JsonObject


class Bundle(Reply):
    """A FHIR searchset Bundle around exported resources (Consent, AuditEvent)."""

    resource_type: Literal["Bundle"] = Field("Bundle", alias="resourceType")
    type: Literal["searchset"] = "searchset"
    total: int
    entry: list[BundleEntry]

    @classmethod
    def of(cls, resources: list[JsonObject]) -> Bundle:
        return cls(total=len(resources), entry=[BundleEntry(resource=r) for r in resources])


__all__ = [
    "AccessSummary",
    "AddedRecord",
    "Alerts",
    "AuditTrail",
    "BatchAdded",
    "BatchFailure",
    "BreakGlassLocated",
    "Bundle",
    "BundleEntry",
    "BundleImported",
    "ConsentList",
    "ErrorBody",
    "ImportedEntry",
    "JsonObject",
    "Located",
    "RecordHistory",
    "RecordRead",
    "Reply",
    "SealedNote",
]
