"""Issue 14 under attack: what a member acting in bad faith tried with the new types.

Each test is one attack that worked before its fix (the commit says which).
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from epcis_standin import as_dispatcher
from hypothesis import given
from hypothesis import strategies as st
from test_custody import EXPIRY, GTIN, LOT, PARTNERS, commission, do, package, pkg

from conftest import Chain, make_genesis
from healthledger.app.application import Application
from healthledger.domains.shared import coldchain as cc
from healthledger.domains.shared.coldchain import AllowedRange, Reading
from healthledger.domains.supply import coldchain, parties, ti, transform
from healthledger.domains.supply.coldchain import ProductRangeRecord
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.store import Store


def sscc(n: int) -> str:
    body = f"0061416{n:010d}"
    return body + str(gtin_check_digit(body))


def gtin(n: int) -> str:
    body = f"09506001{n:05d}"
    return body + str(gtin_check_digit(body))


PALLET, CASE = sscc(1), sscc(2)
HOT = {"type": "Temperature", "value": 30000, "uom": "CEL"}


@pytest.fixture
def sc(tmp_path: Path) -> Iterator[Chain]:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(make_genesis(PARTNERS))
    yield Chain(app, store)
    store.close()


def excursion(sc: Chain, number: int) -> Any:
    return sc.state("supply", f"excursion/{number:012d}")


def set_range(sc: Chain, org: str, code: str) -> None:
    assert do(sc, org, "product_range", gtin=code, min_mc=2000, max_mc=8000).ok


def test_destroying_an_excursion_in_transit_does_not_strand_the_pallet(sc: Chain) -> None:
    """A pallet holds two makers' goods; the receiver's logger reads 30 °C in transit and
    one maker destroys its excursion's packages. Destroyed packages left inside the
    pallet made every receive of it fail (`not shipped to`): the other maker's goods,
    and the pallet, stayed in transit for ever, with no way to take them back."""
    other = gtin(1)
    commission(sc, "S1")
    set_range(sc, "medico-pharma", GTIN)
    made = do(sc, "other-pharma", "commission", gtin=other, lot=LOT, expiry=EXPIRY, serials=["O1"])
    assert made.ok, made
    assert do(sc, "other-pharma", "ship", items=[f"{other}:O1"], to="medico-pharma").ok
    assert do(sc, "medico-pharma", "receive", items=[f"{other}:O1"]).ok
    assert do(sc, "medico-pharma", "aggregate", sscc=CASE, items=[pkg("S1")]).ok
    assert do(sc, "medico-pharma", "aggregate", sscc=PALLET, items=[CASE, f"{other}:O1"]).ok
    assert do(sc, "medico-pharma", "ship", items=[PALLET], to="pharmalink").ok
    reported = do(sc, "pharmalink", "sensor", items=[PALLET], readings=[HOT])
    assert reported.ok, reported
    destroy = {"number": 1, "decision": "destroy", "reason": "30 C for 6 h"}
    assert do(sc, "medico-pharma", "excursion_resolve", **destroy).ok
    assert package(sc, "S1")["status"] == "destroyed"
    # The destroyed package has left its case: what is still in the chain arrives.
    assert package(sc, "S1")["container"] is None
    assert sc.state("supply", f"sscc/{CASE}")["children"] == []
    received = do(sc, "pharmalink", "receive", items=[PALLET])
    assert received.ok, received
    assert sc.state("supply", f"pkg/{other}/O1")["owner"] == "pharmalink"
    assert sc.state("supply", f"sscc/{PALLET}")["owner"] == "pharmalink"


def test_destroying_an_excursion_at_rest_leaves_the_rest_of_the_pallet_movable(
    sc: Chain,
) -> None:
    commission(sc, "S1", "S2")
    set_range(sc, "medico-pharma", GTIN)
    assert do(sc, "medico-pharma", "aggregate", sscc=CASE, items=[pkg("S1")]).ok
    assert do(sc, "medico-pharma", "aggregate", sscc=PALLET, items=[CASE]).ok
    assert do(sc, "medico-pharma", "sensor", items=[CASE], readings=[HOT]).ok
    destroy = {"number": 1, "decision": "destroy", "reason": "freezer fault"}
    assert do(sc, "medico-pharma", "excursion_resolve", **destroy).ok
    assert do(sc, "medico-pharma", "ship", items=[PALLET], to="pharmalink").ok
    assert do(sc, "pharmalink", "receive", items=[PALLET]).ok


def test_an_excursion_keeps_only_the_named_items_that_hold_its_packages(sc: Chain) -> None:
    """A maker with many GTINs (each with a range) names one package of each in one report:
    every excursion stored the whole list of named items, so one 64 KiB report of a
    thousand items wrote a thousand excursions of a thousand items each (quadratic)."""
    codes = [gtin(10 + n) for n in range(4)]
    for code in codes:
        made = do(
            sc, "other-pharma", "commission", gtin=code, lot=LOT, expiry=EXPIRY, serials=["X"]
        )
        assert made.ok, made
        set_range(sc, "other-pharma", code)
    named = [f"{code}:X" for code in codes]
    result = do(sc, "other-pharma", "sensor", items=named, readings=[HOT])
    assert result.ok, result
    for number, item in enumerate(named, start=1):
        assert excursion(sc, number)["items"] == [item]


def test_another_org_cannot_take_the_id_a_partners_event_would_get(
    sc: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TransformationEvent without a transformationID gets an id made from its hash.
    Another maker that knows the event (its partner sent it the document) recorded a
    step of its own under that event id first: the real transformer's import of the
    event was refused (`already_exists`) for ever. Through supply.epcis: an event naming
    no party is applied as the importer's own, so whoever imports it first acts on it."""
    as_dispatcher(monkeypatch, "supply.transform")
    event = "ni:///sha-256;" + "ef" * 32 + "?ver=CBV2.0"
    kit_gtin = gtin(20)
    made = do(
        sc, "other-pharma", "commission", gtin=gtin(21), lot=LOT, expiry=EXPIRY, serials=["Z"]
    )
    assert made.ok, made
    first = do(
        sc,
        "other-pharma",
        "transform",
        inputs=[f"{gtin(21)}:Z"],
        outputs=[{"gtin": kit_gtin, "lot": "K", "expiry": EXPIRY, "serials": ["K1"]}],
        event_id=event,
    )
    assert first.ok, first
    commission(sc, "S1")
    own = do(
        sc,
        "medico-pharma",
        "transform",
        inputs=[pkg("S1")],
        outputs=[{"gtin": gtin(22), "lot": "K", "expiry": EXPIRY, "serials": ["K1"]}],
        event_id=event,
    )
    assert own.ok, own
    # Each org's step got an id of its own; each names the event it recorded.
    ids = {transformed(first), transformed(own)}
    assert len(ids) == 2
    for each in ids:
        assert sc.state("supply", f"xform/{each}")["parts"][0]["event_id"] == event


