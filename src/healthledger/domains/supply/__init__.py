"""Drug supply chain: serialized packages, custody, verification, recalls (GS1/DSCSA)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from healthledger.domains.kit import Domain, TxType
from healthledger.domains.supply import coldchain as cold
from healthledger.domains.supply import coldchain_views, feed, ti
from healthledger.domains.supply import handlers as h
from healthledger.domains.supply import messages as m
from healthledger.domains.supply import transform as x
from healthledger.domains.supply.errors import EventIdFromEpcisOnly
from healthledger.domains.supply.queries import VIEWS
from healthledger.domains.supply.roles import (
    DISPENSING,
    INSPECTING,
    INSPECTOR,
    MAKERS,
    REGULATING,
    TRADING,
)
from healthledger.domains.supply.state import NAMESPACE
from healthledger.ledger.context import TxContext


class _FromEvent(Protocol):
    @property
    def event_id(self) -> str | None: ...


P = TypeVar("P", bound=_FromEvent)


def _typed(
    tx_type: str, operation: Callable[[TxContext, P], None]
) -> Callable[[TxContext, P], None]:
    """The typed transaction of an operation an EPCIS event can become.

    `event_id` says which EPCIS event a record came from: only supply.epcis, which hashes
    the raw event it carries, calls the operation with one. From a sender it would be a
    claim on any event (and a transformation step naming one is left out of exports,
    for its raw event to stand in).
    """

    def handler(ctx: TxContext, payload: P) -> None:
        if payload.event_id is not None:
            raise EventIdFromEpcisOnly(tx_type)
        operation(ctx, payload)

    return handler


_TYPED = (
    TxType("supply.commission", m.Commission, h.commission, MAKERS, "serialize packages"),
    TxType("supply.aggregate", m.Aggregate, h.aggregate, TRADING, "pack into a case/pallet"),
    TxType("supply.disaggregate", m.Disaggregate, h.disaggregate, TRADING, "unpack"),
    TxType("supply.ship", m.Ship, h.ship, TRADING, "ship to a trading partner"),
    TxType("supply.receive", m.Receive, h.receive, TRADING, "receive a shipment"),
    TxType("supply.return", m.Return, h.return_items, TRADING, "return up the chain"),
    TxType("supply.dispense", m.Dispense, h.dispense, DISPENSING, "dispense to a patient"),
    TxType("supply.destroy", m.Destroy, h.destroy, TRADING | REGULATING, "destroy items"),
    TxType(
        "supply.export",
        m.Export,
        h.export,
        MAKERS | {"org:distributor"},
        "export items",
    ),
    TxType(
        "supply.verify",
        m.Verify,
        h.verify,
        TRADING | DISPENSING | REGULATING,
        "record a scan, flag suspects",
    ),
    TxType("supply.quarantine", m.Quarantine, h.quarantine, INSPECTING, "quarantine a package"),
    TxType("supply.clear", m.Clear, h.clear, INSPECTING, "clear a package"),
    TxType(
        "supply.recall", m.Recall, h.recall, MAKERS | REGULATING, "recall a lot or serial range"
    ),
    TxType("supply.recall_ack", m.RecallAck, h.acknowledge_recall, TRADING, "acknowledge"),
    # Outputs are commissioned, so only those who commission may transform (repackagers).
    TxType(
        "supply.transform",
        x.Transform,
        _typed("supply.transform", x.transform),
        MAKERS,
        "repackage, kit or compound: consume packages, commission new ones",
    ),
    TxType(
        "supply.product_range",
        cold.ProductRange,
        cold.set_range,
        MAKERS,
        "set a GTIN's allowed temperature range",
    ),
    TxType(
        "supply.sensor",
        cold.SensorReport,
        _typed("supply.sensor", cold.report_sensor),
        TRADING | INSPECTING,
        "record sensor readings; out of range quarantines",
    ),
    TxType(
        "supply.excursion_resolve",
        cold.ExcursionResolve,
        cold.resolve_excursion,
        MAKERS,
        "clear or destroy the goods of an excursion",
    ),
    TxType(
        "supply.transaction",
        ti.TransactionInfo,
        _typed("supply.transaction", ti.record_transaction),
        TRADING,
        "record a sale's DSCSA transaction information and statement",
    ),
)
# A partner's whole EPCIS feed: each event becomes one of the typed transactions above (its
# senders checked) or an anchored observation (domains/supply/feed.py).
_FEED = TxType(
    "supply.epcis",
    feed.EpcisEvents,
    feed.import_handler({tx.type: tx.senders for tx in _TYPED}),
    TRADING | REGULATING | INSPECTING,
    "import raw EPCIS 2.0 events",
)

DOMAIN = Domain(
    name="supply",
    namespace=NAMESPACE,
    summary="serialized drug packages, custody, verification and recalls (GS1, DSCSA)",
    capabilities={INSPECTOR: "quarantine and clear suspect packages, as the regulator does"},
    txs=(*_TYPED, _FEED),
    views=(*VIEWS, *coldchain_views.VIEWS, *ti.VIEWS),
    # Lots past their expiry date are marked expired at block time (verify, the lot view).
    end_block=h.expire_lots,
    end_block_budget=h.EXPIRY_SWEEP_BUDGET,
)

__all__ = ["DOMAIN", "NAMESPACE"]
