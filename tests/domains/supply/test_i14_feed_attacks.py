"""Attacks on `supply.epcis` by a member in bad faith (issue 14, the EPCIS import path)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from test_epcis_feed import (
    GTIN,
    LOT,
    URN,
    commissioning,
    inspecting,
    key_hex,
    kinds,
    sc,
    shipping,
    submit,
)

from conftest import Chain
from healthledger.domains.supply import feed
from healthledger.domains.supply.event_hash import event_hash
from healthledger.domains.supply.importer import check_document
from healthledger.errors import LedgerError

DECLARED = "error declaration attested"
__all__ = ["sc"]  # the chain fixture, shared with test_epcis_feed


def declared(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "errorDeclaration": {"declarationTime": "2026-03-02T00:00:00Z"}}


def test_an_attester_cannot_declare_the_actors_event_erroneous(sc: Chain) -> None:
    """A competitor attests a manufacturer's own shipment (any member may), then declared
    it erroneous: the mark named the competitor, with its reason, over the maker's custody
    step, and the maker's own declaration could only second it."""
    made = commissioning("S1")
    shipped = shipping("S1", source="medico-pharma", destination="pharmalink")
    assert submit(sc, "medico-pharma", made, shipped).ok
    assert kinds(submit(sc, "corner-pharmacy", shipped)) == ["observation confirmed"]
    before = sc.domain_state()
    result = submit(sc, "corner-pharmacy", declared(shipped))
    assert kinds(result) == ["error declaration attested"], result
    assert sc.domain_state() == before  # kept in its transaction: nothing marked
    # The actor declares its own event erroneous; the attester then seconds that mark.
    assert kinds(submit(sc, "medico-pharma", declared(shipped))) == ["error declaration"]
    mark = sc.state("supply", f"erroneous/{key_hex(shipped)}")
    assert (mark["by"], mark["seconded_by"]) == ("medico-pharma", [])
    again = submit(sc, "corner-pharmacy", declared(shipped))
    assert kinds(again) == ["error declaration attested"]
    mark = sc.state("supply", f"erroneous/{key_hex(shipped)}")
    assert (mark["by"], mark["seconded_by"]) == ("medico-pharma", ["corner-pharmacy"])


def test_the_check_says_a_declaration_of_anothers_event_marks_nothing() -> None:
    event = inspecting("S1", org="pharmalink")
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T00:00:00Z",
        "epcisBody": {"eventList": [declared(event)]},
    }
    checked = check_document(document, lambda uri: uri.removeprefix(URN), "corner-pharmacy")
    assert [report.became for report in checked.reports] == ["error declaration attested"]
    checked = check_document(document, lambda uri: uri.removeprefix(URN), "pharmalink")
    assert [report.became for report in checked.reports] == ["error declaration"]


def _quantity_event(number: str) -> str:
    return (
        '{"type":"ObjectEvent","eventTime":"2026-03-01T10:00:00Z","action":"OBSERVE",'
        f'"quantityList":[{{"epcClass":"https://id.gs1.org/01/{GTIN}/10/{LOT}",'
        f'"quantity":{number},"uom":"KGM"}}],"readPoint":{{"id":"{URN}pharmalink"}}}}'
    )


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1E400"])
def test_a_number_past_a_float_is_refused_not_read_as_infinity(sc: Chain, number: str) -> None:
    """1e999 is valid JSON that Python reads as inf: it was anchored as quantity
    'Infinity', hashed as 'inf', and exported as null (its hash no longer round-trips)."""
    before = sc.domain_state()
    payload = {"events": [_quantity_event(number)]}
    result = sc.one(sc.signer("pharmalink").sign("supply.epcis", payload))
    assert result.code == "invalid_field", result
    assert "not JSON (a number out of range)" in result.message
    assert sc.domain_state() == before
    with pytest.raises(ValueError, match="out of range"):
        feed.parse_event_text(_quantity_event(number))


def test_a_document_with_an_infinite_number_is_reported_not_raised() -> None:
    """The client's check (and the node's dry run) re-serialised each event before the
    per-event try: an infinity escaped check_document as a Python ValueError."""
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T00:00:00Z",
        "epcisBody": {
            "eventList": [
                inspecting("S1", org="pharmalink"),
                {**inspecting("S2", org="pharmalink"), "example:t": float("inf")},
            ]
        },
    }
    checked = check_document(document, lambda uri: uri.removeprefix(URN), "pharmalink")
    good, bad = checked.reports
    assert good.error is None
    assert bad.code == "malformed" and (bad.error or "").startswith("event 1:")
    assert not checked.ok


def test_one_org_cannot_flood_a_competitors_package_with_observations(sc: Chain) -> None:
    """A history or an export reads at most MAX_LINKS_READ links of a package, oldest
    first: a competitor anchoring that many observations naming it (its own scans, or
    attestations of others') pushed every later event of the package out of them."""
    assert submit(sc, "medico-pharma", commissioning("S1")).ok
    cap = feed.MAX_OBSERVATION_LINKS
    scans = [inspecting("S1", org="corner-pharmacy", minute=0) for _ in range(cap + 1)]
    for n, scan in enumerate(scans):
        scan["eventTime"] = f"2026-03-0{1 + n // 1440}T{n // 60 % 24:02d}:{n % 60:02d}:00Z"
    assert submit(sc, "corner-pharmacy", *scans[:cap]).ok
    before = sc.domain_state()
    flood = submit(sc, "corner-pharmacy", scans[cap])
    assert flood.code == "too_large" and flood.message.startswith("event 0:"), flood
    assert f"{GTIN}:S1" in flood.message
    assert sc.domain_state() == before
    # Attesting another's observations counts too; the package's own events still link.
    others = inspecting("S1", org="pharmalink", minute=59)
    assert submit(sc, "corner-pharmacy", others).code == "too_large"
    assert submit(sc, "pharmalink", others).ok
    links = sc.app.store.state_scan("supply", f"evlink/p/{GTIN}/S1/", 1000)
    assert len(links) == 1 + cap + 1  # the commissioning, the scans, the own inspection


