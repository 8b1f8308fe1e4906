"""FHIR R4 at the edge of the records domain: validate a record, summarise it for the chain,
and export the chain's consents and access events as FHIR Consent and AuditEvent.

Pure functions, no I/O and no clock. Resources are checked with the `fhir.resources` R4B
models, which are wire-compatible with FHIR R4 for every type used here. A record itself is
encrypted off-chain; the chain keeps only its `ResourceSummary` (type, one code, one day), so a
summary never carries free text: no display strings, notes, names or identifiers.

Every refusal is a `LedgerError` with code `INVALID_RESOURCE`; when the FHIR model refuses a
resource, the message carries the model's own first error (where and why).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any, NoReturn

from fhir.resources.R4B import fhirtypes, get_fhir_model_class
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.domainresource import DomainResource
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from healthledger.domains.shared.fields import iso_day
from healthledger.errors import InvalidResource

# Code systems (FHIR R4 terminology, HL7 v3 vocabularies, DICOM PS3.16).
LOINC = "http://loinc.org"
RESOURCE_TYPES_SYSTEM = "http://hl7.org/fhir/resource-types"
CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
V3_PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"
AUDIT_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SECURITY_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
# The ledger's own namespaces: identifiers keep ledger ids exactly as the chain writes them.
URN = "urn:healthledger:"

MAX_CODE_LENGTH = 200
# JSON levels (objects and arrays) a record may nest: far beyond real resources (a
# questionnaire's nested items), well within what the R4B models validate.
MAX_DEPTH = 100
PATIENT_CONSENT = "59284-0"  # LOINC "Patient Consent", the category of FHIR R4's consent examples

# v3-ActReason purposes of use for the ledger's purposes.
PURPOSES: Mapping[str, str] = MappingProxyType(
    {
        "treatment": "TREAT",
        "payment": "HPAYMT",
        "research": "HRESCH",
        "emergency": "ETREAT",
        "operations": "HOPERAT",
        "public_health": "PUBHLTH",
        "patient_request": "PATRQT",
        # DONAT "donation": operations on information used for cadaveric organ, eye or
        # tissue donation; what a transplant coordinator's question is for.
        "transplant": "DONAT",
    }
)
BREAK_THE_GLASS = "BTG"  # v3-ActReason

# A short kind of large file -> the media type its DocumentReference attachment declares.
FILE_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "vcf": "text/vcf",
        "fastq": "text/x-fastq",
        "bam": "application/x-bam",
        "dicom": "application/dicom",  # RFC 3240
        "pdf": "application/pdf",
        "other": "application/octet-stream",
    }
)
# LOINC document types of those files; a PDF or an unknown file says nothing of its content.
_FILE_CODES: Mapping[str, str] = MappingProxyType(
    {
        "vcf": f"{LOINC}|51969-4",  # Genetic analysis report
        "fastq": f"{LOINC}|51969-4",
        "bam": f"{LOINC}|51969-4",
        "dicom": f"{LOINC}|18748-4",  # Diagnostic imaging study
        "pdf": "",
        "other": "",
    }
)

# Printable ASCII without spaces (the chain's RecordAdd.code takes no more) and without "|",
# which would make the system|code token ambiguous and opens SNOMED CT expressions, whose
# terms are display text.
_CODE_PART = re.compile(r"[\x21-\x7b\x7d\x7e]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_LAST_INSTANT_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - _EPOCH) // _MS
_MAX_MESSAGE = 300


@dataclass(frozen=True)
class ResourceSummary:
    """What the chain may know of a record: its type, its primary code and its day."""

    resource_type: str
    code: str  # "system|code" of the first coding, "|code" without a system, "" if none
    date: str  # "YYYY-MM-DD", or "" when the resource has no full clinical date


@dataclass(frozen=True)
class _Fields:
    """Where a record type keeps its code and its clinical date; the first present wins."""

    code: tuple[str, ...]
    date: tuple[str, ...]


# Attribute paths into the R4B models: "type.0" is the first item of a list, "#" follows a
# local reference ("#med1") to the contained resource it names.
_FIELDS: Mapping[str, _Fields] = MappingProxyType(
    {
        "Observation": _Fields(
            ("code",), ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued")
        ),
        "Condition": _Fields(("code",), ("onsetDateTime", "onsetPeriod.start", "recordedDate")),
        "MedicationStatement": _Fields(
            ("medicationCodeableConcept", "medicationReference.#.code"),
            ("effectiveDateTime", "effectivePeriod.start", "dateAsserted"),
        ),
        "MedicationRequest": _Fields(
            ("medicationCodeableConcept", "medicationReference.#.code"), ("authoredOn",)
        ),
        "DiagnosticReport": _Fields(
            ("code",), ("effectiveDateTime", "effectivePeriod.start", "issued")
        ),
        # The time of service first; `date` is when the reference itself was made.
        "DocumentReference": _Fields(("type",), ("context.period.start", "date")),
        "AllergyIntolerance": _Fields(
            ("code",), ("onsetDateTime", "onsetPeriod.start", "recordedDate")
        ),
        "Immunization": _Fields(("vaccineCode",), ("occurrenceDateTime", "recorded")),
        "Procedure": _Fields(("code",), ("performedDateTime", "performedPeriod.start")),
        "Encounter": _Fields(("type.0", "class_fhir"), ("period.start",)),
        "CarePlan": _Fields(("category.0",), ("period.start", "created")),
        "ImagingStudy": _Fields(("procedureCode.0", "modality.0"), ("started",)),
        # Demographics are a record too, but nothing of them reaches the chain: a birth date
        # identifies a person (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)).
        "Patient": _Fields((), ()),
        # A relative or carer of the patient: the relationship's code only, no date (a
        # period of a named person's role says nothing clinical).
        "RelatedPerson": _Fields(("relationship.0",), ()),
        "ServiceRequest": _Fields(
            ("code", "category.0"), ("occurrenceDateTime", "occurrencePeriod.start", "authoredOn")
        ),
        # A questionnaire's answers: no code of its own (its questionnaire is a canonical URL,
        # not a code), the day it was answered.
        "QuestionnaireResponse": _Fields((), ("authored",)),
        # What ran in the family first (the predisposition), else who it was about.
        "FamilyMemberHistory": _Fields(("condition.0.code", "relationship"), ("date",)),
        "Goal": _Fields(("description", "category.0"), ("startDate", "statusDate")),
        "CareTeam": _Fields(("category.0",), ("period.start",)),
        "Specimen": _Fields(
            ("type",),
            ("collection.collectedDateTime", "collection.collectedPeriod.start", "receivedTime"),
        ),
        # A device used by or implanted in the patient; its manufacture is not a clinical date.
        "Device": _Fields(("type",), ()),
        "Media": _Fields(
            ("modality", "type"), ("createdDateTime", "createdPeriod.start", "issued")
        ),
        "MedicationDispense": _Fields(
            ("medicationCodeableConcept", "medicationReference.#.code"),
            ("whenHandedOver", "whenPrepared"),
        ),
        "MedicationAdministration": _Fields(
            ("medicationCodeableConcept", "medicationReference.#.code"),
            ("effectiveDateTime", "effectivePeriod.start"),
        ),
        "Coverage": _Fields(("type",), ("period.start",)),
    }
)
# Every other record type: the first coded element and the first full date found among the
# elements most resources use for them (FHIR R4's common patterns: code/type/category for
# what, occurrence/effective/period/... for when).
_GENERIC = _Fields(
    ("code", "code.0", "type", "type.0", "category", "category.0", "class_fhir", "event"),
    (
        "effectiveDateTime",
        "effectivePeriod.start",
        "occurrenceDateTime",
        "occurrencePeriod.start",
        "performedDateTime",
        "performedPeriod.start",
        "onsetDateTime",
        "onsetPeriod.start",
        "period.start",
        "authoredOn",
        "authored",
        "recordedDate",
        "recorded",
        "created",
        "issued",
        "date",
        "dateTime",
        "sent",
        "identifiedDateTime",
        "recordedOn",
    ),
)
# The elements by which an R4 resource says whom it is about.
_PATIENT_ELEMENTS = ("subject", "patient", "beneficiary")


def _can_name_a_patient(model: type[Resource], element: str) -> bool:
    """Whether the model's element is a Reference that may target a Patient."""
    field = model.model_fields.get(element)
    extra = field.json_schema_extra if field is not None else None
    targets = extra.get("enum_reference_types", ()) if isinstance(extra, dict) else ()
    return isinstance(targets, list) and bool({"Patient", "Resource"} & set(targets))


