"""A member's credential file, and who may read it.

The file lists every credential in the order it was anchored (type, issuer, scope,
jurisdiction, validity, status now and at the time asked), the CE cycles computed
against each board's rule, the member's standing exclusions and their live shares.

Who may read it (`may_read_file`): the member; their own organisation; an organisation
where they hold a privilege in force; regulators and auditors; and the grantee of a live
share, who sees only the shared credentials when the share names some (`file_for`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from healthledger.domains.credentials import queries as q
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.ce import CeCycle, ce_cycles
from healthledger.domains.credentials.exclusions import MemberParams, exclusions_of
from healthledger.domains.credentials.messages import TimeMs
from healthledger.domains.credentials.sharing import live_shares
from healthledger.domains.kit import LedgerReader
from healthledger.errors import Unauthorized
from healthledger.ledger.context import Actor, StateReader

READER_ORG_ROLES = frozenset({"regulator"})
READER_MEMBER_ROLES = frozenset({"auditor"})
# The answer of `readable_part` when the reader sees the whole file.
WHOLE: Literal["whole"] = "whole"
Readable = Literal["whole"] | frozenset[str]


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True)


class FileCredential(_Reply):
    id: str
    type: st.CredentialType
    issuer: str
    external: bool
    scope: str
    jurisdiction: str
    valid_from_ms: int
    valid_until_ms: int | None
    ce_minutes: int | None
    ce_category: str | None
    depends_on: list[str]
    issued_height: int
    status: st.Status = Field(description="its status now")
    status_at: st.Status | None = Field(description="its status at `at_ms` (null: not yet)")
    valid_at: bool = Field(description="in force at `at_ms`: active and within validity")


class FileExclusion(_Reply):
    regulator: str
    list: str
    since_ms: int | None


class FileShare(_Reply):
    id: str
    grantee: str
    credentials: list[str] = Field(description="empty: the whole file")
    until_ms: int


class CredentialFile(_Reply):
    """A member's credentials in order, CE per licence cycle, exclusions, live shares.

    `partial` is true when the reader sees only the credentials a share names (then CE
    cycles, exclusions and shares are left out)."""

    member: str
    at_ms: int
    partial: bool
    credentials: list[FileCredential]
    ce_cycles: list[CeCycle]
    excluded: bool
    exclusions: list[FileExclusion]
    shares: list[FileShare]


def credential_file(reader: StateReader, member: str, at_ms: int) -> CredentialFile:
    """The whole file, with statuses and CE counted at `at_ms`."""
    anchors = [a for cid in q.credential_ids_of(reader, member) if (a := q.credential(reader, cid))]
    record = exclusions_of(reader, member)
    standing = () if record is None else record.active()
    return CredentialFile(
        member=member,
        at_ms=at_ms,
        partial=False,
        credentials=[_entry(a, at_ms) for a in anchors],
        ce_cycles=ce_cycles(reader, member, at_ms),
        excluded=bool(standing),
        exclusions=[
            FileExclusion(regulator=e.regulator, list=e.list, since_ms=e.since_ms) for e in standing
        ],
        shares=[
            FileShare(
                id=s.id, grantee=s.grantee, credentials=list(s.credentials), until_ms=s.until_ms
            )
            for s in live_shares(reader, member, at_ms)
        ],
    )


def _entry(anchor: st.CredentialAnchor, at_ms: int) -> FileCredential:
    return FileCredential(
        id=anchor.id,
        type=anchor.type,
        issuer=anchor.issuer,
        external=anchor.external,
        scope=anchor.scope,
        jurisdiction=anchor.jurisdiction,
        valid_from_ms=anchor.valid_from_ms,
        valid_until_ms=anchor.valid_until_ms,
        ce_minutes=anchor.ce_minutes,
        ce_category=anchor.ce_category,
        depends_on=list(anchor.depends_on),
        issued_height=anchor.issued_height,
        status=anchor.status,
        status_at=q.status_at(anchor, at_ms),
        valid_at=q.valid_at(anchor, at_ms),
    )


# --- who may read ------------------------------------------------------------------------


def readable_part(reader: StateReader, actor: Actor, member: str, now_ms: int) -> Readable:
    """What `actor` may read of `member`'s file at `now_ms`: `WHOLE`, or the ids of the
    credentials live shares name (empty: nothing)."""
    if _reads_whole_file(reader, actor, member, now_ms):
        return WHOLE
    chosen: set[str] = set()
    for share in live_shares(reader, member, now_ms):
        if share.grantee != actor.id:
            continue
        if not share.credentials:
            return WHOLE
        chosen.update(share.credentials)
    return frozenset(chosen)


def may_read_file(reader: StateReader, actor: Actor, member: str, now_ms: int) -> bool:
    """Whether `actor` may read `member`'s file (or part of it) at `now_ms`."""
    return bool(readable_part(reader, actor, member, now_ms))


def file_for(
    reader: StateReader, actor: Actor, member: str, at_ms: int, now_ms: int
) -> CredentialFile:
    """The file as `actor` may see it now: whole, or only the credentials shared with it."""
    part = readable_part(reader, actor, member, now_ms)
    if not part:
        raise Unauthorized(f"{actor.id} may not read {member}'s credential file")
    whole = credential_file(reader, member, at_ms)
    if not isinstance(part, frozenset):
        return whole
    return whole.model_copy(
        update={
            "partial": True,
            "credentials": [c for c in whole.credentials if c.id in part],
            "ce_cycles": [],
            "excluded": False,
            "exclusions": [],
            "shares": [],
        }
    )


def _reads_whole_file(reader: StateReader, actor: Actor, member: str, now_ms: int) -> bool:
    if actor.kind == "member":
        return actor.id == member or actor.role in READER_MEMBER_ROLES
    if actor.kind != "org":
        return False
    if actor.id == member.partition("/")[0] or actor.role in READER_ORG_ROLES:
        return True
    return _holds_privilege_at(reader, member, actor.id, now_ms)


def _holds_privilege_at(reader: StateReader, member: str, org: str, now_ms: int) -> bool:
    for credential_id in q.credential_ids_of(reader, member):
        anchor = q.credential(reader, credential_id)
        if (
            anchor is not None
            and anchor.type == "privilege"
            and anchor.issuer == org
            and q.valid_at(anchor, now_ms)
        ):
            return True
    return False


# --- the read as a view's parameters (mounted by api/ with the caller: see may_read_file) --


class FileParams(MemberParams):
    """A member as two path segments (`/members/{org}/{member_id}/...`), and a time."""

    at_ms: TimeMs | None = Field(default=None, description="statuses at this time (default now)")


def file_view(reader: LedgerReader, params: FileParams, actor: Actor) -> CredentialFile:
    """The file at `at_ms` (default: the last block's time) as `actor` may see it."""
    now_ms = reader.block_time_ms(reader.height) if reader.height else 0
    at_ms = now_ms if params.at_ms is None else params.at_ms
    return file_for(reader.state, actor, params.member, at_ms, now_ms)
