"""What a domain declares about itself: the one place the app learns of it.

A domain is a folder under `domains/` whose `__init__.py` exports `DOMAIN`, a
`Domain`: its namespace, its transaction types (payload model, handler, who may
send it), the capabilities it defines, the reads it publishes (framework-free
`View`s that `api/` mounts as routes) and, if it has work to do by time, a
bounded end-of-block sweep. `app/registry.py` lists the domains; nothing else
names them.

Who may send a type is a set of grants, checked in one place (`app/permissions`):
- `kind:role` (`org:hospital`, `member:pharmacist`, `patient:patient`), or
  `kind:*` for every role of that kind;
- `cap:<name>`: any organisation or member holding that capability, granted by
  governance on top of its one role (an issuer of a currency, a CE provider ...);
- `new:new`: a key the ledger has never seen (self-registration).
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from healthledger.ledger.context import Payload, StateReader, TxContext

ANY_ORG = "org:*"
ANY_MEMBER = "member:*"
PATIENT = "patient:patient"
NEW_KEY = "new:new"
CAPABILITY_PREFIX = "cap:"

_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def org(role: str) -> str:
    """The grant for organisations of one role."""
    return f"org:{role}"


def member(role: str) -> str:
    """The grant for members (people enrolled by an organisation) of one role."""
    return f"member:{role}"


def capability(name: str) -> str:
    """The grant for whoever holds a capability, whatever their role."""
    return f"{CAPABILITY_PREFIX}{name}"


Handler = Callable[[TxContext, Any], None]


@dataclass(frozen=True)
class TxType:
    """A transaction type: its payload model, its handler and who may send it."""

    type: str
    payload: builtins.type[Payload]
    handler: Handler
    senders: frozenset[str]
    summary: str


class Access(StrEnum):
    """Who may call a published read."""

    PUBLIC = "public"  # anyone: what a scanner or a patient holding a pack asks
    MEMBER = "member"  # a signed request of a member organisation, its people, an auditor


class LedgerReader(Protocol):
    """A committed snapshot as a domain's views see it: point reads, bounded scans, proofs."""

    @property
    def state(self) -> StateReader: ...

    @property
    def height(self) -> int: ...

    def scan(
        self, ns: str, prefix: str, limit: int, after: str | None = None
    ) -> list[tuple[str, bytes]]: ...

    def scan_newest(self, ns: str, prefix: str, limit: int) -> list[tuple[str, bytes]]: ...

    def block_time_ms(self, height: int) -> int: ...

    def proven(self, ns: str, key: str) -> ProvenValue: ...


class ProvenValue(BaseModel):
    """A state value with its proof against the state root of the header it names."""

    model_config = {"frozen": True}

    namespace: str
    key: str
    height: int
    value: Any
    raw_value: str | None
    proof: dict[str, Any]
    header: dict[str, Any] | None


@dataclass(frozen=True)
class View:
    """A read a domain publishes; `api/` mounts it as `GET path` (domains know no HTTP).

    `params` is a model of the path and query parameters; `run` answers from one
    committed snapshot. `media_type` is what the response is (JSON unless said).
    """

    name: str
    path: str
    summary: str
    params: builtins.type[BaseModel]
    response: builtins.type[BaseModel]
    run: Callable[[LedgerReader, Any], BaseModel]
    access: Access = Access.MEMBER
    media_type: str = "application/json"


EndBlock = Callable[[TxContext, int], None]


@dataclass(frozen=True)
class Domain:
    """Everything the app needs to know of a domain, declared inside its folder."""

    name: str
    namespace: str
    summary: str
    txs: tuple[TxType, ...]
    # capability name -> what holding it lets one do (governance grants only these)
    capabilities: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    views: tuple[View, ...] = ()
    # Work done by time (expiry, deadlines): called after a block's transactions with a
    # budget of items; it must stop at the budget and carry the rest to the next block.
    end_block: EndBlock | None = None
    end_block_budget: int = 0
    # A base domain (governance; credentials and funds to come) offers operations that
    # other domains call inside their own transactions, writing its namespace.
    base: bool = False

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name) or not _NAME.fullmatch(self.namespace):
            raise ValueError(f"domain {self.name!r}: names are lower-case words")
        for name in self.capabilities:
            if not _NAME.fullmatch(name):
                raise ValueError(f"domain {self.name}: capability {name!r} is not a name")
        if self.end_block is not None and self.end_block_budget <= 0:
            raise ValueError(f"domain {self.name}: an end-of-block sweep needs a budget")


def validation_problem(exc: ValidationError) -> tuple[str, str]:
    """(where, what is wrong) of a validation's first error, in our own words: result
    messages are hashed into blocks, and pydantic's wording may change with an upgrade."""
    first = exc.errors(include_url=False, include_input=False)[0]
    # pydantic names a dict's key position "[key]": our word for it is "key"
    where = ".".join("key" if p == "[key]" else str(p) for p in first["loc"])
    return where, field_problem(first["type"], first.get("ctx"))


# Our words for pydantic's error kinds; kinds not listed read "is not valid".
_PROBLEMS = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this payload",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "none_required": "must be null",
    "literal_error": "is not one of the allowed values",
    "enum": "is not one of the allowed values",
    "string_pattern_mismatch": "does not have the expected format",
    "string_too_short": "is too short",
    "string_too_long": "is too long",
    "too_short": "has too few items",
    "too_long": "has too many items",
    "greater_than": "is too small",
    "greater_than_equal": "is too small",
    "less_than": "is too large",
    "less_than_equal": "is too large",
    "int_from_float": "must be an integer",
    "union_tag_invalid": "is not one of the allowed kinds",
}


def field_problem(kind: str, context: object) -> str:
    """What is wrong with a field, in our words; a validator of ours speaks for itself."""
    if isinstance(context, dict):
        error = context.get("error")
        if isinstance(error, ValueError) and error.args:
            return str(error.args[0])
    return _PROBLEMS.get(kind, "is not valid")
