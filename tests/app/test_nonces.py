"""Replay protection against a reference model: a set of used nonces, plus the window rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthledger.app.nonces import WINDOW, check_nonce, record_nonce
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
