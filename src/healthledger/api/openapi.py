"""The node's OpenAPI document says what the server does: errors, signatures, limits.

FastAPI documents a route's parameters and its success; this module adds, once, over
the whole document:

- every error status an operation can answer, each with the one error body
  (`{"error": {"code": <ErrorCode>, "message": ...}}`) and the codes behind it. The
  statuses come from one rule: each operation declares what it does (reads a body,
  is signed, looks something up, submits a transaction, ...), each of those names the
  codes it can raise, and `api/errors.py` gives each code its status;
- the signed-request scheme (crypto/signed_request.py) as a security scheme, on the
  operations that answer signed requests only;
- the parameter rules the server enforces that a route's signature does not show
  (a GTIN's digits, a serial's characters, an upload's size limit), so a request the
  document calls valid is not refused by a hidden rule;
- request bodies of the routes that read theirs by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from healthledger.api.credentials import MAX_VERIFY_BYTES
from healthledger.api.errors import status_for
from healthledger.api.records import MAX_BATCH_RECORDS
from healthledger.api.responses import MAX_BATCH_TXS
from healthledger.app.registry import DOMAINS
from healthledger.crypto.keys import PUBLIC_KEY_HEX_LEN, SIGNATURE_HEX_LEN
from healthledger.crypto.signed_request import (
    HEADER_AUDIENCE,
    HEADER_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIME,
)
from healthledger.domains.credentials.presentation import MAX_PRESENTED
from healthledger.domains.kit import Access, Domain
from healthledger.domains.records.bundles import IMPORTABLE, MAX_BUNDLE_BYTES, MAX_BUNDLE_ENTRIES
from healthledger.domains.supply import gs1
from healthledger.errors import ErrorCode
from healthledger.ledger.transaction import MAX_TX_BYTES
from healthledger.node.custodian.upload import MAX_FILE_BYTES

ERROR_SCHEMA = "Error"
JSON = "application/json"
MAX_SAFE_INTEGER = 2**53 - 1
# api/server.py's batch limit (it imports this module; a test holds the two equal).


class Does(StrEnum):
    """What an operation does that can go wrong, each with the codes it may raise."""

    PARAMETERS = "parameters"  # has parameters FastAPI validates
    BODY = "body"  # reads a bounded request body
    SIGNED = "signed"  # answers signed requests only
    LOOKUP = "lookup"  # names something that may not exist
    SUBMIT = "submit"  # checks and admits one transaction
    CUSTODY = "custody"  # the vault: consent, custody, audited access, a commit awaited
    CONSENSUS = "consensus"  # asks this node's CometBFT


CODES: dict[Does, frozenset[ErrorCode]] = {
    Does.PARAMETERS: frozenset({ErrorCode.INVALID_FIELD}),
    Does.BODY: frozenset({ErrorCode.MALFORMED, ErrorCode.TOO_LARGE}),
    Does.SIGNED: frozenset(
        {
            ErrorCode.MALFORMED,  # a header of the wrong shape
            ErrorCode.BAD_SIGNATURE,
            ErrorCode.REQUEST_EXPIRED,
            ErrorCode.REQUEST_REPLAYED,
            ErrorCode.UNKNOWN_SENDER,
            ErrorCode.REVOKED_SENDER,
            ErrorCode.UNAUTHORIZED,
            ErrorCode.WRONG_AUDIENCE,
        }
    ),
    Does.LOOKUP: frozenset({ErrorCode.NOT_FOUND}),
    Does.SUBMIT: frozenset(
        {
            ErrorCode.MALFORMED,
            ErrorCode.FLOAT_NOT_ALLOWED,
            ErrorCode.INTEGER_OUT_OF_RANGE,
            ErrorCode.INVALID_FIELD,
            ErrorCode.UNKNOWN_TX_TYPE,
            ErrorCode.WRONG_CHAIN,
            ErrorCode.TOO_LARGE,
            ErrorCode.BAD_SIGNATURE,
            ErrorCode.UNKNOWN_SENDER,
            ErrorCode.REVOKED_SENDER,
            ErrorCode.UNAUTHORIZED,
            ErrorCode.DUPLICATE_NONCE,
            ErrorCode.NOT_FOUND,
            ErrorCode.UNKNOWN_PARTY,
            ErrorCode.ALREADY_EXISTS,
            ErrorCode.CONFLICT,
            ErrorCode.INVALID_STATE,
            ErrorCode.RATE_LIMITED,
            ErrorCode.MEMPOOL_FULL,
            ErrorCode.UNAVAILABLE,
        }
    ),
    Does.CUSTODY: frozenset(
        {
            ErrorCode.INVALID_FIELD,
            ErrorCode.INVALID_RESOURCE,
            ErrorCode.BODY_MISMATCH,
            ErrorCode.DECRYPTION_FAILED,
            ErrorCode.NOT_FOUND,
            ErrorCode.BLOB_MISSING,
            ErrorCode.NO_CONSENT,
            ErrorCode.CONSENT_EXPIRED,
            ErrorCode.CONSENT_REVOKED,
            ErrorCode.UNAUTHORIZED,
            ErrorCode.NOT_CUSTODIAN,
            ErrorCode.RECORD_SHREDDED,
            ErrorCode.ALREADY_EXISTS,
            ErrorCode.CONFLICT,
            ErrorCode.INVALID_STATE,
            ErrorCode.RATE_LIMITED,
            ErrorCode.MEMPOOL_FULL,
            ErrorCode.TIMEOUT,
            ErrorCode.AUDIT_FAILED,
            ErrorCode.HASH_MISMATCH,
            ErrorCode.UNAVAILABLE,
            ErrorCode.CUSTODIAN_UNAVAILABLE,
        }
    ),
    Does.CONSENSUS: frozenset({ErrorCode.UNAVAILABLE, ErrorCode.NOT_FOUND}),
}
# Any operation: a fault of the node itself.
ALWAYS = frozenset({ErrorCode.INTERNAL})

# What each operation does beyond what the document shows by itself (parameters and
# request bodies are read from the document). A route missing here is documented as
# doing everything (tests/api/test_openapi.py holds the table complete).
OPERATIONS: dict[tuple[str, str], frozenset[Does]] = {
    ("get", "/health"): frozenset(),
    ("get", "/metrics"): frozenset(),
    ("post", "/v1/txs"): frozenset({Does.SUBMIT}),
    ("post", "/v1/txs/batch"): frozenset(),
    ("get", "/v1/info"): frozenset(),
    ("get", "/v1/genesis"): frozenset(),
    ("get", "/v1/txs/{tx_id}"): frozenset({Does.SIGNED, Does.LOOKUP}),
    ("get", "/v1/headers/latest"): frozenset({Does.LOOKUP}),
    ("get", "/v1/headers/{height}"): frozenset({Does.LOOKUP}),
    ("get", "/v1/blocks/latest"): frozenset({Does.SIGNED, Does.LOOKUP}),
    ("get", "/v1/blocks/{height}"): frozenset({Does.SIGNED, Does.LOOKUP}),
    ("get", "/v1/state/{namespace}/{key}"): frozenset({Does.SIGNED, Does.LOOKUP}),
    ("get", "/v1/proofs/consistency"): frozenset({Does.LOOKUP}),
    ("get", "/v1/senders/{key_id}/txs"): frozenset({Does.SIGNED}),
    ("get", "/v1/supply/verify"): frozenset(),
    ("get", "/v1/supply/packages/{gtin}/{serial}/epcis"): frozenset({Does.SIGNED, Does.LOOKUP}),
    ("get", "/v1/supply/lots/{gtin}/{lot}/epcis"): frozenset({Does.SIGNED, Does.LOOKUP}),
    ("post", "/v1/supply/epcis/check"): frozenset({Does.BODY, Does.LOOKUP}),
    ("post", "/v1/credentials/verify"): frozenset({Does.BODY}),
    ("get", "/v1/credentials/members/{org}/{member_id}/file"): frozenset({Does.SIGNED}),
    ("get", "/v1/credentials/members/{org}/{member_id}/fhir"): frozenset({Does.SIGNED}),
    ("get", "/v1/credentials/status-lists/{issuer}/{purpose}/{number}"): frozenset({Does.LOOKUP}),
    ("post", "/v1/records"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("post", "/v1/records/batch"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("post", "/v1/records/bundle"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("post", "/v1/records/files"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("get", "/v1/records"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("post", "/v1/records/{record_id}/read"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("get", "/v1/records/{record_id}/content"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("get", "/v1/records/{record_id}/history"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("get", "/v1/vault/blobs/{blob_id}"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("put", "/v1/vault/replicas/{blob_id}"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("get", "/v1/consents"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("get", "/v1/audit/patients/{patient}"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("get", "/v1/audit/patients/{patient}/events"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("get", "/v1/audit/orgs/{org}"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("get", "/v1/donation/patients/{patient}"): frozenset({Does.SIGNED, Does.CUSTODY}),
    ("get", "/v1/consensus/commit"): frozenset({Does.CONSENSUS}),
    ("get", "/v1/consensus/validators"): frozenset({Does.CONSENSUS}),
}


def view_operations(domains: Sequence[Domain]) -> dict[tuple[str, str], frozenset[Does]]:
    """What a domain's published read does, from its declaration: a new view needs no entry."""
    return {
        ("get", view.path.replace(":path}", "}")): frozenset(
            {Does.LOOKUP, Does.SIGNED} if view.access is Access.MEMBER else {Does.LOOKUP}
        )
        for domain in domains
        for view in domain.views
    }


