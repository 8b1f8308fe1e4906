"""The examples published with the EPCIS 2.0 standard, imported through `supply.epcis`.

The examples' GLNs are registered at genesis (one organisation per GS1 company prefix,
holding that prefix's GLNs) and the packages they name are commissioned by the
organisation of their GTIN's company prefix, through the real transactions. Then:

- an organisation that acts in none of them (a regulator) imports every document: every
  event is anchored as an observation it attests, and what a package's export holds hashes
  to the same event ids;
- each acting organisation imports each document as its own feed: its own events become
  its operations (custody, ...), the others' observations; a document is refused only for
  the reason named for it below.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import CHAIN, Chain, seeded_keys
from healthledger.app.application import Application
from healthledger.app.genesis import Genesis
from healthledger.app.reader import SnapshotReader
from healthledger.domains.supply import feed
from healthledger.domains.supply import queries as q
from healthledger.domains.supply.epcis import (
    acting_party,
    event_list,
    names_a_party,
    to_epcis_document,
)
from healthledger.domains.supply.event_hash import document_prefixes, event_hash
from healthledger.domains.supply.events import split_package_id
from healthledger.domains.supply.importer import CheckedDocument, batches, check_document
from healthledger.domains.supply.parties import gln_of_party
from healthledger.errors import LedgerError
from healthledger.ledger.block import TxResult
from healthledger.ledger.store import Store

EXAMPLES = Path(__file__).parent / "epcis_examples"
FILES = sorted(p for p in EXAMPLES.rglob("*") if p.suffix in (".json", ".jsonld"))


def _name(path: Path) -> str:
    return str(path.relative_to(EXAMPLES))


OBSERVER = "inspector-auth"
EPCIS_EVENT = "supply.epcis_event"  # the result event naming each applied event
# Documents refused whole, before any event is looked at, and why.
REFUSED_DOCUMENTS: dict[str, str] = {
    # Its envelope has no "type": not an EPCISDocument as EPCIS 2.0 §8.2.8 requires.
    "JSON/WithErrorDeclaration/Example-ObjectEvent-with-reused-source-destination.jsonld": (
        "type None, expected 'EPCISDocument' or 'EPCISQueryDocument'"
    ),
}
ACCEPTED = [path for path in FILES if _name(path) not in REFUSED_DOCUMENTS]
# Why a document is refused when an organisation acting in it imports it as its own feed
# (a substring of the failed transaction's message); documents not listed import whole.
DL, ERR = "JSON/WithDigitalLinkID/", "JSON/WithErrorDeclaration/"
FULL = "JSON/WithFullCombinationOfFields/"
NOT_SHIPPED = "was not shipped to"  # a receipt of goods no custody move sent to the receiver
NO_OUTPUT_LOT = "the outputs need"  # a transformation's outputs are commissioned: lot, expiry
NO_CONTAINER = "unknown container"
NOT_CUSTODIAN = "may report on it only as its holder"
REFUSED_AS_OWN: dict[tuple[str, str], str] = {
    # 9.6.1 and its variants: the shipment names no receiving party (no destinationList), so
    # it is anchored, not a custody move; the receiver's own "receiving" then finds nothing
    # shipped to it.
    ("JSON/Example_9.6.1-ObjectEvent.jsonld", "gs1-0012345"): NOT_SHIPPED,
    ("JSON/EPCISQueryDocument.jsonld", "gs1-0012345"): NOT_SHIPPED,
    ("JSON/Example_9.6.1-ObjectEvent-with-pseudo-SBDH-headers.jsonld", "gs1-0012345"): NOT_SHIPPED,
    ("JSON/Example_9.6.1-with-comment.jsonld", "gs1-0012345"): NOT_SHIPPED,
    ("JSON/WithDigitalLinkID/Example_9.6.1-ObjectEventWithDigitalLink.jsonld", "gs1-0012345"): (
        NOT_SHIPPED
    ),
    (
        "JSON/WithErrorDeclaration/Example_9.6.1-ObjectEvent-with-error-declaration.jsonld",
        "gs1-0012345",
    ): (NOT_SHIPPED),
    # A receipt whose goods were never shipped on this ledger (one event alone).
    ("JSON/PersistentDisposition-example.jsonld", "gs1-9520999"): NOT_SHIPPED,
    # TransformationEvents whose outputs carry no ILMD lot and expiry: this ledger
    # commissions outputs as DSCSA product identifiers, which need both.
    ("JSON/Example_9.6.4-TransformationEvent.jsonld", "gs1-4012345"): NO_OUTPUT_LOT,
    (
        "JSON/WithDigitalLinkID/Example_9.6.4-TransformationEventWithDigitalLink.jsonld",
        "gs1-4012345",
    ): (NO_OUTPUT_LOT),
    ("JSON/WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.jsonld", "gs1-0614141"): (
        NO_OUTPUT_LOT
    ),
    (
        "JSON/WithFullCombinationOfFields/transformation_event_all_possible_fields.jsonld",
        "gs1-0614141",
    ): (NO_OUTPUT_LOT),
    ("JSON/WithSensorData/SensorDataExample12.jsonld", "gs1-4023333"): NO_OUTPUT_LOT,
    # Sensor readings on an SSCC never packed on this ledger (only packages are commissioned
    # here): a cold-chain report walks a container's contents, so it must exist.
    (FULL + "aggregation_event_all_possible_fields.jsonld", "gs1-0614141"): NO_CONTAINER,
    ("JSON/WithSensorData/SensorDataExample8.jsonld", "gs1-4012345"): NO_CONTAINER,
    # A sale of goods counted in kilograms: DSCSA transaction information counts packages.
    (FULL + "transaction_event_all_possible_fields.jsonld", "gs1-4012345"): "a TI counts packages",
    # Readings by an organisation on goods another holds (it is no regulator or inspector).
    ("JSON/WithSensorData/SensorDataExample11.jsonld", "gs1-4012345"): NOT_CUSTODIAN,
}


def _document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _party_uris(event: dict[str, Any]) -> list[str]:
    uris = [event.get(f, {}).get("id") for f in ("readPoint", "bizLocation")]
    for field, kind in (("sourceList", "source"), ("destinationList", "destination")):
        uris += [entry.get(kind) for entry in event.get(field, [])]
    return [uri for uri in uris if isinstance(uri, str)]


def _glns() -> set[str]:
    found = set()
    for path in ACCEPTED:
        for event in event_list(_document(path)):
            for uri in _party_uris(event):
                gln = gln_of_party(uri) if names_a_party(uri) else None
                if gln is not None:
                    found.add(gln)
    return found


def _company(digits: str) -> str:
    return "gs1-" + digits[:7]


def _packages() -> set[str]:
    found: set[str] = set()
    for path in ACCEPTED:
        for index, event in enumerate(event_list(_document(path))):
            found.update(feed.named(index, event).packages)
    return found


def _genesis() -> Genesis:
    by_org: dict[str, list[str]] = {}
    for gln in sorted(_glns()):
        by_org.setdefault(_company(gln), []).append(gln)
    for package in _packages():
        by_org.setdefault(_company(package[1:8]), [])
    orgs = [(org, "manufacturer", {"locations": glns}) for org, glns in sorted(by_org.items())]
    orgs.append((OBSERVER, "regulator", None))
    return Genesis.model_validate(
        {
            "chain_id": CHAIN,
            "genesis_time_ms": 1_700_000_000_000,
            "organisations": [
                {
                    "id": org,
                    "name": org,
                    "role": role,
                    "signing_key": seeded_keys(org).key_id,
                    "encryption_key": seeded_keys(org).encryption_public.hex(),
                    **({"glns": glns} if glns else {}),
                }
                for org, role, glns in orgs
            ],
        }
    )


@pytest.fixture
def examples_chain(tmp_path: Path) -> Iterator[Chain]:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(_genesis())
    chain = Chain(app, store)
    _commission_all(chain)
    yield chain
    store.close()


def _commission_all(chain: Chain) -> None:
    by_gtin: dict[str, list[str]] = {}
    for package in sorted(_packages()):
        gtin, serial = split_package_id(package)
        by_gtin.setdefault(gtin, []).append(serial)
    for gtin, serials in by_gtin.items():
        payload = {"gtin": gtin, "lot": "EXAMPLE", "expiry": "2030-12-31", "serials": serials}
        result = chain.one(chain.signer(_company(gtin[1:8])).sign("supply.commission", payload))
        assert result.ok, result


def _resolver(chain: Chain) -> Any:
    return feed.member_resolver(SnapshotReader(chain.store).state)


def _import(
    chain: Chain, org: str, document: dict[str, Any]
) -> tuple[CheckedDocument, list[TxResult]]:
    """Check the document as `org`; if every event maps, submit it in bounded batches."""
    checked = check_document(document, _resolver(chain), org)
    if not checked.ok:
        return checked, []
    payloads = [
        {"events": [checked.texts[i] for i in group], "context": checked.context}
        for group in batches(checked)
    ]
    signer = chain.signer(org)
    return checked, [chain.one(signer.sign("supply.epcis", payload)) for payload in payloads]


def _refusal(checked: CheckedDocument, results: list[TxResult]) -> str | None:
    """The first reason the document was refused (at the check, or by a transaction)."""
    reasons = [r.error for r in checked.reports if r.error is not None]
    reasons += [r.message for r in results if not r.ok]
    return reasons[0] if reasons else None


def _declared(document: dict[str, Any]) -> dict[str, Any] | None:
    """The events a document declares erroneous, as they were first recorded (a declaration
    is of an earlier event: the ledger must hold it before it can be declared)."""
    originals = [
        {k: v for k, v in event.items() if k != "errorDeclaration"}
        for event in event_list(document)
        if "errorDeclaration" in event
    ]
    if not originals:
        return None
    return {**document, "type": "EPCISDocument", "epcisBody": {"eventList": originals}}


def _import_with_originals(
    chain: Chain, org: str, document: dict[str, Any]
) -> tuple[str | None, list[TxResult]]:
    """Import the events the document declares erroneous, then the document: the first
    refusal met (None: all applied) and the document's transaction results."""
    originals = _declared(document)
    if originals is not None:
        refused = _refusal(*_import(chain, org, originals))
        if refused is not None:
            return f"declared event: {refused}", []
    checked, results = _import(chain, org, document)
    return _refusal(checked, results), results


