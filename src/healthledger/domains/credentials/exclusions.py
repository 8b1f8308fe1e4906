"""Exclusion lists: a regulator lists a member; every organisation where they hold privileges
is flagged, now and when a privilege is issued to them later.

`credential.exclusion` (a regulator) adds a member to one of its lists or lifts the entry.
On add, the member's file is walked (bounded by MAX_CREDENTIALS_PER_MEMBER) and each
organisation that issued them a privilege in force gets a flag; a privilege issued while
the exclusion stands is flagged by `flag_if_excluded`, which the issue handler calls. A
flag names the regulators whose exclusions raised it; lifting removes that regulator from
the flags it raised, and a flag with none left is cleared.

State in the credentials namespace:

exclusion/<org/member>          the member's exclusions, one entry per regulator, with history
flag/<org>/<org/member>         an organisation's flag on a member
flags/<org>                     the members an organisation has flags on (MAX_FLAGS_PER_ORG)
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from healthledger.domains.credentials import queries as q
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.messages import MemberId
from healthledger.domains.governance import queries as gov
from healthledger.domains.kit import LedgerReader, View
from healthledger.errors import Conflict, NotFound, TooLarge
from healthledger.ledger.context import Payload, StateModel, StateReader, TxContext

MAX_REGULATORS_PER_MEMBER = 16
MAX_EXCLUSION_HISTORY = 64
MAX_FLAGS_PER_ORG = 2_048

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,31}$")]
ListName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Action = Literal["add", "lift"]


class CredentialExclusion(Payload):
    """Add `member` to the regulator's `list`, or lift the entry; `reason` is a short code."""

    action: Action
    member: MemberId
    reason: Code
    list: ListName


# --- state -------------------------------------------------------------------------------


class ExclusionStep(StateModel):
    action: Action
    list: str
    reason: str
    height: int
    time_ms: int


class RegulatorExclusion(StateModel):
    """One regulator's entry for a member: whether it stands, the orgs it flagged, history."""

    regulator: str
    list: str
    active: bool
    since_ms: int | None  # when the standing exclusion was added
    flagged: tuple[str, ...]  # organisations this regulator's exclusion flagged
    history: tuple[ExclusionStep, ...]


class MemberExclusions(StateModel):
    member: str
    entries: tuple[RegulatorExclusion, ...]

    def active(self) -> tuple[RegulatorExclusion, ...]:
        return tuple(e for e in self.entries if e.active)


class Flag(StateModel):
    """An organisation's flag on a member: the regulators whose exclusions raised it."""

    org: str
    member: str
    regulators: tuple[str, ...]
    since_height: int
    since_ms: int


class FlaggedMembers(StateModel):
    members: tuple[str, ...]


def exclusion_key(member: str) -> str:
    return f"exclusion/{member}"


def flag_key(org: str, member: str) -> str:
    return f"flag/{org}/{member}"


def flags_key(org: str) -> str:
    return f"flags/{org}"


# --- handlers ----------------------------------------------------------------------------


def exclusion(ctx: TxContext, payload: CredentialExclusion) -> None:
    org_id, _, member_id = payload.member.partition("/")
    if gov.member(ctx.reader, org_id, member_id) is None:
        raise NotFound(f"no member {payload.member}")
    if payload.action == "add":
        _add(ctx, payload)
    else:
        _lift(ctx, payload)


