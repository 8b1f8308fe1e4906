"""FHIR records: summaries of the standard's own examples, refusals, and the Consent and
AuditEvent exports of chain records."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.observation import Observation
from pydantic import ValidationError

from fhir_examples import EXAMPLES as NEW_TYPES
from fhir_examples import NOT_ABOUT_A_PATIENT
from healthledger.domains.records.fhir import (
    FILE_KINDS,
    PURPOSES,
    RECORD_TYPES,
    ResourceSummary,
    audit_event_resource,
    consent_resource,
    file_summary,
    validate_resource,
)
from healthledger.errors import ErrorCode, LedgerError

DICOM = "http://dicom.nema.org/resources/ontology/DCM"
NARRATIVE = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Generated narrative</p></div>'

# FHIR R4 observation-example-heart-rate.json ("heart-rate"), narrative shortened.
HEART_RATE: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "heart-rate",
    "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
    "text": {"status": "generated", "div": NARRATIVE},
    "status": "final",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "vital-signs",
                    "display": "Vital Signs",
                }
            ],
            "text": "Vital Signs",
        }
    ],
    "code": {
        "coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}],
        "text": "Heart rate",
    },
    "subject": {"reference": "Patient/example"},
    "effectiveDateTime": "1999-07-02",
    "valueQuantity": {
        "value": 44,
        "unit": "beats/minute",
        "system": "http://unitsofmeasure.org",
        "code": "/min",
    },
}

# FHIR R4 condition-example.json ("example": a severe burn of the left ear).
BURNT_EAR: dict[str, Any] = {
    "resourceType": "Condition",
    "id": "example",
    "text": {"status": "generated", "div": NARRATIVE},
    "clinicalStatus": {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
        ]
    },
    "verificationStatus": {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                "code": "confirmed",
            }
        ]
    },
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                    "code": "encounter-diagnosis",
                    "display": "Encounter Diagnosis",
                },
                {"system": "http://snomed.info/sct", "code": "439401001", "display": "Diagnosis"},
            ]
        }
    ],
    "severity": {
        "coding": [{"system": "http://snomed.info/sct", "code": "24484000", "display": "Severe"}]
    },
    "code": {
        "coding": [
            {"system": "http://snomed.info/sct", "code": "39065001", "display": "Burn of ear"}
        ],
        "text": "Burnt Ear",
    },
    "bodySite": [
        {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "49521004",
                    "display": "Left external ear structure",
                }
            ],
            "text": "Left Ear",
        }
    ],
    "subject": {"reference": "Patient/example"},
    "onsetDateTime": "2012-05-24",
}

# FHIR R4 medicationstatementexample1.json ("example001"): the drug is a contained Medication.
TYLENOL: dict[str, Any] = {
    "resourceType": "MedicationStatement",
    "id": "example001",
    "contained": [
        {
            "resourceType": "Medication",
            "id": "med0309",
            "code": {
                "coding": [
                    {
                        "system": "http://hl7.org/fhir/sid/ndc",
                        "code": "50580-506-02",
                        "display": "Tylenol PM",
                    }
                ]
            },
            "batch": {"lotNumber": "9494788", "expirationDate": "2017-05-22"},
        }
    ],
    "identifier": [
        {"use": "official", "system": "http://www.bmc.nl/portal/medstatements", "value": "12345689"}
    ],
    "status": "active",
    "category": {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/medication-statement-category",
                "code": "inpatient",
                "display": "Inpatient",
            }
        ]
    },
    "medicationReference": {"reference": "#med0309"},
    "effectiveDateTime": "2015-01-23",
    "dateAsserted": "2015-02-22",
    "informationSource": {"reference": "Patient/pat1", "display": "Donald Duck"},
    "subject": {"reference": "Patient/pat1", "display": "Donald Duck"},
    "derivedFrom": [{"reference": "MedicationRequest/medrx002"}],
    "reasonCode": [
        {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "32914008", "display": "Restless Legs"}
            ]
        }
    ],
    "note": [{"text": "Patient indicates they miss the occasional dose"}],
    "dosage": [{"sequence": 1, "text": "1-2 tablets once daily at bedtime as needed"}],
}

# FHIR R4 immunization-example.json ("example"), shortened.
FLUVAX: dict[str, Any] = {
    "resourceType": "Immunization",
    "id": "example",
    "status": "completed",
    "vaccineCode": {
        "coding": [{"system": "urn:oid:1.2.36.1.2001.1005.17", "code": "FLUVAX"}],
        "text": "Fluvax (Influenza)",
    },
    "patient": {"reference": "Patient/example"},
    "encounter": {"reference": "Encounter/example"},
    "occurrenceDateTime": "2013-01-10",
    "primarySource": True,
    "lotNumber": "AAJN11K",
    "expirationDate": "2015-02-15",
    "note": [{"text": "Notes on adminstration of vaccine"}],
}

# FHIR R4 encounter-example.json ("example"): no type, so the class is the code.
INPATIENT: dict[str, Any] = {
    "resourceType": "Encounter",
    "id": "example",
    "status": "in-progress",
    "class": {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": "IMP",
        "display": "inpatient encounter",
    },
    "subject": {"reference": "Patient/example"},
}

# FHIR R4 patient-example.json ("example", Peter James Chalmers), shortened.
CHALMERS: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "example",
    "identifier": [
        {
            "use": "usual",
            "type": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                ]
            },
            "system": "urn:oid:1.2.36.146.595.217.0.1",
            "value": "12345",
        }
    ],
    "active": True,
    "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]}],
    "gender": "male",
    "birthDate": "1974-12-25",
    "address": [{"use": "home", "line": ["534 Erewhon St"], "city": "PleasantVille"}],
}

EXAMPLES = [
    (HEART_RATE, ResourceSummary("Observation", "http://loinc.org|8867-4", "1999-07-02")),
    (BURNT_EAR, ResourceSummary("Condition", "http://snomed.info/sct|39065001", "2012-05-24")),
    (
        TYLENOL,
        ResourceSummary(
            "MedicationStatement", "http://hl7.org/fhir/sid/ndc|50580-506-02", "2015-01-23"
        ),
    ),
    (FLUVAX, ResourceSummary("Immunization", "urn:oid:1.2.36.1.2001.1005.17|FLUVAX", "2013-01-10")),
    (
        INPATIENT,
        ResourceSummary("Encounter", "http://terminology.hl7.org/CodeSystem/v3-ActCode|IMP", ""),
    ),
    # Nothing of a Patient reaches the chain, not even the birth date.
    (CHALMERS, ResourceSummary("Patient", "", "")),
]
EXAMPLE_IDS = ["heart-rate", "burnt-ear", "tylenol", "fluvax", "inpatient", "chalmers"]


def refused(resource: object) -> LedgerError:
    with pytest.raises(LedgerError) as caught:
        validate_resource(resource)
    assert caught.value.code is ErrorCode.INVALID_RESOURCE
    return caught.value


def with_changes(resource: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(resource)
    changed.update(changes)
    return changed


def without(resource: dict[str, Any], field: str) -> dict[str, Any]:
    changed = copy.deepcopy(resource)
    del changed[field]
    return changed


def model_message(resource: dict[str, Any]) -> str:
    """The R4B model's own message for an invalid Observation."""
    with pytest.raises(ValidationError) as caught:
        Observation.model_validate(resource)
    return str(caught.value.errors()[0]["msg"])


