"""Cold chain: allowed ranges, sensor reports, excursions quarantining a pallet's contents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_custody import EXPIRY, GTIN, LOT, PARTNERS, commission, do, package, pkg

from conftest import Chain, make_genesis
from healthledger.app.application import Application
from healthledger.domains.supply.coldchain import MAX_READINGS
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.errors import FloatNotAllowed, LedgerError
from healthledger.ledger.block import TxResult
from healthledger.ledger.store import Store

OTHER_GTIN = "0950600099990" + str(gtin_check_digit("0950600099990"))


def sscc(n: int) -> str:
    body = f"0061415{n:010d}"
    return body + str(gtin_check_digit(body))


PALLET, CASE_A, CASE_B = sscc(1), sscc(2), sscc(3)


@pytest.fixture
def sc(tmp_path: Path) -> Iterator[Chain]:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(make_genesis(PARTNERS))
    yield Chain(app, store)
    store.close()


def celsius(value: int, uom: str = "CEL", **more: Any) -> dict[str, Any]:
    """A temperature reading of `value` milli-units of `uom`."""
    return {"type": "Temperature", "value": value, "uom": uom, **more}


def report(sc: Chain, org: str, items: list[str], *readings: dict[str, Any]) -> TxResult:
    return do(sc, org, "sensor", items=items, readings=list(readings), device="urn:dev:logger-7")


def set_range(sc: Chain, low: int = 2000, high: int = 8000, gtin: str = GTIN) -> None:
    assert do(sc, "medico-pharma", "product_range", gtin=gtin, min_mc=low, max_mc=high).ok


def excursion(sc: Chain, number: int) -> Any:
    return sc.state("supply", f"excursion/{number:012d}")


def event(result: TxResult, kind: str) -> dict[str, Any]:
    return next(e for e in result.events if e["type"] == kind)


def build_pallet(sc: Chain) -> list[str]:
    """Pallet > two cases > two packages each, held by medico-pharma."""
    commission(sc, "S1", "S2", "S3", "S4")
    assert do(sc, "medico-pharma", "aggregate", sscc=CASE_A, items=[pkg("S1"), pkg("S2")]).ok
    assert do(sc, "medico-pharma", "aggregate", sscc=CASE_B, items=[pkg("S3"), pkg("S4")]).ok
    assert do(sc, "medico-pharma", "aggregate", sscc=PALLET, items=[CASE_A, CASE_B]).ok
    return ["S1", "S2", "S3", "S4"]


def test_an_excursion_quarantines_a_pallets_contents_then_the_maker_clears(sc: Chain) -> None:
    serials = build_pallet(sc)
    set_range(sc)
    assert do(sc, "medico-pharma", "ship", items=[PALLET], to="pharmalink").ok
    # In transit to pharmalink: the receiver's logger reads 9.5 °C at most (above 8 °C).
    result = report(sc, "pharmalink", [PALLET], celsius(4000), celsius(6000, max=9500, min=5000))
    assert result.ok, result
    sensor = event(result, "supply.sensor_report")
    assert sensor["excursions"] == [1] and sensor["unjudged"] == []
    found = excursion(sc, 1)
    assert found["custodian"] == "medico-pharma" and found["receiver"] == "pharmalink"
    assert found["reporter"] == "pharmalink" and found["status"] == "open"
    assert found["serials"] == serials and found["items"] == [PALLET]
    assert found["worst"]["index"] == 1 and found["worst"]["side"] == "above"
    assert found["worst"]["by_mc"] == 1500
    for serial in serials:
        record = package(sc, serial)
        assert record["quarantined"] is True
        assert record["history"][-1][1:] == ["excursion", "pharmalink", "excursion 1"]
    # Quarantined goods are received (custody is a fact) but move no further, nor dispense.
    assert do(sc, "pharmalink", "receive", items=[PALLET]).ok
    assert do(sc, "pharmalink", "ship", items=[PALLET], to="corner-pharmacy").code == (
        "invalid_state"
    )
    assert do(sc, "pharmalink", "disaggregate", sscc=PALLET).ok
    assert do(sc, "pharmalink", "disaggregate", sscc=CASE_A).ok
    held = do(sc, "pharmalink", "ship", items=[pkg("S1")], to="corner-pharmacy")
    assert held.code == "invalid_state"
    assert held.message.endswith("is quarantined by a temperature excursion (supply excursions)")
    # Only the GTIN's manufacturer decides.
    resolve = {"number": 1, "decision": "clear", "reason": "stability data cover 9.5 C for 2 h"}
    assert do(sc, "pharmalink", "excursion_resolve", **resolve).code == "unauthorized"
    assert do(sc, "other-pharma", "excursion_resolve", **resolve).code == "unauthorized"
    cleared = do(sc, "medico-pharma", "excursion_resolve", **resolve)
    assert cleared.ok, cleared
    assert excursion(sc, 1)["status"] == "cleared"
    assert excursion(sc, 1)["resolution"]["by"] == "medico-pharma"
    assert all(package(sc, s)["quarantined"] is False for s in serials)
    assert do(sc, "pharmalink", "ship", items=[pkg("S1")], to="corner-pharmacy").ok
    # Resolved once only.
    assert do(sc, "medico-pharma", "excursion_resolve", **resolve).code == "invalid_state"


def test_dispense_is_refused_and_the_maker_destroys(sc: Chain) -> None:
    commission(sc, "D1", "D2")
    set_range(sc)
    assert do(sc, "medico-pharma", "ship", items=[pkg("D1"), pkg("D2")], to="corner-pharmacy").ok
    assert do(sc, "corner-pharmacy", "receive", items=[pkg("D1"), pkg("D2")]).ok
    # A freezer fault: -1.5 °C minimum (below 2 °C).
    result = report(sc, "corner-pharmacy", [pkg("D1"), pkg("D2")], celsius(3000, min=-1500))
    assert result.ok, result
    found = excursion(sc, 1)
    assert (found["custodian"], found["receiver"]) == ("corner-pharmacy", None)
    assert found["worst"]["side"] == "below" and found["worst"]["by_mc"] == 3500
    assert do(sc, "corner-pharmacy", "dispense", gtin=GTIN, serial="D1").code == "invalid_state"
    verified = do(sc, "corner-pharmacy", "verify", gtin=GTIN, serial="D1", lot=LOT, expiry=EXPIRY)
    assert event(verified, "supply.verified")["verdict"] == "suspect"
    destroyed = do(
        sc, "medico-pharma", "excursion_resolve", number=1, decision="destroy", reason="frozen"
    )
    assert destroyed.ok, destroyed
    assert excursion(sc, 1)["status"] == "destroyed"
    for serial in ("D1", "D2"):
        record = package(sc, serial)
        assert record["status"] == "destroyed"
        assert record["history"][-1][1:] == ["destroy", "medico-pharma", "excursion 1: frozen"]
    assert sc.state("supply", f"holders/{GTIN}") == {}


def test_in_range_readings_are_recorded_without_quarantine(sc: Chain) -> None:
    commission(sc, "R1")
    set_range(sc)
    result = report(sc, "medico-pharma", [pkg("R1")], celsius(4000), celsius(8000, min=2000))
    assert result.ok, result
    assert event(result, "supply.sensor_report")["excursions"] == []
    assert package(sc, "R1")["quarantined"] is False
    recorded = sc.state("supply", "sensor/000000000001")
    assert recorded["judged"] == [GTIN] and len(recorded["readings"]) == 2
    assert recorded["reporter"] == "medico-pharma"
    assert sc.state("supply", f"cold/pkg/{GTIN}/R1") == {"reports": [1], "total": 1, "open": []}


def test_a_product_without_range_is_recorded_not_judged(sc: Chain) -> None:
    commission(sc, "U1")
    result = report(sc, "medico-pharma", [pkg("U1")], celsius(90_000))
    assert result.ok, result
    assert event(result, "supply.sensor_report")["unjudged"] == [GTIN]
    assert package(sc, "U1")["quarantined"] is False


def test_humidity_is_kept_but_not_judged(sc: Chain) -> None:
    commission(sc, "H1")
    set_range(sc)
    humidity = {"type": "RelativeHumidity", "value": 99_000, "uom": "A93"}
    assert report(sc, "medico-pharma", [pkg("H1")], humidity).ok
    assert package(sc, "H1")["quarantined"] is False
    assert sc.state("supply", "sensor/000000000001")["readings"][0]["type"] == "RelativeHumidity"


def test_fahrenheit_and_kelvin_are_judged_exactly(sc: Chain) -> None:
    commission(sc, "F1", "F2", "K1")
    set_range(sc)
    # 46.4 °F is exactly 8 °C: in range; 46.401 °F is 8.0006 °C: out, by 1 m°C rounded up.
    assert report(sc, "medico-pharma", [pkg("F1")], celsius(46_400, "FAR")).ok
    assert package(sc, "F1")["quarantined"] is False
    assert report(sc, "medico-pharma", [pkg("F2")], celsius(46_401, "FAR")).ok
    assert package(sc, "F2")["quarantined"] is True
    assert excursion(sc, 1)["worst"]["by_mc"] == 1
    # 275.15 K is 2 °C (in range); 275.149 K is below.
    assert report(sc, "medico-pharma", [pkg("K1")], celsius(275_150, "KEL")).ok
    assert package(sc, "K1")["quarantined"] is False
    assert report(sc, "medico-pharma", [pkg("K1")], celsius(275_149, "KEL")).ok
    assert package(sc, "K1")["quarantined"] is True


def test_a_non_holder_cannot_quarantine_a_competitors_stock(sc: Chain) -> None:
    commission(sc, "N1")
    set_range(sc)
    before = sc.domain_state()
    hot = celsius(30_000)
    assert report(sc, "pharmalink", [pkg("N1")], hot).code == "unauthorized"
    assert report(sc, "other-pharma", [pkg("N1")], hot).code == "unauthorized"
    assert sc.domain_state() == before
    # An insurer may not send sensor reports at all.
    assert report(sc, "acme-insurance", [pkg("N1")], hot).code == "unauthorized"
    # A regulator may, on anyone's goods.
    assert report(sc, "health-authority", [pkg("N1")], hot).ok
    assert excursion(sc, 1)["custodian"] == "medico-pharma"
    assert excursion(sc, 1)["reporter"] == "health-authority"


def test_only_the_manufacturer_sets_a_range(sc: Chain) -> None:
    commission(sc, "M1")
    payload = {"gtin": GTIN, "min_mc": 2000, "max_mc": 8000}
    assert do(sc, "other-pharma", "product_range", **payload).code == "unauthorized"
    assert do(sc, "pharmalink", "product_range", **payload).code == "unauthorized"
    assert do(sc, "medico-pharma", "product_range", **{**payload, "gtin": OTHER_GTIN}).code == (
        "not_found"
    )
    assert do(sc, "medico-pharma", "product_range", **{**payload, "min_mc": 9000}).ok is False
    set_range(sc)
    set_range(sc, -20_000, 25_000)
    stored = sc.state("supply", f"range/{GTIN}")
    assert stored["range"] == {"min_mc": -20_000, "max_mc": 25_000}
    assert stored["changes"] == 2 and [s["max_mc"] for s in stored["history"]] == [8000, 25_000]


def test_clearing_an_excursion_keeps_a_regulators_quarantine(sc: Chain) -> None:
    commission(sc, "Q1")
    set_range(sc)
    quarantine = {"gtin": GTIN, "serial": "Q1", "reason": "suspected tampering"}
    assert do(sc, "health-authority", "quarantine", **quarantine).ok
    assert report(sc, "medico-pharma", [pkg("Q1")], celsius(12_000)).ok
    assert report(sc, "medico-pharma", [pkg("Q1")], celsius(13_000)).ok
    clear = {"decision": "clear", "reason": "within stability budget"}
    assert do(sc, "medico-pharma", "excursion_resolve", number=1, **clear).ok
    assert package(sc, "Q1")["quarantined"] is True  # excursion 2 and the regulator hold
    assert do(sc, "medico-pharma", "excursion_resolve", number=2, **clear).ok
    assert package(sc, "Q1")["quarantined"] is True  # the regulator's hold remains
    assert do(sc, "health-authority", "clear", **quarantine).ok
    assert package(sc, "Q1")["quarantined"] is False


def test_a_mixed_pallet_opens_one_excursion_per_manufacturer(sc: Chain) -> None:
    commission(sc, "X1")
    assert do(
        sc, "other-pharma", "commission", gtin=OTHER_GTIN, lot="O1", expiry=EXPIRY, serials=["Y1"]
    ).ok
    assert do(sc, "other-pharma", "ship", items=[f"{OTHER_GTIN}:Y1"], to="medico-pharma").ok
    assert do(sc, "medico-pharma", "receive", items=[f"{OTHER_GTIN}:Y1"]).ok
    items = [pkg("X1"), f"{OTHER_GTIN}:Y1"]
    assert do(sc, "medico-pharma", "aggregate", sscc=PALLET, items=items).ok
    set_range(sc)
    other = {"gtin": OTHER_GTIN, "min_mc": 15_000, "max_mc": 25_000}
    assert do(sc, "other-pharma", "product_range", **other).ok
    result = report(sc, "medico-pharma", [PALLET], celsius(10_000))
    assert event(result, "supply.sensor_report")["excursions"] == [1, 2]
    assert (excursion(sc, 1)["gtin"], excursion(sc, 1)["manufacturer"]) == (GTIN, "medico-pharma")
    assert excursion(sc, 2)["manufacturer"] == "other-pharma"
    clear = {"decision": "clear", "reason": "ok"}
    assert do(sc, "medico-pharma", "excursion_resolve", number=2, **clear).code == "unauthorized"
    assert do(sc, "other-pharma", "excursion_resolve", number=2, **clear).ok
    assert sc.state("supply", f"pkg/{OTHER_GTIN}/Y1")["quarantined"] is False
    assert package(sc, "X1")["quarantined"] is True


def test_huge_and_malformed_reports_are_refused(sc: Chain) -> None:
    commission(sc, "B1")
    set_range(sc)
    before = sc.domain_state()
    many = [celsius(5000)] * (MAX_READINGS + 1)
    assert report(sc, "medico-pharma", [pkg("B1")], *many).ok is False
    assert report(sc, "medico-pharma", [pkg("B1")], celsius(5000, "XYZ")).ok is False
    assert (
        report(sc, "medico-pharma", [pkg("B1")], {"type": "Temperature", "uom": "CEL"}).ok is False
    )
    assert report(sc, "medico-pharma", [pkg("B1")], celsius(10**12)).ok is False
    assert report(sc, "medico-pharma", [pkg("B1")], celsius(5000, min=6000, max=4000)).ok is False
    assert report(sc, "medico-pharma", [pkg("B1"), pkg("B1")], celsius(5000)).ok is False
    assert report(sc, "medico-pharma", [pkg("nope")], celsius(5000)).code == "not_found"
    with pytest.raises(FloatNotAllowed):  # no floats on chain: not even signed
        report(sc, "medico-pharma", [pkg("B1")], {"type": "Temperature", "value": 5.5})
    assert sc.domain_state() == before


def test_replays_and_unknown_excursions_are_refused(sc: Chain) -> None:
    commission(sc, "P1")
    set_range(sc)
    tx = sc.signer("medico-pharma").sign(
        "supply.sensor", {"items": [pkg("P1")], "readings": [celsius(20_000)]}
    )
    assert sc.one(tx).ok
    again = sc.one(tx)
    assert not again.ok
    assert sc.state("supply", "excursions") == {"count": 1}
    resolve = {"number": 7, "decision": "clear", "reason": "x"}
    assert do(sc, "medico-pharma", "excursion_resolve", **resolve).code == "not_found"


def test_a_finished_package_takes_no_readings(sc: Chain) -> None:
    commission(sc, "Z1")
    assert do(sc, "medico-pharma", "destroy", items=[pkg("Z1")], reason="damaged").ok
    assert report(sc, "medico-pharma", [pkg("Z1")], celsius(5000)).code == "invalid_state"


def test_an_inspector_reports_on_goods_it_does_not_hold(sc: Chain) -> None:
    """The inspector capability is enough (governance grants it; here the actor holds it)."""
    from healthledger.app.permissions import check_permission
    from healthledger.domains.supply import coldchain
    from healthledger.ledger.context import Actor, BlockInfo, TxContext

    commission(sc, "I1")
    set_range(sc)
    lab = Actor("k", "org", "city-lab", "city-lab", "laboratory", frozenset({"inspector"}))
    check_permission("supply.sensor", lab)
    block = BlockInfo(sc.app.info().height + 1, 1_700_000_009_000, "test")
    ctx = TxContext(sc.store.state_get, "supply", lab, block, "tx")
    payload = coldchain.SensorReport.model_validate(
        {"items": [pkg("I1")], "readings": [celsius(30_000)]}
    )
    coldchain.report_sensor(ctx, payload)
    assert ctx.get(f"pkg/{GTIN}/I1")["quarantined"] is True
    assert ctx.get("excursion/000000000001")["reporter"] == "city-lab"
    plain = Actor("k", "org", "city-lab", "city-lab", "laboratory")
    ctx = TxContext(sc.store.state_get, "supply", plain, block, "tx")
    with pytest.raises(LedgerError) as refused:
        coldchain.report_sensor(ctx, payload)
    assert refused.value.code == "unauthorized"


def test_a_pallet_whose_goods_were_destroyed_still_takes_readings(sc: Chain) -> None:
    build_pallet(sc)
    set_range(sc)
    assert report(sc, "medico-pharma", [CASE_A], celsius(20_000)).ok  # a packed case, alone
    assert excursion(sc, 1)["serials"] == ["S1", "S2"]
    assert package(sc, "S3")["quarantined"] is False
    resolve = {"number": 1, "decision": "destroy", "reason": "heat"}
    assert do(sc, "medico-pharma", "excursion_resolve", **resolve).ok
    # The destroyed packages are skipped; the live ones are judged.
    result = report(sc, "medico-pharma", [PALLET], celsius(20_000))
    assert result.ok, result
    assert excursion(sc, 2)["serials"] == ["S3", "S4"]
    assert sc.state("supply", f"cold/pkg/{GTIN}/S1")["total"] == 1
    assert sc.state("supply", f"cold/sscc/{CASE_A}")["total"] == 2