def _add(ctx: TxContext, payload: CredentialExclusion) -> None:
    regulator = ctx.actor.id
    record = ctx.load(exclusion_key(payload.member), MemberExclusions) or MemberExclusions(
        member=payload.member, entries=()
    )
    entry = _entry(record, regulator)
    if entry is not None and entry.active:
        raise Conflict(f"{payload.member} is already on {regulator}'s list {entry.list}")
    if entry is None and len(record.entries) >= MAX_REGULATORS_PER_MEMBER:
        raise TooLarge(f"{payload.member} is listed by {MAX_REGULATORS_PER_MEMBER} regulators")
    history = () if entry is None else entry.history
    if len(history) >= MAX_EXCLUSION_HISTORY:
        raise TooLarge(f"{payload.member}'s exclusion history with {regulator} is full")
    # An organisation whose flags are full is not flagged, but the exclusion stands: a
    # hospital that filled its own flags (privileges issued to excluded members) and then
    # granted one to a member must not shield that member from a regulator.
    orgs = tuple(
        org
        for org in privilege_orgs(ctx.reader, payload.member, ctx.block.time_ms)
        if _raise_flag(ctx, org, payload.member, regulator)
    )
    updated = RegulatorExclusion(
        regulator=regulator,
        list=payload.list,
        active=True,
        since_ms=ctx.block.time_ms,
        flagged=orgs,
        history=(*history, _step(ctx, payload)),
    )
    _store_entry(ctx, record, updated)
    ctx.emit("credential.excluded", member=payload.member, regulator=regulator, flagged=len(orgs))


def _lift(ctx: TxContext, payload: CredentialExclusion) -> None:
    regulator = ctx.actor.id
    record = ctx.load(exclusion_key(payload.member), MemberExclusions)
    entry = None if record is None else _entry(record, regulator)
    if record is None or entry is None or not entry.active:
        raise Conflict(f"{payload.member} is not on a list of {regulator}")
    if entry.list != payload.list:
        raise Conflict(
            f"{payload.member} is on {regulator}'s list {entry.list}, not {payload.list}"
        )
    if len(entry.history) >= MAX_EXCLUSION_HISTORY:
        raise TooLarge(f"{payload.member}'s exclusion history with {regulator} is full")
    for org in entry.flagged:
        _lower_flag(ctx, org, payload.member, regulator)
    lifted = entry.model_copy(
        update={
            "active": False,
            "since_ms": None,
            "flagged": (),
            "history": (*entry.history, _step(ctx, payload)),
        }
    )
    _store_entry(ctx, record, lifted)
    ctx.emit("credential.exclusion_lifted", member=payload.member, regulator=regulator)


def flag_if_excluded(ctx: TxContext, member: str, org: str) -> None:
    """Flag `org` on `member` if the member stands excluded: the issue handler calls this
    for each privilege it anchors (one point read when the member is not excluded)."""
    scoped = ctx if ctx.namespace == st.NAMESPACE else ctx.within(st.NAMESPACE)
    record = scoped.load(exclusion_key(member), MemberExclusions)
    if record is None:
        return
    changed = False
    entries = []
    for entry in record.entries:
        if entry.active and org not in entry.flagged:
            if not _raise_flag(scoped, org, member, entry.regulator):
                raise TooLarge(f"{org} already has {MAX_FLAGS_PER_ORG} flagged members")
            entry = entry.model_copy(update={"flagged": (*entry.flagged, org)})
            changed = True
        entries.append(entry)
    if changed:
        scoped.store(exclusion_key(member), record.model_copy(update={"entries": tuple(entries)}))


def privilege_orgs(state: StateReader, member: str, time_ms: int) -> tuple[str, ...]:
    """The organisations where the member holds a privilege in force, in file order.

    One that starts later counts (it is held: issuing it now would flag its issuer too);
    an external issuer is no organisation to flag."""
    orgs: list[str] = []
    for credential_id in q.credential_ids_of(state, member):
        anchor = q.credential(state, credential_id)
        if (
            anchor is not None
            and anchor.type == "privilege"
            and not anchor.external
            and q.valid_at(anchor, max(time_ms, anchor.valid_from_ms))
            and anchor.issuer not in orgs
        ):
            orgs.append(anchor.issuer)
    return tuple(orgs)


def _entry(record: MemberExclusions, regulator: str) -> RegulatorExclusion | None:
    return next((e for e in record.entries if e.regulator == regulator), None)


def _step(ctx: TxContext, payload: CredentialExclusion) -> ExclusionStep:
    return ExclusionStep(
        action=payload.action,
        list=payload.list,
        reason=payload.reason,
        height=ctx.block.height,
        time_ms=ctx.block.time_ms,
    )


def _store_entry(ctx: TxContext, record: MemberExclusions, entry: RegulatorExclusion) -> None:
    others = tuple(e for e in record.entries if e.regulator != entry.regulator)
    ctx.store(exclusion_key(record.member), record.model_copy(update={"entries": (*others, entry)}))


