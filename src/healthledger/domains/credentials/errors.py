"""The credentials domain's errors: each carries the values it names and builds its message.

Messages of failed transactions are hashed into blocks: their text is fixed here. Each
part appends its own errors at the end of the file.
"""

from __future__ import annotations

from healthledger.errors import (
    Conflict,
    ErrorCode,
    InvalidField,
    InvalidState,
    LedgerError,
    MalformedInput,
    NotFound,
    Unauthorized,
)


class UnknownCredential(NotFound):
    def __init__(self, credential_id: str) -> None:
        self.credential_id = credential_id
        super().__init__(f"no credential {credential_id} on the ledger")


# -- documents (documents.py) ---------------------------------------------------------


class MalformedCredential(MalformedInput):
    """A credential document that is not one this ledger issues: `field` names where."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"credential document: {field} {problem}")
        self.field = field
        self.problem = problem

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "field": self.field}


class WrongSigningKey(InvalidField):
    """The key offered to sign is not the one the document names as its issuer."""

    def __init__(self, named: str, offered: str) -> None:
        super().__init__(
            f"the document's issuer is {named[:80]}, but the signing key is {offered[:80]}"
        )
        self.named = named
        self.offered = offered


# --- core: issuing, status, external issuers -----------------------------------------------


class TooLarge(LedgerError):
    code = ErrorCode.TOO_LARGE


class NotAnIssuerOf(Unauthorized):
    def __init__(self, who: str, credential_type: str) -> None:
        self.who, self.credential_type = who, credential_type
        super().__init__(f"{who} may not issue {credential_type} credentials")


class OrganisationKeyOnly(Unauthorized):
    def __init__(self, tx_type: str) -> None:
        super().__init__(f"{tx_type} is sent with the organisation's own key, not a member's")


class UnknownSubject(NotFound):
    def __init__(self, subject: str) -> None:
        self.subject = subject
        super().__init__(f"{subject} is not an active member of an active organisation")


class InvalidValidity(InvalidField):
    def __init__(self, message: str) -> None:
        super().__init__(message)


class CeFields(InvalidField):
    def __init__(self, credential_type: str) -> None:
        self.credential_type = credential_type
        if credential_type == "ce":
            message = "a CE certificate carries ce_minutes and ce_category"
        else:
            message = f"ce_minutes and ce_category belong to CE certificates, not {credential_type}"
        super().__init__(message)


class DependsOnPrivilegesOnly(InvalidField):
    def __init__(self, credential_type: str) -> None:
        super().__init__(f"only privileges name credentials they depend on, not {credential_type}")


class DependencyRepeated(InvalidField):
    def __init__(self, credential_id: str) -> None:
        self.credential_id = credential_id
        super().__init__(f"depends_on names {credential_id} twice")


class DependencyOfAnother(InvalidField):
    def __init__(self, credential_id: str, subject: str) -> None:
        self.credential_id, self.subject = credential_id, subject
        super().__init__(f"{credential_id} is not a credential of {subject}")


class DependencyType(InvalidField):
    def __init__(self, credential_id: str, credential_type: str) -> None:
        self.credential_id = credential_id
        super().__init__(
            f"{credential_id} is a {credential_type}: a privilege depends on a licence,"
            " a certification or a degree"
        )


class DependencyNotInForce(InvalidState):
    def __init__(self, credential_id: str, why: str) -> None:
        self.credential_id = credential_id
        super().__init__(f"{credential_id} is {why}: nothing may depend on it now")


class CredentialExists(Conflict):
    def __init__(self, credential_id: str) -> None:
        self.credential_id = credential_id
        super().__init__(f"credential {credential_id} is already on the ledger")


class FileFull(TooLarge):
    def __init__(self, subject: str, bound: int) -> None:
        self.subject = subject
        super().__init__(f"{subject} holds {bound} credentials, the most one file may hold")


class DependentsFull(TooLarge):
    def __init__(self, credential_id: str, bound: int) -> None:
        self.credential_id = credential_id
        super().__init__(f"{bound} privileges already depend on {credential_id}")


class HalfASlot(InvalidField):
    def __init__(self) -> None:
        super().__init__("status_list and status_index are given together, or neither")


class SlotTaken(Conflict):
    def __init__(self, named: tuple[int, int], free: tuple[int, int]) -> None:
        self.named, self.free = named, free
        super().__init__(
            f"status slot list {named[0]} index {named[1]} is not the issuer's next free slot;"
            f" the next free slot is list {free[0]} index {free[1]}: rebuild and sign again"
        )


class NoStatusListForExternal(InvalidField):
    def __init__(self) -> None:
        super().__init__("an external credential has no status list: no status_list or index")


class IssuerKeysFull(TooLarge):
    def __init__(self, issuer: str, bound: int) -> None:
        self.issuer = issuer
        super().__init__(f"{issuer} has signed with {bound} keys, the most the ledger keeps")


class NotTheIssuer(Unauthorized):
    def __init__(self, credential_id: str, who: str) -> None:
        self.credential_id, self.who = credential_id, who
        super().__init__(f"{who} did not issue {credential_id}: only its issuer changes its status")


class StatusStep(InvalidState):
    def __init__(self, credential_id: str, status: str, action: str) -> None:
        self.credential_id, self.status, self.action = credential_id, status, action
        super().__init__(f"{credential_id} is {status}: it cannot be {_PAST[action]}")


_PAST = {"suspend": "suspended", "reinstate": "reinstated", "revoke": "revoked"}


class StatusHistoryFull(TooLarge):
    def __init__(self, credential_id: str, changes: int) -> None:
        self.credential_id = credential_id
        super().__init__(f"{credential_id} has {changes} status changes: its issuer makes no more")


class UnknownExternalIssuer(NotFound):
    def __init__(self, handle: str) -> None:
        self.handle = handle
        super().__init__(f"no registered external issuer {handle}")


class ExternalIssuerRemoved(InvalidState):
    def __init__(self, handle: str) -> None:
        self.handle = handle
        super().__init__(f"external issuer {handle} was removed: it anchors nothing new")


class ExternalIssuerExists(Conflict):
    def __init__(self, handle: str) -> None:
        self.handle = handle
        super().__init__(f"external issuer {handle} is registered already")


class HandleIsAnOrganisation(Conflict):
    def __init__(self, handle: str) -> None:
        self.handle = handle
        super().__init__(f"{handle} is an organisation's id: an external issuer needs its own")


class NotTheRegistrar(Unauthorized):
    def __init__(self, handle: str, who: str) -> None:
        self.handle, self.who = handle, who
        super().__init__(f"{who} did not register external issuer {handle}")


class TypeNotRegistered(Unauthorized):
    def __init__(self, handle: str, credential_type: str) -> None:
        self.handle, self.credential_type = handle, credential_type
        super().__init__(f"external issuer {handle} is not registered for {credential_type}")


class NotSubjectsSide(Unauthorized):
    def __init__(self, who: str, subject: str) -> None:
        self.who, self.subject = who, subject
        super().__init__(
            f"{who} may not anchor a credential of {subject}: the subject's organisation"
            " does, attesting it checked the issuer's proof"
        )


class InvalidDid(InvalidField):
    def __init__(self, did: str) -> None:
        self.did = did
        super().__init__(f"{did[:80]} is not the did:key of an Ed25519 public key")


class TypeRepeated(InvalidField):
    def __init__(self) -> None:
        super().__init__("types names a credential type twice")


class UnknownStatusList(NotFound):
    def __init__(self, issuer: str, purpose: str, number: int) -> None:
        super().__init__(f"{issuer} has no {purpose} status list {number}")


class DependentsOfIssuerFull(TooLarge):
    def __init__(self, credential_id: str, issuer: str, bound: int) -> None:
        self.credential_id, self.issuer = credential_id, issuer
        super().__init__(f"{issuer} already has {bound} privileges depending on {credential_id}")


class FileShareFull(TooLarge):
    def __init__(self, subject: str, issuer: str, bound: int) -> None:
        self.subject, self.issuer = subject, issuer
        super().__init__(f"{issuer} has issued {bound} credentials to {subject}, the most it may")