def _patient_linked_types() -> frozenset[str]:
    """Every R4 resource type whose subject, patient or beneficiary may be a Patient.

    Derived from the R4B models (each resource's `...Type` in `fhirtypes`, in name order),
    so the set follows the models, not a hand-kept list. Product and knowledge resources
    whose `subject` names a medicinal product or a study (ClinicalUseDefinition,
    RegulatedAuthorization, EvidenceReport) fall out by the same rule.
    """
    found = set()
    for name in sorted(n.removesuffix("Type") for n in dir(fhirtypes) if n.endswith("Type")):
        try:
            model = get_fhir_model_class(name)
        except ValueError:
            continue
        if not (isinstance(model, type) and issubclass(model, DomainResource)):
            continue
        if model.get_resource_type() != name:
            continue
        if any(_can_name_a_patient(model, element) for element in _PATIENT_ELEMENTS):
            found.add(name)
    return frozenset(found)


@functools.cache
def record_types() -> frozenset[str]:
    """The record types: Patient and every patient-linked type (derived once, then kept).

    Bundle is not a record type: one summary could not describe its mixed entries, and a
    consent scoped to resource types would either miss them or, granted on "Bundle", leak
    every type inside. A Bundle is imported as one record per entry (`bundles.py`).
    """
    return frozenset(_FIELDS) | _patient_linked_types()


