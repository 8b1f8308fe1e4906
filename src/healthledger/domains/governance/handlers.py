"""Apply the governance transactions: admission, removal, capabilities, enrolment, keys,
patients."""

from __future__ import annotations

from healthledger.crypto.keys import derive_patient_id, verify_signature
from healthledger.domains.governance import errors as e
from healthledger.domains.governance import glns
from healthledger.domains.governance import state as st
from healthledger.domains.governance.messages import (
    CARE_GIVING_ROLES,
    CapabilityPropose,
    GlnClaim,
    GlnRelease,
    KeyRotate,
    Limits,
    MemberCapability,
    MemberEnroll,
    MemberRevoke,
    OrgApprove,
    OrgEndpointPublish,
    OrgPropose,
    OrgSpec,
    PatientGuardians,
    PatientRecover,
    PatientRegister,
    voucher_message,
)
from healthledger.domains.governance.operations import VOUCHES, spend_allowance
from healthledger.domains.governance.queries import (
    limits,
    org_capabilities,
    org_role,
    resolve_actor,
)
from healthledger.errors import InvalidField, LedgerError
from healthledger.ledger.context import Actor, TxContext


def found(ctx: TxContext, quorum: tuple[int, int], rules: Limits, orgs: list[OrgSpec]) -> None:
    """The founding state of governance: the admission quorum, the limits, the founders."""
    numerator, denominator = quorum
    config = st.Config(quorum_numerator=numerator, quorum_denominator=denominator, limits=rules)
    ctx.store(st.CONFIG_KEY, config)
    ctx.store(st.STATS_KEY, st.Stats(active_orgs=0))
    for spec in orgs:
        admit_org(ctx, spec)


def admit_org(ctx: TxContext, spec: OrgSpec) -> None:
    """Write an organisation and index its signing key (genesis and approved proposals)."""
    _require_unused_key(ctx, spec.signing_key)
    ctx.store(st.org_key(spec.id), st.OrgRecord.admitted(spec, ctx.block.height))
    ctx.store(
        st.signing_key_key(spec.signing_key), st.key_record("org", spec.id, spec.id, spec.role)
    )
    _adjust_active_orgs(ctx, +1)
    ctx.emit("org.admitted", org=spec.id, role=spec.role)
    if spec.glns is not None:
        glns.register(ctx, spec.id, spec.glns.party, spec.glns.locations, None)
    if spec.validator is not None:
        ctx.store(st.validator_key(spec.validator.pub_key), st.ValidatorOwner(org=spec.id))
        ctx.emit(
            st.VALIDATOR_UPDATE,
            org=spec.id,
            pub_key=spec.validator.pub_key,
            power=spec.validator.power,
        )


# --- proposals -------------------------------------------------------------------------


def propose_org(ctx: TxContext, payload: OrgPropose) -> None:
    """Open a proposal; the proposer's own vote counts as the first approval."""
    target = _proposal_target(ctx, payload)
    proposer = _sender_org(ctx)
    index = st.open_proposals_key(target)
    proposal = st.Proposal(
        id="prop-" + ctx.tx_id[:16],
        action=payload.action,
        org=payload.org,
        org_id=target,
        proposer=proposer,
        approvals=(proposer,),
        status=st.OPEN,
        opened_height=ctx.block.height,
    )
    _open(ctx, proposal, index)
    ctx.emit("org.proposed", proposal=proposal.id, action=payload.action, org=target)
    _execute_if_quorum(ctx, proposal)