def free_text(value: Any, key: str = "") -> Iterator[str]:
    """Every human-readable string of a resource: displays, texts, notes, names, narrative."""
    if isinstance(value, dict):
        for child_key, child in value.items():
            yield from free_text(child, child_key)
    elif isinstance(value, list):
        for item in value:
            yield from free_text(item, key)
    elif isinstance(value, str) and key in {"display", "text", "div", "family", "given", "line"}:
        yield value


# --- summaries -------------------------------------------------------------------------------


@pytest.mark.parametrize(("resource", "summary"), EXAMPLES, ids=EXAMPLE_IDS)
def test_spec_examples_are_summarised(resource: dict[str, Any], summary: ResourceSummary) -> None:
    assert validate_resource(resource) == summary


@pytest.mark.parametrize(("resource", "_summary"), EXAMPLES, ids=EXAMPLE_IDS)
def test_no_free_text_reaches_the_summary(resource: dict[str, Any], _summary: object) -> None:
    summary = validate_resource(resource)
    texts = list(free_text(resource))
    assert texts
    for text in texts:
        for field in (summary.resource_type, summary.code, summary.date):
            assert text not in field


def test_the_first_coding_only() -> None:
    summary = validate_resource(BURNT_EAR | {"code": {"coding": BURNT_EAR["code"]["coding"] * 2}})
    assert summary.code == "http://snomed.info/sct|39065001"
    assert validate_resource(with_changes(HEART_RATE, code={"text": "Heart rate"})).code == ""