def __getattr__(name: str) -> object:
    # RECORD_TYPES is derived on first use, not when this module is imported: building
    # every R4B model takes seconds of CPU, which every CLI command would pay otherwise.
    if name == "RECORD_TYPES":
        return record_types()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _fail(message: str) -> NoReturn:
    raise InvalidResource(message)


def _shorten(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_MESSAGE else flat[: _MAX_MESSAGE - 3] + "..."


# --- validation ----------------------------------------------------------------------------


def _location(loc: Sequence[int | str]) -> str:
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    return where.lstrip(".") or "resource"


def _validation_message(resource_type: str, exc: ValidationError) -> str:
    first = exc.errors()[0]
    more = exc.error_count() - 1
    extra = f" (and {more} more)" if more else ""
    return f"{resource_type}: {_location(first['loc'])}: {first['msg']}{extra}"


def _reject_nulls(resource: dict[str, Any]) -> None:
    # FHIR R4 JSON never has a null member; the models let some null required ones through.
    pending: list[tuple[str, Any]] = [("", resource)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if item is None:
                    _fail(_shorten(f"{where}{key}: null is not allowed in FHIR JSON"))
                pending.append((f"{where}{key}.", item))
        elif isinstance(value, list):
            pending.extend((where, item) for item in value)


def _model(resource_type: str, resource: dict[str, Any]) -> object:
    """The R4B model of a resource, or INVALID_RESOURCE with the model's own reason."""
    _reject_nulls(resource)
    try:
        return get_fhir_model_class(resource_type).model_validate(resource)
    except ValidationError as exc:
        _fail(_shorten(_validation_message(resource_type, exc)))
    except (KeyError, TypeError, ValueError) as exc:
        # The models raise these, not ValidationError, for e.g. an unknown contained type.
        _fail(_shorten(f"{resource_type}: {type(exc).__name__}: {exc}"))


def _is_fhir_resource(name: str) -> bool:
    try:
        return issubclass(get_fhir_model_class(name), Resource)
    except ValueError:
        return False


def _record_type(resource: dict[str, Any]) -> str:
    resource_type = resource.get("resourceType")
    if resource_type is None:
        _fail("resourceType: missing")
    if not isinstance(resource_type, str):
        _fail(f"resourceType {resource_type!r}: expected a string")
    if resource_type in record_types():
        return resource_type
    if not _is_fhir_resource(resource_type):
        _fail(f"resourceType {resource_type[:64]!r}: not a FHIR R4 resource type")
    if resource_type == "Bundle":
        _fail(
            "resourceType 'Bundle' is not accepted as a record: a Bundle is imported as one "
            "record per entry (POST /v1/records/bundle, healthledger records import)"
        )
    _fail(
        f"resourceType {resource_type!r} is not accepted as a record: "
        f"{resource_type} is not about one patient"
    )


# --- summary -------------------------------------------------------------------------------


def _contained(model: object, reference: object) -> object:
    target = getattr(reference, "reference", None)
    if not isinstance(target, str) or not target.startswith("#"):
        return None
    for resource in getattr(model, "contained", None) or ():
        if getattr(resource, "id", None) == target[1:]:
            return resource
    return None


def _at(model: object, path: str) -> object:
    value = model
    for step in path.split("."):
        if step == "#":
            value = _contained(model, value)
        elif isinstance(value, list):
            # A path written for one element meets a list in some type: no value there.
            value = value[int(step)] if step.isdigit() and int(step) < len(value) else None
        else:
            value = getattr(value, step, None)
        if value is None:
            return None
    return value


def _coding_token(coding: Coding) -> str:
    if not coding.code:
        return ""
    system = coding.system or ""
    for part in (system, coding.code):
        if part and not _CODE_PART.fullmatch(part):
            _fail(f"code {part[:64]!r}: the summary takes printable ASCII, no space or '|'")
    token = f"{system}|{coding.code}"
    if len(token) > MAX_CODE_LENGTH:
        _fail(f"code {token[:64]!r}...: longer than {MAX_CODE_LENGTH} characters")
    return token


def _code(value: object) -> str:
    if isinstance(value, CodeableConcept):
        # Only the first coding: the text and any further codings stay off-chain.
        return _coding_token(value.coding[0]) if value.coding else ""
    if isinstance(value, Coding):
        return _coding_token(value)
    return ""


def _day(value: object) -> str:
    # A dateTime keeps the day as written in its own offset; a partial date ("2019-07") is
    # not a day, and the next field is tried instead.
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return ""


def _summary(resource_type: str, model: object) -> ResourceSummary:
    fields = _FIELDS.get(resource_type, _GENERIC)
    codes = (_code(_at(model, path)) for path in fields.code)
    days = (_day(_at(model, path)) for path in fields.date)
    return ResourceSummary(
        resource_type, next(filter(None, codes), ""), next(filter(None, days), "")
    )


def require_depth(value: object, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than `limit` (objects and arrays), walked without recursion:
    the R4B models (and orjson's encoder) recurse per level and give up far below the
    depth the request parser allows, as an unexpected error instead of a refusal."""
    level: list[tuple[object, int]] = [(value, 1)]
    while level:
        item, depth = level.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > limit:
            _fail(f"the resource nests deeper than {limit} levels")
        children = item.values() if isinstance(item, dict) else item
        level.extend((child, depth + 1) for child in children)


def validate_resource(resource: object) -> ResourceSummary:
    """Check a parsed FHIR R4 record (a JSON object) and return what the chain may hold of it."""
    if not isinstance(resource, dict):
        _fail(f"expected a FHIR resource as a JSON object, not {type(resource).__name__}")
    require_depth(resource)
    resource_type = _record_type(resource)
    return _summary(resource_type, _model(resource_type, resource))


def _iso_day(value: str) -> str:
    try:
        iso_day(value)
    except ValueError as exc:
        _fail(f"date {value[:32]!r}: {exc}")
    return value


def file_summary(kind: str, date: str) -> ResourceSummary:
    """The summary of a large file (a genome, an image) kept as a DocumentReference record.

    DocumentReference, not Binary: it is FHIR's index of a document by type and date, the
    two things a summary holds, and a consent to documents then covers these files too.
    """
    if kind not in FILE_KINDS:
        _fail(f"file kind {kind[:32]!r}: expected one of {', '.join(FILE_KINDS)}")
    return ResourceSummary("DocumentReference", _FILE_CODES[kind], _iso_day(date))


# --- export of chain records -----------------------------------------------------------------


def _instant(field: str, time_ms: int) -> str:
    """FHIR instant in UTC with milliseconds, from unix milliseconds."""
    if isinstance(time_ms, bool) or not isinstance(time_ms, int):
        _fail(f"{field} {time_ms!r}: expected integer milliseconds")
    try:
        moment = _EPOCH + time_ms * _MS
    except OverflowError:
        _fail(f"{field} {time_ms} ms is outside years 1 to 9999")
    if moment.year < 1000:
        _fail(f"{field} {time_ms} ms is before year 1000")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _reference(resource_type: str | None, namespace: str, ledger_id: str) -> dict[str, Any]:
    # A logical reference (Reference.identifier): ledger ids such as "pat_..." or
    # "hospital-b/dr-lee" are not FHIR ids ([A-Za-z0-9-.]{1,64}), so "Patient/pat_..." would
    # not be a valid literal reference; the identifier keeps the id exactly.
    reference: dict[str, Any] = {"identifier": {"system": URN + namespace, "value": ledger_id}}
    if resource_type is not None:
        reference["type"] = resource_type
    return reference


def _height_tag(kind: str, height: int) -> dict[str, str]:
    if isinstance(height, bool) or not isinstance(height, int) or height < 0:
        _fail(f"{kind} height {height!r}: expected a non-negative integer")
    return {"system": f"{URN}{kind}-height", "code": str(height)}


def _purpose(purpose: str) -> dict[str, str]:
    if purpose not in PURPOSES:
        _fail(f"purpose {purpose!r}: expected one of {', '.join(PURPOSES)}")
    return {"system": V3_ACT_REASON, "code": PURPOSES[purpose]}


def _validated(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource itself, once the R4B model accepts it."""
    _model(resource["resourceType"], resource)
    return resource


def _missing(kind: str, record: Mapping[str, Any], exc: KeyError) -> NoReturn:
    _fail(f"{kind} {record.get('id')!r}: the chain record lacks field {exc}")


# --- Consent --------------------------------------------------------------------------------


def _grantee(grantee: Mapping[str, Any]) -> dict[str, Any]:
    kind = grantee["kind"]
    if kind == "org":
        return _reference("Organization", "org", grantee["org"])
    if kind == "member":
        return _reference("Practitioner", "member", grantee["member"])
    if kind == "role":
        # Every member of the organisation holding the role: a PractitionerRole.
        return _reference("PractitionerRole", "role", f"{grantee['org']}/{grantee['role']}")
    _fail(f"grantee kind {kind!r}: expected org, member or role")


def _grantor(consent: Mapping[str, Any]) -> dict[str, Any]:
    if consent["granted_by"] == consent["patient"]:
        return _reference("Patient", "patient", consent["patient"])
    # A guardian or other representative acting for the patient.
    return _reference("RelatedPerson", "actor", consent["granted_by"])


def _consent_period(consent: Mapping[str, Any]) -> dict[str, str]:
    period = {"start": _instant("granted_ms", consent["granted_ms"])}
    expires = consent["expires_ms"]
    # The chain takes expiries up to 2**53 - 1 ms; past year 9999 a FHIR instant cannot say
    # it, and an open-ended period means the same: the consent never expires in practice.
    if not (isinstance(expires, int) and expires > _LAST_INSTANT_MS):
        period["end"] = _instant("expires_ms", expires)
    return period


def _provision(consent: Mapping[str, Any]) -> dict[str, Any]:
    provision: dict[str, Any] = {
        "type": "permit",
        "period": _consent_period(consent),
        "actor": [
            {
                "role": _concept(V3_PARTICIPATION_TYPE, "IRCP"),  # information recipient
                "reference": _grantee(consent["grantee"]),
            }
        ],
    }
    # An empty list leaves its element out, so the provision is not narrowed by it: the chain
    # reads [] resource types or record ids as "all" (and an empty purpose list as "any").
    if consent["purposes"]:
        provision["purpose"] = [_purpose(purpose) for purpose in consent["purposes"]]
    if consent["resource_types"]:
        provision["class"] = [
            {"system": RESOURCE_TYPES_SYSTEM, "code": resource_type}
            for resource_type in consent["resource_types"]
        ]
    if consent["record_ids"]:
        # consent-data-meaning "instance": exactly these records, not what they refer to.
        provision["data"] = [
            {"meaning": "instance", "reference": _reference(None, "record", record_id)}
            for record_id in consent["record_ids"]
        ]
    return provision


def _consent_meta(consent: Mapping[str, Any]) -> dict[str, Any]:
    tags = [_height_tag("granted", consent["granted_height"])]
    changed_ms = consent["granted_ms"]
    if consent["status"] == "revoked":
        tags.append(_height_tag("revoked", consent["revoked_height"]))
        changed_ms = consent["revoked_ms"]
    return {"lastUpdated": _instant("last change", changed_ms), "tag": tags}


def _consent_status(status: str) -> str:
    if status not in ("active", "revoked"):
        _fail(f"consent status {status!r}: expected active or revoked")
    return "active" if status == "active" else "inactive"


def _consent_body(consent: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": consent["id"],
        "meta": _consent_meta(consent),
        "identifier": [{"system": URN + "consent", "value": consent["id"]}],
        "status": _consent_status(consent["status"]),
        "scope": _concept(CONSENT_SCOPE_SYSTEM, "patient-privacy"),
        "category": [_concept(LOINC, PATIENT_CONSENT)],
        "patient": _reference("Patient", "patient", consent["patient"]),
        "dateTime": _instant("granted_ms", consent["granted_ms"]),
        "performer": [_grantor(consent)],
        # The patient opts in to sharing within the provision (FHIR R4 ppc-1 wants a rule).
        "policyRule": _concept(V3_ACT_CODE, "OPTIN"),
        "provision": _provision(consent),
    }


def consent_resource(consent: dict[str, Any]) -> dict[str, Any]:
    """A chain consent record as a FHIR R4 Consent (patient-privacy, permit), validated."""
    try:
        body = _consent_body(consent)
    except KeyError as exc:
        _missing("consent", consent, exc)
    return _validated(body)


# --- AuditEvent -------------------------------------------------------------------------------

_READER_TYPES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "member": ("Practitioner", "member"),
        "org": ("Organization", "org"),
        "patient": ("Patient", "patient"),
    }
)


@dataclass(frozen=True)
class _Action:
    """How an access of the chain is typed in an AuditEvent (DICOM PS3.16, as IHE ATNA does)."""

    code: str
    display: str
    action: str


_ACTIONS: Mapping[str, _Action] = MappingProxyType(
    {
        # A record was read (decrypted): "Patient Record", action Read.
        "read": _Action("110110", "Patient Record", "R"),
        # A break-glass search for where a patient's records are: "Query", action Execute.
        "locate": _Action("110112", "Query", "E"),
        # A transplant coordinator read the patient's organ-donation decision (a consent).
        "donation": _Action("110110", "Patient Record", "R"),
    }
)


def _action(event: Mapping[str, Any]) -> _Action:
    action = event.get("action", "read")
    if action not in _ACTIONS:
        _fail(f"access action {action!r}: expected {' or '.join(_ACTIONS)}")
    return _ACTIONS[action]


def _purposes_of_event(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    purposes = [{"coding": [_purpose(event["purpose"])]}]
    if event["break_glass"]:
        purposes.append(_concept(V3_ACT_REASON, BREAK_THE_GLASS))
    return purposes


def _reader_agent(event: Mapping[str, Any]) -> dict[str, Any]:
    reader = event["reader"]
    if reader["kind"] not in _READER_TYPES:
        _fail(f"reader kind {reader['kind']!r}: expected {', '.join(_READER_TYPES)}")
    resource_type, namespace = _READER_TYPES[reader["kind"]]
    agent: dict[str, Any] = {
        "type": _concept(V3_PARTICIPATION_TYPE, "IRCP"),  # information recipient
        "who": _reference(resource_type, namespace, reader["id"]),
        "altId": reader["key_id"],  # the key that signed the request
        "requestor": True,
        "policy": [f"{URN}basis:{event['basis']}"],  # what authorised the access
        "purposeOfUse": _purposes_of_event(event),
    }
    if reader.get("role"):
        # The ledger's own role of the reader: a member role, an organisation role or "patient".
        agent["role"] = [_concept(URN + "actor-role", reader["role"])]
    return agent


def _custodian_agent(event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": _concept(V3_PARTICIPATION_TYPE, "CST"),  # custodian
        "who": _reference("Organization", "org", event["custodian"]),
        "requestor": False,
    }


def _entity(what: dict[str, Any], entity_type: str, role: str | None = None) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "what": what,
        "type": {"system": AUDIT_ENTITY_TYPE, "code": entity_type},
    }
    if role is not None:
        entity["role"] = {"system": OBJECT_ROLE, "code": role}
    return entity


def _ledger_entity(event: Mapping[str, Any]) -> dict[str, Any]:
    # The transaction that recorded the access (its height is in meta.tag) ties the event to
    # its proof on the chain; a break-glass reason rides with it as its salted hash (the
    # chain's), plus its text when the custodian's vault has opened it for this reader.
    entity = _entity(_reference(None, "tx", event["tx_id"]), "2")
    detail = []
    if event["reason_hash"]:
        detail.append({"type": f"{URN}reason-hash", "valueString": event["reason_hash"]})
    if event.get("reason"):
        detail.append({"type": f"{URN}reason", "valueString": event["reason"]})
    if detail:
        entity["detail"] = detail
    return entity


def _entities(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    # audit-entity-type 1 "Person" / 2 "System Object"; object-role 1 "Patient",
    # 4 "Domain Resource", 13 "Security Resource" (the consent the access relied on).
    entities = [_entity(_reference("Patient", "patient", event["patient"]), "1", "1")]
    if event["record"]:  # a locate names the patient only
        entities.append(_entity(_reference(None, "record", event["record"]), "2", "4"))
    if event["consent"]:
        entities.append(_entity(_reference("Consent", "consent", event["consent"]), "2", "13"))
    if event["appointment"]:
        entities.append(
            _entity(_reference("Appointment", "appointment", event["appointment"]), "2")
        )
    entities.append(_ledger_entity(event))
    return entities


def _audit_body(event: Mapping[str, Any]) -> dict[str, Any]:
    action = _action(event)
    return {
        "resourceType": "AuditEvent",
        "id": event["id"],
        "meta": {"tag": [_height_tag("recorded", event["height"])]},
        "type": {"system": DICOM_DCM, "code": action.code, "display": action.display},
        "action": action.action,
        "recorded": _instant("time_ms", event["time_ms"]),
        "outcome": "0",  # success: the chain records only granted accesses
        "purposeOfEvent": _purposes_of_event(event),
        "agent": [_reader_agent(event), _custodian_agent(event)],
        # security-source-type 4 "Application Server": the custodian's vault released it.
        "source": {
            "observer": _reference("Organization", "org", event["custodian"]),
            "type": [{"system": SECURITY_SOURCE_TYPE, "code": "4"}],
        },
        "entity": _entities(event),
    }


def audit_event_resource(event: dict[str, Any]) -> dict[str, Any]:
    """A chain access event as a FHIR R4 AuditEvent (a record read or located), validated."""
    try:
        body = _audit_body(event)
    except KeyError as exc:
        _missing("access event", event, exc)
    return _validated(body)
