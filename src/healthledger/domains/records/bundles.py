"""A FHIR R4 Bundle at the edge of the records domain: checked whole, then one record per entry.

Pure functions, no I/O. `check_bundle` refuses the whole Bundle if any entry would be
refused alone, if the entries are about more than one patient, or if it is too big; every
refusal is INVALID_RESOURCE (TOO_LARGE for the limits) naming the entry's index and fullUrl.
`rewrite_references` then points references between entries at the ledger's record ids, in
the form the ledger's FHIR exports give a record (`urn:healthledger:record:<record id>`), so
a Bundle exported later resolves them again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson

from healthledger.domains.records import fhir
from healthledger.errors import InvalidResource, LedgerError, TooLarge

# One `record.import` carries one entry's metadata per record (about 830 bytes at most,
# with the longest code the chain takes): 64 of them stay under the 64 KiB transaction limit
# (`ledger/transaction.MAX_TX_BYTES`), which a test measures.
MAX_BUNDLE_ENTRIES = 64
# The whole Bundle as compact JSON: large attachments (a PDF in a DocumentReference) go to
# the vault's file store, but the Bundle itself arrives in one request body.
MAX_BUNDLE_BYTES = 32 * 1024 * 1024
# The Bundle types that carry resources to keep; a history or a message is not a record.
IMPORTABLE = ("collection", "transaction", "document", "searchset")
RECORD_URL = fhir.URN + "record:"

_RELATIVE = re.compile(r"^(?:.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


@dataclass(frozen=True)
class BundleEntry:
    """One entry of a checked Bundle: where it was, what it is, and its summary."""

    index: int
    full_url: str | None
    resource: dict[str, Any]
    summary: fhir.ResourceSummary

    @property
    def label(self) -> str:
        """How an error names the entry: its index and, when it has one, its fullUrl."""
        return f"entry {self.index}" + (f" ({self.full_url})" if self.full_url else "")


def _fail(message: str) -> NoReturn:
    raise InvalidResource(message)


def _label(index: int, full_url: object) -> str:
    where = f" ({full_url[:200]})" if isinstance(full_url, str) and full_url else ""
    return f"entry {index}{where}"


def _envelope(bundle: object) -> list[Any]:
    """The Bundle's entries, once its own shape (type, size) is one we import."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        _fail("expected a FHIR Bundle (a JSON object with resourceType Bundle)")
    kind = bundle.get("type")
    if kind not in IMPORTABLE:
        _fail(
            f"Bundle type {str(kind)[:32]!r} is not imported: a Bundle of type "
            f"{', '.join(IMPORTABLE)} carries records; a history or message does not"
        )
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        _fail("the Bundle has no entries to import")
    if len(entries) > MAX_BUNDLE_ENTRIES:
        raise TooLarge(
            f"a Bundle imports at most {MAX_BUNDLE_ENTRIES} entries, this one has {len(entries)}"
        )
    fhir.require_depth(bundle, fhir.MAX_DEPTH + 4)  # Bundle, entry list, entry, resource
    size = len(orjson.dumps(bundle))
    if size > MAX_BUNDLE_BYTES:
        raise TooLarge(f"a Bundle is at most {MAX_BUNDLE_BYTES} bytes as JSON, this one {size}")
    return entries


def _entry(index: int, entry: object) -> BundleEntry:
    if not isinstance(entry, dict):
        _fail(f"entry {index}: expected a JSON object")
    full_url = entry.get("fullUrl")
    if full_url is not None and not isinstance(full_url, str):
        _fail(f"entry {index}: fullUrl is not a string")
    request = entry.get("request")
    if isinstance(request, dict) and request.get("method") not in (None, "POST", "PUT"):
        _fail(f"{_label(index, full_url)}: only entries that create a resource are imported")
    resource = entry.get("resource")
    if resource is None:
        _fail(f"{_label(index, full_url)}: has no resource")
    try:
        summary = fhir.validate_resource(resource)
    except LedgerError as exc:
        raise LedgerError(f"{_label(index, full_url)}: {exc.message}", exc.code) from exc
    assert isinstance(resource, dict)  # validate_resource refuses anything else
    return BundleEntry(index, full_url, resource, summary)


def _keys_of(entry: BundleEntry) -> list[str]:
    """Every string by which another entry may refer to this one."""
    keys = [entry.full_url] if entry.full_url else []
    resource_id = entry.resource.get("id")
    if isinstance(resource_id, str):
        keys.append(f"{entry.summary.resource_type}/{resource_id}")
    if entry.full_url and (match := _RELATIVE.match(entry.full_url)):
        keys.append(f"{match.group(1)}/{match.group(2)}")  # a RESTful fullUrl's Type/id
    return keys


