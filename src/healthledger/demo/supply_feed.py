"""The demo's partner feed: PharmaLink's EPCIS 2.0 document, imported as `import-epcis` does.

The document mixes what a distributor's system sends: its own shipment (custody), the
pharmacy's receipt it saw (another organisation's event: an attested observation), an
inspection and a sensor report. Parties are named by the GLNs the demo's organisations
hold (demo/chain.py): a party GLN as a GS1 Digital Link, locations as `sgln`. The import
is the CLI's: the whole document checked by the domain's importer, then bounded
`supply.epcis` transactions, and a report of what each event became.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from healthledger.app.reader import SnapshotReader
from healthledger.client.epcis_import import report
from healthledger.demo.chain import GLNS, GS1_PREFIXES, DemoChain, StoryPrecondition
from healthledger.domains.supply import feed
from healthledger.domains.supply.importer import (
    CheckedDocument,
    EventReport,
    batches,
    check_document,
    payload_of,
)

FEED_FILE = "pharmalink-feed.epcis.json"
DEVICE = "urn:epc:id:giai:4012345.0042"


def party_link(org: str) -> str:
    """`org`'s party GLN as a GS1 Digital Link (AI 417)."""
    return f"https://id.gs1.org/417/{GLNS[org]['party']}"


def sgln(org: str, site: int = 1) -> str:
    """One of `org`'s location GLNs as `urn:epc:id:sgln:` (no extension)."""
    prefix, gln = GS1_PREFIXES[org], GLNS[org]["locations"][site - 1]
    return f"urn:epc:id:sgln:{prefix}.{gln[len(prefix) : 12]}.0"


def _event(step: str, epcs: list[str], time: str, **more: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": f"2026-06-01T{time}:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": epcs,
        "action": "OBSERVE",
        "bizStep": step,
        **more,
    }


def feed_document(epc: dict[str, str], buyer: str) -> dict[str, Any]:
    """PharmaLink's feed: `epc` maps the roles shipped/inspected/sensed/sensed2 to EPCs."""
    shipped = [epc["shipped"], epc["shipped2"]]
    transfer = {
        "sourceList": [{"type": "owning_party", "source": party_link("pharmalink")}],
        "destinationList": [{"type": "owning_party", "destination": sgln(buyer)}],
    }
    events = [
        _event(
            "shipping",
            shipped,
            "09:00",
            disposition="in_transit",
            readPoint={"id": sgln("pharmalink")},
            **transfer,
        ),
        _event(
            "receiving",
            shipped,
            "11:30",
            disposition="in_progress",
            readPoint={"id": sgln(buyer)},
            bizLocation={"id": sgln(buyer)},
            **transfer,
        ),
        _event(
            "inspecting",
            [epc["inspected"]],
            "08:15",
            disposition="conformant",
            readPoint={"id": sgln("pharmalink", 2)},
            bizLocation={"id": sgln("pharmalink")},
        ),
        _event(
            "sensor_reporting",
            [epc["sensed"], epc["sensed2"]],
            "08:30",
            readPoint={"id": sgln("pharmalink", 2)},
            sensorElementList=[
                {
                    "sensorMetadata": {"time": "2026-06-01T08:30:00.000Z", "deviceID": DEVICE},
                    "sensorReport": [
                        {"type": "gs1:Temperature", "value": 5.2, "uom": "CEL"},
                        {
                            "type": "gs1:Temperature",
                            "minValue": 4.1,
                            "maxValue": 6.8,
                            "meanValue": 5.3,
                            "uom": "CEL",
                        },
                    ],
                }
            ],
        ),
    ]
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-06-01T12:00:00.000Z",
        "epcisBody": {"eventList": events},
    }


def write_feed(directory: Path, document: dict[str, Any], name: str = FEED_FILE) -> Path:
    """The feed as a file in the demo folder, for `supply import-epcis --check` to read."""
    path = directory / name
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def import_feed(runner: DemoChain, org: str, document: dict[str, Any]) -> dict[str, Any]:
    """Check `document` whole as `org`, then commit it in bounded `supply.epcis`
    transactions; the per-event report `supply import-epcis` prints."""
    store = runner.node.store
    with store.snapshot():
        resolver = feed.member_resolver(SnapshotReader(store).state)
        checked = check_document(document, resolver, org)
    if not checked.ok:
        refused = [r.error for r in checked.reports if r.error is not None]
        raise StoryPrecondition("supply", f"a feed that imports, not {refused}")
    reports = list(checked.reports)
    for group in batches(checked):
        tx = runner.signers[org].sign("supply.epcis", payload_of(checked, group))
        (result,) = runner.commit([tx])
        if result.get("code") != "ok":
            raise StoryPrecondition("supply", f"the feed's transaction to commit, not {result}")
        for position, index in enumerate(group):
            reports[index] = _committed(reports[index], position, tx.id, result)
    return report(CheckedDocument(checked.texts, reports, checked.context), submitted=True)


def _committed(
    planned: EventReport, position: int, tx_id: str, result: dict[str, Any]
) -> EventReport:
    became = next(
        "+".join(event["kinds"])
        for event in result["events"]
        if event["type"] == "supply.epcis_event" and event["position"] == position
    )
    return EventReport(planned.index, planned.event_id, became, tx_id)
