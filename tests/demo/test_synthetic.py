"""Synthetic patients and records: deterministic, varied, and every one a valid FHIR record."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from datetime import date

import pytest

from healthledger.demo.synthetic import (
    BASE_DATE,
    SyntheticPatient,
    patient_resource,
    small_observation,
    synthetic_patients,
    synthetic_records,
)
from healthledger.domains.records.fhir import ResourceSummary, validate_resource

SUBJECT = "Patient/pat_0123456789abcdef"
SYSTEMS = {
    "http://loinc.org",
    "http://snomed.info/sct",
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://hl7.org/fhir/sid/cvx",
}
CHART = {"Condition", "MedicationStatement", "AllergyIntolerance"}  # the problem list
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def summaries(seeds: range, patients: int, records: int) -> list[ResourceSummary]:
    found: list[ResourceSummary] = []
    for seed in seeds:
        for patient in synthetic_patients(patients, seed):
            found += [
                validate_resource(record)
                for record in synthetic_records(patient, SUBJECT, records, seed)
            ]
    return found


def test_same_seed_same_output() -> None:
    assert synthetic_patients(5, 7) == synthetic_patients(5, 7)
    assert synthetic_patients(5, 7) != synthetic_patients(5, 8)
    patient = synthetic_patients(1, 7)[0]
    assert synthetic_records(patient, SUBJECT, 25, 7) == synthetic_records(patient, SUBJECT, 25, 7)
    assert synthetic_records(patient, SUBJECT, 25, 7) != synthetic_records(patient, SUBJECT, 25, 8)


def test_patients_are_plausible() -> None:
    patients = synthetic_patients(200, 1)
    assert len({patient.mrn for patient in patients}) == 200
    assert {patient.gender for patient in patients} == {"female", "male", "other"}
    for patient in patients:
        age_days = (BASE_DATE.date() - date.fromisoformat(patient.birth_date)).days
        assert 18 * 365 <= age_days <= 90 * 365
        assert re.fullmatch(r"MRN[0-9]{8}", patient.mrn)
    assert synthetic_patients(0, 1) == []
    with pytest.raises(ValueError):
        synthetic_patients(-1, 1)


def test_every_record_validates_over_many_seeds() -> None:
    found = summaries(range(60), patients=2, records=25)
    assert len(found) == 60 * 2 * 25
    for summary in found:
        system, _bar, code = summary.code.partition("|")
        assert system in SYSTEMS and re.fullmatch(r"[0-9A-Za-z.\-]+", code), summary.code
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", summary.date)
        assert BASE_DATE.date().isoformat() > summary.date >= "2013-01-01"


@pytest.mark.parametrize("count", [0, 1, 2, 3, 7, 25])
def test_the_count_asked_for_is_the_count_made(count: int) -> None:
    for seed in range(15):
        patient = synthetic_patients(1, seed)[0]
        assert len(synthetic_records(patient, SUBJECT, count, seed)) == count
    assert len(synthetic_patients(count, 3)) == count


def test_the_problem_list_comes_first() -> None:
    """Conditions (each followed by its drug, if any), then allergy, then routine care."""
    for seed in range(30):
        records = synthetic_records(synthetic_patients(1, seed)[0], SUBJECT, 30, seed)
        kinds = [r["resourceType"] for r in records]
        charted = len(list(itertools.takewhile(CHART.__contains__, kinds)))
        assert all(kind not in CHART for kind in kinds[charted:]), kinds
        if charted:
            assert kinds[0] in ("Condition", "AllergyIntolerance")


def test_the_mix_depends_on_the_subject() -> None:
    """Why the demo cannot assume what a patient's records hold: the subject seeds the mix."""
    patient = synthetic_patients(1, 1)[0]
    mixes = {
        tuple(r["resourceType"] for r in synthetic_records(patient, f"Patient/p{n}", 5, 0))
        for n in range(40)
    }
    assert len(mixes) > 5
    assert any("Observation" not in mix for mix in mixes)


