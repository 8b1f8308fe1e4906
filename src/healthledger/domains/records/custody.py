"""Successor custodians: records move to another organisation the patient accepts.

A custodian may offer records it holds to a successor (`custody.offer`), sealing each
data key for it; the patient, or a representative with the grant power, accepts
(`custody.accept`). Once an organisation has been removed from the consortium its
records move on the patient's acceptance alone: the patient holds
`wrapped_keys.patient` and seals the data key for the successor without the old
custodian, who may be gone. At the move the record's custodian and custodian key
change, the earlier custodian joins its `custody` history, and consents, audit
events, the blob id and the content hash stay as they were (the ciphertext is the
same: it reaches the successor's vault from a backup, a replica or the old node).

A successor is any active organisation of a role that keeps records (the roles
allowed to send `record.add`): a record must be readable and auditable where it
lands, so an insurer or a manufacturer cannot take custody.
"""

from __future__ import annotations

from healthledger.domains.governance import queries as gov
from healthledger.domains.records import policy
from healthledger.domains.records import state as st
from healthledger.domains.records.errors import (
    AlreadyCustodian,
    NotASuccessor,
    NotCustodian,
    NotOffered,
    NotPatientsRecord,
    OfferExists,
    RecordNotFound,
    RecordShredded,
)
from healthledger.domains.records.messages import CustodyAccept, CustodyOffer
from healthledger.domains.records.state import (
    Appointment,
    CustodyMove,
    CustodyOffered,
    RecordKeys,
    RecordMeta,
)
from healthledger.errors import InvalidField, Unauthorized
from healthledger.ledger.context import TxContext

CUSTODIAN_ROLES = ("hospital", "clinic", "laboratory", "pharmacy")


def offer_custody(ctx: TxContext, payload: CustodyOffer) -> None:
    """The custodian names a successor for records it holds; nothing moves yet."""
    custodian = ctx.actor.id  # an organisation (the declared senders)
    if payload.successor == custodian:
        raise InvalidField("a custodian cannot offer records to itself")
    _require_successor(ctx, payload.successor)
    for record_id in sorted(payload.records):
        _require_offerable(ctx, _record(ctx, record_id), custodian, payload.successor)
    for record_id, wrapped_key in sorted(payload.records.items()):
        offer = CustodyOffered(
            record=record_id,
            custodian=custodian,
            successor=payload.successor,
            wrapped_key=wrapped_key,
            height=ctx.block.height,
        )
        ctx.store(st.offer_key(record_id), offer)
    ctx.emit(
        "custody.offered",
        custodian=custodian,
        successor=payload.successor,
        records=len(payload.records),
    )


def accept_custody(ctx: TxContext, payload: CustodyAccept) -> None:
    """The patient moves records to the successor: custodian, key and history change."""
    if not _acts_for(ctx, payload.patient, payload.appointment_id):
        raise Unauthorized(f"only {payload.patient} or their representative may move records")
    _require_successor(ctx, payload.successor)
    moves = [
        _checked_move(ctx, _record(ctx, record_id), payload, wrapped_key)
        for record_id, wrapped_key in sorted(payload.records.items())
    ]
    for record, wrapped_key, offered in moves:
        _move(ctx, record, payload.successor, wrapped_key, offered)


def _require_offerable(ctx: TxContext, record: RecordMeta, custodian: str, successor: str) -> None:
    if record.custodian != custodian:
        raise NotCustodian(
            record.id, record.custodian, "only a record's custodian may offer it to a successor"
        )
    if record.status == st.SHREDDED:
        raise RecordShredded(record.id)
    standing = ctx.load(st.offer_key(record.id), CustodyOffered)
    if standing is not None and (standing.custodian, standing.successor) == (
        custodian,
        successor,
    ):
        raise OfferExists(record.id, successor)


def _checked_move(
    ctx: TxContext, record: RecordMeta, payload: CustodyAccept, wrapped_key: str | None
) -> tuple[RecordMeta, str, bool]:
    """The record, the key sealed for the successor, and whether its custodian offered it."""
    if record.patient != payload.patient:
        raise NotPatientsRecord(record.id, payload.patient)
    if record.status == st.SHREDDED:
        raise RecordShredded(record.id)
    if record.custodian == payload.successor:
        raise AlreadyCustodian(record.id, record.custodian)
    standing = ctx.load(st.offer_key(record.id), CustodyOffered)
    offered = (
        standing is not None
        and standing.custodian == record.custodian
        and standing.successor == payload.successor
    )
    if not offered and gov.active_org(ctx.reader, record.custodian) is not None:
        raise NotOffered(record.id, record.custodian, payload.successor)
    if wrapped_key is None:
        if standing is None or not offered:
            raise InvalidField(f"record {record.id} needs its data key sealed for the successor")
        wrapped_key = standing.wrapped_key
    return record, wrapped_key, offered


def _move(
    ctx: TxContext, record: RecordMeta, successor: str, wrapped_key: str, offered: bool
) -> None:
    assert record.wrapped_keys is not None  # shredded records were refused
    move = CustodyMove(
        custodian=record.custodian,
        successor=successor,
        offered=offered,
        accepted_by=ctx.actor.id,
        height=ctx.block.height,
        time_ms=ctx.block.time_ms,
    )
    moved = record.model_copy(
        update={
            "custodian": successor,
            "wrapped_keys": RecordKeys(patient=record.wrapped_keys.patient, custodian=wrapped_key),
            "custody": (*record.custody, move),
        }
    )
    ctx.store(st.record_key(record.id), moved)
    ctx.delete(st.offer_key(record.id))
    ctx.emit(
        "record.custody_moved",
        record=record.id,
        blob=record.blob_id,
        custodian=record.custodian,
        successor=successor,
    )


def _require_successor(ctx: TxContext, org: str) -> None:
    if gov.org_role(ctx.reader, org) not in CUSTODIAN_ROLES:
        raise NotASuccessor(org)


def _acts_for(ctx: TxContext, patient: str, appointment_id: str | None) -> bool:
    """The patient, or a representative whose appointment holds the grant power."""
    actor = ctx.actor
    if actor.kind == "patient" and actor.id == patient:
        return True
    if appointment_id is None:
        return False
    appointment = ctx.load(st.appointment_key(appointment_id), Appointment)
    return appointment is not None and policy.appointment_allows(
        appointment, actor, patient, "grant", ctx.block.time_ms
    )


def _record(ctx: TxContext, record_id: str) -> RecordMeta:
    record = ctx.load(st.record_key(record_id), RecordMeta)
    if record is None:
        raise RecordNotFound(record_id)
    return record
