"""Payloads of the credential transactions that every part of this domain codes against.

`CredentialIssue` is what an issuer sends: the anchor of a document it signed, never the
document (the holder keeps it; `documents.anchor_of` derives this payload from it, so
the issuer's client and a verifier agree on every field).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from healthledger.domains.credentials.state import MAX_DEPENDS_ON, STATUS_LIST_SIZE, CredentialType
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
