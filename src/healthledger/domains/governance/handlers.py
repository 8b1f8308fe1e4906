"""Apply the governance transactions: admission, removal, enrolment, keys, patients."""

from __future__ import annotations

from typing import Any

from healthledger.crypto.keys import derive_patient_id, verify_signature
from healthledger.domains.governance import state as st
from healthledger.domains.governance.messages import (
    CARE_GIVING_ROLES,
    KeyRotate,
    MemberEnroll,
    MemberRevoke,
    OrgApprove,
    OrgPropose,
    OrgSpec,
    PatientGuardians,
    PatientRecover,
    PatientRegister,
    voucher_message,
)
from healthledger.domains.governance.operations import VOUCHES, spend_allowance
from healthledger.domains.governance.queries import limits, org_role, resolve_actor
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.context import Actor, TxContext


def org_record(spec: OrgSpec, height: int) -> dict[str, Any]:
    return {**spec.model_dump(), "status": st.ACTIVE, "joined_height": height}


def admit_org(ctx: TxContext, spec: OrgSpec) -> None:
    """Write an organisation and index its signing key (genesis and approved proposals)."""
    _require_unused_key(ctx, spec.signing_key)
    ctx.put(st.org_key(spec.id), org_record(spec, ctx.block.height))
    ctx.put(st.signing_key_key(spec.signing_key), st.key_record("org", spec.id, spec.id, spec.role))
    _adjust_active_orgs(ctx, +1)
    ctx.emit("org.admitted", org=spec.id, role=spec.role)
    if spec.validator is not None:
        ctx.put(st.validator_key(spec.validator.pub_key), {"org": spec.id})
        ctx.emit(
            st.VALIDATOR_UPDATE,
            org=spec.id,
            pub_key=spec.validator.pub_key,
            power=spec.validator.power,
        )


def propose_org(ctx: TxContext, payload: OrgPropose) -> None:
    """Open a proposal; the proposer's own vote counts as the first approval."""
    target = _proposal_target(ctx, payload)
    proposer = _sender_org(ctx)
    siblings = ctx.get(st.open_proposals_key(target)) or []
    for sibling in siblings:
        if ctx.get(st.proposal_key(sibling))["proposer"] == proposer:
            raise LedgerError(
                f"{proposer} already has proposal {sibling} open on {target}", ErrorCode.CONFLICT
            )
    proposal_id = "prop-" + ctx.tx_id[:16]
    proposal = {
        "id": proposal_id,
        "action": payload.action,
        "org": payload.org.model_dump() if payload.org else None,
        "org_id": target,
        "proposer": proposer,
        "approvals": [proposer],
        "status": st.OPEN,
        "opened_height": ctx.block.height,
    }
    ctx.put(st.proposal_key(proposal_id), proposal)
    ctx.put(st.open_proposals_key(target), sorted([*siblings, proposal_id]))
    ctx.emit("org.proposed", proposal=proposal_id, action=payload.action, org=target)
    _execute_if_quorum(ctx, proposal)


def approve_org(ctx: TxContext, payload: OrgApprove) -> None:
    proposal = ctx.get(st.proposal_key(payload.proposal_id))
    if proposal is None:
        raise LedgerError(f"no proposal {payload.proposal_id}", ErrorCode.NOT_FOUND)
    if proposal["status"] != st.OPEN:
        raise LedgerError(f"proposal {payload.proposal_id} is closed", ErrorCode.INVALID_STATE)
    voter = _sender_org(ctx)
    if voter in proposal["approvals"]:
        raise LedgerError(f"{voter} already approved {payload.proposal_id}", ErrorCode.CONFLICT)
    if proposal["action"] == "remove" and voter == proposal["org_id"]:
        raise LedgerError("an organisation cannot vote on its own removal", ErrorCode.UNAUTHORIZED)
    proposal["approvals"] = sorted([*proposal["approvals"], voter])
    ctx.put(st.proposal_key(payload.proposal_id), proposal)
    ctx.emit("org.approved", proposal=payload.proposal_id, org=voter)
    _execute_if_quorum(ctx, proposal)


def enroll_member(ctx: TxContext, payload: MemberEnroll) -> None:
    org_id = _sender_org(ctx)
    key = st.member_key(org_id, payload.member_id)
    if ctx.get(key) is not None:
        raise LedgerError(f"member {payload.member_id} already enrolled", ErrorCode.ALREADY_EXISTS)
    _require_unused_key(ctx, payload.signing_key)
    record = {**payload.model_dump(), "org": org_id, "status": st.ACTIVE}
    ctx.put(key, record)
    actor_id = f"{org_id}/{payload.member_id}"
    ctx.put(
        st.signing_key_key(payload.signing_key),
        st.key_record("member", actor_id, org_id, payload.role),
    )
    ctx.emit("member.enrolled", org=org_id, member=actor_id, role=payload.role)