def _applied_ids(results: list[TxResult]) -> list[str]:
    return [e["event_id"] for r in results for e in r.events if e["type"] == EPCIS_EVENT]


def _kinds(results: list[TxResult]) -> list[str]:
    return [
        "+".join(e["kinds"])
        for result in results
        for e in result.events
        if e["type"] == EPCIS_EVENT
    ]


def _exported(chain: Chain, package: str) -> dict[str, Any]:
    """A package's EPCIS export, built as GET /v1/supply/packages/.../epcis builds it."""
    gtin, serial = split_package_id(package)
    reader = SnapshotReader(chain.store)
    traced = q.package_events(reader, gtin, serial)
    prefixes: dict[str, str] = {}
    written = []
    for link in traced.imported:
        payload = orjson.loads(chain.store.tx(link.tx).raw)["payload"]
        for prefix, namespace in payload.get("context", {}).items():
            prefixes.setdefault(prefix, namespace)
        body = feed.raw_event(payload, link.position, link.event_id)
        written.append((reader.block_time_ms(link.height), body))
    return to_epcis_document(traced.events, created_ms=0, imported=written, prefixes=prefixes)


def test_there_are_examples() -> None:
    assert FILES, f"no EPCIS examples under {EXAMPLES}"


@pytest.mark.parametrize("name", sorted(REFUSED_DOCUMENTS))
def test_documents_refused_whole_say_why(name: str) -> None:
    with pytest.raises(LedgerError, match=re.escape(REFUSED_DOCUMENTS[name])):
        check_document(_document(EXAMPLES / name), lambda uri: uri, OBSERVER)