def propose_capability(ctx: TxContext, payload: CapabilityPropose) -> None:
    """Open a proposal to grant or withdraw an organisation's capability (one per proposer,
    target and capability); approved by `org.approve`, executed at the admission quorum."""
    proposer = _sender_org(ctx)
    _require_capability_change(ctx, payload.action, payload.org_id, payload.capability)
    if payload.org_id == proposer:
        raise e.OwnCapabilityVote(proposer)
    proposal = st.Proposal(
        id="prop-" + ctx.tx_id[:16],
        action=payload.action,
        org=None,
        org_id=payload.org_id,
        capability=payload.capability,
        proposer=proposer,
        approvals=(proposer,),
        status=st.OPEN,
        opened_height=ctx.block.height,
    )
    _open(ctx, proposal, st.open_capability_proposals_key(payload.org_id, payload.capability))
    ctx.emit(
        "capability.proposed",
        proposal=proposal.id,
        action=payload.action,
        org=payload.org_id,
        capability=payload.capability,
    )
    _execute_if_quorum(ctx, proposal)


def _open(ctx: TxContext, proposal: st.Proposal, index: str) -> None:
    """Store a new proposal and list it among the open ones on its target (one per proposer)."""
    siblings = _open_ids(ctx, index)
    for sibling in siblings:
        if _proposal(ctx, sibling).proposer == proposal.proposer:
            raise e.ProposalAlreadyOpen(proposal.proposer, sibling, _target_name(proposal))
    ctx.store(st.proposal_key(proposal.id), proposal)
    ctx.store(index, st.ProposalIds(tuple(sorted([*siblings, proposal.id]))))


def _target_name(proposal: st.Proposal) -> str:
    if proposal.action == "release_gln":
        return f"{proposal.org_id}'s GLN {(proposal.glns or ('',))[0]}"
    if proposal.capability is None:
        return proposal.org_id
    return f"{proposal.org_id}'s capability {proposal.capability}"


def approve_org(ctx: TxContext, payload: OrgApprove) -> None:
    """Approve any open proposal: an admission, a removal or a capability."""
    proposal = ctx.load(st.proposal_key(payload.proposal_id), st.Proposal)
    if proposal is None:
        raise e.NoProposal(payload.proposal_id)
    if not proposal.is_open:
        raise e.ProposalClosed(payload.proposal_id)
    voter = _sender_org(ctx)
    if voter in proposal.approvals:
        raise e.AlreadyApproved(voter, payload.proposal_id)
    if proposal.action == "remove" and voter == proposal.org_id:
        raise e.OwnRemovalVote()
    if proposal.about_capability and voter == proposal.org_id:
        raise e.OwnCapabilityVote(voter)
    if proposal.about_glns and voter == proposal.org_id:
        raise e.OwnGlnVote(voter)
    proposal = proposal.model_copy(
        update={"approvals": tuple(sorted([*proposal.approvals, voter]))}
    )
    ctx.store(st.proposal_key(payload.proposal_id), proposal)
    ctx.emit("org.approved", proposal=payload.proposal_id, org=voter)
    _execute_if_quorum(ctx, proposal)


def _execute_if_quorum(ctx: TxContext, proposal: st.Proposal) -> None:
    """Execute at quorum, counting only organisations active now, after re-checking the target.

    Every rule is checked again at execution: between opening and quorum the target may have
    been admitted or removed by a sibling proposal, and voters may have been removed.
    """
    electorate, votes = _electorate_and_votes(ctx, proposal)
    if not st.quorum_reached(votes, electorate, *_quorum_fraction(ctx)):
        return
    if proposal.action == "add":
        assert proposal.org is not None  # an 'add' proposal always names its org
        _require_admissible(ctx, proposal.org)
        admit_org(ctx, proposal.org)
    elif proposal.action == "remove":
        _require_removable(ctx, proposal.org_id)
        _remove_org(ctx, proposal.org_id)
    elif proposal.about_glns:
        _change_glns(ctx, proposal)
    else:
        _change_capability(ctx, proposal)
    executed = proposal.model_copy(
        update={"status": st.EXECUTED, "executed_height": ctx.block.height}
    )
    ctx.store(st.proposal_key(proposal.id), executed)
    ctx.emit("org.proposal_executed", proposal=proposal.id, action=proposal.action)
    _close_siblings(ctx, executed)


