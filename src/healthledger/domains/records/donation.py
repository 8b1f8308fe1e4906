"""Organ-donation decisions: a patient's consent to donate (or not), changed or withdrawn.

A decision is a consent the ledger can prove: the patient (or a representative
holding the `grant` power; `revoke` to withdraw) records which organs and tissues
they would give, or none, and whether for research too. A new decision replaces
the current one; a withdrawal ends it, from the next block. A transplant
coordinator asks through their organisation's node, which records the question
as a `record.access` (action `donation`) in the patient's accounting of
disclosures before it answers (`node/custodian/donation.py`).

State in the records namespace:

donation/<pat>                       the current decision, or its withdrawal (the truth)
donation/<pat>/<version:012>         each version as made; the newest MAX_VERSIONS are kept
                                     (older ones stay provable by their transactions)
donation_count/<org>/<counted as>    patients counted under an organisation whose current
                                     state is donate, do_not_donate or withdrawn

Counts are kept by the handlers as decisions move, never by a walk at query time.
A patient is counted under the organisation that vouched for them at registration
(a member's organisation; for a patient vouched for by another patient, that
patient's vouching organisation; "none" if there is none), fixed at the first decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, RootModel

from healthledger.domains.governance import queries as gov
from healthledger.domains.kit import Access, LedgerReader, ProvenValue, View
from healthledger.domains.records import handlers as h
from healthledger.domains.records.messages import AppointmentId, PatientId
from healthledger.domains.records.replies import AccessSummary, JsonObject, Reply
from healthledger.domains.records.state import NAMESPACE
from healthledger.errors import Conflict, InvalidField, NotFound, Unauthorized
from healthledger.ledger.context import Payload, StateModel, StateReader, TxContext

Organ = Literal[
    "all",  # every organ and tissue, alone
    "heart",
    "lungs",
    "liver",
    "kidneys",
    "pancreas",
    "intestine",
    "corneas",
    "skin",
    "bone",
    "heart_valves",
    "tendons",
    "blood_vessels",
]
ORGANS: tuple[str, ...] = get_args(Organ)
Choice = Literal["donate", "do_not_donate"]
CountedAs = Literal["donate", "do_not_donate", "withdrawn"]
COUNTED_AS: tuple[str, ...] = get_args(CountedAs)
CURRENT = "current"
WITHDRAWN = "withdrawn"
NO_ORG = "none"
# Versions kept in state per patient; each earlier one stays in its transaction's proof.
MAX_VERSIONS = 20
# Public counts below this are shown as suppressed: one or two donors of a small clinic
# would be too easy to single out by whoever knows who registered there.
MIN_PUBLISHED = 5
# One page of counts: organisations times three decisions.
MAX_COUNT_ROWS = 3_000


# --- transactions ------------------------------------------------------------------------


class DonationDecide(Payload):
    """A patient (or representative) records or changes a decision to donate, or not."""

    patient: PatientId
    decision: Choice
    organs: Annotated[list[Organ], Field(max_length=len(ORGANS), default_factory=list)]
    research: bool = False
    appointment_id: AppointmentId | None = None


class DonationWithdraw(Payload):
    """A patient (or representative) withdraws their current decision."""

    patient: PatientId
    appointment_id: AppointmentId | None = None


# --- state -------------------------------------------------------------------------------


class DonationState(StateModel):
    """A patient's donation decision as made (version), and its withdrawal if withdrawn."""

    patient: str
    version: int
    status: Literal["current", "withdrawn"]
    decision: str
    organs: tuple[str, ...]
    research: bool
    decided_height: int
    decided_ms: int
    decided_by: str
    decided_appointment: str | None
    counted_under: str  # the organisation the public counts put this patient under
    withdrawn_height: int | None
    withdrawn_ms: int | None
    withdrawn_by: str | None
    withdrawn_appointment: str | None

    @property
    def counted_as(self) -> str:
        return WITHDRAWN if self.status == WITHDRAWN else self.decision


class DonationCount(RootModel[int]):
    """How many patients counted under an organisation are in one state."""

    model_config = ConfigDict(frozen=True)


def donation_key(patient: str) -> str:
    return f"donation/{patient}"


