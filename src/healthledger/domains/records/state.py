"""Records state in the `records` namespace: keys and the shape of each value.

record/<rec id>                     a record's metadata (or its tombstone)
patient/<pat>/record/<rec id>       locator index: the record id (the record is the truth)
consent/<cns id>                    a consent grant and its status
patient/<pat>/consent/<cns id>      a patient's consents
appointment/<app id>                a representative's appointment
patient/<pat>/appointment/<app id>  a patient's representatives
audit/<pat>/<height:012>/<tx id>    one access event; key order is chronological
blob/<blob id>                      the record that registered a ciphertext (once, ever)
alert/<org>/<height:012>/<tx id>    a break-glass access in an organisation's feed: the
                                    key of its event under audit/ (same transaction)
intent/<reader key>/<nonce>         block time of a reader's request, recorded once
offer/<rec id>                      a custodian's standing offer of a record to a successor

A reader's break-glass allowance (its accesses of the last 24 hours) is governance's:
`allowance/break_glass/<reader id>` in the `gov` namespace (`governance.operations`).

Each value is a frozen model below; a model dumps exactly the JSON object stored
(canonical JSON of the same fields), so typing the state changed no stored byte.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, RootModel, SerializerFunctionWrapHandler, model_serializer

from healthledger.ledger.context import StateModel

NAMESPACE = "records"
ACTIVE = "active"
SUPERSEDED = "superseded"
SHREDDED = "shredded"
REVOKED = "revoked"
ENDED = "ended"

RecordStatus = Literal["active", "superseded", "shredded"]
ConsentStatus = Literal["active", "revoked"]
AppointmentStatus = Literal["active", "ended"]


class RecordKeys(StateModel):
    """A record's data key sealed for its patient and for its custodian organisation."""

    patient: str
    custodian: str


class CustodyMove(StateModel):
    """A record's move to a successor custodian: who held it, who holds it, who agreed."""

    custodian: str  # who held the record until this move
    successor: str
    offered: bool  # the custodian offered it; else it had left the consortium
    accepted_by: str
    height: int
    time_ms: int


class RecordMeta(StateModel):
    """A record's metadata as the chain keeps it (never content); a tombstone once shredded."""

    id: str
    patient: str
    custodian: str
    author: str | None
    resource_type: str
    code: str
    date: str
    media_type: str
    content_hash: str
    blob_id: str
    size: int
    wrapped_keys: RecordKeys | None  # None once shredded: the data key left the state
    replaces: str | None
    superseded_by: str | None
    status: RecordStatus
    added_height: int
    added_ms: int
    # The tombstone: stored only once the record is shredded.
    shredded_height: int | None = None
    shredded_ms: int | None = None
    shredded_by: str | None = None
    shred_reason: str | None = None
    # Earlier custodians, oldest first: stored only once a record has moved.
    custody: tuple[CustodyMove, ...] = ()

    @model_serializer(mode="wrap")
    def _stored_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        stored = _without(handler(self), _TOMBSTONE, unless=self.status == SHREDDED)
        return _without(stored, ("custody",), unless=bool(self.custody))


class ConsentGrantee(StateModel):
    """Who a consent is for: an organisation, one person (`org/member`), or a role there."""

    kind: Literal["org", "member", "role"]
    org: str
    member: str | None
    role: str | None


class Consent(StateModel):
    """A consent grant: who may read which of a patient's records, why, until when."""

    id: str
    patient: str
    grantee: ConsentGrantee
    resource_types: tuple[str, ...]
    record_ids: tuple[str, ...]
    purposes: tuple[str, ...]
    expires_ms: int
    wrapped_keys: dict[str, str]  # record id -> its data key sealed for the grantee
    appointment_id: str | None  # the representative's appointment it was granted under
    granted_height: int
    granted_ms: int
    granted_by: str
    status: ConsentStatus
    revoked_height: int | None
    revoked_ms: int | None
    # Stored only once revoked (the reason is optional even then).
    revoked_by: str | None = None
    revoke_reason: str | None = None
    # Stored only when the consent is limited to organisations of some countries:
    # consents without a limit keep the bytes they always had.
    countries: tuple[str, ...] = ()

    @model_serializer(mode="wrap")
    def _stored_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        stored = _without(handler(self), _REVOCATION, unless=self.status == REVOKED)
        return _without(stored, ("countries",), unless=bool(self.countries))


