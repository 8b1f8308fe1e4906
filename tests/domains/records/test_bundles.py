"""A FHIR Bundle checked whole before anything is stored; references rewritten to record ids."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from fhir_examples import ENCOUNTER_URL, PATIENT_URL, patient_bundle
from healthledger.domains.records import bundles
from healthledger.domains.records.bundles import (
    MAX_BUNDLE_ENTRIES,
    check_bundle,
    record_url,
    rewrite_references,
)
from healthledger.errors import ErrorCode, LedgerError


def refused(bundle: object, code: ErrorCode = ErrorCode.INVALID_RESOURCE) -> str:
    with pytest.raises(LedgerError) as caught:
        check_bundle(bundle)
    assert caught.value.code is code, caught.value
    return caught.value.message


def ids(count: int) -> list[str]:
    return [f"rec-{n:024x}" for n in range(count)]


def references(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            found.append(value["reference"])
        for item in value.values():
            found.extend(references(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(references(item))
    return found


@pytest.mark.parametrize("kind", bundles.IMPORTABLE)
def test_a_patients_bundle_of_fifty_is_checked_whole(kind: str) -> None:
    bundle = patient_bundle(50, kind)
    entries = check_bundle(bundle)
    assert [e.index for e in entries] == list(range(50))
    assert len({e.summary.resource_type for e in entries}) > 20


def test_references_between_entries_point_at_record_ids() -> None:
    bundle = patient_bundle(50)
    original = copy.deepcopy(bundle)
    entries = check_bundle(bundle)
    record_ids = ids(50)
    rewritten = rewrite_references(entries, record_ids)
    assert bundle == original  # the Bundle itself is not changed
    patient_url, encounter_url = record_url(record_ids[0]), record_url(record_ids[1])
    assert patient_url == "urn:healthledger:record:" + record_ids[0]
    for before, after in zip(original["entry"], rewritten, strict=True):
        for old, new in zip(references(before["resource"]), references(after), strict=True):
            if old in (PATIENT_URL, "Patient/p1"):
                assert new == patient_url
            elif old == ENCOUNTER_URL:
                assert new == encounter_url
            else:  # outside the Bundle (an organisation, a practitioner): kept as it was
                assert new == old
    # The ledger's export of these records, fullUrl urn:healthledger:record:<id>, resolves
    # every rewritten reference and is a valid R4 Bundle.
    exported = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": record_url(r), "resource": res}
            for r, res in zip(record_ids, rewritten, strict=True)
        ],
    }
    Bundle.model_validate(exported)
    urls = {entry["fullUrl"] for entry in exported["entry"]}
    ours = [
        ref for res in rewritten for ref in references(res) if ref.startswith("urn:healthledger")
    ]
    assert ours and set(ours) <= urls


def test_relative_and_versioned_references_resolve() -> None:
    bundle = patient_bundle(3)
    bundle["entry"][1]["resource"]["subject"] = {"reference": "Patient/p1/_history/2"}
    bundle["entry"][0]["fullUrl"] = "https://ehr.example.org/fhir/Patient/p1"
    rewritten = rewrite_references(check_bundle(bundle), ids(3))
    assert rewritten[1]["subject"] == {"reference": record_url(ids(3)[0])}


def test_one_invalid_entry_refuses_the_bundle_and_names_it() -> None:
    bundle = patient_bundle(50)
    del bundle["entry"][17]["resource"]["status"]
    message = refused(bundle)
    assert message.startswith(f"entry 17 ({bundle['entry'][17]['fullUrl']}):"), message


def test_a_second_patient_refuses_the_bundle() -> None:
    bundle = patient_bundle(10)
    bundle["entry"].append(
        {"fullUrl": "urn:uuid:second", "resource": {"resourceType": "Patient", "id": "p2"}}
    )
    assert "entry 10 (urn:uuid:second): a second Patient" in refused(bundle)


def test_a_reference_to_another_patient_refuses_the_bundle() -> None:
    bundle = patient_bundle(10)
    bundle["entry"][6]["resource"]["subject"] = {"reference": "Patient/someone-else"}
    message = refused(bundle)
    assert message.startswith("entry 6 (") and "another patient" in message


def test_a_contained_patient_is_another_patient() -> None:
    """An entry about a Patient it carries inside itself ("#p") is about someone else than
    the Bundle's patient: the Bundle would otherwise file that person's data here."""
    bundle = patient_bundle(10)
    resource = bundle["entry"][6]["resource"]
    resource["contained"] = [
        {"resourceType": "Patient", "id": "p", "name": [{"family": "Someone-Else"}]}
    ]
    resource["subject"] = {"reference": "#p"}
    message = refused(bundle)
    assert message.startswith("entry 6 (") and "another patient" in message


def test_one_contained_patient_alone_is_the_bundles_patient() -> None:
    """Entries that all name the same contained Patient (and nothing else) agree."""
    bundle = patient_bundle(3)
    del bundle["entry"][0]
    for entry in bundle["entry"]:
        resource = entry["resource"]
        resource["contained"] = [
            *resource.get("contained", []),
            {"resourceType": "Patient", "id": "me", "gender": "female"},
        ]
        for element in ("subject", "patient", "beneficiary"):
            if isinstance(resource.get(element), list):
                resource[element] = [{"reference": "#me"}]
            elif element in resource:
                resource[element] = {"reference": "#me"}
    assert len(check_bundle(bundle)) == 2


def test_without_a_patient_entry_all_references_agree() -> None:
    bundle = patient_bundle(6)
    del bundle["entry"][0]
    for entry in bundle["entry"]:
        for element in ("subject", "patient", "beneficiary"):
            if isinstance(entry["resource"].get(element), list):
                entry["resource"][element] = [{"reference": "Patient/123"}]
            elif element in entry["resource"]:
                entry["resource"][element] = {"reference": "Patient/123"}
    assert len(check_bundle(bundle)) == 5
    bundle["entry"][3]["resource"]["subject"] = {"reference": "Patient/456"}
    assert "another patient" in refused(bundle)


def test_types_not_about_a_patient_refuse_the_bundle() -> None:
    bundle = patient_bundle(4)
    bundle["entry"].append(
        {"fullUrl": "urn:uuid:org", "resource": {"resourceType": "Organization", "name": "X"}}
    )
    assert "Organization is not about one patient" in refused(bundle)


@pytest.mark.parametrize("kind", ["history", "message", "batch-response", "searchset2", None])
def test_other_bundle_types_are_refused(kind: str | None) -> None:
    bundle = patient_bundle(3)
    bundle["type"] = kind
    assert "is not imported" in refused(bundle)


def test_limits() -> None:
    assert "at most 64 entries" in refused(
        patient_bundle(MAX_BUNDLE_ENTRIES + 1), ErrorCode.TOO_LARGE
    )
    assert len(check_bundle(patient_bundle(MAX_BUNDLE_ENTRIES))) == MAX_BUNDLE_ENTRIES


def test_bytes_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = patient_bundle(5)
    monkeypatch.setattr(bundles, "MAX_BUNDLE_BYTES", 500)
    assert "at most 500 bytes" in refused(bundle, ErrorCode.TOO_LARGE)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"entry": []}, "no entries"),
        ({"entry": [{"fullUrl": "urn:uuid:x"}]}, "entry 0 (urn:uuid:x): has no resource"),
        ({"entry": ["x"]}, "entry 0: expected a JSON object"),
        (
            {"entry": [{"resource": {"resourceType": "Bundle", "type": "collection"}}]},
            "entry 0: resourceType 'Bundle'",
        ),
        (
            {
                "entry": [
                    {
                        "request": {"method": "DELETE", "url": "Observation/1"},
                        "resource": {"resourceType": "Observation"},
                    }
                ]
            },
            "only entries that create a resource",
        ),
    ],
)
def test_malformed_bundles(change: dict[str, Any], words: str) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", **change}
    assert words in refused(bundle)


def test_two_entries_claiming_one_url_are_refused() -> None:
    bundle = patient_bundle(4)
    bundle["entry"][3]["fullUrl"] = bundle["entry"][2]["fullUrl"]
    assert "names an earlier entry too" in refused(bundle)


def test_not_a_bundle() -> None:
    assert "expected a FHIR Bundle" in refused({"resourceType": "Observation"})
    assert "expected a FHIR Bundle" in refused([1, 2])