def version_key(patient: str, version: int) -> str:
    return f"donation/{patient}/{version:012d}"


COUNT_PREFIX = "donation_count/"


def count_key(org: str, counted_as: str) -> str:
    return f"{COUNT_PREFIX}{org}/{counted_as}"


# --- errors ------------------------------------------------------------------------------


class NoDonationDecision(NotFound):
    def __init__(self, patient: str) -> None:
        super().__init__(f"{patient} has no donation decision")
        self.patient = patient


class DonationWithdrawn(Conflict):
    def __init__(self, patient: str) -> None:
        super().__init__(f"{patient}'s donation decision is already withdrawn")
        self.patient = patient


# --- handlers ----------------------------------------------------------------------------


def decide_donation(ctx: TxContext, payload: DonationDecide) -> None:
    """Record a decision, or replace the current one (the earlier stays provable)."""
    h._require_patient(ctx, payload.patient)
    if not h._acts_for(ctx, payload.patient, "grant", payload.appointment_id):
        raise Unauthorized(f"only {payload.patient} or their representative may decide")
    organs = checked_organs(payload.decision, payload.organs)
    current = ctx.load(donation_key(payload.patient), DonationState)
    if current is None:
        counted_under = counting_org(ctx.reader, payload.patient)
    else:
        counted_under = current.counted_under
        _count(ctx, counted_under, current.counted_as, -1)
    decided = DonationState(
        patient=payload.patient,
        version=1 if current is None else current.version + 1,
        status=CURRENT,
        decision=payload.decision,
        organs=organs,
        research=payload.research,
        decided_height=ctx.block.height,
        decided_ms=ctx.block.time_ms,
        decided_by=ctx.actor.id,
        decided_appointment=payload.appointment_id,
        counted_under=counted_under,
        withdrawn_height=None,
        withdrawn_ms=None,
        withdrawn_by=None,
        withdrawn_appointment=None,
    )
    _count(ctx, counted_under, decided.counted_as, +1)
    _store_version(ctx, decided)
    # The decision itself stays in the state, shown to coordinators through an audited read.
    ctx.emit("donation.decided", patient=payload.patient, version=decided.version)


def withdraw_donation(ctx: TxContext, payload: DonationWithdraw) -> None:
    """End the current decision: from the next block the answer is `withdrawn`."""
    h._require_patient(ctx, payload.patient)
    if not h._acts_for(ctx, payload.patient, "revoke", payload.appointment_id):
        raise Unauthorized(f"only {payload.patient} or their representative may withdraw")
    current = ctx.load(donation_key(payload.patient), DonationState)
    if current is None:
        raise NoDonationDecision(payload.patient)
    if current.status == WITHDRAWN:
        raise DonationWithdrawn(payload.patient)
    withdrawn = current.model_copy(
        update={
            "version": current.version + 1,
            "status": WITHDRAWN,
            "withdrawn_height": ctx.block.height,
            "withdrawn_ms": ctx.block.time_ms,
            "withdrawn_by": ctx.actor.id,
            "withdrawn_appointment": payload.appointment_id,
        }
    )
    _count(ctx, current.counted_under, current.counted_as, -1)
    _count(ctx, current.counted_under, WITHDRAWN, +1)
    _store_version(ctx, withdrawn)
    ctx.emit("donation.withdrawn", patient=payload.patient, version=withdrawn.version)


def checked_organs(decision: str, organs: Sequence[str]) -> tuple[str, ...]:
    """The organs of a decision: some (or `all`) to donate, none when not donating."""
    if decision == "do_not_donate":
        if organs:
            raise InvalidField("a decision not to donate names no organs")
        return ()
    if not organs:
        raise InvalidField("a decision to donate names the organs and tissues, or 'all'")
    if len(set(organs)) != len(organs):
        raise InvalidField("an organ is named twice")
    if "all" in organs and len(organs) > 1:
        raise InvalidField("'all' means every organ and tissue: name it alone")
    return tuple(sorted(organs))


