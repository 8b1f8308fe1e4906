"""Successor custodians: offer, accept, and every refusal changes nothing."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from conftest import CHAIN, Chain, patient_register_payload, seeded_keys
from healthledger.crypto.envelope import new_data_key, wrap_key
from healthledger.crypto.keys import derive_patient_id
from healthledger.domains.records.messages import MAX_SCOPE

HOSPITAL = "st-marys"
SUCCESSOR = "corner-pharmacy"  # a pharmacy keeps records: it may take custody
REC = "rec-" + "1" * 24
REC2 = "rec-" + "2" * 24
BRUNOS = "rec-" + "3" * 24
APP = "app-" + "4" * 24
FAR = 1_800_000_000_000


def pid(name: str) -> str:
    return derive_patient_id(seeded_keys(name).key_id)


def sealed_for(org: str) -> str:
    return wrap_key(new_data_key(), seeded_keys(org).encryption_public)


def _add(chain: Chain, record_id: str, patient: str) -> None:
    wrapped = sealed_for(HOSPITAL)
    payload = {
        "record_id": record_id,
        "patient": pid(patient),
        "resource_type": "Observation",
        "media_type": "application/fhir+json",
        "content_hash": "a" * 64,
        "blob_id": hashlib.sha256(record_id.encode()).hexdigest(),
        "size": 120,
        "wrapped_keys": {"patient": wrapped, "custodian": wrapped},
    }
    assert chain.one(chain.signer(HOSPITAL).sign("record.add", payload)).ok


@pytest.fixture
def held(chain: Chain) -> Chain:
    """Alice's two records and Bruno's one, held by the hospital."""
    for name in ("alice", "bruno"):
        payload = patient_register_payload(seeded_keys(name), CHAIN)
        assert chain.one(chain.signer(name).sign("patient.register", payload)).ok
    _add(chain, REC, "alice")
    _add(chain, REC2, "alice")
    _add(chain, BRUNOS, "bruno")
    return chain


def offer(chain: Chain, by: str = HOSPITAL, to: str = SUCCESSOR, ids: Any = (REC,)) -> Any:
    payload = {"successor": to, "records": {r: sealed_for(to) for r in ids}}
    return chain.one(chain.signer(by).sign("custody.offer", payload))


def accept(
    chain: Chain, by: str = "alice", to: str = SUCCESSOR, records: Any = None, **extra: Any
) -> Any:
    payload = {
        "patient": pid("alice"),
        "successor": to,
        "records": {REC: None} if records is None else records,
        **extra,
    }
    return chain.one(chain.signer(by).sign("custody.accept", payload))


def record(chain: Chain, record_id: str = REC) -> dict[str, Any]:
    value: dict[str, Any] = chain.state("records", f"record/{record_id}")
    return value


def test_an_offered_record_moves_when_its_patient_accepts(held: Chain) -> None:
    before = record(held)
    assert "custody" not in before  # an unmoved record's stored bytes are as before
    assert offer(held).ok
    assert held.state("records", f"offer/{REC}")["successor"] == SUCCESSOR
    assert record(held)["custodian"] == HOSPITAL  # nothing moves on the offer alone

    result = accept(held)

    assert result.ok, result
    moved = record(held)
    assert moved["custodian"] == SUCCESSOR
    assert moved["wrapped_keys"]["patient"] == before["wrapped_keys"]["patient"]
    assert moved["wrapped_keys"]["custodian"] != before["wrapped_keys"]["custodian"]
    assert moved["blob_id"] == before["blob_id"]
    assert moved["content_hash"] == before["content_hash"]
    (move,) = moved["custody"]
    assert move["custodian"] == HOSPITAL and move["successor"] == SUCCESSOR
    assert move["offered"] is True and move["accepted_by"] == pid("alice")
    assert held.state("records", f"offer/{REC}") is None
    assert [e["type"] for e in result.events] == ["record.custody_moved"]
    assert record(held, REC2)["custodian"] == HOSPITAL


def test_the_patients_own_key_may_replace_the_offered_one(held: Chain) -> None:
    assert offer(held).ok
    mine = sealed_for(SUCCESSOR)
    assert accept(held, records={REC: mine}).ok
    assert record(held)["wrapped_keys"]["custodian"] == mine


def test_without_an_offer_only_a_removed_custodians_records_move(held: Chain) -> None:
    mine = sealed_for(SUCCESSOR)
    refused = accept(held, records={REC: mine})
    assert refused.code == "unauthorized" and "has not offered" in refused.message
    _remove(held, HOSPITAL)

    assert accept(held, records={REC: None}).code == "invalid_field"  # no key to take
    result = accept(held, records={REC: mine, REC2: sealed_for(SUCCESSOR)})

    assert result.ok, result
    assert record(held)["custody"][0]["offered"] is False
    assert record(held, REC2)["custodian"] == SUCCESSOR


def _remove(chain: Chain, org: str) -> None:
    proposed = chain.one(
        chain.signer("acme-insurance").sign("org.propose", {"action": "remove", "org_id": org})
    )
    assert proposed.ok, proposed
    proposal = next(e["proposal"] for e in proposed.events if e["type"] == "org.proposed")
    for voter in ("medico-pharma", SUCCESSOR, HOSPITAL):
        if chain.state("gov", f"org/{org}")["status"] != "active":
            break
        chain.one(chain.signer(voter).sign("org.approve", {"proposal_id": proposal}))
    assert chain.state("gov", f"org/{org}")["status"] != "active"


def test_refusals_change_nothing(held: Chain) -> None:
    before = held.domain_state()
    # Only the custodian offers, only its own records, only to an organisation that keeps records.
    assert offer(held, by=SUCCESSOR, to=HOSPITAL).code == "not_custodian"
    assert offer(held, by="acme-insurance").code == "unauthorized"  # not a custodian role
    assert offer(held, to="acme-insurance").code == "invalid_field"  # an insurer
    assert offer(held, to="nobody-here").code == "invalid_field"
    assert offer(held, to=HOSPITAL).code == "invalid_field"  # itself
    assert offer(held, ids=["rec-" + "9" * 24]).code == "not_found"
    too_many = [f"rec-{i:024x}" for i in range(MAX_SCOPE + 1)]
    assert offer(held, ids=too_many).code == "invalid_field"
    assert held.domain_state() == before

    assert offer(held).ok
    assert offer(held).code == "already_exists"  # the same offer again
    before = held.domain_state()
    # Only the patient (or a representative with the grant power) accepts, only their records.
    assert accept(held, by="bruno").code == "unauthorized"
    assert accept(held, by=HOSPITAL).code == "unauthorized"
    assert accept(held, by=SUCCESSOR).code == "unauthorized"
    assert accept(held, records={BRUNOS: sealed_for(SUCCESSOR)}).code == "invalid_field"
    assert accept(held, to="medico-pharma").code == "invalid_field"  # not a successor
    assert accept(held, records={REC2: None}).code == "unauthorized"  # not offered
    assert accept(held, records={REC: None, REC2: None}).code == "unauthorized"  # all or none
    assert accept(held, records={f"rec-{i:024x}": None for i in range(201)}).code == "invalid_field"
    assert accept(held, appointment_id=APP, by="bruno").code == "unauthorized"
    assert held.domain_state() == before

    assert accept(held).ok
    assert accept(held, records={REC: sealed_for(SUCCESSOR)}).code == "conflict"  # held already


def test_a_representative_with_the_grant_power_accepts(held: Chain) -> None:
    appoint = {
        "appointment_id": APP,
        "representative": pid("bruno"),
        "relation": "caregiver",
        "powers": ["read"],
        "until_ms": FAR,
    }
    assert held.one(held.signer("alice").sign("representative.appoint", appoint)).ok
    assert offer(held).ok
    assert accept(held, by="bruno", appointment_id=APP).code == "unauthorized"  # no grant power

    other = "app-" + "5" * 24
    granting = {**appoint, "appointment_id": other, "powers": ["grant"]}
    assert held.one(held.signer("alice").sign("representative.appoint", granting)).ok
    assert accept(held, by="bruno", appointment_id=other).ok
    assert record(held)["custody"][0]["accepted_by"] == pid("bruno")


def test_a_moved_record_is_read_and_shredded_by_its_new_custodian_only(held: Chain) -> None:
    assert offer(held).ok and accept(held).ok
    shred = {"record_id": REC, "reason": "entered_in_error"}
    assert held.one(held.signer(HOSPITAL).sign("record.shred", shred)).code == "unauthorized"
    result = held.one(held.signer(SUCCESSOR).sign("record.shred", shred))
    assert result.ok
    (event,) = [e for e in result.events if e["type"] == "record.shredded"]
    assert event["custodian"] == SUCCESSOR
    tombstone = record(held)
    assert tombstone["status"] == "shredded" and tombstone["custody"][0]["custodian"] == HOSPITAL
    assert accept(held, to="st-marys", records={REC: sealed_for(HOSPITAL)}).code == (
        "record_shredded"
    )