def _electorate_and_votes(ctx: TxContext, proposal: st.Proposal) -> tuple[int, int]:
    """Active organisations that may vote on this proposal, and how many of them approve.

    An organisation votes neither on its own removal nor on its own capabilities.
    """
    stats = ctx.load(st.STATS_KEY, st.Stats)
    electorate = 0 if stats is None else stats.active_orgs
    target = proposal.org_id
    if proposal.action != "add" and _is_active(ctx, target):
        electorate -= 1
    votes = sum(1 for org in proposal.approvals if org != target and _is_active(ctx, org))
    return electorate, votes


def _quorum_fraction(ctx: TxContext) -> tuple[int, int]:
    config = ctx.load(st.CONFIG_KEY, st.Config) or st.Config()
    return config.quorum_numerator, config.quorum_denominator


def _close_siblings(ctx: TxContext, executed: st.Proposal) -> None:
    """Other open proposals on the same target are settled by this one: close them."""
    key = _open_index(executed)
    for sibling_id in _open_ids(ctx, key):
        if sibling_id == executed.id:
            continue
        sibling = _proposal(ctx, sibling_id).model_copy(
            update={"status": st.SUPERSEDED, "superseded_by": executed.id}
        )
        ctx.store(st.proposal_key(sibling_id), sibling)
        ctx.emit("org.proposal_superseded", proposal=sibling_id, by=executed.id)
    ctx.delete(key)


def _open_index(proposal: st.Proposal) -> str:
    """The index listing the open proposals on this proposal's target."""
    if proposal.action == "claim_gln":
        return st.open_gln_claim_key(proposal.org_id)
    if proposal.action == "release_gln":
        return st.open_gln_release_key((proposal.glns or ("",))[0])
    if proposal.capability is None:
        return st.open_proposals_key(proposal.org_id)
    return st.open_capability_proposals_key(proposal.org_id, proposal.capability)


def _open_ids(ctx: TxContext, index: str) -> tuple[str, ...]:
    stored = ctx.load(index, st.ProposalIds)
    return () if stored is None else stored.root


def _proposal(ctx: TxContext, proposal_id: str) -> st.Proposal:
    """A proposal an index names (the index and the proposals are written together)."""
    proposal = ctx.load(st.proposal_key(proposal_id), st.Proposal)
    if proposal is None:
        raise e.NoProposal(proposal_id)
    return proposal


def _proposal_target(ctx: TxContext, payload: OrgPropose) -> str:
    if payload.action == "add":
        if payload.org is None or payload.org_id is not None:
            raise e.MisnamedTarget("add", "org")
        _require_admissible(ctx, payload.org)
        return payload.org.id
    if payload.org_id is None or payload.org is not None:
        raise e.MisnamedTarget("remove", "org_id")
    _require_removable(ctx, payload.org_id)
    if payload.org_id == _sender_org(ctx):
        raise e.OwnRemovalProposal()
    return payload.org_id


# --- capabilities ----------------------------------------------------------------------


def _require_capability_change(ctx: TxContext, action: str, org_id: str, capability: str) -> None:
    """A declared capability, an active organisation, and a change: not granted twice, not
    withdrawn when not held (checked when proposed, and again when executed)."""
    if capability not in ctx.capabilities:
        raise e.UnknownCapability(capability)
    if not _is_active(ctx, org_id):
        raise e.NoActiveOrg(org_id)
    held = capability in org_capabilities(ctx.reader, org_id)
    if action == "grant" and held:
        raise e.CapabilityHeld(org_id, capability)
    if action == "withdraw" and not held:
        raise e.CapabilityNotHeld(org_id, capability)


