"""Primary-source verification (PSV): who verified which credential, how, when; and its reuse.

An organisation records that it verified a credential at its source (`credential.psv`:
the method and the result); the block time is when. Another organisation deciding on the
member (a credentials committee) may rely on that record instead of verifying again
(`credential.psv_reuse`): each reuse is recorded with the record's age at that block and
whether it is within 120 days, NCQA's limit for a verification a decision rests on.

State in the credentials namespace:

psv/<credential id>              how many PSVs the credential has (at most MAX_PSV_PER_CREDENTIAL)
psv/<credential id>/<n>          the n-th PSV (its id is `<credential id>/<n>`)
psvuse/<psv id>/<k>              the k-th reuse of a PSV (the count is in the PSV record)
psv/<credential id>/by/<org>     how many of the credential's PSVs that organisation made
psvuse/<psv id>/by/<org>         how many reuses of the PSV that organisation made
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints

from healthledger.domains.credentials import queries as q
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.errors import UnknownCredential
from healthledger.domains.credentials.messages import CredentialId
from healthledger.domains.kit import Access, LedgerReader, View
from healthledger.errors import InvalidState, NotFound, TooLarge
from healthledger.ledger.context import Payload, StateModel, StateReader, TxContext

DAY_MS = 86_400_000
# NCQA: a verification a credentialing decision rests on is no older than 120 days.
REUSE_LIMIT_DAYS = 120
MAX_PSV_PER_CREDENTIAL = 256
MAX_REUSES_PER_PSV = 256
# Places one organisation may take of those bounds, so one verifier (or one reuser)
# cannot fill a credential's PSVs, or a PSV's reuses, and crowd every other one out.
MAX_PSV_PER_VERIFIER = 32
MAX_REUSES_PER_ORG = 32

Method = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
PsvId = Annotated[
    str,
    StringConstraints(
        pattern=r"^[a-z0-9][a-z0-9_-]{1,62}:[A-Za-z0-9][A-Za-z0-9._-]{0,63}/[0-9]{1,4}$"
    ),
]
Result = Literal["ok", "discrepancy"]


class CredentialPsv(Payload):
    """The sender verified `credential_id` at its primary source by `method`
    (`issuer_api`, `board_website`, `ledger` ...), with this result."""

    credential_id: CredentialId
    method: Method
    result: Result


class CredentialPsvReuse(Payload):
    """The sender relies on another organisation's PSV for a decision (short text)."""

    psv: PsvId
    decision: Annotated[str, StringConstraints(min_length=1, max_length=200)]


# --- state -------------------------------------------------------------------------------


class Psv(StateModel):
    id: str
    credential_id: str
    verifier: str
    method: str
    result: Result
    height: int
    time_ms: int
    reuses: int


class PsvReuse(StateModel):
    psv: str
    number: int
    by: str
    decision: str
    height: int
    time_ms: int
    age_days: int  # whole days between the verification and this reuse
    within_120_days: bool


class PsvCount(RootModel[int]):
    model_config = ConfigDict(frozen=True)


def count_key(credential_id: str) -> str:
    return f"psv/{credential_id}"


def psv_key(psv_id: str) -> str:
    return f"psv/{psv_id}"


def reuse_key(psv_id: str, number: int) -> str:
    return f"psvuse/{psv_id}/{number}"


def verifier_count_key(credential_id: str, org: str) -> str:
    return f"psv/{credential_id}/by/{org}"


def reuser_count_key(psv_id: str, org: str) -> str:
    return f"psvuse/{psv_id}/by/{org}"


def _taken(ctx: TxContext, key: str, limit: int, what: str) -> int:
    """One organisation's count under `key`, refused at `limit`; the count after this one."""
    found = ctx.load(key, PsvCount)
    count = 0 if found is None else found.root
    if count >= limit:
        raise TooLarge(f"{ctx.actor.id} has made {count} {what} already")
    ctx.store(key, PsvCount(count + 1))
    return count + 1


# --- handlers ----------------------------------------------------------------------------


