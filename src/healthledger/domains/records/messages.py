"""Payloads of the records transactions: record metadata, consent, representatives, access.

Nothing here may carry protected health information: ids are pseudonyms or
random, codes are terminology codes, keys are wrapped (ciphertext). No free text
by or about a person either: a shred or revocation states a reason code, and a
break-glass reason reaches the chain only as the salted hash of a note kept in
the custodian's vault (see `RecordAccess.reason_hash`).
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, StringConstraints

from healthledger.crypto.canonical import canonical_bytes
from healthledger.domains.governance.countries import CountryCode
from healthledger.domains.governance.messages import MemberRole
from healthledger.ledger.context import Payload

Purpose = Literal[
    "treatment",
    "payment",
    "research",
    "emergency",
    "operations",
    "public_health",
    "patient_request",
    "transplant",  # a transplant coordinator asking for a donation decision
]
PURPOSES: tuple[str, ...] = get_args(Purpose)
Power = Literal["grant", "revoke", "read", "locate", "shred"]
POWERS: tuple[str, ...] = get_args(Power)
# A consent limited by country names a few: a region, not the world.
MAX_CONSENT_COUNTRIES = 30
Basis = Literal[
    "self", "custodian", "author", "consent", "representative", "break_glass", "coordinator"
]

RecordId = Annotated[str, StringConstraints(pattern=r"^rec-[0-9a-f]{24}$")]
ConsentId = Annotated[str, StringConstraints(pattern=r"^cns-[0-9a-f]{24}$")]
AppointmentId = Annotated[str, StringConstraints(pattern=r"^app-[0-9a-f]{24}$")]
PatientId = Annotated[str, StringConstraints(pattern=r"^pat_[0-9a-f]{32}$")]
OrgId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$")]
MemberRef = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}/[a-z0-9][a-z0-9_-]{1,62}$")
]
ActorRef = Annotated[
    str,
    StringConstraints(
        pattern=r"^(pat_[0-9a-f]{32}|[a-z0-9][a-z0-9_-]{1,62}/[a-z0-9][a-z0-9_-]{1,62})$"
    ),
]
KeyIdHex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Hash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
ResourceType = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z]{1,63}$")]
Code = Annotated[str, StringConstraints(max_length=200, pattern=r"^[!-~]*$")]
IsoDate = Annotated[str, StringConstraints(pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
MediaType = Annotated[str, StringConstraints(pattern=r"^[a-z]+/[a-z0-9.+-]{1,100}$")]
WrappedKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{100,120}={0,2}$")]
# Why a record is erased or a consent ends: codes, never free text (it would stay on chain).
ShredReason = Literal[
    "patient_request", "entered_in_error", "retention_expired", "legal_order", "other"
]
RevokeReason = Literal["withdrawn", "care_ended", "changed_provider", "other"]
MAX_SCOPE = 200


class WrappedKeys(Payload):
    """A record's data key sealed for its patient and for its custodian organisation."""

    patient: WrappedKey
    custodian: WrappedKey


class RecordAdd(Payload):
    """A custodian registers an encrypted record it holds: metadata only, never content."""

    record_id: RecordId
    patient: PatientId
    resource_type: ResourceType
    code: Code = ""
    date: IsoDate = ""
    media_type: MediaType
    content_hash: Hash
    blob_id: Hash
    size: Annotated[int, Field(ge=0, le=2**50)]
    wrapped_keys: WrappedKeys
    author: ActorRef | None = None
    replaces: RecordId | None = None


class RecordShred(Payload):
    """Crypto-shred a record: the chain keeps a tombstone and the hash."""

    record_id: RecordId
    reason: ShredReason = "patient_request"
    appointment_id: AppointmentId | None = None


class Grantee(Payload):
    """Who a consent is for: an organisation, one person, or a role within an organisation."""

    kind: Literal["org", "member", "role"]
    org: OrgId
    member: MemberRef | None = None
    role: MemberRole | None = None


