"""One error tree with stable codes, shared by every layer.

The API maps codes to HTTP statuses and the CLI to exit codes, each in one place;
a failed transaction is recorded in its block with its code.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable, machine-readable reasons; never renamed once published."""

    # encoding and shape
    MALFORMED = "malformed"
    FLOAT_NOT_ALLOWED = "float_not_allowed"
    INTEGER_OUT_OF_RANGE = "integer_out_of_range"
    INVALID_FIELD = "invalid_field"
    UNKNOWN_TX_TYPE = "unknown_tx_type"
    WRONG_CHAIN = "wrong_chain"
    TOO_LARGE = "too_large"
    # apply met something no rule foresaw: the transaction fails, the node goes on
    APPLY_FAILED = "apply_failed"
    # signatures and senders
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_SENDER = "unknown_sender"
    REVOKED_SENDER = "revoked_sender"
    UNAUTHORIZED = "unauthorized"
    DUPLICATE_NONCE = "duplicate_nonce"
    # state
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    CONFLICT = "conflict"
    INVALID_STATE = "invalid_state"
    RATE_LIMITED = "rate_limited"
    CYCLE = "cycle"
    # a GS1 party or location (GLN) that no organisation has registered
    UNKNOWN_PARTY = "unknown_party"
    # node
    MEMPOOL_FULL = "mempool_full"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    RULES_VERSION = "rules_version"
    WRONG_AUDIENCE = "wrong_audience"
    # verification of proofs and data folders
    INVALID_PROOF = "invalid_proof"
    TAMPERED = "tampered"
    HEADER_UNVERIFIED = "header_unverified"
    # health records, consent and the vault
    INVALID_RESOURCE = "invalid_resource"
    NO_CONSENT = "no_consent"
    CONSENT_EXPIRED = "consent_expired"
    CONSENT_REVOKED = "consent_revoked"
    RECORD_SHREDDED = "record_shredded"
    DECRYPTION_FAILED = "decryption_failed"
    HASH_MISMATCH = "hash_mismatch"
    # an upload's body is not the length and SHA-256 its signed request declared
    BODY_MISMATCH = "body_mismatch"
    BLOB_MISSING = "blob_missing"
    REQUEST_EXPIRED = "request_expired"
    REQUEST_REPLAYED = "request_replayed"
    NOT_CUSTODIAN = "not_custodian"
    AUDIT_FAILED = "audit_failed"
    # the organisation holding a record cannot be reached (its node is down or unlisted)
    CUSTODIAN_UNAVAILABLE = "custodian_unavailable"
    # an HTTP route that does not exist, a method it does not take
    NO_ROUTE = "no_route"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    # a fault of the node itself, never of the request (HTTP 500)
    INTERNAL = "internal"

    @classmethod
    def parse(cls, text: object, default: ErrorCode) -> ErrorCode:
        """The code a wire field names; `default` for a code this version does not know.

        Every reader of a code from the wire (a block result, an API error, an ABCI
        log) parses through here, so an unknown code from a newer peer is never a crash.
        """
        try:
            return cls(str(text))
        except ValueError:
            return default


class LedgerError(Exception):
    """Root of every error HealthLedger raises on purpose: a code plus a human message."""

    code: ErrorCode = ErrorCode.MALFORMED

    def __init__(self, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def to_dict(self) -> dict[str, object]:
        return {"code": str(self.code), "message": self.message}


class InvalidField(LedgerError):
    """A field of a request or payload that breaks a rule of its own (not of state)."""

    code = ErrorCode.INVALID_FIELD


class AlreadyExists(LedgerError):
    code = ErrorCode.ALREADY_EXISTS


class Conflict(LedgerError):
    code = ErrorCode.CONFLICT


class InvalidState(LedgerError):
    """The thing exists, but its state does not allow this step now."""

    code = ErrorCode.INVALID_STATE


class RateLimited(LedgerError):
    code = ErrorCode.RATE_LIMITED


class InvalidTransaction(LedgerError):
    """A transaction that cannot be accepted; it changes no state."""


class MalformedInput(InvalidTransaction):
    code = ErrorCode.MALFORMED


class FloatNotAllowed(InvalidTransaction):
    code = ErrorCode.FLOAT_NOT_ALLOWED


class BadSignature(InvalidTransaction):
    code = ErrorCode.BAD_SIGNATURE


class UnknownSender(InvalidTransaction):
    code = ErrorCode.UNKNOWN_SENDER


class RevokedSender(InvalidTransaction):
    code = ErrorCode.REVOKED_SENDER


class Unauthorized(InvalidTransaction):
    code = ErrorCode.UNAUTHORIZED


class DuplicateNonce(InvalidTransaction):
    code = ErrorCode.DUPLICATE_NONCE


class NotFound(LedgerError):
    code = ErrorCode.NOT_FOUND


class InvalidProof(LedgerError):
    code = ErrorCode.INVALID_PROOF


class Tampered(LedgerError):
    """A data folder whose stored bytes do not match what the chain commits to."""

    code = ErrorCode.TAMPERED

    def __init__(self, height: int, message: str) -> None:
        super().__init__(f"height {height}: {message}")
        self.height = height

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "height": self.height}