OPERATIONS.update(view_operations(DOMAINS))
EVERYTHING = frozenset(Does)

# --- the signed-request scheme -------------------------------------------------------

SIGNED_HEADERS = {
    HEADER_KEY: "the signer's Ed25519 public key, 64 lowercase hex characters",
    HEADER_SIGNATURE: "Ed25519 signature (hex) over the canonical JSON of chain, audience, "
    "method, target (path and query), the body's SHA-256, key, time and nonce",
    HEADER_TIME: "the signing time in Unix milliseconds, within 60 s of the node's clock",
    HEADER_NONCE: "32 lowercase hex characters, never reused",
    HEADER_AUDIENCE: "the organisation the request is meant for (GET /v1/info's `org`)",
}


def _scheme_name(header: str) -> str:
    return "signed-request:" + header


SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    _scheme_name(header): {"type": "apiKey", "in": "header", "name": header, "description": text}
    for header, text in SIGNED_HEADERS.items()
}
# One requirement naming all five: a signed request carries every header together.
SIGNED_REQUEST: list[dict[str, list[str]]] = [{name: [] for name in SECURITY_SCHEMES}]

# --- parameter rules the server enforces ---------------------------------------------

_CSET82 = "".join(sorted(gs1.CSET82)).replace("\\", "\\\\").replace("-", "\\-")
_GTIN = {
    "type": "string",
    "pattern": "^(?:[0-9]{8}|[0-9]{12,14})$",
    "description": "a GTIN-8, -12, -13 or -14 whose last digit is its GS1 check digit",
}