def _raise_flag(ctx: TxContext, org: str, member: str, regulator: str) -> bool:
    """Flag `org` on `member` for `regulator`; False (nothing written) if its flags are full."""
    flag = ctx.load(flag_key(org, member), Flag)
    if flag is None:
        index = ctx.load(flags_key(org), FlaggedMembers) or FlaggedMembers(members=())
        if len(index.members) >= MAX_FLAGS_PER_ORG:
            return False
        ctx.store(flags_key(org), FlaggedMembers(members=(*index.members, member)))
        flag = Flag(
            org=org,
            member=member,
            regulators=(),
            since_height=ctx.block.height,
            since_ms=ctx.block.time_ms,
        )
    if regulator not in flag.regulators:
        flag = flag.model_copy(update={"regulators": (*flag.regulators, regulator)})
    ctx.store(flag_key(org, member), flag)
    return True


def _lower_flag(ctx: TxContext, org: str, member: str, regulator: str) -> None:
    flag = ctx.load(flag_key(org, member), Flag)
    if flag is None:
        return
    regulators = tuple(r for r in flag.regulators if r != regulator)
    if regulators:
        ctx.store(flag_key(org, member), flag.model_copy(update={"regulators": regulators}))
        return
    ctx.delete(flag_key(org, member))
    index = ctx.load(flags_key(org), FlaggedMembers)
    if index is not None:
        members = tuple(m for m in index.members if m != member)
        if members:
            ctx.store(flags_key(org), FlaggedMembers(members=members))
        else:
            ctx.delete(flags_key(org))


# --- reads -------------------------------------------------------------------------------


def exclusions_of(state: StateReader, member: str) -> MemberExclusions | None:
    return state.load(st.NAMESPACE, exclusion_key(member), MemberExclusions)


def flags_of(state: StateReader, org: str) -> list[Flag]:
    """An organisation's flags, in the order they were raised (one index read, then each)."""
    index = state.load(st.NAMESPACE, flags_key(org), FlaggedMembers)
    found = []
    for member in () if index is None else index.members:
        flag = state.load(st.NAMESPACE, flag_key(org, member), Flag)
        if flag is not None:
            found.append(flag)
    return found


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True)


ORG_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,62}$"


class OrgParams(BaseModel):
    org: str = Field(pattern=ORG_PATTERN, description="the organisation's id")


class FlagsReply(_Reply):
    """The members an organisation is flagged on, and by which regulators."""

    org: str
    height: int
    flags: list[Flag]


class MemberParams(BaseModel):
    """A member as two path segments: its organisation, and its id there."""

    org: str = Field(pattern=ORG_PATTERN, description="the member's organisation")
    member_id: str = Field(pattern=ORG_PATTERN, description="the member's id in it")

    @property
    def member(self) -> str:
        return f"{self.org}/{self.member_id}"


class ExclusionsReply(_Reply):
    """A member's exclusions by every regulator that listed them, standing or lifted."""

    member: str
    height: int
    entries: list[RegulatorExclusion]


def flags_view(reader: LedgerReader, params: OrgParams) -> FlagsReply:
    return FlagsReply(
        org=params.org, height=reader.height, flags=flags_of(reader.state, params.org)
    )


def exclusions_view(reader: LedgerReader, params: MemberParams) -> ExclusionsReply:
    record = exclusions_of(reader.state, params.member)
    return ExclusionsReply(
        member=params.member,
        height=reader.height,
        entries=[] if record is None else list(record.entries),
    )


VIEWS = (
    View(
        name="flags",
        path="/v1/credentials/orgs/{org}/flags",
        summary="The members an organisation holds privileges for who stand excluded",
        params=OrgParams,
        response=FlagsReply,
        run=flags_view,
    ),
    View(
        name="exclusions",
        path="/v1/credentials/members/{org}/{member_id}/exclusions",
        summary="A member's exclusions, standing and lifted, with history",
        params=MemberParams,
        response=ExclusionsReply,
        run=exclusions_view,
    ),
)
