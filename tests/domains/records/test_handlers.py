"""Records transactions applied block by block: every refusal changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import CHAIN, Chain, patient_register_payload, seeded_keys
from healthledger.crypto.envelope import new_data_key, wrap_key
from healthledger.crypto.keys import KeyPair, derive_patient_id

FAR = 1_800_000_000_000
HOSPITAL = "st-marys"


def _enroll(chain: Chain, org: str, member: str, role: str) -> None:
    keys = seeded_keys(member)
    payload = {
        "member_id": member,
        "name": member,
        "role": role,
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    assert chain.one(chain.signer(org).sign("member.enroll", payload)).ok


def _register(chain: Chain, name: str) -> str:
    keys = seeded_keys(name)
    signer = chain.signer(name)
    payload = patient_register_payload(keys, CHAIN)
    assert chain.one(signer.sign("patient.register", payload)).ok
    return derive_patient_id(keys.key_id)


def _record(patient: str, record_id: str, **extra: Any) -> dict[str, Any]:
    key = new_data_key()
    wrapped = wrap_key(key, seeded_keys("x").encryption_public)
    return {
        "record_id": record_id,
        "patient": patient,
        "resource_type": "Observation",
        "code": "http://loinc.org|8867-4",
        "date": "2026-03-02",
        "media_type": "application/fhir+json",
        "content_hash": "a" * 64,
        "blob_id": "b" * 64,
        "size": 120,
        "wrapped_keys": {"patient": wrapped, "custodian": wrapped},
        **extra,
    }


@pytest.fixture
def clinic(chain: Chain) -> Chain:
    _enroll(chain, HOSPITAL, "dr-ada", "practitioner")
    _enroll(chain, HOSPITAL, "clerk-bo", "staff")
    _register(chain, "alice")
    _register(chain, "bruno")
    return chain


def pid(name: str) -> str:
    return derive_patient_id(seeded_keys(name).key_id)


REC = "rec-" + "1" * 24
CNS = "cns-" + "2" * 24


def _add(chain: Chain, record_id: str = REC, **extra: Any) -> Any:
    payload = _record(pid("alice"), record_id, author=f"{HOSPITAL}/dr-ada", **extra)
    return chain.one(chain.signer(HOSPITAL).sign("record.add", payload))


def test_a_custodian_registers_metadata_and_the_locator_indexes_it(clinic: Chain) -> None:
    assert _add(clinic).ok
    record = clinic.state("records", f"record/{REC}")
    assert record["custodian"] == HOSPITAL and record["status"] == "active"
    assert clinic.state("records", f"patient/{pid('alice')}/record/{REC}") == REC
    assert _add(clinic).code == "already_exists"


def test_records_are_registered_by_an_org_for_a_known_patient(clinic: Chain) -> None:
    payload = _record(pid("alice"), REC)
    assert clinic.one(clinic.signer("dr-ada").sign("record.add", payload)).code == "unauthorized"
    stranger = _record(derive_patient_id(KeyPair.generate().key_id), REC)
    assert clinic.one(clinic.signer(HOSPITAL).sign("record.add", stranger)).code == "not_found"
    insurer = clinic.signer("acme-insurance").sign("record.add", payload)
    assert clinic.one(insurer).code == "unauthorized"
    assert clinic.state("records", f"record/{REC}") is None


def _grant(chain: Chain, who: str, **extra: Any) -> Any:
    payload = {
        "consent_id": CNS,
        "patient": pid("alice"),
        "grantee": {"kind": "org", "org": "acme-insurance"},
        "purposes": ["payment"],
        "expires_ms": FAR,
        **extra,
    }
    return chain.one(chain.signer(who).sign("consent.grant", payload))


def test_only_the_patient_grants_and_revokes(clinic: Chain) -> None:
    assert _add(clinic).ok
    assert _grant(clinic, "bruno").code == "unauthorized"
    assert _grant(clinic, "dr-ada").code == "unauthorized"
    assert _grant(clinic, "alice", expires_ms=1).code == "invalid_field"
    assert _grant(clinic, "alice", record_ids=["rec-" + "9" * 24]).code == "not_found"
    assert _grant(clinic, "alice").ok
    revoke = {"consent_id": CNS, "reason": ""}
    assert clinic.one(clinic.signer("bruno").sign("consent.revoke", revoke)).code == "unauthorized"
    assert clinic.one(clinic.signer("alice").sign("consent.revoke", revoke)).ok
    assert clinic.state("records", f"consent/{CNS}")["status"] == "revoked"
    assert clinic.one(clinic.signer("alice").sign("consent.revoke", revoke)).code == "conflict"


def _access(chain: Chain, reader: str, basis: str, purpose: str = "payment", **extra: Any) -> Any:
    payload = {
        "action": "read",
        "patient": pid("alice"),
        "record_id": REC,
        "reader": seeded_keys(reader).key_id,
        "purpose": purpose,
        "basis": basis,
        "request_id": "c" * 64,
        **extra,
    }
    return chain.one(chain.signer(HOSPITAL).sign("record.access", payload))


def test_the_access_handler_rechecks_the_basis_the_vault_claims(clinic: Chain) -> None:
    assert _add(clinic).ok
    assert _access(clinic, "alice", "self").ok
    assert _access(clinic, "dr-ada", "author").ok
    assert _access(clinic, "clerk-bo", "author").code == "unauthorized"
    assert _access(clinic, "clerk-bo", "consent", consent_id=CNS).code == "no_consent"
    assert _grant(clinic, "alice", grantee={"kind": "org", "org": HOSPITAL}).ok
    assert _access(clinic, "clerk-bo", "consent", consent_id=CNS).ok
    assert _access(clinic, "clerk-bo", "consent", "treatment", consent_id=CNS).code == "no_consent"
    assert _access(clinic, "clerk-bo", "break_glass", "emergency", reason="x" * 20).code == (
        "unauthorized"
    )
    assert _access(clinic, "dr-ada", "break_glass", "emergency", reason="short").code == (
        "invalid_field"
    )
    assert _access(clinic, "dr-ada", "break_glass", "emergency", reason="cardiac arrest, ER").ok
    events = [v for k, v in _scan(clinic, f"audit/{pid('alice')}/")]
    assert [e["basis"] for e in events] == ["self", "author", "consent", "break_glass"]
    assert events[-1]["break_glass"] is True


def test_only_the_custodian_records_reads_of_its_records(clinic: Chain) -> None:
    assert _add(clinic).ok
    payload = {
        "action": "read",
        "patient": pid("alice"),
        "record_id": REC,
        "reader": seeded_keys("alice").key_id,
        "purpose": "treatment",
        "basis": "self",
        "request_id": "d" * 64,
    }
    other = clinic.signer("acme-insurance").sign("record.access", payload)
    assert clinic.one(other).code == "not_custodian"


def test_representatives_act_within_their_powers_and_period(clinic: Chain) -> None:
    assert _add(clinic).ok
    app_id = "app-" + "3" * 24
    appoint = {
        "appointment_id": app_id,
        "representative": pid("bruno"),
        "relation": "parent",
        "powers": ["grant", "read"],
        "until_ms": FAR,
    }
    assert clinic.one(clinic.signer("dr-ada").sign("representative.appoint", appoint)).code == (
        "unauthorized"
    )
    assert clinic.one(clinic.signer("bruno").sign("representative.appoint", appoint)).code == (
        "invalid_field"
    )
    assert clinic.one(clinic.signer("alice").sign("representative.appoint", appoint)).ok
    assert _grant(clinic, "bruno").code == "unauthorized"  # must name the appointment
    assert _grant(clinic, "bruno", appointment_id=app_id).ok
    assert clinic.state("records", f"consent/{CNS}")["granted_by"] == pid("bruno")
    revoke = {"consent_id": CNS, "appointment_id": app_id}
    assert clinic.one(clinic.signer("bruno").sign("consent.revoke", revoke)).code == "unauthorized"
    assert _access(clinic, "bruno", "representative", appointment_id=app_id).ok
    end = {"appointment_id": app_id}
    assert clinic.one(clinic.signer("bruno").sign("representative.end", end)).ok
    assert _access(clinic, "bruno", "representative", appointment_id=app_id).code == "no_consent"


def test_shredding_leaves_a_tombstone_without_keys(clinic: Chain) -> None:
    assert _add(clinic).ok
    shred = {"record_id": REC, "reason": "erasure request"}
    assert clinic.one(clinic.signer("bruno").sign("record.shred", shred)).code == "unauthorized"
    result = clinic.one(clinic.signer("alice").sign("record.shred", shred))
    assert result.ok and result.events[0]["blob"] == "b" * 64
    record = clinic.state("records", f"record/{REC}")
    assert record["status"] == "shredded" and record["wrapped_keys"] is None
    assert record["content_hash"] == "a" * 64
    assert _access(clinic, "alice", "self").code == "record_shredded"


def test_a_correction_supersedes_the_old_version(clinic: Chain) -> None:
    assert _add(clinic).ok
    new = "rec-" + "4" * 24
    assert _add(clinic, new, replaces=REC).ok
    assert clinic.state("records", f"record/{REC}")["superseded_by"] == new
    assert _add(clinic, "rec-" + "5" * 24, replaces=REC).code == "invalid_state"


def _scan(chain: Chain, prefix: str) -> list[tuple[str, Any]]:
    from healthledger.crypto.canonical import parse_json

    return [(k, parse_json(v)) for k, v in chain.store.state_scan("records", prefix)]
