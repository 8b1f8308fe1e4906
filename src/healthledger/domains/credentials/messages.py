"""Payloads of the credential transactions that every part of this domain codes against.

`CredentialIssue` is what an issuer sends: the anchor of a document it signed, never the
document (the holder keeps it; `documents.anchor_of` derives this payload from it, so
the issuer's client and a verifier agree on every field).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from healthledger.domains.credentials.state import (
    CREDENTIAL_TYPES,
    MAX_DEPENDS_ON,
    STATUS_LIST_SIZE,
    CredentialType,
)
from healthledger.ledger.context import Payload

# `{issuer}:{local}`: the issuer's org id (or, for an external issuer, its registered
# handle), a colon, and the issuer's own id for the credential.
CredentialId = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
]
LocalId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
MemberId = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}/[a-z0-9][a-z0-9_-]{1,62}$")
]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Scope = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# ISO 3166-1 alpha-2, optionally with an ISO 3166-2 subdivision: "US", "US-MA", "GB-ENG".
Jurisdiction = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]
CeCategory = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$")]
TimeMs = Annotated[int, Field(ge=0, le=253_402_300_799_999)]  # through 9999-12-31


class CredentialIssue(Payload):
    """Anchor a credential the sending organisation signed with its current key.

    `local_id` names it within the issuer (`{issuer}:{local_id}` on the ledger);
    `hash` is SHA-256 of the JCS bytes of the signed document. CE certificates carry
    minutes and a category; privileges name the credentials they depend on.
    """

    local_id: LocalId
    subject: MemberId
    type: CredentialType
    scope: Scope
    jurisdiction: Jurisdiction
    valid_from_ms: TimeMs
    valid_until_ms: TimeMs | None = None
    ce_minutes: Annotated[int, Field(ge=1, le=100_000)] | None = None
    ce_category: CeCategory | None = None
    depends_on: Annotated[list[CredentialId], Field(max_length=MAX_DEPENDS_ON)] = Field(
        default_factory=list
    )
    hash: Sha256Hex
    status_list: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    status_index: Annotated[int, Field(ge=0, lt=STATUS_LIST_SIZE)] | None = None


# --- core's payloads: status changes, external issuers ---------------------------------------

StatusAction = Literal["suspend", "reinstate", "revoke"]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# An external issuer's handle: the issuer part of its credentials' ids.
Handle = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$")]
IssuerName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# did:key of an Ed25519 key: multibase base58btc ('z') of 0xed01 + 32 bytes (48 characters
# after the 'z'); the multicodec prefix is checked when the key is decoded.
DidKey = Annotated[str, StringConstraints(pattern=r"^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]{44}$")]


class CredentialStatus(Payload):
    """The issuer suspends, reinstates or revokes one of its credentials (a regulator,
    an external one it registered). Suspending or revoking suspends the active privileges
    that depend on it, in the same transaction; reinstating restores nothing else."""

    credential_id: CredentialId
    action: StatusAction
    reason: Reason


class IssuerRegister(Payload):
    """A regulator registers an issuer outside the ledger, by its did:key, for some types."""

    handle: Handle
    did: DidKey
    name: IssuerName
    types: Annotated[list[CredentialType], Field(min_length=1, max_length=len(CREDENTIAL_TYPES))]
    jurisdiction: Jurisdiction


class IssuerRemove(Payload):
    """The registering regulator stops members anchoring new credentials of an issuer."""

    handle: Handle


class CredentialAccept(CredentialIssue):
    """A member (or its organisation) anchors a credential a registered external issuer
    signed: the fields of `CredentialIssue` (no status slot: external credentials have no
    status list on this ledger) and the issuer's handle."""

    issuer: Handle