def _change_capability(ctx: TxContext, proposal: st.Proposal) -> None:
    """Grant or withdraw at quorum. A withdrawal leaves members' grants in place: they no
    longer count (`resolve_actor` checks them against the organisation's grant)."""
    assert proposal.capability is not None  # a capability proposal always names one
    org_id, capability = proposal.org_id, proposal.capability
    _require_capability_change(ctx, proposal.action, org_id, capability)
    granted = dict(org_capabilities(ctx.reader, org_id))
    if proposal.action == "grant":
        granted[capability] = proposal.id
    else:
        del granted[capability]
    _store_capabilities(ctx, st.org_capabilities_key(org_id), granted)
    event = f"capability.{_PAST[proposal.action]}"
    ctx.emit(event, org=org_id, capability=capability, proposal=proposal.id)


_PAST = {"grant": "granted", "withdraw": "withdrawn"}


def member_capability(ctx: TxContext, payload: MemberCapability) -> None:
    """An organisation passes one of its capabilities to an active member, or takes it back."""
    org_id = _sender_org(ctx)
    name, capability = f"{org_id}/{payload.member_id}", payload.capability
    if capability not in ctx.capabilities:
        raise e.UnknownCapability(capability)
    member = ctx.load(st.member_key(org_id, payload.member_id), st.MemberRecord)
    if member is None or not member.active:
        raise e.NoMember(payload.member_id, org_id)
    org_grant = org_capabilities(ctx.reader, org_id).get(capability)
    key = st.member_capabilities_key(org_id, payload.member_id)
    stored = ctx.load(key, st.Capabilities)
    granted = {} if stored is None else dict(stored.granted)
    held = org_grant is not None and granted.get(capability) == org_grant
    if payload.action == "grant":
        if org_grant is None:
            raise e.OrgLacksCapability(org_id, capability)
        if held:
            raise e.CapabilityHeld(name, capability)
        granted[capability] = org_grant
    else:
        if capability not in granted:
            raise e.CapabilityNotHeld(name, capability)
        del granted[capability]
    _store_capabilities(ctx, key, granted)
    event = (
        "member.capability_granted" if payload.action == "grant" else "member.capability_withdrawn"
    )
    ctx.emit(event, org=org_id, member=name, capability=capability)


def _store_capabilities(ctx: TxContext, key: str, granted: dict[str, str]) -> None:
    """Write the holder's capabilities; holding none leaves no key at all."""
    if granted:
        ctx.store(key, st.Capabilities(granted=granted))
    else:
        ctx.delete(key)


# --- GLNs ------------------------------------------------------------------------------


def claim_glns(ctx: TxContext, payload: GlnClaim) -> None:
    """The sender claims GLNs as its own: a proposal the other organisations approve.

    Refused at once if another organisation holds one of them; checked again when it
    executes. A new claim replaces the sender's open one (a claim that lost a race to
    another organisation's never blocks the next).
    """
    org_id = _sender_org(ctx)
    glns.require_claimable(ctx, org_id, payload.party, payload.locations)
    proposal = st.Proposal(
        id="prop-" + ctx.tx_id[:16],
        action="claim_gln",
        org=None,
        org_id=org_id,
        proposer=org_id,
        approvals=(org_id,),
        status=st.OPEN,
        opened_height=ctx.block.height,
        party_gln=payload.party,
        glns=tuple(payload.locations),
    )
    index = st.open_gln_claim_key(org_id)
    for earlier in _open_ids(ctx, index):
        replaced = _proposal(ctx, earlier).model_copy(
            update={"status": st.SUPERSEDED, "superseded_by": proposal.id}
        )
        ctx.store(st.proposal_key(earlier), replaced)
        ctx.emit("org.proposal_superseded", proposal=earlier, by=proposal.id)
    ctx.store(st.proposal_key(proposal.id), proposal)
    ctx.store(index, st.ProposalIds((proposal.id,)))
    ctx.emit(
        "gln.proposed",
        proposal=proposal.id,
        action="claim",
        org=org_id,
        party=payload.party,
        locations=list(payload.locations),
    )
    _execute_if_quorum(ctx, proposal)


