"""Apply the records transactions: records, consents, representatives and access events."""

from __future__ import annotations

from typing import Any

from healthledger.crypto.keys import verify_signature
from healthledger.domains.governance import state as gov
from healthledger.domains.governance.queries import limits, org_role, resolve_actor
from healthledger.domains.records import policy
from healthledger.domains.records import state as st
from healthledger.domains.records.messages import (
    ConsentGrant,
    ConsentRevoke,
    RecordAccess,
    RecordAdd,
    RecordShred,
    RepresentativeAppoint,
    RepresentativeEnd,
    intent_message,
)
from healthledger.domains.shared.allowance import spend_daily
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.context import Actor, TxContext

# How far a reader's signed request may be from the block that records its access.
INTENT_WINDOW_MS = 10 * 60 * 1000


def add_record(ctx: TxContext, payload: RecordAdd) -> None:
    """The custodian organisation registers a record it holds encrypted in its vault."""
    custodian = _sender_org_key(ctx)
    _require_patient(ctx, payload.patient)
    if ctx.get(st.record_key(payload.record_id)) is not None:
        raise LedgerError(f"record {payload.record_id} exists", ErrorCode.ALREADY_EXISTS)
    # Blob ids are public: naming another custodian's ciphertext would let a shred of this
    # record reach it. A ciphertext is registered once, ever, even after a shred.
    if ctx.get(st.blob_key(payload.blob_id)) is not None:
        raise LedgerError(f"blob {payload.blob_id} is already registered", ErrorCode.ALREADY_EXISTS)
    if payload.author is not None:
        _require_author(ctx, payload.author, custodian)
    if payload.replaces is not None:
        _supersede(ctx, payload.replaces, payload.patient, payload.record_id)
    record = {
        **payload.model_dump(),
        "id": payload.record_id,
        "custodian": custodian,
        "status": st.ACTIVE,
        "added_height": ctx.block.height,
        "added_ms": ctx.block.time_ms,
        "superseded_by": None,
    }
    del record["record_id"]
    ctx.put(st.record_key(payload.record_id), record)
    ctx.put(st.patient_record_key(payload.patient, payload.record_id), payload.record_id)
    ctx.put(st.blob_key(payload.blob_id), payload.record_id)
    ctx.emit("record.added", record=payload.record_id, patient=payload.patient, custodian=custodian)


def shred_record(ctx: TxContext, payload: RecordShred) -> None:
    """Tombstone a record: its wrapped keys leave the state, its hash stays."""
    record = _record(ctx, payload.record_id)
    if record["status"] == st.SHREDDED:
        raise LedgerError(f"record {payload.record_id} is already shredded", ErrorCode.CONFLICT)
    actor = ctx.actor
    may = (actor.kind == "org" and actor.id == record["custodian"]) or _acts_for(
        ctx, record["patient"], "shred", payload.appointment_id
    )
    if not may:
        raise LedgerError(
            "only the patient or the custodian may shred a record", ErrorCode.UNAUTHORIZED
        )
    record.update(
        status=st.SHREDDED,
        wrapped_keys=None,
        shredded_height=ctx.block.height,
        shredded_ms=ctx.block.time_ms,
        shredded_by=actor.id,
        shred_reason=payload.reason,
    )
    ctx.put(st.record_key(payload.record_id), record)
    ctx.emit(
        "record.shredded",
        record=payload.record_id,
        blob=record["blob_id"],
        custodian=record["custodian"],
    )


