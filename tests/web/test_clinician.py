"""The clinician's page in a real Chromium against a real demo node: find a patient,
read with a purpose (decrypted and checked in the page), break the glass, be refused,
add an Observation through the FHIR form."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from healthledger.client.records import Records
from healthledger.client.sdk import Client
from healthledger.crypto.keys import load_keypair
from healthledger.domains.records.messages import PURPOSES
from web.conftest import PHONE, Portal, sign_in_as

READ_TIMEOUT = 30_000  # a read commits an access event, then its proofs are checked
# Chromium logs every 4xx answer as a console error; a test of a refusal expects these.
REFUSAL_LOG = re.compile(r"^Failed to load resource: the server responded with a status of (4\d\d)")


@pytest.fixture
def refused(context: BrowserContext) -> Iterator[tuple[Page, list[int]]]:
    """A page whose refusals (4xx) are collected for the test to check; any other console
    error or page error still fails the test."""
    opened = context.new_page()
    errors: list[str] = []
    statuses: list[int] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        found = REFUSAL_LOG.match(message.text)
        if found:
            statuses.append(int(found.group(1)))
        else:
            errors.append(message.text)

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened, statuses
    assert not errors, errors


def person(portal: Portal, name: str) -> dict[str, Any]:
    people = json.loads((portal.directory / "demo-users.json").read_text())
    return next(p for p in people if p["name"] == name)


def records_as(portal: Portal, name: str) -> Records:
    return Records(Client(portal.url), load_keypair(Path(person(portal, name)["key_file"])))


def _reader(event: dict[str, Any]) -> str:
    return str(event["reader"]["id"])


def ready(page: Page) -> None:
    """The clinician page's module has wired its forms (after sign-in it loads on its own)."""
    page.wait_for_selector("section[data-page=clinician][data-ready=true]")


def find(page: Page, patient: str) -> None:
    ready(page)
    page.fill("#clinician-patient", patient)
    page.click("#clinician-find-go")


def test_the_purposes_offered_are_the_ledgers(page: Page, portal: Portal) -> None:
    sign_in_as(page, portal, "Dr Gregory House")
    ready(page)
    offered = page.eval_on_selector_all("#clinician-purpose option", "os => os.map(o => o.value)")
    assert tuple(offered) == PURPOSES


def test_a_practitioner_with_consent_reads_a_record_decrypted(page: Page, portal: Portal) -> None:
    patient = person(portal, "Jasmine Yilmaz")["patient_id"]
    sign_in_as(page, portal, "Dr Gregory House")
    assert page.url.endswith("/clinician")
    find(page, f"  {patient.upper()}  ")  # pasted with spaces, in capitals: still the pseudonym
    expect(page.locator("#clinician-records table")).to_be_visible()
    house = records_as(portal, "Dr Gregory House")
    located = house.locate(patient).records
    rows = page.locator("#clinician-records tbody tr")
    expect(rows).to_have_count(len(located))
    observation = next(r for r in located if r.resource_type == "Observation")
    patient_records = records_as(portal, "Jasmine Yilmaz")

    def reads_by_house() -> int:
        events = patient_records.audit(patient).events
        return sum(
            e["record"] == observation.id and _reader(e) == "riverside-clinic/dr-house"
            for e in events
        )

    earlier = reads_by_house()
    page.select_option("#clinician-purpose", "treatment")
    page.click(f'button[data-record="{observation.id}"]')
    checks = page.locator("#clinician-record-checks li.ok")
    expect(checks.first).to_be_visible(timeout=READ_TIMEOUT)
    status = page.inner_text("#clinician-record-status")
    assert "Decrypted in this browser" in status and "basis: consent" in status
    assert reads_by_house() == earlier + 1  # the page's read is in the patient's audit trail
    # What the page shows is the decrypted FHIR resource, as the SDK decrypts it.
    resource = house.read(observation.id, "treatment").resource()
    content = page.inner_text("#clinician-record-content")
    assert str(resource["valueQuantity"]["value"]) in content
    assert resource["code"]["coding"][0]["display"] in content
    listed = page.inner_text("#clinician-record-checks")
    assert "state proof" in listed and "inclusion proof" in listed
    assert f"records this read of {observation.id} by your key" in listed


