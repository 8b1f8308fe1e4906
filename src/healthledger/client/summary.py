"""The International Patient Summary (HL7 FHIR IPS) assembled by the SDK across custodians.

`assemble_summary` locates the patient's records (as far as the caller's standing allows),
reads the ones the summary's sections need through `Records.read` (each read decided and
audited at the record's custodian, decrypted and hash-checked here), and builds a FHIR R4
document Bundle: a Composition (LOINC 60591-5) first, then the Patient and every resource
its sections cite. Each included resource keeps the record it came from: the entry's
fullUrl and an identifier are the record id in the ledger's URN form (`urn:healthledger:
record`), and `meta.source` names the custodian and the record.

A record the caller may not or cannot read (no consent, revoked, custodian unavailable,
break-glass allowance spent...) is left out of the Bundle and listed beside it, in
`PatientSummary.left_out`, with the error the read met; each section's narrative says
how many of its records are missing, so a reader of the document alone knows it is
incomplete. The list stays beside the Bundle, not in it: it is the caller's account of
the assembly, while the document may travel on (a held copy) and carries only clinical
content.

Only the records a section needs are read (every read is a disclosure): results and vital
signs within a recent window, the newest version of each record, the newest Patient record.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from healthledger.client.sdk import ApiError
from healthledger.domains.governance import state as gov
from healthledger.domains.records.errors import NotPatientsRecord
from healthledger.domains.records.fhir import LOINC, URN
from healthledger.domains.records.queries import LocatorEntry
from healthledger.domains.records.replies import JsonObject, Reply
from healthledger.errors import InvalidField, InvalidResource, LedgerError

if TYPE_CHECKING:
    from healthledger.client.records import RecordCopy, Records

IPS_DOCUMENT = "60591-5"
IPS_TITLE = "Patient summary Document"  # LOINC 60591-5's display
IPS_ABSENT = "http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips"
LIST_EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
RECORD_URN = f"{URN}record"
PATIENT_URN = f"{URN}patient"
XHTML = "http://www.w3.org/1999/xhtml"
# Results and vital signs older than this are not read: the summary shows recent ones.
RESULTS_WINDOW_DAYS = 365
PATIENT_SECTION = "patient"

# LOINC codes of the FHIR R4 vital signs profiles: an Observation with one of these is a
# vital sign whatever its category says, and is classed before it is read.
VITAL_SIGN_CODES = frozenset(
    {
        "85353-1",  # vital signs panel
        "9279-1",  # respiratory rate
        "8867-4",  # heart rate
        "2708-6",  # oxygen saturation in arterial blood
        "59408-5",  # oxygen saturation by pulse oximetry
        "8310-5",  # body temperature
        "8302-2",  # body height
        "9843-4",  # head circumference
        "29463-7",  # body weight
        "39156-5",  # body mass index
        "85354-9",  # blood pressure panel
        "8480-6",  # systolic blood pressure
        "8462-4",  # diastolic blood pressure
    }
)
# Observation categories the results section takes (IPS: laboratory, pathology, imaging).
RESULT_CATEGORIES = frozenset({"laboratory", "imaging", "procedure"})


@dataclass(frozen=True)
class Section:
    """One IPS section: its LOINC code and title, the record types it lists, and for the
    three required ones the IPS "no information" code its placeholder entry carries."""

    key: str
    code: str
    title: str
    resource_types: tuple[str, ...]
    recent_only: bool = False
    no_information: tuple[str, str, str] | None = None  # (resource type, code, display)


# In reading order: a break-glass reader's daily allowance may run out part-way, so the
# sections an emergency needs most are read first.
SECTIONS: tuple[Section, ...] = (
    Section(
        "allergies",
        "48765-2",
        "Allergies and intolerances",
        ("AllergyIntolerance",),
        no_information=("AllergyIntolerance", "no-allergy-info", "No information about allergies"),
    ),
    Section(
        "medications",
        "10160-0",
        "Medication summary",
        ("MedicationStatement", "MedicationRequest"),
        no_information=(
            "MedicationStatement",
            "no-medication-info",
            "No information about medications",
        ),
    ),
    Section(
        "problems",
        "11450-4",
        "Problem list",
        ("Condition",),
        no_information=("Condition", "no-problem-info", "No information about problems"),
    ),
    Section("vital_signs", "8716-3", "Vital signs", ("Observation",), recent_only=True),
    Section("immunizations", "11369-6", "Immunizations", ("Immunization",)),
    Section(
        "results",
        "30954-2",
        "Results",
        ("Observation", "DiagnosticReport"),
        recent_only=True,
    ),
)
SECTION_BY_KEY: Mapping[str, Section] = MappingProxyType({s.key: s for s in SECTIONS})
REQUIRED_SECTIONS = tuple(s.key for s in SECTIONS if s.no_information is not None)

# Where each record type names its patient: rewritten to the document's Patient entry.
_PATIENT_FIELD: Mapping[str, str] = MappingProxyType(
    {
        "AllergyIntolerance": "patient",
        "Immunization": "patient",
        "MedicationStatement": "subject",
        "MedicationRequest": "subject",
        "Condition": "subject",
        "Observation": "subject",
        "DiagnosticReport": "subject",
    }
)
# Where each record type keeps the concept its narrative line shows.
_CONCEPT_FIELD: Mapping[str, str] = MappingProxyType(
    {
        "AllergyIntolerance": "code",
        "Immunization": "vaccineCode",
        "MedicationStatement": "medicationCodeableConcept",
        "MedicationRequest": "medicationCodeableConcept",
        "Condition": "code",
        "Observation": "code",
        "DiagnosticReport": "code",
    }
)
# The document as it is built: FHIR JSON, validated whole by the R4B models at the end.
Doc = dict[str, Any]
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class SummaryRecord(Reply):
    """A record the summary includes: where it sits and the access event of its read."""

    record_id: str
    custodian: str
    resource_type: str
    section: str  # a section key, or "patient" for the demographics
    full_url: str
    access_tx: str
    break_glass: bool


class LeftOutRecord(Reply):
    """A record the summary would have used but could not read, and why (the read's error)."""

    record_id: str
    custodian: str
    resource_type: str
    section: str
    code: str
    message: str


class NotSummarised(Reply):
    """A located record the summary did not read, by choice, and why (no disclosure)."""

    record_id: str
    custodian: str
    resource_type: str
    reason: str  # superseded, shredded, outside_sections, older_than_window


class PatientSummary(Reply):
    """The IPS document Bundle and, beside it, the account of how it was assembled."""

    patient: str
    purpose: str
    break_glass: bool
    bundle: JsonObject
    included: list[SummaryRecord]
    left_out: list[LeftOutRecord]
    not_summarised: list[NotSummarised]


@dataclass(frozen=True)
class Author:
    """Who assembled the summary, as the Composition's author."""

    reference: Doc
    display: str


@dataclass(frozen=True)
class _Planned:
    entry: LocatorEntry
    section: str


@dataclass(frozen=True)
class _Included:
    entry: LocatorEntry
    section: str
    resource: Doc
    access_tx: str
    break_glass: bool


# --- planning: which records to read ----------------------------------------------------------


def _loinc_code(entry: LocatorEntry) -> str:
    system, _, code = entry.code.partition("|")
    return code if system == LOINC else ""


def section_hint(entry: LocatorEntry) -> str | None:
    """The section a located record belongs to, from what the chain knows of it (type and
    code); an Observation without a vital-sign code is a result until its category says
    otherwise."""
    if entry.resource_type == "Patient":
        return PATIENT_SECTION
    if entry.resource_type == "Observation":
        return "vital_signs" if _loinc_code(entry) in VITAL_SIGN_CODES else "results"
    for section in SECTIONS:
        if entry.resource_type in section.resource_types:
            return section.key
    return None


def _skipped(entry: LocatorEntry, reason: str) -> NotSummarised:
    return NotSummarised(
        record_id=entry.id,
        custodian=entry.custodian,
        resource_type=entry.resource_type,
        reason=reason,
    )


def _why_not(entry: LocatorEntry, section: str | None, oldest_day: str) -> str | None:
    if entry.status == "shredded":
        return "shredded"
    if entry.superseded_by is not None:
        return "superseded"
    if section is None:
        return "outside_sections"
    recent_only = section in SECTION_BY_KEY and SECTION_BY_KEY[section].recent_only
    if recent_only and entry.date and entry.date < oldest_day:
        return "older_than_window"
    return None


def plan_reads(
    entries: Sequence[LocatorEntry], oldest_day: str
) -> tuple[list[_Planned], list[NotSummarised]]:
    """The records to read, most needed first, and the located ones left unread (why).

    Only the newest Patient record is read: the others are older demographics."""
    planned: list[_Planned] = []
    skipped: list[NotSummarised] = []
    for entry in entries:
        section = section_hint(entry)
        reason = _why_not(entry, section, oldest_day)
        if reason is not None:
            skipped.append(_skipped(entry, reason))
        else:
            assert section is not None  # _why_not answered outside_sections otherwise
            planned.append(_Planned(entry, section))
    patients = sorted(
        (p for p in planned if p.section == PATIENT_SECTION),
        key=lambda p: p.entry.added_height,
        reverse=True,
    )
    skipped.extend(_skipped(p.entry, "superseded") for p in patients[1:])
    optional = [s.key for s in SECTIONS if s.no_information is None]
    order = {key: i for i, key in enumerate([*REQUIRED_SECTIONS, PATIENT_SECTION, *optional])}
    others = [p for p in planned if p.section != PATIENT_SECTION]
    chosen = sorted(
        [*others, *patients[:1]], key=lambda p: (p.entry.date, p.entry.added_height), reverse=True
    )
    # Stable: within a section the newest stay first.
    chosen.sort(key=lambda p: order[p.section])
    return chosen, skipped


# --- reading ---------------------------------------------------------------------------------


def _error_code(exc: LedgerError) -> str:
    """The node's own code when it answered one (it may be newer than this SDK)."""
    return exc.remote_code if isinstance(exc, ApiError) else str(exc.code)


def _left_out(planned: _Planned, exc: LedgerError) -> LeftOutRecord:
    entry = planned.entry
    return LeftOutRecord(
        record_id=entry.id,
        custodian=entry.custodian,
        resource_type=entry.resource_type,
        section=planned.section,
        code=_error_code(exc),
        message=exc.message,
    )


def _resource_of(copy: RecordCopy, entry: LocatorEntry) -> Doc:
    try:
        resource = copy.resource()
    except ValueError as exc:
        raise InvalidResource(f"record {entry.id} is not FHIR JSON") from exc
    if not isinstance(resource, dict) or resource.get("resourceType") != entry.resource_type:
        raise InvalidResource(f"record {entry.id} does not hold a {entry.resource_type}")
    return resource


def _categories(resource: Mapping[str, Any]) -> set[str]:
    codes: set[str] = set()
    for concept in resource.get("category") or ():
        for coding in (concept or {}).get("coding") or ():
            if coding.get("system") == OBSERVATION_CATEGORY and coding.get("code"):
                codes.add(coding["code"])
    return codes


def observation_section(resource: Mapping[str, Any], hint: str) -> str | None:
    """Where a read Observation goes: vital signs by code or category, results when a
    laboratory (imaging, procedure) result or uncategorised, else no IPS section here."""
    categories = _categories(resource)
    if hint == "vital_signs" or "vital-signs" in categories:
        return "vital_signs"
    if not categories or categories & RESULT_CATEGORIES:
        return "results"
    return None


def read_planned(
    records: Records,
    patient: str,
    planned: Sequence[_Planned],
    purpose: str,
    break_glass_reason: str | None,
) -> tuple[list[_Included], list[LeftOutRecord], list[NotSummarised]]:
    """Read each planned record through its custodian; a refusal leaves it out, with why.

    The locator's list is its node's word: a record the chain files under another patient
    is left out (a lying node cannot put someone else's allergy in this summary)."""
    included: list[_Included] = []
    left_out: list[LeftOutRecord] = []
    unused: list[NotSummarised] = []
    for plan in planned:
        try:
            copy = records.read(plan.entry.id, purpose, break_glass_reason)
            if copy.record.get("patient") != patient:  # proven against the chain by the read
                raise NotPatientsRecord(plan.entry.id, patient)
            resource = _resource_of(copy, plan.entry)
        except LedgerError as exc:
            left_out.append(_left_out(plan, exc))
            continue
        section: str | None = plan.section
        if plan.entry.resource_type == "Observation":
            section = observation_section(resource, plan.section)
        if section is None:
            unused.append(_skipped(plan.entry, "outside_sections"))
            continue
        access = copy.access
        included.append(_Included(plan.entry, section, resource, access.tx_id, access.break_glass))
    return included, left_out, unused


# --- the document ----------------------------------------------------------------------------


def record_url(record_id: str) -> str:
    """A record's fullUrl in the document: its id in the ledger's URN form."""
    return f"{RECORD_URN}:{record_id}"


def record_identifier(record_id: str) -> Doc:
    return {"system": RECORD_URN, "value": record_id}


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def _sourced(resource: Doc, entry: LocatorEntry) -> Doc:
    """The resource as the document holds it: its record's id as its id and identifier,
    its custodian and record as `meta.source`."""
    cited = dict(resource)
    meta = dict(_as_object(cited.get("meta")))
    meta["source"] = f"{URN}org:{entry.custodian}#{entry.id}"
    cited["meta"] = meta
    if _FHIR_ID.fullmatch(entry.id):
        cited["id"] = entry.id
    mine = record_identifier(entry.id)
    cited["identifier"] = [mine, *_without(_as_list(cited.get("identifier")), mine)]
    return cited


def _as_object(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _as_list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _without(identifiers: list[Any], added: Doc) -> list[Any]:
    """The identifiers but any that names the same system and value as `added`."""
    same = (added["system"], added["value"])
    return [i for i in identifiers if not (isinstance(i, dict) and _names(i) == same)]


def _names(identifier: dict[str, Any]) -> tuple[object, object]:
    return identifier.get("system"), identifier.get("value")


def _about_patient(resource: Doc, patient_url: str) -> Doc:
    """Point the resource's subject (or patient) at the document's Patient entry: the ledger
    knows the record is this patient's, whatever local reference its author wrote."""
    field = _PATIENT_FIELD.get(str(resource.get("resourceType")))
    if field is None:
        return resource
    return {**resource, field: {"reference": patient_url}}


def patient_resource(patient: str, record: _Included | None) -> tuple[str, Doc]:
    """The document's Patient: the patient's own Patient record if one was read, else one
    that carries only the pseudonym (a summary never invents a name)."""
    pseudonym = {"system": PATIENT_URN, "value": patient}
    if record is None:
        return f"{PATIENT_URN}:{patient}", {"resourceType": "Patient", "identifier": [pseudonym]}
    resource = _sourced(record.resource, record.entry)
    identifiers = _without(_as_list(resource.get("identifier")), pseudonym)
    return record_url(record.entry.id), {**resource, "identifier": [*identifiers, pseudonym]}


def _concept_text(resource: Mapping[str, Any]) -> str:
    concept = _as_object(resource.get(_CONCEPT_FIELD.get(str(resource.get("resourceType")), "")))
    if concept.get("text"):
        return str(concept["text"])
    for coding in _as_list(concept.get("coding")):
        if isinstance(coding, dict) and (coding.get("display") or coding.get("code")):
            return str(coding.get("display") or coding.get("code"))
    return str(resource.get("resourceType"))


def _narrative(lines: Iterable[str], missing: int) -> Doc:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    body = f"<ul>{items}</ul>" if items else ""
    if missing:
        plural = "record" if missing == 1 else "records"
        body += f"<p>{missing} {plural} of this section could not be read for this summary.</p>"
    if not body:
        body = "<p>No information.</p>"
    return {"status": "generated", "div": f'<div xmlns="{XHTML}">{body}</div>'}


def _line(included: _Included) -> str:
    day = included.entry.date
    return _concept_text(included.resource) + (f" ({day})" if day else "")


def _no_information(section: Section, patient_url: str) -> tuple[str, Doc]:
    """IPS's placeholder entry for a required section with nothing known."""
    assert section.no_information is not None
    resource_type, code, display = section.no_information
    concept = {"coding": [{"system": IPS_ABSENT, "code": code, "display": display}]}
    resource: Doc = {"resourceType": resource_type, "code": concept}
    if resource_type == "MedicationStatement":  # R4 requires its status; the code is the drug
        resource = {"resourceType": resource_type, "status": "unknown"}
        resource["medicationCodeableConcept"] = concept
    return f"urn:uuid:{uuid.uuid4()}", _about_patient(resource, patient_url)


@dataclass(frozen=True)
class _SectionBody:
    section: Doc
    entries: list[tuple[str, Doc]]


def _section(
    section: Section, members: Sequence[_Included], missing: int, patient_url: str
) -> _SectionBody | None:
    """One section with its entries; None for an optional section with nothing to say."""
    entries = [
        (record_url(m.entry.id), _about_patient(_sourced(m.resource, m.entry), patient_url))
        for m in members
    ]
    lines = [_line(m) for m in members]
    if not entries and section.no_information is not None:
        entries = [_no_information(section, patient_url)]
        lines = [section.no_information[2]]
    body: Doc = {
        "title": section.title,
        "code": {"coding": [{"system": LOINC, "code": section.code, "display": section.title}]},
        "text": _narrative(lines, missing),
    }
    if entries:
        body["entry"] = [{"reference": url} for url, _resource in entries]
    elif missing:
        # list-empty-reason "unavailable": there is information, this caller could not get it.
        body["emptyReason"] = {"coding": [{"system": LIST_EMPTY_REASON, "code": "unavailable"}]}
    else:
        return None
    return _SectionBody(body, entries)


def build_document(
    patient: str,
    author: Author,
    included: Sequence[_Included],
    left_out: Sequence[LeftOutRecord],
    now: datetime,
) -> Doc:
    """The IPS document Bundle: Composition first, the Patient, then each section's entries."""
    demographics = next((i for i in included if i.section == PATIENT_SECTION), None)
    patient_url, patient_body = patient_resource(patient, demographics)
    sections: list[Doc] = []
    entries: list[tuple[str, Doc]] = [(patient_url, patient_body)]
    for section in SECTIONS:
        members = [i for i in included if i.section == section.key]
        missing = sum(1 for r in left_out if r.section == section.key)
        body = _section(section, members, missing, patient_url)
        if body is not None:
            sections.append(body.section)
            entries.extend(body.entries)
    composition_url = f"urn:uuid:{uuid.uuid4()}"
    composition = _composition(patient, patient_url, author, sections, now)
    return {
        "resourceType": "Bundle",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
        "type": "document",
        "timestamp": _instant(now),
        "entry": [
            {"fullUrl": composition_url, "resource": composition},
            *({"fullUrl": url, "resource": resource} for url, resource in entries),
        ],
    }


def _composition(
    patient: str, patient_url: str, author: Author, sections: list[Doc], now: datetime
) -> Doc:
    reference = {**author.reference, "display": author.display}
    if reference.get("reference") == "patient":
        reference["reference"] = patient_url
    return {
        "resourceType": "Composition",
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": IPS_DOCUMENT, "display": IPS_TITLE}]},
        "subject": {"reference": patient_url},
        "date": _instant(now),
        "author": [reference],
        "title": f"Patient summary of {patient}",
        "section": sections,
    }


def validate_bundle(bundle: Doc) -> None:
    """Hold the document to the R4B models (FHIR R4 wire format) before it is handed out."""
    try:
        get_fhir_model_class("Bundle").model_validate(bundle)
    except (ValidationError, ValueError, TypeError) as exc:
        raise InvalidResource(f"the assembled summary is not a valid FHIR Bundle: {exc}") from exc


# --- the author ------------------------------------------------------------------------------


def author_of(records: Records, patient: str) -> Author:
    """The caller as the Composition's author, from the ledger's key directory."""
    if records.patient_id == patient:
        return Author({"reference": "patient"}, "the patient")
    view = records.client.state(
        gov.NAMESPACE, gov.signing_key_key(records.keys.key_id), keys=records.keys
    )
    key = None if view.value is None else gov.KeyRecord.model_validate(view.value)
    if key is not None and key.kind == "member":
        identifier = {"system": f"{URN}member", "value": key.id}
        return Author({"type": "Practitioner", "identifier": identifier}, key.id)
    if key is not None and key.kind == "patient":
        # A representative (a patient themselves) assembling for the one they act for.
        identifier = {"system": f"{URN}actor", "value": key.id}
        return Author({"type": "RelatedPerson", "identifier": identifier}, key.id)
    identifier = {"system": f"{URN}org", "value": records.keys.key_id}
    return Author({"type": "Organization", "identifier": identifier}, records.keys.key_id)


# --- the whole ---------------------------------------------------------------------------------


def assemble_summary(
    records: Records,
    patient: str,
    purpose: str,
    break_glass_reason: str | None = None,
    now: datetime | None = None,
    window_days: int = RESULTS_WINDOW_DAYS,
) -> PatientSummary:
    """Locate, read what the sections need (each read audited at its custodian), and build
    the IPS document. A caller with no standing at all gets the locator's refusal."""
    now = now or datetime.now(UTC)
    if break_glass_reason is not None and purpose != "emergency":
        raise InvalidField("a break-glass summary is for the purpose 'emergency'")
    if break_glass_reason is not None:
        located = records.locate(patient, break_glass_reason=break_glass_reason)
    else:
        located = records.locate(patient, purpose)
    oldest = (now.date() - timedelta(days=window_days)).isoformat()
    planned, skipped = plan_reads(located.records, oldest)
    included, left_out, unused = read_planned(
        records, patient, planned, purpose, break_glass_reason
    )
    bundle = build_document(patient, author_of(records, patient), included, left_out, now)
    validate_bundle(bundle)
    return PatientSummary(
        patient=patient,
        purpose=purpose,
        break_glass=break_glass_reason is not None,
        bundle=bundle,
        included=[_summary_record(i) for i in included],
        left_out=left_out,
        not_summarised=[*skipped, *unused],
    )


def _summary_record(included: _Included) -> SummaryRecord:
    entry = included.entry
    return SummaryRecord(
        record_id=entry.id,
        custodian=entry.custodian,
        resource_type=entry.resource_type,
        section=included.section,
        full_url=record_url(entry.id),
        access_tx=included.access_tx,
        break_glass=included.break_glass,
    )


__all__ = [
    "REQUIRED_SECTIONS",
    "SECTIONS",
    "LeftOutRecord",
    "NotSummarised",
    "PatientSummary",
    "SummaryRecord",
    "assemble_summary",
    "build_document",
    "record_url",
]
