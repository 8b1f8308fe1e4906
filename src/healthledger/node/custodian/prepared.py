"""What the vault decided and built before a commit, carried to the step after it."""

from __future__ import annotations

from dataclasses import dataclass

from healthledger.crypto.envelope import Sealed
from healthledger.domains.records import fhir
from healthledger.domains.records.policy import Decision
from healthledger.domains.records.state import RecordMeta
from healthledger.ledger.context import Actor
from healthledger.node.custodian.signer import OrgTx


@dataclass(frozen=True)
class NewRecord:
    """A FHIR resource to add for a patient; `replaces` names the version it corrects."""

    patient: str
    resource: object
    replaces: str | None = None


@dataclass(frozen=True)
class DeclaredBody:
    """What a signed upload says of its body before sending it: length and SHA-256 (hex)."""

    size: int
    sha256: str


@dataclass(frozen=True)
class PreparedAdd:
    """A record encrypted into the vault, waiting for its `record.add` to commit."""

    unsigned: OrgTx
    record_id: str
    sealed: Sealed
    summary: fhir.ResourceSummary


@dataclass(frozen=True)
class ImportItem:
    """One entry of a Bundle being imported: a new record, or one the vault already holds."""

    index: int
    full_url: str | None
    resource_type: str
    record_id: str
    fingerprint: str
    sealed: Sealed | None  # the new record's ciphertext; None for a duplicate


@dataclass(frozen=True)
class PreparedImport:
    """A Bundle's new records encrypted into the vault, waiting for their `record.import`.

    `unsigned` is None when every entry is a duplicate: there is nothing to register.
    """

    unsigned: OrgTx | None
    custodian: str
    patient: str
    items: tuple[ImportItem, ...]


@dataclass(frozen=True)
class PreparedAccess:
    """An access decided by the vault and waiting for its audit event to commit."""

    unsigned: OrgTx
    reader: Actor
    decision: Decision
    record: RecordMeta | None  # a read's record, as the chain held it when decided
    data_key: bytes | None = None  # a read's data key, unwrapped before the event is sent
    note: str | None = None  # a break-glass reason's hash: its sealed text is in the vault


__all__ = [
    "DeclaredBody",
    "ImportItem",
    "NewRecord",
    "PreparedAccess",
    "PreparedAdd",
    "PreparedImport",
]