def test_a_read_for_a_purpose_the_consent_does_not_allow_shows_the_nodes_code(
    refused: tuple[Page, list[int]], portal: Portal
) -> None:
    page, statuses = refused
    patient = person(portal, "Jasmine Yilmaz")["patient_id"]
    sign_in_as(page, portal, "Dr Gregory House")
    find(page, patient)
    first = page.locator("#clinician-records tbody button").first
    expect(first).to_be_visible()
    page.select_option("#clinician-purpose", "research")
    first.click()
    alert = page.locator("#clinician-record-status [role=alert]")
    expect(alert).to_contain_text("(no_consent)", timeout=READ_TIMEOUT)
    expect(alert).to_contain_text("refused")
    assert page.inner_text("#clinician-record-body") == ""
    assert statuses == [403]


def test_break_glass_needs_a_reason_and_a_confirmation_then_reads_flagged(
    refused: tuple[Page, list[int]], portal: Portal
) -> None:
    page, statuses = refused
    carlos = person(portal, "Carlos Smith")["patient_id"]
    sign_in_as(page, portal, "Dr Meredith Grey")
    find(page, carlos)
    refusal = page.locator("#clinician-records-status [role=alert]")
    expect(refusal).to_contain_text("(no_consent)")
    expect(page.locator("#clinician-break-glass-warning")).to_contain_text("flagged to the patient")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/v1/records" in r.url else None)
    go = page.locator("#clinician-break-glass-go")
    go.click()
    expect(page.locator("#clinician-reason-error")).to_contain_text("state why")
    page.fill("#clinician-reason", "too short")
    go.click()
    expect(page.locator("#clinician-reason-error")).to_contain_text("10 to 300 characters")
    reason = "unconscious in the emergency department, no relative reachable"
    page.fill("#clinician-reason", reason)
    go.click()
    expect(page.locator("#clinician-confirm-error")).to_contain_text("confirm")
    expect(page.locator("#clinician-reason-error")).to_be_hidden()
    assert requests == []  # nothing was asked of the node before the confirmation
    page.check("#clinician-confirm")
    go.click()
    expect(page.locator("#clinician-break-glass-status")).to_contain_text("flagged to the patient")
    expect(page.locator("#clinician-records tbody tr").first).to_be_visible()
    assert page.input_value("#clinician-purpose") == "emergency"
    page.locator("#clinician-records tbody button").first.click()
    expect(page.locator("#clinician-record-checks li.ok").first).to_be_visible(timeout=READ_TIMEOUT)
    assert "flagged as break-glass" in page.inner_text("#clinician-record-status")
    # The patient's audit opens both reasons (search and read) and checks their salted hashes
    # against the chain's, as the SDK does: the page sent them exactly as the SDK sends them.
    flagged = records_as(portal, "Carlos Smith").audit(carlos).break_glass
    mine = [e for e in flagged if _reader(e) == "st-marys/dr-grey"]
    assert {e["action"] for e in mine} >= {"locate", "read"}
    assert all(e["reason"] == reason for e in mine)
    assert statuses == [403]  # the search without standing, before the glass was broken


def test_the_observation_form_refuses_bad_values_then_adds_one(page: Page, portal: Portal) -> None:
    patient = person(portal, "Jasmine Yilmaz")["patient_id"]
    sign_in_as(page, portal, "Dr Gregory House")
    find(page, patient)
    rows = page.locator("#clinician-records tbody tr")
    expect(rows.first).to_be_visible()
    before = rows.count()
    page.select_option("#clinician-obs-code", "8867-4")
    page.fill("#clinician-obs-value", "seventy")
    page.click("#clinician-add-go")
    expect(page.locator("#clinician-obs-value-error")).to_contain_text("enter a number")
    expect(page.locator("#clinician-obs-when-error")).to_contain_text("enter the date")
    assert page.get_attribute("#clinician-obs-value", "aria-invalid") == "true"
    page.fill("#clinician-obs-value", "720")
    page.fill("#clinician-obs-when", "2099-01-01T10:00")
    page.click("#clinician-add-go")
    expect(page.locator("#clinician-obs-value-error")).to_contain_text(
        "Heart rate must be between 20 and 300 beats/minute"
    )
    expect(page.locator("#clinician-obs-when-error")).to_contain_text("in the future")
    page.fill("#clinician-obs-value", "72")
    page.fill("#clinician-obs-when", "2025-03-04T09:30")
    page.click("#clinician-add-go")
    added = page.locator("#clinician-add-status .status.ok")
    expect(added).to_contain_text("Added Observation rec-", timeout=READ_TIMEOUT)
    record_id = added.inner_text().split("Added Observation ")[1].split(" ")[0]
    expect(page.locator("#clinician-obs-value-error")).to_be_hidden()
    expect(rows).to_have_count(before + 1)
    expect(page.locator(f'button[data-record="{record_id}"]')).to_be_visible()
    house = records_as(portal, "Dr Gregory House")
    copy = house.read(record_id, "treatment").resource()
    assert copy["valueQuantity"] == {
        "value": 72,
        "unit": "beats/minute",
        "system": "http://unitsofmeasure.org",
        "code": "/min",
    }
    assert copy["subject"] == {"reference": f"Patient/{patient}"}


