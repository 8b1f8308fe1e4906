"""The credentials domain's errors: each carries the values it names and builds its message.

Messages of failed transactions are hashed into blocks: their text is fixed here. Each
part appends its own errors at the end of the file.
"""

from __future__ import annotations

from healthledger.errors import (
    InvalidField,
    MalformedInput,
    NotFound,
)


class UnknownCredential(NotFound):
    def __init__(self, credential_id: str) -> None:
        self.credential_id = credential_id
        super().__init__(f"no credential {credential_id} on the ledger")


# -- documents (documents.py) ---------------------------------------------------------


class MalformedCredential(MalformedInput):
    """A credential document that is not one this ledger issues: `field` names where."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"credential document: {field} {problem}")
        self.field = field
        self.problem = problem

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "field": self.field}


class WrongSigningKey(InvalidField):
    """The key offered to sign is not the one the document names as its issuer."""

    def __init__(self, named: str, offered: str) -> None:
        super().__init__(
            f"the document's issuer is {named[:80]}, but the signing key is {offered[:80]}"
        )
        self.named = named
        self.offered = offered
