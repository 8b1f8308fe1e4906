"""Random sequences of custody events agree with a simple reference model (hypothesis)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from conftest import Chain, make_genesis
from healthledger.app.application import Application
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.ledger.store import Store

ORGS = {
    "maker": "manufacturer",
    "dist": "distributor",
    "pharm-a": "pharmacy",
    "pharm-b": "pharmacy",
    "regulator": "regulator",
}
TRADERS = ["maker", "dist", "pharm-a", "pharm-b"]
GTIN = "0031234500001" + str(gtin_check_digit("0031234500001"))
SERIALS = ["1", "2", "3"]


@dataclass
class Expected:
    owner: str = "maker"
    status: str = "active"
    to: str | None = None


class CustodyMachine(RuleBasedStateMachine):
    """The ledger and a ten-line model must agree after every step."""

    @initialize()
    def start(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.store = Store(Path(self.tmp.name) / "ledger.sqlite")
        app = Application(self.store)
        app.init_chain(make_genesis(list(ORGS.items())))
        self.chain = Chain(app, self.store)
        payload = {"gtin": GTIN, "lot": "L1", "expiry": "2030-01-31", "serials": SERIALS}
        assert self.chain.one(self.chain.signer("maker").sign("supply.commission", payload)).ok
        self.model = {serial: Expected() for serial in SERIALS}

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.store.close()
            self.tmp.cleanup()

    def _do(self, org: str, tx_type: str, payload: dict[str, object]) -> bool:
        return self.chain.one(self.chain.signer(org).sign(tx_type, payload)).ok

    @rule(
        serial=st.sampled_from(SERIALS),
        sender=st.sampled_from(TRADERS),
        receiver=st.sampled_from(TRADERS),
    )
    def ship(self, serial: str, sender: str, receiver: str) -> None:
        model = self.model[serial]
        expected = model.owner == sender and model.status == "active" and sender != receiver
        ok = self._do(sender, "supply.ship", {"items": [f"{GTIN}:{serial}"], "to": receiver})
        assert ok == expected
        if ok:
            model.status, model.to = "in_transit", receiver

    @rule(serial=st.sampled_from(SERIALS), org=st.sampled_from(TRADERS))
    def receive(self, serial: str, org: str) -> None:
        model = self.model[serial]
        expected = model.status == "in_transit" and model.to == org
        ok = self._do(org, "supply.receive", {"items": [f"{GTIN}:{serial}"]})
        assert ok == expected
        if ok:
            model.owner, model.status, model.to = org, "active", None

    @rule(serial=st.sampled_from(SERIALS), org=st.sampled_from(TRADERS))
    def dispense(self, serial: str, org: str) -> None:
        model = self.model[serial]
        expected = model.owner == org and model.status == "active" and ORGS[org] == "pharmacy"
        ok = self._do(org, "supply.dispense", {"gtin": GTIN, "serial": serial})
        assert ok == expected
        if ok:
            model.status = "dispensed"

    @rule(serial=st.sampled_from(SERIALS), org=st.sampled_from([*TRADERS, "regulator"]))
    def destroy(self, serial: str, org: str) -> None:
        model = self.model[serial]
        final = model.status in ("dispensed", "destroyed")
        expected = not final and (org == "regulator" or model.owner == org)
        ok = self._do(org, "supply.destroy", {"items": [f"{GTIN}:{serial}"], "reason": "test"})
        assert ok == expected
        if ok:
            model.status, model.to = "destroyed", None

    @invariant()
    def ledger_matches_model(self) -> None:
        if not hasattr(self, "model"):
            return
        for serial, model in self.model.items():
            record = self.chain.state("supply", f"pkg/{GTIN}/{serial}")
            assert (record["owner"], record["status"], record["to"]) == (
                model.owner,
                model.status,
                model.to,
            )


CustodyMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestCustodyAgainstModel = CustodyMachine.TestCase