def release_glns(ctx: TxContext, payload: GlnRelease) -> None:
    """The holder frees its GLNs at once; another organisation proposes freeing one."""
    sender = _sender_org(ctx)
    holder = payload.org_id or sender
    glns.require_held(ctx, holder, payload.glns)
    if holder == sender:
        glns.release(ctx, sender, payload.glns, None)
        return
    if len(payload.glns) != 1:
        raise e.OneGlnPerRelease()
    proposal = st.Proposal(
        id="prop-" + ctx.tx_id[:16],
        action="release_gln",
        org=None,
        org_id=holder,
        proposer=sender,
        approvals=(sender,),
        status=st.OPEN,
        opened_height=ctx.block.height,
        glns=tuple(payload.glns),
    )
    _open(ctx, proposal, st.open_gln_release_key(payload.glns[0]))
    ctx.emit("gln.proposed", proposal=proposal.id, action="release", org=holder, glns=payload.glns)
    _execute_if_quorum(ctx, proposal)


def _change_glns(ctx: TxContext, proposal: st.Proposal) -> None:
    """Register a claim or free a GLN at quorum, after checking again: another claim on
    the same GLN may have executed since this one was proposed."""
    if not _is_active(ctx, proposal.org_id):
        raise e.NoActiveOrg(proposal.org_id)
    locations = proposal.glns or ()
    if proposal.action == "claim_gln":
        glns.require_claimable(ctx, proposal.org_id, proposal.party_gln, locations)
        glns.register(ctx, proposal.org_id, proposal.party_gln, locations, proposal.id)
    else:
        glns.require_held(ctx, proposal.org_id, locations)
        glns.release(ctx, proposal.org_id, locations, proposal.id)


# --- members and keys ------------------------------------------------------------------


def enroll_member(ctx: TxContext, payload: MemberEnroll) -> None:
    org_id = _sender_org(ctx)
    key = st.member_key(org_id, payload.member_id)
    if _stored(ctx, key):
        raise e.MemberExists(payload.member_id)
    _require_unused_key(ctx, payload.signing_key)
    record = st.MemberRecord(**payload.model_dump(), org=org_id, status=st.ACTIVE)
    ctx.store(key, record)
    actor_id = f"{org_id}/{payload.member_id}"
    ctx.store(
        st.signing_key_key(payload.signing_key),
        st.key_record("member", actor_id, org_id, payload.role),
    )
    ctx.emit("member.enrolled", org=org_id, member=actor_id, role=payload.role)


def revoke_member(ctx: TxContext, payload: MemberRevoke) -> None:
    org_id = _sender_org(ctx)
    key = st.member_key(org_id, payload.member_id)
    member = ctx.load(key, st.MemberRecord)
    if member is None:
        raise e.NoMember(payload.member_id, org_id)
    if not member.active:
        raise e.MemberRevoked(payload.member_id)
    ctx.store(key, member.model_copy(update={"status": st.REVOKED}))
    _revoke_signing_key(ctx, member.signing_key)
    ctx.emit("member.revoked", org=org_id, member=f"{org_id}/{payload.member_id}")


def rotate_key(ctx: TxContext, payload: KeyRotate) -> None:
    """Move the sender's identity to a new key and revoke the old one."""
    actor = ctx.actor
    _require_unused_key(ctx, payload.signing_key)
    record_key = st.actor_record_key(actor.kind, actor.id)
    model = _ACTOR_RECORDS.get(actor.kind, st.PatientRecord)
    record = ctx.load(record_key, model)
    if record is None:
        raise e.NoActorRecord(actor.id)
    keys = {"signing_key": payload.signing_key, "encryption_key": payload.encryption_key}
    ctx.store(record_key, record.model_copy(update=keys))
    _revoke_signing_key(ctx, actor.key_id)
    ctx.store(
        st.signing_key_key(payload.signing_key),
        st.key_record(actor.kind, actor.id, actor.org, actor.role),
    )
    ctx.emit("key.rotated", actor=actor.id, kind=actor.kind)