def grant_consent(ctx: TxContext, payload: ConsentGrant) -> None:
    if not _acts_for(ctx, payload.patient, "grant", payload.appointment_id):
        raise LedgerError(
            f"only {payload.patient} or their representative may grant", ErrorCode.UNAUTHORIZED
        )
    if ctx.get(st.consent_key(payload.consent_id)) is not None:
        raise LedgerError(f"consent {payload.consent_id} exists", ErrorCode.ALREADY_EXISTS)
    if payload.expires_ms <= ctx.block.time_ms:
        raise LedgerError("a consent must expire after the current block", ErrorCode.INVALID_FIELD)
    _require_grantee(ctx, payload)
    for record_id in sorted({*payload.record_ids, *payload.wrapped_keys}):
        if _record(ctx, record_id)["patient"] != payload.patient:
            raise LedgerError(
                f"record {record_id} is not {payload.patient}'s", ErrorCode.INVALID_FIELD
            )
    consent = {
        **payload.model_dump(),
        "id": payload.consent_id,
        "granted_height": ctx.block.height,
        "granted_ms": ctx.block.time_ms,
        "granted_by": ctx.actor.id,
        "status": st.ACTIVE,
        "revoked_height": None,
        "revoked_ms": None,
    }
    del consent["consent_id"]
    ctx.put(st.consent_key(payload.consent_id), consent)
    ctx.put(st.patient_consent_key(payload.patient, payload.consent_id), payload.consent_id)
    ctx.emit("consent.granted", consent=payload.consent_id, patient=payload.patient)


def revoke_consent(ctx: TxContext, payload: ConsentRevoke) -> None:
    consent = ctx.get(st.consent_key(payload.consent_id))
    if consent is None:
        raise LedgerError(f"no consent {payload.consent_id}", ErrorCode.NOT_FOUND)
    if not _acts_for(ctx, consent["patient"], "revoke", payload.appointment_id):
        raise LedgerError(
            "only the patient or their representative may revoke", ErrorCode.UNAUTHORIZED
        )
    if consent["status"] != st.ACTIVE:
        raise LedgerError(f"consent {payload.consent_id} is already revoked", ErrorCode.CONFLICT)
    consent.update(
        status=st.REVOKED,
        revoked_height=ctx.block.height,
        revoked_ms=ctx.block.time_ms,
        revoked_by=ctx.actor.id,
        revoke_reason=payload.reason,
    )
    ctx.put(st.consent_key(payload.consent_id), consent)
    ctx.emit("consent.revoked", consent=payload.consent_id, patient=consent["patient"])


def appoint_representative(ctx: TxContext, payload: RepresentativeAppoint) -> None:
    patient = _sender_patient(ctx)
    if ctx.get(st.appointment_key(payload.appointment_id)) is not None:
        raise LedgerError(f"appointment {payload.appointment_id} exists", ErrorCode.ALREADY_EXISTS)
    if payload.representative == patient:
        raise LedgerError("a patient cannot represent themselves", ErrorCode.INVALID_FIELD)
    if payload.until_ms <= ctx.block.time_ms:
        raise LedgerError(
            "an appointment must end after the current block", ErrorCode.INVALID_FIELD
        )
    _require_person(ctx, payload.representative)
    appointment = {
        "id": payload.appointment_id,
        "patient": patient,
        "representative": payload.representative,
        "relation": payload.relation,
        "powers": sorted(set(payload.powers)),
        "until_ms": payload.until_ms,
        "status": st.ACTIVE,
        "appointed_height": ctx.block.height,
        "ended_height": None,
    }
    ctx.put(st.appointment_key(payload.appointment_id), appointment)
    ctx.put(st.patient_appointment_key(patient, payload.appointment_id), payload.appointment_id)
    ctx.emit("representative.appointed", appointment=payload.appointment_id, patient=patient)


def end_representative(ctx: TxContext, payload: RepresentativeEnd) -> None:
    appointment = ctx.get(st.appointment_key(payload.appointment_id))
    if appointment is None:
        raise LedgerError(f"no appointment {payload.appointment_id}", ErrorCode.NOT_FOUND)
    if ctx.actor.id not in {appointment["patient"], appointment["representative"]}:
        raise LedgerError(
            "only the patient or the representative may end it", ErrorCode.UNAUTHORIZED
        )
    if appointment["status"] != st.ACTIVE:
        raise LedgerError(f"appointment {payload.appointment_id} has ended", ErrorCode.CONFLICT)
    appointment.update(status=st.ENDED, ended_height=ctx.block.height)
    ctx.put(st.appointment_key(payload.appointment_id), appointment)
    ctx.emit("representative.ended", appointment=payload.appointment_id)


