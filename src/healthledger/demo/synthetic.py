"""Realistic synthetic patients and FHIR R4 records for the demo and the benchmarks.

Deterministic: each function draws from its own `random.Random` seeded by its arguments; no
global randomness, no clock (dates count back from `BASE_DATE`), no network. Codes are real
(LOINC, SNOMED CT, ICD-10-CM, RxNorm, CVX, UCUM); people and values are invented. Decimals are
JSON floats: these resources are encrypted off-chain and never canonically encoded.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from types import MappingProxyType
from typing import Any

BASE_DATE = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
RECORD_YEARS = 3  # routine records fall within this many years before BASE_DATE
ONSET_YEARS = 12  # and chronic conditions began within this many

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
MRN_SYSTEM = "urn:healthledger:synthetic-mrn"
PATIENT_SYSTEM = "urn:healthledger:patient"

_GIVEN: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "female": (
            "Amara", "Beatriz", "Chloe", "Daniela", "Elena", "Fatima", "Grace", "Hana", "Ingrid",
            "Jasmine", "Keiko", "Leila", "Maria", "Nadia", "Olivia", "Priya", "Rosa", "Sofia",
        ),
        "male": (
            "Ahmed", "Bruno", "Carlos", "David", "Emeka", "Farid", "George", "Hiroshi", "Ivan",
            "James", "Kwame", "Liam", "Mateo", "Noah", "Omar", "Pedro", "Ravi", "Samuel",
        ),
    }
)  # fmt: skip
_FAMILY = (
    "Adeyemi", "Anderson", "Chen", "Cohen", "Da Silva", "Dubois", "Garcia", "Haddad", "Ivanova",
    "Johnson", "Kim", "Kowalski", "Martin", "Müller", "Nakamura", "Nguyen", "O'Brien", "Okafor",
    "Patel", "Rossi", "Santos", "Schmidt", "Singh", "Smith", "Tanaka", "Williams", "Yilmaz",
)  # fmt: skip
_CITIES: Mapping[str, str] = MappingProxyType(
    {
        "Springfield": "IL", "Riverside": "CA", "Franklin": "TN", "Madison": "WI",
        "Georgetown": "TX", "Salem": "OR", "Fairview": "NJ", "Arlington": "VA",
        "Burlington": "VT", "Ashland": "OH", "Clinton": "IA", "Greenville": "SC",
    }
)  # fmt: skip
_CITY_NAMES = tuple(_CITIES)


@dataclass(frozen=True)
class SyntheticPatient:
    """An invented person: what a hospital's registration desk would record."""

    given: str
    family: str
    birth_date: str  # YYYY-MM-DD
    gender: str  # "female" | "male" | "other"
    city: str
    mrn: str


@dataclass(frozen=True)
class _Drug:
    rxnorm: str
    display: str
    dosage: str


@dataclass(frozen=True)
class _Problem:
    """A chronic condition, its codes, and the drug that usually treats it."""

    snomed: str
    display: str
    icd10: str
    icd10_display: str
    drug: _Drug | None


_HYPERTENSION = _Problem(
    "38341003",
    "Hypertensive disorder, systemic arterial",
    "I10",
    "Essential (primary) hypertension",
    _Drug("314076", "lisinopril 10 MG Oral Tablet", "10 mg by mouth once daily"),
)
_DIABETES = _Problem(
    "44054006",
    "Diabetes mellitus type 2",
    "E11.9",
    "Type 2 diabetes mellitus without complications",
    _Drug(
        "860975",
        "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet",
        "500 mg by mouth twice daily with meals",
    ),
)
_HYPERLIPIDEMIA = _Problem(
    "55822004",
    "Hyperlipidemia",
    "E78.5",
    "Hyperlipidemia, unspecified",
    _Drug("617310", "atorvastatin 20 MG Oral Tablet", "20 mg by mouth once daily at bedtime"),
)
_OBESITY = _Problem("414916001", "Obesity", "E66.9", "Obesity, unspecified", None)
_PROBLEMS = (
    _HYPERTENSION,
    _DIABETES,
    _HYPERLIPIDEMIA,
    _OBESITY,
    _Problem(
        "195967001",
        "Asthma",
        "J45.909",
        "Unspecified asthma, uncomplicated",
        _Drug(
            "745679",
            "albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
            "2 puffs inhaled every 4 to 6 hours as needed",
        ),
    ),
)
# (SNOMED CT allergy, category, criticality)
_ALLERGIES = (
    ("91936005", "Allergy to penicillin", "medication", "high"),
    ("91935009", "Allergy to peanut", "food", "high"),
    ("300916003", "Latex allergy", "environment", "low"),
)
_REACTIONS = (
    ("271807003", "Eruption of skin"),
    ("126485001", "Urticaria"),
    ("39579001", "Anaphylaxis"),
)
_VACCINES = (
    (
        "208",
        "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, "
        "30 mcg/0.3mL dose",
    ),
    ("140", "Influenza, seasonal, injectable, preservative free"),
)