def _declared_as(index: int, event: dict[str, Any]) -> str:
    """What a third party's declaration of `event` becomes: it marks an event that names no
    acting party (the third party recorded it), not an organisation's."""
    uri = acting_party(index, event)
    return "error declaration attested" if uri and names_a_party(uri) else "error declaration"


@pytest.mark.parametrize("path", ACCEPTED, ids=_name)
def test_every_event_is_anchored_by_a_third_party(examples_chain: Chain, path: Path) -> None:
    document = _document(path)
    refused, results = _import_with_originals(examples_chain, OBSERVER, document)
    assert refused is None
    # A third party's declaration of an organisation's event marks nothing (design point 5).
    expected = [
        "observation attested" if "errorDeclaration" not in event else _declared_as(i, event)
        for i, event in enumerate(event_list(document))
    ]
    assert _kinds(results) == expected
    prefixes = document_prefixes(document)
    ids = [event_hash(event, prefixes) for event in event_list(document)]
    applied = [
        e["event_id"] for r in results for e in r.events if e["type"] == "supply.epcis_event"
    ]
    assert applied == ids
    # What a package's export holds hashes, under the export's own @context, to the ids.
    for index, event in enumerate(event_list(document)):
        for package in feed.named(index, event).packages:
            exported = _exported(examples_chain, package)
            again = document_prefixes(exported)
            bodies = exported["epcisBody"]["eventList"]
            hashed = {body.get("eventID", ""): event_hash(body, again) for body in bodies}
            assert ids[index] in hashed
            assert all(k == v for k, v in hashed.items() if k.startswith("ni:"))


@pytest.mark.parametrize("path", ACCEPTED, ids=_name)
def test_acting_organisations_import_their_own_feed(examples_chain: Chain, path: Path) -> None:
    document = _document(path)
    resolve = _resolver(examples_chain)
    actors = sorted(
        {
            resolve(uri)
            for event in event_list(document)
            for uri in _party_uris(event)
            if names_a_party(uri) and gln_of_party(uri) is not None
        }
    )
    for org in actors:
        refused, _results = _import_with_originals(examples_chain, org, document)
        expected = REFUSED_AS_OWN.get((_name(path), org))
        if expected is None:
            assert refused is None, (org, refused)
        else:
            assert refused is not None and expected in refused, (org, refused)