def record_access(ctx: TxContext, payload: RecordAccess) -> None:
    """Re-decide the access against this block's state and time, then write the audit event."""
    reader = resolve_actor(ctx.read_raw, payload.reader, allow_new=False)
    _require_patient(ctx, payload.patient)
    if payload.reason_hash is not None and payload.basis != "break_glass":
        raise LedgerError("only a break-glass access states a reason", ErrorCode.INVALID_FIELD)
    _require_reader_intent(ctx, payload)
    if payload.action == "read":
        decision = _decide_read(ctx, payload, reader)
    else:
        decision = _decide_locate(ctx, payload, reader)
    event = {
        "id": "acc-" + ctx.tx_id[:24],
        "action": payload.action,
        "record": payload.record_id,
        "patient": payload.patient,
        "custodian": ctx.actor.id,
        "reader": {
            "kind": reader.kind,
            "id": reader.id,
            "org": reader.org,
            "role": reader.role,
            "key_id": reader.key_id,
        },
        "purpose": payload.purpose,
        "basis": decision.basis,
        "consent": decision.consent_id,
        "appointment": decision.appointment_id,
        "reason_hash": payload.reason_hash,
        "break_glass": decision.basis == "break_glass",
        "request_id": payload.request_id,
        "height": ctx.block.height,
        "time_ms": ctx.block.time_ms,
        "tx_id": ctx.tx_id,
    }
    audit_key = st.audit_key(payload.patient, ctx.block.height, ctx.tx_id)
    ctx.put(audit_key, event)
    ctx.emit(
        "record.accessed",
        record=payload.record_id,
        patient=payload.patient,
        basis=decision.basis,
        break_glass=event["break_glass"],
    )
    if event["break_glass"]:
        _alert_break_glass(ctx, reader, payload.patient, audit_key)


def _require_reader_intent(ctx: TxContext, payload: RecordAccess) -> None:
    """The reader asked for this access, recently, and it is recorded only once."""
    intent = payload.intent
    subject = payload.record_id if payload.action == "read" else payload.patient
    message = intent_message(
        ctx.chain_id,
        payload.action,
        subject or "",
        payload.purpose,
        intent.reason_hash,
        intent.time_ms,
        intent.nonce,
    )
    try:
        verify_signature(payload.reader, message, bytes.fromhex(intent.signature))
    except LedgerError as exc:
        raise LedgerError(
            "the reader did not sign a request for this access", ErrorCode.BAD_SIGNATURE
        ) from exc
    if payload.basis == "break_glass" and intent.reason_hash is None:
        raise LedgerError("the reader did not ask for break-glass access", ErrorCode.UNAUTHORIZED)
    if payload.reason_hash is not None and payload.reason_hash != intent.reason_hash:
        raise LedgerError(
            "the reason recorded is not the one the reader gave", ErrorCode.UNAUTHORIZED
        )
    if abs(ctx.block.time_ms - intent.time_ms) > INTENT_WINDOW_MS:
        raise LedgerError(
            f"the reader's request is more than {INTENT_WINDOW_MS // 60_000} minutes from "
            "the block's time",
            ErrorCode.REQUEST_EXPIRED,
        )
    _record_intent_once(ctx, payload.reader, intent.time_ms, intent.nonce)


def _record_intent_once(ctx: TxContext, reader_key: str, time_ms: int, nonce: str) -> None:
    """One small key per recorded request, like the audit event beside it: O(1) to check,
    where a per-reader list would be rewritten whole by every read of a busy reader."""
    key = st.intent_key(reader_key, nonce)
    if ctx.get(key) is not None:
        raise LedgerError(
            "this request of the reader was already recorded", ErrorCode.REQUEST_REPLAYED
        )
    ctx.put(key, time_ms)


