"""The patient's page in a real Chromium against a real demo node: a patient opens their
key file, sees their records decrypted in the browser (and checked against the chain),
grants a consent, watches a practitioner's read arrive live, sees its receipt verified,
revokes, shreds a record and gets its deletion certificate; and the page fits a phone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from healthledger.client.records import Records
from healthledger.client.sdk import Client
from healthledger.crypto.keys import derive_patient_id, load_keypair
from ips_rules import check_ips, record_of
from web.conftest import PHONE, Portal

PATIENT_KEY = "patient-0001.json"
PRACTITIONER = "st-marys/dr-grey"
# A lab result only this test writes: its value and range must come back out of the browser.
GLUCOSE = 187.3
LAB = {
    "resourceType": "Observation",
    "status": "final",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "laboratory",
                    "display": "Laboratory",
                }
            ]
        }
    ],
    "code": {
        "coding": [
            {
                "system": "http://loinc.org",
                "code": "2345-7",
                "display": "Glucose [Mass/volume] in Serum or Plasma",
            }
        ]
    },
    "effectiveDateTime": "2026-02-03T08:15:00Z",
    "valueQuantity": {
        "value": GLUCOSE,
        "unit": "mg/dL",
        "system": "http://unitsofmeasure.org",
        "code": "mg/dL",
    },
    "referenceRange": [
        {
            "low": {"value": 70, "unit": "mg/dL"},
            "high": {"value": 99, "unit": "mg/dL"},
        }
    ],
}
WEIGHTS = (81.4, 79.9)


def weight(value: float, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]
        },
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "kg", "system": "http://unitsofmeasure.org"},
    }


@pytest.fixture
def practitioner(portal: Portal) -> Iterator[Records]:
    client = Client(portal.url)
    keys = load_keypair(portal.directory / "keys" / "dr-grey.json")
    yield Records(client, keys)
    client.close()


@pytest.fixture
def patient_id(portal: Portal) -> str:
    return derive_patient_id(load_keypair(portal.directory / "keys" / PATIENT_KEY).key_id)


def open_key_file(page: Page, portal: Portal) -> None:
    """Sign in the way a patient does: open their key file (not the demo list)."""
    page.goto(portal.url + "/")
    # The sign-in form is live once its module has run (it then lists the demo's people).
    page.wait_for_selector("#demo-list button")
    page.set_input_files("#key-file", str(portal.directory / "keys" / PATIENT_KEY))
    page.locator("#sign-in button[type=submit]").click()
    page.wait_for_url("**/patient")
    expect(page.locator("#patient-records-status")).to_contain_text(
        "decrypted in this browser", timeout=30_000
    )


def test_a_patient_sees_their_records_consents_feed_receipts_and_shreds(
    page: Page, portal: Portal, practitioner: Records, patient_id: str
) -> None:
    added = practitioner.add(patient_id, LAB).record_id
    for value, when in zip(WEIGHTS, ("2026-01-05T09:00:00Z", "2026-02-05T09:00:00Z"), strict=True):
        practitioner.add(patient_id, weight(value, when))
    open_key_file(page, portal)
    assert page.inner_text("#patient-id") == patient_id

    # Decrypted in the browser: the lab value, its unit and range, flagged against the range.
    labs = page.locator("#patient-labs")
    expect(labs).to_contain_text(str(GLUCOSE))
    expect(labs).to_contain_text("70\u201399 mg/dL")  # an en dash between low and high
    expect(labs).to_contain_text("above range")
    # Vital signs: a chart with a title and description, its values in a table too.
    chart = page.locator("#patient-vitals svg[role=img]").filter(has_text="Body weight")
    expect(chart.locator("title")).to_have_text("Body weight over time")
    expect(chart.locator("desc")).to_contain_text(f"from {min(WEIGHTS)} to {max(WEIGHTS)} kg")
    values = page.get_by_role("table", name="Body weight: the values of the chart")
    expect(values).to_contain_text(str(WEIGHTS[0]))
    # Each copy's hash checked against the chain, each read's receipt verified.
    row = page.locator(f"#patient-timeline tr[data-record={added}]")
    expect(row.locator(".record-checks")).to_contain_text("verified", timeout=30_000)
    row.locator(".record-checks summary").click()
    expect(row.locator(".record-checks")).to_contain_text("content_hash on the chain")

    # Grant a consent to a practitioner, for treatment.
    page.check("#patient-grant-kind-member")
    page.fill("#patient-grant-org", "st-marys")
    page.fill("#patient-grant-member", "dr-grey")
    page.check("#patient-grant-purpose-treatment")
    page.check("#patient-grant-type-observation")
    page.locator("#patient-grant button[type=submit]").click()
    expect(page.locator("#patient-grant-status")).to_contain_text("granted", timeout=30_000)
    consent = (
        page.locator("#patient-consents tr").filter(has_text=PRACTITIONER).filter(has_text="active")
    )
    expect(consent).to_have_count(1)
    consent_id = consent.get_attribute("data-consent")

    # A read by that practitioner arrives in the open page, pushed as its block commits.
    expect(page.locator("#patient-feed-status")).to_contain_text("Live")
    copy = practitioner.read(added, "treatment")
    assert copy.resource()["valueQuantity"]["value"] == GLUCOSE
    pushed = page.locator("#patient-feed li").filter(has_text=PRACTITIONER)
    expect(pushed.first).to_contain_text("for treatment", timeout=20_000)
    # ...and in the access log, with its receipt verified in the browser.
    access = page.locator(f"#patient-audit tr[data-access=acc-{copy.access.tx_id[:24]}]")
    expect(access.locator(".receipt")).to_contain_text("verified", timeout=30_000)
    access.locator(".receipt summary").click()
    expect(access.locator(".receipt")).to_contain_text("signed this access themselves")

    # Revoke it.
    page.locator(f"#patient-consents tr[data-consent={consent_id}] button").click()
    expect(page.locator("#patient-consents-status")).to_contain_text("revoked", timeout=30_000)
    expect(page.locator(f"#patient-consents tr[data-consent={consent_id}]")).to_contain_text(
        "revoked"
    )

    # Shred the lab result: the ledger's deletion certificate is shown, checked, downloadable.
    row.locator("details.shred summary").click()
    row.get_by_role("button", name="Shred Observation permanently").click()
    certificate = page.locator("#patient-certificate")
    expect(certificate).to_contain_text("Deletion certificate", timeout=30_000)
    expect(certificate).to_contain_text(added)
    expect(certificate).to_contain_text("Proofs checked in this browser")
    with page.expect_download() as download:
        certificate.get_by_role("button", name="Download the certificate").click()
    saved = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert saved["tx"]["type"] == "record.shred" and saved["tx"]["payload"]["record_id"] == added
    expect(page.locator(f"#patient-timeline tr[data-record={added}]")).to_contain_text(
        "shredded", timeout=30_000
    )


def test_everything_downloads_as_a_fhir_bundle(page: Page, portal: Portal) -> None:
    open_key_file(page, portal)
    with page.expect_download() as download:
        page.click("#patient-download")
    bundle = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    kinds = {entry["resource"]["resourceType"] for entry in bundle["entry"]}
    assert {"Patient", "Condition", "Consent", "AuditEvent"} <= kinds


def _cite(resource: dict[str, Any]) -> object:
    """The record an entry cites, or for IPS's "no information" entry its code."""
    if "identifier" in resource:
        return record_of(resource)
    return resource.get("code", resource.get("medicationCodeableConcept"))