def counting_org(state: StateReader, patient: str) -> str:
    """The organisation a patient is counted under: the one that vouched for them."""
    record = gov.patient(state, patient)
    if record is None:
        return NO_ORG
    if record.voucher_kind == "patient":  # vouched for by a patient whom care vouched for
        record = gov.patient(state, record.vouched_by)
        if record is None or record.voucher_kind == "patient":
            return NO_ORG
    return record.vouched_by.split("/", 1)[0]  # an organisation, or `org/member`


def _count(ctx: TxContext, org: str, counted_as: str, change: int) -> None:
    key = count_key(org, counted_as)
    found = ctx.load(key, DonationCount)
    count = (0 if found is None else found.root) + change
    if count < 0:  # the counts and the decisions are written together: this cannot happen
        raise InvalidField(f"donation count {org}/{counted_as} would go below zero")
    if count == 0:
        ctx.delete(key)
    else:
        ctx.store(key, DonationCount(count))


def _store_version(ctx: TxContext, state: DonationState) -> None:
    ctx.store(donation_key(state.patient), state)
    ctx.store(version_key(state.patient, state.version), state)
    if state.version > MAX_VERSIONS:
        ctx.delete(version_key(state.patient, state.version - MAX_VERSIONS))


# --- reads -------------------------------------------------------------------------------


def donation_state(state: StateReader, patient: str) -> DonationState | None:
    return state.load(NAMESPACE, donation_key(patient), DonationState)


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True)


class CountRow(_Reply):
    """Patients counted under one organisation in one state; no identities."""

    org: str = Field(description='the vouching organisation, or "none"')
    decision: CountedAs
    count: int | None = Field(description=f"null when fewer than {MIN_PUBLISHED} (suppressed)")
    suppressed: bool
    proof: ProvenValue | None = Field(description="the count's state proof (absent if suppressed)")


class DonationCounts(_Reply):
    """Donation decisions per organisation and decision, each count proven."""

    height: int
    min_published: int
    rows: list[CountRow]


class NoParams(BaseModel):
    """The counts are read whole (one page)."""


def donation_counts(reader: LedgerReader, _params: NoParams) -> DonationCounts:
    """Every organisation's counts, from the counters the handlers keep (no walk)."""
    rows = []
    for key, value in reader.scan(NAMESPACE, COUNT_PREFIX, MAX_COUNT_ROWS):
        org, _, counted_as = key.removeprefix(COUNT_PREFIX).rpartition("/")
        count = DonationCount.model_validate_json(value).root
        shown = count >= MIN_PUBLISHED
        rows.append(
            CountRow.model_validate(
                {
                    "org": org,
                    "decision": counted_as,
                    "count": count if shown else None,
                    "suppressed": not shown,
                    "proof": reader.proven(NAMESPACE, key) if shown else None,
                }
            )
        )
    return DonationCounts(height=reader.height, min_published=MIN_PUBLISHED, rows=rows)


class DonationStatus(Reply):
    """A coordinator's answer: the patient's decision now, after the question was audited.

    `status` is `none` (never decided), `current` or `withdrawn`; `receipt` is the access
    event (a proven transaction), `state` the proven `donation/<pat>` the answer is read from.
    """

    patient: str
    status: Literal["none", "current", "withdrawn"]
    decision: str | None
    organs: list[str]
    research: bool | None
    version: int | None
    decided_height: int | None
    withdrawn_height: int | None
    access: AccessSummary
    receipt: JsonObject
    state: JsonObject

    @staticmethod
    def fields_of(decision: DonationState | None) -> JsonObject:
        """The answer's fields that come from the decision (or its absence)."""
        if decision is None:
            return {
                "status": "none",
                "decision": None,
                "organs": [],
                "research": None,
                "version": None,
                "decided_height": None,
                "withdrawn_height": None,
            }
        return {
            "status": decision.status,
            "decision": decision.decision,
            "organs": list(decision.organs),
            "research": decision.research,
            "version": decision.version,
            "decided_height": decision.decided_height,
            "withdrawn_height": decision.withdrawn_height,
        }


VIEWS = (
    View(
        name="donation_counts",
        path="/v1/donation/counts",
        summary="Organ-donation decisions counted per organisation and decision (no identities)",
        params=NoParams,
        response=DonationCounts,
        run=donation_counts,
        access=Access.PUBLIC,
    ),
)