def transformed(result: Any) -> str:
    return str(
        next(e for e in result.events if e["type"] == "supply.transformed")["transformation"]
    )


def _brute_force(allowed: AllowedRange, readings: list[Reading]) -> Any:
    """The rule as first written: every reading against the range, the first worst wins."""
    worst: Any = None
    for index, reading in enumerate(readings):
        if reading.type != "Temperature" or reading.uom is None:
            continue
        below = allowed.min_mc - cc.to_milli_celsius(reading.lowest, reading.uom)
        above = cc.to_milli_celsius(reading.highest, reading.uom) - allowed.max_mc
        if below <= 0 and above <= 0:
            continue
        by = max(below, above)
        if worst is None or by > worst[0]:
            side = "below" if below >= above else "above"
            worst = (by, cc.Excursion(index, reading, side, -((-by.numerator) // by.denominator)))
    return None if worst is None else worst[1]


_reading = st.builds(
    lambda value, low, high, uom, kind: Reading.model_validate(
        {"type": kind, "uom": uom, "value": value, "min": min(low, high), "max": max(low, high)}
    ),
    st.integers(-20_000, 60_000),
    st.integers(-20_000, 60_000),
    st.integers(-20_000, 60_000),
    st.sampled_from(["CEL", "FAR", "KEL"]),
    st.sampled_from(["Temperature", "Temperature", "Humidity"]),
)


@given(
    st.lists(_reading, min_size=1, max_size=12),
    st.lists(st.tuples(st.integers(-5_000, 30_000), st.integers(0, 20_000)), max_size=6),
)
def test_judging_many_ranges_at_once_gives_the_rule_as_first_written(
    readings: list[Reading], bounds: list[tuple[int, int]]
) -> None:
    judge = cc.excursion_judge(readings)
    for low, width in bounds:
        allowed = AllowedRange(min_mc=low, max_mc=low + width)
        assert judge(allowed) == _brute_force(allowed, readings)
        assert cc.excursion(allowed, readings) == _brute_force(allowed, readings)


def test_a_report_over_many_gtins_converts_each_reading_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A maker gave a range to each of a thousand GTINs and named one package of each in
    a report of 256 readings: every reading was converted and judged against every range
    (a quarter of a million exact fractions, half a minute of one block), and the report
    could be sent again and again with readings in range. Now each reading is converted
    once, and each range compared with the extremes."""
    calls = 0
    convert = cc.to_milli_celsius

    def counted(value: int, uom: str) -> Fraction:
        nonlocal calls
        calls += 1
        return convert(value, uom)

    monkeypatch.setattr(cc, "to_milli_celsius", counted)
    readings = [Reading(type="Temperature", value=5000 + i, uom="FAR") for i in range(8)]
    ranges = {
        f"g{n}": ProductRangeRecord(
            gtin=f"g{n}",
            manufacturer="m",
            range=AllowedRange(min_mc=n, max_mc=n + 1000),
            changes=1,
            history=(),
        )
        for n in range(50)
    }
    worst = coldchain._worst_by_gtin(ranges, readings)
    assert set(worst) == set(ranges)
    # Two conversions per reading for the extremes, two for each range's worst reading.
    assert calls <= 2 * len(readings) + 2 * len(ranges)


@pytest.mark.parametrize("uri", ["https://[::1/414/0614141000005", "http://[x]/417/0614141000005"])
def test_a_malformed_host_in_a_digital_link_is_a_stable_error(uri: str) -> None:
    """`urlsplit` raised a bare ValueError on a bracketed host: inside `apply` (the EPCIS
    dispatcher resolving an event's party) that failed the transaction as `apply_failed`
    with Python's message, and crashed a client-side import."""
    with pytest.raises(LedgerError) as raised:
        parties.parse_party(uri)
    assert raised.value.code == ErrorCode.INVALID_FIELD


BAD_UTF8 = "https://id.gs1.org/01/09506000134352/21/%ff"


@pytest.mark.parametrize(
    ("mapping", "event"),
    [
        (
            coldchain.sensor_report_from_epcis,
            {
                "type": "ObjectEvent",
                "epcList": [BAD_UTF8],
                "sensorElementList": [
                    {"sensorReport": [{"type": "gs1:Temperature", "value": 5, "uom": "CEL"}]}
                ],
            },
        ),
        (
            transform.transform_from_epcis,
            {"type": "TransformationEvent", "inputEPCList": [BAD_UTF8]},
        ),
        (
            ti.transaction_from_epcis,
            {
                "type": "TransactionEvent",
                "action": "ADD",
                "bizTransactionList": [{"type": "po", "bizTransaction": "urn:x:po:1"}],
                "sourceList": [
                    {"type": "owning_party", "source": "urn:healthledger:org:medico-pharma"}
                ],
                "destinationList": [
                    {"type": "owning_party", "destination": "urn:healthledger:org:pharmalink"}
                ],
                "quantityList": [
                    {"epcClass": "https://id.gs1.org/01/09506000134352/10/%C3", "quantity": 1}
                ],
            },
        ),
    ],
)
def test_a_percent_escape_that_is_no_utf8_is_a_stable_error(mapping: Any, event: Any) -> None:
    """`%ff` in a serial raised UnicodeDecodeError from `item_of_epc`: the transformation
    mapping let it escape (only LedgerError becomes `event N: field: ...`), and the sensor
    mapping blamed `sensorElementList` for an EPC. Each names the field now."""
    with pytest.raises(LedgerError) as raised:
        mapping(0, event, lambda uri: uri.rsplit(":", 1)[-1])
    assert raised.value.message.startswith(
        ("event 0: epcList[0]", "event 0: inputEPCList[0]", "event 0: quantityList[0]")
    )


EVENT = "ni:///sha-256;" + "9a" * 32 + "?ver=CBV2.0"


def test_a_typed_transaction_cannot_claim_an_epcis_event_id(sc: Chain) -> None:
    """`event_id` names the EPCIS event a record came from; only supply.epcis, which hashes
    the raw event it carries, may set it. Sent on a typed transaction, it was a sender's
    word: a repackager labelled its own step with any hash and the step vanished from the
    package's EPCIS export (steps with an event id are left to their raw event, and
    there was none), and a TI or sensor report could name another's event."""
    commission(sc, "S1", "S2")
    before = sc.domain_state()
    kit = {"gtin": gtin(30), "lot": "K", "expiry": EXPIRY, "serials": ["K1"]}
    hidden = do(sc, "medico-pharma", "transform", inputs=[pkg("S1")], outputs=[kit], event_id=EVENT)
    assert hidden.code == "invalid_field", hidden
    sensor = do(sc, "medico-pharma", "sensor", items=[pkg("S2")], readings=[HOT], event_id=EVENT)
    assert sensor.code == "invalid_field", sensor
    sale = do(
        sc,
        "medico-pharma",
        "transaction",
        buyer="pharmalink",
        biz_transactions=[{"type": "po", "id": "PO-1"}],
        lines=[{"gtin": GTIN, "lot": LOT, "quantity": 1}],
        statement=ti.STATEMENT_SHA256,
        event_id=EVENT,
    )
    assert sale.code == "invalid_field", sale
    assert sc.domain_state() == before
    # The operations themselves keep the id the EPCIS dispatcher gives them.
    assert do(sc, "medico-pharma", "transform", inputs=[pkg("S1")], outputs=[kit]).ok
