"""`healthledger domains`: what each domain of this build declares, from the one list.

What an operator or an integrator asks first: which transaction types exist, who
may send each, which capabilities governance can grant, which reads the API
serves. The answer is read from the declarations the node itself runs on.
"""

from __future__ import annotations

from typing import Any

import typer

from healthledger.app.registry import DOMAINS
from healthledger.cli.output import JsonOpt, emit
from healthledger.domains.kit import Domain


def describe(domain: Domain) -> dict[str, Any]:
    """One domain's declaration as plain JSON."""
    return {
        "name": domain.name,
        "namespace": domain.namespace,
        "summary": domain.summary,
        "transactions": [
            {"type": tx.type, "senders": sorted(tx.senders), "summary": tx.summary}
            for tx in domain.txs
        ],
        "capabilities": dict(domain.capabilities),
        "views": [
            {"path": view.path, "access": str(view.access), "summary": view.summary}
            for view in domain.views
        ],
        "end_of_block_budget": domain.end_block_budget if domain.end_block else None,
    }


def domains_command(as_json: JsonOpt = False) -> None:
    """Each domain: its transaction types and who may send them, capabilities, reads."""
    emit([describe(domain) for domain in DOMAINS], as_json)


def register(app: typer.Typer) -> None:
    app.command("domains")(domains_command)


__all__ = ["describe", "register"]