def _target_key(reference: str) -> str:
    """A reference as `_keys_of` would list its target: versions and bases cut off."""
    match = _RELATIVE.match(reference)
    return f"{match.group(1)}/{match.group(2)}" if match else reference


def _resolve(reference: str, index: Mapping[str, int]) -> int | None:
    if reference in index:
        return index[reference]
    return index.get(_target_key(reference))


def _index(entries: Sequence[BundleEntry]) -> dict[str, int]:
    index: dict[str, int] = {}
    for entry in entries:
        for key in _keys_of(entry):
            if index.setdefault(key, entry.index) != entry.index:
                _fail(f"{entry.label}: {key!r} names an earlier entry too")
    return index


def _patient_target(
    reference: object, entry: BundleEntry, entries: Sequence[BundleEntry], index: Mapping[str, int]
) -> str | None:
    """Which patient a subject/patient/beneficiary Reference names, if it names one."""
    if not isinstance(reference, dict):
        return None
    literal = reference.get("reference")
    if isinstance(literal, str) and literal.startswith("#"):
        return _contained_patient(entry.resource, literal[1:])
    if isinstance(literal, str):
        found = _resolve(literal, index)
        if found is not None:
            kind = entries[found].summary.resource_type
            return f"entry {found}" if kind == "Patient" else None
        if _target_key(literal).startswith("Patient/") or reference.get("type") == "Patient":
            return _target_key(literal)
        return None
    identifier = reference.get("identifier")
    if reference.get("type") == "Patient" and isinstance(identifier, dict):
        return f"{identifier.get('system')}|{identifier.get('value')}"
    return None


def _contained_patient(resource: Mapping[str, Any], local_id: str) -> str | None:
    """A Patient the entry carries inside itself is a person of its own, known by what it
    says of them (its local id aside): entries agree only if they carry the same one."""
    for inner in resource.get("contained") or ():
        if isinstance(inner, dict) and inner.get("id") == local_id:
            if inner.get("resourceType") != "Patient":
                return None
            described = {key: value for key, value in inner.items() if key != "id"}
            return (
                "contained Patient " + orjson.dumps(described, option=orjson.OPT_SORT_KEYS).decode()
            )
    return None


def _one_patient(entries: Sequence[BundleEntry], index: Mapping[str, int]) -> None:
    """A Bundle imports for one patient: one Patient entry at most, every reference to it."""
    patients = [e for e in entries if e.summary.resource_type == "Patient"]
    if len(patients) > 1:
        _fail(f"{patients[1].label}: a second Patient; a Bundle imports for one patient only")
    seen: str | None = f"entry {patients[0].index}" if patients else None
    for entry in entries:
        for element in ("subject", "patient", "beneficiary"):
            value = entry.resource.get(element)
            for reference in value if isinstance(value, list) else [value]:
                target = _patient_target(reference, entry, entries, index)
                if target is None:
                    continue
                if seen is not None and target != seen:
                    _fail(
                        f"{entry.label}: {element} names another patient than the Bundle's;"
                        " a Bundle imports for one patient only"
                    )
                seen = target


def check_bundle(bundle: object) -> list[BundleEntry]:
    """Every entry of an importable Bundle, each valid as a record, all about one patient."""
    entries = [_entry(i, e) for i, e in enumerate(_envelope(bundle))]
    _one_patient(entries, _index(entries))
    return entries


def rewrite_references(
    entries: Sequence[BundleEntry], record_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Each entry's resource with references to other entries pointed at their record ids."""
    index = _index(entries)
    targets = {key: RECORD_URL + record_ids[i] for key, i in index.items()}
    for key, i in list(index.items()):
        targets.setdefault(_target_key(key), RECORD_URL + record_ids[i])
    return [_rewritten(entry.resource, targets) for entry in entries]


def _rewritten(value: Any, targets: Mapping[str, str]) -> Any:
    """A copy of a JSON value with every `reference` string found in `targets` replaced.

    Recursive over the resource's own nesting, which the R4B model bounded when it
    accepted the resource.
    """
    if isinstance(value, list):
        return [_rewritten(item, targets) for item in value]
    if not isinstance(value, dict):
        return value
    copy = {key: _rewritten(item, targets) for key, item in value.items()}
    reference = value.get("reference")
    if isinstance(reference, str) and not reference.startswith("#"):
        found = targets.get(reference) or targets.get(_target_key(reference))
        if found is not None:
            copy["reference"] = found
    return copy


def record_url(record_id: str) -> str:
    """A record's fullUrl in the ledger's FHIR exports (and in rewritten references)."""
    return RECORD_URL + record_id


__all__ = [
    "IMPORTABLE",
    "MAX_BUNDLE_BYTES",
    "MAX_BUNDLE_ENTRIES",
    "RECORD_URL",
    "BundleEntry",
    "check_bundle",
    "record_url",
    "rewrite_references",
]