@pytest.mark.parametrize("prefix", ["https", "urn", "geo", "2026-03-01T10"])
def test_a_context_prefix_cannot_rewrite_other_events_values(sc: Chain, prefix: str) -> None:
    """The hash expands a declared prefix in values too (`https:...`, `urn:...`, even an
    eventTime's `2026-03-01T10:...`). An export merges the prefixes of the transactions it
    reads from: a competitor's observation declaring `https` put it in the @context of the
    victim's package export, and none of the victim's events hashed to its eventID again."""
    assert submit(sc, "medico-pharma", commissioning("S1")).ok
    before = sc.domain_state()
    scan = feed.event_text(inspecting("S1", org="corner-pharmacy"))
    payload = {"events": [scan], "context": {prefix: "urn:evil:"}}
    result = sc.one(sc.signer("corner-pharmacy").sign("supply.epcis", payload))
    assert result.code == "invalid_field" and "context" in result.message, result
    assert sc.domain_state() == before
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", {prefix: "x:"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T00:00:00Z",
        "epcisBody": {"eventList": [inspecting("S1", org="corner-pharmacy")]},
    }
    with pytest.raises(LedgerError, match="@context prefix"):
        check_document(document, lambda uri: uri.removeprefix(URN), "corner-pharmacy")


def test_an_ordinary_extension_prefix_still_imports(sc: Chain) -> None:
    scan = {**inspecting("S1", org="corner-pharmacy"), "example:scale": "W-200"}
    payload = {"events": [feed.event_text(scan)], "context": {"example": "http://ns.example.com/"}}
    assert sc.one(sc.signer("corner-pharmacy").sign("supply.epcis", payload)).ok


def test_a_prefixed_variant_of_anothers_event_does_not_become_ones_own(sc: Chain) -> None:
    """`ex:shipping` under {"ex": ".../BizStep-"} hashes like `shipping`, but the mapping
    read it unexpanded: not a shipment, so the acting party fell to bizLocation, the
    attacker's own. Its variant of the maker's event (same id) confirmed what a third
    party attested, as if the maker had, and let it declare the maker's event erroneous."""
    assert submit(sc, "medico-pharma", commissioning("S1")).ok
    shipped = shipping("S1", source="medico-pharma", destination="pharmalink")
    shipped["bizLocation"] = {"id": URN + "corner-pharmacy"}
    assert kinds(submit(sc, "pharmalink", shipped)) == ["observation attested"]
    context = {"ex": "https://ref.gs1.org/cbv/BizStep-"}
    variant = {**shipped, "bizStep": "ex:shipping"}
    assert event_hash(variant, context) == event_hash(shipped)
    for event, kind in ((variant, "observation attested"), (declared(variant), DECLARED)):
        payload = {"events": [feed.event_text(event)], "context": context}
        result = sc.one(sc.signer("corner-pharmacy").sign("supply.epcis", payload))
        assert kinds(result) == [kind], result
    observation = sc.state("supply", f"obs/{key_hex(shipped)}")
    assert (observation["status"], observation["actor"]) == ("attested", "medico-pharma")
    assert sc.state("supply", f"erroneous/{key_hex(shipped)}") is None


def test_a_padded_variant_of_anothers_event_keeps_its_actor(sc: Chain) -> None:
    """The hash strips a value's surrounding spaces; the mapping did not, so a read point
    ' urn:...:pharmalink' named no party: the variant (same id) was nobody's own event,
    which any recorder may declare erroneous, the pharmacy's own inspection included."""
    event = inspecting("S1", org="pharmalink")
    assert kinds(submit(sc, "pharmalink", event)) == ["observation confirmed"]
    variant = {**event, "readPoint": {"id": " " + URN + "pharmalink "}}
    assert event_hash(variant) == event_hash(event)
    assert kinds(submit(sc, "corner-pharmacy", variant)) == ["observation confirmed"]
    assert kinds(submit(sc, "corner-pharmacy", declared(variant))) == [DECLARED]
    assert sc.state("supply", f"erroneous/{key_hex(event)}") is None


def test_an_unterminated_string_costs_linear_time() -> None:
    """The depth check stripped strings with a regex that, for an unterminated string of
    escaped quotes, rescanned to the end from every quote: ~2 s for one 22 KB event, run
    on admission and again in apply, for a transaction that is refused anyway."""
    for text in ('"' + '\\"' * 16000, '["' + '\\"' * 16000 + "]"):
        started = time.perf_counter()
        with pytest.raises(ValueError, match="not JSON"):
            feed.parse_event_text(text)
        assert time.perf_counter() - started < 0.5
    # Brackets after an unterminated quote are inside it for the parser too.
    assert feed.json_depth('[["' + "[" * 50) == 2
    assert feed.json_depth('[{"a": "]}\\"[["}, [[1]]]') == 3
