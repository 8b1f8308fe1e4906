"""The stateless check: expected refusals stay quiet, an unexpected error is logged and refused."""

from __future__ import annotations

import logging

import pytest

from healthledger.client.sdk import Signer
from healthledger.crypto.hashing import sha256_hex
from healthledger.crypto.keys import KeyPair
from healthledger.engines import checker
from healthledger.engines.checker import SignatureChecker, check_raw
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.transaction import Transaction

CHAIN = "checker-test"


def signed() -> Transaction:
    return Signer(KeyPair.generate(), CHAIN).sign("member.revoke", {"member_id": "nobody"})


def forged(tx: Transaction) -> bytes:
    """The same transaction with another sender: its signature no longer verifies."""
    other = KeyPair.generate().key_id
    return tx.raw.replace(tx.sender.encode(), other.encode())


def test_an_ordinary_refusal_is_returned_and_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=checker.__name__)
    outcomes = [check_raw(forged(signed())), check_raw(b"{not json"), check_raw(b"[]")]
    assert [o.code for o in outcomes if isinstance(o, LedgerError)] == [
        ErrorCode.BAD_SIGNATURE,
        ErrorCode.MALFORMED,
        ErrorCode.MALFORMED,
    ]
    assert caplog.records == []


def test_an_unexpected_error_is_logged_with_the_id_and_refused(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No input we know of makes decoding raise anything but a LedgerError, so a bug is
    # planted in the decoder; what is under test is what the checker does with it.
    def buggy_decoder(raw: bytes) -> Transaction:
        raise ZeroDivisionError("planted bug")

    monkeypatch.setattr(checker, "decode_and_verify", buggy_decoder)
    caplog.set_level(logging.INFO, logger=checker.__name__)
    tx = signed()
    outcome = check_raw(tx.raw)
    assert isinstance(outcome, LedgerError)
    assert outcome.code == ErrorCode.MALFORMED
    assert "planted bug" not in outcome.message  # our own words, never a library's
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert tx.id == sha256_hex(tx.raw) and tx.id in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


def test_the_pool_checks_in_order_and_closes_as_a_context_manager() -> None:
    txs = [signed() for _ in range(checker.MIN_PARALLEL_BATCH)]
    raws = [tx.raw for tx in txs]
    raws[7] = forged(txs[7])
    with SignatureChecker(2) as pool:
        outcomes = pool.check(raws)
    assert [o.id for o in outcomes if isinstance(o, Transaction)] == [
        tx.id for index, tx in enumerate(txs) if index != 7
    ]
    assert isinstance(outcomes[7], LedgerError) and outcomes[7].code == ErrorCode.BAD_SIGNATURE
    with pytest.raises(RuntimeError):
        pool.check(raws)  # shut down: it takes no more work
