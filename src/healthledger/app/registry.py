"""The transaction types every domain offers, gathered in one table."""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType

from pydantic import BaseModel, ValidationError

from healthledger.domains import governance, records, supply
from healthledger.errors import InvalidField, UnknownTxType
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
        raise UnknownTxType(tx_type)
    return spec


def parse_payload(spec: TxSpec, payload: dict[str, object]) -> BaseModel:
    """Validate a payload against its type's model; a bad field gets `invalid_field`.

    The message is our own text, built from the error's kind and location: pydantic's
    wording may change with a library upgrade, and result messages are hashed into blocks.
    """
    try:
        return spec.payload.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        # pydantic names a dict's key position "[key]": our word for it is "key"
        where = ".".join("key" if p == "[key]" else str(p) for p in first["loc"]) or "payload"
        raise InvalidField(
            f"{spec.type}: {where}: {field_problem(first['type'], first.get('ctx'))}"
        ) from exc


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
    if kind == "value_error" and isinstance(context, dict):
        error = context.get("error")
        if isinstance(error, ValueError) and error.args:
            return str(error.args[0])
    return _PROBLEMS.get(kind, "is not valid")