def test_the_mix_is_varied() -> None:
    found = summaries(range(10), patients=3, records=40)
    types = Counter(summary.resource_type for summary in found)
    assert set(types) == {
        "Observation",
        "Condition",
        "MedicationStatement",
        "DiagnosticReport",
        "Immunization",
        "AllergyIntolerance",
    }
    assert types["Observation"] > len(found) / 2
    codes = {summary.code for summary in found}
    for expected in (
        "http://loinc.org|8867-4",
        "http://loinc.org|85354-9",
        "http://loinc.org|4548-4",
        "http://loinc.org|57698-3",
        "http://snomed.info/sct|44054006",
        "http://www.nlm.nih.gov/research/umls/rxnorm|860975",
        "http://hl7.org/fhir/sid/cvx|208",
    ):
        assert expected in codes


def test_records_belong_to_their_subject_and_have_uuids() -> None:
    patient = synthetic_patients(1, 3)[0]
    records = synthetic_records(patient, SUBJECT, 60, 3)
    assert len(records) == 60
    ids = [record["id"] for record in records]
    assert len(set(ids)) == len(ids)
    for record in records:
        assert UUID.fullmatch(record["id"])
        subject = record.get("subject") or record.get("patient")
        assert subject == {"reference": SUBJECT}
    assert synthetic_records(patient, SUBJECT, 0, 3) == []


def test_medications_treat_the_patients_conditions() -> None:
    for seed in range(20):
        patient = synthetic_patients(1, seed)[0]
        records = synthetic_records(patient, SUBJECT, 12, seed)
        conditions = {r["id"] for r in records if r["resourceType"] == "Condition"}
        for record in records:
            if record["resourceType"] == "MedicationStatement":
                [reason] = record["reasonReference"]
                assert reason["reference"].removeprefix("Condition/") in conditions


def test_lipid_panel_refers_to_its_contained_results() -> None:
    records = [
        record
        for seed in range(10)
        for record in synthetic_records(synthetic_patients(1, seed)[0], SUBJECT, 40, seed)
        if record["resourceType"] == "DiagnosticReport"
    ]
    assert len(records) >= 3
    for report in records:
        contained = {f"#{result['id']}" for result in report["contained"]}
        assert {result["reference"] for result in report["result"]} == contained


def test_patient_resource_validates() -> None:
    for patient in synthetic_patients(20, 5):
        resource = patient_resource(patient, "pat_0123456789abcdef")
        assert validate_resource(resource) == ResourceSummary("Patient", "", "")
        assert resource["birthDate"] == patient.birth_date
        assert resource["name"][0] == {
            "use": "official",
            "family": patient.family,
            "given": [patient.given],
        }
        values = [identifier["value"] for identifier in resource["identifier"]]
        assert values == [patient.mrn, "pat_0123456789abcdef"]


def test_a_patient_of_every_gender_validates() -> None:
    for gender in ("female", "male", "other"):
        patient = SyntheticPatient("Alex", "Kim", "1990-01-31", gender, "Salem", "MRN00000001")
        assert validate_resource(patient_resource(patient, "pat_x")).resource_type == "Patient"


def test_small_observations() -> None:
    first, other = small_observation(SUBJECT, 0), small_observation(SUBJECT, 12_345)
    assert validate_resource(first) == ResourceSummary(
        "Observation", "http://loinc.org|8867-4", BASE_DATE.date().isoformat()
    )
    assert validate_resource(other).date == "2024-12-23"
    assert first["valueQuantity"]["value"] != other["valueQuantity"]["value"]
    assert small_observation(SUBJECT, 9) == small_observation(SUBJECT, 9)
    values = {small_observation(SUBJECT, index)["valueQuantity"]["value"] for index in range(200)}
    assert min(values) >= 50 and max(values) <= 110 and len(values) > 20