def test_a_code_without_a_system_is_marked_as_such() -> None:
    summary = validate_resource(with_changes(HEART_RATE, code={"coding": [{"code": "HR"}]}))
    assert summary.code == "|HR"
    nameless = {"coding": [{"system": "http://loinc.org", "display": "Heart rate"}]}
    assert validate_resource(with_changes(HEART_RATE, code=nameless)).code == ""


@pytest.mark.parametrize(
    "code",
    [
        {"system": "http://snomed.info/sct", "code": "38341003 |Hypertensive disorder|"},
        {"system": "http://example.org/" + "x" * 200, "code": "1"},
        {"system": "http://example.org", "code": "Fréquence"},
        {"system": "http://example.org", "code": "heart rate"},
    ],
)
def test_codes_unfit_for_the_chain_are_refused(code: dict[str, str]) -> None:
    error = refused(with_changes(HEART_RATE, code={"coding": [code]}))
    assert "code" in error.message


@pytest.mark.parametrize(
    ("changes", "day"),
    [
        # A dateTime keeps the day it was written in, whatever its offset.
        ({"effectiveDateTime": "2020-03-01T23:30:00-05:00"}, "2020-03-01"),
        ({"effectiveDateTime": "2020-03-01T00:10:00+13:00"}, "2020-03-01"),
        ({"effectivePeriod": {"start": "2013-04-02T09:30:10+01:00"}}, "2013-04-02"),
        ({"effectiveInstant": "2013-04-02T09:30:10.123Z"}, "2013-04-02"),
        # A partial date is not a day: the next candidate (issued) is taken.
        ({"effectiveDateTime": "2019-07", "issued": "2019-08-01T10:00:00Z"}, "2019-08-01"),
        ({"effectiveDateTime": "2019"}, ""),
        ({}, ""),
    ],
)
def test_the_clinical_day(changes: dict[str, Any], day: str) -> None:
    resource = without(HEART_RATE, "effectiveDateTime") | changes
    assert validate_resource(resource).date == day


def test_other_record_types() -> None:
    loinc = {"coding": [{"system": "http://loinc.org", "code": "34133-9"}]}
    cases: list[tuple[dict[str, Any], str, str]] = [
        (
            {"resourceType": "DocumentReference", "status": "current", "type": loinc,
             "date": "2020-01-02T10:00:00Z", "context": {"period": {"start": "2019-12-31"}},
             "content": [{"attachment": {"contentType": "application/pdf"}}]},
            "http://loinc.org|34133-9", "2019-12-31",
        ),
        (
            {"resourceType": "DiagnosticReport", "status": "final", "code": loinc,
             "issued": "2021-05-06T07:08:09Z"},
            "http://loinc.org|34133-9", "2021-05-06",
        ),
        (
            {"resourceType": "Procedure", "status": "completed",
             "subject": {"reference": "Patient/p"},
             "code": {"coding": [{"system": "http://snomed.info/sct", "code": "80146002"}]},
             "performedPeriod": {"start": "2018-02-03", "end": "2018-02-04"}},
            "http://snomed.info/sct|80146002", "2018-02-03",
        ),
        (
            {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/p"},
             "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91936005"}]},
             "recordedDate": "2014-10-09T14:58:00+11:00"},
            "http://snomed.info/sct|91936005", "2014-10-09",
        ),
        (
            {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
             "subject": {"reference": "Patient/p"}, "authoredOn": "2015-01-15",
             "medicationCodeableConcept": {"coding": [
                 {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "314076"}]}},
            "http://www.nlm.nih.gov/research/umls/rxnorm|314076", "2015-01-15",
        ),
        (
            {"resourceType": "CarePlan", "status": "active", "intent": "plan",
             "subject": {"reference": "Patient/p"}, "created": "2016-01-01",
             "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "734163000"}]}]},
            "http://snomed.info/sct|734163000", "2016-01-01",
        ),
        (
            {"resourceType": "ImagingStudy", "status": "available",
             "subject": {"reference": "Patient/p"}, "started": "2011-01-01T11:01:20+03:00",
             "modality": [{"system": DICOM, "code": "CT"}]},
            f"{DICOM}|CT", "2011-01-01",
        ),
    ]  # fmt: skip
    for resource, code, day in cases:
        assert validate_resource(resource) == ResourceSummary(resource["resourceType"], code, day)