def test_the_condition_form_checks_the_snomed_code(page: Page, portal: Portal) -> None:
    patient = person(portal, "Jasmine Yilmaz")["patient_id"]
    sign_in_as(page, portal, "Dr Gregory House")
    find(page, patient)
    expect(page.locator("#clinician-records tbody tr").first).to_be_visible()
    page.check("#clinician-kind-condition")
    page.fill("#clinician-cond-code", "38341004")  # 38341003 with a wrong check digit
    page.fill("#clinician-cond-onset", "2024-05-06")
    page.click("#clinician-add-go")
    expect(page.locator("#clinician-cond-code-error")).to_contain_text("check digit")
    expect(page.locator("#clinician-cond-text-error")).to_contain_text("write the condition")
    page.fill("#clinician-cond-code", "38341003")
    page.fill("#clinician-cond-text", "Hypertension, on treatment")
    page.click("#clinician-add-go")
    expect(page.locator("#clinician-add-status .status.ok")).to_contain_text(
        "Added Condition rec-", timeout=READ_TIMEOUT
    )


def test_the_node_refusing_a_record_shows_its_code(
    refused: tuple[Page, list[int]], portal: Portal
) -> None:
    page, statuses = refused
    nobody = "pat_" + "0" * 32  # well formed, registered by no one
    sign_in_as(page, portal, "Dr Gregory House")
    find(page, nobody)
    expect(page.locator("#clinician-records-status [role=alert]")).to_be_visible()
    page.select_option("#clinician-obs-code", "8310-5")
    page.fill("#clinician-obs-value", "36.6")
    page.fill("#clinician-obs-when", "2025-03-04T09:30")
    page.click("#clinician-add-go")
    alert = page.locator("#clinician-add-status [role=alert]")
    expect(alert).to_contain_text("(not_found)", timeout=READ_TIMEOUT)
    expect(alert).to_contain_text(f"no registered patient {nobody}")
    assert statuses and all(400 <= s < 500 for s in statuses)


def test_a_malformed_pseudonym_gets_a_field_message(page: Page, portal: Portal) -> None:
    sign_in_as(page, portal, "Dr Gregory House")
    find(page, "pat_123")
    expect(page.locator("#clinician-patient-error")).to_contain_text("32 hex characters")
    expect(page.locator("#clinician-patient-view")).to_be_hidden()


def test_without_a_camera_reader_the_page_says_to_paste(page: Page, portal: Portal) -> None:
    # A browser without BarcodeDetector (Chromium on Linux, Firefox): taken away before the
    # page loads, so the test is the same wherever it runs. The page says so and points to
    # the field.
    page.add_init_script("delete window.BarcodeDetector")
    sign_in_as(page, portal, "Dr Gregory House")
    ready(page)
    page.click("#clinician-scan")
    message = page.locator("#clinician-scan-status")
    expect(message).to_contain_text("cannot read QR codes from the camera")
    expect(page.locator("#clinician-patient")).to_be_focused()


def test_the_page_works_at_phone_width(page: Page, portal: Portal) -> None:
    page.set_viewport_size(PHONE)
    patient = person(portal, "Jasmine Yilmaz")["patient_id"]
    sign_in_as(page, portal, "Dr Gregory House")
    find(page, patient)
    expect(page.locator("#clinician-records table")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
