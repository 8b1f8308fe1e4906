"""EPCIS 2.0 sensorElementList <-> the ledger's sensor reports (milli-units, exact decimals)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_custody import GTIN

from healthledger.domains.supply.coldchain import (
    MAX_READINGS,
    SensorReport,
    sensor_report_from_epcis,
    sensor_report_to_epcis,
)
from healthledger.errors import LedgerError

PACKAGE = f"https://id.gs1.org/01/{GTIN}/21/S1"
SSCC = "urn:epc:id:sscc:0614141.1234567890"


def no_party(uri: str) -> str:
    raise AssertionError(f"a sensor report names no party: {uri}")


def sensor_event(**more: Any) -> dict[str, Any]:
    """Shaped like the sensor examples published with EPCIS 2.0 (Example_9.6.1-with-sensor...)."""
    return {
        "type": "ObjectEvent",
        "eventTime": "2019-04-02T15:00:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": [PACKAGE],
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00005.0"},
        "sensorElementList": [
            {
                "sensorMetadata": {
                    "time": "2019-04-02T14:05:00.000+01:00",
                    "deviceID": "urn:epc:id:giai:4000001.111",
                    "deviceMetadata": "https://id.gs1.org/giai/4000001111",
                },
                "sensorReport": [
                    {"type": "gs1:Temperature", "value": 26.0, "uom": "CEL"},
                    {"type": "gs1:AbsoluteHumidity", "value": 12.1, "uom": "A93"},
                    {"type": "gs1:Speed", "value": 160.0, "uom": "KMH"},
                ],
            },
            {
                "sensorMetadata": {"time": "2019-04-02T14:35:00.000+01:00"},
                "sensorReport": [
                    {
                        "type": "gs1:Temperature",
                        "minValue": 12.4,
                        "maxValue": 13.8,
                        "meanValue": 13.2,
                        "sDev": 0.41,
                        "uom": "CEL",
                    },
                    {"type": "gs1:Temperature", "booleanValue": True},
                ],
            },
        ],
        **more,
    }


def parsed(event: dict[str, Any]) -> SensorReport:
    # What a partner's document gives: JSON text, read by the standard library.
    report = sensor_report_from_epcis(3, json.loads(json.dumps(event)), no_party)
    assert report is not None
    return report


def test_an_event_without_sensor_data_is_none() -> None:
    event = sensor_event()
    del event["sensorElementList"]
    assert sensor_report_from_epcis(0, event, no_party) is None
    assert sensor_report_from_epcis(0, {**event, "sensorElementList": []}, no_party) is None


def test_readings_become_milli_units_with_their_sensor_metadata() -> None:
    report = parsed(sensor_event())
    assert report.items == [f"{GTIN}:S1"]
    assert report.device == "urn:epc:id:giai:4000001.111"
    first, humidity, speed, summary = report.readings  # the boolean alarm has no number
    assert (first.type, first.value, first.uom) == ("Temperature", 26_000, "CEL")
    assert first.time_ms == 1554210300000 and first.device == "urn:epc:id:giai:4000001.111"
    assert (humidity.type, humidity.value, speed.value) == ("AbsoluteHumidity", 12_100, 160_000)
    assert (summary.min, summary.mean, summary.max) == (12_400, 13_200, 13_800)
    assert summary.time_ms == 1554212100000 and summary.device is None


def test_an_aggregation_names_its_parent_and_children_follow() -> None:
    event = sensor_event(type="AggregationEvent", parentID=SSCC, childEPCs=[PACKAGE], action="ADD")
    del event["epcList"]
    assert parsed(event).items == ["106141412345678908"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sensorElementList": {}}, "event 3: sensorElementList: expected a JSON array"),
        ({"sensorElementList": [{"sensorReport": {}}]}, "sensorReport: expected a JSON array"),
        (
            {"sensorElementList": [{"sensorReport": [{"type": "gs1:Temperature", "value": "x"}]}]},
            "sensorReport[0].value: expected a number",
        ),
        (
            {"sensorElementList": [{"sensorReport": [{"type": "gs1:Temperature", "value": 5}]}]},
            "a temperature needs uom CEL, FAR or KEL",
        ),
        (
            {"sensorElementList": [{"sensorReport": [{"type": 7, "value": 5, "uom": "CEL"}]}]},
            "sensorReport[0].type: expected a measurement type",
        ),
        (
            {"sensorElementList": [{"sensorMetadata": {"time": "yesterday"}, "sensorReport": []}]},
            "event 3: sensorElementList[0].sensorMetadata.time: 'yesterday'",
        ),
        ({"epcList": ["urn:epc:id:giai:4000001.111"]}, "event 3: epcList[0]: EPC"),
        ({"epcList": []}, "event 3: epcList: a sensor report names serialized packages"),
    ],
)
def test_bad_sensor_data_is_refused_naming_the_event_and_field(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(LedgerError) as raised:
        sensor_report_from_epcis(3, sensor_event(**change), no_party)
    assert message in raised.value.message
    assert raised.value.message.startswith("event 3: ")


def test_too_many_readings_are_refused() -> None:
    reading = {"type": "gs1:Temperature", "value": 5, "uom": "CEL"}
    many = [{"sensorReport": [reading] * (MAX_READINGS + 1)}]
    with pytest.raises(LedgerError) as raised:
        sensor_report_from_epcis(0, sensor_event(sensorElementList=many), no_party)
    assert raised.value.code == "too_large"


def test_export_reads_back_as_the_same_report() -> None:
    report = parsed(sensor_event())
    exported = sensor_report_to_epcis(report, "urn:healthledger:org:pharmalink", 1554212100000)
    assert exported["bizStep"] == "sensor_reporting"
    assert exported["sensorElementList"][0]["sensorReport"][0]["value"] == 26
    assert exported["sensorElementList"][0]["sensorReport"][1]["value"] == 12.1
    assert [len(element["sensorReport"]) for element in exported["sensorElementList"]] == [3, 1]
    # The second sensor named no device: on export it inherits the report's, as on import.
    again = parsed(exported)
    assert again.readings[:3] == report.readings[:3] and again.items == report.items
    assert again.readings[3] == report.readings[3].model_copy(update={"device": report.device})
