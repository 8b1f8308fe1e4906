"""Attacks on `supply.epcis` by a member in bad faith (issue 14, the EPCIS import path)."""

from __future__ import annotations

from typing import Any

from test_epcis_feed import (
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
from healthledger.domains.supply.importer import check_document

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
