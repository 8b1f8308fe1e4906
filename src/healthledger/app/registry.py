"""The transaction types every domain offers, gathered in one table."""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType

from pydantic import BaseModel, ValidationError

from healthledger.domains import governance, records, supply
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.context import TxSpec

DOMAINS = (governance, supply, records)


def build_registry(specs: Iterable[TxSpec]) -> MappingProxyType[str, TxSpec]:
    table: dict[str, TxSpec] = {}
    for spec in specs:
        if spec.type in table:
            raise ValueError(f"transaction type {spec.type} registered twice")
        table[spec.type] = spec
    return MappingProxyType(table)


REGISTRY = build_registry(spec for domain in DOMAINS for spec in domain.TX_SPECS)


def spec_for(tx_type: str) -> TxSpec:
    spec = REGISTRY.get(tx_type)
    if spec is None:
        raise LedgerError(f"unknown transaction type {tx_type}", ErrorCode.UNKNOWN_TX_TYPE)
    return spec


def parse_payload(spec: TxSpec, payload: dict[str, object]) -> BaseModel:
    """Validate a payload against its type's model; a bad field gets `invalid_field`."""
    try:
        return spec.payload.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise LedgerError(f"{spec.type}: {where}: {first['msg']}", ErrorCode.INVALID_FIELD) from exc
