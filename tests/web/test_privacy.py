"""Keys and plaintext stay in the browser: no request the portal sends carries a secret key,
and no HTML the node serves, no answer it gives and no line it logs carries a clinical
value, even while the patient reads that value decrypted on the page."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import httpx
from playwright.sync_api import BrowserContext, Request, Response

from healthledger.client.records import Records
from healthledger.client.sdk import Client
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair
from healthledger.web.pages import PAGES
from web.conftest import Portal


def _demo_person(portal: Portal, name: str) -> tuple[Path, KeyPair]:
    people = json.loads((portal.directory / "demo-users.json").read_text())
    row = next(person for person in people if person["name"] == name)
    return Path(row["key_file"]), load_keypair(Path(row["key_file"]))


def _secret_forms(keys: KeyPair) -> list[str]:
    """Every text form a secret of `keys` could travel in."""
    secrets_ = [keys.signing_seed, *keys.encryption_keyring]
    forms = []
    for secret in secrets_:
        forms += [
            secret.hex(),
            base64.b64encode(secret).decode(),
            base64.urlsafe_b64encode(secret).decode(),
        ]
    expanded = keys.signing_seed + keys.public_key  # libsodium's 64-byte secret key
    forms += [expanded.hex(), base64.b64encode(expanded).decode()]
    return [form.rstrip("=") for form in forms]


def test_the_secret_key_never_leaves_the_browser(context: BrowserContext, portal: Portal) -> None:
    key_file, keys = _demo_person(portal, "Jasmine Yilmaz")
    sent: list[str] = []

    def record(request: Request) -> None:
        sent.append(request.url)
        sent.extend(f"{name}: {value}" for name, value in request.all_headers().items())
        body = request.post_data_buffer
        if body:
            sent.append(body.decode("latin-1"))

    page = context.new_page()
    page.on("request", record)
    page.goto(portal.url + "/patient")
    page.set_input_files("#key-file", str(key_file))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_selector('section[data-page="patient"][aria-busy="false"]')
    page.goto(portal.url + "/explorer")  # a reload forgets the key: nothing is sent either
    signed = [line for line in sent if line.startswith("x-hl-signature")]
    assert signed, "the page made signed requests (the test watched real traffic)"
    everything = "\n".join(sent)
    for form in _secret_forms(keys):
        assert form not in everything


PLANTED = "Planted-condition-" + secrets.token_hex(6)


def _plant(portal: Portal, patient: KeyPair) -> None:
    """A condition whose name exists nowhere else, written by the patient's clinician."""
    _path, doctor = _demo_person(portal, "Dr Meredith Grey")
    with Client(portal.url) as client:
        patient_id = derive_patient_id(patient.key_id)
        Records(client, doctor).add(
            patient_id,
            {
                "resourceType": "Condition",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {"text": PLANTED},
                "subject": {"reference": f"Patient/{patient_id}"},
            },
        )


def test_no_served_html_answer_or_log_line_carries_a_clinical_value(
    context: BrowserContext, portal: Portal
) -> None:
    key_file, patient = _demo_person(portal, "Jasmine Yilmaz")
    _plant(portal, patient)
    answers: list[Response] = []
    page = context.new_page()
    page.on("response", lambda answer: answers.append(answer))
    page.goto(portal.url + "/patient")
    page.set_input_files("#key-file", str(key_file))
    page.get_by_role("button", name="Sign in", exact=True).click()
    # The value is on the page: decrypted here, so the checks below are not vacuous.
    page.get_by_text(PLANTED).first.wait_for()
    planted = PLANTED.encode()
    for answer in answers:
        if answer.headers.get("content-type", "").startswith("text/event-stream"):
            continue  # the live feed never ends (its events name accesses, never contents)
        assert planted not in answer.body(), answer.url
    for each in PAGES:
        assert PLANTED not in httpx.get(portal.url + each.path).text
    assert PLANTED not in portal.log.read_text(errors="replace")
