"""What records stores, pinned byte for byte: typing the state changed no stored value.

A scripted run touches every kind of records value (a record, its correction and its
tombstone, a consent granted and revoked, an appointment made and ended, reads on each
basis); the exact JSON of a record, a consent and an audit entry, and the state root
after the run, are pinned to what the dict-writing handlers produced.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel

from conftest import CHAIN, Chain, patient_register_payload, seeded_keys
from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.keys import derive_patient_id
from healthledger.domains.records.messages import intent_message
from healthledger.domains.records.state import (
    Appointment,
    AppointmentRef,
    AuditEntry,
    AuditRef,
    Consent,
    ConsentRef,
    IntentSeen,
    RecordMeta,
    RecordRef,
)

HOSPITAL = "st-marys"
FAR = 1_800_000_000_000
REC = "rec-" + "1" * 24
REC2 = "rec-" + "2" * 24
CNS = "cns-" + "3" * 24
APP = "app-" + "4" * 24
# Fixed wrapped keys: the run must be deterministic for its state root to be pinned.
WRAPPED = "A" * 104


def _pid(name: str) -> str:
    return derive_patient_id(seeded_keys(name).key_id)


def _ok(chain: Chain, sender: str, tx_type: str, payload: dict[str, Any]) -> None:
    result = chain.one(chain.signer(sender).sign(tx_type, payload))
    assert result.ok, result


def _record(record_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "patient": _pid("alice"),
        "resource_type": "Observation",
        "code": "http://loinc.org|8867-4",
        "date": "2026-03-02",
        "media_type": "application/fhir+json",
        "content_hash": "a" * 64,
        "blob_id": hashlib.sha256(record_id.encode()).hexdigest(),
        "size": 120,
        "wrapped_keys": {"patient": WRAPPED, "custodian": WRAPPED},
        "author": f"{HOSPITAL}/dr-ada",
        **extra,
    }


def _read(
    chain: Chain,
    reader: str,
    basis: str,
    nonce: int,
    purpose: str = "payment",
    reason_hash: str | None = None,
    **extra: Any,
) -> None:
    keys = seeded_keys(reader)
    time_ms = 1_700_000_000_000
    payload: dict[str, Any] = {
        "action": "read",
        "patient": _pid("alice"),
        "record_id": REC2,
        "reader": keys.key_id,
        "purpose": purpose,
        "basis": basis,
        "request_id": f"{nonce:064x}",
        **extra,
    }
    if reason_hash is not None:
        payload["reason_hash"] = reason_hash
    message = intent_message(CHAIN, "read", REC2, purpose, reason_hash, time_ms, f"{nonce:032x}")
    payload["intent"] = {
        "time_ms": time_ms,
        "nonce": f"{nonce:032x}",
        "reason_hash": reason_hash,
        "signature": keys.sign(message).hex(),
    }
    _ok(chain, HOSPITAL, "record.access", payload)


def scripted_run(chain: Chain) -> None:
    """Every records transaction that succeeds, once (no break-glass: its window moved)."""
    member = {"member_id": "dr-ada", "name": "dr-ada", "role": "practitioner"}
    ada = seeded_keys("dr-ada")
    member |= {"signing_key": ada.key_id, "encryption_key": ada.encryption_public.hex()}
    _ok(chain, HOSPITAL, "member.enroll", member)
    for name in ("alice", "bruno"):
        _ok(chain, name, "patient.register", patient_register_payload(seeded_keys(name), CHAIN))
    _ok(chain, HOSPITAL, "record.add", _record(REC))
    _ok(chain, HOSPITAL, "record.add", _record(REC2, replaces=REC))
    appoint = {
        "appointment_id": APP,
        "representative": _pid("bruno"),
        "relation": "parent",
        "powers": ["read", "grant"],
        "until_ms": FAR,
    }
    _ok(chain, "alice", "representative.appoint", appoint)
    grant = {
        "consent_id": CNS,
        "patient": _pid("alice"),
        "grantee": {"kind": "org", "org": "acme-insurance"},
        "record_ids": [REC2],
        "purposes": ["payment"],
        "expires_ms": FAR,
        "wrapped_keys": {REC2: WRAPPED},
        "appointment_id": APP,
    }
    _ok(chain, "bruno", "consent.grant", grant)
    _read(chain, "alice", "self", 1)
    _read(chain, "acme-insurance", "consent", 2, consent_id=CNS)
    _read(chain, "bruno", "representative", 3, appointment_id=APP)
    _ok(chain, "alice", "consent.revoke", {"consent_id": CNS, "reason": "withdrawn"})
    _ok(chain, "bruno", "representative.end", {"appointment_id": APP})
    _ok(chain, "alice", "record.shred", {"record_id": REC, "reason": "entered_in_error"})


def _raw(chain: Chain, key: str) -> str:
    raw = chain.store.state_get("records", key)
    assert raw is not None, key
    return raw.decode()


def test_the_stored_json_of_a_record_a_consent_and_an_audit_entry_is_unchanged(
    chain: Chain,
) -> None:
    scripted_run(chain)
    alice = _pid("alice")
    assert _raw(chain, f"record/{REC2}") == (
        '{"added_height":5,"added_ms":1700000000005,"author":"st-marys/dr-ada",'
        '"blob_id":"' + hashlib.sha256(REC2.encode()).hexdigest() + '",'
        '"code":"http://loinc.org|8867-4","content_hash":"' + "a" * 64 + '",'
        '"custodian":"st-marys","date":"2026-03-02","id":"' + REC2 + '",'
        '"media_type":"application/fhir+json","patient":"' + alice + '",'
        '"replaces":"' + REC + '","resource_type":"Observation","size":120,'
        '"status":"active","superseded_by":null,'
        '"wrapped_keys":{"custodian":"' + WRAPPED + '","patient":"' + WRAPPED + '"}}'
    )
    tombstone = chain.state("records", f"record/{REC}")
    assert tombstone["status"] == "shredded" and tombstone["wrapped_keys"] is None
    assert {k: tombstone[k] for k in ("shredded_by", "shred_reason", "superseded_by")} == {
        "shredded_by": alice,
        "shred_reason": "entered_in_error",
        "superseded_by": REC2,
    }
    assert _raw(chain, f"consent/{CNS}") == (
        '{"appointment_id":"' + APP + '","expires_ms":1800000000000,'
        '"granted_by":"' + _pid("bruno") + '","granted_height":7,"granted_ms":1700000000007,'
        '"grantee":{"kind":"org","member":null,"org":"acme-insurance","role":null},'
        '"id":"' + CNS + '","patient":"' + alice + '","purposes":["payment"],'
        '"record_ids":["' + REC2 + '"],"resource_types":[],"revoke_reason":"withdrawn",'
        '"revoked_by":"' + alice + '","revoked_height":11,"revoked_ms":1700000000011,'
        '"status":"revoked","wrapped_keys":{"' + REC2 + '":"' + WRAPPED + '"}}'
    )
    ((key, entry),) = chain.store.state_scan("records", f"audit/{alice}/000000000009/")
    assert key.startswith(f"audit/{alice}/000000000009/")
    tx_id = key.rsplit("/", 1)[1]
    assert entry.decode() == (
        '{"action":"read","appointment":null,"basis":"consent","break_glass":false,'
        '"consent":"' + CNS + '","custodian":"st-marys","height":9,'
        '"id":"acc-' + tx_id[:24] + '","patient":"' + alice + '","purpose":"payment",'
        '"reader":{"id":"acme-insurance","key_id":"' + seeded_keys("acme-insurance").key_id + '",'
        '"kind":"org","org":"acme-insurance","role":"insurer"},"reason_hash":null,'
        '"record":"' + REC2 + '","request_id":"' + f"{2:064x}" + '","time_ms":1700000000009,'
        '"tx_id":"' + tx_id + '"}'
    )


# The state root after `scripted_run`, as the dict-writing handlers left it.
PINNED_ROOT = "a7c6c1c69623e324280ca4ddf6c2a16e5a9ba5a2360aa495152fe5ee7ebf28a8"


def test_the_state_root_of_a_scripted_run_is_unchanged(chain: Chain) -> None:
    scripted_run(chain)
    assert chain.app.info().state_root == PINNED_ROOT


def _model_of(key: str) -> type[BaseModel]:
    """The model a records key holds, by the layout in domains/records/state.py."""
    parts = key.split("/")
    if parts[0] == "patient":
        return {"record": RecordRef, "consent": ConsentRef, "appointment": AppointmentRef}[parts[2]]
    return {
        "record": RecordMeta,
        "consent": Consent,
        "appointment": Appointment,
        "audit": AuditEntry,
        "blob": RecordRef,
        "alert": AuditRef,
        "intent": IntentSeen,
    }[parts[0]]


def test_every_stored_records_value_loads_as_its_model_and_dumps_to_the_same_bytes(
    chain: Chain,
) -> None:
    scripted_run(chain)
    _read(chain, "dr-ada", "break_glass", 4, purpose="emergency", reason_hash="e" * 64)
    rows = chain.store.state_scan("records", "", limit=10_000)
    kinds = {key.split("/")[0] for key, _ in rows}
    assert kinds == {
        *("record", "patient", "consent", "appointment", "audit", "blob", "intent", "alert")
    }
    for key, raw in rows:
        model = _model_of(key).model_validate_json(raw)
        assert canonical_bytes(model.model_dump(mode="json")) == raw, key


def test_a_tombstone_and_a_revocation_are_stored_only_in_their_state() -> None:
    """A record that was never shredded has no shred fields at all (not nulls): the bytes
    the dict-writing handler stored. Once shredded, every tombstone field is there."""
    base = {
        "id": REC,
        "patient": "pat_1",
        "custodian": HOSPITAL,
        "author": None,
        "resource_type": "Observation",
        "code": "",
        "date": "",
        "media_type": "application/fhir+json",
        "content_hash": "a" * 64,
        "blob_id": "b" * 64,
        "size": 1,
        "wrapped_keys": None,
        "replaces": None,
        "superseded_by": None,
        "status": "active",
        "added_height": 1,
        "added_ms": 2,
    }
    assert RecordMeta.model_validate(base).model_dump(mode="json") == base
    shredded = RecordMeta.model_validate(base).model_copy(
        update={"status": "shredded", "shredded_height": 3, "shred_reason": None}
    )
    assert set(shredded.model_dump(mode="json")) == set(base) | {
        "shredded_height",
        "shredded_ms",
        "shredded_by",
        "shred_reason",
    }