def _cset82(max_length: int) -> dict[str, Any]:
    return {"type": "string", "pattern": f"^[{_CSET82}]{{1,{max_length}}}$"}


SUPPLY_RULES: dict[str, dict[str, Any]] = {
    "gtin": _GTIN,
    "serial": _cset82(gs1.MAX_SERIAL_LENGTH),
    "lot": _cset82(gs1.MAX_LOT_LENGTH),
    "expiry": {"type": "string", "pattern": "^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{6})$"},
}
# By path prefix: a parameter's rule holds only where its name means that.
PARAMETER_RULES: dict[str, dict[str, dict[str, Any]]] = {
    "/v1/supply/": SUPPLY_RULES,
    "/v1/records/files": {"size": {"type": "integer", "minimum": 0, "maximum": MAX_FILE_BYTES}},
    # a consistency proof is between two non-empty logs
    "/v1/proofs/consistency": {
        "old_size": {"type": "integer", "minimum": 1},
        "new_size": {"type": "integer", "minimum": 1},
    },
}

# --- request bodies the routes read by hand ------------------------------------------

_HEX = "^[0-9a-f]{%d}$"
SCHEMAS: dict[str, dict[str, Any]] = {
    # Any JSON value canonical JSON accepts: no floats, integers within ±(2^53-1).
    "CanonicalValue": {
        "anyOf": [
            {"type": "string"},
            {"type": "boolean"},
            {"type": "null"},
            {"type": "integer", "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER},
            {"type": "array", "items": {"$ref": "#/components/schemas/CanonicalValue"}},
            {
                "type": "object",
                "additionalProperties": {"$ref": "#/components/schemas/CanonicalValue"},
            },
        ]
    },
    "Transaction": {
        "type": "object",
        "description": f"a signed transaction, at most {MAX_TX_BYTES} bytes as canonical JSON",
        "required": ["chain", "type", "sender", "nonce", "payload", "signature"],
        "additionalProperties": False,
        "properties": {
            "chain": {"type": "string", "minLength": 1},
            "type": {"type": "string", "pattern": r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"},
            "sender": {"type": "string", "pattern": _HEX % PUBLIC_KEY_HEX_LEN},
            "nonce": {"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER},
            "payload": {
                "type": "object",
                "additionalProperties": {"$ref": "#/components/schemas/CanonicalValue"},
            },
            "signature": {"type": "string", "pattern": _HEX % SIGNATURE_HEX_LEN},
        },
    },
    "TransactionBatch": {
        "type": "object",
        "required": ["txs"],
        "properties": {
            "txs": {
                "type": "array",
                "maxItems": MAX_BATCH_TXS,
                "description": "each item is judged on its own: a bad one is an error in "
                "its place of the results",
                "items": {},
            }
        },
    },
    "NewRecord": {
        "type": "object",
        "required": ["patient", "resource"],
        "properties": {
            "patient": {"type": "string"},
            "resource": {"type": "object", "description": "a FHIR R4 resource"},
            "replaces": {"type": "string", "description": "the record id this one corrects"},
        },
    },
    "RecordBatch": {
        "type": "object",
        "required": ["records"],
        "properties": {
            "records": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH_RECORDS,
                "items": {"$ref": "#/components/schemas/NewRecord"},
            }
        },
    },
    "BundleImport": {
        "type": "object",
        "required": ["patient", "bundle"],
        "description": f"at most {MAX_BUNDLE_BYTES} bytes of Bundle JSON",
        "properties": {
            "patient": {"type": "string"},
            "bundle": {
                "type": "object",
                "description": "a FHIR R4 Bundle of type " + ", ".join(IMPORTABLE) + " for one "
                f"patient, at most {MAX_BUNDLE_ENTRIES} entries; imported as one record per "
                "entry, all or none",
            },
        },
    },
    "PresentedCredentials": {
        "type": "object",
        "description": f"at most {MAX_VERIFY_BYTES} bytes: one W3C VC 2.0 credential, or an "
        'unsigned presentation `{"type": ["VerifiablePresentation"], "holder": ..., '
        f'"verifiableCredential": [...]}}` of at most {MAX_PRESENTED} credentials',
    },
    "ReadRequest": {
        "type": "object",
        "required": ["purpose"],
        "properties": {
            "purpose": {"type": "string"},
            "break_glass_reason": {"type": "string"},
            "break_glass_salt": {"type": "string"},
        },
    },
}


def _json_body(schema: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


REQUEST_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/txs"): _json_body("Transaction"),
    ("post", "/v1/txs/batch"): _json_body("TransactionBatch"),
    ("post", "/v1/records"): _json_body("NewRecord"),
    ("post", "/v1/records/batch"): _json_body("RecordBatch"),
    ("post", "/v1/records/bundle"): _json_body("BundleImport"),
    ("post", "/v1/records/{record_id}/read"): _json_body("ReadRequest"),
    ("post", "/v1/credentials/verify"): _json_body("PresentedCredentials"),
    ("post", "/v1/records/files"): {
        "required": True,
        "description": "exactly `size` bytes whose SHA-256 is `sha256`",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    ("put", "/v1/vault/replicas/{blob_id}"): {
        "required": True,
        "description": "the ciphertext itself: its SHA-256 is the blob id",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
}

# Success bodies that are not JSON.
SUCCESS_MEDIA: dict[tuple[str, str], str] = {
    ("get", "/metrics"): "text/plain",
    ("get", "/v1/supply/packages/{gtin}/{serial}/epcis"): "application/ld+json",
    ("get", "/v1/supply/lots/{gtin}/{lot}/epcis"): "application/ld+json",
    ("get", "/v1/records/{record_id}/content"): "application/octet-stream",
    ("get", "/v1/vault/blobs/{blob_id}"): "application/octet-stream",
    ("get", "/v1/audit/patients/{patient}/events"): "text/event-stream",
}
# Successes other than the route's default: a transaction still in the mempool.
EXTRA_SUCCESS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("get", "/v1/txs/{tx_id}"): {
        "202": {"description": 'still in the mempool: `{"id", "status": "pending"}`'}
    },
}

# --- building the document -----------------------------------------------------------


def error_schema() -> dict[str, Any]:
    """The one error body, with every code this node can send."""
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": [str(code) for code in ErrorCode]},
                    "message": {"type": "string"},
                },
            }
        },
    }


