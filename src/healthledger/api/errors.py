"""The one place that maps error codes to HTTP statuses, and every error's body.

Whatever goes wrong, a client reads `{"error": {"code": <ErrorCode>, "message": ...}}`:
ledger errors, invalid parameters, routes and methods the node does not have, and
faults of the node itself. No other code ever leaves the node.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from healthledger.errors import ErrorCode, LedgerError

# Complete over ErrorCode (a test holds it so): a new code must choose its status here.
HTTP_STATUS: dict[ErrorCode, int] = {
    # a request that breaks a rule of its own: 400
    ErrorCode.MALFORMED: 400,
    ErrorCode.FLOAT_NOT_ALLOWED: 400,
    ErrorCode.INTEGER_OUT_OF_RANGE: 400,
    ErrorCode.INVALID_FIELD: 400,
    ErrorCode.UNKNOWN_TX_TYPE: 400,
    ErrorCode.WRONG_CHAIN: 400,
    ErrorCode.INVALID_PROOF: 400,
    ErrorCode.TAMPERED: 400,
    ErrorCode.INVALID_RESOURCE: 400,
    ErrorCode.DECRYPTION_FAILED: 400,
    ErrorCode.BODY_MISMATCH: 400,
    ErrorCode.TOO_LARGE: 413,
    # who asks
    ErrorCode.BAD_SIGNATURE: 401,
    ErrorCode.REQUEST_EXPIRED: 401,
    ErrorCode.REQUEST_REPLAYED: 401,
    ErrorCode.UNKNOWN_SENDER: 403,
    ErrorCode.REVOKED_SENDER: 403,
    ErrorCode.UNAUTHORIZED: 403,
    ErrorCode.NO_CONSENT: 403,
    ErrorCode.CONSENT_EXPIRED: 403,
    ErrorCode.CONSENT_REVOKED: 403,
    # the request was meant for (or the record is kept by) another organisation
    ErrorCode.WRONG_AUDIENCE: 421,
    ErrorCode.NOT_CUSTODIAN: 421,
    # what is there
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.BLOB_MISSING: 404,
    ErrorCode.UNKNOWN_PARTY: 404,
    ErrorCode.NO_ROUTE: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.RECORD_SHREDDED: 410,
    ErrorCode.DUPLICATE_NONCE: 409,
    ErrorCode.ALREADY_EXISTS: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INVALID_STATE: 409,
    ErrorCode.CYCLE: 409,
    ErrorCode.RULES_VERSION: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.MEMPOOL_FULL: 429,
    ErrorCode.TIMEOUT: 408,
    # the node
    ErrorCode.APPLY_FAILED: 500,
    ErrorCode.INTERNAL: 500,
    ErrorCode.HEADER_UNVERIFIED: 502,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.AUDIT_FAILED: 503,
    ErrorCode.CUSTODIAN_UNAVAILABLE: 503,
    ErrorCode.HASH_MISMATCH: 503,
}

# The statuses Starlette itself raises (no route, wrong method), as codes of our own.
STARLETTE_CODES: dict[int, ErrorCode] = {
    404: ErrorCode.NO_ROUTE,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.TOO_LARGE,
}


def status_for(code: ErrorCode) -> int:
    """The HTTP status of an error code."""
    return HTTP_STATUS[code]


def code_for_status(status: int) -> ErrorCode:
    """The code of an HTTP error that Starlette raised before any route of ours ran."""
    if status in STARLETTE_CODES:
        return STARLETTE_CODES[status]
    return ErrorCode.INTERNAL if status >= 500 else ErrorCode.MALFORMED


def error_body(code: ErrorCode, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": str(code), "message": message}}


def error_response(exc: LedgerError) -> JSONResponse:
    return JSONResponse(error_body(exc.code, exc.message), status_code=status_for(exc.code))


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as `{"error": {"code", "message"}}`, never as an HTML page."""

    @app.exception_handler(LedgerError)
    async def ledger_error(_request: Request, exc: LedgerError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return JSONResponse(
            error_body(ErrorCode.INVALID_FIELD, f"{where}: {first.get('msg')}"), status_code=400
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = code_for_status(exc.status_code)
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body(ErrorCode.INTERNAL, f"unexpected error: {type(exc).__name__}"),
            status_code=status_for(ErrorCode.INTERNAL),
        )
