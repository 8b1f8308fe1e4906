"""Governance operations run inside another domain's transaction, in governance's namespace."""

from __future__ import annotations

import pytest

from conftest import CHAIN, Chain, patient_register_payload, seeded_keys
from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.keys import KeyPair, derive_patient_id
from healthledger.domains.governance.operations import DailyAllowance, spend_allowance
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.context import Actor, BlockInfo, TxContext
from healthledger.ledger.transaction import Transaction

DAY = 24 * 60 * 60 * 1000
READS = DailyAllowance("reads", "reads per reader")
CLINICIAN = Actor(key_id="k", kind="member", id="st-marys/dr-ada", org="st-marys", role="nurse")


def registration(chain: Chain, voucher: KeyPair) -> Transaction:
    patient = KeyPair.generate()
    payload = patient_register_payload(patient, CHAIN, voucher)
    return chain.signer(patient.key_id, patient).sign("patient.register", payload)


def _records_tx(chain: Chain, time_ms: int) -> TxContext:
    """A transaction of another domain (records), over the chain's committed state."""
    block = BlockInfo(chain.app.info().height + 1, time_ms, "test")
    return TxContext(
        chain.store.state_get, "records", CLINICIAN, block, "tx", bases=frozenset({"gov"})
    )


def test_an_allowance_is_written_in_governance_within_the_callers_transaction(
    chain: Chain,
) -> None:
    ctx = _records_tx(chain, 1_000)
    spend_allowance(ctx, CLINICIAN.id, READS, 2)
    spend_allowance(ctx, CLINICIAN.id, READS, 2)
    key = ("gov", "allowance/reads/st-marys/dr-ada")
    # One overlay: the caller's transaction commits it, or drops it, with its own writes.
    assert ctx.writes == {key: canonical_bytes({"times": [1_000, 1_000]})}
    assert chain.store.state_get(*key) is None
    with pytest.raises(LedgerError) as refused:
        spend_allowance(ctx, CLINICIAN.id, READS, 2)
    assert refused.value.code == ErrorCode.RATE_LIMITED
    assert refused.value.message == "at most 2 reads per reader in 24 hours"
    assert ctx.writes == {key: canonical_bytes({"times": [1_000, 1_000]})}


def test_the_window_slides_with_block_time_and_stays_bounded(chain: Chain) -> None:
    ctx = _records_tx(chain, 0)
    for time_ms in (10, 20):
        ctx.block = BlockInfo(1, time_ms, "test")
        spend_allowance(ctx, CLINICIAN.id, READS, 2)
    ctx.block = BlockInfo(2, 10 + DAY, "test")  # the first use left the window
    spend_allowance(ctx, CLINICIAN.id, READS, 2)
    stored = ctx.writes[("gov", "allowance/reads/st-marys/dr-ada")]
    assert stored == canonical_bytes({"times": [20, 10 + DAY]})


def test_an_allowance_name_is_a_key_word() -> None:
    with pytest.raises(ValueError):
        DailyAllowance("break glass/x", "reads")


def test_a_patients_vouches_are_counted_by_the_same_operation(chain: Chain) -> None:
    parent = seeded_keys("parent")
    payload = patient_register_payload(parent, CHAIN, seeded_keys("st-marys"))
    assert chain.one(chain.signer("parent").sign("patient.register", payload)).ok
    results = chain.block([registration(chain, parent) for _ in range(6)])
    assert [r.code for r in results] == ["ok"] * 5 + ["rate_limited"]
    assert results[5].message == "at most 5 patients vouched for by one patient in 24 hours"
    parent_id = derive_patient_id(parent.key_id)
    window = chain.state("gov", f"allowance/vouch/{parent_id}")
    assert window == {"times": [chain.store.header(chain.app.info().height).time_ms] * 5}
    assert chain.state("gov", f"vouches/{parent_id}") is None