def operation_codes(does: Iterable[Does]) -> frozenset[ErrorCode]:
    """Every code an operation that does these things can answer."""
    codes = set(ALWAYS)
    for what in does:
        codes |= CODES[what]
    return frozenset(codes)


def error_responses(codes: Iterable[ErrorCode]) -> dict[str, dict[str, Any]]:
    """One response per status, naming the codes behind it."""
    by_status: dict[int, list[str]] = {}
    for code in sorted(codes):
        by_status.setdefault(status_for(code), []).append(str(code))
    return {
        str(status): {
            "description": ", ".join(names),
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}},
        }
        for status, names in sorted(by_status.items())
    }


def document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document of `app`, completed as the module docstring says."""
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(SCHEMAS)
    schemas[ERROR_SCHEMA] = error_schema()
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            _complete(method, path, operation)
    # Validation errors answer 400 with the one error body (api/errors.py), never FastAPI's 422.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema


def _complete(method: str, path: str, operation: dict[str, Any]) -> None:
    key = (method, path)
    if key in REQUEST_BODIES:
        operation["requestBody"] = REQUEST_BODIES[key]
    for parameter in operation.get("parameters", []):
        _constrain(path, parameter)
    does = set(OPERATIONS.get(key, EVERYTHING))
    if operation.get("parameters"):
        does.add(Does.PARAMETERS)
    if "requestBody" in operation:
        does.add(Does.BODY)
    if Does.SIGNED in does:
        operation["security"] = SIGNED_REQUEST
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    if key in SUCCESS_MEDIA:
        for status, response in responses.items():
            if status.startswith("2"):
                # The route's own response model (if it declared one) describes the body.
                media = response.get("content", {}).values()
                schema: dict[str, Any] = next((m["schema"] for m in media if m.get("schema")), {})
                response["content"] = {SUCCESS_MEDIA[key]: {"schema": schema}}
    for status, response in EXTRA_SUCCESS.get(key, {}).items():
        responses.setdefault(status, response)
    # A route's own description of an error status wins over the derived one.
    for status, response in error_responses(operation_codes(does)).items():
        responses.setdefault(status, response)


def _constrain(path: str, parameter: dict[str, Any]) -> None:
    rules = next((r for prefix, r in PARAMETER_RULES.items() if path.startswith(prefix)), {})
    rule = rules.get(str(parameter.get("name")))
    if rule is None:
        return
    schema = parameter.setdefault("schema", {})
    if "anyOf" in schema:  # an optional parameter: constrain its branch of the rule's type
        schema["anyOf"] = [
            {**branch, **rule} if branch.get("type") == rule["type"] else branch
            for branch in schema["anyOf"]
        ]
    else:
        schema.update(rule)


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    setattr(app, "openapi", openapi)  # noqa: B010 - FastAPI's documented override point