def revoke_member(ctx: TxContext, payload: MemberRevoke) -> None:
    org_id = _sender_org(ctx)
    key = st.member_key(org_id, payload.member_id)
    member = ctx.get(key)
    if member is None:
        raise LedgerError(f"no member {payload.member_id} in {org_id}", ErrorCode.NOT_FOUND)
    if member["status"] != st.ACTIVE:
        raise LedgerError(f"member {payload.member_id} is already revoked", ErrorCode.CONFLICT)
    member["status"] = st.REVOKED
    ctx.put(key, member)
    _revoke_signing_key(ctx, member["signing_key"])
    ctx.emit("member.revoked", org=org_id, member=f"{org_id}/{payload.member_id}")


def rotate_key(ctx: TxContext, payload: KeyRotate) -> None:
    """Move the sender's identity to a new key and revoke the old one."""
    actor = ctx.actor
    _require_unused_key(ctx, payload.signing_key)
    record_key = st.actor_record_key(actor.kind, actor.id)
    record = ctx.get(record_key)
    if record is None:
        raise LedgerError(f"no record for {actor.id}", ErrorCode.NOT_FOUND)
    record["signing_key"] = payload.signing_key
    record["encryption_key"] = payload.encryption_key
    ctx.put(record_key, record)
    _revoke_signing_key(ctx, actor.key_id)
    ctx.put(
        st.signing_key_key(payload.signing_key),
        st.key_record(actor.kind, actor.id, actor.org, actor.role),
    )
    ctx.emit("key.rotated", actor=actor.id, kind=actor.kind)


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
    ctx.put(
        st.patient_key(patient_id),
        {
            "id": patient_id,
            "signing_key": signing_key,
            "encryption_key": payload.encryption_key,
            "registered_height": ctx.block.height,
            "vouched_by": voucher.id,
            "voucher_kind": voucher.kind,
        },
    )
    ctx.put(st.signing_key_key(signing_key), st.key_record("patient", patient_id, None, "patient"))
    ctx.emit("patient.registered", patient=patient_id, vouched_by=voucher.id)


def _count_registration(ctx: TxContext) -> None:
    cap = limits(ctx.read_raw).registrations_per_block
    counter = ctx.get(st.REGISTRATIONS_KEY) or {"height": 0, "count": 0}
    count = counter["count"] if counter["height"] == ctx.block.height else 0
    if count >= cap:
        raise LedgerError(
            f"this block already registered {cap} patients: try the next one",
            ErrorCode.RATE_LIMITED,
        )
    ctx.put(st.REGISTRATIONS_KEY, {"height": ctx.block.height, "count": count + 1})


def _accept_voucher(ctx: TxContext, payload: PatientRegister) -> Actor:
    """Who vouches: an active care-giving organisation, its staff, or a registered patient."""
    message = voucher_message(ctx.chain_id, ctx.actor.key_id, payload.encryption_key)
    verify_signature(payload.voucher.key, message, bytes.fromhex(payload.voucher.signature))
    try:
        voucher = resolve_actor(ctx.read_raw, payload.voucher.key, allow_new=False)
    except LedgerError as exc:
        raise LedgerError(f"voucher: {exc.message}", ErrorCode.UNAUTHORIZED) from exc
    if voucher.kind == "patient":
        _require_care_vouched(ctx, voucher.id)
        _count_patient_vouch(ctx, voucher.id)
    elif org_role(ctx.read_raw, voucher.org) not in CARE_GIVING_ROLES:
        raise LedgerError(
            "a patient is vouched for by a hospital, a clinic, their staff, or a registered "
            "patient acting as representative",
            ErrorCode.UNAUTHORIZED,
        )
    return voucher


def _require_care_vouched(ctx: TxContext, patient_id: str) -> None:
    """Only a patient whom care vouched for may vouch in turn: no chains that double daily."""
    record = ctx.get(st.patient_key(patient_id))
    if record is None or record.get("voucher_kind") not in ("org", "member"):
        raise LedgerError(
            f"{patient_id} was not vouched for by care, so may not vouch for others",
            ErrorCode.UNAUTHORIZED,
        )


def _count_patient_vouch(ctx: TxContext, patient_id: str) -> None:
    """A patient vouches for a few people a day (a parent for children), not for a crowd."""
    cap = limits(ctx.read_raw).vouches_per_patient_per_day
    spend_allowance(ctx, patient_id, VOUCHES, cap)