def _alert_break_glass(ctx: TxContext, reader: Actor, patient: str, audit_key: str) -> None:
    """Count the reader's break-glass use and put the event in the custodian's feed too.

    The same transaction writes the patient's audit entry and the organisation's
    alert, so neither feed can show it without the other.
    """
    per_day = limits(ctx.read_raw).break_glass_per_day
    counted = ctx.get(st.break_glass_key(reader.id))
    times = spend_daily(
        [] if counted is None else list(counted["times"]),
        ctx.block.time_ms,
        per_day,
        "break-glass accesses per reader",
    )
    ctx.put(st.break_glass_key(reader.id), {"times": times})
    ctx.put(st.alert_key(ctx.actor.id, ctx.block.height, ctx.tx_id), audit_key)
    ctx.emit("record.break_glass", patient=patient, custodian=ctx.actor.id, reader=reader.id)


def _decide_read(ctx: TxContext, payload: RecordAccess, reader: Actor) -> policy.Decision:
    if payload.record_id is None:
        raise LedgerError("a read names its record", ErrorCode.INVALID_FIELD)
    record = _record(ctx, payload.record_id)
    if record["patient"] != payload.patient:
        raise LedgerError(
            f"record {payload.record_id} is not {payload.patient}'s", ErrorCode.INVALID_FIELD
        )
    if ctx.actor.kind != "org" or ctx.actor.id != record["custodian"]:
        raise LedgerError(
            "only the custodian's vault records reads of its records", ErrorCode.NOT_CUSTODIAN
        )
    if record["status"] == st.SHREDDED:
        raise LedgerError(f"record {payload.record_id} was shredded", ErrorCode.RECORD_SHREDDED)
    return decide_basis(ctx, payload, reader, record)


def decide_basis(
    ctx: TxContext, payload: RecordAccess, reader: Actor, record: dict[str, Any]
) -> policy.Decision:
    """Check the basis the vault claimed; the handler never searches for a better one."""
    now = ctx.block.time_ms
    owner = policy.owner_basis(record, reader)
    if payload.basis in {"self", "custodian", "author"}:
        if owner != payload.basis:
            raise LedgerError(
                f"the reader is not the record's {payload.basis}", ErrorCode.UNAUTHORIZED
            )
        return policy.Decision(owner)
    if payload.basis == "consent":
        consent = ctx.get(st.consent_key(payload.consent_id or ""))
        if consent is None:
            raise LedgerError(f"no consent {payload.consent_id}", ErrorCode.NO_CONSENT)
        return policy.check_consent_read(consent, record, reader, payload.purpose, now)
    if payload.basis == "representative":
        return _representative(ctx, payload, reader, "read")
    return _break_glass(ctx, payload, reader)


def _break_glass(ctx: TxContext, payload: RecordAccess, reader: Actor) -> policy.Decision:
    role = org_role(ctx.read_raw, reader.org)
    return policy.check_break_glass(reader, role, payload.purpose, payload.reason_hash is not None)


def _decide_locate(ctx: TxContext, payload: RecordAccess, reader: Actor) -> policy.Decision:
    """Only searches that bypass consent are written to the chain: break-glass ones."""
    if payload.basis != "break_glass" or payload.record_id is not None:
        raise LedgerError(
            "only a break-glass search is recorded as an access", ErrorCode.INVALID_FIELD
        )
    if ctx.actor.kind != "org" or ctx.actor.id != reader.org:
        raise LedgerError(
            "a break-glass search is recorded by the reader's organisation", ErrorCode.UNAUTHORIZED
        )
    return _break_glass(ctx, payload, reader)


def _representative(
    ctx: TxContext, payload: RecordAccess, reader: Actor, power: str
) -> policy.Decision:
    appointment = ctx.get(st.appointment_key(payload.appointment_id or ""))
    now = ctx.block.time_ms
    if appointment is None or not policy.appointment_allows(
        appointment, reader, payload.patient, power, now
    ):
        raise LedgerError(f"no active appointment allows {power}", ErrorCode.NO_CONSENT)
    return policy.Decision("representative", appointment_id=appointment["id"])


