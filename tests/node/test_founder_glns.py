"""The demo's and the testnet's founders hold GLNs from genesis: valid, distinct, theirs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from healthledger.app.application import Application
from healthledger.app.genesis import load_genesis
from healthledger.demo.chain import GLNS, ORGS
from healthledger.domains.governance import queries as gov
from healthledger.domains.shared.gln import check_gln, with_check_digit
from healthledger.ledger.context import StateReader
from healthledger.ledger.store import Store
from healthledger.node.home import company_glns, init_home
from healthledger.node.network import FOUNDER_GLNS, FOUNDERS


@pytest.mark.parametrize("table", [GLNS, FOUNDER_GLNS], ids=["demo", "testnet"])
def test_every_founder_has_valid_distinct_glns(table: dict[str, dict[str, Any]]) -> None:
    every = [g for held in table.values() for g in [held["party"], *held["locations"]]]
    assert len(every) == len(set(every)) == 3 * len(table)
    assert all(check_gln(str(g)) == g for g in every)


def test_company_glns_derive_from_the_prefix() -> None:
    assert company_glns("0614141") == {
        "party": "0614141000005",
        "locations": ["0614141000012", "0614141000029"],
    }
    # An 11-digit company prefix leaves one digit of reference: the party and one site.
    assert company_glns("06141411234", sites=1) == {
        "party": with_check_digit("061414112340"),
        "locations": [with_check_digit("061414112341")],
    }


def test_the_demo_genesis_registers_them(tmp_path: Path) -> None:
    home = init_home(tmp_path / "demo", "glns-demo", ORGS, glns=GLNS)
    store = Store(tmp_path / "ledger.sqlite")
    try:
        Application(store).init_chain(load_genesis(home.genesis_path))
        state = StateReader(store.state_get)
        assert gov.org_of_gln(state, "0614141000005") == "medico-pharma"
        assert gov.org_of_gln(state, "4012345000009") == "pharmalink"
        held = gov.glns_of(state, "corner-pharmacy")
        assert held.party == GLNS["corner-pharmacy"]["party"]
    finally:
        store.close()


def test_testnet_founders_are_all_listed() -> None:
    assert set(FOUNDER_GLNS) == {org for org, _role, _name in FOUNDERS}