class ConsentGrant(Payload):
    """A patient (or their representative) lets a grantee read, for purposes, until a time."""

    consent_id: ConsentId
    patient: PatientId
    grantee: Grantee
    resource_types: Annotated[list[ResourceType], Field(max_length=50, default_factory=list)]
    record_ids: Annotated[list[RecordId], Field(max_length=MAX_SCOPE, default_factory=list)]
    purposes: Annotated[list[Purpose], Field(min_length=1, max_length=len(PURPOSES))]
    expires_ms: Annotated[int, Field(ge=0, le=2**53 - 1)]
    wrapped_keys: Annotated[
        dict[RecordId, WrappedKey], Field(max_length=MAX_SCOPE, default_factory=dict)
    ]
    appointment_id: AppointmentId | None = None
    # When given, only organisations of these countries (ISO 3166-1 alpha-2) may use it.
    countries: Annotated[
        list[CountryCode], Field(max_length=MAX_CONSENT_COUNTRIES, default_factory=list)
    ]


class ConsentRevoke(Payload):
    consent_id: ConsentId
    reason: RevokeReason | None = None
    appointment_id: AppointmentId | None = None


class RepresentativeAppoint(Payload):
    """A patient appoints a parent, guardian or proxy to act for them within powers and a period."""

    appointment_id: AppointmentId
    representative: ActorRef
    relation: Literal["parent", "guardian", "proxy", "caregiver"]
    powers: Annotated[list[Power], Field(min_length=1, max_length=len(POWERS))]
    until_ms: Annotated[int, Field(ge=0, le=2**53 - 1)]


class RepresentativeEnd(Payload):
    appointment_id: AppointmentId


class ReaderIntent(Payload):
    """The reader's own signature over what they asked, so that a custodian cannot record
    reads (break-glass ones above all) in another person's name. Time and nonce are those
    of the reader's signed request to the custodian's vault."""

    time_ms: Annotated[int, Field(ge=0, le=2**53 - 1)]
    nonce: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
    # Set when, and only when, the reader asks for break-glass: their commitment to their
    # reason, sha256(salt || text) with their own salt, so no other reason can be recorded.
    reason_hash: Hash | None = None
    signature: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{128}$")]


def intent_message(
    chain_id: str,
    action: str,
    subject: str,
    purpose: str,
    reason_hash: str | None,
    time_ms: int,
    nonce: str,
) -> bytes:
    """The exact bytes a reader signs: which access to what, when, once (by its nonce).

    No organisation is named: a read is recorded only by the record's custodian and a
    search only by the reader's own organisation, rules `apply` enforces anyway."""
    return canonical_bytes(
        {
            "chain": chain_id,
            "purpose_of_signature": "record.access",
            "action": action,
            "subject": subject,
            "purpose": purpose,
            "reason_hash": reason_hash,
            "time": time_ms,
            "nonce": nonce,
        }
    )


class RecordAccess(Payload):
    """The custodian's vault records a read (or a break-glass search, or a transplant
    coordinator's question about a donation decision) before releasing data."""

    action: Literal["read", "locate", "donation"]
    patient: PatientId
    record_id: RecordId | None = None
    reader: KeyIdHex
    purpose: Purpose
    basis: Basis
    consent_id: ConsentId | None = None
    appointment_id: AppointmentId | None = None
    # A break-glass reason's commitment: sha256(salt || text), the salt and text sealed in
    # the vault of the organisation that signs this event; the chain never sees the text.
    reason_hash: Hash | None = None
    request_id: Hash
    intent: ReaderIntent


class CustodyOffer(Payload):
    """A custodian proposes a successor for records it holds, each data key sealed for it.

    Nothing moves until the patient accepts (`custody.accept`)."""

    successor: OrgId
    records: Annotated[dict[RecordId, WrappedKey], Field(min_length=1, max_length=MAX_SCOPE)]


class CustodyAccept(Payload):
    """The patient (or a representative with the grant power) moves records to a successor.

    Each record's data key sealed for the successor: the patient's own rewrapping (they
    hold `wrapped_keys.patient`), or null to take the one the custodian offered. Without
    an offer only a record whose custodian has left the consortium can move."""

    patient: PatientId
    successor: OrgId
    records: Annotated[dict[RecordId, WrappedKey | None], Field(min_length=1, max_length=MAX_SCOPE)]
    appointment_id: AppointmentId | None = None
