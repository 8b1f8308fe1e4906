"""The exact bytes governance stores: typed models must write what the dicts wrote before.

A record's canonical JSON is hashed into the state root; these vectors were taken from
the code before the models (commit 0c4b5ac) and must never change.
"""

from __future__ import annotations

from conftest import CHAIN, Chain, patient_register_payload
from healthledger.crypto.keys import KeyPair, derive_patient_id

NURSE = KeyPair.from_seed(b"state-bytes/nurse".ljust(32, b"."))
PATIENT = KeyPair.from_seed(b"state-bytes/patient".ljust(32, b"."))
PATIENT_ID = derive_patient_id(PATIENT.key_id)

ORG = (
    '{"encryption_key":"6089b140a3ced1bec2021ba25e31daf064d7936bd0fa95f2ee7c255b49a3d163",'
    '"id":"st-marys","joined_height":0,"name":"St-Marys","role":"hospital",'
    '"signing_key":"da5c6aba141d9165c507586ee5d79f5ff912b4df3590bab0b0a31b8ea4b39a65",'
    '"status":"active","validator":null}'
)
MEMBER = (
    '{"encryption_key":"dc5d4bd6940c0b091a86315d751c547003caeaa1981eb535d1ef43440ea0316c",'
    '"member_id":"nurse-1","name":"Nurse One","org":"st-marys","role":"nurse",'
    '"signing_key":"185aceed7d1ab2e36e36b8927100e063ee5d0737326394560b434d4f480b47fb",'
    '"status":"active"}'
)
PATIENT_RECORD = (
    '{"encryption_key":"2dd99339415a31287cef991da8f33221541f63f4be6da0576815f7d67772485e",'
    '"id":"pat_d971796d6596132d26a6d02b6dd57106","registered_height":2,'
    '"signing_key":"364cf397d3528a63fdd3e4c4c3ca166ec64382d1bad8238184565a0d78994c52",'
    '"vouched_by":"st-marys","voucher_kind":"org"}'
)
GUARDED_PATIENT = PATIENT_RECORD.replace(
    '"id"', '"guardian_threshold":1,"guardians":["st-marys/nurse-1"],"id"'
)
KEY = '{"id":"st-marys/nurse-1","kind":"member","org":"st-marys","role":"nurse","status":"active"}'
CONFIG = (
    '{"limits":{"break_glass_per_day":5,"registrations_per_block":1000,'
    '"vouches_per_patient_per_day":5},"quorum_denominator":3,"quorum_numerator":2}'
)


def stored(chain: Chain, ns: str, key: str) -> str:
    raw = chain.store.state_get(ns, key)
    assert raw is not None, key
    return raw.decode()


def test_org_member_patient_key_and_config_records_keep_their_bytes(chain: Chain) -> None:
    enrol = {
        "member_id": "nurse-1",
        "name": "Nurse One",
        "role": "nurse",
        "signing_key": NURSE.key_id,
        "encryption_key": NURSE.encryption_public.hex(),
    }
    assert chain.one(chain.signer("st-marys").sign("member.enroll", enrol)).ok
    patient = chain.signer("patient", PATIENT)
    assert chain.one(patient.sign("patient.register", patient_register_payload(PATIENT, CHAIN))).ok
    assert stored(chain, "gov", "org/st-marys") == ORG
    assert stored(chain, "gov", "member/st-marys/nurse-1") == MEMBER
    assert stored(chain, "gov", f"key/{NURSE.key_id}") == KEY
    assert stored(chain, "gov", f"patient/{PATIENT_ID}") == PATIENT_RECORD
    assert stored(chain, "gov", "config") == CONFIG
    assert stored(chain, "gov", "stats") == '{"active_orgs":4}'
    guardians = {"guardians": ["st-marys/nurse-1"], "threshold": 1}
    assert chain.one(patient.sign("patient.guardians", guardians)).ok
    assert stored(chain, "gov", f"patient/{PATIENT_ID}") == GUARDED_PATIENT
    assert stored(chain, "nonce", PATIENT.key_id) == '{"max":2,"window":"1"}'


def test_an_open_and_an_executed_proposal_keep_their_shape(chain: Chain) -> None:
    """Fields written only once set (`executed_height`, `superseded_by`, `capability`) stay
    absent before: an open admission proposal has exactly the fields it always had."""
    keys = KeyPair.from_seed(b"state-bytes/northlab".ljust(32, b"."))
    spec = {
        "id": "northlab",
        "name": "Northlab",
        "role": "laboratory",
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    result = chain.one(chain.signer("st-marys").sign("org.propose", {"action": "add", "org": spec}))
    proposal = next(e["proposal"] for e in result.events if e["type"] == "org.proposed")
    opened = chain.state("gov", f"proposal/{proposal}")
    assert opened == {
        "id": proposal,
        "action": "add",
        "org": {**spec, "validator": None},
        "org_id": "northlab",
        "proposer": "st-marys",
        "approvals": ["st-marys"],
        "status": "open",
        "opened_height": 1,
    }
    assert chain.state("gov", "open/northlab") == [proposal]
    for voter in ("acme-insurance", "medico-pharma"):
        assert chain.one(chain.signer(voter).sign("org.approve", {"proposal_id": proposal})).ok
    executed = chain.state("gov", f"proposal/{proposal}")
    assert executed == {
        **opened,
        "approvals": ["acme-insurance", "medico-pharma", "st-marys"],
        "status": "executed",
        "executed_height": 3,
    }
    assert chain.state("gov", "open/northlab") is None
