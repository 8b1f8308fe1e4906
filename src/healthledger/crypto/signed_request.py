"""Ed25519-signed HTTP request envelopes: who asks, for what, when, and only once.

Every read that returns health data carries five headers. The signature covers
the chain id, the audience (the organisation the request is meant for), method,
path with query, a SHA-256 of the body, the signer's key, the time and a random
nonce, so a captured request cannot be replayed on another chain, at another
organisation's node, to another path, later than `VALIDITY_MS`, or twice.

The audience is an organisation, not a node: a node may forward a request to
another node of the same organisation and it still holds there.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.keys import KeyPair, parse_key_id, verify_signature
from healthledger.errors import (
    BadSignature,
    MalformedInput,
    RequestExpired,
    RequestReplayed,
    WrongAudience,
)

HEADER_KEY = "x-hl-key"
HEADER_TIME = "x-hl-time"
HEADER_NONCE = "x-hl-nonce"
HEADER_SIGNATURE = "x-hl-signature"
HEADER_AUDIENCE = "x-hl-audience"
# A second signature some requests carry: over what the signer asks the node to record in
# their name (a record read's access event), so that the node cannot record it otherwise.
HEADER_INTENT = "x-hl-intent"
# A node's signature over its answer to a signed request, with the node key it published
# in the directory: a reader who went through another node can tell who answered.
HEADER_ANSWER_KEY = "x-hl-answer-key"
HEADER_ANSWER_SIGNATURE = "x-hl-answer-signature"
MAX_AUDIENCE_LEN = 128
VALIDITY_MS = 60_000
NONCE_HEX_LEN = 32
PURGE_FLOOR = 10_000


@dataclass(frozen=True)
class SignedRequest:
    """A request whose signature held: the signer and the request's unique id."""

    key_id: str
    time_ms: int
    nonce: str
    request_id: str  # sha256 of the signature: names this request in the audit trail
    intent: str | None = None  # the x-hl-intent signature, checked by whoever records it


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


# What a request without a body (every GET) signs as its body's SHA-256.
EMPTY_BODY = body_hash(b"")


def request_message(
    chain_id: str,
    method: str,
    target: str,
    body_sha256: str,
    key_id: str,
    time_ms: int,
    nonce: str,
    audience: str,
) -> bytes:
    """The exact bytes signed: canonical JSON of everything that identifies the request.

    The body enters by its SHA-256, so an upload can declare it before its first byte.
    """
    return canonical_bytes(
        {
            "chain": chain_id,
            "audience": audience,
            "method": method.upper(),
            "target": target,
            "body": body_sha256,
            "key": key_id,
            "time": time_ms,
            "nonce": nonce,
        }
    )


