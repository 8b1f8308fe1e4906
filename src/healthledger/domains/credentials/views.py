"""Reads core publishes: anchors, issuers' next status slots, status lists' hashes, issuers'
keys and external issuers. `api/` mounts them; anchors name a member, so they are
MEMBER reads (signed); the rest name no person and are PUBLIC.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from healthledger.domains.credentials import errors as e
from healthledger.domains.credentials import queries
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.messages import CredentialId, Handle
from healthledger.domains.kit import Access, LedgerReader, ProvenValue, View

IssuerId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$")]
MAX_LISTED_ISSUERS = 500


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


class AnchorParams(BaseModel):
    credential_id: CredentialId
    at_ms: Annotated[int, Field(ge=0, le=253_402_300_799_999)] | None = Field(
        default=None, description="a time (ms since the epoch) to give the status at"
    )


class AnchorAnswer(_Answer):
    """A credential's anchor with its state proof, its status now and, when a time was
    asked, its status then (from the anchor's history) and whether it was in force."""

    credential_id: str
    status: st.Status
    at_ms: int | None
    status_at: st.Status | None
    valid_at: bool | None
    anchor: ProvenValue


def credential_anchor(reader: LedgerReader, params: AnchorParams) -> AnchorAnswer:
    proven = reader.proven(st.NAMESPACE, st.credential_key(params.credential_id))
    if proven.raw_value is None:
        raise e.UnknownCredential(params.credential_id)
    anchor = st.CredentialAnchor.model_validate_json(proven.raw_value)
    at = params.at_ms
    return AnchorAnswer(
        credential_id=anchor.id,
        status=anchor.status,
        at_ms=at,
        status_at=None if at is None else queries.status_at(anchor, at),
        valid_at=None if at is None else queries.valid_at(anchor, at),
        anchor=proven,
    )


class IssuerParams(BaseModel):
    issuer: IssuerId


class NextSlot(_Answer):
    """The slot the issuer's next credential takes (its `credentialStatus` entries)."""

    list: int
    index: int


def next_status(reader: LedgerReader, params: IssuerParams) -> NextSlot:
    slot = queries.next_status_slot(reader.state, params.issuer)
    return NextSlot(list=slot.list, index=slot.index)


class StatusListParams(BaseModel):
    issuer: IssuerId
    purpose: st.StatusPurpose
    list: Annotated[int, Field(ge=0, le=1_000_000)]


class StatusListHash(_Answer):
    """What the chain commits to for one status list: the raw bitstring's SHA-256 and the
    height of the block it last changed in."""

    issuer: str
    purpose: st.StatusPurpose
    list: int
    size: int
    bits_hash: str
    height: int


def status_list_hash(reader: LedgerReader, params: StatusListParams) -> StatusListHash:
    record = queries.status_list(reader.state, params.issuer, params.purpose, params.list)
    if record is None:
        raise e.UnknownStatusList(params.issuer, params.purpose, params.list)
    return StatusListHash(
        issuer=record.issuer,
        purpose=record.purpose,
        list=record.list,
        size=record.size,
        bits_hash=record.bits_hash,
        height=record.height,
    )


class IssuerKeysAnswer(_Answer):
    """The keys an issuer signed credentials with, and when, with the record's proof."""

    issuer: str
    keys: list[st.IssuerKeyPeriod]
    record: ProvenValue


def issuer_keys(reader: LedgerReader, params: IssuerParams) -> IssuerKeysAnswer:
    proven = reader.proven(st.NAMESPACE, st.issuer_keys_key(params.issuer))
    if proven.raw_value is None:
        return IssuerKeysAnswer(issuer=params.issuer, keys=[], record=proven)
    record = st.IssuerKeys.model_validate_json(proven.raw_value)
    return IssuerKeysAnswer(issuer=params.issuer, keys=list(record.keys), record=proven)


class ExternalIssuersParams(BaseModel):
    after: Handle | None = None


class ExternalIssuers(_Answer):
    """Registered external issuers (removed ones too, marked), by handle, a page at most;
    `next` continues after the last one when there are more."""

    issuers: list[st.ExternalIssuer]
    next: str | None


def external_issuers(reader: LedgerReader, params: ExternalIssuersParams) -> ExternalIssuers:
    prefix = st.EXTERNAL_ISSUER_PREFIX
    after = None if params.after is None else prefix + params.after
    rows = reader.scan(st.NAMESPACE, prefix, MAX_LISTED_ISSUERS + 1, after=after)
    page = [st.ExternalIssuer.model_validate_json(value) for _key, value in rows]
    more = len(page) > MAX_LISTED_ISSUERS
    page = page[:MAX_LISTED_ISSUERS]
    return ExternalIssuers(issuers=page, next=page[-1].handle if more else None)


class HandleParams(BaseModel):
    handle: Handle


class ExternalIssuerAnswer(_Answer):
    handle: str
    issuer: ProvenValue


def external_issuer(reader: LedgerReader, params: HandleParams) -> ExternalIssuerAnswer:
    proven = reader.proven(st.NAMESPACE, st.external_issuer_key(params.handle))
    if proven.raw_value is None:
        raise e.UnknownExternalIssuer(params.handle)
    return ExternalIssuerAnswer(handle=params.handle, issuer=proven)


VIEWS = (
    View(
        name="credential_anchor",
        path="/v1/credentials/anchors/{credential_id}",
        summary="A credential's anchor (hash, issuer and key, subject, validity, status"
        " history), with its state proof",
        params=AnchorParams,
        response=AnchorAnswer,
        run=credential_anchor,
        access=Access.MEMBER,
    ),
    View(
        name="issuer_next_status",
        path="/v1/credentials/issuers/{issuer}/next-status",
        summary="The status list and index an issuer's next credential takes",
        params=IssuerParams,
        response=NextSlot,
        run=next_status,
        access=Access.PUBLIC,
    ),
    View(
        name="status_list_hash",
        path="/v1/credentials/issuers/{issuer}/status-lists/{purpose}/{list}/hash",
        summary="The SHA-256 of a status list's raw bitstring and the height it last changed",
        params=StatusListParams,
        response=StatusListHash,
        run=status_list_hash,
        access=Access.PUBLIC,
    ),
    View(
        name="issuer_keys",
        path="/v1/credentials/issuers/{issuer}/keys",
        summary="The keys an issuer signed credentials with, each with its period, proven",
        params=IssuerParams,
        response=IssuerKeysAnswer,
        run=issuer_keys,
        access=Access.PUBLIC,
    ),
    View(
        name="external_issuers",
        path="/v1/credentials/external-issuers",
        summary="Issuers outside the ledger that regulators registered",
        params=ExternalIssuersParams,
        response=ExternalIssuers,
        run=external_issuers,
        access=Access.PUBLIC,
    ),
    View(
        name="external_issuer",
        path="/v1/credentials/external-issuers/{handle}",
        summary="One registered external issuer, with its state proof",
        params=HandleParams,
        response=ExternalIssuerAnswer,
        run=external_issuer,
        access=Access.PUBLIC,
    ),
)
