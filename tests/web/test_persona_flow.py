"""The issue's flow across people, each in their own browser: a patient opens her key
file, sees a record decrypted and grants a consent; a clinician of another organisation
then reads her record for that purpose; the read reaches the patient's open page and its
receipt is verified there."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Browser, expect

from web.conftest import DESKTOP, Portal, sign_in_as

PATIENT = "Leila Kowalski"
CLINICIAN = "Dr Gregory House"
READ_TIMEOUT = 30_000


def _person(portal: Portal, name: str) -> dict[str, str]:
    people = json.loads((portal.directory / "demo-users.json").read_text())
    found: dict[str, str] = next(p for p in people if p["name"] == name)
    return found


def test_consent_granted_in_one_browser_lets_a_clinician_read_in_another(
    browser: Browser, portal: Portal
) -> None:
    patient = _person(portal, PATIENT)
    mine = browser.new_context(viewport=DESKTOP)
    theirs = browser.new_context(viewport=DESKTOP)
    try:
        # The patient opens her key file and sees her records decrypted here.
        page = mine.new_page()
        page.goto(portal.url + "/")
        page.wait_for_selector("#demo-list button")
        page.set_input_files("#key-file", str(Path(patient["key_file"])))
        page.locator("#sign-in button[type=submit]").click()
        page.wait_for_url("**/patient")
        expect(page.locator("#patient-records-status")).to_contain_text(
            "decrypted in this browser", timeout=READ_TIMEOUT
        )
        expect(page.locator("#patient-timeline")).to_contain_text("Observation")

        # She grants Dr House (another organisation) her observations, for treatment.
        page.check("#patient-grant-kind-member")
        page.fill("#patient-grant-org", "riverside-clinic")
        page.fill("#patient-grant-member", "dr-house")
        page.check("#patient-grant-purpose-treatment")
        page.check("#patient-grant-type-observation")
        page.locator("#patient-grant button[type=submit]").click()
        expect(page.locator("#patient-grant-status")).to_contain_text(
            "granted", timeout=READ_TIMEOUT
        )
        expect(page.locator("#patient-feed-status")).to_contain_text("Live")

        # In his own browser, Dr House finds her and reads an observation for treatment.
        clinic = theirs.new_page()
        sign_in_as(clinic, portal, CLINICIAN)
        clinic.wait_for_selector("section[data-page=clinician][data-ready=true]")
        clinic.fill("#clinician-patient", patient["patient_id"])
        clinic.click("#clinician-find-go")
        observation = clinic.locator("#clinician-records tbody tr").filter(has_text="Observation")
        expect(observation.first).to_be_visible(timeout=READ_TIMEOUT)
        clinic.select_option("#clinician-purpose", "treatment")
        observation.first.get_by_role("button").first.click()
        expect(clinic.locator("#clinician-record-checks li.ok").first).to_be_visible(
            timeout=READ_TIMEOUT
        )
        assert "basis: consent" in clinic.inner_text("#clinician-record-status")

        # The read is pushed to her open page, and its receipt is verified in her browser.
        pushed = page.locator("#patient-feed li").filter(has_text="riverside-clinic/dr-house")
        expect(pushed.first).to_contain_text("for treatment", timeout=READ_TIMEOUT)
        access = page.locator("#patient-audit tr").filter(has_text="riverside-clinic/dr-house")
        expect(access.first.locator(".receipt")).to_contain_text("verified", timeout=READ_TIMEOUT)
    finally:
        mine.close()
        theirs.close()