def sign_request(
    keys: KeyPair,
    chain_id: str,
    method: str,
    target: str,
    body_sha256: str = EMPTY_BODY,
    time_ms: int | None = None,
    *,
    audience: str,
) -> dict[str, str]:
    """Headers that authenticate one request to `audience`'s nodes; `target` has its query."""
    now = int(time.time() * 1000) if time_ms is None else time_ms
    nonce = os.urandom(NONCE_HEX_LEN // 2).hex()
    message = request_message(
        chain_id, method, target, body_sha256, keys.key_id, now, nonce, audience
    )
    return {
        HEADER_AUDIENCE: audience,
        HEADER_KEY: keys.key_id,
        HEADER_TIME: str(now),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: keys.sign(message).hex(),
    }


def verify_request(
    headers: Mapping[str, str],
    chain_id: str,
    method: str,
    target: str,
    body_sha256: str,
    now_ms: int,
    *,
    audience: str,
) -> SignedRequest:
    """Check a request's envelope; raise a clear error if unsigned, forged, stale or not ours.

    `audience` is the organisation this node serves. The signature is checked
    against the audience the request names, so WRONG_AUDIENCE is only ever said
    of a genuine request that was meant for another organisation.
    """
    key_id, time_ms, nonce, signature, named = _envelope(headers)
    if abs(now_ms - time_ms) > VALIDITY_MS:
        raise RequestExpired(VALIDITY_MS)
    message = request_message(chain_id, method, target, body_sha256, key_id, time_ms, nonce, named)
    verify_signature(key_id, message, signature)
    if named != audience:
        raise WrongAudience(named, audience)
    intent = headers.get(HEADER_INTENT)
    if intent is not None and (len(intent) != 128 or not _is_lower_hex(intent)):
        raise MalformedInput(f"{HEADER_INTENT} must be 128 lowercase hex characters")
    return SignedRequest(key_id, time_ms, nonce, hashlib.sha256(signature).hexdigest(), intent)


def request_id_of(signature_hex: str) -> str:
    """A request's id from its x-hl-signature header: the SHA-256 of the signature bytes."""
    return hashlib.sha256(bytes.fromhex(signature_hex)).hexdigest()


def answer_message(chain_id: str, request_id: str, status: int, body: bytes) -> bytes:
    """The exact bytes a node signs over its answer: bound to the chain, the request it
    answers (its id), the HTTP status and the body's SHA-256."""
    return canonical_bytes(
        {
            "chain": chain_id,
            "purpose": "answer",
            "request": request_id,
            "status": status,
            "body": body_hash(body),
        }
    )


def sign_answer(
    node_key: KeyPair, chain_id: str, request_id: str, status: int, body: bytes
) -> dict[str, str]:
    """The answer headers a node adds to its reply to a signed request."""
    signature = node_key.sign(answer_message(chain_id, request_id, status, body))
    return {HEADER_ANSWER_KEY: node_key.key_id, HEADER_ANSWER_SIGNATURE: signature.hex()}


def verify_answer(
    headers: Mapping[str, str],
    node_key: str,
    chain_id: str,
    request_id: str,
    status: int,
    body: bytes,
) -> None:
    """Check an answer was signed by `node_key` (the key the directory names) for this request."""
    key, signature = headers.get(HEADER_ANSWER_KEY), headers.get(HEADER_ANSWER_SIGNATURE)
    if key is None or signature is None:
        raise BadSignature("the answer is not signed by the node that gave it")
    if key != node_key:
        raise BadSignature(
            f"the answer is signed by node key {key[:16]}…, not the directory's {node_key[:16]}…"
        )
    try:
        raw = bytes.fromhex(signature)
    except ValueError as exc:
        raise BadSignature("the answer's signature is not hex") from exc
    verify_signature(node_key, answer_message(chain_id, request_id, status, body), raw)


def _is_lower_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


_ENVELOPE_HEADERS = (HEADER_AUDIENCE, HEADER_KEY, HEADER_TIME, HEADER_NONCE, HEADER_SIGNATURE)


def _envelope(headers: Mapping[str, str]) -> tuple[str, int, str, bytes, str]:
    missing = [h for h in _ENVELOPE_HEADERS if h not in headers]
    if missing:
        raise BadSignature(f"this request must be signed; missing {', '.join(missing)}")
    key_id = parse_key_id(headers[HEADER_KEY], HEADER_KEY)
    nonce = headers[HEADER_NONCE]
    if len(nonce) != NONCE_HEX_LEN or not all(c in "0123456789abcdef" for c in nonce):
        raise MalformedInput(f"{HEADER_NONCE} must be {NONCE_HEX_LEN} lowercase hex characters")
    audience = headers[HEADER_AUDIENCE]
    if not 0 < len(audience) <= MAX_AUDIENCE_LEN:
        raise MalformedInput(f"{HEADER_AUDIENCE} names an organisation id")
    try:
        time_ms = int(headers[HEADER_TIME])
        signature = bytes.fromhex(headers[HEADER_SIGNATURE])
    except ValueError as exc:
        raise MalformedInput(f"malformed request signature headers: {exc}") from exc
    return key_id, time_ms, nonce, signature, audience


class ReplayGuard:
    """Remembers the nonces of recent requests; a nonce seen within the validity window is refused.

    Older requests are refused by their time alone, so memory stays bounded by the
    request rate times the window.
    """

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._purge_at = PURGE_FLOOR
        self._lock = threading.Lock()

    def remember(self, request: SignedRequest, now_ms: int) -> None:
        key = f"{request.key_id}/{request.nonce}"
        with self._lock:
            if key in self._seen:
                raise RequestReplayed("this request was already used")
            self._seen[key] = request.time_ms
            if len(self._seen) > self._purge_at:
                self._forget_older_than(now_ms - 2 * VALIDITY_MS)

    def _forget_older_than(self, cutoff_ms: int) -> None:
        self._seen = {k: t for k, t in self._seen.items() if t >= cutoff_ms}
        # The next purge waits until the table doubles: amortised O(1) per request.
        self._purge_at = max(PURGE_FLOOR, 2 * len(self._seen))