# Every R4 resource type whose subject, patient or beneficiary may be a Patient, as the R4B
# models say (derived in fhir.py; held here so a change of the models shows up).
EXPECTED_RECORD_TYPES = frozenset(
    {
        "Account",
        "AdverseEvent",
        "AllergyIntolerance",
        "Basic",
        "BodyStructure",
        "CarePlan",
        "CareTeam",
        "ChargeItem",
        "Claim",
        "ClaimResponse",
        "ClinicalImpression",
        "Communication",
        "CommunicationRequest",
        "Composition",
        "Condition",
        "Consent",
        "Contract",
        "Coverage",
        "CoverageEligibilityRequest",
        "CoverageEligibilityResponse",
        "DetectedIssue",
        "Device",
        "DeviceRequest",
        "DeviceUseStatement",
        "DiagnosticReport",
        "DocumentManifest",
        "DocumentReference",
        "Encounter",
        "EpisodeOfCare",
        "ExplanationOfBenefit",
        "FamilyMemberHistory",
        "Flag",
        "Goal",
        "GuidanceResponse",
        "ImagingStudy",
        "Immunization",
        "ImmunizationEvaluation",
        "ImmunizationRecommendation",
        "Invoice",
        "List",
        "MeasureReport",
        "Media",
        "MedicationAdministration",
        "MedicationDispense",
        "MedicationRequest",
        "MedicationStatement",
        "MolecularSequence",
        "NutritionOrder",
        "Observation",
        "Patient",
        "Procedure",
        "QuestionnaireResponse",
        "RelatedPerson",
        "RequestGroup",
        "RiskAssessment",
        "ServiceRequest",
        "Specimen",
        "SupplyDelivery",
        "VisionPrescription",
    }
)


def test_record_types() -> None:
    assert isinstance(RECORD_TYPES, frozenset)
    assert RECORD_TYPES == EXPECTED_RECORD_TYPES
    assert "Bundle" not in RECORD_TYPES
    assert {"ServiceRequest", "QuestionnaireResponse", "FamilyMemberHistory", "Goal"} <= set(
        NEW_TYPES
    )


@pytest.mark.parametrize("resource_type", sorted(NEW_TYPES))
def test_every_new_type_is_summarised_without_free_text(resource_type: str) -> None:
    resource, code, day = NEW_TYPES[resource_type]
    assert validate_resource(resource) == ResourceSummary(resource_type, code, day)


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", [None, "Observation", 42, [HEART_RATE], b"{}"])
def test_only_json_objects(resource: object) -> None:
    assert "JSON object" in refused(resource).message


def test_missing_or_odd_resource_type() -> None:
    assert "resourceType" in refused(without(HEART_RATE, "resourceType")).message
    assert "expected a string" in refused(with_changes(HEART_RATE, resourceType=7)).message
    assert "not a FHIR R4 resource type" in refused({"resourceType": "Heartbeat"}).message


@pytest.mark.parametrize("resource_type", NOT_ABOUT_A_PATIENT)
def test_resources_that_are_not_records(resource_type: str) -> None:
    message = refused({"resourceType": resource_type}).message
    assert f"{resource_type!r} is not accepted as a record" in message
    assert f"{resource_type} is not about one patient" in message


def test_a_bundle_is_imported_not_added() -> None:
    message = refused({"resourceType": "Bundle", "type": "collection"}).message
    assert "one record per entry" in message and "/v1/records/bundle" in message


