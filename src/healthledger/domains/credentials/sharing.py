"""A member shares their credential file, or chosen credentials, for a period, and revokes it.

The member signs with their own key; the grantee is an organisation or a member
(`org/member`). A share of chosen credentials names only the member's own; an empty list
shares the whole file. Shares end at `until_ms` or when revoked (`credential.unshare`).

State in the credentials namespace:

share/<org/member>:<n>    one share, as made and (once revoked) when it ended
shares/<org/member>       the member's counter and live shares (at most MAX_LIVE_SHARES)
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from healthledger.domains.credentials import queries as q
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.errors import UnknownCredential
from healthledger.domains.credentials.messages import CredentialId, TimeMs
from healthledger.domains.governance import queries as gov
from healthledger.errors import Conflict, InvalidField, NotFound, TooLarge, Unauthorized
from healthledger.ledger.context import Payload, StateModel, StateReader, TxContext

MAX_LIVE_SHARES = 32
MAX_SHARED_CREDENTIALS = 64

# An organisation id, or a member `org/member`.
Grantee = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}(/[a-z0-9][a-z0-9_-]{1,62})?$")
]
ShareId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}/[a-z0-9][a-z0-9_-]{1,62}:[0-9]{1,9}$"),
]


class CredentialShare(Payload):
    """Let `grantee` read the sender's file (or only `credentials`) until `until_ms`."""

    grantee: Grantee
    credentials: Annotated[list[CredentialId], Field(max_length=MAX_SHARED_CREDENTIALS)] = Field(
        default_factory=list
    )
    until_ms: TimeMs


class CredentialUnshare(Payload):
    """End one of the sender's shares now."""

    share: ShareId


class Share(StateModel):
    id: str  # `{member}:{n}`
    member: str
    grantee: str
    credentials: tuple[str, ...]  # empty: the whole file
    until_ms: int
    created_height: int
    created_ms: int
    revoked_height: int | None
    revoked_ms: int | None

    def live_at(self, time_ms: int) -> bool:
        return self.revoked_ms is None and time_ms < self.until_ms


class ShareIndex(StateModel):
    """The member's share counter (ids are never reused) and the shares not yet ended."""

    count: int
    live: tuple[str, ...]


def share_key(share_id: str) -> str:
    return f"share/{share_id}"


def shares_key(member: str) -> str:
    return f"shares/{member}"


# --- handlers ----------------------------------------------------------------------------


def share(ctx: TxContext, payload: CredentialShare) -> None:
    member = _sending_member(ctx)
    if payload.grantee == member:
        raise InvalidField("a member does not share their file with themselves")
    if not _grantee_exists(ctx.reader, payload.grantee):
        raise NotFound(f"no active organisation or member {payload.grantee}")
    if payload.until_ms <= ctx.block.time_ms:
        raise InvalidField("until_ms must be after the block time")
    if len(set(payload.credentials)) != len(payload.credentials):
        raise InvalidField("a credential is named twice")
    for credential_id in payload.credentials:
        anchor = q.credential(ctx.reader, credential_id)
        if anchor is None:
            raise UnknownCredential(credential_id)
        if anchor.subject != member:
            raise Unauthorized(f"credential {credential_id} is not {member}'s")
    index = _pruned(ctx, member)
    if len(index.live) >= MAX_LIVE_SHARES:
        raise TooLarge(f"{member} already has {MAX_LIVE_SHARES} live shares: revoke one first")
    share_id = f"{member}:{index.count + 1}"
    record = Share(
        id=share_id,
        member=member,
        grantee=payload.grantee,
        credentials=tuple(payload.credentials),
        until_ms=payload.until_ms,
        created_height=ctx.block.height,
        created_ms=ctx.block.time_ms,
        revoked_height=None,
        revoked_ms=None,
    )
    ctx.store(share_key(share_id), record)
    ctx.store(shares_key(member), ShareIndex(count=index.count + 1, live=(*index.live, share_id)))
    ctx.emit("credential.shared", share=share_id, grantee=payload.grantee)


def unshare(ctx: TxContext, payload: CredentialUnshare) -> None:
    member = _sending_member(ctx)
    record = ctx.load(share_key(payload.share), Share)
    if record is None:
        raise NotFound(f"no share {payload.share}")
    if record.member != member:
        raise Unauthorized(f"share {payload.share} is not {member}'s")
    if record.revoked_ms is not None:
        raise Conflict(f"share {payload.share} is already revoked")
    ctx.store(
        share_key(record.id),
        record.model_copy(
            update={"revoked_height": ctx.block.height, "revoked_ms": ctx.block.time_ms}
        ),
    )
    index = ctx.load(shares_key(member), ShareIndex)
    if index is not None and record.id in index.live:
        live = tuple(s for s in index.live if s != record.id)
        ctx.store(shares_key(member), index.model_copy(update={"live": live}))
    ctx.emit("credential.unshared", share=record.id)


def _sending_member(ctx: TxContext) -> str:
    if ctx.actor.kind != "member":
        raise Unauthorized("only a member shares their own credential file")
    return ctx.actor.id


def _grantee_exists(state: StateReader, grantee: str) -> bool:
    if "/" in grantee:
        return gov.active_member(state, grantee) is not None
    return gov.active_org(state, grantee) is not None


def _pruned(ctx: TxContext, member: str) -> ShareIndex:
    """The index without shares past their end (bounded: MAX_LIVE_SHARES point reads)."""
    index = ctx.load(shares_key(member), ShareIndex) or ShareIndex(count=0, live=())
    live = []
    for share_id in index.live:
        record = ctx.load(share_key(share_id), Share)
        if record is not None and record.live_at(ctx.block.time_ms):
            live.append(share_id)
    return index.model_copy(update={"live": tuple(live)})


# --- reads -------------------------------------------------------------------------------


def live_shares(state: StateReader, member: str, time_ms: int) -> list[Share]:
    """The member's shares in force at `time_ms`, oldest first."""
    index = state.load(st.NAMESPACE, shares_key(member), ShareIndex)
    found = []
    for share_id in () if index is None else index.live:
        record = state.load(st.NAMESPACE, share_key(share_id), Share)
        if record is not None and record.live_at(time_ms):
            found.append(record)
    return found


def share_record(state: StateReader, share_id: str) -> Share | None:
    return state.load(st.NAMESPACE, share_key(share_id), Share)