class TooLarge(LedgerError):
    code = ErrorCode.TOO_LARGE


class Unavailable(LedgerError):
    """The node (or a service it needs) cannot do this now; the request itself may be fine."""

    code = ErrorCode.UNAVAILABLE


class CustodianUnavailable(LedgerError):
    """The organisation that holds a record cannot be reached now: nothing was read."""

    code = ErrorCode.CUSTODIAN_UNAVAILABLE

    def __init__(self, org: str, why: str) -> None:
        super().__init__(f"the custodian {org} cannot be reached: {why}")
        self.org = org


class DecryptionFailed(LedgerError):
    code = ErrorCode.DECRYPTION_FAILED


class HashMismatch(LedgerError):
    """Stored bytes that no longer hash to the id they are kept under."""

    code = ErrorCode.HASH_MISMATCH


class ApplyFailed(LedgerError):
    code = ErrorCode.APPLY_FAILED


class RulesVersionMismatch(LedgerError):
    """Data made under other rules than this software applies."""

    code = ErrorCode.RULES_VERSION


class WrongChain(InvalidTransaction):
    code = ErrorCode.WRONG_CHAIN


class IntegerOutOfRange(InvalidTransaction):
    code = ErrorCode.INTEGER_OUT_OF_RANGE


class UnknownTxType(InvalidTransaction):
    code = ErrorCode.UNKNOWN_TX_TYPE

    def __init__(self, tx_type: str) -> None:
        super().__init__(f"unknown transaction type {tx_type}")
        self.tx_type = tx_type


class RequestExpired(LedgerError):
    """A signed request whose time is too far from the node's clock."""

    code = ErrorCode.REQUEST_EXPIRED

    def __init__(self, validity_ms: int) -> None:
        super().__init__(f"request time is more than {validity_ms // 1000} s from the node's clock")
        self.validity_ms = validity_ms


class RequestReplayed(LedgerError):
    code = ErrorCode.REQUEST_REPLAYED


class WrongAudience(LedgerError):
    """A genuine signed request meant for another organisation's nodes."""

    code = ErrorCode.WRONG_AUDIENCE

    def __init__(self, named: str, audience: str) -> None:
        super().__init__(f"this request is meant for {named[:64]!r}; this node serves {audience!r}")
        self.named = named
        self.audience = audience


class Timeout(LedgerError):
    """Something this node waited for (a commit, a process) did not happen in time."""

    code = ErrorCode.TIMEOUT


class BodyMismatch(LedgerError):
    """An upload's body is not the length and SHA-256 its signed request declared."""

    code = ErrorCode.BODY_MISMATCH


class BlobMissing(LedgerError):
    """The vault no longer holds a record's ciphertext."""

    code = ErrorCode.BLOB_MISSING


class AuditFailed(LedgerError):
    """The access event of a read did not commit: nothing is released."""

    code = ErrorCode.AUDIT_FAILED


class InvalidResource(LedgerError):
    """A clinical document that is not a valid FHIR resource of the kinds accepted."""

    code = ErrorCode.INVALID_RESOURCE


class StaleAccess(LedgerError):
    """An access event too old to release content for: read the record again."""

    code = ErrorCode.REQUEST_EXPIRED
