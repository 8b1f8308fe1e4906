"""Typed supply records write exactly the bytes the dict-based handlers wrote.

The canonical JSON of a record is hashed into the state root: a model that dumped
one field more, or less, or differently, would fork a chain replayed by newer code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Chain, make_genesis
from healthledger.app.application import Application
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.domains.supply.state import Container, Holders, Lot, Package, Product
from healthledger.ledger.store import Store

PARTNERS = [("medico-pharma", "manufacturer"), ("pharmalink", "distributor")]
GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))
SSCC = "106141411234567897"


@pytest.fixture
def sc(tmp_path: Path) -> Iterator[Chain]:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(make_genesis(PARTNERS))
    yield Chain(app, store)
    store.close()


def do(sc: Chain, org: str, tx_type: str, **payload: Any) -> None:
    result = sc.one(sc.signer(org).sign(f"supply.{tx_type}", payload))
    assert result.ok, result


def raw(sc: Chain, key: str) -> bytes:
    value = sc.store.state_get("supply", key)
    assert value is not None, key
    return value


def test_a_package_after_commission_ship_and_receive_is_stored_byte_for_byte(sc: Chain) -> None:
    do(sc, "medico-pharma", "commission", gtin=GTIN, lot="L1", expiry="2027-06-30", serials=["S1"])
    do(sc, "medico-pharma", "ship", items=[f"{GTIN}:S1"], to="pharmalink")
    do(sc, "pharmalink", "receive", items=[f"{GTIN}:S1"])
    stored = raw(sc, f"pkg/{GTIN}/S1")
    assert stored == (
        b'{"container":null,"expiry":"2027-06-30","gtin":"' + GTIN.encode() + b'",'
        b'"history":[[1,"commission","medico-pharma",null],'
        b'[2,"ship","medico-pharma","pharmalink"],'
        b'[3,"receive","pharmalink","medico-pharma"]],'
        b'"lot":"L1","manufacturer":"medico-pharma","owner":"pharmalink","quarantined":false,'
        b'"serial":"S1","status":"active","suspect":false,"to":null}'
    )
    package = Package.model_validate_json(stored)
    assert (package.owner, package.history[-1].action) == ("pharmalink", "receive")
    assert raw(sc, f"lot/{GTIN}/L1") == (
        b'{"count":1,"expiry":"2027-06-30","gtin":"' + GTIN.encode() + b'",'
        b'"lot":"L1","manufacturer":"medico-pharma"}'
    )
    assert raw(sc, f"gtin/{GTIN}") == (
        b'{"gtin":"' + GTIN.encode() + b'","manufacturer":"medico-pharma"}'
    )
    assert raw(sc, f"holders/{GTIN}") == b'{"L1":{"pharmalink":1}}'
    assert Lot.model_validate_json(raw(sc, f"lot/{GTIN}/L1")).count == 1
    assert Product.model_validate_json(raw(sc, f"gtin/{GTIN}")).manufacturer == "medico-pharma"
    assert Holders.model_validate_json(raw(sc, f"holders/{GTIN}")).root == {"L1": {"pharmalink": 1}}


def test_a_packed_then_unpacked_case_is_stored_byte_for_byte(sc: Chain) -> None:
    do(sc, "medico-pharma", "commission", gtin=GTIN, lot="L1", expiry="2027-06-30", serials=["S1"])
    do(sc, "medico-pharma", "aggregate", sscc=SSCC, items=[f"{GTIN}:S1"])
    packed = raw(sc, f"pkg/{GTIN}/S1")
    assert b'"container":"' + SSCC.encode() + b'"' in packed
    do(sc, "medico-pharma", "disaggregate", sscc=SSCC)
    stored = raw(sc, f"sscc/{SSCC}")
    assert stored == (
        b'{"children":[],"container":null,"history":[[2,"aggregate","medico-pharma",null],'
        b'[3,"disaggregate","medico-pharma",null]],"owner":"medico-pharma",'
        b'"sscc":"' + SSCC.encode() + b'","status":"active","to":null}'
    )
    assert Container.model_validate_json(stored).children == ()