@pytest.mark.parametrize(
    ("resource", "where"),
    [
        (without(HEART_RATE, "status"), "status"),
        (with_changes(HEART_RATE, category={"text": "Vital Signs"}), "category"),
        (with_changes(HEART_RATE, effectiveDateTime="yesterday"), "effectiveDateTime"),
        (with_changes(HEART_RATE, valueQuantity={"value": "lots"}), "valueQuantity.value"),
        (with_changes(HEART_RATE, heartbeat=44), "heartbeat"),
    ],
    ids=["missing status", "category not a list", "bad date", "bad decimal", "extra"],
)
def test_the_validators_message_is_kept(resource: dict[str, Any], where: str) -> None:
    message = refused(resource).message
    assert message.startswith(f"Observation: {where}: ")
    assert model_message(resource) in message


def test_nested_locations_and_long_messages() -> None:
    resource = with_changes(HEART_RATE, category=[{"coding": [{"code": ""}]}] * 50)
    message = refused(resource).message
    assert message.startswith("Observation: category[0].coding[0].code: ")
    assert "more)" in message
    huge = with_changes(HEART_RATE, **{"x" * 5000: 1})
    assert len(refused(huge).message) <= 300


def test_nulls_are_refused() -> None:
    # The R4B model would accept a null required `code`; FHIR JSON has no nulls.
    assert "null" in refused(with_changes(HEART_RATE, code=None)).message
    assert "null" in refused(with_changes(HEART_RATE, subject={"reference": None})).message


def test_a_contained_resource_of_unknown_type() -> None:
    # The model raises KeyError here, not a ValidationError; it is still a refusal.
    assert refused(with_changes(HEART_RATE, contained=[{"resourceType": "Heartbeat"}]))


def test_the_wrong_resource_for_a_type() -> None:
    assert (
        "Condition" in refused(BURNT_EAR | {"valueQuantity": HEART_RATE["valueQuantity"]}).message
    )


# --- files ----------------------------------------------------------------------------------


def test_file_summaries() -> None:
    assert file_summary("vcf", "2024-02-29") == ResourceSummary(
        "DocumentReference", "http://loinc.org|51969-4", "2024-02-29"
    )
    assert file_summary("dicom", "2020-01-01").code == "http://loinc.org|18748-4"
    assert file_summary("other", "2020-01-01").code == ""
    assert FILE_KINDS["dicom"] == "application/dicom"
    assert set(FILE_KINDS) == {"vcf", "fastq", "bam", "dicom", "pdf", "other"}


@pytest.mark.parametrize(
    ("kind", "day"),
    [("genome", "2020-01-01"), ("VCF", "2020-01-01"), ("vcf", "2023-02-29"),
     ("vcf", "2020-1-01"), ("vcf", ""), ("vcf", "2020-01-01T00:00:00Z")],
)  # fmt: skip
def test_file_summaries_are_strict(kind: str, day: str) -> None:
    with pytest.raises(LedgerError) as caught:
        file_summary(kind, day)
    assert caught.value.code is ErrorCode.INVALID_RESOURCE


# --- Consent ---------------------------------------------------------------------------------

PATIENT = "pat_0123456789abcdef0123456789abcdef"


def chain_consent(**changes: Any) -> dict[str, Any]:
    consent: dict[str, Any] = {
        "id": "cns-0123456789abcdef01234567",
        "patient": PATIENT,
        "grantee": {"kind": "org", "org": "hospital-b", "member": None, "role": None},
        "resource_types": ["Observation", "Condition"],
        "record_ids": [],
        "purposes": ["treatment", "emergency"],
        "expires_ms": 1_767_225_600_000,  # 2026-01-01
        "granted_height": 42,
        "granted_ms": 1_700_000_000_000,  # 2023-11-14T22:13:20Z
        "granted_by": PATIENT,
        "status": "active",
        "revoked_height": None,
        "revoked_ms": None,
    }
    return consent | changes


def codes(codings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(coding["system"], coding["code"]) for coding in codings]