_ACTOR_RECORDS: dict[str, type[st.OrgRecord | st.MemberRecord | st.PatientRecord]] = {
    "org": st.OrgRecord,
    "member": st.MemberRecord,
    "patient": st.PatientRecord,
}


# --- patients --------------------------------------------------------------------------


def register_patient(ctx: TxContext, payload: PatientRegister) -> None:
    """A new key registers itself as a patient, vouched for by care or a representative.

    The key signs the transaction (it proves possession); the voucher's signature binds the
    chain and both of the patient's keys. A per-block cap bounds how fast anyone, vouchers
    included, can grow the patient register.
    """
    signing_key = ctx.actor.key_id
    patient_id = derive_patient_id(signing_key)
    _require_unused_key(ctx, signing_key)
    _count_registration(ctx)
    voucher = _accept_voucher(ctx, payload)
    record = st.PatientRecord(
        id=patient_id,
        signing_key=signing_key,
        encryption_key=payload.encryption_key,
        registered_height=ctx.block.height,
        vouched_by=voucher.id,
        voucher_kind=voucher.kind,
    )
    ctx.store(st.patient_key(patient_id), record)
    ctx.store(
        st.signing_key_key(signing_key), st.key_record("patient", patient_id, None, "patient")
    )
    ctx.emit("patient.registered", patient=patient_id, vouched_by=voucher.id)


def _count_registration(ctx: TxContext) -> None:
    cap = limits(ctx.reader).registrations_per_block
    counter = ctx.load(st.REGISTRATIONS_KEY, st.Registrations) or st.Registrations()
    count = counter.count if counter.height == ctx.block.height else 0
    if count >= cap:
        raise e.RegistrationsFull(cap)
    ctx.store(st.REGISTRATIONS_KEY, st.Registrations(height=ctx.block.height, count=count + 1))


def _accept_voucher(ctx: TxContext, payload: PatientRegister) -> Actor:
    """Who vouches: an active care-giving organisation, its staff, or a registered patient."""
    message = voucher_message(ctx.chain_id, ctx.actor.key_id, payload.encryption_key)
    verify_signature(payload.voucher.key, message, bytes.fromhex(payload.voucher.signature))
    try:
        voucher = resolve_actor(ctx.reader, payload.voucher.key, allow_new=False)
    except LedgerError as exc:
        raise e.VoucherRefused(exc.message) from exc
    if voucher.kind == "patient":
        _require_care_vouched(ctx, voucher.id)
        _count_patient_vouch(ctx, voucher.id)
    elif org_role(ctx.reader, voucher.org) not in CARE_GIVING_ROLES:
        raise e.NotCareVoucher()
    return voucher


def _require_care_vouched(ctx: TxContext, patient_id: str) -> None:
    """Only a patient whom care vouched for may vouch in turn: no chains that double daily."""
    record = ctx.load(st.patient_key(patient_id), st.PatientRecord)
    if record is None or record.voucher_kind not in ("org", "member"):
        raise e.NotCareVouched(patient_id)


def _count_patient_vouch(ctx: TxContext, patient_id: str) -> None:
    """A patient vouches for a few people a day (a parent for children), not for a crowd."""
    cap = limits(ctx.reader).vouches_per_patient_per_day
    spend_allowance(ctx, patient_id, VOUCHES, cap)


def set_guardians(ctx: TxContext, payload: PatientGuardians) -> None:
    """Name recovery guardians: people, never organisations, so no institution holds the keys."""
    if ctx.actor.kind != "patient":
        raise e.PatientsOnly()
    guardians = sorted(set(payload.guardians))
    if ctx.actor.id in guardians:
        raise e.SelfGuardian()
    if payload.threshold > len(guardians):
        raise e.ThresholdTooHigh()
    for guardian in guardians:
        if not _stored(ctx, st.person_record_key(guardian)):
            raise e.NoPerson(guardian)
    key = st.patient_key(ctx.actor.id)
    record = _patient(ctx, ctx.actor.id)
    update = {"guardians": tuple(guardians), "guardian_threshold": payload.threshold}
    ctx.store(key, record.model_copy(update=update))
    ctx.delete(st.recovery_key(ctx.actor.id))
    ctx.emit("patient.guardians_set", patient=ctx.actor.id, threshold=payload.threshold)


