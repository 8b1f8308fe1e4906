"""The explorer in a real Chromium against a real demo node: a member sees blocks, opens a
transaction and sees its proofs checked in the page; a second visit proves the ledger
only grew since the header pinned on the first; a tampered transaction proof or
consistency proof is shown as a failure, never as a success."""

from __future__ import annotations

import json
import re

import httpx
from playwright.sync_api import BrowserContext, Page, Route, expect

from healthledger.client.sdk import Client, Signer, registration_payload, require_committed
from healthledger.crypto.keys import KeyPair, load_keypair
from web.conftest import Portal, sign_in_as, watched_page

MEMBER = "Kim Auditor"


def open_explorer(page: Page, portal: Portal) -> None:
    sign_in_as(page, portal, MEMBER, "/explorer")
    expect(page.get_by_role("heading", name="Explorer", level=1)).to_be_visible()


def history(page: Page) -> str:
    """The visit check's outcome, once it has one."""
    box = page.locator("#explorer-history .status:not(.info)")
    expect(box).to_be_visible(timeout=30_000)
    return box.inner_text()


def grow_the_ledger(portal: Portal) -> int:
    """Commit one transaction (a new patient, vouched for by St Mary's); the new height."""
    voucher = load_keypair(portal.directory / "keys" / "st-marys.json")
    with Client(portal.url) as client:
        patient = KeyPair.generate()
        signer = Signer(patient, client.chain_id)
        payload = registration_payload(patient, client.chain_id, voucher)
        committed = require_committed(
            client.submit(signer.sign("patient.register", payload), wait=True)
        )
        return committed.height


def some_tx_id(portal: Portal) -> str:
    """A committed transaction's id, from the public headers."""
    latest = httpx.get(f"{portal.url}/v1/headers/latest").json()["height"]
    for height in range(latest, 0, -1):
        ids = httpx.get(f"{portal.url}/v1/headers/{height}").json()["tx_ids"]
        if ids:
            return str(ids[0])
    raise AssertionError("the demo has no transactions")


def new_page(context: BrowserContext) -> tuple[Page, list[str]]:
    """Another tab of the same browser profile (its localStorage holds the pin)."""
    return watched_page(context)


def number(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found is not None, (pattern, text)
    return int(found.group(1))


def flip_first_hex(value: str) -> str:
    return ("1" if value[0] == "0" else "0") + value[1:]


def test_a_member_sees_blocks_and_a_transaction_with_its_proofs_checked(
    page: Page, portal: Portal
) -> None:
    open_explorer(page, portal)
    assert "First visit in this browser: pinned header" in history(page)
    blocks = page.locator("#explorer-blocks table")
    expect(blocks).to_be_visible()
    rows = blocks.locator("tbody tr")
    assert rows.count() == 10
    busy = rows.filter(has_not=page.locator("td:nth-child(3)", has_text=re.compile(r"^0$"))).first
    busy.get_by_role("button").click()
    expect(page.locator("#explorer-block table")).to_be_visible()
    page.locator("#explorer-block").get_by_role("button").first.click()
    checks = page.locator("#explorer-tx-checks")
    expect(checks.get_by_role("status")).to_have_text("Proofs checked in this browser.")
    listed = checks.locator("ul.checked li.ok").all_inner_texts()
    assert any("inclusion proof to the block's tx_root" in item for item in listed)
    assert any("inclusion proof to result_root" in item for item in listed)
    assert any("ledger-wide log" in item for item in listed)
    assert any("pinned header" in item for item in listed)
    assert "CometBFT" in checks.inner_text()
    assert checks.get_by_role("alert").count() == 0
    expect(page.locator("#explorer-tx dl")).to_contain_text("Type")
    # Organisations, one's members, validators (none: the demo runs the single-node engine).
    orgs = page.locator("#explorer-orgs table")
    expect(orgs).to_contain_text("St Mary's Hospital")
    orgs.get_by_role("button", name="Members of St Mary's Hospital").click()
    members = page.locator("#explorer-members")
    expect(members.get_by_role("heading", level=3)).to_have_text("Members of St Mary's Hospital")
    expect(members.get_by_role("row").filter(has_text="auditor")).to_contain_text("Kim")
    expect(page.locator("#explorer-validators")).to_contain_text("single-node engine")


def test_a_second_visit_proves_the_ledger_only_grew(
    page: Page, portal: Portal, context: BrowserContext
) -> None:
    open_explorer(page, portal)
    first = history(page)
    pinned_at = number(r"pinned header (\d+)", first)
    grown_to = grow_the_ledger(portal)
    again, errors = new_page(context)
    open_explorer(again, portal)
    second = history(again)
    assert "Nothing was rewritten since your last visit" in second
    assert f"consistent with the header pinned at height {pinned_at}" in second
    now = number(r"header (\d+) \(a log", second)
    assert now >= grown_to > pinned_at
    listed = again.locator("#explorer-history-checks li.ok").all_inner_texts()
    assert any("RFC 9162 consistency proof" in item for item in listed)
    assert errors == []


def test_a_tampered_transaction_proof_is_shown_as_a_failure(page: Page, portal: Portal) -> None:
    tx_id = some_tx_id(portal)

    def tamper(route: Route) -> None:
        answer = route.fetch()
        view = answer.json()
        ledger = view["proof"]["ledger"]
        ledger["path"][0] = flip_first_hex(ledger["path"][0])
        route.fulfill(response=answer, body=json.dumps(view))

    page.route(re.compile(r".*/v1/txs/[0-9a-f]{64}\?proof=true$"), tamper)
    open_explorer(page, portal)
    page.get_by_label("Transaction id").fill(tx_id)
    page.get_by_role("button", name="Open and check its proofs").click()
    checks = page.locator("#explorer-tx-checks")
    alert = checks.get_by_role("alert")
    expect(alert).to_contain_text("Proof check failed")
    expect(alert).to_contain_text("does not lead to the root")
    assert "Proofs checked in this browser." not in checks.inner_text()


def test_a_tampered_consistency_proof_is_shown_as_a_failure(
    page: Page, portal: Portal, context: BrowserContext
) -> None:
    open_explorer(page, portal)
    assert "First visit" in history(page)
    grow_the_ledger(portal)

    def tamper(route: Route) -> None:
        answer = route.fetch()
        view = answer.json()
        view["path"][0] = flip_first_hex(view["path"][0])
        route.fulfill(response=answer, body=json.dumps(view))

    again, errors = new_page(context)
    again.route(re.compile(r".*/v1/proofs/consistency\?.*"), tamper)
    open_explorer(again, portal)
    alert = again.locator("#explorer-history").get_by_role("alert")
    expect(alert).to_contain_text("does not extend what this browser saw before")
    expect(alert).to_contain_text("not consistent with the pinned log")
    assert "Nothing was rewritten" not in again.locator("#explorer-history").inner_text()
    expect(again.get_by_role("button", name=re.compile("Forget the pinned header"))).to_be_visible()
    assert errors == []


def test_a_bad_transaction_id_gets_a_clear_message(page: Page, portal: Portal) -> None:
    open_explorer(page, portal)
    page.get_by_label("Transaction id").fill("not-an-id")
    page.get_by_role("button", name="Open and check its proofs").click()
    expect(page.locator("#explorer-tx").get_by_role("alert")).to_contain_text("64 hexadecimal")