def _acts_for(ctx: TxContext, patient: str, power: str, appointment_id: str | None) -> bool:
    """The patient themselves, or a representative naming an appointment with the power."""
    actor = ctx.actor
    if actor.kind == "patient" and actor.id == patient:
        return True
    if appointment_id is None:
        return False
    appointment = ctx.get(st.appointment_key(appointment_id))
    return appointment is not None and policy.appointment_allows(
        appointment, actor, patient, power, ctx.block.time_ms
    )


def _record(ctx: TxContext, record_id: str) -> dict[str, Any]:
    record = ctx.get(st.record_key(record_id))
    if record is None:
        raise LedgerError(f"no record {record_id}", ErrorCode.NOT_FOUND)
    return dict(record)


def _supersede(ctx: TxContext, old_id: str, patient: str, new_id: str) -> None:
    """A correction: the old version stays readable and points to the new one."""
    old = _record(ctx, old_id)
    if old["patient"] != patient:
        raise LedgerError(f"record {old_id} is not {patient}'s", ErrorCode.INVALID_FIELD)
    if old["custodian"] != ctx.actor.id:
        raise LedgerError("only the custodian may correct its record", ErrorCode.NOT_CUSTODIAN)
    if old["status"] != st.ACTIVE:
        raise LedgerError(f"record {old_id} is {old['status']}", ErrorCode.INVALID_STATE)
    old.update(status=st.SUPERSEDED, superseded_by=new_id)
    ctx.put(st.record_key(old_id), old)


def _sender_org_key(ctx: TxContext) -> str:
    """Record metadata is signed by the custodian organisation's own key (its vault)."""
    if ctx.actor.kind != "org":
        raise LedgerError(
            "records are registered by the custodian's vault (its org key)", ErrorCode.UNAUTHORIZED
        )
    return ctx.actor.id


def _sender_patient(ctx: TxContext) -> str:
    if ctx.actor.kind != "patient":
        raise LedgerError("only a patient may do this", ErrorCode.UNAUTHORIZED)
    return ctx.actor.id


def _require_patient(ctx: TxContext, patient: str) -> None:
    if ctx.read(gov.NAMESPACE, gov.patient_key(patient)) is None:
        raise LedgerError(f"no registered patient {patient}", ErrorCode.NOT_FOUND)


def _require_author(ctx: TxContext, author: str, custodian: str) -> None:
    org, _, member_id = author.partition("/")
    member = ctx.read(gov.NAMESPACE, gov.member_key(org, member_id)) if member_id else None
    if org != custodian or member is None or member["status"] != gov.ACTIVE:
        raise LedgerError(
            f"{author} is not an active member of {custodian}", ErrorCode.INVALID_FIELD
        )


def _require_person(ctx: TxContext, actor_id: str) -> None:
    """A representative is a registered patient or an enrolled person, never an organisation."""
    if ctx.read(gov.NAMESPACE, gov.person_record_key(actor_id)) is None:
        raise LedgerError(f"no registered person {actor_id}", ErrorCode.NOT_FOUND)


def _require_grantee(ctx: TxContext, payload: ConsentGrant) -> None:
    grantee = payload.grantee
    org = ctx.read(gov.NAMESPACE, gov.org_key(grantee.org))
    if org is None or org["status"] != gov.ACTIVE:
        raise LedgerError(f"no active organisation {grantee.org}", ErrorCode.INVALID_FIELD)
    if grantee.kind == "member":
        if grantee.member is None or not grantee.member.startswith(grantee.org + "/"):
            raise LedgerError(
                "a person grantee names 'member' as org/member", ErrorCode.INVALID_FIELD
            )
        member_id = grantee.member.split("/", 1)[1]
        if ctx.read(gov.NAMESPACE, gov.member_key(grantee.org, member_id)) is None:
            raise LedgerError(f"no member {grantee.member}", ErrorCode.INVALID_FIELD)
    if grantee.kind == "role" and grantee.role is None:
        raise LedgerError("a role grantee names its 'role'", ErrorCode.INVALID_FIELD)
