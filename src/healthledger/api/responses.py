"""What every route shares: JSON responses and bounded, parsed request bodies."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from healthledger.errors import ErrorCode, LedgerError, MalformedInput

MAX_BODY_BYTES = 32 * 1024 * 1024


def json_response(value: Any, status: int = 200) -> Response:
    """orjson straight to bytes: no FastAPI re-encoding of large views and proofs."""
    return Response(orjson.dumps(value), status_code=status, media_type="application/json")


async def read_body(request: Request) -> bytes:
    """The request body, refused with `too_large` beyond MAX_BODY_BYTES."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise LedgerError(f"request body exceeds {MAX_BODY_BYTES} bytes", ErrorCode.TOO_LARGE)
    return body


def parse_body(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedInput(f"malformed JSON: {exc}") from exc