@dataclass(frozen=True)
class _Profile:
    """One patient's health, so that their records agree with each other."""

    patient: SyntheticPatient
    subject_ref: str
    problems: tuple[_Problem, ...]
    condition_ids: tuple[str, ...]
    weight_kg: float
    allergy: tuple[str, str, str, str] | None


# --- patients ----------------------------------------------------------------------------------


def _gender(rng: random.Random) -> str:
    roll = rng.random()
    return "female" if roll < 0.49 else "male" if roll < 0.98 else "other"


def _given(rng: random.Random, gender: str) -> str:
    names = _GIVEN.get(gender, _GIVEN["female"] + _GIVEN["male"])
    return rng.choice(names)


def _birth_date(rng: random.Random) -> str:
    age_days = rng.randint(18 * 365, 90 * 365)
    return (BASE_DATE.date() - timedelta(days=age_days)).isoformat()


def _patient(rng: random.Random, mrn: str) -> SyntheticPatient:
    gender = _gender(rng)
    return SyntheticPatient(
        given=_given(rng, gender),
        family=rng.choice(_FAMILY),
        birth_date=_birth_date(rng),
        gender=gender,
        city=rng.choice(_CITY_NAMES),
        mrn=mrn,
    )


def synthetic_patients(count: int, seed: int) -> list[SyntheticPatient]:
    """`count` invented patients with distinct medical record numbers, the same for a seed."""
    if count < 0:
        raise ValueError(f"count {count}: expected zero or more")
    rng = random.Random(seed)
    mrns: set[str] = set()
    while len(mrns) < count:
        mrns.add(f"MRN{rng.randrange(10**8):08d}")
    return [_patient(rng, mrn) for mrn in sorted(mrns)]


def patient_resource(patient: SyntheticPatient, patient_id: str) -> dict[str, Any]:
    """The FHIR Patient of a synthetic patient; `patient_id` (the ledger's) is an identifier.

    No `id`: ledger patient ids ("pat_...") are not FHIR ids, which allow no "_".
    """
    return {
        "resourceType": "Patient",
        "identifier": [
            {
                "use": "usual",
                "type": _concept(
                    "http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "Medical record number"
                ),
                "system": MRN_SYSTEM,
                "value": patient.mrn,
            },
            {"use": "secondary", "system": PATIENT_SYSTEM, "value": patient_id},
        ],
        "active": True,
        "name": [{"use": "official", "family": patient.family, "given": [patient.given]}],
        "gender": patient.gender,
        "birthDate": patient.birth_date,
        "address": [
            {"use": "home", "city": patient.city, "state": _CITIES[patient.city], "country": "US"}
        ],
    }


