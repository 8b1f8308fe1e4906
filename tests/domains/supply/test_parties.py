"""EPCIS parties and locations by GS1 identifiers (SGLN, PGLN, Digital Link) resolve to
organisations; an unregistered GLN is refused, naming it."""

from __future__ import annotations

import pytest

from conftest import Chain
from healthledger.domains.governance.state import OrgGlns
from healthledger.domains.supply.parties import (
    PartyRef,
    gln_of_party,
    parse_party,
    party_uri_of,
    resolve_party,
    state_party_resolver,
)
from healthledger.errors import LedgerError
from healthledger.ledger.context import StateReader

REGISTERED = {"0614141000005": "medico-pharma", "4012345000009": "corner-pharmacy"}


@pytest.mark.parametrize(
    ("uri", "ref"),
    [
        ("urn:epc:id:sgln:0614141.00000.0", PartyRef("location", "0614141000005")),
        ("urn:epc:id:sgln:0614141.00000.12", PartyRef("location", "0614141000005", "12")),
        (
            "urn:epc:id:sgln:4012345.00000.dock%2F7",
            PartyRef("location", "4012345000009", "dock%2F7"),
        ),
        ("URN:EPC:ID:SGLN:0614141.00000.0", PartyRef("location", "0614141000005")),
        ("urn:epc:id:sgln:061414100000..0", PartyRef("location", "0614141000005")),
        ("urn:epc:id:pgln:0614141.00000", PartyRef("party", "0614141000005")),
        ("urn:epc:id:pgln:952012345678.", PartyRef("party", "9520123456788")),
        ("https://id.gs1.org/414/0614141000005", PartyRef("location", "0614141000005")),
        ("https://id.gs1.org/414/0614141000005/254/1", PartyRef("location", "0614141000005", "1")),
        ("https://example.com/a/b/414/4012345000009", PartyRef("location", "4012345000009")),
        ("http://id.example.org/417/4012345000009", PartyRef("party", "4012345000009")),
        (
            "https://id.gs1.org/414/0614141000005/254/shelf%2F3",
            PartyRef("location", "0614141000005", "shelf/3"),
        ),
        ("urn:healthledger:org:st-marys", PartyRef("org", org="st-marys")),
    ],
)
def test_every_form_parses(uri: str, ref: PartyRef) -> None:
    assert parse_party(uri) == ref
    assert gln_of_party(uri) == ref.gln


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("urn:epc:id:sgln:0614141.00000", "sgln:<company prefix>"),
        ("urn:epc:id:sgln:0614141.0000.0", "12 digits together"),
        ("urn:epc:id:sgln:06141.0000000.0", "6 to 12 digits"),
        ("urn:epc:id:sgln:0614141.0000a.0", "6 to 12 digits"),
        ("urn:epc:id:sgln:0614141.00000.", "extension"),
        ("urn:epc:id:sgln:0614141.00000.a b", "extension"),
        ("urn:epc:id:pgln:0614141.00000.0", "pgln:<company prefix>"),
        ("urn:epc:id:pgln:0614141.0000", "12 digits together"),
        ("https://id.gs1.org/414/0614141000006", "check digit should be 5"),
        ("https://id.gs1.org/417/061414100000", "13 digits"),
        ("https://id.gs1.org/01/09506000134352", "/414/<GLN>"),
        ("https://id.gs1.org/414/0614141000005?linkType=all", "no query"),
        ("https://id.gs1.org/414/0614141000005#x", "no query"),
        ("https:///414/0614141000005", "names a host"),
        ("https://id.gs1.org/417/0614141000005/254/1", "/414/<GLN>"),
        ("https://id.gs1.org/414/0614141000005/254/" + "x" * 21, "1 to 20"),
        ("urn:healthledger:org:", "organisation id"),
        ("urn:healthledger:org:St Marys", "organisation id"),
        ("urn:epc:id:sgtin:0614141.107346.2017", "expected urn:epc:id:sgln:"),
        ("0614141000005", "expected urn:epc:id:sgln:"),
        ("", "expected urn:epc:id:sgln:"),
        ("urn:epc:id:sgln:" + "1" * 600, "longer than 500"),
    ],
)
def test_anything_else_is_invalid_field_naming_the_uri(uri: str, why: str) -> None:
    with pytest.raises(LedgerError) as caught:
        parse_party(uri)
    assert caught.value.code == "invalid_field"
    assert why in caught.value.message, caught.value.message
    assert caught.value.message.startswith(f"party {uri[:500]!r}")


def test_resolve_gives_the_holder_whatever_the_form() -> None:
    forms = [
        "urn:epc:id:sgln:0614141.00000.0",
        "urn:epc:id:sgln:0614141.00000.7",  # a spot inside the location: the same org
        "urn:epc:id:pgln:0614141.00000",
        "https://id.gs1.org/414/0614141000005/254/7",
        "https://partner.example/417/0614141000005",
    ]
    assert {resolve_party(uri, REGISTERED.get) for uri in forms} == {"medico-pharma"}
    assert resolve_party("urn:healthledger:org:town-pharmacy", REGISTERED.get) == "town-pharmacy"


def test_an_unknown_gln_is_unknown_party_naming_it() -> None:
    with pytest.raises(LedgerError) as caught:
        resolve_party("urn:epc:id:sgln:0614141.00001.0", REGISTERED.get)
    assert caught.value.code == "unknown_party"
    assert caught.value.message == (
        "GLN 0614141000012 (from urn:epc:id:sgln:0614141.00001.0) "
        "is not registered to any organisation"
    )


def test_the_state_resolver_reads_the_governance_registry(chain: Chain) -> None:
    party = "0614141000005"
    opened = chain.one(chain.signer("medico-pharma").sign("gln.claim", {"party": party}))
    proposal = next(e["proposal"] for e in opened.events if e["type"] == "gln.proposed")
    resolve = state_party_resolver(StateReader(chain.store.state_get))
    with pytest.raises(LedgerError, match="not registered to any organisation"):
        resolve("urn:epc:id:pgln:0614141.00000")  # proposed, not yet approved
    for voter in ("st-marys", "acme-insurance", "corner-pharmacy"):
        assert chain.one(chain.signer(voter).sign("org.approve", {"proposal_id": proposal})).ok
    assert resolve("urn:epc:id:pgln:0614141.00000") == "medico-pharma"
    assert resolve("https://id.gs1.org/417/0614141000005") == "medico-pharma"


def test_party_uri_of_names_the_party_gln_else_the_org() -> None:
    glns = OrgGlns(org="medico-pharma", party="0614141000005", locations=("0614141000012",))
    uri = party_uri_of("medico-pharma", glns)
    assert uri == "https://id.gs1.org/417/0614141000005"
    assert resolve_party(uri, REGISTERED.get) == "medico-pharma"
    sites_only = OrgGlns(org="x-lab", party=None, locations=("0614141000012",))
    assert party_uri_of("x-lab", sites_only) == "urn:healthledger:org:x-lab"
    assert party_uri_of("x-lab", None) == "urn:healthledger:org:x-lab"
