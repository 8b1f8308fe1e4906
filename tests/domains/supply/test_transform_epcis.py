"""TransformationEvent to and from `supply.transform` (EPCIS 2.0, CBV 2.0 ILMD)."""

from __future__ import annotations

from typing import Any

import pytest

from healthledger.domains.supply.epcis import epc_uri
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.domains.supply.transform import (
    Output,
    Transform,
    transform_from_epcis,
    transform_to_epcis,
)
from healthledger.domains.supply.transformations import Transformation, TransformPart
from healthledger.errors import LedgerError

GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))
KIT = "0950600013438" + str(gtin_check_digit("0950600013438"))
XID = "urn:epc:id:gdti:0614141.12345.400"


def nobody(uri: str) -> str:
    raise AssertionError(f"the mapping resolves no party ({uri}): the dispatcher does")


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "TransformationEvent",
        "eventTime": "2026-03-01T10:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "inputEPCList": [epc_uri(f"{GTIN}:A1"), "urn:epc:id:sgtin:4012345.011122.25"],
        "outputEPCList": [epc_uri(f"{KIT}:K1"), epc_uri(f"{KIT}:K2")],
        "transformationID": XID,
        "bizStep": "commissioning",
        "ilmd": {"cbvmda:lotNumber": "K1", "cbvmda:itemExpirationDate": "2027-01-31"},
    }
    return {key: value for key, value in {**base, **fields}.items() if value is not None}


def refusal(body: dict[str, Any]) -> LedgerError:
    with pytest.raises(LedgerError) as refused:
        transform_from_epcis(7, body, nobody)
    return refused.value


def test_an_event_maps_to_a_transform() -> None:
    mapped = transform_from_epcis(7, event(), nobody)
    assert mapped == Transform(
        inputs=[f"{GTIN}:A1", "04012345111224:25"],
        outputs=[Output(gtin=KIT, lot="K1", expiry="2027-01-31", serials=["K1", "K2"])],
        transformation_id=XID,
    )


def test_outputs_of_several_gtins_share_the_lot_of_the_ilmd() -> None:
    other = "0950600013439" + str(gtin_check_digit("0950600013439"))
    body = event(outputEPCList=[epc_uri(f"{KIT}:K1"), epc_uri(f"{other}:O1")])
    mapped = transform_from_epcis(7, body, nobody)
    assert mapped is not None
    assert [(group.gtin, group.lot, group.serials) for group in mapped.outputs] == [
        (KIT, "K1", ["K1"]),
        (other, "K1", ["O1"]),
    ]


def test_class_level_quantities_alone_are_an_observation() -> None:
    quantities = [{"epcClass": "urn:epc:class:lgtin:4012345.011111.4444", "quantity": 10}]
    body = event(inputEPCList=None, outputEPCList=None, ilmd=None, inputQuantityList=quantities)
    assert transform_from_epcis(7, body, nobody) is None
    # Beside serialized EPCs, quantities stay in the raw event; the EPCs are applied.
    mixed = transform_from_epcis(7, event(inputQuantityList=quantities), nobody)
    assert mixed is not None and mixed.inputs[0] == f"{GTIN}:A1"


def test_inputs_alone_join_a_transformation() -> None:
    mapped = transform_from_epcis(7, event(outputEPCList=None, ilmd=None), nobody)
    assert mapped is not None and mapped.outputs == [] and mapped.transformation_id == XID


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"type": "ObjectEvent"}, "event 7: type:"),
        ({"ilmd": None}, "event 7: ilmd:"),
        ({"ilmd": {"cbvmda:lotNumber": "K1"}}, "event 7: ilmd.cbvmda:itemExpirationDate:"),
        (
            {"ilmd": {"cbvmda:lotNumber": "K1", "cbvmda:itemExpirationDate": "2027-02-30"}},
            "event 7: ilmd.cbvmda:itemExpirationDate:",
        ),
        (
            {"ilmd": {"cbvmda:lotNumber": "", "cbvmda:itemExpirationDate": "2027-01-31"}},
            "event 7: ilmd.cbvmda:lotNumber:",
        ),
        ({"inputEPCList": "urn:x"}, "event 7: inputEPCList:"),
        ({"inputEPCList": [5]}, "event 7: inputEPCList[0]:"),
        ({"inputEPCList": ["urn:epc:id:sgtin:1.2"]}, "event 7: inputEPCList[0]:"),
        (
            {"inputEPCList": [epc_uri(f"{GTIN}:A1"), epc_uri(f"{GTIN}:A1")]},
            "event 7: inputEPCList[1]:",
        ),
        ({"outputEPCList": [epc_uri("006141410000000012")]}, "event 7: outputEPCList[0]:"),
        ({"transformationID": 5}, "event 7: transformationID:"),
        ({"transformationID": "no scheme"}, "event 7: transformationID:"),
        ({"transformationID": "urn:" + "x" * 300}, "event 7: transformationID:"),
    ],
)
def test_refusals_name_the_event_and_field(fields: dict[str, Any], where: str) -> None:
    assert refusal(event(**fields)).message.startswith(where)


def test_huge_lists_are_too_large() -> None:
    inputs = [epc_uri(f"{GTIN}:S{n}") for n in range(1001)]
    assert refusal(event(inputEPCList=inputs)).code == "too_large"
    outputs = [epc_uri(f"{KIT}:S{n}") for n in range(2001)]
    assert refusal(event(outputEPCList=outputs)).code == "too_large"


def test_export_maps_back_to_the_same_transform() -> None:
    part = TransformPart(
        height=9,
        tx_id="ab" * 32,
        event_id=None,
        inputs=(f"{GTIN}:A1", "006141410000000012"),
        outputs=(f"{KIT}:K1", f"{KIT}:K2"),
        consumed=3,
        lot="K1",
        expiry="2027-01-31",
    )
    record = Transformation(id=XID, org="repack-co", parts=(part,))
    exported = transform_to_epcis(record, 0, 1_772_359_200_000)
    assert exported["eventTime"] == "2026-03-01T10:00:00.000Z"
    assert exported["healthledger:org"] == "urn:healthledger:org:repack-co"
    assert exported["eventID"].startswith("urn:uuid:")
    back = transform_from_epcis(0, exported, nobody)
    assert back == Transform(
        inputs=list(part.inputs),
        outputs=[Output(gtin=KIT, lot="K1", expiry="2027-01-31", serials=["K1", "K2"])],
        transformation_id=XID,
    )


def test_a_ledger_made_id_is_not_exported_as_a_transformation_id() -> None:
    part = TransformPart(
        height=9,
        tx_id="cd" * 32,
        event_id=None,
        inputs=(f"{GTIN}:A1",),
        outputs=(f"{KIT}:K1",),
        consumed=1,
        lot=None,
        expiry=None,
    )
    exported = transform_to_epcis(Transformation(id="xf-cdcd", org="o", parts=(part,)), 0, 0)
    assert "transformationID" not in exported
    assert "ilmd" not in exported  # outputs of several lots: each commissioning event has its own
    # Steps of one transaction get distinct event ids.
    other = Transformation(id="xf-cdce", org="o", parts=(part,))
    assert transform_to_epcis(other, 0, 0)["eventID"] != exported["eventID"]
