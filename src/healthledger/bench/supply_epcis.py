"""`bench supply`'s EPCIS phase: a partner's mixed EPCIS 2.0 feed imported end to end.

The feed is what a manufacturer's system would send: 60% custody (its own shipments of
single packages to the distributor), 30% observations (its own inspections, and the
distributor's storing events it saw, which it can only attest), 10% sensor reports on
packages it holds, within the GTIN's allowed range. Parties are named by GLN (GS1 Digital
Link and `sgln`), registered at genesis. What is timed is what `supply import-epcis` does:
read the document, check it whole, pack it into bounded `supply.epcis` transactions, sign
them, and apply and commit them through the node's engine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from healthledger.app.reader import SnapshotReader
from healthledger.bench.harness import Report, drive
from healthledger.client.sdk import Signer
from healthledger.domains.governance.queries import org_of_gln
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.domains.supply.importer import batches, check_document, payload_of
from healthledger.domains.supply.messages import MAX_COMMISSION
from healthledger.domains.supply.observations import event_key
from healthledger.domains.supply.parties import resolve_party
from healthledger.domains.supply.state import NAMESPACE
from healthledger.node.home import company_glns
from healthledger.node.node import Node

# The feed's GTIN is its own, so the custody phases' packages are left alone.
EPCIS_GTIN = "0031234500002" + str(gtin_check_digit("0031234500002"))
EPCIS_LOT, EPCIS_EXPIRY = "BENCHEPCIS", "2030-12-31"
PREFIXES = {"maker": "0614141", "dist": "4012345"}
GLNS = {org: company_glns(prefix) for org, prefix in PREFIXES.items()}
# 2-8 °C, as for most biologics; every reading of the feed is 5.0 °C.
RANGE_MC = (2_000, 8_000)
DIGITAL_LINK = "https://id.gs1.org"
# In ten events: six custody, three observations, one sensor report.
CUSTODY, OBSERVATION, SENSOR = 6, 3, 1


def sgln(org: str, site: int) -> str:
    """`urn:epc:id:sgln:` of one of `org`'s location GLNs (extension 0)."""
    prefix, gln = PREFIXES[org], GLNS[org]["locations"][site - 1]
    return f"urn:epc:id:sgln:{prefix}.{gln[len(prefix) : 12]}.0"


def party_link(org: str) -> str:
    """A GS1 Digital Link naming `org`'s party GLN (AI 417)."""
    return f"{DIGITAL_LINK}/417/{GLNS[org]['party']}"


def epc(serial: int) -> str:
    return f"{DIGITAL_LINK}/01/{EPCIS_GTIN}/21/E{serial}"


def _when(index: int) -> str:
    seconds = index % 86_400
    return f"2026-05-01T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.000Z"


def _observed(index: int, serial: int, step: str, read_point: str) -> dict[str, Any]:
    """An ObjectEvent observing one package: what every event of the feed shares."""
    return {
        "type": "ObjectEvent",
        "eventTime": _when(index),
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc(serial)],
        "action": "OBSERVE",
        "bizStep": step,
        "readPoint": {"id": read_point},
    }


def shipping(index: int, serial: int) -> dict[str, Any]:
    return _observed(index, serial, "shipping", sgln("maker", 1)) | {
        "disposition": "in_transit",
        "sourceList": [{"type": "owning_party", "source": party_link("maker")}],
        "destinationList": [{"type": "owning_party", "destination": sgln("dist", 1)}],
    }


def observation(index: int, serial: int, shipped: bool) -> dict[str, Any]:
    """The distributor storing a package shipped to it (attested by the maker), or the
    maker inspecting one it holds (its own observation)."""
    org, step, disposition = (
        ("dist", "storing", "in_progress") if shipped else ("maker", "inspecting", "conformant")
    )
    return _observed(index, serial, step, sgln(org, 2)) | {
        "disposition": disposition,
        "bizLocation": {"id": sgln(org, 1)},
    }


def sensor(index: int, serial: int) -> dict[str, Any]:
    return _observed(index, serial, "sensor_reporting", sgln("maker", 2)) | {
        "sensorElementList": [
            {
                "sensorMetadata": {"time": _when(index), "deviceID": "urn:epc:id:giai:0614141.7"},
                "sensorReport": [{"type": "gs1:Temperature", "value": 5.0, "uom": "CEL"}],
            }
        ],
    }


