"""The one place that maps error codes to HTTP statuses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from healthledger.errors import ErrorCode, LedgerError

HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.UNKNOWN_SENDER: 403,
    ErrorCode.REVOKED_SENDER: 403,
    ErrorCode.UNAUTHORIZED: 403,
    ErrorCode.BAD_SIGNATURE: 401,
    ErrorCode.DUPLICATE_NONCE: 409,
    ErrorCode.ALREADY_EXISTS: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INVALID_STATE: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.CYCLE: 409,
    ErrorCode.APPLY_FAILED: 500,
    ErrorCode.RULES_VERSION: 409,
    ErrorCode.WRONG_AUDIENCE: 421,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.MEMPOOL_FULL: 429,
    ErrorCode.TIMEOUT: 408,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.NO_CONSENT: 403,
    ErrorCode.CONSENT_EXPIRED: 403,
    ErrorCode.CONSENT_REVOKED: 403,
    ErrorCode.RECORD_SHREDDED: 410,
    ErrorCode.BLOB_MISSING: 404,
    ErrorCode.REQUEST_EXPIRED: 401,
    ErrorCode.REQUEST_REPLAYED: 401,
    ErrorCode.NOT_CUSTODIAN: 421,
    ErrorCode.AUDIT_FAILED: 503,
    ErrorCode.HASH_MISMATCH: 503,
    ErrorCode.HEADER_UNVERIFIED: 502,
}


def status_for(code: ErrorCode) -> int:
    """Client mistakes are 400 unless a more precise status says more."""
    return HTTP_STATUS.get(code, 400)


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def error_response(exc: LedgerError) -> JSONResponse:
    return JSONResponse(error_body(str(exc.code), exc.message), status_code=status_for(exc.code))


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as `{"error": {"code", "message"}}`, never as an HTML page or a 500."""

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
        code = "not_found" if exc.status_code == 404 else f"http_{exc.status_code}"
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body("internal", f"unexpected error: {type(exc).__name__}"), status_code=500
        )
