"""Prometheus metrics of one node."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge

from healthledger.engines.base import Accepted, CommittedBlock
from healthledger.errors import LedgerError
from healthledger.node.node import Node


class NodeMetrics:
    """Counters the API and the engine update; read at /metrics."""

    def __init__(self, registry: CollectorRegistry, node: Node) -> None:
        self.height = Gauge("healthledger_height", "last committed height", registry=registry)
        self.txs_committed = Counter(
            "healthledger_txs_committed", "transactions committed", registry=registry
        )
        self.submitted = Counter(
            "healthledger_txs_submitted", "transactions submitted", ["outcome"], registry=registry
        )
        self.mempool = Gauge("healthledger_mempool", "transactions waiting", registry=registry)
        self.mempool.set_function(node.engine.mempool_size)
        self.height.set(node.app.info().height)

    def observe_commit(self, block: CommittedBlock) -> None:
        self.height.set(block.header.height)
        self.txs_committed.inc(block.header.tx_count)

    def observe_submissions(self, outcomes: Sequence[Accepted | LedgerError]) -> None:
        for outcome in outcomes:
            label = "accepted" if isinstance(outcome, Accepted) else str(outcome.code)
            self.submitted.labels(outcome=label).inc()
