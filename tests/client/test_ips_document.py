"""The IPS document's pure parts: which records are read, where each goes, how it is built."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from healthledger.client.summary import (
    REQUIRED_SECTIONS,
    Author,
    LeftOutRecord,
    _Included,
    build_document,
    observation_section,
    plan_reads,
    validate_bundle,
)
from healthledger.domains.records.queries import LocatorEntry
from ips_rules import check_ips, record_of

PATIENT = "pat_" + "ab" * 16
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
AUTHOR = Author({"type": "Practitioner", "identifier": {"system": "urn:x", "value": "h/d"}}, "h/d")
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def entry(
    record_id: str, resource_type: str, code: str = "", date: str = "", **extra: Any
) -> LocatorEntry:
    fields = {
        "id": record_id,
        "custodian": "st-marys",
        "author": "st-marys/dr",
        "resource_type": resource_type,
        "code": code,
        "date": date,
        "content_hash": "00" * 32,
        "size": 1,
        "status": "active",
        "added_height": 1,
        "replaces": None,
        "superseded_by": None,
    }
    return LocatorEntry.model_validate({**fields, **extra})


def test_only_what_the_sections_need_is_read_most_needed_first() -> None:
    entries = [
        entry("rec-lab-old", "Observation", "http://loinc.org|4548-4", "2020-01-01"),
        entry("rec-lab", "Observation", "http://loinc.org|4548-4", "2026-10-01"),
        entry("rec-hr", "Observation", "http://loinc.org|8867-4", "2026-10-02"),
        entry("rec-imm", "Immunization", date="2019-01-01"),  # no window for immunizations
        entry("rec-cond", "Condition", date="2020-01-01"),
        entry("rec-old-cond", "Condition", superseded_by="rec-cond"),
        entry("rec-gone", "AllergyIntolerance", status="shredded"),
        entry("rec-allergy", "AllergyIntolerance"),
        entry("rec-pt-1", "Patient", added_height=3),
        entry("rec-pt-2", "Patient", added_height=9),
        entry("rec-doc", "DocumentReference"),
        entry("rec-med", "MedicationRequest"),
    ]
    planned, skipped = plan_reads(entries, "2025-11-28")
    assert [(p.entry.id, p.section) for p in planned] == [
        ("rec-allergy", "allergies"),
        ("rec-med", "medications"),
        ("rec-cond", "problems"),
        ("rec-pt-2", "patient"),
        ("rec-hr", "vital_signs"),
        ("rec-imm", "immunizations"),
        ("rec-lab", "results"),
    ]
    assert {(s.record_id, s.reason) for s in skipped} == {
        ("rec-lab-old", "older_than_window"),
        ("rec-old-cond", "superseded"),
        ("rec-gone", "shredded"),
        ("rec-pt-1", "superseded"),
        ("rec-doc", "outside_sections"),
    }


def test_an_observation_goes_where_its_code_or_category_says() -> None:
    def observation(*categories: str) -> dict[str, Any]:
        return {"category": [{"coding": [{"system": CATEGORY, "code": c}]} for c in categories]}

    assert observation_section(observation(), "vital_signs") == "vital_signs"
    assert observation_section(observation("vital-signs"), "results") == "vital_signs"
    assert observation_section(observation("laboratory"), "results") == "results"
    assert observation_section(observation(), "results") == "results"
    assert observation_section(observation("social-history"), "results") is None


def _included(record_id: str, section: str, resource: dict[str, Any]) -> _Included:
    located = entry(record_id, resource["resourceType"], date="2026-01-02")
    return _Included(located, section, resource, "ab" * 32, False)


def test_a_document_cites_its_records_and_escapes_what_it_shows() -> None:
    allergy = {
        "resourceType": "AllergyIntolerance",
        "code": {"text": "<script>alert(1)</script> & nuts"},
        "patient": {"reference": "Patient/elsewhere"},
        "identifier": [{"system": "urn:healthledger:record", "value": "rec-a", "use": "official"}],
    }
    bundle = build_document(PATIENT, AUTHOR, [_included("rec-a", "allergies", allergy)], [], NOW)
    validate_bundle(bundle)
    sections = check_ips(bundle)
    (cited,) = sections["allergies"]
    assert record_of(cited) == "rec-a" and cited["id"] == "rec-a"
    assert [i["value"] for i in cited["identifier"]] == ["rec-a"]  # one, not two
    assert cited["patient"] == {"reference": f"urn:healthledger:patient:{PATIENT}"}
    div = bundle["entry"][0]["resource"]["section"][0]["text"]["div"]
    assert "<script>" not in div and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; nuts" in div
    assert bundle["entry"][0]["resource"]["date"] == "2026-11-28T12:00:00.000Z"


def test_an_empty_file_still_makes_a_valid_document() -> None:
    left = LeftOutRecord(
        record_id="rec-x",
        custodian="far-away",
        resource_type="Immunization",
        section="immunizations",
        code="custodian_unavailable",
        message="far-away does not answer",
    )
    bundle = build_document(PATIENT, AUTHOR, [], [left], NOW)
    validate_bundle(bundle)
    sections = check_ips(bundle)
    assert set(sections) == {*REQUIRED_SECTIONS, "immunizations"}
    assert sections["immunizations"] == []
    composition = bundle["entry"][0]["resource"]
    (immunizations,) = [s for s in composition["section"] if "emptyReason" in s]
    assert "1 record of this section could not be read" in immunizations["text"]["div"]
    for key in REQUIRED_SECTIONS:
        (placeholder,) = sections[key]
        assert "identifier" not in placeholder  # cites no record: it is IPS's "no information"
