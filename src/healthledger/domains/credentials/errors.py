"""The credentials domain's errors: each carries the values it names and builds its message.

Messages of failed transactions are hashed into blocks: their text is fixed here. Each
part appends its own errors at the end of the file.
"""

from __future__ import annotations

from healthledger.errors import (
    NotFound,
)


class UnknownCredential(NotFound):
    def __init__(self, credential_id: str) -> None:
        self.credential_id = credential_id
        super().__init__(f"no credential {credential_id} on the ledger")
