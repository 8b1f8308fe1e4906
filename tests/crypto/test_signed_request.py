"""Signed request envelopes: bound to chain, audience, method, target and body; fresh; once."""

from __future__ import annotations

import pytest

from healthledger.crypto.keys import KeyPair
from healthledger.crypto.signed_request import (
    VALIDITY_MS,
    ReplayGuard,
    SignedRequest,
    body_hash,
    sign_request,
    verify_request,
)
from healthledger.errors import LedgerError

NOW = 1_800_000_000_000
BODY = body_hash(b'{"purpose":"treatment"}')
ORG = "general-hospital"


def _signed(audience: str = ORG) -> tuple[KeyPair, dict[str, str]]:
    keys = KeyPair.generate()
    return keys, sign_request(
        keys, "chain-a", "POST", "/v1/records/r/read", BODY, time_ms=NOW, audience=audience
    )


def _verify(headers: dict[str, str], now: int = NOW, audience: str = ORG) -> SignedRequest:
    return verify_request(
        headers, "chain-a", "POST", "/v1/records/r/read", BODY, now, audience=audience
    )


def test_a_signed_request_names_its_signer_and_a_stable_id() -> None:
    keys, headers = _signed()
    request = verify_request(
        headers, "chain-a", "post", "/v1/records/r/read", BODY, NOW + 1000, audience=ORG
    )
    assert request.key_id == keys.key_id and len(request.request_id) == 64


def test_a_request_meant_for_another_organisation_is_refused() -> None:
    _keys, headers = _signed(audience="city-clinic")
    with pytest.raises(LedgerError) as refused:
        _verify(headers)
    assert refused.value.code == "wrong_audience"
    assert _verify(headers, audience="city-clinic").key_id == _keys.key_id


def test_the_audience_is_covered_by_the_signature() -> None:
    """Rewriting the audience header of a request captured for another org breaks it."""
    _keys, headers = _signed(audience="city-clinic")
    with pytest.raises(LedgerError) as refused:
        _verify({**headers, "x-hl-audience": ORG})
    assert refused.value.code == "bad_signature"


@pytest.mark.parametrize(
    ("chain", "method", "target", "body"),
    [
        ("chain-b", "POST", "/v1/records/r/read", BODY),
        ("chain-a", "GET", "/v1/records/r/read", BODY),
        ("chain-a", "POST", "/v1/records/other/read", BODY),
        ("chain-a", "POST", "/v1/records/r/read", body_hash(b"{}")),
    ],
)
def test_any_change_breaks_the_signature(chain: str, method: str, target: str, body: str) -> None:
    _keys, headers = _signed()
    with pytest.raises(LedgerError) as refused:
        verify_request(headers, chain, method, target, body, NOW, audience=ORG)
    assert refused.value.code == "bad_signature"


def test_stale_unsigned_and_malformed_requests_are_refused() -> None:
    _keys, headers = _signed()
    cases = [
        (headers, NOW + VALIDITY_MS + 1, "request_expired"),
        ({k: v for k, v in headers.items() if k != "x-hl-signature"}, NOW, "bad_signature"),
        ({**headers, "x-hl-time": "soon"}, NOW, "malformed"),
        ({**headers, "x-hl-nonce": "xyz"}, NOW, "malformed"),
        ({k: v for k, v in headers.items() if k != "x-hl-audience"}, NOW, "bad_signature"),
        ({**headers, "x-hl-audience": ""}, NOW, "malformed"),
    ]
    for candidate, now, code in cases:
        with pytest.raises(LedgerError) as refused:
            _verify(candidate, now)
        assert refused.value.code == code


def test_the_replay_guard_refuses_a_second_use_and_stays_bounded() -> None:
    guard = ReplayGuard()
    _keys, headers = _signed()
    request = _verify(headers)
    guard.remember(request, NOW)
    with pytest.raises(LedgerError) as refused:
        guard.remember(request, NOW)
    assert refused.value.code == "request_replayed"
    # 25,000 requests over 250 s: those older than two validity windows are forgotten.
    for i in range(25_000):
        stamp = NOW + i * 10
        guard.remember(SignedRequest(f"k{i}", stamp, f"n{i}", "0" * 64), stamp)
    assert len(guard._seen) < 25_000