def feed_document(count: int) -> tuple[dict[str, Any], int]:
    """The mixed feed of `count` events, and how many packages it names (E0, E1, ...):
    shipped ones first, then the ones the maker keeps (inspected, sensor-read)."""
    cycles = -(-count // 10)
    shipped_total = cycles * CUSTODY
    events: list[dict[str, Any]] = []
    shipped = kept = 0
    for index in range(count):
        slot = index % 10
        if slot < CUSTODY:
            events.append(shipping(index, shipped))
            shipped += 1
        elif slot < CUSTODY + OBSERVATION - 1:
            events.append(observation(index, max(0, shipped - 1), shipped=True))
        elif slot < CUSTODY + OBSERVATION:
            events.append(observation(index, shipped_total + kept, shipped=False))
        else:
            events.append(sensor(index, shipped_total + kept))
            kept += 1
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-05-02T00:00:00.000Z",
        "epcisBody": {"eventList": events},
    }
    return document, shipped_total + cycles


def prepare(node: Node, maker: Signer, packages: int, report: Report | None) -> None:
    """Not timed: the feed's packages commissioned and the GTIN's range set by its maker."""
    raws = [
        maker.sign(
            "supply.commission",
            {
                "gtin": EPCIS_GTIN,
                "lot": EPCIS_LOT,
                "expiry": EPCIS_EXPIRY,
                "serials": [f"E{n}" for n in range(start, min(packages, start + MAX_COMMISSION))],
            },
        ).raw
        for start in range(0, packages, MAX_COMMISSION)
    ]
    # After the first commissioning: a range is set for a product the ledger knows.
    raws.append(
        maker.sign(
            "supply.product_range",
            {"gtin": EPCIS_GTIN, "min_mc": RANGE_MC[0], "max_mc": RANGE_MC[1]},
        ).raw
    )
    if drive(node, raws, None, report, "EPCIS feed: commissioning (not timed)").failed:
        raise RuntimeError("the EPCIS feed's packages could not be commissioned")


def ledger_resolver(node: Node) -> Callable[[str], str]:
    """Party URIs to organisations through the ledger's GLN registry, as the CLI's
    resolver does through the node: each GLN asked once, each URI parsed once."""
    glns: dict[str, str | None] = {}
    uris: dict[str, str] = {}

    def lookup(gln: str) -> str | None:
        if gln not in glns:
            with node.store.snapshot():
                glns[gln] = org_of_gln(SnapshotReader(node.store).state, gln)
        return glns[gln]

    def org_of_party(uri: str) -> str:
        if uri not in uris:
            uris[uri] = resolve_party(uri, lookup)
        return uris[uri]

    return org_of_party


def import_feed(node: Node, maker: Signer, text: str, report: Report | None) -> list[str]:
    """What an importer does with a document's text: read, check whole, pack, sign, submit
    and wait for every commit. The ids of the events imported."""
    document = json.loads(text)
    checked = check_document(document, ledger_resolver(node), "maker")
    if not checked.ok:
        refused = next(r for r in checked.reports if r.error is not None)
        raise RuntimeError(f"the bench feed was refused: {refused.error}")
    groups = batches(checked)
    raws = [maker.sign("supply.epcis", payload_of(checked, group)).raw for group in groups]
    recorder = drive(node, raws, None, report, "EPCIS feed: import", chunk=50)
    if recorder.failed:
        raise RuntimeError(f"{recorder.failed} EPCIS import transactions failed")
    return [str(r.event_id) for r in checked.reports]


def recorded(node: Node, event_ids: list[str]) -> int:
    """How many of the events the ledger holds as applied by the maker (not timed)."""
    with node.store.snapshot():
        state = SnapshotReader(node.store).state
        return sum(state.raw(NAMESPACE, event_key(i, "maker")) is not None for i in event_ids)


def run_epcis_import(
    node: Node, maker: Signer, count: int, report: Report | None
) -> dict[str, float | int]:
    """Events imported per second, end to end, and how many the ledger then holds."""
    document, packages = feed_document(count)
    prepare(node, maker, packages, report)
    text = json.dumps(document)
    started = time.perf_counter()
    event_ids = import_feed(node, maker, text, report)
    elapsed = time.perf_counter() - started
    held = recorded(node, event_ids)
    if held != count:
        raise RuntimeError(f"{count} EPCIS events imported but {held} recorded")
    return {"epcis_events_imported_per_s": round(count / elapsed, 1), "epcis_events": held}
