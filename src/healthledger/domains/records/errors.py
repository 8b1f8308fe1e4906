"""The refusals of the records domain, each carrying the values it is about.

Messages of failed transactions are hashed into blocks: each class builds exactly
the text the domain has always written.
"""

from __future__ import annotations

from healthledger.errors import (
    AlreadyExists,
    Conflict,
    ErrorCode,
    InvalidField,
    InvalidState,
    LedgerError,
    NotFound,
    Unauthorized,
)


class RecordNotFound(NotFound):
    def __init__(self, record_id: str) -> None:
        super().__init__(f"no record {record_id}")
        self.record_id = record_id


class RecordExists(AlreadyExists):
    def __init__(self, record_id: str) -> None:
        super().__init__(f"record {record_id} exists")
        self.record_id = record_id


class BlobRegistered(AlreadyExists):
    """A ciphertext is registered once, ever: naming another's would let a shred reach it."""

    def __init__(self, blob_id: str) -> None:
        super().__init__(f"blob {blob_id} is already registered")
        self.blob_id = blob_id


class NotPatientsRecord(InvalidField):
    def __init__(self, record_id: str, patient: str) -> None:
        super().__init__(f"record {record_id} is not {patient}'s")
        self.record_id = record_id
        self.patient = patient


class RecordShredded(LedgerError):
    code = ErrorCode.RECORD_SHREDDED

    def __init__(self, record_id: str) -> None:
        super().__init__(f"record {record_id} was shredded")
        self.record_id = record_id


class AlreadyShredded(Conflict):
    def __init__(self, record_id: str) -> None:
        super().__init__(f"record {record_id} is already shredded")
        self.record_id = record_id


class RecordNotActive(InvalidState):
    """Only the current version of a record can be corrected."""

    def __init__(self, record_id: str, status: str) -> None:
        super().__init__(f"record {record_id} is {status}")
        self.record_id = record_id
        self.status = status


class NotCustodian(LedgerError):
    """The record is held by another organisation's vault."""

    code = ErrorCode.NOT_CUSTODIAN

    def __init__(self, record_id: str, custodian: str, message: str | None = None) -> None:
        super().__init__(message or f"record {record_id} is held by {custodian}; ask its vault")
        self.record_id = record_id
        self.custodian = custodian


class NoConsent(LedgerError):
    """No consent (nor other basis) allows this reader this access."""

    code = ErrorCode.NO_CONSENT

    def __init__(
        self, message: str, record_id: str | None = None, consent_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.record_id = record_id
        self.consent_id = consent_id


class ConsentRevoked(LedgerError):
    code = ErrorCode.CONSENT_REVOKED

    def __init__(self, consent_id: str) -> None:
        super().__init__(f"consent {consent_id} was revoked")
        self.consent_id = consent_id


class ConsentExpired(LedgerError):
    code = ErrorCode.CONSENT_EXPIRED

    def __init__(self, consent_id: str) -> None:
        super().__init__(f"consent {consent_id} has expired")
        self.consent_id = consent_id


class ConsentNotFound(NotFound):
    def __init__(self, consent_id: str) -> None:
        super().__init__(f"no consent {consent_id}")
        self.consent_id = consent_id


class ConsentExists(AlreadyExists):
    def __init__(self, consent_id: str) -> None:
        super().__init__(f"consent {consent_id} exists")
        self.consent_id = consent_id


class ConsentAlreadyRevoked(Conflict):
    def __init__(self, consent_id: str) -> None:
        super().__init__(f"consent {consent_id} is already revoked")
        self.consent_id = consent_id


class AppointmentNotFound(NotFound):
    def __init__(self, appointment_id: str) -> None:
        super().__init__(f"no appointment {appointment_id}")
        self.appointment_id = appointment_id


class AppointmentExists(AlreadyExists):
    def __init__(self, appointment_id: str) -> None:
        super().__init__(f"appointment {appointment_id} exists")
        self.appointment_id = appointment_id


class AppointmentEnded(Conflict):
    def __init__(self, appointment_id: str) -> None:
        super().__init__(f"appointment {appointment_id} has ended")
        self.appointment_id = appointment_id


class PatientNotFound(NotFound):
    def __init__(self, patient: str) -> None:
        super().__init__(f"no registered patient {patient}")
        self.patient = patient


class PersonNotFound(NotFound):
    def __init__(self, actor_id: str) -> None:
        super().__init__(f"no registered person {actor_id}")
        self.actor_id = actor_id


class NotActiveMember(InvalidField):
    """A record's author is an active member of its custodian."""

    def __init__(self, author: str, custodian: str) -> None:
        super().__init__(f"{author} is not an active member of {custodian}")
        self.author = author
        self.custodian = custodian


class RequestExpired(LedgerError):
    """The reader's signed request is too far from the block that records the access."""

    code = ErrorCode.REQUEST_EXPIRED

    def __init__(self, window_ms: int) -> None:
        super().__init__(
            f"the reader's request is more than {window_ms // 60_000} minutes from the block's time"
        )
        self.window_ms = window_ms


class RequestReplayed(LedgerError):
    code = ErrorCode.REQUEST_REPLAYED

    def __init__(self, nonce: str) -> None:
        super().__init__("this request of the reader was already recorded")
        self.nonce = nonce


class NotThisVault(LedgerError):
    """This node is not the vault the request must go to (another organisation's, or
    the reader's own for a break-glass search)."""

    code = ErrorCode.NOT_CUSTODIAN


class AlreadyCustodian(Conflict):
    """A record cannot move to the organisation that holds it already."""

    def __init__(self, record_id: str, custodian: str) -> None:
        super().__init__(f"record {record_id} is already held by {custodian}")
        self.record_id = record_id
        self.custodian = custodian


class OfferExists(AlreadyExists):
    def __init__(self, record_id: str, successor: str) -> None:
        super().__init__(f"record {record_id} is already offered to {successor}")
        self.record_id = record_id
        self.successor = successor


class NotOffered(Unauthorized):
    """Without the custodian's offer a record moves only once its custodian has left."""

    def __init__(self, record_id: str, custodian: str, successor: str) -> None:
        super().__init__(
            f"{custodian}, still a member, has not offered record {record_id} to {successor}"
        )
        self.record_id = record_id
        self.custodian = custodian
        self.successor = successor


class NotASuccessor(InvalidField):
    """A successor custodian is an active organisation that keeps records."""

    def __init__(self, org: str) -> None:
        super().__init__(
            f"{org} is not an active organisation that keeps records"
            " (hospital, clinic, laboratory or pharmacy)"
        )
        self.org = org
