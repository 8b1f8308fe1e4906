"""Patient registration: vouched for by care or a representative, capped per block (issue 10, #10).

Before, `patient.register` was free and unbounded: any new key registered itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import CHAIN, Chain, make_genesis, patient_register_payload, seeded_keys
from healthledger.app.application import Application
from healthledger.app.genesis import Genesis
from healthledger.crypto.keys import KeyPair, derive_patient_id
from healthledger.ledger.block import TxResult
from healthledger.ledger.context import BlockInfo
from healthledger.ledger.store import Store
from healthledger.ledger.transaction import Transaction

DAY_MS = 24 * 60 * 60 * 1000


def capped_genesis(per_block: int = 3, per_patient: int = 2) -> Genesis:
    data = make_genesis().model_dump(mode="json")
    data["limits"] = {
        "registrations_per_block": per_block,
        "vouches_per_patient_per_day": per_patient,
    }
    return Genesis.model_validate(data)


@pytest.fixture
def reg(tmp_path: Path) -> Iterator[Chain]:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(capped_genesis())
    yield Chain(app, store)
    store.close()


def registration(chain: Chain, voucher: KeyPair, patient: KeyPair | None = None) -> Transaction:
    patient = patient or KeyPair.generate()
    payload = patient_register_payload(patient, CHAIN, voucher)
    return chain.signer(patient.key_id, patient).sign("patient.register", payload)


def at_time(chain: Chain, time_ms: int, txs: list[Transaction]) -> list[TxResult]:
    height = chain.app.info().height + 1
    pending = chain.app.finalize_block(BlockInfo(height, time_ms, "test"), txs)
    chain.app.commit()
    return [result for *_rest, result in pending.txs]


def enrol(chain: Chain, org: str, member: str, role: str) -> KeyPair:
    keys = KeyPair.generate()
    payload = {
        "member_id": member,
        "name": member,
        "role": role,
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    assert chain.one(chain.signer(org).sign("member.enroll", payload)).ok
    return keys


def test_a_hospital_and_its_staff_vouch(reg: Chain) -> None:
    patient = KeyPair.generate()
    result = reg.one(registration(reg, seeded_keys("st-marys"), patient))
    assert result.ok, result
    record = reg.state("gov", f"patient/{derive_patient_id(patient.key_id)}")
    assert record["vouched_by"] == "st-marys"
    clerk = enrol(reg, "st-marys", "clerk-1", "staff")
    assert reg.one(registration(reg, clerk)).ok


def test_other_organisations_and_strangers_cannot_vouch(reg: Chain) -> None:
    insurer = reg.one(registration(reg, seeded_keys("acme-insurance")))
    assert insurer.code == "unauthorized"
    stranger = reg.one(registration(reg, KeyPair.generate()))
    assert (stranger.code, stranger.message.startswith("voucher:")) == ("unauthorized", True)
    maker_staff = enrol(reg, "medico-pharma", "rep-1", "staff")
    assert reg.one(registration(reg, maker_staff)).code == "unauthorized"
    assert reg.state("gov", "registrations") is None


def test_a_voucher_is_bound_to_one_patient_and_one_chain(reg: Chain) -> None:
    hospital = seeded_keys("st-marys")
    vouched = patient_register_payload(KeyPair.generate(), CHAIN, hospital)
    thief = KeyPair.generate()
    stolen = {**vouched, "encryption_key": thief.encryption_public.hex()}
    assert reg.one(reg.signer("thief", thief).sign("patient.register", stolen)).code == (
        "bad_signature"
    )
    other = KeyPair.generate()
    elsewhere = patient_register_payload(other, "another-chain", hospital)
    assert reg.one(reg.signer("other", other).sign("patient.register", elsewhere)).code == (
        "bad_signature"
    )


def test_a_patient_vouches_for_a_few_people_a_day(reg: Chain) -> None:
    parent = KeyPair.generate()
    assert reg.one(registration(reg, seeded_keys("st-marys"), parent)).ok
    start = 1_800_000_000_000
    first = at_time(reg, start, [registration(reg, parent), registration(reg, parent)])
    assert [r.code for r in first] == ["ok", "ok"]
    third = at_time(reg, start + DAY_MS - 1, [registration(reg, parent)])
    assert third[0].code == "rate_limited"
    next_day = at_time(reg, start + DAY_MS + 1, [registration(reg, parent)])
    assert next_day[0].ok


def test_a_block_registers_at_most_the_genesis_cap(reg: Chain) -> None:
    hospital = seeded_keys("st-marys")
    results = reg.block([registration(reg, hospital) for _ in range(5)])
    assert [r.code for r in results] == ["ok"] * 3 + ["rate_limited"] * 2
    refused = registration(reg, hospital)
    assert reg.block([refused])[0].ok  # the next block has room again


def test_a_refused_registration_consumed_its_nonce(reg: Chain) -> None:
    """Its bytes are public: replayed once the cap has room, it must not register anyone."""
    hospital = seeded_keys("st-marys")
    txs = [registration(reg, hospital) for _ in range(4)]
    assert reg.block(txs)[3].code == "rate_limited"
    assert reg.one(txs[3]).code == "duplicate_nonce"


def test_a_patient_vouched_for_by_a_patient_does_not_vouch_in_turn(reg: Chain) -> None:
    """Otherwise each generation vouches for five more: a flood that doubles every block."""
    parent, child = KeyPair.generate(), KeyPair.generate()
    assert reg.one(registration(reg, seeded_keys("st-marys"), parent)).ok
    assert reg.one(registration(reg, parent, child)).ok
    grandchild = reg.one(registration(reg, child))
    assert grandchild.code == "unauthorized"


def test_who_vouched_is_known_by_kind_not_by_the_spelling_of_an_id(tmp_path: Path) -> None:
    """An organisation may be called `pat_…`: its patients still vouch for their children."""
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(make_genesis([("pat_general", "hospital"), ("acme-insurance", "insurer")]))
    chain = Chain(app, store)
    parent, child = KeyPair.generate(), KeyPair.generate()
    assert chain.one(registration(chain, seeded_keys("pat_general"), parent)).ok
    assert chain.one(registration(chain, parent, child)).ok
    store.close()
