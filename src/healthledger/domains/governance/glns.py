"""The GLN registry: which organisation holds which GS1 Global Location Number.

Two records keep it: `gln/<gln>` names the holder of one GLN (how an EPCIS party or
location resolves to an organisation) and `glns/<org>` lists an organisation's GLNs.
They are written together, here only. Every rule is checked when a claim is proposed
and again when it executes: two claims on one GLN may both be open, only the first to
reach quorum takes it. An organisation's GLNs are bounded (`MAX_LOCATION_GLNS` sites and
one party GLN), so releasing them all is a bounded walk.
"""

from __future__ import annotations

from collections.abc import Sequence

from healthledger.domains.governance import errors as e
from healthledger.domains.governance import queries
from healthledger.domains.governance import state as st
from healthledger.domains.governance.messages import MAX_LOCATION_GLNS
from healthledger.ledger.context import TxContext


def glns_of(ctx: TxContext, org_id: str) -> st.OrgGlns:
    return queries.glns_of(ctx.reader, org_id)


def holder(ctx: TxContext, gln: str) -> st.GlnHolder | None:
    return queries.gln_holder(ctx.reader, gln)


def require_claimable(
    ctx: TxContext, org_id: str, party: str | None, locations: Sequence[str]
) -> None:
    """No GLN held by anyone yet (the claimant included), at most one party GLN, and at
    most MAX_LOCATION_GLNS locations once these are added."""
    for gln in (*(() if party is None else (party,)), *locations):
        held = holder(ctx, gln)
        if held is not None:
            raise e.GlnHeld(gln, held.org)
    current = glns_of(ctx, org_id)
    if party is not None and current.party is not None:
        raise e.PartyGlnHeld(org_id, current.party)
    count = len(current.locations) + len(locations)
    if count > MAX_LOCATION_GLNS:
        raise e.TooManyGlns(org_id, count, MAX_LOCATION_GLNS)


def register(
    ctx: TxContext,
    org_id: str,
    party: str | None,
    locations: Sequence[str],
    proposal: str | None,
) -> None:
    """Make the GLNs the organisation's (the caller checked `require_claimable`)."""
    current = glns_of(ctx, org_id)
    height = ctx.block.height
    if party is not None:
        ctx.store(
            st.gln_key(party),
            st.GlnHolder(gln=party, org=org_id, kind="party", height=height, proposal=proposal),
        )
    for gln in locations:
        ctx.store(
            st.gln_key(gln),
            st.GlnHolder(gln=gln, org=org_id, kind="location", height=height, proposal=proposal),
        )
    updated = st.OrgGlns(
        org=org_id,
        party=current.party if party is None else party,
        locations=tuple(sorted({*current.locations, *locations})),
    )
    ctx.store(st.org_glns_key(org_id), updated)
    ctx.emit(
        "gln.registered",
        org=org_id,
        party=party,
        locations=list(locations),
        proposal=proposal,
    )


def require_held(ctx: TxContext, org_id: str, glns: Sequence[str]) -> None:
    for gln in glns:
        held = holder(ctx, gln)
        if held is None or held.org != org_id:
            raise e.GlnNotHeld(gln, org_id)


def release(ctx: TxContext, org_id: str, glns: Sequence[str], proposal: str | None) -> None:
    """Free GLNs the organisation holds (the caller checked `require_held`).

    Open proposals to release a freed GLN lapse with it: votes cast to free it from this
    holder must not free it from whoever claims it next.
    """
    current = glns_of(ctx, org_id)
    freed = set(glns)
    for gln in glns:
        ctx.delete(st.gln_key(gln))
        _lapse_release_proposals(ctx, gln, proposal)
    party = None if current.party in freed else current.party
    locations = tuple(gln for gln in current.locations if gln not in freed)
    if party is None and not locations:
        ctx.delete(st.org_glns_key(org_id))
    else:
        ctx.store(st.org_glns_key(org_id), st.OrgGlns(org=org_id, party=party, locations=locations))
    ctx.emit("gln.released", org=org_id, glns=list(glns), proposal=proposal)


def release_all(ctx: TxContext, org_id: str) -> None:
    """Free every GLN of an organisation (its removal): at most MAX_LOCATION_GLNS + 1."""
    held = glns_of(ctx, org_id).all()
    if held:
        release(ctx, org_id, held, None)


def _lapse_release_proposals(ctx: TxContext, gln: str, by: str | None) -> None:
    index = st.open_gln_release_key(gln)
    stored = ctx.load(index, st.ProposalIds)
    for proposal_id in () if stored is None else stored.root:
        if proposal_id == by:
            continue
        proposal = ctx.load(st.proposal_key(proposal_id), st.Proposal)
        if proposal is None or not proposal.is_open:
            continue
        update: dict[str, object] = {"status": st.SUPERSEDED}
        if by is not None:
            update["superseded_by"] = by
        ctx.store(st.proposal_key(proposal_id), proposal.model_copy(update=update))
        ctx.emit("org.proposal_superseded", proposal=proposal_id, by=by)
    if stored is not None:
        ctx.delete(index)