def recover_patient(ctx: TxContext, payload: PatientRecover) -> None:
    """Count a guardian's vote for new keys; at the threshold the patient's keys are replaced."""
    record = _patient(ctx, payload.patient)
    guardian = ctx.actor.id
    if guardian not in (record.guardians or ()):
        raise e.NotGuardian(guardian, payload.patient)
    _require_unused_key(ctx, payload.signing_key)
    pending = ctx.load(st.recovery_key(payload.patient), st.Recovery)
    candidate = st.CandidateKeys(
        signing_key=payload.signing_key, encryption_key=payload.encryption_key
    )
    if pending is None or pending.candidate != candidate:
        pending = st.Recovery(candidate=candidate)
    if guardian in pending.approvals:
        raise e.AlreadyVouched(guardian)
    pending = pending.model_copy(
        update={"approvals": tuple(sorted([*pending.approvals, guardian]))}
    )
    ctx.emit("patient.recovery_vouched", patient=payload.patient, guardian=guardian)
    if len(pending.approvals) < (record.guardian_threshold or 0):
        ctx.store(st.recovery_key(payload.patient), pending)
        return
    _replace_patient_keys(ctx, record, payload)
    ctx.delete(st.recovery_key(payload.patient))


def _patient(ctx: TxContext, patient_id: str) -> st.PatientRecord:
    record = ctx.load(st.patient_key(patient_id), st.PatientRecord)
    if record is None:
        raise e.NoPatient(patient_id)
    return record


def _replace_patient_keys(
    ctx: TxContext, record: st.PatientRecord, payload: PatientRecover
) -> None:
    _revoke_signing_key(ctx, record.signing_key)
    keys = {"signing_key": payload.signing_key, "encryption_key": payload.encryption_key}
    ctx.store(st.patient_key(payload.patient), record.model_copy(update=keys))
    ctx.store(
        st.signing_key_key(payload.signing_key),
        st.key_record("patient", payload.patient, None, "patient"),
    )
    ctx.emit("patient.recovered", patient=payload.patient)


# --- the directory ---------------------------------------------------------------------


def publish_endpoint(ctx: TxContext, payload: OrgEndpointPublish) -> None:
    """An organisation (its own key: the declared sender) says where its node serves.

    The entry names no organisation but the sender, so no one publishes for another.
    """
    org_id = _sender_org(ctx)
    if len(set(payload.endpoints)) != len(payload.endpoints):
        raise e.DuplicateEndpoint(_first_repeat(payload.endpoints))
    if payload.replica is not None:
        if payload.replica == org_id:
            raise e.OwnReplica(org_id)
        if not _is_active(ctx, payload.replica):
            raise e.NoActiveOrg(payload.replica)
    entry = st.OrgEndpoint(
        org=org_id,
        endpoints=tuple(payload.endpoints),
        node_key=payload.node_key,
        replica=payload.replica,
        height=ctx.block.height,
        time_ms=ctx.block.time_ms,
        replica_for=_replica_for(ctx, org_id, payload.replica_for),
    )
    ctx.store(st.endpoint_key(org_id), entry)
    ctx.emit("org.endpoint", org=org_id, node_key=payload.node_key, replica=payload.replica)


def _replica_for(ctx: TxContext, org_id: str, named: list[str] | None) -> tuple[str, ...] | None:
    """The organisations whose replicas this one agrees to keep: active others, once each."""
    if not named:
        return None
    if len(set(named)) != len(named):
        raise InvalidField(f"replica_for names {_first_repeat(named)} twice")
    for org in named:
        if org == org_id:
            raise e.OwnReplica(org_id)
        if not _is_active(ctx, org):
            raise e.NoActiveOrg(org)
    return tuple(sorted(named))


