"""What every route shares: JSON responses and bounded, parsed request bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from healthledger.app.views import WireView
from healthledger.errors import LedgerError, MalformedInput, TooLarge

MAX_BODY_BYTES = 32 * 1024 * 1024
# Transactions one `POST /v1/txs/batch` may carry (the route and its OpenAPI schema).
MAX_BATCH_TXS = 10_000


def json_response(value: Any, status: int = 200) -> Response:
    """orjson straight to bytes: no FastAPI re-encoding of large views and proofs."""
    body = orjson.dumps(value, default=_view_json)
    return Response(body, status_code=status, media_type="application/json")


def _view_json(value: object) -> Any:
    """A view model inside a plain answer (a read's receipt) is written as its wire JSON."""
    if isinstance(value, WireView):
        return value.wire()
    raise TypeError(f"{type(value).__name__} is not JSON")


def declared_length(request: Request) -> int | None:
    """The Content-Length a client announced, or None for a chunked body."""
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise MalformedInput("Content-Length must be a non-negative integer")
    return int(raw)


def too_large(limit: int) -> LedgerError:
    return TooLarge(f"request body exceeds {limit} bytes")


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused with `too_large` beyond `limit` bytes.

    Refused by its Content-Length before reading, and while streaming as soon as
    it passes the limit: a chunked body cannot make the node hold more than `limit`.
    """
    announced = declared_length(request)
    if announced is not None and announced > limit:
        raise too_large(limit)
    body = bytearray()
    async with client_disconnects():
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_large(limit)
    return bytes(body)


@asynccontextmanager
async def client_disconnects() -> AsyncIterator[None]:
    """A client that hangs up mid-body is an ordinary refusal, not an unexpected error."""
    try:
        yield
    except ClientDisconnect as exc:
        raise MalformedInput("the client closed the connection before its body ended") from exc


def parse_body(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedInput(f"malformed JSON: {exc}") from exc
