"""A large file streamed into the vault: held to its declaration, encrypted as it arrives."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from healthledger.crypto.envelope import Sealed, new_data_key
from healthledger.domains.records import fhir
from healthledger.errors import BodyMismatch, TooLarge
from healthledger.ledger.context import Actor
from healthledger.node.custodian.prepared import DeclaredBody, PreparedAdd
from healthledger.vault import Vault

MAX_FILE_BYTES = 64 * 1024**3


@dataclass(frozen=True)
class FilePlan:
    """Everything about a file but its bytes, checked before the first byte is stored."""

    author: Actor
    custodian: str
    patient: str
    summary: fhir.ResourceSummary
    media_type: str


# Wraps a finished file's data key and builds its `record.add` (the service's `_prepared`).
Register = Callable[[FilePlan, bytes, Sealed], PreparedAdd]


class Upload:
    """A file arriving for the vault, held to its declaration and encrypted as it streams in.

    The record's fresh data key lives only in this object until `finish` wraps it,
    so what reaches `tmp/` is ciphertext nobody else can open. Put `discard` in a
    `finally`: after a refusal or a dropped connection it removes the partial file.
    """

    def __init__(
        self, vault: Vault, plan: FilePlan, declared: DeclaredBody, register: Register
    ) -> None:
        self._vault = vault
        self._plan = plan
        self._declared = declared
        self._register = register
        self._data_key = new_data_key()
        self._digest = hashlib.sha256()
        self._size = 0
        self._writer = vault.writer(self._data_key)

    def feed(self, chunk: bytes) -> None:
        """Take the next piece; refuse as soon as the body outgrows its declared length."""
        self._size += len(chunk)
        if self._size > self._declared.size:
            raise TooLarge(f"the body is longer than the {self._declared.size} bytes it declared")
        self._digest.update(chunk)
        self._writer.write(chunk)

    def finish(self) -> PreparedAdd:
        """The body ended: it must be exactly what was declared, or nothing is kept."""
        if self._size != self._declared.size or self._digest.hexdigest() != self._declared.sha256:
            raise BodyMismatch(
                f"the body ({self._size} bytes) differs from its declared length and SHA-256"
            )
        sealed = self._writer.commit()
        try:
            return self._register(self._plan, self._data_key, sealed)
        except BaseException:
            self._vault.shred(sealed.blob_id)
            raise

    def discard(self) -> None:
        self._writer.discard()


__all__ = ["MAX_FILE_BYTES", "FilePlan", "Upload"]
