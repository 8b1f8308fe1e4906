"""The genesis document: chain id, founding organisations, admission quorum."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator

from healthledger.crypto.canonical import canonical_bytes, parse_json
from healthledger.domains.governance.messages import Limits, OrgSpec, first_repeat
from healthledger.errors import LedgerError, MalformedInput, RulesVersionMismatch
from healthledger.ledger.context import Payload


class Quorum(Payload):
    """Strictly more than numerator/denominator of member organisations must approve."""

    numerator: Annotated[int, Field(ge=1)] = 2
    denominator: Annotated[int, Field(ge=1)] = 3

    @model_validator(mode="after")
    def _is_a_fraction(self) -> Quorum:
        if self.numerator >= self.denominator:
            raise ValueError("quorum must be a fraction below 1")
        return self


# The version of the transaction rules this code applies. A chain records the version it
# was started under; a node refuses a data folder of another version, because the same
# blocks could give another state under other rules (see docs/security.md).
RULES_VERSION = 3


class Genesis(Payload):
    """What every node of a network starts from; its hash is block 1's `prev_hash`."""

    chain_id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,62}$")]
    genesis_time_ms: Annotated[int, Field(ge=0, le=2**53 - 1)]
    rules_version: Annotated[int, Field(ge=1)] = RULES_VERSION
    admission_quorum: Quorum = Quorum()
    limits: Limits = Limits()
    organisations: Annotated[list[OrgSpec], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique(self) -> Genesis:
        ids = [org.id for org in self.organisations]
        keys = [org.signing_key for org in self.organisations]
        if len(set(ids)) != len(ids) or len(set(keys)) != len(keys):
            raise ValueError("organisation ids and signing keys must be unique")
        glns = [gln for org in self.organisations if org.glns for gln in org.glns.all()]
        repeat = first_repeat(glns)
        if repeat is not None:
            raise ValueError(f"GLN {repeat} is given to two founders")
        return self

    def canonical(self) -> bytes:
        return canonical_bytes(self.model_dump(mode="json"))

    @classmethod
    def from_dict(cls, data: Any) -> Genesis:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise MalformedInput(f"invalid genesis: {exc}") from exc


def rules_version_of(document: Any) -> object:
    """The rules version a genesis document names; one written before versions existed is 1."""
    return document.get("rules_version", 1) if isinstance(document, dict) else None


def check_rules_version(raw: bytes, where: str) -> None:
    """Refuse a genesis made under other rules: the same blocks could give another state."""
    try:
        version = rules_version_of(parse_json(raw))
    except LedgerError:
        return  # not JSON: reading it as a genesis fails with its own message
    if version is not None and version != RULES_VERSION:
        raise RulesVersionMismatch(
            f"{where} was made under rules version {version!r}; this software applies "
            f"version {RULES_VERSION} and cannot read it. Start a new chain "
            "(`make demo` recreates its demo folder)"
        )


def load_genesis(path: Path) -> Genesis:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise MalformedInput(f"cannot read genesis {path}: {exc}") from exc
    check_rules_version(raw, str(path))
    return Genesis.from_dict(parse_json(raw))
