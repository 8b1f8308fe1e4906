"""Guardian recovery: a quorum of people a patient named restores control with new keys."""

from __future__ import annotations

from conftest import CHAIN, Chain, patient_register_payload, seeded_keys
from healthledger.crypto.keys import KeyPair, derive_patient_id


def _register(chain: Chain, name: str) -> str:
    keys = seeded_keys(name)
    payload = patient_register_payload(keys, CHAIN)
    assert chain.one(chain.signer(name).sign("patient.register", payload)).ok
    return derive_patient_id(keys.key_id)


def test_two_of_three_guardians_replace_a_lost_key(chain: Chain) -> None:
    patient = _register(chain, "pat")
    guardians = [_register(chain, g) for g in ("g1", "g2", "g3")]
    setup = {"guardians": guardians, "threshold": 2}
    assert chain.one(chain.signer("pat").sign("patient.guardians", setup)).ok
    fresh = KeyPair.generate()
    vote = {
        "patient": patient,
        "signing_key": fresh.key_id,
        "encryption_key": fresh.encryption_public.hex(),
    }
    outsider = _register(chain, "mallory")
    assert outsider
    assert chain.one(chain.signer("mallory").sign("patient.recover", vote)).code == "unauthorized"
    assert chain.one(chain.signer("g1").sign("patient.recover", vote)).ok
    assert chain.one(chain.signer("g1").sign("patient.recover", vote)).code == "conflict"
    assert chain.state("gov", f"patient/{patient}")["signing_key"] == seeded_keys("pat").key_id
    assert chain.one(chain.signer("g3").sign("patient.recover", vote)).ok
    record = chain.state("gov", f"patient/{patient}")
    assert record["signing_key"] == fresh.key_id
    # the lost key is refused, the new one acts as the same patient
    old = chain.one(chain.signer("pat").sign("patient.guardians", setup))
    assert old.code == "revoked_sender"
    assert chain.state("gov", f"key/{fresh.key_id}")["id"] == patient
    assert chain.one(chain.signer("new", fresh).sign("patient.guardians", setup)).ok


def test_guardians_are_people_and_no_organisation_can_recover(chain: Chain) -> None:
    _register(chain, "pat")
    bad = {"guardians": ["st-marys/nobody"], "threshold": 1}
    assert chain.one(chain.signer("pat").sign("patient.guardians", bad)).code == "invalid_field"
    too_high = {"guardians": [_register(chain, "g1")], "threshold": 2}
    assert (
        chain.one(chain.signer("pat").sign("patient.guardians", too_high)).code == "invalid_field"
    )
    fresh = KeyPair.generate()
    vote = {
        "patient": derive_patient_id(seeded_keys("pat").key_id),
        "signing_key": fresh.key_id,
        "encryption_key": fresh.encryption_public.hex(),
    }
    assert chain.one(chain.signer("st-marys").sign("patient.recover", vote)).code == "unauthorized"