def set_guardians(ctx: TxContext, payload: PatientGuardians) -> None:
    """Name recovery guardians: people, never organisations, so no institution holds the keys."""
    if ctx.actor.kind != "patient":
        raise LedgerError("only a patient names guardians", ErrorCode.UNAUTHORIZED)
    guardians = sorted(set(payload.guardians))
    if ctx.actor.id in guardians:
        raise LedgerError("a patient cannot be their own guardian", ErrorCode.INVALID_FIELD)
    if payload.threshold > len(guardians):
        raise LedgerError("the threshold exceeds the number of guardians", ErrorCode.INVALID_FIELD)
    for guardian in guardians:
        if ctx.get(st.person_record_key(guardian)) is None:
            raise LedgerError(f"no registered person {guardian}", ErrorCode.INVALID_FIELD)
    record = ctx.get(st.patient_key(ctx.actor.id))
    record.update(guardians=guardians, guardian_threshold=payload.threshold)
    ctx.put(st.patient_key(ctx.actor.id), record)
    ctx.delete(st.recovery_key(ctx.actor.id))
    ctx.emit("patient.guardians_set", patient=ctx.actor.id, threshold=payload.threshold)


def recover_patient(ctx: TxContext, payload: PatientRecover) -> None:
    """Count a guardian's vote for new keys; at the threshold the patient's keys are replaced."""
    record = ctx.get(st.patient_key(payload.patient))
    if record is None:
        raise LedgerError(f"no patient {payload.patient}", ErrorCode.NOT_FOUND)
    guardian = ctx.actor.id
    if guardian not in record.get("guardians", []):
        raise LedgerError(
            f"{guardian} is not a guardian of {payload.patient}", ErrorCode.UNAUTHORIZED
        )
    _require_unused_key(ctx, payload.signing_key)
    pending = ctx.get(st.recovery_key(payload.patient))
    candidate = {"signing_key": payload.signing_key, "encryption_key": payload.encryption_key}
    if pending is None or pending["candidate"] != candidate:
        pending = {"candidate": candidate, "approvals": []}
    if guardian in pending["approvals"]:
        raise LedgerError(f"{guardian} already vouched for these keys", ErrorCode.CONFLICT)
    pending["approvals"] = sorted([*pending["approvals"], guardian])
    ctx.emit("patient.recovery_vouched", patient=payload.patient, guardian=guardian)
    if len(pending["approvals"]) < record["guardian_threshold"]:
        ctx.put(st.recovery_key(payload.patient), pending)
        return
    _replace_patient_keys(ctx, record, payload)
    ctx.delete(st.recovery_key(payload.patient))


def _replace_patient_keys(ctx: TxContext, record: dict[str, Any], payload: PatientRecover) -> None:
    _revoke_signing_key(ctx, record["signing_key"])
    record.update(signing_key=payload.signing_key, encryption_key=payload.encryption_key)
    ctx.put(st.patient_key(payload.patient), record)
    ctx.put(
        st.signing_key_key(payload.signing_key),
        st.key_record("patient", payload.patient, None, "patient"),
    )
    ctx.emit("patient.recovered", patient=payload.patient)


def _proposal_target(ctx: TxContext, payload: OrgPropose) -> str:
    if payload.action == "add":
        if payload.org is None or payload.org_id is not None:
            raise LedgerError("an 'add' proposal names the new org in 'org'", ErrorCode.MALFORMED)
        _require_admissible(ctx, payload.org)
        return payload.org.id
    if payload.org_id is None or payload.org is not None:
        raise LedgerError("a 'remove' proposal names the org in 'org_id'", ErrorCode.MALFORMED)
    _require_removable(ctx, payload.org_id)
    if payload.org_id == _sender_org(ctx):
        raise LedgerError("an organisation cannot propose its own removal", ErrorCode.UNAUTHORIZED)
    return payload.org_id


def _execute_if_quorum(ctx: TxContext, proposal: dict[str, Any]) -> None:
    """Execute at quorum, counting only organisations active now, after re-checking the target.

    Every rule is checked again at execution: between opening and quorum the target may have
    been admitted or removed by a sibling proposal, and voters may have been removed.
    """
    electorate, votes = _electorate_and_votes(ctx, proposal)
    if not st.quorum_reached(votes, electorate, *_quorum_fraction(ctx)):
        return
    if proposal["action"] == "add":
        spec = OrgSpec.model_validate(proposal["org"])
        _require_admissible(ctx, spec)
        admit_org(ctx, spec)
    else:
        _require_removable(ctx, proposal["org_id"])
        _remove_org(ctx, proposal["org_id"])
    proposal["status"] = st.EXECUTED
    proposal["executed_height"] = ctx.block.height
    ctx.put(st.proposal_key(proposal["id"]), proposal)
    ctx.emit("org.proposal_executed", proposal=proposal["id"], action=proposal["action"])
    _close_siblings(ctx, proposal)