def record_psv(ctx: TxContext, payload: CredentialPsv) -> None:
    if q.credential(ctx.reader, payload.credential_id) is None:
        raise UnknownCredential(payload.credential_id)
    found = ctx.load(count_key(payload.credential_id), PsvCount)
    count = 0 if found is None else found.root
    if count >= MAX_PSV_PER_CREDENTIAL:
        raise TooLarge(f"credential {payload.credential_id} has {count} PSVs already")
    where = verifier_count_key(payload.credential_id, ctx.actor.id)
    _taken(ctx, where, MAX_PSV_PER_VERIFIER, f"PSVs of {payload.credential_id}")
    psv_id = f"{payload.credential_id}/{count + 1}"
    ctx.store(
        psv_key(psv_id),
        Psv(
            id=psv_id,
            credential_id=payload.credential_id,
            verifier=ctx.actor.id,
            method=payload.method,
            result=payload.result,
            height=ctx.block.height,
            time_ms=ctx.block.time_ms,
            reuses=0,
        ),
    )
    ctx.store(count_key(payload.credential_id), PsvCount(count + 1))
    ctx.emit("credential.psv", psv=psv_id, result=payload.result)


def reuse_psv(ctx: TxContext, payload: CredentialPsvReuse) -> None:
    psv = ctx.load(psv_key(payload.psv), Psv)
    if psv is None:
        raise NotFound(f"no primary-source verification {payload.psv}")
    if psv.verifier == ctx.actor.id:
        raise InvalidState(f"{payload.psv} is {ctx.actor.id}'s own verification, not a reuse")
    if psv.reuses >= MAX_REUSES_PER_PSV:
        raise TooLarge(f"{payload.psv} has been reused {psv.reuses} times already")
    _taken(ctx, reuser_count_key(psv.id, ctx.actor.id), MAX_REUSES_PER_ORG, f"reuses of {psv.id}")
    elapsed = ctx.block.time_ms - psv.time_ms
    reuse = PsvReuse(
        psv=psv.id,
        number=psv.reuses + 1,
        by=ctx.actor.id,
        decision=payload.decision,
        height=ctx.block.height,
        time_ms=ctx.block.time_ms,
        age_days=elapsed // DAY_MS,
        within_120_days=elapsed <= REUSE_LIMIT_DAYS * DAY_MS,
    )
    ctx.store(reuse_key(psv.id, reuse.number), reuse)
    ctx.store(psv_key(psv.id), psv.model_copy(update={"reuses": reuse.number}))
    ctx.emit(
        "credential.psv_reused",
        psv=psv.id,
        age_days=reuse.age_days,
        within_120_days=reuse.within_120_days,
    )


# --- reads -------------------------------------------------------------------------------


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True)


class PsvEntry(_Reply):
    psv: Psv
    reuse_records: list[PsvReuse]


class PsvsReply(_Reply):
    """A credential's primary-source verifications, oldest first, each with its reuses."""

    credential_id: str
    height: int
    verifications: list[PsvEntry]


class CredentialParams(BaseModel):
    credential_id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{1,62}:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="the credential, `issuer:local`",
    )


def psvs_of(state: StateReader, credential_id: str) -> list[PsvEntry]:
    """Every PSV of a credential with its reuses (bounded point reads)."""
    found = state.load(st.NAMESPACE, count_key(credential_id), PsvCount)
    entries = []
    for n in range(1, 1 + (0 if found is None else found.root)):
        psv = state.load(st.NAMESPACE, psv_key(f"{credential_id}/{n}"), Psv)
        if psv is None:
            continue
        reuses = [
            reuse
            for k in range(1, psv.reuses + 1)
            if (reuse := state.load(st.NAMESPACE, reuse_key(psv.id, k), PsvReuse)) is not None
        ]
        entries.append(PsvEntry(psv=psv, reuse_records=reuses))
    return entries


def psvs_view(reader: LedgerReader, params: CredentialParams) -> PsvsReply:
    return PsvsReply(
        credential_id=params.credential_id,
        height=reader.height,
        verifications=psvs_of(reader.state, params.credential_id),
    )


VIEWS = (
    View(
        name="psv",
        path="/v1/credentials/anchors/{credential_id}/psv",
        summary="A credential's primary-source verifications and their reuses",
        params=CredentialParams,
        response=PsvsReply,
        run=psvs_view,
        access=Access.MEMBER,
    ),
)
