"""Apply the records transactions: records, consents, representatives and access events.

Who may send each type is declared in the domain (`records.DOMAIN`) and checked before
a handler runs; a handler checks only what depends on state (the custodian of this
record, the patient of this consent). Governance is read through its queries and
written only through its operations.
"""

from __future__ import annotations

from healthledger.crypto.keys import verify_signature
from healthledger.domains.governance import queries as gov
from healthledger.domains.governance.operations import DailyAllowance, spend_allowance
from healthledger.domains.records import policy
from healthledger.domains.records import state as st
from healthledger.domains.records.errors import (
    AlreadyShredded,
    AppointmentEnded,
    AppointmentExists,
    AppointmentNotFound,
    BlobRegistered,
    ConsentAlreadyRevoked,
    ConsentExists,
    ConsentNotFound,
    NoConsent,
    NotActiveMember,
    NotCustodian,
    NotPatientsRecord,
    PatientNotFound,
    PersonNotFound,
    RecordExists,
    RecordNotActive,
    RecordNotFound,
    RecordShredded,
    RequestExpired,
    RequestReplayed,
)
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
from healthledger.domains.records.state import (
    Appointment,
    AppointmentRef,
    AuditEntry,
    AuditReader,
    AuditRef,
    Consent,
    ConsentRef,
    IntentSeen,
    RecordMeta,
    RecordRef,
)
from healthledger.errors import BadSignature, InvalidField, LedgerError, Unauthorized
from healthledger.ledger.context import Actor, TxContext

# How far a reader's signed request may be from the block that records its access.
INTENT_WINDOW_MS = 10 * 60 * 1000
# A clinician's break-glass accesses, counted by governance per reader per day.
BREAK_GLASS = DailyAllowance("break_glass", "break-glass accesses per reader")


def add_record(ctx: TxContext, payload: RecordAdd) -> None:
    """The custodian organisation registers a record it holds encrypted in its vault."""
    custodian = ctx.actor.id  # an organisation's own key (its vault): the declared senders
    _require_patient(ctx, payload.patient)
    if ctx.load(st.record_key(payload.record_id), RecordMeta) is not None:
        raise RecordExists(payload.record_id)
    # Blob ids are public: naming another custodian's ciphertext would let a shred of this
    # record reach it. A ciphertext is registered once, ever, even after a shred.
    if ctx.load(st.blob_key(payload.blob_id), RecordRef) is not None:
        raise BlobRegistered(payload.blob_id)
    if payload.author is not None:
        _require_author(ctx, payload.author, custodian)
    if payload.replaces is not None:
        _supersede(ctx, payload.replaces, payload.patient, payload.record_id)
    fields = payload.model_dump(exclude={"record_id"})
    record = RecordMeta(
        **fields,
        id=payload.record_id,
        custodian=custodian,
        status=st.ACTIVE,
        added_height=ctx.block.height,
        added_ms=ctx.block.time_ms,
        superseded_by=None,
    )
    ctx.store(st.record_key(payload.record_id), record)
    index = RecordRef(payload.record_id)
    ctx.store(st.patient_record_key(payload.patient, payload.record_id), index)
    ctx.store(st.blob_key(payload.blob_id), index)
    ctx.emit("record.added", record=payload.record_id, patient=payload.patient, custodian=custodian)


def shred_record(ctx: TxContext, payload: RecordShred) -> None:
    """Tombstone a record: its wrapped keys leave the state, its hash stays."""
    record = _record(ctx, payload.record_id)
    if record.status == st.SHREDDED:
        raise AlreadyShredded(payload.record_id)
    actor = ctx.actor
    may = (actor.kind == "org" and actor.id == record.custodian) or _acts_for(
        ctx, record.patient, "shred", payload.appointment_id
    )
    if not may:
        raise Unauthorized("only the patient or the custodian may shred a record")
    tombstone = record.model_copy(
        update={
            "status": st.SHREDDED,
            "wrapped_keys": None,
            "shredded_height": ctx.block.height,
            "shredded_ms": ctx.block.time_ms,
            "shredded_by": actor.id,
            "shred_reason": payload.reason,
        }
    )
    ctx.store(st.record_key(payload.record_id), tombstone)
    ctx.emit(
        "record.shredded",
        record=payload.record_id,
        blob=record.blob_id,
        custodian=record.custodian,
    )