def _first_repeat(values: list[str]) -> str:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return ""


# --- organisations ---------------------------------------------------------------------


def _is_active(ctx: TxContext, org_id: str) -> bool:
    record = ctx.load(st.org_key(org_id), st.OrgRecord)
    return record is not None and record.active


def _require_admissible(ctx: TxContext, spec: OrgSpec) -> None:
    """An organisation id is admitted once, ever; its keys must still be unused."""
    if _stored(ctx, st.org_key(spec.id)):
        raise e.OrgExists(spec.id)
    _require_unused_key(ctx, spec.signing_key)
    _require_unused_validator(ctx, spec)
    if spec.glns is not None:
        glns.require_claimable(ctx, spec.id, spec.glns.party, spec.glns.locations)


def _require_removable(ctx: TxContext, org_id: str) -> None:
    record = ctx.load(st.org_key(org_id), st.OrgRecord)
    if record is None or not record.active:
        raise e.NoActiveOrg(org_id)
    if record.validator is not None and record.joined_height == ctx.block.height:
        raise e.ValidatorJustJoined(org_id)


def _remove_org(ctx: TxContext, org_id: str) -> None:
    """Removal revokes the organisation's key; its members' keys stop being accepted with it.

    An organisation is removed once (the caller re-checked it is active), so its validator
    power drops to 0 exactly once.
    """
    record = ctx.load(st.org_key(org_id), st.OrgRecord)
    assert record is not None  # the caller checked it is active
    ctx.store(st.org_key(org_id), record.model_copy(update={"status": st.REMOVED}))
    _revoke_signing_key(ctx, record.signing_key)
    # Its directory entry ends with it (one key): no reader is sent to a removed node.
    if _stored(ctx, st.endpoint_key(org_id)):
        ctx.delete(st.endpoint_key(org_id))
        ctx.emit("org.endpoint_ended", org=org_id)
    # Its GLNs are freed with it: no event is resolved to a removed organisation.
    glns.release_all(ctx, org_id)
    _adjust_active_orgs(ctx, -1)
    ctx.emit("org.removed", org=org_id)
    if record.validator is not None:
        ctx.emit(st.VALIDATOR_UPDATE, org=org_id, pub_key=record.validator.pub_key, power=0)


def _adjust_active_orgs(ctx: TxContext, delta: int) -> None:
    stats = ctx.load(st.STATS_KEY, st.Stats) or st.Stats()
    ctx.store(st.STATS_KEY, st.Stats(active_orgs=stats.active_orgs + delta))


def _revoke_signing_key(ctx: TxContext, key_id: str) -> None:
    key = st.signing_key_key(key_id)
    record = ctx.load(key, st.KeyRecord)
    if record is not None:
        ctx.store(key, record.model_copy(update={"status": st.REVOKED}))


def _require_unused_key(ctx: TxContext, key_id: str) -> None:
    """A signing key belongs to one actor, ever: reuse would make senders ambiguous."""
    if _stored(ctx, st.signing_key_key(key_id)):
        raise e.KeyInUse(key_id)


def _require_unused_validator(ctx: TxContext, spec: OrgSpec) -> None:
    if spec.validator is not None and _stored(ctx, st.validator_key(spec.validator.pub_key)):
        raise e.ValidatorKeyInUse(spec.validator.pub_key)


def _stored(ctx: TxContext, key: str) -> bool:
    """Whether this namespace holds anything at `key` (of any shape)."""
    return ctx.read_raw(ctx.namespace, key) is not None


def _sender_org(ctx: TxContext) -> str:
    if ctx.actor.org is None:
        raise e.OrgsOnly()
    return ctx.actor.org
