"""Credential anchors and their keys in the `credentials` namespace.

The chain never holds a credential document: the holder keeps it. An anchor holds
what a verifier needs to check a presented document against the ledger (its hash,
issuer and the key that signed it, subject, type, validity, status index) and the
status history, so "was it valid on date D" is answered from current state (the
domain kit's history rule: the state trie proves only the latest root).
"""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import RootModel

from healthledger.ledger.context import StateModel

NAMESPACE = "credentials"

CredentialType = Literal["licence", "degree", "certification", "ce", "privilege"]
CREDENTIAL_TYPES: tuple[str, ...] = ("licence", "degree", "certification", "ce", "privilege")
Status = Literal["active", "suspended", "revoked", "expired"]
ACTIVE: Status = "active"
SUSPENDED: Status = "suspended"
REVOKED: Status = "revoked"
EXPIRED: Status = "expired"
StatusPurpose = Literal["revocation", "suspension"]
STATUS_PURPOSES: tuple[StatusPurpose, ...] = ("revocation", "suspension")

# Bitstring Status List: at least 131,072 entries per list, for herd privacy (spec §6.1).
STATUS_LIST_SIZE = 131_072
# Bounds: no walk over a member's file, a credential's history or its dependents grows
# with what an attacker sends (principle 6).
MAX_CREDENTIALS_PER_MEMBER = 1_024
MAX_STATUS_CHANGES = 64
MAX_DEPENDENTS = 256
MAX_DEPENDS_ON = 16

ID_PREFIX = "urn:healthledger:credential:"
SUBJECT_PREFIX = "urn:healthledger:member:"


class StatusChange(StateModel):
    """One step of a credential's status: when (block), what, why, and by whom."""

    height: int
    time_ms: int
    status: Status
    reason: str
    # the issuer's org id; "expiry" for the block-time sweep; "cascade:<credential id>"
    # when a credential it depends on was suspended or revoked
    by: str


class CredentialAnchor(StateModel):
    """A credential as the ledger knows it (`cred/{id}`). `id` is `{issuer}:{local}`;
    the document's `id` is `urn:healthledger:credential:{id}`."""

    id: str
    issuer: str  # the issuing organisation's id, or the registered external issuer's handle
    issuer_key: str  # hex Ed25519 public key: the did:key of the document's proof
    external: bool
    subject: str  # the member's actor id, `org/member`
    type: CredentialType
    scope: str
    jurisdiction: str
    valid_from_ms: int
    valid_until_ms: int | None
    ce_minutes: int | None
    ce_category: str | None
    depends_on: tuple[str, ...]
    hash: str  # SHA-256 hex of the JCS bytes of the signed document (proof included)
    status_list: int | None  # the number of the issuer's lists this credential's bits are in
    status_index: int | None  # its index, the same in the revocation and the suspension list
    issued_height: int
    issued_time_ms: int
    history: tuple[StatusChange, ...]  # first entry: active, at issue

    @property
    def status(self) -> Status:
        return self.history[-1].status


class CredentialIds(RootModel[tuple[str, ...]]):
    """Credential ids in the order they were anchored (a member's file, a credential's
    dependents)."""

    model_config = {"frozen": True}


def credential_key(credential_id: str) -> str:
    return f"cred/{credential_id}"


def member_credentials_key(member: str) -> str:
    """The member's file: its credentials' ids in order (`member` is `org/member`)."""
    return f"member/{member}/creds"


def dependents_key(credential_id: str) -> str:
    """The privileges that name this credential in `depends_on` (the cascade's walk)."""
    return f"dependents/{credential_id}"


# Prefixes owned by the parts of this domain (one owner each, so keys never clash):
# core: cred/ member/ dependents/ statuslist/ statusnext/ issuerkeys/ extissuer/ due/expiry/
# file: cerule/ share/ shares/ exclusion/ flag/ flags/ psv/ psvuse/


# --- core's records: status lists, issuers' keys, external issuers ---------------------------

# Places one issuer's privileges may take in a credential's `dependents/` list.
MAX_DEPENDENTS_PER_ISSUER = 32
# Places one issuer's credentials may take in a member's file (a CE provider's yearly
# certificates over a career fit): one issuer alone cannot fill a file.
MAX_FILE_SHARE_PER_ISSUER = 512

# Keys one issuer may have signed credentials with. A rotation a month for twenty years
# stays far below; past it the issuer issues no more (its own doing: nobody else's keys
# are counted here) rather than the record growing with every rotation.
MAX_ISSUER_KEYS = 256
# Status changes the issuer (or, for an external credential, its regulator) may make:
# the last RESERVED_CHANGES places of a history are kept for the two changes nobody
# chooses, a cascaded suspension and the expiry, so neither is ever refused for room
# (and for a revocation, after which nothing is appended).
RESERVED_CHANGES = 2


class StatusListRecord(StateModel):
    """One of an issuer's Bitstring Status Lists (`statuslist/{issuer}/{purpose}/{list}`):
    the raw bitstring (bit 0 = most significant bit of byte 0), base64 in one value, its
    SHA-256, and the height of the block it last changed in (the state root commits to it
    there). The spec's published form (GZIP, multibase) is made off the consensus path."""

    issuer: str
    purpose: StatusPurpose
    list: int
    size: int  # in bits: STATUS_LIST_SIZE
    bits: str  # standard base64 (with padding) of the raw bitstring
    bits_hash: str  # SHA-256 hex of the raw bytes
    height: int

    def raw_bits(self) -> bytes:
        """The raw bitstring (what the published `encodedList` GZIPs)."""
        return base64.b64decode(self.bits, validate=True)


class StatusSlot(StateModel):
    """An issuer's next free status slot (`statusnext/{issuer}`): the list and the index
    the next credential it anchors takes, in its revocation and its suspension list."""

    list: int
    index: int


class IssuerKeyPeriod(StateModel):
    """A key an issuer signed credentials with: the first and last block it was seen in,
    and the block a newer key first signed in (None while it is the newest)."""

    key: str  # hex Ed25519 public key (the did:key of its proofs)
    first_height: int
    last_height: int
    until_height: int | None


class IssuerKeys(StateModel):
    """Every key an issuer signed credentials with, oldest first (`issuerkeys/{org}`)."""

    issuer: str
    keys: tuple[IssuerKeyPeriod, ...]


class ExternalIssuer(StateModel):
    """An issuer outside the ledger whose credentials members may anchor
    (`extissuer/{handle}`), registered by a regulator; kept when removed, so the
    credentials anchored before can still be revoked by that regulator."""

    handle: str
    did: str  # did:key of its Ed25519 key
    public_key: str  # hex Ed25519 public key the did names
    name: str
    types: tuple[CredentialType, ...]
    jurisdiction: str
    registered_by: str  # the regulator's org id
    registered_height: int
    active: bool
    removed_height: int | None


def status_list_key(issuer: str, purpose: str, number: int) -> str:
    return f"statuslist/{issuer}/{purpose}/{number}"


def status_next_key(issuer: str) -> str:
    return f"statusnext/{issuer}"


def issuer_keys_key(issuer: str) -> str:
    return f"issuerkeys/{issuer}"


def external_issuer_key(handle: str) -> str:
    return f"extissuer/{handle}"


EXPIRY_QUEUE_PREFIX = "due/expiry/"
EXTERNAL_ISSUER_PREFIX = "extissuer/"