def grant_consent(ctx: TxContext, payload: ConsentGrant) -> None:
    if not _acts_for(ctx, payload.patient, "grant", payload.appointment_id):
        raise Unauthorized(f"only {payload.patient} or their representative may grant")
    if ctx.load(st.consent_key(payload.consent_id), Consent) is not None:
        raise ConsentExists(payload.consent_id)
    if payload.expires_ms <= ctx.block.time_ms:
        raise InvalidField("a consent must expire after the current block")
    _require_grantee(ctx, payload)
    for record_id in sorted({*payload.record_ids, *payload.wrapped_keys}):
        if _record(ctx, record_id).patient != payload.patient:
            raise NotPatientsRecord(record_id, payload.patient)
    consent = Consent(
        **payload.model_dump(exclude={"consent_id", "countries"}),
        countries=tuple(sorted(set(payload.countries))),
        id=payload.consent_id,
        granted_height=ctx.block.height,
        granted_ms=ctx.block.time_ms,
        granted_by=ctx.actor.id,
        status=st.ACTIVE,
        revoked_height=None,
        revoked_ms=None,
    )
    ctx.store(st.consent_key(payload.consent_id), consent)
    index = ConsentRef(payload.consent_id)
    ctx.store(st.patient_consent_key(payload.patient, payload.consent_id), index)
    ctx.emit("consent.granted", consent=payload.consent_id, patient=payload.patient)


def revoke_consent(ctx: TxContext, payload: ConsentRevoke) -> None:
    consent = ctx.load(st.consent_key(payload.consent_id), Consent)
    if consent is None:
        raise ConsentNotFound(payload.consent_id)
    if not _acts_for(ctx, consent.patient, "revoke", payload.appointment_id):
        raise Unauthorized("only the patient or their representative may revoke")
    if consent.status != st.ACTIVE:
        raise ConsentAlreadyRevoked(payload.consent_id)
    revoked = consent.model_copy(
        update={
            "status": st.REVOKED,
            "revoked_height": ctx.block.height,
            "revoked_ms": ctx.block.time_ms,
            "revoked_by": ctx.actor.id,
            "revoke_reason": payload.reason,
        }
    )
    ctx.store(st.consent_key(payload.consent_id), revoked)
    ctx.emit("consent.revoked", consent=payload.consent_id, patient=consent.patient)


def appoint_representative(ctx: TxContext, payload: RepresentativeAppoint) -> None:
    patient = ctx.actor.id  # a patient: the declared sender
    if ctx.load(st.appointment_key(payload.appointment_id), Appointment) is not None:
        raise AppointmentExists(payload.appointment_id)
    if payload.representative == patient:
        raise InvalidField("a patient cannot represent themselves")
    if payload.until_ms <= ctx.block.time_ms:
        raise InvalidField("an appointment must end after the current block")
    _require_person(ctx, payload.representative)
    appointment = Appointment(
        id=payload.appointment_id,
        patient=patient,
        representative=payload.representative,
        relation=payload.relation,
        powers=tuple(sorted(set(payload.powers))),
        until_ms=payload.until_ms,
        status=st.ACTIVE,
        appointed_height=ctx.block.height,
        ended_height=None,
    )
    ctx.store(st.appointment_key(payload.appointment_id), appointment)
    index = AppointmentRef(payload.appointment_id)
    ctx.store(st.patient_appointment_key(patient, payload.appointment_id), index)
    ctx.emit("representative.appointed", appointment=payload.appointment_id, patient=patient)


def end_representative(ctx: TxContext, payload: RepresentativeEnd) -> None:
    appointment = ctx.load(st.appointment_key(payload.appointment_id), Appointment)
    if appointment is None:
        raise AppointmentNotFound(payload.appointment_id)
    if ctx.actor.id not in {appointment.patient, appointment.representative}:
        raise Unauthorized("only the patient or the representative may end it")
    if appointment.status != st.ACTIVE:
        raise AppointmentEnded(payload.appointment_id)
    ended = appointment.model_copy(update={"status": st.ENDED, "ended_height": ctx.block.height})
    ctx.store(st.appointment_key(payload.appointment_id), ended)
    ctx.emit("representative.ended", appointment=payload.appointment_id)


