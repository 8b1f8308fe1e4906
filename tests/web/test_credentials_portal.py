"""The credentials pages in a real Chromium against a real demo node: eddsa-jcs-2022 signed
in the browser (the W3C vector byte for byte, and a licence the Python verifier accepts),
status acts from the issuer's page, the member's file, the verifier's page."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, Request, expect

from healthledger.client.sdk import Client
from healthledger.crypto.data_integrity import did_key, verify_proof
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.domains.credentials.documents import (
    anchor_of,
    build_credential,
    credential_id_of,
    document_hash,
    sign_credential,
)
from healthledger.domains.credentials.state import NAMESPACE, CredentialAnchor, credential_key
from healthledger.domains.credentials.verify import check_credential
from web.conftest import Portal, sign_in_as
from web.test_privacy import _secret_forms

# W3C vc-di-eddsa, "Representation: eddsa-jcs-2022" (the Alumni credential example): the
# secret key as the spec gives it (hex seed), the proof's time, and the expected proofValue.
W3C_SEED = "c96ef9ea10c5e414c471723aff9de72c35fa5b70fae97e8832ecac7d2e2b8ed6"
W3C_PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
W3C_CREATED = "2023-02-24T23:36:38Z"
W3C_PROOF_VALUE = (
    "z2HnFSSPPBzR36zdDgK8PbEHeXbR56YF24jwMpt3R1eHXQzJDMWS93FCzpvJpwTWd3GAVFuUfjoJdcnTMuVor51aX"
)
W3C_UNSIGNED: dict[str, Any] = {
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2",
    ],
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": "https://vc.example/issuers/5678",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
}

SIGN_VECTOR = """async ([seed, unsigned, created]) => {
  const vc = await import('/static/portal/credentials/vc.js');
  const { KeyPair } = await import('/static/portal/hl/keys.js');
  const { fromHex } = await import('/static/portal/hl/bytes.js');
  const keys = new KeyPair(fromHex(seed), new Uint8Array(32).fill(7));
  const signed = vc.signDocument(unsigned, keys, Date.parse(created));
  const tampered = { ...signed, name: 'Another credential' };
  let refused = null;
  try { vc.verifyDocumentProof(tampered); } catch (e) { refused = e.message; }
  return {
    signed,
    did: vc.didKeyOf(keys.publicKey),
    verified: vc.verifyDocumentProof(signed).length,
    refused,
    roundTrip: vc.base58btc(vc.fromBase58btc('1112fRGq')),
  };
}"""


def test_the_browser_signs_the_w3c_vector_byte_for_byte(page: Page, portal: Portal) -> None:
    page.goto(portal.url + "/")
    got = page.evaluate(SIGN_VECTOR, [W3C_SEED, W3C_UNSIGNED, W3C_CREATED])
    assert got["did"] == f"did:key:{W3C_PUBLIC}"
    proof = got["signed"]["proof"]
    assert proof["proofValue"] == W3C_PROOF_VALUE
    assert proof["verificationMethod"] == f"did:key:{W3C_PUBLIC}#{W3C_PUBLIC}"
    assert proof["@context"] == W3C_UNSIGNED["@context"]
    assert proof["created"] == W3C_CREATED
    assert got["verified"] == 32
    assert got["refused"] == "the proof's signature does not match the document"
    assert got["roundTrip"] == "1112fRGq"


BUILD = """async ([seed, fields]) => {
  const vc = await import('/static/portal/credentials/vc.js');
  const { KeyPair } = await import('/static/portal/hl/keys.js');
  const { fromHex } = await import('/static/portal/hl/bytes.js');
  const keys = new KeyPair(fromHex(seed), new Uint8Array(32).fill(9));
  const issuer = { org: 'st-marys', name: "St Mary's Hospital", publicKey: keys.publicKey };
  const document = vc.signDocument(vc.buildDocument({ ...fields, issuer }), keys, 1767225600123);
  return { document, anchor: vc.anchorOf(document) };
}"""


def test_a_privilege_built_in_the_browser_is_the_one_python_builds(
    page: Page, portal: Portal
) -> None:
    """Every field of the page's document and anchor as documents.py makes and reads them."""
    fields = {
        "localId": "priv-7",
        "subject": SUBJECT,
        "type": "privilege",
        "scope": "Cardiothoracic surgery, admitting",
        "jurisdiction": "GB-ENG",
        "validFromMs": 1767225600000,
        "validUntilMs": 1798761600000,
        "name": "Meredith Grey é中",
        "dependsOn": ["medical-board:lic-1", "medical-board:cert-2"],
        "status": {"list": 0, "index": 4242},
    }
    page.goto(portal.url + "/")
    got = page.evaluate(BUILD, [W3C_SEED, fields])
    document = got["document"]
    keys = KeyPair(signing_seed=bytes.fromhex(W3C_SEED), encryption_secret=bytes(32))
    unsigned = build_credential(
        issuer="st-marys",
        issuer_name="St Mary's Hospital",
        issuer_key=keys.key_id,
        local_id="priv-7",
        subject=SUBJECT,
        type="privilege",
        scope="Cardiothoracic surgery, admitting",
        jurisdiction="GB-ENG",
        valid_from_ms=1767225600000,
        valid_until_ms=1798761600000,
        name="Meredith Grey é中",
        depends_on=["medical-board:lic-1", "medical-board:cert-2"],
        status_list=0,
        status_index=4242,
    )
    assert document == sign_credential(unsigned, keys, 1767225600123)
    assert got["anchor"] == anchor_of(document).model_dump(mode="json")
    assert verify_proof(document, now_ms=1767225600123).public_key == keys.public_key


