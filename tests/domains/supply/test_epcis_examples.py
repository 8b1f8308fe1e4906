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
from healthledger.domains.supply.epcis import event_list, to_epcis_document
from healthledger.domains.supply.event_hash import document_prefixes, event_hash
from healthledger.domains.supply.events import split_package_id
from healthledger.domains.supply.importer import CheckedDocument, batches, check_document
from healthledger.domains.supply.parties import gln_of_party
from healthledger.ledger.block import TxResult
from healthledger.ledger.store import Store

EXAMPLES = Path(__file__).parent / "epcis_examples"
FILES = sorted(p for p in EXAMPLES.rglob("*") if p.suffix in (".json", ".jsonld"))
OBSERVER = "inspector-auth"
# Why a document is refused when an organisation acting in it imports it as its own feed
# (a substring of the failed transaction's message); documents not listed import whole.
REFUSED_AS_OWN: dict[tuple[str, str], str] = {
    # 9.6.1: the shipment names no receiving party (no destinationList), so it is anchored,
    # not a custody move; the receiver's own "receiving" then finds nothing shipped to it.
    ("JSON/Example_9.6.1-ObjectEvent.jsonld", "gs1-0012345"): "was not shipped to gs1-0012345",
}


def _name(path: Path) -> str:
    return str(path.relative_to(EXAMPLES))


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
    for path in FILES:
        for event in event_list(_document(path)):
            for uri in _party_uris(event):
                gln = gln_of_party(uri)
                if gln is not None:
                    found.add(gln)
    return found


def _company(digits: str) -> str:
    return "gs1-" + digits[:7]


def _packages() -> set[str]:
    found: set[str] = set()
    for path in FILES:
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
    checked = check_document(document, _resolver(chain), org)
    assert checked.ok, [r.error for r in checked.reports if r.error]
    results = [
        chain.one(
            chain.signer(org).sign(
                "supply.epcis",
                {
                    "events": [checked.texts[i] for i in group],
                    "context": checked.context,
                },
            )
        )
        for group in batches(checked)
    ]
    return checked, results


def _kinds(results: list[TxResult]) -> list[str]:
    return [
        "+".join(e["kinds"])
        for result in results
        for e in result.events
        if e["type"] == "supply.epcis_event"
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


@pytest.mark.parametrize("path", FILES, ids=_name)
def test_every_event_is_anchored_by_a_third_party(examples_chain: Chain, path: Path) -> None:
    document = _document(path)
    checked, results = _import(examples_chain, OBSERVER, document)
    assert all(result.ok for result in results), [r.message for r in results if not r.ok]
    assert _kinds(results) == ["observation attested"] * len(checked.reports)
    ids = [report.event_id for report in checked.reports]
    prefixes = document_prefixes(document)
    assert ids == [event_hash(event, prefixes) for event in event_list(document)]
    # What a package's export holds hashes, under the export's own @context, to the ids.
    for index, event in enumerate(event_list(document)):
        for package in feed.named(index, event).packages:
            exported = _exported(examples_chain, package)
            again = document_prefixes(exported)
            bodies = exported["epcisBody"]["eventList"]
            hashed = {body.get("eventID", ""): event_hash(body, again) for body in bodies}
            assert ids[index] in hashed
            assert all(k == v for k, v in hashed.items() if k.startswith("ni:"))


@pytest.mark.parametrize("path", FILES, ids=_name)
def test_acting_organisations_import_their_own_feed(examples_chain: Chain, path: Path) -> None:
    document = _document(path)
    resolve = _resolver(examples_chain)
    actors = sorted(
        {
            resolve(uri)
            for event in event_list(document)
            for uri in _party_uris(event)
            if gln_of_party(uri) is not None
        }
    )
    for org in actors:
        _checked, results = _import(examples_chain, org, document)
        refused = [r.message for r in results if not r.ok]
        expected = REFUSED_AS_OWN.get((_name(path), org))
        if expected is None:
            assert refused == [], (org, refused)
        else:
            assert refused and expected in refused[0], (org, refused)
