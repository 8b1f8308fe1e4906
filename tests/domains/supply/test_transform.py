"""`supply.transform`: inputs consumed, outputs commissioned, the link kept both ways."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from epcis_standin import as_dispatcher
from test_custody import GTIN, LOT, PARTNERS, commission, do, move, package, pkg, verdict
from test_supply_attacks import loop_container

from conftest import Chain, make_genesis
from healthledger.app.application import Application
from healthledger.app.reader import SnapshotReader
from healthledger.domains.supply import queries as q
from healthledger.domains.supply import transform as x
from healthledger.domains.supply.epcis import epc_uri
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.domains.supply.messages import MAX_COMMISSION
from healthledger.domains.supply.transformations import (
    TransformationParams,
    transformation,
)
from healthledger.domains.supply.views import PackageParams
from healthledger.ledger.block import TxResult
from healthledger.ledger.context import BlockInfo
from healthledger.ledger.store import Store

REPACKAGER = "other-pharma"  # a manufacturer that repackages what it bought
KIT = "0950600099999"[:13] + str(gtin_check_digit("0950600099999"[:13]))
KIT_LOT, KIT_EXPIRY = "K1", "2027-01-31"


def sscc(n: int) -> str:
    body = f"0061414{n:010d}"
    return body + str(gtin_check_digit(body))


@pytest.fixture
def sc(tmp_path: Path) -> Iterator[Chain]:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(make_genesis(PARTNERS))
    yield Chain(app, store)
    store.close()


def kit(*serials: str, gtin: str = KIT, lot: str = KIT_LOT) -> dict[str, Any]:
    return {"gtin": gtin, "lot": lot, "expiry": KIT_EXPIRY, "serials": list(serials)}


def xform(
    sc: Chain, org: str, inputs: list[str], *outputs: dict[str, Any], **more: Any
) -> TxResult:
    return do(sc, org, "transform", inputs=inputs, outputs=list(outputs), **more)


def bought(sc: Chain, *serials: str) -> None:
    """Packages made by medico-pharma, now held by the repackager."""
    commission(sc, *serials)
    move(sc, list(serials), ["medico-pharma", REPACKAGER])


def transformed_id(result: TxResult) -> str:
    return str(
        next(e for e in result.events if e["type"] == "supply.transformed")["transformation"]
    )


def history(sc: Chain, gtin: str, serial: str) -> Any:
    return q.package_history(SnapshotReader(sc.store), PackageParams(gtin=gtin, serial=serial))


def test_a_transformations_links_both_ways(sc: Chain) -> None:
    bought(sc, "S1", "S2")
    result = xform(sc, REPACKAGER, [pkg("S1"), pkg("S2")], kit("K1", "K2"))
    assert result.ok, result
    xid = transformed_id(result)
    for serial in ("S1", "S2"):
        record = package(sc, serial)
        assert (record["status"], record["owner"]) == ("transformed", REPACKAGER)
        assert record["history"][-1][1:] == ["transform", REPACKAGER, xid]
        consumed = history(sc, GTIN, serial).consumed_by
        assert (consumed.transformation, consumed.items) == (xid, [f"{KIT}:K1", f"{KIT}:K2"])
        assert history(sc, GTIN, serial).produced_by is None
    for serial in ("K1", "K2"):
        made = sc.state("supply", f"pkg/{KIT}/{serial}")
        assert (made["owner"], made["manufacturer"], made["lot"]) == (REPACKAGER, REPACKAGER, "K1")
        produced = history(sc, KIT, serial).produced_by
        assert (produced.transformation, produced.items) == (xid, [pkg("S1"), pkg("S2")])
        assert produced.org == REPACKAGER and produced.total == 2
    answer = transformation(SnapshotReader(sc.store), TransformationParams(id=xid))
    assert answer.inputs == [pkg("S1"), pkg("S2")]
    assert answer.outputs == [f"{KIT}:K1", f"{KIT}:K2"]
    assert answer.org == REPACKAGER and answer.parts[0].consumed == 2
    assert answer.proof.key == f"xform/{xid}" and answer.proof.raw_value is not None
    # The repackager held two of medico's lot; now none; it holds two kits of its own.
    assert sc.state("supply", f"holders/{GTIN}") == {}
    assert sc.state("supply", f"holders/{KIT}") == {KIT_LOT: {REPACKAGER: 2}}


def test_inputs_cannot_move_afterwards_outputs_can(sc: Chain) -> None:
    bought(sc, "S1")
    assert xform(sc, REPACKAGER, [pkg("S1")], kit("K1")).ok
    for tx_type, extra in (
        ("ship", {"to": "pharmalink"}),
        ("export", {"country": "DE"}),
        ("destroy", {"reason": "x"}),
    ):
        assert do(sc, REPACKAGER, tx_type, items=[pkg("S1")], **extra).code == "invalid_state"
    # Consumed: presenting it again is refused at the counter and raises an alert.
    assert verdict(sc, "pharmalink", "S1") == "transformed"
    assert do(sc, REPACKAGER, "ship", items=[f"{KIT}:K1"], to="pharmalink").ok
    assert do(sc, "pharmalink", "receive", items=[f"{KIT}:K1"]).ok


def test_a_named_case_is_consumed_with_its_contents(sc: Chain) -> None:
    bought(sc, "S1", "S2")
    case = sscc(1)
    assert do(sc, REPACKAGER, "aggregate", sscc=case, items=[pkg("S1"), pkg("S2")]).ok
    result = xform(sc, REPACKAGER, [case], kit("K1"))
    assert result.ok, result
    xid = transformed_id(result)
    assert sc.state("supply", f"sscc/{case}")["status"] == "transformed"
    assert package(sc, "S2")["status"] == "transformed"
    assert history(sc, GTIN, "S2").consumed_by.transformation == xid
    assert sc.state("supply", f"xform_in/{case}") == {"transformation": xid, "part": 0}
    answer = transformation(SnapshotReader(sc.store), TransformationParams(id=xid))
    assert answer.inputs == [case] and answer.parts[0].consumed == 2


def test_steps_sharing_a_transformation_id_form_one_transformation(sc: Chain) -> None:
    bought(sc, "S1", "S2")
    xid = "urn:epc:id:gdti:0614141.12345.400"
    assert xform(sc, REPACKAGER, [pkg("S1")], transformation_id=xid).ok
    assert xform(sc, REPACKAGER, [], kit("K1"), transformation_id=xid).ok
    assert xform(sc, REPACKAGER, [pkg("S2")], kit("K2"), transformation_id=xid).ok
    answer = transformation(SnapshotReader(sc.store), TransformationParams(id=xid))
    assert answer.inputs == [pkg("S1"), pkg("S2")]
    assert answer.outputs == [f"{KIT}:K1", f"{KIT}:K2"]
    assert len(answer.parts) == 3
    # The first output links to inputs consumed before and after it.
    assert history(sc, KIT, "K1").produced_by.items == [pkg("S1"), pkg("S2")]
    assert history(sc, GTIN, "S1").consumed_by.items == [f"{KIT}:K1", f"{KIT}:K2"]
    # Another organisation cannot join it, nor take over its id.
    commission(sc, "S3")
    taken = xform(sc, "medico-pharma", [pkg("S3")], transformation_id=xid)
    assert taken.code == "unauthorized" and REPACKAGER in taken.message
    assert package(sc, "S3")["status"] == "active"


def refused(sc: Chain, org: str, inputs: list[str], *outputs: dict[str, Any], **more: Any) -> str:
    """The code of a refused transform; it changed nothing."""
    before = sc.domain_state()
    result = xform(sc, org, inputs, *outputs, **more)
    assert not result.ok, result
    assert sc.domain_state() == before
    return result.code


def test_refusals(sc: Chain) -> None:
    bought(sc, "S1", "S2", "S3", "S4")
    commission(sc, "M1")  # still medico-pharma's
    assert refused(sc, REPACKAGER, [pkg("M1")], kit("K1")) == "unauthorized"  # not held
    assert refused(sc, "pharmalink", [pkg("S1")], kit("K1")) == "unauthorized"  # not a maker
    assert refused(sc, REPACKAGER, [pkg("S1"), pkg("S1")], kit("K1")) == "conflict"
    assert refused(sc, REPACKAGER, [f"{GTIN}:nope"], kit("K1")) == "not_found"
    # An output serial that exists, one named twice, an input as an output.
    assert xform(sc, REPACKAGER, [pkg("S1")], kit("K1")).ok
    assert refused(sc, REPACKAGER, [pkg("S2")], kit("K1")) == "already_exists"
    assert refused(sc, REPACKAGER, [pkg("S2")], kit("K2", "K2")) == "conflict"
    # Outputs of another manufacturer's GTIN (the first commissioner owns it).
    assert refused(sc, REPACKAGER, [pkg("S2")], kit("N1", gtin=GTIN)) == "unauthorized"
    # Replay: the input is consumed already.
    assert refused(sc, REPACKAGER, [pkg("S1")], kit("K9")) == "invalid_state"
    # A lot of the kit with another expiry.
    other = {**kit("K8"), "expiry": "2028-01-31"}
    assert refused(sc, REPACKAGER, [pkg("S2")], other) == "conflict"
    # One side only, without a transformation to join; nothing at all.
    assert refused(sc, REPACKAGER, [pkg("S2")]) == "invalid_field"
    assert refused(sc, REPACKAGER, [], kit("K7")) == "invalid_field"
    assert refused(sc, REPACKAGER, [], transformation_id="urn:x:y") == "invalid_field"
    assert refused(sc, REPACKAGER, [pkg("S2")], kit("K7"), transformation_id="xf-0") == (
        "invalid_field"
    )


def test_flagged_inputs_are_refused(sc: Chain) -> None:
    bought(sc, "S1", "S2", "S3")
    assert do(sc, "health-authority", "quarantine", gtin=GTIN, serial="S1", reason="r").ok
    assert refused(sc, REPACKAGER, [pkg("S1")], kit("K1")) == "invalid_state"
    assert do(sc, "medico-pharma", "recall", gtin=GTIN, serial_from="S2", serial_to="S2",
              reason="r").ok  # fmt: skip
    assert refused(sc, REPACKAGER, [pkg("S2")], kit("K1")) == "invalid_state"
    # A scan outside its custody path makes S3 suspect.
    assert verdict(sc, "corner-pharmacy", "S3") == "suspect"
    assert refused(sc, REPACKAGER, [pkg("S3")], kit("K1")) == "invalid_state"


def test_a_packed_input_moves_only_with_its_case(sc: Chain) -> None:
    bought(sc, "S1")
    case = sscc(2)
    assert do(sc, REPACKAGER, "aggregate", sscc=case, items=[pkg("S1")]).ok
    assert refused(sc, REPACKAGER, [pkg("S1")], kit("K1")) == "conflict"
    assert refused(sc, REPACKAGER, [case, pkg("S1")], kit("K1")) == "conflict"


def test_a_container_holding_itself_in_state_is_refused_not_walked(sc: Chain) -> None:
    """State is not trusted to be a tree: a forged loop fails the step with `cycle`."""
    a, b = sscc(11), sscc(12)
    commission(sc, "S1")
    height = sc.app.info().height + 1
    sc.app.finalize_block(BlockInfo(height, 1_700_000_000_000 + height, "test"), [])
    forged = {
        ("supply", f"sscc/{a}"): loop_container(a, b),
        ("supply", f"sscc/{b}"): loop_container(b, a),
    }
    sc.app._pending.state.update(forged)  # type: ignore[union-attr]
    sc.app.commit()
    assert refused(sc, "medico-pharma", [a], kit("K1")) == "cycle"
    assert refused(sc, "medico-pharma", [a, pkg("S1")], kit("K1")) == "cycle"


def test_huge_lists_are_refused(sc: Chain) -> None:
    bought(sc, "S1")
    half = MAX_COMMISSION // 2 + 1
    two = (kit(*[f"A{n}" for n in range(half)]), kit(*[f"B{n}" for n in range(half)]))
    assert refused(sc, REPACKAGER, [pkg("S1")], *two) == "too_large"
    many_groups = [kit(f"G{n}", lot=f"L{n}") for n in range(x.MAX_OUTPUT_GROUPS + 1)]
    assert refused(sc, REPACKAGER, [pkg("S1")], *many_groups) == "invalid_field"
    assert refused(sc, REPACKAGER, [pkg("S1")] * 1001, kit("K1")) == "invalid_field"
    long_id = "urn:" + "x" * 300
    assert refused(sc, REPACKAGER, [pkg("S1")], kit("K1"), transformation_id=long_id) == (
        "invalid_field"
    )


def test_a_transformation_gathers_a_bounded_number_of_steps(
    sc: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(x, "MAX_PARTS", 2)
    xid = "urn:example:kit-run"
    commission(sc, "S1", "S2", "S3")
    for serial in ("S1", "S2"):
        assert xform(sc, "medico-pharma", [pkg(serial)], transformation_id=xid).ok
    full = xform(sc, "medico-pharma", [pkg("S3")], transformation_id=xid)
    assert full.code == "too_large"
    assert package(sc, "S3")["status"] == "active"
    # And a bounded number of items named across its steps.
    monkeypatch.setattr(x, "MAX_TRANSFORMATION_ITEMS", 3)
    other = "urn:example:other-run"
    assert xform(sc, "medico-pharma", [pkg("S3")], kit("K1"), transformation_id=other).ok
    over = xform(sc, "medico-pharma", [], kit("K2", "K3"), transformation_id=other)
    assert over.code == "too_large" and "items" in over.message


def test_generated_ids_are_per_step_and_never_reused(
    sc: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_dispatcher(monkeypatch, "supply.transform")
    commission(sc, "S1", "S2")
    event = "ni:///sha-256;" + "ab" * 32 + "?ver=CBV2.0"
    first = xform(sc, "medico-pharma", [pkg("S1")], kit("K1"), event_id=event)
    # The event's hash with the sender: another member naming the event gets another id.
    made = "xf-" + hashlib.sha256(("medico-pharma\n" + "ab" * 32).encode()).hexdigest()[:16]
    assert first.ok and transformed_id(first) == made
    again = xform(sc, "medico-pharma", [pkg("S2")], kit("K2"), event_id=event)
    assert again.code == "already_exists"
    record = sc.state("supply", "xform/" + made)
    assert record["parts"][0]["event_id"] == event
    # The inputs' lot still counts what was commissioned in it.
    assert sc.state("supply", f"lot/{GTIN}/{LOT}")["count"] == 2


def test_a_partners_transformation_event_applies_as_the_senders_step(
    sc: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the supply.epcis dispatcher does with a TransformationEvent of the sender's."""
    as_dispatcher(monkeypatch, "supply.transform")
    bought(sc, "S1")
    body = {
        "type": "TransformationEvent",
        "inputEPCList": [epc_uri(pkg("S1"))],
        "outputEPCList": [epc_uri(f"{KIT}:K1")],
        "ilmd": {"cbvmda:lotNumber": KIT_LOT, "cbvmda:itemExpirationDate": KIT_EXPIRY},
    }
    mapped = x.transform_from_epcis(0, body, lambda uri: REPACKAGER)
    assert mapped is not None
    event_id = "ni:///sha-256;" + "cd" * 32 + "?ver=CBV2.0"
    payload = mapped.model_copy(update={"event_id": event_id}).model_dump(mode="json")
    result = sc.one(sc.signer(REPACKAGER).sign("supply.transform", payload))
    assert result.ok, result
    linked = history(sc, KIT, "K1").produced_by
    assert (linked.items, linked.event_id) == ([pkg("S1")], event_id)
    # Its export is the partner's raw event (supply.epcis keeps it), never one rebuilt here.
    assert x.package_transformation_events(SnapshotReader(sc.store), KIT, "K1") == []


def test_a_native_step_is_exported_with_the_package(sc: Chain) -> None:
    bought(sc, "S1")
    assert xform(sc, REPACKAGER, [pkg("S1")], kit("K1")).ok
    reader = SnapshotReader(sc.store)
    (consumed,) = x.package_transformation_events(reader, GTIN, "S1")
    assert consumed == x.package_transformation_events(reader, KIT, "K1")[0]
    assert consumed["type"] == "TransformationEvent" and "transformationID" not in consumed
    assert consumed["ilmd"]["cbvmda:lotNumber"] == KIT_LOT