class Appointment(StateModel):
    """A representative appointed by a patient, with powers, until a time."""

    id: str
    patient: str
    representative: str
    relation: str
    powers: tuple[str, ...]
    until_ms: int
    status: AppointmentStatus
    appointed_height: int
    ended_height: int | None


class AuditReader(StateModel):
    """Who read, as the ledger knew them at the access."""

    kind: str
    id: str
    org: str | None
    role: str
    key_id: str


class AuditEntry(StateModel):
    """One access to a patient's records (a read, a break-glass search, a transplant
    coordinator's question about the donation decision), on chain."""

    id: str
    action: Literal["read", "locate", "donation"]
    record: str | None
    patient: str
    custodian: str  # the organisation whose vault recorded it
    reader: AuditReader
    purpose: str
    basis: str
    consent: str | None
    appointment: str | None
    reason_hash: str | None
    break_glass: bool
    request_id: str
    height: int
    time_ms: int
    tx_id: str


class CustodyOffered(StateModel):
    """A custodian's standing offer of one record to a successor, with the data key for it."""

    record: str
    custodian: str
    successor: str
    wrapped_key: str
    height: int


class _Ref(RootModel[str]):
    model_config = ConfigDict(frozen=True)


class RecordRef(_Ref):
    """An index entry naming a record: a patient's locator entry, a ciphertext's owner."""


class ConsentRef(_Ref):
    """A patient's index entry naming a consent."""


class AppointmentRef(_Ref):
    """A patient's index entry naming an appointment."""


class AuditRef(_Ref):
    """An organisation's alert: the key of the audit entry written in the same transaction."""


class IntentSeen(RootModel[int]):
    """A reader's request recorded as an access: the time it was signed at."""

    model_config = ConfigDict(frozen=True)


_TOMBSTONE = ("shredded_height", "shredded_ms", "shredded_by", "shred_reason")
_REVOCATION = ("revoked_by", "revoke_reason")


def _without(dumped: dict[str, Any], fields: tuple[str, ...], unless: bool) -> dict[str, Any]:
    """The dump without fields the stored object has only in a later state."""
    return dumped if unless else {k: v for k, v in dumped.items() if k not in fields}


def record_key(record_id: str) -> str:
    return f"record/{record_id}"


def patient_prefix(patient: str) -> str:
    return f"patient/{patient}/"


def patient_record_key(patient: str, record_id: str) -> str:
    return f"patient/{patient}/record/{record_id}"


def consent_key(consent_id: str) -> str:
    return f"consent/{consent_id}"


def patient_consent_key(patient: str, consent_id: str) -> str:
    return f"patient/{patient}/consent/{consent_id}"


def appointment_key(appointment_id: str) -> str:
    return f"appointment/{appointment_id}"


def patient_appointment_key(patient: str, appointment_id: str) -> str:
    return f"patient/{patient}/appointment/{appointment_id}"


def audit_prefix(patient: str) -> str:
    return f"audit/{patient}/"


def audit_key(patient: str, height: int, tx_id: str) -> str:
    return f"audit/{patient}/{height:012d}/{tx_id}"


def blob_key(blob_id: str) -> str:
    return f"blob/{blob_id}"


def alert_prefix(org: str) -> str:
    return f"alert/{org}/"


def alert_key(org: str, height: int, tx_id: str) -> str:
    return f"alert/{org}/{height:012d}/{tx_id}"


def intent_key(reader_key: str, nonce: str) -> str:
    """A reader's request recorded as an access (its nonce): each is recorded once."""
    return f"intent/{reader_key}/{nonce}"


def offer_key(record_id: str) -> str:
    """A record's standing custody offer (one at a time: a new offer replaces it)."""
    return f"offer/{record_id}"