# --- shared pieces -------------------------------------------------------------------------------


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _quantity(value: float, unit: str, ucum: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": ucum}


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _recent(rng: random.Random) -> datetime:
    """A moment during clinic hours within RECORD_YEARS before BASE_DATE."""
    day = BASE_DATE - timedelta(days=rng.randrange(1, RECORD_YEARS * 365))
    return day.replace(hour=rng.randint(8, 17), minute=rng.randrange(60), second=rng.randrange(60))


def _onset(rng: random.Random, patient: SyntheticPatient) -> datetime:
    """When a chronic condition began: in adulthood, within ONSET_YEARS before BASE_DATE."""
    born = datetime.combine(date.fromisoformat(patient.birth_date), BASE_DATE.timetz())
    earliest = max(born + timedelta(days=18 * 365), BASE_DATE - timedelta(days=ONSET_YEARS * 365))
    span = (BASE_DATE - timedelta(days=365) - earliest).days
    onset = earliest + timedelta(days=rng.randrange(max(span, 1)))
    return min(onset, BASE_DATE - timedelta(days=90))  # an 18-year-old's began recently


def _category(code: str, display: str) -> list[dict[str, Any]]:
    return [_concept(OBSERVATION_CATEGORY, code, display)]


def _observation(
    rng: random.Random, profile: _Profile, code: dict[str, Any], category: str
) -> dict[str, Any]:
    display = "Vital Signs" if category == "vital-signs" else "Laboratory"
    return {
        "resourceType": "Observation",
        "id": _uuid(rng),
        "status": "final",
        "category": _category(category, display),
        "code": code,
        "subject": {"reference": profile.subject_ref},
        "effectiveDateTime": _timestamp(_recent(rng)),
    }


# --- vital signs ---------------------------------------------------------------------------------


def _has(profile: _Profile, problem: _Problem) -> bool:
    return problem in profile.problems


def _vital(
    rng: random.Random, profile: _Profile, loinc: str, display: str, value: dict[str, Any]
) -> dict[str, Any]:
    resource = _observation(rng, profile, _concept(LOINC, loinc, display), "vital-signs")
    resource["valueQuantity"] = value
    return resource


def _heart_rate(rng: random.Random, profile: _Profile) -> dict[str, Any]:
    value = _quantity(rng.randint(52, 104), "beats/minute", "/min")
    return _vital(rng, profile, "8867-4", "Heart rate", value)


def _body_weight(rng: random.Random, profile: _Profile) -> dict[str, Any]:
    value = _quantity(round(profile.weight_kg + rng.uniform(-2.5, 2.5), 1), "kg", "kg")
    return _vital(rng, profile, "29463-7", "Body weight", value)


def _body_temperature(rng: random.Random, profile: _Profile) -> dict[str, Any]:
    value = _quantity(round(rng.uniform(36.1, 37.9), 1), "Cel", "Cel")
    return _vital(rng, profile, "8310-5", "Body temperature", value)


def _oxygen_saturation(rng: random.Random, profile: _Profile) -> dict[str, Any]:
    value = _quantity(rng.randint(93, 100), "%", "%")
    return _vital(
        rng, profile, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", value
    )


def _pressure(loinc: str, display: str, value: int) -> dict[str, Any]:
    return {
        "code": _concept(LOINC, loinc, display),
        "valueQuantity": _quantity(value, "mmHg", "mm[Hg]"),
    }


def _blood_pressure(rng: random.Random, profile: _Profile) -> dict[str, Any]:
    # A hypertensive patient runs higher, treated or not.
    systolic = rng.randint(128, 168) if _has(profile, _HYPERTENSION) else rng.randint(102, 132)
    diastolic = min(systolic - 30, rng.randint(64, 98))
    code = _concept(LOINC, "85354-9", "Blood pressure panel with all children optional")
    resource = _observation(rng, profile, code, "vital-signs")
    resource["component"] = [
        _pressure("8480-6", "Systolic blood pressure", systolic),
        _pressure("8462-4", "Diastolic blood pressure", diastolic),
    ]
    return resource


# --- laboratory ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lab:
    """A lab test: normal range, and the range of a patient with `problem` (if any)."""

    loinc: str
    display: str
    unit: str
    ucum: str
    normal: tuple[float, float]
    problem: _Problem | None = None
    abnormal: tuple[float, float] = (0.0, 0.0)
    digits: int = 1


_HBA1C = _Lab(
    "4548-4",
    "Hemoglobin A1c/Hemoglobin.total in Blood",
    "%",
    "%",
    (4.6, 5.9),
    problem=_DIABETES,
    abnormal=(6.5, 9.8),
)
_LDL = _Lab(
    "18262-6",
    "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay",
    "mg/dL",
    "mg/dL",
    (62, 128),
    problem=_HYPERLIPIDEMIA,
    abnormal=(132, 196),
    digits=0,
)
_LABS = (
    _HBA1C,
    _Lab(
        "2345-7",
        "Glucose [Mass/volume] in Serum or Plasma",
        "mg/dL",
        "mg/dL",
        (72, 105),
        problem=_DIABETES,
        abnormal=(126, 235),
        digits=0,
    ),
    _Lab(
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        "mg/dL",
        "mg/dL",
        (0.6, 1.3),
        digits=2,
    ),
    _LDL,
    _Lab("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", "g/dL", (12.0, 17.2)),
)


def _lab_value(rng: random.Random, profile: _Profile, lab: _Lab) -> float:
    low, high = lab.abnormal if lab.problem and _has(profile, lab.problem) else lab.normal
    return round(rng.uniform(low, high), lab.digits)


def _lab(rng: random.Random, profile: _Profile) -> dict[str, Any]:
    lab = rng.choice(_LABS)
    resource = _observation(rng, profile, _concept(LOINC, lab.loinc, lab.display), "laboratory")
    resource["valueQuantity"] = _quantity(_lab_value(rng, profile, lab), lab.unit, lab.ucum)
    return resource


def _panel_member(
    local_id: str, loinc: str, display: str, value: float, profile: _Profile, when: str
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": local_id,
        "status": "final",
        "category": _category("laboratory", "Laboratory"),
        "code": _concept(LOINC, loinc, display),
        "subject": {"reference": profile.subject_ref},
        "effectiveDateTime": when,
        "valueQuantity": _quantity(value, "mg/dL", "mg/dL"),
    }


def _lipid_results(rng: random.Random, profile: _Profile, when: str) -> list[dict[str, Any]]:
    ldl = _lab_value(rng, profile, _LDL)
    hdl = float(rng.randint(35, 75))
    triglycerides = float(rng.randint(70, 260))
    total = round(ldl + hdl + triglycerides / 5)  # the Friedewald relation, read backwards
    return [
        _panel_member(
            "chol", "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", total, profile, when
        ),
        _panel_member(
            "trig",
            "2571-8",
            "Triglyceride [Mass/volume] in Serum or Plasma",
            triglycerides,
            profile,
            when,
        ),
        _panel_member(
            "hdl",
            "2085-9",
            "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
            hdl,
            profile,
            when,
        ),
        _panel_member("ldl", _LDL.loinc, _LDL.display, ldl, profile, when),
    ]


def _lipid_panel(rng: random.Random, profile: _Profile) -> dict[str, Any]:
    drawn = _recent(rng)
    results = _lipid_results(rng, profile, _timestamp(drawn))
    return {
        "resourceType": "DiagnosticReport",
        "id": _uuid(rng),
        "contained": results,
        "status": "final",
        "category": [
            _concept("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")
        ],
        "code": _concept(LOINC, "57698-3", "Lipid panel with direct LDL - Serum or Plasma"),
        "subject": {"reference": profile.subject_ref},
        "effectiveDateTime": _timestamp(drawn),
        "issued": _timestamp(drawn + timedelta(hours=rng.randint(2, 30))),
        "result": [{"reference": f"#{result['id']}"} for result in results],
    }


# --- problems, medications, allergies, immunizations --------------------------------------------


def _condition(rng: random.Random, profile: _Profile, index: int) -> dict[str, Any]:
    problem = profile.problems[index]
    onset = _onset(rng, profile.patient)
    return {
        "resourceType": "Condition",
        "id": profile.condition_ids[index],
        "clinicalStatus": _concept(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"
        ),
        "verificationStatus": _concept(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"
        ),
        "category": [
            _concept(
                "http://terminology.hl7.org/CodeSystem/condition-category",
                "problem-list-item",
                "Problem List Item",
            )
        ],
        "code": {
            "coding": [
                {"system": SNOMED, "code": problem.snomed, "display": problem.display},
                {"system": ICD10_CM, "code": problem.icd10, "display": problem.icd10_display},
            ],
            "text": problem.display,
        },
        "subject": {"reference": profile.subject_ref},
        "onsetDateTime": onset.date().isoformat(),
        "recordedDate": _timestamp(onset + timedelta(days=rng.randint(0, 30))),
    }


def _medication(rng: random.Random, profile: _Profile, index: int) -> dict[str, Any]:
    problem = profile.problems[index]
    assert problem.drug is not None  # the plan only lists problems with a drug
    start = _onset(rng, profile.patient) + timedelta(days=rng.randint(0, 60))
    return {
        "resourceType": "MedicationStatement",
        "id": _uuid(rng),
        "status": "active",
        "medicationCodeableConcept": _concept(RXNORM, problem.drug.rxnorm, problem.drug.display),
        "subject": {"reference": profile.subject_ref},
        "effectivePeriod": {"start": start.date().isoformat()},
        "dateAsserted": _timestamp(max(start, _recent(rng))),
        "reasonReference": [{"reference": f"Condition/{profile.condition_ids[index]}"}],
        "dosage": [{"text": problem.drug.dosage}],
    }


def _allergy(rng: random.Random, profile: _Profile) -> dict[str, Any]:
    assert profile.allergy is not None  # the plan only lists an allergy the patient has
    code, display, category, criticality = profile.allergy
    reaction = rng.choice(_REACTIONS[:2] if criticality == "low" else _REACTIONS)
    return {
        "resourceType": "AllergyIntolerance",
        "id": _uuid(rng),
        "clinicalStatus": _concept(
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"
        ),
        "verificationStatus": _concept(
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
            "confirmed",
            "Confirmed",
        ),
        "type": "allergy",
        "category": [category],
        "criticality": criticality,
        "code": _concept(SNOMED, code, display),
        "patient": {"reference": profile.subject_ref},
        "recordedDate": _timestamp(_recent(rng)),
        "reaction": [{"manifestation": [_concept(SNOMED, *reaction)], "severity": "moderate"}],
    }


def _immunization(rng: random.Random, profile: _Profile) -> dict[str, Any]:
    code, display = rng.choice(_VACCINES)
    return {
        "resourceType": "Immunization",
        "id": _uuid(rng),
        "status": "completed",
        "vaccineCode": _concept(CVX, code, display),
        "patient": {"reference": profile.subject_ref},
        "occurrenceDateTime": _timestamp(_recent(rng)),
        "primarySource": True,
        "lotNumber": f"{rng.choice('EFGHKL')}{rng.choice('ABCKLW')}{rng.randrange(1000, 10000)}",
    }


# --- the mix ------------------------------------------------------------------------------------

_Maker = Callable[[random.Random, _Profile], dict[str, Any]]
# Routine care: what fills a chart after its problem list, with relative frequencies.
_ROUTINE: Sequence[tuple[_Maker, int]] = (
    (_blood_pressure, 14),
    (_heart_rate, 10),
    (_body_weight, 8),
    (_body_temperature, 5),
    (_oxygen_saturation, 5),
    (_lab, 16),
    (_lipid_panel, 5),
    (_immunization, 5),
)


def _profile(rng: random.Random, patient: SyntheticPatient, subject_ref: str) -> _Profile:
    count = rng.choices((0, 1, 2, 3), weights=(25, 35, 25, 15))[0]
    problems = tuple(rng.sample(_PROBLEMS, count))
    return _Profile(
        patient=patient,
        subject_ref=subject_ref,
        problems=problems,
        condition_ids=tuple(_uuid(rng) for _ in problems),
        weight_kg=rng.uniform(95.0, 135.0) if _OBESITY in problems else rng.uniform(50.0, 92.0),
        allergy=rng.choice(_ALLERGIES) if rng.random() < 0.3 else None,
    )


def _problem_list(profile: _Profile) -> list[_Maker]:
    """One maker per condition, per treating drug and per allergy: each is charted once."""
    makers: list[_Maker] = []
    for index, problem in enumerate(profile.problems):
        makers.append(partial(_condition, index=index))
        if problem.drug is not None:
            makers.append(partial(_medication, index=index))
    if profile.allergy is not None:
        makers.append(_allergy)
    return makers


def synthetic_records(
    patient: SyntheticPatient, subject_ref: str, count: int, seed: int
) -> list[dict[str, Any]]:
    """`count` FHIR records of one patient: problems, drugs and allergy first, then routine care."""
    if count < 0:
        raise ValueError(f"count {count}: expected zero or more")
    rng = random.Random(f"{seed}/{patient.mrn}/{subject_ref}")
    profile = _profile(rng, patient, subject_ref)
    makers = _problem_list(profile)[:count]
    routine, weights = zip(*_ROUTINE, strict=True)
    makers += rng.choices(routine, weights=weights, k=count - len(makers))
    return [make(rng, profile) for make in makers]


def small_observation(subject_ref: str, index: int) -> dict[str, Any]:
    """A heart-rate Observation varying with `index`, cheap enough to build 100,000 of."""
    when = BASE_DATE - timedelta(minutes=index)
    return {
        "resourceType": "Observation",
        "id": f"hr-{index}",
        "status": "final",
        "category": [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs"}]},
        ],
        "code": {"coding": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": subject_ref},
        "effectiveDateTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "valueQuantity": {
            "value": 52 + index * 7 % 47,
            "unit": "beats/minute",
            "system": UCUM,
            "code": "/min",
        },
    }