def record_access(ctx: TxContext, payload: RecordAccess) -> None:
    """Re-decide the access against this block's state and time, then write the audit event."""
    reader = gov.resolve_actor(ctx.reader, payload.reader, allow_new=False)
    _require_patient(ctx, payload.patient)
    if payload.reason_hash is not None and payload.basis != "break_glass":
        raise InvalidField("only a break-glass access states a reason")
    _require_reader_intent(ctx, payload)
    if payload.action == "read":
        decision = _decide_read(ctx, payload, reader)
    else:
        decision = _decide_locate(ctx, payload, reader)
    event = AuditEntry(
        id="acc-" + ctx.tx_id[:24],
        action=payload.action,
        record=payload.record_id,
        patient=payload.patient,
        custodian=ctx.actor.id,
        reader=AuditReader(
            kind=reader.kind, id=reader.id, org=reader.org, role=reader.role, key_id=reader.key_id
        ),
        purpose=payload.purpose,
        basis=decision.basis,
        consent=decision.consent_id,
        appointment=decision.appointment_id,
        reason_hash=payload.reason_hash,
        break_glass=decision.basis == "break_glass",
        request_id=payload.request_id,
        height=ctx.block.height,
        time_ms=ctx.block.time_ms,
        tx_id=ctx.tx_id,
    )
    audit_key = st.audit_key(payload.patient, ctx.block.height, ctx.tx_id)
    ctx.store(audit_key, event)
    ctx.emit(
        "record.accessed",
        record=payload.record_id,
        patient=payload.patient,
        basis=decision.basis,
        break_glass=event.break_glass,
    )
    if event.break_glass:
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
        raise BadSignature("the reader did not sign a request for this access") from exc
    if payload.basis == "break_glass" and intent.reason_hash is None:
        raise Unauthorized("the reader did not ask for break-glass access")
    if payload.reason_hash is not None and payload.reason_hash != intent.reason_hash:
        raise Unauthorized("the reason recorded is not the one the reader gave")
    if abs(ctx.block.time_ms - intent.time_ms) > INTENT_WINDOW_MS:
        raise RequestExpired(INTENT_WINDOW_MS)
    _record_intent_once(ctx, payload.reader, intent.time_ms, intent.nonce)


def _record_intent_once(ctx: TxContext, reader_key: str, time_ms: int, nonce: str) -> None:
    """One small key per recorded request, like the audit event beside it: O(1) to check,
    where a per-reader list would be rewritten whole by every read of a busy reader."""
    key = st.intent_key(reader_key, nonce)
    if ctx.load(key, IntentSeen) is not None:
        raise RequestReplayed(nonce)
    ctx.store(key, IntentSeen(time_ms))


def _alert_break_glass(ctx: TxContext, reader: Actor, patient: str, audit_key: str) -> None:
    """Count the reader's break-glass use and put the event in the custodian's feed too.

    The same transaction writes the patient's audit entry, the organisation's alert and
    the reader's allowance (governance's), so none can show it without the others.
    """
    spend_allowance(ctx, reader.id, BREAK_GLASS, gov.limits(ctx.reader).break_glass_per_day)
    ctx.store(st.alert_key(ctx.actor.id, ctx.block.height, ctx.tx_id), AuditRef(audit_key))
    ctx.emit("record.break_glass", patient=patient, custodian=ctx.actor.id, reader=reader.id)


def _decide_read(ctx: TxContext, payload: RecordAccess, reader: Actor) -> policy.Decision:
    if payload.record_id is None:
        raise InvalidField("a read names its record")
    record = _record(ctx, payload.record_id)
    if record.patient != payload.patient:
        raise NotPatientsRecord(payload.record_id, payload.patient)
    if ctx.actor.id != record.custodian:  # the sender is an organisation (declared)
        raise NotCustodian(
            record.id, record.custodian, "only the custodian's vault records reads of its records"
        )
    if record.status == st.SHREDDED:
        raise RecordShredded(payload.record_id)
    return decide_basis(ctx, payload, reader, record)


def decide_basis(
    ctx: TxContext, payload: RecordAccess, reader: Actor, record: RecordMeta
) -> policy.Decision:
    """Check the basis the vault claimed; the handler never searches for a better one."""
    now = ctx.block.time_ms
    owner = policy.owner_basis(record, reader)
    if payload.basis in {"self", "custodian", "author"}:
        if owner != payload.basis:
            raise Unauthorized(f"the reader is not the record's {payload.basis}")
        return policy.Decision(owner)
    if payload.basis == "consent":
        consent = ctx.load(st.consent_key(payload.consent_id or ""), Consent)
        if consent is None:
            raise NoConsent(
                f"no consent {payload.consent_id}",
                record_id=record.id,
                consent_id=payload.consent_id,
            )
        country = gov.org_country(ctx.reader, reader.org)
        return policy.check_consent_read(consent, record, reader, payload.purpose, now, country)
    if payload.basis == "representative":
        return _representative(ctx, payload, reader, "read")
    return _break_glass(ctx, payload, reader)