def test_the_patient_summary_is_made_in_the_browser_as_the_sdk_makes_it(
    page: Page, portal: Portal, patient_id: str
) -> None:
    open_key_file(page, portal)
    with page.expect_download() as download:
        page.click("#patient-summary")
    bundle = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    expect(page.locator("#patient-records-status")).to_contain_text("Patient summary (IPS)")
    sections = check_ips(bundle)
    keys = load_keypair(portal.directory / "keys" / PATIENT_KEY)
    with Client(portal.url) as client:
        sdk = Records(client, keys).summary(patient_id, "patient_request")
    sdk_sections = check_ips(sdk.bundle)
    assert set(sections) == set(sdk_sections)
    for key, resources in sections.items():
        cited = [_cite(r) for r in resources]
        expected = [_cite(r) for r in sdk_sections[key]]
        assert cited == expected, key
    # every entry but the Composition is the SDK's, resource for resource
    ours = {e["fullUrl"]: e["resource"] for e in bundle["entry"][1:]}
    theirs = {e["fullUrl"]: e["resource"] for e in sdk.bundle["entry"][1:]}
    assert {u for u in ours if not u.startswith("urn:uuid:")} == {
        u for u in theirs if not u.startswith("urn:uuid:")
    }
    for url, resource in ours.items():
        if not url.startswith("urn:uuid:"):
            assert resource == theirs[url], url


def test_the_page_fits_a_phone(page: Page, portal: Portal) -> None:
    page.set_viewport_size(PHONE)
    open_key_file(page, portal)
    expect(page.locator("#patient-timeline table")).to_be_visible()
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than a phone"


def test_a_patient_appoints_a_representative_named_from_the_directory(
    page: Page, portal: Portal
) -> None:
    open_key_file(page, portal)
    page.fill("#patient-appoint-who", "st-marys/nurse-joy")
    page.select_option("#patient-appoint-relation", "caregiver")
    page.locator("#patient-appoint button[type=submit]").click()
    # Named as the directory names her, her id beside it.
    expect(page.locator("#patient-appoint-status")).to_contain_text(
        "Nurse Joy Adeyemi may now act for you, as your caregiver", timeout=30_000
    )
    row = page.locator("#patient-reps tr").filter(has_text="st-marys/nurse-joy")
    expect(row.filter(has_text="active")).to_have_count(1)
    expect(row).to_contain_text("Nurse Joy Adeyemi")
    row.get_by_role("button", name="End the appointment of Nurse Joy Adeyemi").click()
    expect(page.locator("#toast")).to_contain_text("no longer acts for you", timeout=30_000)
    expect(row).to_contain_text("ended", timeout=30_000)