# --- issuing, revoking and verifying through the pages -------------------------------------

BOARD = "State Medical Board"
UNIVERSITY = "Metro University"
SUBJECT = "st-marys/dr-grey"


def issue(
    page: Page,
    portal: Portal,
    local_id: str,
    *,
    issuer: str = BOARD,
    kind: str = "licence",
    name: str = "",
    valid_from: str = "2026-01-01",
    ce: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """`issuer` issues a credential to Dr Grey on its page; the downloaded signed document."""
    sign_in_as(page, portal, issuer, "/issuer")
    page.select_option("#issuer-type", kind)
    page.fill("#issuer-subject", SUBJECT)
    page.fill("#issuer-name", name)
    page.fill("#issuer-scope", "Medicine, full registration" if ce is None else "Sepsis update")
    page.fill("#issuer-jurisdiction", "GB")
    page.fill("#issuer-valid-from", valid_from)
    page.fill("#issuer-valid-until", "2031-01-01" if ce is None else "")
    if ce is not None:
        page.fill("#issuer-ce-hours", ce[0])
        page.fill("#issuer-ce-category", ce[1])
    page.fill("#issuer-local-id", local_id)
    page.get_by_role("button", name="Sign and issue").click()
    expect(page.locator("#issuer-status")).to_contain_text(f":{local_id} at block")
    with page.expect_download() as downloaded:
        page.get_by_role("button", name="Download the signed credential").click()
    return json.loads(Path(downloaded.value.path()).read_text(encoding="utf-8"))


def issue_licence(page: Page, portal: Portal, local_id: str, name: str = "") -> dict[str, Any]:
    return issue(page, portal, local_id, name=name)


def assert_accessible(page: Page) -> None:
    """axe on the page as drawn now (with its tables and results): nothing serious."""
    violations = Axe().run(page).response["violations"]
    blocking = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
    assert not blocking, blocking


def demo_keys(portal: Portal, name: str) -> KeyPair:
    people = json.loads((portal.directory / "demo-users.json").read_text())
    row = next(person for person in people if person["name"] == name)
    return load_keypair(Path(row["key_file"]))


def board_keys(portal: Portal) -> KeyPair:
    return demo_keys(portal, BOARD)


def test_a_licence_signed_in_the_browser_verifies_in_python(page: Page, portal: Portal) -> None:
    document = issue_licence(page, portal, "portal-lic-1", name="Meredith Grey")
    keys = board_keys(portal)
    # The proof is eddsa-jcs-2022 by the board's own key, byte for byte as Python makes it.
    now_ms = int(time.time() * 1000)
    proof = verify_proof(document, now_ms)
    assert proof.public_key == keys.public_key
    assert document["issuer"] == {
        "id": did_key(keys.public_key),
        "name": BOARD,
        "healthledgerOrg": "medical-board",
    }
    assert document["credentialSubject"]["name"] == "Meredith Grey"
    # The anchor on chain is Python's anchor of the downloaded document.
    credential_id = credential_id_of(document)
    assert credential_id == "medical-board:portal-lic-1"
    with Client(portal.url) as client:
        view = client.state(NAMESPACE, credential_key(credential_id), keys=keys)
    anchor = CredentialAnchor.model_validate(view.value)
    assert anchor.hash == document_hash(document)
    assert anchor.issuer_key == keys.key_id
    expected = anchor_of(document)
    assert (anchor.subject, anchor.type, anchor.valid_from_ms, anchor.valid_until_ms) == (
        expected.subject,
        expected.type,
        expected.valid_from_ms,
        expected.valid_until_ms,
    )
    assert (anchor.status_list, anchor.status_index) == (
        expected.status_list,
        expected.status_index,
    )
    verdict = check_credential(document, anchor, now_ms, now_ms=now_ms)
    assert verdict.ok, verdict


def test_revoked_on_the_issuers_page_the_verifier_page_says_revoked(
    page: Page, portal: Portal, tmp_path: Path
) -> None:
    document = issue_licence(page, portal, "portal-lic-2")
    credential_id = credential_id_of(document)
    row = page.locator(f'#issuer-table tr[data-credential="{credential_id}"]')
    expect(row.locator("[data-status]")).to_have_text("active")
    page.fill("#issuer-reason", "struck off after a hearing")
    row.get_by_role("button", name=f"Revoke {credential_id}").click()
    expect(row.locator("[data-status]")).to_contain_text("revoked (struck off after a hearing")
    expect(row.get_by_role("button")).to_have_count(0)  # revoked is final: no act is offered
    sign_in_as(page, portal, "St Mary's Hospital", "/verify-credential")
    # The holder's file, uploaded as the holder received it.
    (tmp_path / "licence.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    page.set_input_files("#verify-credential-file", str(tmp_path / "licence.json"))
    expect(page.locator("#verify-credential-text")).not_to_have_value("")
    page.get_by_role("button", name="Verify", exact=True).click()
    result = page.locator(f'article[data-credential="{document["id"]}"]')
    expect(result.locator("[data-verdict]")).to_have_attribute("data-verdict", "revoked")
    expect(result.locator("[data-verdict]")).to_contain_text("Not valid on")
    expect(result).to_contain_text("eddsa-jcs-2022 proof verifies")
    expect(result).to_contain_text("Its SHA-256 is the anchored hash")
    expect(result.locator("[data-node-verdict]")).to_have_attribute(
        "data-node-verdict", "not valid"
    )
    assert_accessible(page)


def test_a_changed_credential_fails_in_the_browser_and_at_the_node(
    page: Page, portal: Portal
) -> None:
    document = issue_licence(page, portal, "portal-lic-3")
    forged = {**document, "validUntil": "2041-01-01T00:00:00Z"}
    sign_in_as(page, portal, "St Mary's Hospital", "/verify-credential")
    page.fill("#verify-credential-text", json.dumps(forged))
    page.get_by_role("button", name="Verify", exact=True).click()
    result = page.locator(f'article[data-credential="{document["id"]}"]')
    expect(result.locator("[data-verdict]")).to_have_text(
        "Check failed: the proof's signature does not match the document (invalid_signature)"
    )
    expect(result.locator("[data-node-verdict]")).to_have_attribute(
        "data-node-verdict", "not valid"
    )


def publish_ce_rule(portal: Portal) -> None:
    """The board's rule: 10 hours a cycle, at least 1 of them AMA-1 (sent by the SDK: the
    portal has no page for rules). A new version: the demo's board published one in force
    from 2025-01-01; this one takes effect on 2025-06-01, before the licence's cycle."""
    rule = {
        "minutes_per_cycle": 600,
        "categories": [{"category": "AMA-1", "min_minutes": 60}],
        "effective_from_ms": 1_748_736_000_000,
    }
    with Client(portal.url) as client:
        signer = client.signer(board_keys(portal))
        report = client.submit(signer.sign("credential.ce_rule", rule), wait=True)
    assert report.status == "committed" and report.result is not None and report.result.ok, report


def test_the_member_sees_the_file_with_ce_against_the_rule_and_shares_it(
    page: Page, portal: Portal
) -> None:
    publish_ce_rule(portal)
    licence = credential_id_of(issue_licence(page, portal, "portal-lic-4"))
    course = issue(
        page,
        portal,
        "ce-portal-1",
        issuer=UNIVERSITY,
        kind="ce",
        ce=("1.5", "AMA-1"),
        valid_from="2026-06-01",
    )
    assert course["credentialSubject"]["ceMinutes"] == 90
    sign_in_as(page, portal, "Dr Meredith Grey", "/credentials")
    row = page.locator(f'#credentials-table tr[data-credential="{licence}"]')
    expect(row).to_contain_text("Medicine, full registration (GB)")
    expect(row).to_contain_text("2026-01-01 to 2031-01-01")
    expect(row.locator("[data-status]")).to_have_text("active")
    ce_row = page.locator(f'#credentials-table tr[data-credential="{credential_id_of(course)}"]')
    expect(ce_row).to_contain_text("1.5 h AMA-1")
    cycle = page.locator(f'#credentials-ce-table tr[data-licence="{licence}"]')
    expect(cycle).to_contain_text("2026-01-01 to 2031-01-01")
    # The demo's story gave Dr Grey 9.5 h of CE in 2026 (all AMA-1): with this course, 11 h
    # of the 10 a cycle asks for.
    expect(cycle).to_contain_text("AMA-1: 11 h of 1")
    expect(cycle.locator("[data-compliant]")).to_have_text("met")
    assert_accessible(page)
    # Share the file with Metro University, then end the share (the demo's story already
    # shares it with Riverside Clinic).
    page.fill("#credentials-share-with", "metro-university")
    page.fill("#credentials-share-until", "2030-01-01")
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.locator("#credentials-share-status")).to_contain_text(
        "Shared with metro-university at block"
    )
    shares = page.locator("#credentials-shares-table tbody tr", has_text="metro-university")
    expect(shares).to_have_count(1)
    expect(shares).to_contain_text("the whole file")
    shares.get_by_role("button", name="End the share with metro-university").click()
    expect(page.locator("#credentials-share-status")).to_contain_text(
        "Ended the share with metro-university at block"
    )
    expect(shares).to_have_count(0)


def test_no_key_and_no_holder_name_leaves_the_browser(
    context: BrowserContext, portal: Portal
) -> None:
    """The holder's name is in the signed document only; the board's key signs here."""
    name = "Holder-" + secrets.token_hex(6)
    sent: list[str] = []

    def record(request: Request) -> None:
        sent.append(request.url)
        sent.extend(f"{key}: {value}" for key, value in request.all_headers().items())
        if request.post_data_buffer:
            sent.append(request.post_data_buffer.decode("latin-1"))

    page = context.new_page()
    page.on("request", record)
    document = issue_licence(page, portal, "portal-lic-5", name=name)
    assert document["credentialSubject"]["name"] == name
    issued = [line for line in sent if '"type":"credential.issue"' in line]
    assert len(issued) == 1, "the page sent the anchor (the test watched real traffic)"
    everything = "\n".join(sent)
    assert name not in everything
    assert document["proof"]["proofValue"] not in everything  # only the hash is anchored
    for form in _secret_forms(board_keys(portal)):
        assert form not in everything
    assert name not in portal.log.read_text(errors="replace")


def test_a_hospital_may_not_issue_a_licence_and_sees_the_ledgers_words(
    context: BrowserContext, portal: Portal
) -> None:
    """Signed here, refused by the ledger (a licence is a board's or a regulator's), shown
    with its code; nothing is offered for download."""
    page = context.new_page()
    sign_in_as(page, portal, "St Mary's Hospital", "/issuer")
    page.select_option("#issuer-type", "licence")
    page.fill("#issuer-subject", SUBJECT)
    page.fill("#issuer-scope", "Medicine")
    page.fill("#issuer-jurisdiction", "GB")
    page.fill("#issuer-valid-from", "2026-01-01")
    page.get_by_role("button", name="Sign and issue").click()
    refusal = page.locator("#issuer-status [role=alert]")
    expect(refusal).to_contain_text("Refused: ")
    expect(refusal).to_contain_text("(unauthorized)")
    expect(page.locator("#issuer-issued")).to_be_hidden()


def test_a_person_sees_no_issue_form(page: Page, portal: Portal) -> None:
    sign_in_as(page, portal, "Dr Meredith Grey", "/issuer")
    expect(page.locator("#issuer-form")).to_be_hidden()
    expect(page.locator("#issuer-note")).to_contain_text(
        "Only an organisation's own key issues credentials; you are signed in as member "
        "st-marys/dr-grey (practitioner)."
    )