def test_consent_export() -> None:
    resource = consent_resource(chain_consent())
    Consent.model_validate(resource)
    assert resource["id"] == "cns-0123456789abcdef01234567"
    assert resource["identifier"] == [
        {"system": "urn:healthledger:consent", "value": "cns-0123456789abcdef01234567"}
    ]
    assert resource["status"] == "active"
    assert codes(resource["scope"]["coding"]) == [
        ("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy")
    ]
    assert codes(resource["category"][0]["coding"]) == [("http://loinc.org", "59284-0")]
    assert resource["patient"]["identifier"] == {
        "system": "urn:healthledger:patient",
        "value": PATIENT,
    }
    assert resource["patient"]["type"] == "Patient"
    assert resource["dateTime"] == "2023-11-14T22:13:20.000Z"
    assert resource["meta"]["tag"] == [{"system": "urn:healthledger:granted-height", "code": "42"}]
    provision = resource["provision"]
    assert provision["type"] == "permit"
    assert provision["period"] == {
        "start": "2023-11-14T22:13:20.000Z",
        "end": "2026-01-01T00:00:00.000Z",
    }
    reason = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
    assert codes(provision["purpose"]) == [(reason, "TREAT"), (reason, "ETREAT")]
    assert codes(provision["class"]) == [
        ("http://hl7.org/fhir/resource-types", "Observation"),
        ("http://hl7.org/fhir/resource-types", "Condition"),
    ]
    assert "data" not in provision
    actor = provision["actor"][0]
    assert codes(actor["role"]["coding"]) == [
        ("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP")
    ]
    assert actor["reference"] == {
        "type": "Organization",
        "identifier": {"system": "urn:healthledger:org", "value": "hospital-b"},
    }


@pytest.mark.parametrize(
    ("grantee", "resource_type", "system", "value"),
    [
        ({"kind": "member", "org": "hospital-b", "member": "hospital-b/dr-lee", "role": None},
         "Practitioner", "urn:healthledger:member", "hospital-b/dr-lee"),
        ({"kind": "role", "org": "hospital-b", "member": None, "role": "practitioner"},
         "PractitionerRole", "urn:healthledger:role", "hospital-b/practitioner"),
    ],
)  # fmt: skip
def test_consent_grantees(
    grantee: dict[str, Any], resource_type: str, system: str, value: str
) -> None:
    resource = consent_resource(chain_consent(grantee=grantee))
    Consent.model_validate(resource)
    reference = resource["provision"]["actor"][0]["reference"]
    assert reference == {"type": resource_type, "identifier": {"system": system, "value": value}}


def test_every_purpose_maps_to_act_reason() -> None:
    resource = consent_resource(chain_consent(purposes=list(PURPOSES)))
    Consent.model_validate(resource)
    assert [coding["code"] for coding in resource["provision"]["purpose"]] == [
        "TREAT", "HPAYMT", "HRESCH", "ETREAT", "HOPERAT", "PUBHLTH", "PATRQT", "DONAT",
    ]  # fmt: skip


def test_revoked_consent_for_records_by_a_representative() -> None:
    resource = consent_resource(
        chain_consent(
            status="revoked",
            revoked_height=50,
            revoked_ms=1_700_000_600_000,
            record_ids=["rec-0123456789abcdef01234567"],
            resource_types=[],
            purposes=[],
            granted_by="guardian-7",
        )
    )
    Consent.model_validate(resource)
    assert resource["status"] == "inactive"
    assert resource["meta"]["lastUpdated"] == "2023-11-14T22:23:20.000Z"
    assert {"system": "urn:healthledger:revoked-height", "code": "50"} in resource["meta"]["tag"]
    provision = resource["provision"]
    assert "class" not in provision and "purpose" not in provision
    assert provision["data"] == [
        {
            "meaning": "instance",
            "reference": {
                "identifier": {
                    "system": "urn:healthledger:record",
                    "value": "rec-0123456789abcdef01234567",
                }
            },
        }
    ]
    assert resource["performer"][0]["type"] == "RelatedPerson"


def test_a_consent_that_never_expires_has_an_open_period() -> None:
    resource = consent_resource(chain_consent(expires_ms=2**53 - 1))
    Consent.model_validate(resource)
    assert resource["provision"]["period"] == {"start": "2023-11-14T22:13:20.000Z"}
    last = consent_resource(chain_consent(expires_ms=253_402_300_799_999))
    assert last["provision"]["period"]["end"] == "9999-12-31T23:59:59.999Z"


