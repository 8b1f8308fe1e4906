"""Read-side of patient records over the store: a patient's file, consents, audit trail.

Each view reads one store snapshot, so a consent decision and the records it
filters describe the same committed block.
"""

from __future__ import annotations

from typing import Any

from healthledger.crypto.canonical import parse_json
from healthledger.domains.governance import queries as gov
from healthledger.domains.governance import state as gov_state
from healthledger.domains.records import state as st
from healthledger.domains.records.queries import PatientFile
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.context import Actor, StateReader
from healthledger.ledger.store import Store

MAX_PATIENT_KEYS = 1_000_000


def patient_file(store: Store, patient: str) -> PatientFile:
    """A patient's records, consents and appointments (call inside a snapshot)."""
    rows = store.state_scan(st.NAMESPACE, st.patient_prefix(patient), limit=MAX_PATIENT_KEYS)
    records, consents, appointments = [], [], []
    for key, value in rows:
        kind = key.split("/", 3)[2]
        if kind == "record":
            records.append(_state_json(store, st.record_key(parse_json(value))))
        elif kind == "consent":
            consents.append(_state_json(store, st.consent_key(parse_json(value))))
        elif kind == "appointment":
            appointments.append(_state_json(store, st.appointment_key(parse_json(value))))
    return PatientFile(patient, records, consents, appointments)


def record(store: Store, record_id: str) -> dict[str, Any]:
    value = store.state_get(st.NAMESPACE, st.record_key(record_id))
    if value is None:
        raise LedgerError(f"no record {record_id}", ErrorCode.NOT_FOUND)
    return dict(parse_json(value))


def consent(store: Store, consent_id: str) -> dict[str, Any]:
    value = store.state_get(st.NAMESPACE, st.consent_key(consent_id))
    if value is None:
        raise LedgerError(f"no consent {consent_id}", ErrorCode.NOT_FOUND)
    return dict(parse_json(value))


def audit_events(store: Store, patient: str, limit: int = 10_000) -> list[dict[str, Any]]:
    """Every access to a patient's records, newest first."""
    rows = store.state_scan(st.NAMESPACE, st.audit_prefix(patient), limit, newest_first=True)
    return [parse_json(value) for _key, value in rows]


def alert_events(store: Store, org: str, limit: int = 1_000) -> list[dict[str, Any]]:
    """Break-glass accesses recorded by an organisation's vault, newest first.

    Each alert points to the patient's audit entry written by the same transaction,
    so the organisation and the patient see the same event.
    """
    rows = store.state_scan(st.NAMESPACE, st.alert_prefix(org), limit, newest_first=True)
    return [_state_json(store, parse_json(value)) for _key, value in rows]


def org_role(store: Store, org: str | None) -> str | None:
    """An active organisation's role (hospital, insurer, ...), None for no such organisation."""
    return gov.org_role(StateReader(store.state_get), org)


def actor(store: Store, key_id: str) -> Actor:
    """Who holds a signing key now (refuses unknown and revoked keys)."""
    return gov.resolve_actor(StateReader(store.state_get), key_id, allow_new=False)


def encryption_key(store: Store, who: Actor) -> bytes:
    """The X25519 public key the ledger holds for an actor: where wrapped keys are sealed to."""
    key = gov.encryption_key(StateReader(store.state_get), who.kind, who.id)
    if key is None:
        where = gov_state.actor_record_key(who.kind, who.id)
        raise LedgerError(f"no {gov_state.NAMESPACE}/{where}", ErrorCode.NOT_FOUND)
    return bytes.fromhex(key)


def patient_exists(store: Store, patient: str) -> bool:
    return gov.patient_exists(StateReader(store.state_get), patient)


def _state_json(store: Store, key: str) -> dict[str, Any]:
    return _state_json_ns(store, st.NAMESPACE, key)


def _state_json_ns(store: Store, ns: str, key: str) -> dict[str, Any]:
    value = store.state_get(ns, key)
    if value is None:
        raise LedgerError(f"no {ns}/{key}", ErrorCode.NOT_FOUND)
    return dict(parse_json(value))
