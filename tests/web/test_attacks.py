"""The portal against a node that lies, a page that is tricked, a browser that double-submits.

Each test plays an attacker against a real demo node and a real Chromium: the node's
answers are rewritten in transit (Playwright's routing) exactly as a malicious node
operator would write them, and the test asserts what the page must then refuse to do.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from typing import Any

import nacl.exceptions
import nacl.public
from playwright.sync_api import Page, Request, Route, expect

from healthledger.crypto.canonical import canonical_bytes
from web.conftest import Portal, sign_in_as


def _substitute_encryption_key(public_hex: str) -> Any:
    """A route handler: the node's answer for a key record, with `public_hex` as its key."""

    def lie(route: Route) -> None:
        answer = route.fetch()
        view = answer.json()
        value = view.get("value")
        if isinstance(value, dict) and "encryption_key" in value:
            value["encryption_key"] = public_hex
            # A careful liar keeps the view self-consistent: the proven bytes say the same.
            if view.get("raw_value") is not None:
                view["raw_value"] = canonical_bytes(value).decode()
        route.fulfill(response=answer, body=json.dumps(view))

    return lie


def test_a_grant_never_seals_data_keys_to_a_key_the_node_made_up(
    page: Page, portal: Portal
) -> None:
    """A lying node answers the grantee's key record with its own encryption key: the page
    must not seal the patient's data keys to it (the key is proven against the chain)."""
    attacker = nacl.public.PrivateKey.generate()
    page.route(
        re.compile(r".*/v1/state/gov/member/st-marys/dr-grey(\?.*)?$"),
        _substitute_encryption_key(bytes(attacker.public_key).hex()),
    )
    grants: list[dict[str, Any]] = []

    def watch(request: Request) -> None:
        if request.method == "POST" and request.url.split("?")[0].endswith("/v1/txs"):
            tx = json.loads(request.post_data or "{}")
            if tx.get("type") == "consent.grant":
                grants.append(tx)

    page.on("request", watch)
    sign_in_as(page, portal, "Jasmine Yilmaz", "/patient")
    expect(page.locator("#patient-records-status")).to_contain_text(
        "decrypted in this browser", timeout=30_000
    )
    page.check("#patient-grant-kind-member")
    page.fill("#patient-grant-org", "st-marys")
    page.fill("#patient-grant-member", "dr-grey")
    page.check("#patient-grant-purpose-research")
    page.locator("#patient-grant button[type=submit]").click()
    grant_status = page.locator("#patient-grant-status")
    expect(grant_status).to_contain_text(re.compile("granted|Could not grant"), timeout=30_000)

    stolen = []
    opener = nacl.public.SealedBox(attacker)
    for tx in grants:
        for record_id, sealed in tx["payload"]["wrapped_keys"].items():
            with contextlib.suppress(nacl.exceptions.CryptoError):
                stolen.append((record_id, opener.decrypt(base64.b64decode(sealed))))
    assert not stolen, f"the lying node opened {len(stolen)} of the patient's data keys"
    assert not grants, "no grant is sent when the grantee's key is not proven"
    expect(grant_status).to_contain_text("Could not grant")
    expect(grant_status).to_contain_text("invalid_proof")


def test_two_acts_at_once_each_get_their_own_nonce(page: Page, portal: Portal) -> None:
    """The first two transactions a fresh page signs at once (two buttons pressed quickly)
    must carry two nonces: the second is not refused as a replay of the first."""
    sign_in_as(page, portal, "Jasmine Yilmaz", "/patient")
    codes = page.evaluate(
        """async () => {
            const { session } = await import("/static/portal/hl/session.js");
            const api = session().api;
            const revoke = (n) => api.submit("consent.revoke", {
              consent_id: "cns-" + String(n).repeat(24), reason: "withdrawn" });
            const settled = await Promise.allSettled([revoke(1), revoke(2)]);
            return settled.map((s) => s.status === "fulfilled" ? "ok" : s.reason.code);
        }"""
    )
    # Both reach the ledger and fail on their merits (no such consent), neither on its nonce.
    assert "duplicate_nonce" not in codes, codes
    assert codes[0] == codes[1], codes


def test_a_double_click_issues_one_recall(page: Page, portal: Portal) -> None:
    """A recall's id comes from its transaction: a second click while the first is on its
    way would issue (and notify every holder of) a second recall."""
    recalls: list[str] = []

    def watch(request: Request) -> None:
        if request.method == "POST" and request.url.split("?")[0].endswith("/v1/txs"):
            tx = json.loads(request.post_data or "{}")
            if tx.get("type") == "supply.recall":
                recalls.append(tx["payload"]["reason"])

    page.on("request", watch)
    sign_in_as(page, portal, "National Health Authority", "/regulator")
    page.fill("#regulator-recall-gtin", "09506000134352")
    page.check("#regulator-recall-by-range")
    page.fill("#regulator-recall-from", "A00300")
    page.fill("#regulator-recall-to", "A00310")
    page.fill("#regulator-recall-reason", "double click test")
    page.get_by_role("button", name="Issue the recall").dblclick()
    expect(page.locator("#regulator-recall-status")).to_contain_text("issued at block")
    page.wait_for_timeout(1500)  # a second submission, if any, has been sent by now
    assert recalls == ["double click test"], recalls


def test_an_access_pinned_on_someone_else_shows_its_receipt_failed(
    page: Page, portal: Portal
) -> None:
    """A lying node rewrites the patient's audit trail so that Dr House's read looks like
    Nurse Joy's (same key, same transaction): the receipt proves the key, and the key's
    record on the ledger names Dr House, so the row must not say "verified"."""

    def blame_the_nurse(route: Route) -> None:
        answer = route.fetch()
        trail = answer.json()
        for event in trail.get("events", []):
            if event.get("reader", {}).get("id") == "riverside-clinic/dr-house":
                event["reader"].update(id="st-marys/nurse-joy", org="st-marys", role="nurse")
        route.fulfill(response=answer, body=json.dumps(trail))

    page.route(re.compile(r".*/v1/audit/patients/pat_[0-9a-f]+(\?.*)?$"), blame_the_nurse)
    sign_in_as(page, portal, "Jasmine Yilmaz", "/patient")
    # Her own reads are pushed back and redraw the log: let them land first.
    expect(page.locator("#patient-records-status")).to_contain_text(
        "decrypted in this browser", timeout=30_000
    )
    row = page.locator("#patient-audit tr").filter(has_text="st-marys/nurse-joy").first
    expect(row).to_be_visible(timeout=30_000)
    for _attempt in range(60):  # the log is redrawn as events arrive: ask until it answers
        receipt = row.locator(".receipt").inner_text()
        if "failed" in receipt or "verified" in receipt:
            break
        ask = row.get_by_role("button", name=re.compile("Check the receipt"))
        if ask.count():  # older rows are checked on request
            ask.click()
        page.wait_for_timeout(500)
    expect(row.locator(".receipt")).to_contain_text("failed")
    row.locator(".receipt summary").click()
    expect(row.locator(".receipt")).to_contain_text("does not name key")