@pytest.mark.parametrize(
    "consent",
    [
        chain_consent(purposes=["curiosity"]),
        chain_consent(status="paused"),
        chain_consent(grantee={"kind": "everyone"}),
        chain_consent(expires_ms=-(10**15)),
        chain_consent(id="cns_not a fhir id"),
        {key: value for key, value in chain_consent().items() if key != "grantee"},
    ],
    ids=["purpose", "status", "grantee", "expiry", "id", "missing"],
)
def test_malformed_consents_are_refused(consent: dict[str, Any]) -> None:
    with pytest.raises(LedgerError) as caught:
        consent_resource(consent)
    assert caught.value.code is ErrorCode.INVALID_RESOURCE


# --- AuditEvent ------------------------------------------------------------------------------


def access_event(**changes: Any) -> dict[str, Any]:
    """An access event as records/handlers.py writes it."""
    event: dict[str, Any] = {
        "id": "acc-0123456789abcdef01234567",
        "action": "read",
        "record": "rec-0123456789abcdef01234567",
        "patient": PATIENT,
        "custodian": "hospital-a",
        "reader": {
            "kind": "member",
            "id": "hospital-b/dr-lee",
            "org": "hospital-b",
            "role": "practitioner",
            "key_id": "ab" * 32,
        },
        "purpose": "treatment",
        "basis": "consent",
        "consent": "cns-0123456789abcdef01234567",
        "appointment": None,
        "reason_hash": None,
        "break_glass": False,
        "height": 77,
        "time_ms": 1_700_000_000_123,
        "tx_id": "cd" * 32,
    }
    return event | changes


def entity_of(resource: dict[str, Any], system: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        entity for entity in resource["entity"] if entity["what"]["identifier"]["system"] == system
    ]
    assert len(found) == 1
    return found[0]


def test_audit_event_export() -> None:
    resource = audit_event_resource(access_event())
    AuditEvent.model_validate(resource)
    assert resource["id"] == "acc-0123456789abcdef01234567"
    assert (resource["type"]["system"], resource["type"]["code"]) == (DICOM, "110110")
    assert resource["action"] == "R"
    assert resource["outcome"] == "0"
    assert resource["recorded"] == "2023-11-14T22:13:20.123Z"
    reason = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
    assert [codes(c["coding"]) for c in resource["purposeOfEvent"]] == [[(reason, "TREAT")]]
    reader, custodian = resource["agent"]
    assert reader["requestor"] is True
    assert reader["who"] == {
        "type": "Practitioner",
        "identifier": {"system": "urn:healthledger:member", "value": "hospital-b/dr-lee"},
    }
    assert reader["altId"] == "ab" * 32
    assert reader["policy"] == ["urn:healthledger:basis:consent"]
    assert codes(reader["role"][0]["coding"]) == [("urn:healthledger:actor-role", "practitioner")]
    assert custodian["requestor"] is False
    observer = {
        "type": "Organization",
        "identifier": {"system": "urn:healthledger:org", "value": "hospital-a"},
    }
    assert custodian["who"] == observer
    assert resource["source"]["observer"] == observer
    record = entity_of(resource, "urn:healthledger:record")
    assert record["what"]["identifier"]["value"] == "rec-0123456789abcdef01234567"
    assert entity_of(resource, "urn:healthledger:patient")["what"]["type"] == "Patient"
    consent = entity_of(resource, "urn:healthledger:consent")
    assert consent["what"]["identifier"]["value"] == "cns-0123456789abcdef01234567"
    # The ledger transaction and its height tie the event to its proof on the chain.
    assert entity_of(resource, "urn:healthledger:tx")["what"]["identifier"]["value"] == "cd" * 32
    assert resource["meta"]["tag"] == [{"system": "urn:healthledger:recorded-height", "code": "77"}]


