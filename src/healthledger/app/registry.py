"""The domains of this ledger, in one list, and the tables the app builds from them.

Adding a domain is adding its folder and one line to `DOMAINS`; the order is the
order of their end-of-block sweeps, and must never change on a running chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

from pydantic import BaseModel, ValidationError

from healthledger.domains import credentials, governance, records, supply
from healthledger.domains.kit import (
    CAPABILITY_PREFIX,
    Domain,
    TxType,
    validation_problem,
)
from healthledger.errors import InvalidField, UnknownTxType

DOMAINS: tuple[Domain, ...] = (governance.DOMAIN, supply.DOMAIN, records.DOMAIN, credentials.DOMAIN)


@dataclass(frozen=True)
class Registered:
    """A transaction type and the domain that offers it."""

    domain: Domain
    tx: TxType

    @property
    def type(self) -> str:
        return self.tx.type

    @property
    def namespace(self) -> str:
        return self.domain.namespace


def build_registry(domains: Sequence[Domain]) -> MappingProxyType[str, Registered]:
    """Every transaction type by name; refuses a declaration that would be ambiguous."""
    table: dict[str, Registered] = {}
    namespaces: set[str] = set()
    for domain in domains:
        if domain.namespace in namespaces:
            raise ValueError(f"namespace {domain.namespace} claimed by two domains")
        namespaces.add(domain.namespace)
        for tx in domain.txs:
            if tx.type in table:
                raise ValueError(f"transaction type {tx.type} registered twice")
            table[tx.type] = Registered(domain, tx)
    known = capabilities_of(domains)
    for entry in table.values():
        for grant in entry.tx.senders:
            if grant.startswith(CAPABILITY_PREFIX) and grant[len(CAPABILITY_PREFIX) :] not in known:
                raise ValueError(f"{entry.type} names undeclared capability {grant}")
    return MappingProxyType(table)


def capabilities_of(domains: Sequence[Domain]) -> MappingProxyType[str, str]:
    """Every capability a domain declared, with what it lets its holder do."""
    table: dict[str, str] = {}
    for domain in domains:
        for name, meaning in domain.capabilities.items():
            if name in table:
                raise ValueError(f"capability {name} declared by two domains")
            table[name] = meaning
    return MappingProxyType(table)


REGISTRY = build_registry(DOMAINS)
CAPABILITIES = capabilities_of(DOMAINS)
# Namespaces a transaction of any domain may write through a base domain's operations.
BASE_NAMESPACES = frozenset(domain.namespace for domain in DOMAINS if domain.base)


def spec_for(tx_type: str) -> Registered:
    spec = REGISTRY.get(tx_type)
    if spec is None:
        raise UnknownTxType(tx_type)
    return spec


def parse_payload(spec: TxType, payload: dict[str, object]) -> BaseModel:
    """Validate a payload against its type's model; a bad field gets `invalid_field`.

    The message is our own text, built from the error's kind and location: pydantic's
    wording may change with a library upgrade, and result messages are hashed into blocks.
    """
    try:
        return spec.payload.model_validate(payload)
    except ValidationError as exc:
        raise InvalidField(f"{spec.type}: {first_problem(exc)}") from exc


def first_problem(exc: ValidationError) -> str:
    """`where: what is wrong`, for the first error of a validation, in our own words."""
    where, what = validation_problem(exc)
    return f"{where or 'payload'}: {what}"
