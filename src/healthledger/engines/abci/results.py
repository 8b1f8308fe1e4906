"""How our outcomes look to CometBFT: numeric codes, codespace and events.

ABCI result codes are uint32 and 0 means success. Our error codes are strings
(`healthledger.errors.ErrorCode`), so one table gives each a small number that is
never reused or renumbered once published: clients and block explorers key on it.
"""

from __future__ import annotations

from typing import Any

from healthledger.crypto.canonical import canonical_bytes
from healthledger.domains.governance.state import VALIDATOR_UPDATE
from healthledger.errors import ErrorCode
from healthledger.ledger.block import OK, TxResult

CODESPACE = "healthledger"
OK_CODE = 0
# Something failed that has no code of its own (a bug, not a refusal).
INTERNAL_CODE = 1

# Complete over ErrorCode (a test holds it so): a new code gets the next free number.
ABCI_CODES: dict[ErrorCode, int] = {
    ErrorCode.INTERNAL: INTERNAL_CODE,
    ErrorCode.MALFORMED: 2,
    ErrorCode.FLOAT_NOT_ALLOWED: 3,
    ErrorCode.INTEGER_OUT_OF_RANGE: 4,
    ErrorCode.INVALID_FIELD: 5,
    ErrorCode.UNKNOWN_TX_TYPE: 6,
    ErrorCode.WRONG_CHAIN: 7,
    ErrorCode.TOO_LARGE: 8,
    ErrorCode.BAD_SIGNATURE: 9,
    ErrorCode.UNKNOWN_SENDER: 10,
    ErrorCode.REVOKED_SENDER: 11,
    ErrorCode.UNAUTHORIZED: 12,
    ErrorCode.DUPLICATE_NONCE: 13,
    ErrorCode.NOT_FOUND: 14,
    ErrorCode.ALREADY_EXISTS: 15,
    ErrorCode.CONFLICT: 16,
    ErrorCode.INVALID_STATE: 17,
    ErrorCode.MEMPOOL_FULL: 18,
    ErrorCode.TIMEOUT: 19,
    ErrorCode.UNAVAILABLE: 20,
    ErrorCode.INVALID_PROOF: 21,
    ErrorCode.TAMPERED: 22,
    ErrorCode.INVALID_RESOURCE: 23,
    ErrorCode.NO_CONSENT: 24,
    ErrorCode.CONSENT_EXPIRED: 25,
    ErrorCode.CONSENT_REVOKED: 26,
    ErrorCode.RECORD_SHREDDED: 27,
    ErrorCode.DECRYPTION_FAILED: 28,
    ErrorCode.HASH_MISMATCH: 29,
    ErrorCode.BLOB_MISSING: 30,
    ErrorCode.REQUEST_EXPIRED: 31,
    ErrorCode.REQUEST_REPLAYED: 32,
    ErrorCode.NOT_CUSTODIAN: 33,
    ErrorCode.AUDIT_FAILED: 34,
    ErrorCode.HEADER_UNVERIFIED: 35,
    ErrorCode.APPLY_FAILED: 36,
    ErrorCode.RATE_LIMITED: 37,
    ErrorCode.CYCLE: 38,
    ErrorCode.RULES_VERSION: 39,
    ErrorCode.WRONG_AUDIENCE: 40,
    ErrorCode.BODY_MISMATCH: 41,
    ErrorCode.UNKNOWN_PARTY: 45,
    # HTTP-only codes: never a transaction's result, numbered so the table stays complete.
    ErrorCode.NO_ROUTE: 42,
    ErrorCode.METHOD_NOT_ALLOWED: 43,
    ErrorCode.CUSTODIAN_UNAVAILABLE: 44,
}


def abci_code(code: str) -> int:
    """The ABCI number of a result code (`"ok"` or an ErrorCode value)."""
    if code == OK:
        return OK_CODE
    return ABCI_CODES[ErrorCode.parse(code, ErrorCode.INTERNAL)]


def codespace_for(code: int) -> str:
    """Failures name our codespace; success names none, as ABCI expects."""
    return "" if code == OK_CODE else CODESPACE


def abci_events(types: Any, events: tuple[dict[str, Any], ...]) -> list[Any]:
    """Our `{"type": ..., **attributes}` events as ABCI Events (non-string values as JSON)."""
    return [
        types.Event(
            type=str(event["type"]),
            attributes=[
                types.EventAttribute(key=key, value=_attribute_text(value), index=True)
                # Key order, as the stored (canonical) result has them.
                for key, value in sorted(event.items())
                if key != "type"
            ],
        )
        for event in events
    ]


def exec_tx_result(types: Any, result: TxResult) -> Any:
    """One transaction's outcome in FinalizeBlock: code, reason and events."""
    code = abci_code(result.code)
    return types.ExecTxResult(
        code=code,
        log=result.message,
        codespace=codespace_for(code),
        events=abci_events(types, result.events),
    )


def validator_updates(types: Any, results: tuple[TxResult, ...]) -> list[Any]:
    """The block's `validator.update` events (from governance) as ABCI ValidatorUpdates.

    Only successful transactions emit events, so a refused admission changes nothing;
    CometBFT applies the updates two blocks later, as ABCI specifies.
    """
    return [
        types.ValidatorUpdate(
            pub_key={"ed25519": bytes.fromhex(event["pub_key"])},
            power=int(event["power"]),
        )
        for result in results
        if result.code == OK
        for event in result.events
        if event["type"] == VALIDATOR_UPDATE
    ]


def _attribute_text(value: Any) -> str:
    return value if isinstance(value, str) else canonical_bytes(value).decode()