def _break_glass(ctx: TxContext, payload: RecordAccess, reader: Actor) -> policy.Decision:
    role = gov.org_role(ctx.reader, reader.org)
    return policy.check_break_glass(reader, role, payload.purpose, payload.reason_hash is not None)


def _decide_locate(ctx: TxContext, payload: RecordAccess, reader: Actor) -> policy.Decision:
    """Only searches that bypass consent are written to the chain: break-glass ones."""
    if payload.basis != "break_glass" or payload.record_id is not None:
        raise InvalidField("only a break-glass search is recorded as an access")
    if ctx.actor.id != reader.org:  # the sender is an organisation (declared)
        raise Unauthorized("a break-glass search is recorded by the reader's organisation")
    return _break_glass(ctx, payload, reader)


def _representative(
    ctx: TxContext, payload: RecordAccess, reader: Actor, power: str
) -> policy.Decision:
    appointment = ctx.load(st.appointment_key(payload.appointment_id or ""), Appointment)
    now = ctx.block.time_ms
    if appointment is None or not policy.appointment_allows(
        appointment, reader, payload.patient, power, now
    ):
        raise NoConsent(f"no active appointment allows {power}", record_id=payload.record_id)
    return policy.Decision("representative", appointment_id=appointment.id)


def _acts_for(ctx: TxContext, patient: str, power: str, appointment_id: str | None) -> bool:
    """The patient themselves, or a representative naming an appointment with the power."""
    actor = ctx.actor
    if actor.kind == "patient" and actor.id == patient:
        return True
    if appointment_id is None:
        return False
    appointment = ctx.load(st.appointment_key(appointment_id), Appointment)
    return appointment is not None and policy.appointment_allows(
        appointment, actor, patient, power, ctx.block.time_ms
    )


def _record(ctx: TxContext, record_id: str) -> RecordMeta:
    record = ctx.load(st.record_key(record_id), RecordMeta)
    if record is None:
        raise RecordNotFound(record_id)
    return record


def _supersede(ctx: TxContext, old_id: str, patient: str, new_id: str) -> None:
    """A correction: the old version stays readable and points to the new one."""
    old = _record(ctx, old_id)
    if old.patient != patient:
        raise NotPatientsRecord(old_id, patient)
    if old.custodian != ctx.actor.id:
        raise NotCustodian(old_id, old.custodian, "only the custodian may correct its record")
    if old.status != st.ACTIVE:
        raise RecordNotActive(old_id, old.status)
    superseded = old.model_copy(update={"status": st.SUPERSEDED, "superseded_by": new_id})
    ctx.store(st.record_key(old_id), superseded)


def _require_patient(ctx: TxContext, patient: str) -> None:
    if not gov.patient_exists(ctx.reader, patient):
        raise PatientNotFound(patient)


def _require_author(ctx: TxContext, author: str, custodian: str) -> None:
    org, _, member_id = author.partition("/")
    if org != custodian or not (member_id and gov.active_member(ctx.reader, f"{org}/{member_id}")):
        raise NotActiveMember(author, custodian)


def _require_person(ctx: TxContext, actor_id: str) -> None:
    """A representative is a registered patient or an enrolled person, never an organisation."""
    if not gov.person_exists(ctx.reader, actor_id):
        raise PersonNotFound(actor_id)


def _require_grantee(ctx: TxContext, payload: ConsentGrant) -> None:
    grantee = payload.grantee
    if gov.org_role(ctx.reader, grantee.org) is None:  # none, or not active
        raise InvalidField(f"no active organisation {grantee.org}")
    if grantee.kind == "member":
        if grantee.member is None or not grantee.member.startswith(grantee.org + "/"):
            raise InvalidField("a person grantee names 'member' as org/member")
        member_id = grantee.member.split("/", 1)[1]
        if gov.member(ctx.reader, grantee.org, member_id) is None:
            raise InvalidField(f"no member {grantee.member}")
    if grantee.kind == "role" and grantee.role is None:
        raise InvalidField("a role grantee names its 'role'")
