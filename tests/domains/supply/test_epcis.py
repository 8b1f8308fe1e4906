"""EPCIS 2.0 JSON: round trips, a standard-style example document, EPC URNs, refusals.

EPC URN vectors are re-derived by hand with the GS1 check digit (weights 3,1,3,... from
the right, GenSpecs §7.9.1); the example document follows the GS1 EPCIS 2.0 examples.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthledger.domains.supply.epcis import (
    HEALTHLEDGER_NAMESPACE,
    MAPPINGS,
    epc_uri,
    event_id,
    format_time,
    from_epcis_document,
    item_of_epc,
    parse_time,
    party_uri,
    to_epcis_document,
)
from healthledger.domains.supply.events import ACTIONS, CustodyEvent, package_id
from healthledger.domains.supply.gs1 import CSET82, gtin_check_digit
from healthledger.errors import ErrorCode, LedgerError

GTIN = "09506000134352"  # GS1's example GTIN-14 (check digit 2)
SSCC = "106141412345678908"  # GS1's example SSCC for AI (00)
PKG_A = package_id(GTIN, "XYZ789")
PKG_B = package_id(GTIN, "A/B%+1")  # "/", "%" and "+" must be percent-encoded
TX = "ab" * 32
T0 = 1_767_225_600_123  # 2026-01-01T00:00:00.123Z
ORG_GLN = {"maker": "0614141000005", "wholesale": "0614141000777"}  # GLN check digits 5, 7


def inverse(org_gln: dict[str, str]) -> Callable[[str], str]:
    orgs = ["maker", "wholesale", "pharmacy", "exporter"]
    table = {party_uri(org, org_gln): org for org in orgs}

    def org_of_party(uri: str) -> str:
        if uri not in table:
            raise LedgerError(f"unknown party {uri}", ErrorCode.NOT_FOUND)
        return table[uri]

    return org_of_party


def one_of_each() -> list[CustodyEvent]:
    items = (PKG_A, PKG_B)
    return [
        CustodyEvent("commission", T0, "maker", items, lot="L-1/2", expiry="2028-02-29", tx_id=TX),
        CustodyEvent("aggregate", T0 + 1, "maker", items, parent=SSCC),
        CustodyEvent("ship", T0 + 2, "maker", (SSCC,), counterparty="wholesale"),
        CustodyEvent("receive", T0 + 3, "wholesale", (SSCC,), counterparty="maker"),
        CustodyEvent("disaggregate", T0 + 4, "wholesale", items, parent=SSCC),
        CustodyEvent("ship", T0 + 5, "wholesale", (PKG_A,), counterparty="pharmacy"),
        CustodyEvent("return", T0 + 6, "pharmacy", (PKG_A,), counterparty="wholesale", reason="x"),
        CustodyEvent("dispense", T0 + 7, "pharmacy", (PKG_B,), tx_id=TX),
        CustodyEvent("destroy", T0 + 8, "wholesale", (PKG_A,), reason="damaged"),
        CustodyEvent("export", T0 + 9, "exporter", (PKG_B,), reason="CA"),
    ]


# --- export and round trips -----------------------------------------------------------


def test_every_action_round_trips() -> None:
    events = one_of_each()
    assert {event.action for event in events} == set(ACTIONS)
    document = to_epcis_document(events, ORG_GLN, created_ms=T0)
    assert from_epcis_document(document, inverse(ORG_GLN)) == events


def test_document_envelope() -> None:
    document = to_epcis_document([], created_ms=T0)
    assert document == {
        "@context": [
            "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
            {"healthledger": HEALTHLEDGER_NAMESPACE},
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00.123Z",
        "epcisBody": {"eventList": []},
    }


def test_commissioning_event_in_full() -> None:
    event = one_of_each()[0]
    [body] = to_epcis_document([event], ORG_GLN, created_ms=T0)["epcisBody"]["eventList"]
    assert body == {
        "type": "ObjectEvent",
        "eventID": event_id(TX),
        "eventTime": "2026-01-01T00:00:00.123Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [
            "https://id.gs1.org/01/09506000134352/21/XYZ789",
            "https://id.gs1.org/01/09506000134352/21/A%2FB%25%2B1",
        ],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "healthledger:org": "https://id.gs1.org/417/0614141000005",
        "ilmd": {"cbvmda:lotNumber": "L-1/2", "cbvmda:itemExpirationDate": "2028-02-29"},
        "healthledger:txId": TX,
    }
    assert event_id(TX).startswith("urn:uuid:")


def test_transfer_names_both_parties_and_nothing_else() -> None:
    ship, receive = one_of_each()[2:4]
    bodies = to_epcis_document([ship, receive], ORG_GLN, created_ms=T0)["epcisBody"]["eventList"]
    maker, wholesale = (f"https://id.gs1.org/417/{ORG_GLN[org]}" for org in ("maker", "wholesale"))
    for body in bodies:
        assert body["sourceList"] == [{"type": "owning_party", "source": maker}]
        assert body["destinationList"] == [{"type": "owning_party", "destination": wholesale}]
        assert "healthledger:org" not in body
    assert bodies[0]["epcList"] == [f"https://id.gs1.org/00/{SSCC}"]
    assert (bodies[0]["bizStep"], bodies[0]["disposition"]) == ("shipping", "in_transit")
    assert (bodies[1]["bizStep"], bodies[1]["disposition"]) == ("receiving", "in_progress")


def test_fields_of_other_actions_are_not_exported() -> None:
    # A dispense must not leak its counterparty (it could be a patient), nor lots or reasons.
    event = CustodyEvent("dispense", T0, "pharmacy", (PKG_A,), counterparty="p1", reason="r")
    [body] = to_epcis_document([event], created_ms=T0)["epcisBody"]["eventList"]
    assert set(body) == {
        "type",
        "eventTime",
        "eventTimeZoneOffset",
        "epcList",
        "action",
        "bizStep",
        "disposition",
        "healthledger:org",
    }
    assert body["healthledger:org"] == "urn:healthledger:org:pharmacy"


def test_mapping_table() -> None:
    table = {
        action: (m.event_type, m.action, m.biz_step, m.disposition)
        for action, m in MAPPINGS.items()
    }
    assert table == {
        "commission": ("ObjectEvent", "ADD", "commissioning", "active"),
        "aggregate": ("AggregationEvent", "ADD", "packing", None),
        "disaggregate": ("AggregationEvent", "DELETE", "unpacking", None),
        "ship": ("ObjectEvent", "OBSERVE", "shipping", "in_transit"),
        "receive": ("ObjectEvent", "OBSERVE", "receiving", "in_progress"),
        "return": ("ObjectEvent", "OBSERVE", "shipping", "returned"),
        "dispense": ("ObjectEvent", "OBSERVE", "dispensing", "dispensed"),
        "destroy": ("ObjectEvent", "DELETE", "destroying", "destroyed"),
        "export": ("ObjectEvent", "OBSERVE", "departing", "in_transit"),
    }


def test_export_refuses_bad_data() -> None:
    bad_gln = {"maker": "0614141000006"}
    with pytest.raises(LedgerError, match="check digit should be 5"):
        to_epcis_document(one_of_each()[:1], bad_gln, created_ms=T0)
    no_lot = CustodyEvent("commission", T0, "maker", (PKG_A,), expiry="2028-01-01")
    with pytest.raises(LedgerError, match="lot and expiry are required"):
        to_epcis_document([no_lot], created_ms=T0)
    bad_item = CustodyEvent("ship", T0, "maker", (f"{GTIN[:-1]}3:X",))
    with pytest.raises(LedgerError, match="check digit"):
        to_epcis_document([bad_item], created_ms=T0)


# --- EPC URIs and times ---------------------------------------------------------------

EPC_VECTORS = [
    # TDS example SGTIN: indicator 1 + prefix 0614141 + item ref 07346, body 1061414107346:
    # from the right 3*(6+3+0+4+4+6+1) + 1*(4+7+1+1+1+0) = 72 + 14 = 86, check digit 4.
    ("urn:epc:id:sgtin:0614141.107346.2017", "10614141073464:2017"),
    # The serial in an SGTIN URN is URI-escaped (TDS §6.3.1): %2F is "/", %25 is "%".
    ("urn:epc:id:sgtin:0614141.107346.A%2FB%25", "10614141073464:A/B%"),
    # A 12-digit company prefix leaves a 1-digit indicator and no item reference.
    ("urn:epc:id:sgtin:950600013435.0.1", "09506000134352:1"),
    # TDS example SSCC: extension 1 + prefix 0614141 + serial ref 234567890, check digit 8.
    ("urn:epc:id:sscc:0614141.1234567890", SSCC),
    ("https://id.gs1.org/00/106141412345678908", SSCC),
    ("https://id.gs1.org/01/09506000134352/21/A%2FB%25%2B1", PKG_B),
    # Digital Link allows any resolver domain and a shorter GTIN, normalised to 14 digits.
    ("https://example.com/01/9506000134352/21/XYZ789", PKG_A),
]


@pytest.mark.parametrize(("uri", "item"), EPC_VECTORS)
def test_item_of_epc(uri: str, item: str) -> None:
    assert item_of_epc(uri) == item


@pytest.mark.parametrize(
    ("uri", "match"),
    [
        ("urn:epc:id:sgtin:0614141.10734.2017", "must total 13 digits"),
        ("urn:epc:id:sscc:0614141.123456789", "must total 17 digits"),
        ("urn:epc:id:sgtin:0614141.107346.A%2", "must start a %HH escape"),
        ("urn:epc:id:sgtin:0614141.107346.A%20B", "not in GS1 character set 82"),
        ("https://id.gs1.org/01/09506000134353/21/X", "check digit should be 2"),
        ("https://id.gs1.org/00/106141412345678909", "check digit should be 8"),
        ("https://id.gs1.org/01/09506000134352/10/L1/21/X", "expected a GS1 Digital Link"),
        ("urn:epc:id:sgln:0614141.00777.0", "expected a GS1 Digital Link"),
    ],
)
def test_item_of_epc_refuses(uri: str, match: str) -> None:
    with pytest.raises(LedgerError, match=match) as error:
        item_of_epc(uri)
    assert error.value.code is ErrorCode.INVALID_FIELD


def test_epc_uri_inverts_item_of_epc() -> None:
    for item in (PKG_A, PKG_B, SSCC):
        assert item_of_epc(epc_uri(item)) == item


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2026-01-01T00:00:00.123Z", T0),
        ("2025-12-31T18:00:00.123-06:00", T0),
        ("2026-01-01T05:30:00.1234567+05:30", T0),  # digits past the millisecond dropped
        ("1969-12-31T23:59:59.5z", -500),
    ],
)
def test_parse_time(text: str, ms: int) -> None:
    assert parse_time("t", text) == ms


@pytest.mark.parametrize(
    "text", ["2026-01-01T00:00:00", "2026-02-30T00:00:00Z", "2026-01-01 00:00Z", "2026-01-01"]
)
def test_parse_time_refuses(text: str) -> None:
    with pytest.raises(LedgerError, match="eventTime"):
        parse_time("eventTime", text)


def test_format_time_is_rfc3339_utc() -> None:
    assert format_time(0) == "1970-01-01T00:00:00.000Z"
    assert format_time(-1) == "1969-12-31T23:59:59.999Z"


# --- a partner's document in the style of the GS1 EPCIS 2.0 examples --------------------

PARTNER_PARTIES = {
    "urn:epc:id:sgln:0614141.00777.0": "maker",
    "urn:epc:id:pgln:0614141.00777": "maker",
    "urn:epc:id:pgln:0012345.11111": "wholesale",
}

PARTNER_DOCUMENT: dict[str, Any] = {
    "@context": [
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        {"example": "http://ns.example.com/epcis/"},
    ],
    "type": "EPCISDocument",
    "schemaVersion": "2.0",
    "creationDate": "2005-07-11T11:30:47.0Z",
    "epcisBody": {
        "eventList": [
            {
                "type": "ObjectEvent",
                "eventID": "urn:uuid:8f93dd62-f7d5-4033-887a-e81e7596a988",
                "eventTime": "2005-04-03T20:33:31.116-06:00",
                "eventTimeZoneOffset": "-06:00",
                "epcList": [
                    "urn:epc:id:sgtin:0614141.107346.2017",
                    "urn:epc:id:sgtin:0614141.107346.2018",
                ],
                "action": "ADD",
                "bizStep": "urn:epcglobal:cbv:bizstep:commissioning",
                "disposition": "urn:epcglobal:cbv:disp:active",
                "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
                "bizLocation": {"id": "urn:epc:id:sgln:0614141.00777.0"},
                "ilmd": {"cbvmda:lotNumber": "ABC123", "cbvmda:itemExpirationDate": "2008-04-30"},
                "example:myField": "Example of a vendor/user extension",
            },
            {
                "type": "AggregationEvent",
                "eventTime": "2005-04-03T20:39:47.0Z",
                "eventTimeZoneOffset": "-06:00",
                "parentID": "urn:epc:id:sscc:0614141.1234567890",
                "childEPCs": [
                    "urn:epc:id:sgtin:0614141.107346.2017",
                    "urn:epc:id:sgtin:0614141.107346.2018",
                ],
                "action": "ADD",
                "bizStep": "https://ref.gs1.org/cbv/BizStep-packing",
                "disposition": "https://ref.gs1.org/cbv/Disp-in_progress",
                "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
                "bizLocation": {"id": "urn:epc:id:sgln:0614141.00777.0"},
            },
            {
                "type": "ObjectEvent",
                "eventTime": "2005-04-04T08:00:00.000+01:00",
                "eventTimeZoneOffset": "+01:00",
                "epcList": ["urn:epc:id:sscc:0614141.1234567890"],
                "action": "OBSERVE",
                "bizStep": "shipping",
                "disposition": "in_transit",
                "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"},
                "bizTransactionList": [
                    {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:1152"}
                ],
                "sourceList": [
                    {"type": "location", "source": "urn:epc:id:sgln:0614141.00777.0"},
                    {"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00777"},
                ],
                "destinationList": [
                    {"type": "location", "destination": "urn:epc:id:sgln:0012345.11111.0"},
                    {
                        "type": "urn:epcglobal:cbv:sdt:owning_party",
                        "destination": "urn:epc:id:pgln:0012345.11111",
                    },
                ],
            },
        ]
    },
}


def test_partner_document_parses_to_custody_events() -> None:
    pkgs = ("10614141073464:2017", "10614141073464:2018")
    assert from_epcis_document(PARTNER_DOCUMENT, PARTNER_PARTIES.__getitem__) == [
        CustodyEvent(
            "commission", 1_112_582_011_116, "maker", pkgs, lot="ABC123", expiry="2008-04-30"
        ),
        CustodyEvent("aggregate", 1_112_560_787_000, "maker", pkgs, parent=SSCC),
        CustodyEvent("ship", 1_112_598_000_000, "maker", (SSCC,), counterparty="wholesale"),
    ]


def test_org_of_party_errors_pass_through() -> None:
    with pytest.raises(KeyError):
        from_epcis_document(PARTNER_DOCUMENT, {}.__getitem__)


# --- refusals ------------------------------------------------------------------------


def mutated(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    document = copy.deepcopy(PARTNER_DOCUMENT)
    change(document)
    return document


def event(document: dict[str, Any], index: int) -> dict[str, Any]:
    found: dict[str, Any] = document["epcisBody"]["eventList"][index]
    return found


MALFORMED, INVALID = ErrorCode.MALFORMED, ErrorCode.INVALID_FIELD
REFUSALS: list[tuple[str, Any, ErrorCode, str]] = [
    ("not a dict", [], MALFORMED, "expected a JSON object"),
    ("wrong type", mutated(lambda d: d.update(type="EPCISMasterDataDocument")), INVALID, "type"),
    ("wrong version", mutated(lambda d: d.update(schemaVersion="1.2")), INVALID, "schemaVersion"),
    ("no context", mutated(lambda d: d.pop("@context")), MALFORMED, "@context"),
    ("no eventList", mutated(lambda d: d.update(epcisBody={})), MALFORMED, "eventList"),
    ("bad creationDate", mutated(lambda d: d.update(creationDate="x")), INVALID, "creationDate"),
    (
        "event not an object",
        mutated(lambda d: d["epcisBody"]["eventList"].append("x")),
        MALFORMED,
        "event 3: expected a JSON object",
    ),
    (
        "unknown event type",
        mutated(lambda d: event(d, 1).update(type="TransformationEvent")),
        INVALID,
        "event 1: type",
    ),
    (
        "unknown bizStep",
        mutated(lambda d: event(d, 2).update(bizStep="returning")),
        INVALID,
        "event 2: bizStep: 'returning'",
    ),
    (
        "disposition not fitting",
        mutated(lambda d: event(d, 2).update(disposition="sold")),
        INVALID,
        "event 2: disposition",
    ),
    (
        "action not fitting",
        mutated(lambda d: event(d, 0).update(action="OBSERVE")),
        INVALID,
        "event 0: action",
    ),
    (
        "GTIN check digit",
        mutated(
            lambda d: event(d, 2).update(epcList=["https://id.gs1.org/01/09506000134353/21/X"])
        ),
        INVALID,
        r"event 2: epcList\[0\]: GTIN 09506000134353: check digit",
    ),
    (
        "serial charset",
        mutated(
            lambda d: event(d, 2).update(epcList=["https://id.gs1.org/01/09506000134352/21/a%20b"])
        ),
        INVALID,
        r"event 2: epcList\[0\]: serial 'a b'",
    ),
    (
        "SSCC check digit",
        mutated(lambda d: event(d, 1).update(parentID="https://id.gs1.org/00/106141412345678900")),
        INVALID,
        "event 1: parentID: SSCC",
    ),
    (
        "parent not an SSCC",
        mutated(lambda d: event(d, 1).update(parentID=epc_uri(PKG_A))),
        INVALID,
        "event 1: parentID: .* is not an SSCC",
    ),
    (
        "missing parentID",
        mutated(lambda d: event(d, 1).pop("parentID")),
        MALFORMED,
        "event 1: parentID: missing",
    ),
    (
        "duplicate EPC",
        mutated(lambda d: event(d, 2).update(epcList=[epc_uri(PKG_A)] * 2)),
        INVALID,
        r"event 2: epcList\[1\]: .* listed twice",
    ),
    (
        "empty epcList",
        mutated(lambda d: event(d, 2).update(epcList=[])),
        INVALID,
        "event 2: epcList: expected at least one EPC",
    ),
    (
        "quantityList",
        mutated(lambda d: event(d, 2).update(quantityList=[{"epcClass": "x", "quantity": 1}])),
        INVALID,
        "event 2: quantityList",
    ),
    (
        "missing eventTime",
        mutated(lambda d: event(d, 0).pop("eventTime")),
        MALFORMED,
        "event 0: eventTime: missing",
    ),
    (
        "time without offset",
        mutated(lambda d: event(d, 0).update(eventTime="2005-04-03T20:33:31.116")),
        INVALID,
        "event 0: eventTime",
    ),
    (
        "impossible date",
        mutated(lambda d: event(d, 0).update(eventTime="2005-02-29T20:33:31Z")),
        INVALID,
        "event 0: eventTime: .* day is out of range",
    ),
    (
        "bad offset",
        mutated(lambda d: event(d, 0).update(eventTimeZoneOffset="Z")),
        INVALID,
        "event 0: eventTimeZoneOffset",
    ),
    (
        "commissioning without lot",
        mutated(lambda d: event(d, 0)["ilmd"].pop("cbvmda:lotNumber")),
        MALFORMED,
        "event 0: ilmd.cbvmda:lotNumber",
    ),
    (
        "commissioning without ilmd",
        mutated(lambda d: event(d, 0).pop("ilmd")),
        MALFORMED,
        "event 0: ilmd: missing",
    ),
    (
        "bad expiry",
        mutated(lambda d: event(d, 0)["ilmd"].update({"cbvmda:itemExpirationDate": "2008-13-01"})),
        INVALID,
        "event 0: ilmd.cbvmda:itemExpirationDate",
    ),
    (
        "no acting party",
        mutated(lambda d: [event(d, 1).pop(f) for f in ("bizLocation", "readPoint")]),
        INVALID,
        "event 1: healthledger:org: no acting party",
    ),
    (
        "two owning parties",
        mutated(lambda d: event(d, 2)["sourceList"].append(event(d, 2)["sourceList"][1])),
        INVALID,
        "event 2: sourceList: more than one owning_party",
    ),
    (
        "epcList not a list",
        mutated(lambda d: event(d, 2).update(epcList="urn:epc:id:sscc:0614141.1234567890")),
        MALFORMED,
        "event 2: epcList: expected a JSON array",
    ),
    (
        "bad tx id",
        mutated(lambda d: event(d, 2).update({"healthledger:txId": "nope"})),
        INVALID,
        "event 2: healthledger:txId",
    ),
    (
        "error declaration",
        mutated(lambda d: event(d, 2).update(errorDeclaration={"declarationTime": "x"})),
        INVALID,
        "event 2: errorDeclaration",
    ),
]


@pytest.mark.parametrize(
    ("document", "code", "match"),
    [pytest.param(doc, code, match, id=name) for name, doc, code, match in REFUSALS],
)
def test_refused(document: Any, code: ErrorCode, match: str) -> None:
    with pytest.raises(LedgerError, match=match) as error:
        from_epcis_document(document, PARTNER_PARTIES.__getitem__)
    assert error.value.code is code


# --- property: any valid events round-trip --------------------------------------------

ORGS = ("maker", "wholesale", "pharmacy", "exporter")
serials = st.text(alphabet=sorted(CSET82), min_size=1, max_size=20)
gtins = st.text(alphabet="0123456789", min_size=13, max_size=13).map(
    lambda body: body + str(gtin_check_digit(body))
)
packages = st.builds(package_id, gtins, serials)
ssccs = st.text(alphabet="0123456789", min_size=17, max_size=17).map(
    lambda body: body + str(gtin_check_digit(body))
)
items = st.lists(st.one_of(packages, ssccs), min_size=1, max_size=4, unique=True).map(tuple)
times = st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999)
tx_ids = st.none() | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
dates = st.dates().map(lambda day: day.isoformat())


@st.composite
def custody_events(draw: st.DrawFn) -> CustodyEvent:
    action = draw(st.sampled_from(ACTIONS))
    org, other = draw(st.permutations(ORGS))[:2]
    fields: dict[str, Any] = {}
    if action == "commission":
        fields.update(lot=draw(serials), expiry=draw(dates))
    if action in ("aggregate", "disaggregate"):
        fields["parent"] = draw(ssccs)
    if action in ("ship", "return", "receive"):
        fields["counterparty"] = draw(st.none() | st.just(other))
    if action in ("destroy", "export", "return"):
        fields["reason"] = draw(st.none() | st.text(max_size=30))
    return CustodyEvent(action, draw(times), org, draw(items), tx_id=draw(tx_ids), **fields)


@settings(max_examples=200)
@given(st.lists(custody_events(), max_size=5), st.sampled_from([{}, ORG_GLN]))
def test_random_events_round_trip(events: list[CustodyEvent], org_gln: dict[str, str]) -> None:
    document = to_epcis_document(events, org_gln, created_ms=0)
    assert from_epcis_document(document, inverse(org_gln)) == events
