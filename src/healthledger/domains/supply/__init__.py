"""Drug supply chain: serialized packages, custody, verification, recalls (GS1/DSCSA)."""

from __future__ import annotations

from healthledger.domains.supply import handlers as h
from healthledger.domains.supply import messages as m
from healthledger.domains.supply.state import NAMESPACE
from healthledger.ledger.context import TxSpec

TX_SPECS: tuple[TxSpec, ...] = (
    TxSpec("supply.commission", NAMESPACE, m.Commission, h.commission, "serialize packages"),
    TxSpec("supply.aggregate", NAMESPACE, m.Aggregate, h.aggregate, "pack into a case/pallet"),
    TxSpec("supply.disaggregate", NAMESPACE, m.Disaggregate, h.disaggregate, "unpack"),
    TxSpec("supply.ship", NAMESPACE, m.Ship, h.ship, "ship to a trading partner"),
    TxSpec("supply.receive", NAMESPACE, m.Receive, h.receive, "receive a shipment"),
    TxSpec("supply.return", NAMESPACE, m.Return, h.return_items, "return up the chain"),
    TxSpec("supply.dispense", NAMESPACE, m.Dispense, h.dispense, "dispense to a patient"),
    TxSpec("supply.destroy", NAMESPACE, m.Destroy, h.destroy, "destroy items"),
    TxSpec("supply.export", NAMESPACE, m.Export, h.export, "export items"),
    TxSpec("supply.verify", NAMESPACE, m.Verify, h.verify, "record a scan, flag suspects"),
    TxSpec("supply.quarantine", NAMESPACE, m.Quarantine, h.quarantine, "regulator quarantine"),
    TxSpec("supply.clear", NAMESPACE, m.Clear, h.clear, "regulator clears a package"),
    TxSpec("supply.recall", NAMESPACE, m.Recall, h.recall, "recall a lot or serial range"),
    TxSpec("supply.recall_ack", NAMESPACE, m.RecallAck, h.acknowledge_recall, "acknowledge"),
)

__all__ = ["NAMESPACE", "TX_SPECS"]
