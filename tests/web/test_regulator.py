"""The regulator's page: the clone's alert, recalls (listed; issued by those who may),
quarantine and clear, and the ledger's refusal of anyone else, code and all.

The demo's supply story (demo/supply.py): Town Pharmacy presented a clone of A00003
(held by Corner Pharmacy) and a serial Medico never made (Z99999); Medico recalled lot
AMX2612, which Corner Pharmacy acknowledged.
"""

from __future__ import annotations

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from web.conftest import PHONE, Portal, sign_in_as

GTIN = "09506000134352"
REGULATOR = "National Health Authority"


def flag(page: Page, serial: str, reason: str, action: str) -> None:
    page.fill("#regulator-flag-gtin", GTIN)
    page.fill("#regulator-flag-serial", serial)
    page.fill("#regulator-flag-reason", reason)
    page.get_by_role("button", name=action, exact=True).click()


def test_the_regulator_sees_the_alert_for_the_cloned_serial(page: Page, portal: Portal) -> None:
    sign_in_as(page, portal, REGULATOR, "/regulator")
    alerts = page.locator("#regulator-alerts-table tbody tr")
    clone = alerts.filter(has_text="A00003")
    expect(clone).to_have_count(1)
    expect(clone).to_contain_text("presented by town-pharmacy, outside its custody path")
    expect(clone).to_contain_text("medico-pharma")
    never_made = alerts.filter(has_text="Z99999")
    expect(never_made).to_contain_text("unknown_serial")
    # Review fills the quarantine form with the alert's package.
    clone.get_by_role("button", name=f"Review package {GTIN} serial A00003").click()
    expect(page.locator("#regulator-flag-serial")).to_have_value("A00003")
    expect(page.locator("#regulator-flag-reason")).to_be_focused()


def test_the_regulator_quarantines_then_clears_a_package(page: Page, portal: Portal) -> None:
    sign_in_as(page, portal, REGULATOR, "/regulator")
    flag(page, "A00006", "sample sent for testing", "Quarantine")
    result = page.locator("#regulator-flag-status")
    expect(result).to_contain_text(f"Quarantined {GTIN} serial A00006 at block")
    flags = page.locator("#regulator-package-flags [data-flags]")
    expect(flags).to_have_text("quarantined")
    expect(page.locator("#regulator-package")).to_contain_text("quarantine by health-authority")
    flag(page, "A00006", "sample passed", "Clear")
    expect(result).to_contain_text(f"Cleared {GTIN} serial A00006 at block")
    expect(flags).to_have_text("none")
    expect(page.locator("#regulator-package")).to_contain_text("clear by health-authority")


def test_a_pharmacist_may_not_quarantine_and_sees_the_ledgers_code(
    context: BrowserContext, portal: Portal
) -> None:
    """Refused everywhere on this page, with the ledger's words; the only console errors
    are Chromium's notes of the refused requests (403), nothing of the page's own."""
    page = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} {message.location.get('url')}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_as(page, portal, "Ana Pharmacist", "/regulator")
    # Alerts and recalls are organisations' reads: a member person is refused them.
    expect(page.locator("#regulator-alerts-status [role=alert]")).to_contain_text(
        "Alerts could not be read"
    )
    expect(page.locator("#regulator-alerts-status [role=alert]")).to_contain_text("(unauthorized)")
    flag(page, "A00004", "I do not like it", "Quarantine")
    refusal = page.locator("#regulator-flag-status [role=alert]")
    expect(refusal).to_have_text(
        "Refused: member:pharmacist may not send supply.quarantine (unauthorized)"
    )
    expect(page.locator("#regulator-recall-form")).to_be_hidden()
    expect(page.locator("#regulator-recall-note")).to_contain_text(
        "Only a manufacturer's or a regulator's organisation key may issue a recall"
    )
    refused = "Failed to load resource: the server responded with a status of 403 (Forbidden)"
    assert sorted(error.split("/v1/")[-1] for error in errors if error.startswith(refused)) == [
        "supply/alerts?limit=100",
        "supply/recalls?limit=100",
        "txs?wait=true",
    ]
    assert all(error.startswith(refused) for error in errors), errors


def test_a_bad_gtin_is_refused_before_anything_is_signed(page: Page, portal: Portal) -> None:
    sign_in_as(page, portal, REGULATOR, "/regulator")
    page.fill("#regulator-flag-gtin", "09506000134353")
    page.fill("#regulator-flag-serial", "A00006")
    page.fill("#regulator-flag-reason", "typo")
    page.get_by_role("button", name="Quarantine", exact=True).click()
    expect(page.locator("#regulator-flag-status [role=alert]")).to_have_text(
        "GTIN 09506000134353: check digit should be 2, not 3 (invalid_field)"
    )


def test_the_regulator_lists_recalls_and_issues_one(page: Page, portal: Portal) -> None:
    page.set_viewport_size(PHONE)
    sign_in_as(page, portal, REGULATOR, "/regulator")
    rows = page.locator("#regulator-recalls-table tbody tr")
    lot_b = rows.filter(has_text="lot AMX2612")
    expect(lot_b).to_contain_text("out-of-specification dissolution")
    expect(lot_b).to_contain_text("medico-pharma")
    # Medico (still holding most of the lot) and Corner Pharmacy were notified; Corner acked.
    expect(lot_b).to_contain_text("1 of 2 (waiting: medico-pharma)")
    page.fill("#regulator-recall-gtin", GTIN)
    page.check("#regulator-recall-by-range")
    page.fill("#regulator-recall-from", "A00190")
    page.fill("#regulator-recall-to", "A00200")
    page.fill("#regulator-recall-reason", "tamper seal defect")
    page.get_by_role("button", name="Issue the recall").click()
    expect(page.locator("#regulator-recall-status")).to_contain_text("issued at block")
    expect(page.locator("#regulator-recall-status")).to_contain_text("medico-pharma")
    expect(rows.filter(has_text="serials A00190 to A00200")).to_contain_text("tamper seal defect")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
