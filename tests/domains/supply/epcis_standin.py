"""A stand-in for the `supply.epcis` dispatcher, for tests written before it lands.

The typed transactions refuse `event_id`: only supply.epcis, which hashes the raw event it
carries, applies an operation with one. These tests reach the operation itself, as the
dispatcher does, by routing the typed transaction straight to it.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest

from healthledger.app import registry
from healthledger.domains.supply import coldchain, ti, transform

OPERATIONS = {
    "supply.transform": transform.transform,
    "supply.sensor": coldchain.report_sensor,
    "supply.transaction": ti.record_transaction,
}


def as_dispatcher(monkeypatch: pytest.MonkeyPatch, tx_type: str) -> None:
    """`tx_type` applies its operation as supply.epcis does, event_id included."""
    entry = registry.REGISTRY[tx_type]
    table = dict(registry.REGISTRY)
    table[tx_type] = replace(entry, tx=replace(entry.tx, handler=OPERATIONS[tx_type]))
    monkeypatch.setattr(registry, "REGISTRY", MappingProxyType(table))
