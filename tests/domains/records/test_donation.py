"""Organ-donation decisions applied block by block: record, change, withdraw, counts, refusals."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from conftest import CHAIN, Chain, make_genesis, patient_register_payload, seeded_keys
from healthledger.app.application import Application
from healthledger.crypto.keys import KeyPair, derive_patient_id
from healthledger.domains.records.donation import MAX_VERSIONS, ORGANS
from healthledger.domains.records.messages import intent_message
from healthledger.ledger.store import Store

FAR = 1_800_000_000_000
BLOCK_TIME = 1_700_000_000_000
HOSPITAL = "st-marys"
CLINIC = "valley-clinic"
NONCES = itertools.count()
APPOINTMENTS = itertools.count(1)


def pid(name: str) -> str:
    return derive_patient_id(seeded_keys(name).key_id)


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


def _register(chain: Chain, name: str, voucher: str = HOSPITAL) -> str:
    keys = seeded_keys(name)
    payload = patient_register_payload(keys, CHAIN, seeded_keys(voucher))
    result = chain.one(chain.signer(name).sign("patient.register", payload))
    assert result.ok, result.message
    return derive_patient_id(keys.key_id)


@pytest.fixture
def world(tmp_path: Any) -> Chain:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    founders = [
        (HOSPITAL, "hospital"),
        (CLINIC, "clinic"),
        ("acme-insurance", "insurer"),
        ("medico-pharma", "manufacturer"),
    ]
    app.init_chain(make_genesis(founders))
    chain = Chain(app, store)
    _enroll(chain, HOSPITAL, "coord-cy", "coordinator")
    _enroll(chain, HOSPITAL, "nurse-ben", "nurse")
    _enroll(chain, CLINIC, "nurse-dee", "nurse")
    _enroll(chain, "acme-insurance", "claims-coord", "coordinator")
    _register(chain, "alice")  # vouched for by the hospital
    _register(chain, "bruno", voucher="nurse-dee")  # by the clinic's nurse: the clinic
    _register(chain, "carla", voucher="alice")  # by a patient: alice's organisation
    return chain


def _decide(chain: Chain, who: str, patient: str | None = None, **extra: Any) -> Any:
    payload = {
        "patient": patient or pid(who),
        "decision": "donate",
        "organs": ["kidneys", "liver"],
        "research": False,
        **extra,
    }
    return chain.one(chain.signer(who).sign("donation.decide", payload))


def _withdraw(chain: Chain, who: str, patient: str | None = None, **extra: Any) -> Any:
    payload = {"patient": patient or pid(who), **extra}
    return chain.one(chain.signer(who).sign("donation.withdraw", payload))


def _counts(chain: Chain) -> dict[str, int]:
    rows = chain.store.state_scan("records", "donation_count/", limit=1000)
    return {key.removeprefix("donation_count/"): int(value) for key, value in rows}


def _ask(
    chain: Chain,
    reader: str,
    purpose: str = "transplant",
    sender: str = HOSPITAL,
    patient: str | None = None,
    **extra: Any,
) -> Any:
    """A coordinator's question as their organisation's node records it."""
    keys = seeded_keys(reader)
    nonce = f"{next(NONCES):032x}"
    patient = patient or pid("alice")
    message = intent_message(CHAIN, "donation", patient, purpose, None, BLOCK_TIME, nonce)
    payload = {
        "action": "donation",
        "patient": patient,
        "reader": keys.key_id,
        "purpose": purpose,
        "basis": "coordinator",
        "request_id": "c" * 64,
        "intent": {
            "time_ms": BLOCK_TIME,
            "nonce": nonce,
            "reason_hash": None,
            "signature": keys.sign(message).hex(),
        },
        **extra,
    }
    return chain.one(chain.signer(sender).sign("record.access", payload))


def test_record_change_withdraw_keep_every_version(world: Chain) -> None:
    alice = pid("alice")
    first = _decide(world, "alice", research=True)
    assert first.ok, first.message
    current = world.state("records", f"donation/{alice}")
    assert current["status"] == "current" and current["organs"] == ["kidneys", "liver"]
    assert current["research"] is True and current["version"] == 1
    assert current["counted_under"] == HOSPITAL
    assert [e["type"] for e in first.events] == ["donation.decided"]
    assert "organs" not in first.events[0]  # the decision is read through an audited question
    assert _decide(world, "alice", decision="do_not_donate", organs=[]).ok
    changed = world.state("records", f"donation/{alice}")
    assert changed["decision"] == "do_not_donate" and changed["organs"] == []
    assert changed["version"] == 2
    assert world.state("records", f"donation/{alice}/{1:012d}")["decision"] == "donate"
    withdrawn = _withdraw(world, "alice")
    assert withdrawn.ok
    now = world.state("records", f"donation/{alice}")
    assert now["status"] == "withdrawn" and now["version"] == 3
    assert now["withdrawn_height"] == world.app.info().height
    assert _withdraw(world, "alice").code == "conflict"
    assert _decide(world, "alice", organs=["all"]).ok  # a new decision after a withdrawal
    assert world.state("records", f"donation/{alice}")["status"] == "current"


def test_counts_follow_decisions_changes_and_withdrawals(world: Chain) -> None:
    assert _counts(world) == {}
    assert _decide(world, "alice").ok
    assert _decide(world, "bruno", decision="do_not_donate", organs=[]).ok
    assert _decide(world, "carla").ok
    assert _counts(world) == {
        f"{HOSPITAL}/donate": 2,  # alice, and carla whom alice vouched for
        f"{CLINIC}/do_not_donate": 1,  # bruno, vouched for by the clinic's nurse
    }
    assert _decide(world, "alice", decision="do_not_donate", organs=[]).ok
    assert _counts(world) == {
        f"{HOSPITAL}/donate": 1,
        f"{HOSPITAL}/do_not_donate": 1,
        f"{CLINIC}/do_not_donate": 1,
    }
    assert _withdraw(world, "bruno").ok
    assert _withdraw(world, "alice").ok
    assert _counts(world) == {
        f"{HOSPITAL}/donate": 1,
        f"{HOSPITAL}/withdrawn": 1,
        f"{CLINIC}/withdrawn": 1,
    }
    assert _decide(world, "bruno", organs=["corneas"]).ok
    assert _counts(world)[f"{CLINIC}/donate"] == 1 and f"{CLINIC}/withdrawn" not in _counts(world)


def _appoint(chain: Chain, patient: str, representative: str, powers: list[str]) -> str:
    app_id = "app-" + f"{next(APPOINTMENTS):024x}"
    payload = {
        "appointment_id": app_id,
        "representative": pid(representative),
        "relation": "guardian",
        "powers": powers,
        "until_ms": FAR,
    }
    assert chain.one(chain.signer(patient).sign("representative.appoint", payload)).ok
    return app_id


def test_a_representative_decides_and_withdraws_with_the_powers_it_holds(world: Chain) -> None:
    alice = pid("alice")
    grant_only = _appoint(world, "alice", "bruno", ["grant"])
    assert _decide(world, "bruno", alice).code == "unauthorized"  # no appointment named
    assert _decide(world, "bruno", alice, appointment_id=grant_only).ok
    decided = world.state("records", f"donation/{alice}")
    assert decided["decided_by"] == pid("bruno")
    assert decided["decided_appointment"] == grant_only
    assert _withdraw(world, "bruno", alice, appointment_id=grant_only).code == "unauthorized"
    revoker = _appoint(world, "alice", "bruno", ["revoke"])
    assert _withdraw(world, "bruno", alice, appointment_id=revoker).ok
    assert world.state("records", f"donation/{alice}")["withdrawn_appointment"] == revoker
    # carla holds no appointment of alice's
    assert _decide(world, "carla", alice, appointment_id=grant_only).code == "unauthorized"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"decision": "do_not_donate"}, "invalid_field"),  # organs with do_not_donate
        ({"organs": []}, "invalid_field"),  # donate with no organs
        ({"organs": ["kidneys", "kidneys"]}, "invalid_field"),
        ({"organs": ["all", "heart"]}, "invalid_field"),
        ({"organs": ["spleen"]}, "invalid_field"),
        ({"organs": list(ORGANS) * 2}, "invalid_field"),  # more than the vocabulary
        ({"decision": "maybe"}, "invalid_field"),
        ({"research": "yes"}, "invalid_field"),
        ({"free_text": "I want to give everything"}, "invalid_field"),
        ({"appointment_id": "app-" + "9" * 24}, "unauthorized"),
    ],
)
def test_bad_decisions_are_refused_and_change_nothing(
    world: Chain, changes: dict[str, Any], code: str
) -> None:
    before = world.domain_state()
    result = _decide(world, "bruno", pid("alice"), **changes)
    if "appointment_id" not in changes:
        result = _decide(world, "alice", **changes)
    assert result.code == code, result.message
    assert [r for r in world.domain_state() if r[0] == "records"] == [
        r for r in before if r[0] == "records"
    ]


def test_who_may_decide_and_withdraw(world: Chain) -> None:
    alice = pid("alice")
    stranger = derive_patient_id(KeyPair.generate().key_id)
    assert _decide(world, "alice", stranger).code == "not_found"
    assert _decide(world, "bruno", alice).code == "unauthorized"
    assert _decide(world, "nurse-ben", alice).code == "unauthorized"
    assert _decide(world, HOSPITAL, alice).code == "unauthorized"  # not a person: declared
    assert _withdraw(world, "alice").code == "not_found"  # nothing to withdraw yet
    assert _decide(world, "alice").ok
    assert _withdraw(world, "bruno", alice).code == "unauthorized"
    assert world.state("records", f"donation/{alice}")["status"] == "current"


def test_history_is_bounded_to_the_newest_versions(world: Chain) -> None:
    alice = pid("alice")
    for n in range(MAX_VERSIONS + 3):
        assert _decide(world, "alice", research=n % 2 == 0).ok
    rows = world.store.state_scan("records", f"donation/{alice}/", limit=1000)
    versions = [int(key.rsplit("/", 1)[1]) for key, _ in rows]
    assert versions == list(range(4, MAX_VERSIONS + 4))
    assert _counts(world) == {f"{HOSPITAL}/donate": 1}


def test_a_coordinator_of_a_care_giving_organisation_asks_under_transplant(world: Chain) -> None:
    alice = pid("alice")
    assert _ask(world, "coord-cy").ok  # no decision yet: still an audited question
    event = world.store.state_scan("records", f"audit/{alice}/", limit=10)
    (entry,) = [world.state("records", key) for key, _ in event]
    assert entry["action"] == "donation" and entry["basis"] == "coordinator"
    assert entry["purpose"] == "transplant" and entry["record"] is None
    assert entry["custodian"] == HOSPITAL and entry["reader"]["role"] == "coordinator"


@pytest.mark.parametrize(
    ("reader", "purpose", "sender", "extra", "code"),
    [
        ("nurse-ben", "transplant", HOSPITAL, {}, "unauthorized"),  # not a coordinator
        ("claims-coord", "transplant", "acme-insurance", {}, "unauthorized"),  # an insurer's
        ("coord-cy", "treatment", HOSPITAL, {}, "no_consent"),  # another purpose
        ("coord-cy", "transplant", CLINIC, {}, "unauthorized"),  # not the reader's own org
        ("coord-cy", "transplant", HOSPITAL, {"basis": "break_glass"}, "unauthorized"),
        ("coord-cy", "transplant", HOSPITAL, {"record_id": "rec-" + "1" * 24}, "invalid_field"),
        ("alice", "transplant", HOSPITAL, {}, "unauthorized"),  # a patient
    ],
)
def test_refused_questions_are_not_audited(
    world: Chain, reader: str, purpose: str, sender: str, extra: dict[str, Any], code: str
) -> None:
    assert _decide(world, "alice").ok
    result = _ask(world, reader, purpose, sender, **extra)
    assert result.code == code, result.message
    assert world.store.state_scan("records", f"audit/{pid('alice')}/", limit=10) == []


def test_a_coordinator_cannot_read_records_on_that_basis(world: Chain) -> None:
    """The coordinator basis answers donation questions only, never a record read."""
    keys = seeded_keys("coord-cy")
    nonce = f"{next(NONCES):032x}"
    record_id = "rec-" + "1" * 24
    message = intent_message(CHAIN, "read", record_id, "transplant", None, BLOCK_TIME, nonce)
    payload = {
        "action": "read",
        "patient": pid("alice"),
        "record_id": record_id,
        "reader": keys.key_id,
        "purpose": "transplant",
        "basis": "coordinator",
        "request_id": "c" * 64,
        "intent": {
            "time_ms": BLOCK_TIME,
            "nonce": nonce,
            "reason_hash": None,
            "signature": keys.sign(message).hex(),
        },
    }
    result = world.one(world.signer(HOSPITAL).sign("record.access", payload))
    assert result.code in {"not_found", "invalid_field"}