def _electorate_and_votes(ctx: TxContext, proposal: dict[str, Any]) -> tuple[int, int]:
    """Active organisations that may vote on this proposal, and how many of them approve."""
    electorate = ctx.get(st.STATS_KEY)["active_orgs"]
    target = proposal["org_id"]
    if proposal["action"] == "remove" and _is_active(ctx, target):
        electorate -= 1  # the organisation being removed does not vote
    votes = sum(1 for org in proposal["approvals"] if org != target and _is_active(ctx, org))
    return electorate, votes


def _quorum_fraction(ctx: TxContext) -> tuple[int, int]:
    config = ctx.get(st.CONFIG_KEY) or {}
    return config.get("quorum_numerator", 2), config.get("quorum_denominator", 3)


def _is_active(ctx: TxContext, org_id: str) -> bool:
    record = ctx.get(st.org_key(org_id))
    return record is not None and record["status"] == st.ACTIVE


def _require_admissible(ctx: TxContext, spec: OrgSpec) -> None:
    """An organisation id is admitted once, ever; its keys must still be unused."""
    if ctx.get(st.org_key(spec.id)) is not None:
        raise LedgerError(f"organisation {spec.id} exists", ErrorCode.ALREADY_EXISTS)
    _require_unused_key(ctx, spec.signing_key)
    _require_unused_validator(ctx, spec)


def _require_removable(ctx: TxContext, org_id: str) -> None:
    record = ctx.get(st.org_key(org_id))
    if record is None or record["status"] != st.ACTIVE:
        raise LedgerError(f"no active organisation {org_id}", ErrorCode.NOT_FOUND)
    if record.get("validator") is not None and record["joined_height"] == ctx.block.height:
        # CometBFT refuses two updates of one validator in a block: the chain would halt.
        raise LedgerError(
            f"{org_id} became a validator in this block: remove it in a later one",
            ErrorCode.INVALID_STATE,
        )


def _close_siblings(ctx: TxContext, executed: dict[str, Any]) -> None:
    """Other open proposals on the same organisation are settled by this one: close them."""
    key = st.open_proposals_key(executed["org_id"])
    for sibling_id in ctx.get(key) or []:
        if sibling_id == executed["id"]:
            continue
        sibling = ctx.get(st.proposal_key(sibling_id))
        sibling.update(status=st.SUPERSEDED, superseded_by=executed["id"])
        ctx.put(st.proposal_key(sibling_id), sibling)
        ctx.emit("org.proposal_superseded", proposal=sibling_id, by=executed["id"])
    ctx.delete(key)


def _remove_org(ctx: TxContext, org_id: str) -> None:
    """Removal revokes the organisation's key; its members' keys stop being accepted with it.

    An organisation is removed once (the caller re-checked it is active), so its validator
    power drops to 0 exactly once.
    """
    record = ctx.get(st.org_key(org_id))
    record["status"] = st.REMOVED
    ctx.put(st.org_key(org_id), record)
    _revoke_signing_key(ctx, record["signing_key"])
    _adjust_active_orgs(ctx, -1)
    ctx.emit("org.removed", org=org_id)
    if record.get("validator") is not None:
        ctx.emit(st.VALIDATOR_UPDATE, org=org_id, pub_key=record["validator"]["pub_key"], power=0)


def _adjust_active_orgs(ctx: TxContext, delta: int) -> None:
    stats = ctx.get(st.STATS_KEY) or {"active_orgs": 0}
    stats["active_orgs"] += delta
    ctx.put(st.STATS_KEY, stats)


def _revoke_signing_key(ctx: TxContext, key_id: str) -> None:
    key = st.signing_key_key(key_id)
    record = ctx.get(key)
    if record is not None:
        record["status"] = st.REVOKED
        ctx.put(key, record)


def _require_unused_key(ctx: TxContext, key_id: str) -> None:
    """A signing key belongs to one actor, ever: reuse would make senders ambiguous."""
    if ctx.get(st.signing_key_key(key_id)) is not None:
        raise LedgerError(f"signing key {key_id[:16]}… is already in use", ErrorCode.ALREADY_EXISTS)


def _require_unused_validator(ctx: TxContext, spec: OrgSpec) -> None:
    if spec.validator is not None and ctx.get(st.validator_key(spec.validator.pub_key)):
        raise LedgerError(
            f"validator key {spec.validator.pub_key[:16]}… already belongs to an organisation",
            ErrorCode.ALREADY_EXISTS,
        )


def _sender_org(ctx: TxContext) -> str:
    if ctx.actor.org is None:
        raise LedgerError("only an organisation may do this", ErrorCode.UNAUTHORIZED)
    return ctx.actor.org
