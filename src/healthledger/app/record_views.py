"""Transitional: the records read side over a store, in the dict shapes node/records.py uses.

The reads moved to `domains/records/queries.py` (typed, over a `LedgerReader`) and the
governance reads to `domains/governance/queries.py`; each function here runs the new
query on the store and returns what it returned before (the stored JSON objects).
Remove once the custodian service (node/custodian/) calls the typed queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from healthledger.app.reader import SnapshotReader
from healthledger.domains.governance import queries as gov_queries
from healthledger.domains.governance import state as gov_state
from healthledger.domains.records import queries
from healthledger.errors import NotFound
from healthledger.ledger.context import Actor, StateReader
from healthledger.ledger.store import Store

MAX_PATIENT_KEYS = queries.MAX_PATIENT_KEYS


@dataclass(frozen=True)
class PatientFileDicts:
    """A patient's records, consents and appointments as the stored JSON objects."""

    patient: str
    records: Sequence[dict[str, Any]]
    consents: Sequence[dict[str, Any]]
    appointments: Sequence[dict[str, Any]]


def patient_file(store: Store, patient: str) -> PatientFileDicts:
    """A patient's records, consents and appointments (call inside a snapshot)."""
    file = queries.patient_file(SnapshotReader(store), patient)
    return PatientFileDicts(
        patient,
        [r.model_dump(mode="json") for r in file.records],
        [c.model_dump(mode="json") for c in file.consents],
        [a.model_dump(mode="json") for a in file.appointments],
    )


def record(store: Store, record_id: str) -> dict[str, Any]:
    return queries.record(StateReader(store.state_get), record_id).model_dump(mode="json")


def consent(store: Store, consent_id: str) -> dict[str, Any]:
    return queries.consent(StateReader(store.state_get), consent_id).model_dump(mode="json")


def audit_events(store: Store, patient: str, limit: int = 10_000) -> list[dict[str, Any]]:
    """Every access to a patient's records, newest first."""
    trail = queries.audit_trail(SnapshotReader(store), patient, limit)
    return [event.model_dump(mode="json") for event in trail]


def alert_events(store: Store, org: str, limit: int = 1_000) -> list[dict[str, Any]]:
    """Break-glass accesses recorded by an organisation's vault, newest first."""
    feed = queries.alert_feed(SnapshotReader(store), org, limit)
    return [event.model_dump(mode="json") for event in feed]


def org_role(store: Store, org: str | None) -> str | None:
    """An active organisation's role (hospital, insurer, ...), None for no such organisation."""
    return gov_queries.org_role(StateReader(store.state_get), org)


def actor(store: Store, key_id: str) -> Actor:
    """Who holds a signing key now (refuses unknown and revoked keys)."""
    return gov_queries.resolve_actor(StateReader(store.state_get), key_id, allow_new=False)


def encryption_key(store: Store, who: Actor) -> bytes:
    """The X25519 public key the ledger holds for an actor: where wrapped keys are sealed to."""
    key = gov_queries.encryption_key(StateReader(store.state_get), who.kind, who.id)
    if key is None:
        where = gov_state.actor_record_key(who.kind, who.id)
        raise NotFound(f"no {gov_state.NAMESPACE}/{where}")
    return bytes.fromhex(key)


def patient_exists(store: Store, patient: str) -> bool:
    return gov_queries.patient_exists(StateReader(store.state_get), patient)
