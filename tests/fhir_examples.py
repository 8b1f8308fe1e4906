"""Realistic FHIR R4 resources of every record type added for issue 13, written by hand.

The implementation guides' own examples are not reachable here (no network), so these
follow the shapes of FHIR R4's published examples: real code systems (LOINC, SNOMED CT,
RxNorm, HL7 terminology), a patient reference, the dates a clinician would record. Each
comes with the summary the chain must hold of it: (code "system|code", day).
"""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
V3_ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
V3_ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
SUBJECT = {"reference": "Patient/example"}
PATIENT = {"reference": "Patient/example"}
ORG = {"reference": "Organization/st-marys", "display": "St Mary's"}
DR = {"reference": "Practitioner/dr-ada"}


def cc(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


# type -> (resource, expected code, expected day)
EXAMPLES: dict[str, tuple[dict[str, Any], str, str]] = {
    "ServiceRequest": (
        {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "category": [cc(SNOMED, "108252007", "Laboratory procedure")],
            "code": cc(LOINC, "4548-4", "Hemoglobin A1c"),
            "subject": SUBJECT,
            "occurrenceDateTime": "2026-04-10T08:00:00+02:00",
            "authoredOn": "2026-04-01",
            "requester": DR,
            "note": [{"text": "Fasting not required"}],
        },
        f"{LOINC}|4548-4",
        "2026-04-10",
    ),
    "QuestionnaireResponse": (
        {
            "resourceType": "QuestionnaireResponse",
            "questionnaire": "http://loinc.org/q/44249-1",
            "status": "completed",
            "subject": SUBJECT,
            "authored": "2026-03-15T10:12:00Z",
            "item": [
                {
                    "linkId": "44250-9",
                    "text": "Little interest or pleasure in doing things",
                    "answer": [{"valueCoding": {"system": LOINC, "code": "LA6569-3"}}],
                }
            ],
        },
        "",
        "2026-03-15",
    ),
    "FamilyMemberHistory": (
        {
            "resourceType": "FamilyMemberHistory",
            "status": "completed",
            "patient": PATIENT,
            "date": "2026-02-20",
            "relationship": cc(V3_ROLE, "FTH", "father"),
            "sex": cc("http://hl7.org/fhir/administrative-gender", "male"),
            "condition": [
                {
                    "code": cc(SNOMED, "254843006", "Familial cancer of breast"),
                    "onsetAge": {
                        "value": 52,
                        "unit": "a",
                        "system": "http://unitsofmeasure.org",
                        "code": "a",
                    },
                }
            ],
        },
        f"{SNOMED}|254843006",
        "2026-02-20",
    ),
    "Goal": (
        {
            "resourceType": "Goal",
            "lifecycleStatus": "active",
            "description": cc(SNOMED, "289169006", "Weight loss"),
            "subject": SUBJECT,
            "startDate": "2026-01-05",
            "target": [
                {
                    "measure": cc(LOINC, "29463-7", "Body weight"),
                    "detailQuantity": {"value": 80, "unit": "kg"},
                }
            ],
        },
        f"{SNOMED}|289169006",
        "2026-01-05",
    ),
    "CareTeam": (
        {
            "resourceType": "CareTeam",
            "status": "active",
            "category": [cc(LOINC, "LA27976-2", "Encounter-focused care team")],
            "subject": SUBJECT,
            "period": {"start": "2026-01-01"},
            "participant": [{"member": DR}],
        },
        f"{LOINC}|LA27976-2",
        "2026-01-01",
    ),
    "Specimen": (
        {
            "resourceType": "Specimen",
            "status": "available",
            "type": cc(SNOMED, "122555007", "Venous blood specimen"),
            "subject": SUBJECT,
            "receivedTime": "2026-03-02T11:00:00Z",
            "collection": {"collectedDateTime": "2026-03-02T09:30:00Z"},
        },
        f"{SNOMED}|122555007",
        "2026-03-02",
    ),
    "Device": (
        {
            "resourceType": "Device",
            "status": "active",
            "type": cc(SNOMED, "14106009", "Cardiac pacemaker"),
            "manufacturer": "Acme Devices",
            "patient": PATIENT,
            "udiCarrier": [{"deviceIdentifier": "09504000059118"}],
        },
        f"{SNOMED}|14106009",
        "",
    ),
    "Media": (
        {
            "resourceType": "Media",
            "status": "completed",
            "type": cc("http://terminology.hl7.org/CodeSystem/media-type", "image"),
            "modality": cc("http://dicom.nema.org/resources/ontology/DCM", "XC"),
            "subject": SUBJECT,
            "createdDateTime": "2026-02-11T14:00:00Z",
            "content": {"contentType": "image/jpeg", "title": "Wound photo", "data": "/9j/4AAQ"},
        },
        "http://dicom.nema.org/resources/ontology/DCM|XC",
        "2026-02-11",
    ),
    "MedicationDispense": (
        {
            "resourceType": "MedicationDispense",
            "status": "completed",
            "medicationCodeableConcept": cc(RXNORM, "197361", "Amlodipine 5 MG Oral Tablet"),
            "subject": SUBJECT,
            "quantity": {"value": 30, "unit": "tablet"},
            "whenHandedOver": "2026-03-03T16:20:00Z",
        },
        f"{RXNORM}|197361",
        "2026-03-03",
    ),
    "MedicationAdministration": (
        {
            "resourceType": "MedicationAdministration",
            "status": "completed",
            "medicationCodeableConcept": cc(RXNORM, "1191", "Aspirin"),
            "subject": SUBJECT,
            "effectiveDateTime": "2026-03-04T08:00:00Z",
            "dosage": {"dose": {"value": 100, "unit": "mg"}},
        },
        f"{RXNORM}|1191",
        "2026-03-04",
    ),
    "RelatedPerson": (
        {
            "resourceType": "RelatedPerson",
            "patient": PATIENT,
            "relationship": [cc(V3_ROLE, "MTH", "mother")],
            "name": [{"family": "Example", "given": ["Maria"]}],
            "telecom": [{"system": "phone", "value": "+44 20 7946 0000"}],
        },
        f"{V3_ROLE}|MTH",
        "",
    ),
    "Coverage": (
        {
            "resourceType": "Coverage",
            "status": "active",
            "type": cc(V3_ACT, "EHCPOL", "extended healthcare"),
            "beneficiary": PATIENT,
            "payor": [{"reference": "Organization/acme-insurance"}],
            "period": {"start": "2026-01-01", "end": "2026-12-31"},
        },
        f"{V3_ACT}|EHCPOL",
        "2026-01-01",
    ),
    # --- the generic rule: first coded element, first full date --------------------------
    "Account": (
        {
            "resourceType": "Account",
            "status": "active",
            "type": cc(V3_ACT, "PBILLACCT", "patient billing account"),
            "subject": [SUBJECT],
            "servicePeriod": {"start": "2026-01-01"},
        },
        f"{V3_ACT}|PBILLACCT",
        "",
    ),
    "AdverseEvent": (
        {
            "resourceType": "AdverseEvent",
            "actuality": "actual",
            "event": cc(SNOMED, "304386008", "O/E - itchy rash"),
            "subject": SUBJECT,
            "date": "2026-02-02T10:00:00Z",
        },
        f"{SNOMED}|304386008",
        "2026-02-02",
    ),
    "Basic": (
        {
            "resourceType": "Basic",
            "code": cc("http://terminology.hl7.org/CodeSystem/basic-resource-type", "referral"),
            "subject": SUBJECT,
            "created": "2026-02-03",
        },
        "http://terminology.hl7.org/CodeSystem/basic-resource-type|referral",
        "2026-02-03",
    ),
    "BodyStructure": (
        {
            "resourceType": "BodyStructure",
            "morphology": cc(SNOMED, "4147007", "Mass"),
            "location": cc(SNOMED, "80248007", "Left breast"),
            "patient": PATIENT,
        },
        "",
        "",
    ),
    "ChargeItem": (
        {
            "resourceType": "ChargeItem",
            "status": "billable",
            "code": cc("http://terminology.hl7.org/CodeSystem/chargeitem-billingcodes", "1100"),
            "subject": SUBJECT,
            "occurrenceDateTime": "2026-02-04",
        },
        "http://terminology.hl7.org/CodeSystem/chargeitem-billingcodes|1100",
        "2026-02-04",
    ),
    "Claim": (
        {
            "resourceType": "Claim",
            "status": "active",
            "type": cc(CLAIM_TYPE, "oral"),
            "use": "claim",
            "patient": PATIENT,
            "created": "2026-02-05",
            "provider": ORG,
            "priority": cc("http://terminology.hl7.org/CodeSystem/processpriority", "normal"),
            "insurance": [
                {
                    "sequence": 1,
                    "focal": True,
                    "coverage": {"reference": "Coverage/9876B1"},
                }
            ],
        },
        f"{CLAIM_TYPE}|oral",
        "2026-02-05",
    ),
    "ClaimResponse": (
        {
            "resourceType": "ClaimResponse",
            "status": "active",
            "type": cc(CLAIM_TYPE, "oral"),
            "use": "claim",
            "patient": PATIENT,
            "created": "2026-02-06",
            "insurer": {"reference": "Organization/acme-insurance"},
            "outcome": "complete",
        },
        f"{CLAIM_TYPE}|oral",
        "2026-02-06",
    ),
    "ClinicalImpression": (
        {
            "resourceType": "ClinicalImpression",
            "status": "completed",
            "code": cc(SNOMED, "371531000", "Report of clinical encounter"),
            "subject": SUBJECT,
            "effectiveDateTime": "2026-02-07T09:00:00Z",
        },
        f"{SNOMED}|371531000",
        "2026-02-07",
    ),
    "Communication": (
        {
            "resourceType": "Communication",
            "status": "completed",
            "category": [
                cc("http://terminology.hl7.org/CodeSystem/communication-category", "alert")
            ],
            "subject": SUBJECT,
            "sent": "2026-02-08T12:00:00Z",
        },
        "http://terminology.hl7.org/CodeSystem/communication-category|alert",
        "2026-02-08",
    ),
    "CommunicationRequest": (
        {
            "resourceType": "CommunicationRequest",
            "status": "active",
            "category": [
                cc("http://terminology.hl7.org/CodeSystem/communication-category", "reminder")
            ],
            "subject": SUBJECT,
            "occurrenceDateTime": "2026-02-09",
            "authoredOn": "2026-02-01",
        },
        "http://terminology.hl7.org/CodeSystem/communication-category|reminder",
        "2026-02-09",
    ),
    "Composition": (
        {
            "resourceType": "Composition",
            "status": "final",
            "type": cc(LOINC, "11488-4", "Consult note"),
            "subject": SUBJECT,
            "date": "2026-02-10T15:00:00Z",
            "author": [DR],
            "title": "Consultation note",
        },
        f"{LOINC}|11488-4",
        "2026-02-10",
    ),
    "Consent": (
        {
            "resourceType": "Consent",
            "status": "active",
            "scope": cc("http://terminology.hl7.org/CodeSystem/consentscope", "treatment"),
            "category": [cc(LOINC, "59284-0")],
            "patient": PATIENT,
            "dateTime": "2026-02-11T08:00:00Z",
            "policyRule": cc(V3_ACT, "OPTIN"),
        },
        f"{LOINC}|59284-0",
        "2026-02-11",
    ),
    "Contract": (
        {
            "resourceType": "Contract",
            "status": "executed",
            "type": cc("http://terminology.hl7.org/CodeSystem/contract-type", "healthinsurance"),
            "subject": [SUBJECT],
            "issued": "2026-02-12T10:00:00Z",
        },
        "http://terminology.hl7.org/CodeSystem/contract-type|healthinsurance",
        "2026-02-12",
    ),
    "CoverageEligibilityRequest": (
        {
            "resourceType": "CoverageEligibilityRequest",
            "status": "active",
            "purpose": ["validation"],
            "patient": PATIENT,
            "created": "2026-02-13",
            "insurer": {"reference": "Organization/acme-insurance"},
        },
        "",
        "2026-02-13",
    ),
    "CoverageEligibilityResponse": (
        {
            "resourceType": "CoverageEligibilityResponse",
            "status": "active",
            "purpose": ["validation"],
            "patient": PATIENT,
            "created": "2026-02-14",
            "request": {"reference": "CoverageEligibilityRequest/52345"},
            "outcome": "complete",
            "insurer": {"reference": "Organization/acme-insurance"},
        },
        "",
        "2026-02-14",
    ),
    "DetectedIssue": (
        {
            "resourceType": "DetectedIssue",
            "status": "final",
            "code": cc(V3_ACT, "DRG", "Drug Interaction Alert"),
            "patient": PATIENT,
            "identifiedDateTime": "2026-02-15",
        },
        f"{V3_ACT}|DRG",
        "2026-02-15",
    ),
    "DeviceRequest": (
        {
            "resourceType": "DeviceRequest",
            "status": "active",
            "intent": "original-order",
            "codeCodeableConcept": cc(SNOMED, "706172005", "Ventilator"),
            "subject": SUBJECT,
            "authoredOn": "2026-02-16",
        },
        "",
        "2026-02-16",
    ),
    "DeviceUseStatement": (
        {
            "resourceType": "DeviceUseStatement",
            "status": "active",
            "subject": SUBJECT,
            "device": {"reference": "Device/pacemaker"},
            "recordedOn": "2026-02-17",
            "timingDateTime": "2026-02-17",
        },
        "",
        "2026-02-17",
    ),
    "DocumentManifest": (
        {
            "resourceType": "DocumentManifest",
            "status": "current",
            "type": cc(LOINC, "34133-9", "Summary of episode note"),
            "subject": SUBJECT,
            "created": "2026-02-18T09:00:00Z",
            "content": [{"reference": "DocumentReference/summary"}],
        },
        f"{LOINC}|34133-9",
        "2026-02-18",
    ),
    "EpisodeOfCare": (
        {
            "resourceType": "EpisodeOfCare",
            "status": "active",
            "type": [cc("http://terminology.hl7.org/CodeSystem/episodeofcare-type", "hacc")],
            "patient": PATIENT,
            "period": {"start": "2026-01-20"},
        },
        "http://terminology.hl7.org/CodeSystem/episodeofcare-type|hacc",
        "2026-01-20",
    ),
    "ExplanationOfBenefit": (
        {
            "resourceType": "ExplanationOfBenefit",
            "status": "active",
            "type": cc(CLAIM_TYPE, "professional"),
            "use": "claim",
            "patient": PATIENT,
            "created": "2026-02-19",
            "insurer": {"reference": "Organization/acme-insurance"},
            "provider": ORG,
            "outcome": "complete",
            "insurance": [{"focal": True, "coverage": {"reference": "Coverage/9876B1"}}],
        },
        f"{CLAIM_TYPE}|professional",
        "2026-02-19",
    ),
    "Flag": (
        {
            "resourceType": "Flag",
            "status": "active",
            "code": cc(SNOMED, "390784004", "Patient has latex allergy"),
            "subject": SUBJECT,
            "period": {"start": "2026-02-20"},
        },
        f"{SNOMED}|390784004",
        "2026-02-20",
    ),
    "GuidanceResponse": (
        {
            "resourceType": "GuidanceResponse",
            "status": "success",
            "moduleUri": "http://example.org/cds/zika-screening",
            "subject": SUBJECT,
            "occurrenceDateTime": "2026-02-21T10:00:00Z",
        },
        "",
        "2026-02-21",
    ),
    "ImmunizationEvaluation": (
        {
            "resourceType": "ImmunizationEvaluation",
            "status": "completed",
            "patient": PATIENT,
            "date": "2026-02-22",
            "targetDisease": cc(SNOMED, "1857005", "Rubella"),
            "immunizationEvent": {"reference": "Immunization/mmr-1"},
            "doseStatus": cc(
                "http://terminology.hl7.org/CodeSystem/immunization-evaluation-dose-status",
                "valid",
            ),
        },
        "",
        "2026-02-22",
    ),
    "ImmunizationRecommendation": (
        {
            "resourceType": "ImmunizationRecommendation",
            "patient": PATIENT,
            "date": "2026-02-23T09:00:00Z",
            "recommendation": [
                {
                    "vaccineCode": [cc(CVX, "03", "MMR")],
                    "forecastStatus": cc(
                        "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status",
                        "due",
                    ),
                }
            ],
        },
        "",
        "2026-02-23",
    ),
    "Invoice": (
        {
            "resourceType": "Invoice",
            "status": "issued",
            "type": cc("http://terminology.hl7.org/CodeSystem/v2-0017", "CG"),
            "subject": SUBJECT,
            "date": "2026-02-24",
        },
        "http://terminology.hl7.org/CodeSystem/v2-0017|CG",
        "2026-02-24",
    ),
    "List": (
        {
            "resourceType": "List",
            "status": "current",
            "mode": "snapshot",
            "code": cc(LOINC, "10160-0", "History of Medication use Narrative"),
            "subject": SUBJECT,
            "date": "2026-02-25T10:00:00Z",
        },
        f"{LOINC}|10160-0",
        "2026-02-25",
    ),
    "MeasureReport": (
        {
            "resourceType": "MeasureReport",
            "status": "complete",
            "type": "individual",
            "measure": "http://example.org/Measure/diabetes-a1c-control",
            "subject": SUBJECT,
            "date": "2026-02-26",
            "period": {"start": "2026-01-01", "end": "2026-01-31"},
        },
        "",
        "2026-01-01",
    ),
    "MolecularSequence": (
        {
            "resourceType": "MolecularSequence",
            "type": "dna",
            "coordinateSystem": 0,
            "patient": PATIENT,
            "referenceSeq": {
                "genomeBuild": "GRCh38",
                "windowStart": 22125500,
                "windowEnd": 22125510,
            },
        },
        "",
        "",
    ),
    "NutritionOrder": (
        {
            "resourceType": "NutritionOrder",
            "status": "active",
            "intent": "order",
            "patient": PATIENT,
            "dateTime": "2026-02-27T07:00:00Z",
            "oralDiet": {"type": [cc(SNOMED, "160670007", "Diabetic diet")]},
        },
        "",
        "2026-02-27",
    ),
    "RequestGroup": (
        {
            "resourceType": "RequestGroup",
            "status": "active",
            "intent": "plan",
            "code": cc(SNOMED, "737427001", "Clinical management plan"),
            "subject": SUBJECT,
            "authoredOn": "2026-02-28",
        },
        f"{SNOMED}|737427001",
        "2026-02-28",
    ),
    "RiskAssessment": (
        {
            "resourceType": "RiskAssessment",
            "status": "final",
            "code": cc(SNOMED, "709510001", "Assessment of risk for disease"),
            "subject": SUBJECT,
            "occurrenceDateTime": "2026-03-01",
            "prediction": [{"outcome": cc(SNOMED, "22298006", "Myocardial infarction")}],
        },
        f"{SNOMED}|709510001",
        "2026-03-01",
    ),
    "SupplyDelivery": (
        {
            "resourceType": "SupplyDelivery",
            "status": "completed",
            "type": cc("http://terminology.hl7.org/CodeSystem/supply-item-type", "device"),
            "patient": PATIENT,
            "occurrenceDateTime": "2026-03-05",
        },
        "http://terminology.hl7.org/CodeSystem/supply-item-type|device",
        "2026-03-05",
    ),
    "VisionPrescription": (
        {
            "resourceType": "VisionPrescription",
            "status": "active",
            "created": "2026-03-06",
            "patient": PATIENT,
            "dateWritten": "2026-03-06",
            "prescriber": DR,
            "lensSpecification": [
                {
                    "product": cc(
                        "http://terminology.hl7.org/CodeSystem/ex-visionprescriptionproduct",
                        "lens",
                    ),
                    "eye": "right",
                    "sphere": -2.0,
                }
            ],
        },
        "",
        "2026-03-06",
    ),
}

# Types that are not about one patient, each refused with that reason.
NOT_ABOUT_A_PATIENT = (
    "Organization",
    "Practitioner",
    "PractitionerRole",
    "Location",
    "Questionnaire",
    "Library",
    "ValueSet",
    "Medication",
    "ClinicalUseDefinition",
)

PATIENT_URL = "urn:uuid:6f1c2a4e-3b7d-4e0a-9c55-1d2e3f405060"
ENCOUNTER_URL = "urn:uuid:0b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def _entry_url(n: int) -> str:
    return f"urn:uuid:00000000-0000-4000-8000-{n:012d}"


def _about_the_patient(resource: dict[str, Any], n: int) -> dict[str, Any]:
    """A copy pointing at the Bundle's Patient entry (by fullUrl, or Type/id every 3rd)."""
    copy = {**resource}
    target = {"reference": "Patient/p1"} if n % 3 == 0 else {"reference": PATIENT_URL}
    for element in ("subject", "patient", "beneficiary"):
        if element in copy:
            copy[element] = [target] if isinstance(copy[element], list) else target
    if "encounter" in _ENCOUNTER_TYPES.get(copy["resourceType"], ()):
        copy["encounter"] = {"reference": ENCOUNTER_URL}
    return copy


# Types whose examples may also name the Bundle's Encounter (R4 `encounter` element).
_ENCOUNTER_TYPES = {
    "ServiceRequest": ("encounter",),
    "MedicationAdministration": (),
    "Specimen": (),
    "ClinicalImpression": ("encounter",),
    "Flag": ("encounter",),
}
OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": cc(LOINC, "8867-4", "Heart rate"),
    "subject": SUBJECT,
    "effectiveDateTime": "2026-03-02T09:30:00Z",
    "valueQuantity": {"value": 72, "unit": "beats/minute"},
}


def patient_bundle(entries: int = 50, kind: str = "collection") -> dict[str, Any]:
    """A patient's Bundle: the Patient, an Encounter, then records of mixed types about them.

    Every clinical entry names the patient (by the Patient entry's fullUrl or Type/id);
    some name the encounter too; observations differ by their value, so none is a copy.
    """
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "name": [{"family": "Example", "given": ["Alice"]}],
        "birthDate": "1980-04-02",
    }
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": V3_ACT, "code": "AMB"},
        "subject": {"reference": PATIENT_URL},
        "period": {"start": "2026-03-02T09:00:00Z"},
    }
    listed = [(PATIENT_URL, patient), (ENCOUNTER_URL, encounter)]
    kinds = sorted(EXAMPLES)
    for n in range(entries - 2):
        if n % 4 == 3:
            resource = {**OBSERVATION, "valueQuantity": {"value": 60 + n, "unit": "beats/minute"}}
        else:
            resource = EXAMPLES[kinds[n % len(kinds)]][0]
            resource = {**resource, "id": f"r{n}"}
        listed.append((_entry_url(n), _about_the_patient(resource, n)))
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in listed],
    }
