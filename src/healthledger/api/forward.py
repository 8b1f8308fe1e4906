"""Forwarding a record read to the organisation it is meant for, for clients that reach
only their own node.

A signed read names its audience: the organisation whose vault holds the record. A node
that receives one meant for another organisation passes it on unchanged (the same
headers, the same body) to that organisation's endpoint from the directory on chain, and
relays the answer. The custodian's vault checks the signature, decides and records the
access as it would for a direct request: forwarding changes nothing in who decides or
what is audited, and this node sees only what the custodian sends the reader (ciphertext
and a data key sealed to the reader).

Not an open relay: only the record read routes are forwarded; only genuine, fresh,
unreplayed requests of a key the ledger knows; only for a record the chain holds and
only to the organisation it names as that record's custodian, at the endpoints that
organisation published itself; with a bounded body, a bounded answer and bounded waits. A request is
forwarded at most once by a node (its nonce is remembered), so two entries pointing at
each other cannot make it circle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from healthledger.api.access import request_target
from healthledger.crypto.signed_request import (
    HEADER_ANSWER_KEY,
    HEADER_ANSWER_SIGNATURE,
    HEADER_AUDIENCE,
    HEADER_INTENT,
    HEADER_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIME,
    body_hash,
    verify_request,
)
from healthledger.domains.governance import queries as gov
from healthledger.domains.records import state as records_state
from healthledger.domains.records.errors import NotCustodian, RecordNotFound
from healthledger.errors import CustodianUnavailable, WrongAudience
from healthledger.ledger.context import StateReader
from healthledger.node.custodian.auth import RequestAuthenticator
from healthledger.node.custodian.replicas import ciphertext_size
from healthledger.node.node import Node

# A read's body is its purpose and perhaps a break-glass reason: small.
MAX_FORWARD_BODY = 64 * 1024
# A read's answer: its record entry, proofs and a small record's ciphertext (inline
# records are at most 64 KiB, base64 in the JSON); larger contents stream from /content.
MAX_FORWARD_ANSWER = 1024 * 1024
CONNECT_TIMEOUT_S = 5.0
# The custodian waits for its access event to commit before it answers.
ANSWER_TIMEOUT_S = 60.0
_PASSED_ON = (
    HEADER_AUDIENCE,
    HEADER_KEY,
    HEADER_TIME,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_INTENT,
    "content-type",
)
_RELAYED = ("content-type", HEADER_ANSWER_KEY, HEADER_ANSWER_SIGNATURE)


class Forwarder:
    """Passes signed record reads meant for another organisation to its node."""

    def __init__(self, node: Node, auth: RequestAuthenticator) -> None:
        self._node = node
        self._auth = auth

    def elsewhere(self, request: Request) -> str | None:
        """The organisation a signed request names, if it is not the one this node serves."""
        named = request.headers.get(HEADER_AUDIENCE)
        return None if named is None or named == self._auth.audience else named

    async def relay(self, request: Request, org: str, record_id: str, body: bytes) -> Response:
        """Forward a read (its body already read, bounded) and return the custodian's answer."""
        endpoints, _record = self._admit(request, org, record_id, body)
        http, answer = await self._send(request, org, endpoints, body)
        try:
            content = await asyncio.wait_for(_bounded(answer, org), ANSWER_TIMEOUT_S)
        except TimeoutError as exc:
            raise CustodianUnavailable(org, "its answer did not end in time") from exc
        except httpx.HTTPError as exc:
            raise CustodianUnavailable(org, f"its answer broke off: {type(exc).__name__}") from exc
        finally:
            await answer.aclose()
            await http.aclose()
        return Response(content, status_code=answer.status_code, headers=_relayed(answer))

    async def relay_stream(self, request: Request, org: str, record_id: str) -> StreamingResponse:
        """Forward a content fetch; the ciphertext streams through, never held whole, and
        no further than the record's ciphertext as the chain sizes it."""
        endpoints, record = self._admit(request, org, record_id, b"")
        http, answer = await self._send(request, org, endpoints, b"")
        # A refusal is a short JSON error, bounded like a read's answer.
        limit = ciphertext_size(record.size) if answer.status_code == 200 else MAX_FORWARD_ANSWER
        return StreamingResponse(
            _chunks(http, answer, limit), status_code=answer.status_code, headers=_relayed(answer)
        )

    def _admit(
        self, request: Request, org: str, record_id: str, body: bytes
    ) -> tuple[tuple[str, ...], records_state.RecordMeta]:
        """Check the envelope as the custodian will (but for its audience), that the chain
        names that organisation the record's custodian, then where to."""
        now = int(time.time() * 1000)
        signed = verify_request(
            request.headers,
            self._auth.chain_id,
            request.method,
            request_target(request),
            body_hash(body),
            now,
            audience=org,
        )
        self._auth.replays.remember(signed, now)
        self._auth.signer(signed)  # a key the ledger knows and has not revoked
        state = StateReader(self._node.store.state_get)
        if gov.active_org(state, org) is None:
            raise WrongAudience(org, self._auth.audience)
        record = state.load(
            records_state.NAMESPACE, records_state.record_key(record_id), records_state.RecordMeta
        )
        if record is None:
            raise RecordNotFound(record_id)
        if record.custodian != org:  # only ever to the vault that decides this read
            raise NotCustodian(record.id, record.custodian)
        entry = gov.org_endpoint(state, org)
        if entry is None:
            raise CustodianUnavailable(org, "it has published no endpoint in the directory")
        return entry.endpoints, record

    async def _send(
        self, request: Request, org: str, endpoints: tuple[str, ...], body: bytes
    ) -> tuple[httpx.AsyncClient, httpx.Response]:
        """The first endpoint that answers, in the order the organisation listed them; the
        answer's body is still to be read (the caller closes both)."""
        headers = {name: request.headers[name] for name in _PASSED_ON if name in request.headers}
        target = request_target(request)
        timeout = httpx.Timeout(ANSWER_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        failures = []
        for endpoint in endpoints:
            url = endpoint.rstrip("/") + target
            outgoing = http.build_request(request.method, url, headers=headers, content=body)
            try:
                # An overall deadline: httpx's read timeout restarts with every byte, so an
                # endpoint dripping its headers would otherwise hold this request forever.
                sent = http.send(outgoing, stream=True)
                return http, await asyncio.wait_for(sent, ANSWER_TIMEOUT_S)
            except TimeoutError:
                failures.append(f"{endpoint}: no answer within {ANSWER_TIMEOUT_S:.0f} s")
            except httpx.HTTPError as exc:
                failures.append(f"{endpoint}: {type(exc).__name__}")
        await http.aclose()
        raise CustodianUnavailable(org, "no answer from " + "; ".join(failures))


async def _bounded(answer: httpx.Response, org: str) -> bytes:
    """A read's answer (JSON, a small record's ciphertext at most), refused past its bound:
    an organisation's endpoint cannot make this node hold more."""
    content = bytearray()
    async for chunk in answer.aiter_bytes():
        content += chunk
        if len(content) > MAX_FORWARD_ANSWER:
            raise CustodianUnavailable(org, f"its answer exceeds {MAX_FORWARD_ANSWER} bytes")
    return bytes(content)


def _relayed(answer: httpx.Response) -> dict[str, str]:
    return {name: answer.headers[name] for name in _RELAYED if name in answer.headers}


async def _chunks(
    http: httpx.AsyncClient, answer: httpx.Response, limit: int
) -> AsyncIterator[bytes]:
    """The answer's bytes as they come, cut at `limit` (the reader's decryption then fails
    on a truncated ciphertext)."""
    sent = 0
    try:
        async for chunk in answer.aiter_bytes():
            chunk = chunk[: limit - sent]
            sent += len(chunk)
            if chunk:
                yield chunk
            if sent >= limit:
                return
    finally:
        await answer.aclose()
        await http.aclose()


__all__ = ["MAX_FORWARD_BODY", "Forwarder"]