def test_break_glass_is_marked_and_explained() -> None:
    event = access_event(
        purpose="emergency", basis="break_glass", consent=None, break_glass=True,
        reason_hash="ab" * 32,
    )  # fmt: skip
    resource = audit_event_resource(event)
    AuditEvent.model_validate(resource)
    purposes = [c["coding"][0]["code"] for c in resource["purposeOfEvent"]]
    assert purposes == ["ETREAT", "BTG"]
    assert [c["coding"][0]["code"] for c in resource["agent"][0]["purposeOfUse"]] == purposes
    detail = entity_of(resource, "urn:healthledger:tx")["detail"]
    assert detail == [{"type": "urn:healthledger:reason-hash", "valueString": "ab" * 32}]
    # the text joins the hash only when the custodian's vault opened it for this reader
    opened = audit_event_resource(event | {"reason": "unconscious in the emergency department"})
    assert entity_of(opened, "urn:healthledger:tx")["detail"][1] == {
        "type": "urn:healthledger:reason",
        "valueString": "unconscious in the emergency department",
    }
    assert not [e for e in resource["entity"] if e["what"].get("type") == "Consent"]


def test_a_break_glass_locate_is_a_query_about_the_patient() -> None:
    event = access_event(
        action="locate", record=None, purpose="emergency", basis="break_glass", consent=None,
        break_glass=True, reason_hash="cd" * 32,
    )  # fmt: skip
    resource = audit_event_resource(event)
    AuditEvent.model_validate(resource)
    assert (resource["type"]["code"], resource["action"]) == ("110112", "E")
    systems = [entity["what"]["identifier"]["system"] for entity in resource["entity"]]
    assert systems == ["urn:healthledger:patient", "urn:healthledger:tx"]


def test_a_coordinators_donation_question_is_a_read_for_donation() -> None:
    event = access_event(
        action="donation", record=None, purpose="transplant", basis="coordinator", consent=None,
        custodian="hospital-b",
    )  # fmt: skip
    resource = audit_event_resource(event)
    AuditEvent.model_validate(resource)
    assert (resource["type"]["code"], resource["action"]) == ("110110", "R")
    assert [c["coding"][0]["code"] for c in resource["purposeOfEvent"]] == ["DONAT"]
    assert resource["agent"][0]["policy"] == ["urn:healthledger:basis:coordinator"]
    systems = [entity["what"]["identifier"]["system"] for entity in resource["entity"]]
    assert systems == ["urn:healthledger:patient", "urn:healthledger:tx"]


@pytest.mark.parametrize(
    ("reader", "resource_type"),
    [
        (
            {"kind": "org", "id": "hospital-b", "org": "hospital-b", "role": "hospital"},
            "Organization",
        ),
        ({"kind": "patient", "id": PATIENT, "org": None, "role": "patient"}, "Patient"),
        ({"kind": "patient", "id": PATIENT, "org": None, "role": None}, "Patient"),
    ],
)
def test_audit_readers(reader: dict[str, Any], resource_type: str) -> None:
    event = access_event(reader=reader | {"key_id": "ef" * 32}, basis="self", consent=None)
    event["appointment"] = "app-0123456789abcdef01234567"
    resource = audit_event_resource(event)
    AuditEvent.model_validate(resource)
    agent = resource["agent"][0]
    assert agent["who"]["type"] == resource_type
    assert ("role" in agent) == (reader["role"] is not None)
    assert entity_of(resource, "urn:healthledger:appointment")["what"]["type"] == "Appointment"


def test_the_brief_shape_without_an_action_is_a_read() -> None:
    event = access_event()
    del event["action"]
    assert audit_event_resource(event)["action"] == "R"


@pytest.mark.parametrize(
    "event",
    [
        access_event(purpose="curiosity"),
        access_event(action="delete"),
        access_event(reader={"kind": "robot", "id": "x", "key_id": "ab" * 32}),
        access_event(time_ms=-(10**15)),
        access_event(time_ms="yesterday"),
        access_event(height=-1),
        {key: value for key, value in access_event().items() if key != "tx_id"},
    ],
    ids=["purpose", "action", "reader", "time", "time type", "height", "missing"],
)
def test_malformed_access_events_are_refused(event: dict[str, Any]) -> None:
    with pytest.raises(LedgerError) as caught:
        audit_event_resource(event)
    assert caught.value.code is ErrorCode.INVALID_RESOURCE
