"""Import a partner's EPCIS 2.0 document through a node: check whole, submit in batches, report.

The document is mapped here, with the signer's key, before anything is signed: if any
event cannot be mapped nothing is submitted and the report names every bad event. The
check of `POST /v1/supply/epcis/check` is the same mapping, done by the node against its
current state without a signature.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from healthledger.domains.supply.importer import (
    CheckedDocument,
    EventReport,
    batches,
    check_document,
    payload_of,
)
from healthledger.domains.supply.parties import resolve_party
from healthledger.errors import UnknownSender

if TYPE_CHECKING:
    from healthledger.app.views import SubmitReport
    from healthledger.client.sdk import Client, Signer

# Transactions sent per batch request (each waits for its block).
SUBMIT_GROUP = 16


def client_party_resolver(client: Client) -> Callable[[str], str]:
    """Party URIs to organisations over the node's proven GLN registry (client/parties.py's
    rule: asked once per GLN, each answer checked against the client's trust anchor);
    each URI parsed once, as a feed names the same few parties in every event."""
    known: dict[str, str | None] = {}
    uris: dict[str, str] = {}

    def org_of_gln(gln: str) -> str | None:
        if gln not in known:
            known[gln] = client.org_of_gln(gln)
        return known[gln]

    def org_of_party(uri: str) -> str:
        if uri not in uris:
            uris[uri] = resolve_party(uri, org_of_gln)
        return uris[uri]

    return org_of_party


def sender_org(client: Client, signer: Signer) -> str:
    """The organisation a key signs for (its ledger record)."""
    record = client.state("gov", f"key/{signer.key_id}", keys=signer.keys).value
    if record is None or record.get("org") is None:
        raise UnknownSender("this key does not belong to an organisation")
    return str(record["org"])


def report(checked: CheckedDocument, submitted: bool) -> dict[str, Any]:
    """The per-event report: what each event became (and in which transaction), or why not."""
    return {
        "ok": checked.ok and all(r.error is None for r in checked.reports),
        "submitted": submitted,
        "events": [r.wire() for r in checked.reports],
    }


def import_document(
    client: Client,
    document: Any,
    signer: Signer,
    org_of_party: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Check `document` whole, then submit it as bounded `supply.epcis` transactions.
    Parties resolve through the directory unless `org_of_party` is given."""
    sender = sender_org(client, signer)
    resolver = org_of_party or client_party_resolver(client)
    checked = check_document(document, resolver, sender)
    if not checked.ok:
        return report(checked, submitted=False)
    groups = batches(checked)
    reports = list(checked.reports)
    for start in range(0, len(groups), SUBMIT_GROUP):
        chunk = groups[start : start + SUBMIT_GROUP]
        txs = [signer.sign("supply.epcis", payload_of(checked, group)) for group in chunk]
        answers = client.submit_batch(txs, wait=True, timeout_ms=120_000)
        for group, tx, answer in zip(chunk, txs, answers, strict=True):
            for position, index in enumerate(group):
                reports[index] = _outcome(reports[index], position, tx.id, answer)
    return report(CheckedDocument(checked.texts, reports, checked.context), submitted=True)


def _outcome(planned: EventReport, position: int, tx_id: str, answer: SubmitReport) -> EventReport:
    result = answer.result
    if answer.status == "committed" and result is not None and result.ok:
        became = next(
            (
                "+".join(event["kinds"])
                for event in result.events
                if event.get("type") == "supply.epcis_event" and event.get("position") == position
            ),
            planned.became,
        )
        return EventReport(planned.index, planned.event_id, became, tx_id)
    outcome = answer.error or result
    message = "not committed in time" if outcome is None else outcome.message
    code = "timeout" if outcome is None else outcome.code
    return EventReport(planned.index, planned.event_id, None, tx_id, message, code)
