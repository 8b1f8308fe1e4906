"""Replay protection against a reference model: a set of used nonces, plus the window rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import Chain
from healthledger.app.nonces import WINDOW, check_nonce, record_nonce
from healthledger.crypto.keys import KeyPair
from healthledger.errors import DuplicateNonce


@given(st.lists(st.integers(min_value=0, max_value=600), max_size=200))
def test_window_agrees_with_a_set_of_used_nonces(attempts: list[int]) -> None:
    record = None
    used: set[int] = set()
    for nonce in attempts:
        too_old = bool(used) and nonce <= max(used) - 1 - WINDOW
        expected_ok = nonce not in used and not too_old
        try:
            check_nonce(record, nonce)
            accepted = True
        except DuplicateNonce:
            accepted = False
        assert accepted == expected_ok, (nonce, sorted(used)[-5:])
        if accepted:
            record = record_nonce(record, nonce)
            used.add(nonce)


def test_replay_of_the_same_nonce_is_refused() -> None:
    record = record_nonce(None, 5)
    with pytest.raises(DuplicateNonce):
        check_nonce(record, 5)
    check_nonce(record, 4)
    record = record_nonce(record, 4)
    with pytest.raises(DuplicateNonce):
        check_nonce(record, 4)


def test_a_failed_transaction_cannot_be_replayed_when_it_would_succeed(chain: Chain) -> None:
    """Issue 10, #8: a failed tx's bytes are public in its block; its nonce is spent anyway."""
    hospital = chain.signer("st-marys")
    nurse = KeyPair.generate()
    revoke = hospital.sign("member.revoke", {"member_id": "nurse-9"})
    assert chain.one(revoke).code == "not_found"  # no such member yet: failed, but included
    enrol = {
        "member_id": "nurse-9",
        "name": "Nurse Nine",
        "role": "nurse",
        "signing_key": nurse.key_id,
        "encryption_key": nurse.encryption_public.hex(),
    }
    assert chain.one(hospital.sign("member.enroll", enrol)).ok
    # Whoever replays the failed revocation now, it does not revoke the nurse.
    assert chain.one(revoke).code == "duplicate_nonce"
    assert chain.state("gov", "member/st-marys/nurse-9")["status"] == "active"


def test_result_messages_are_our_own_words(chain: Chain) -> None:
    """Messages are hashed into blocks: a library upgrade must not change them."""
    hospital = chain.signer("st-marys")
    results = chain.block(
        [
            hospital.sign("member.revoke", {"member_id": 7}),
            hospital.sign("member.revoke", {}),
            hospital.sign("member.revoke", {"member_id": "nurse-1", "extra": 1}),
        ]
    )
    assert [r.message for r in results] == [
        "member.revoke: member_id: must be a string",
        "member.revoke: member_id: is required",
        "member.revoke: extra: is not a field of this payload",
    ]


def test_a_bad_dictionary_key_is_named_in_our_words() -> None:
    from typing import Annotated

    from pydantic import StringConstraints

    from healthledger.app.registry import parse_payload
    from healthledger.domains.kit import TxType
    from healthledger.errors import LedgerError
    from healthledger.ledger.context import Payload

    class Keyed(Payload):
        keys: dict[Annotated[str, StringConstraints(pattern=r"^[a-z]+$")], str]

    spec = TxType("test.keyed", Keyed, lambda _ctx, _payload: None, frozenset(), "test")
    with pytest.raises(LedgerError) as refused:
        parse_payload(spec, {"keys": {"NOPE": "x"}})
    assert refused.value.message == "test.keyed: keys.NOPE.key: does not have the expected format"
