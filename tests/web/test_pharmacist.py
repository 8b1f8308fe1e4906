"""The pharmacist's page: a pack's code read in the browser exactly as the node reads it,
its verification proven in the browser, the verdict shown, and the pack dispensed.

The demo's supply story (demo/supply.py): Corner Pharmacy holds A00001-A00005 of lot
AMX2611; A00001 and A00002 were dispensed; a clone of A00003 turned up at Town Pharmacy,
so A00003 is flagged suspect and the regulator quarantined it.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Route, expect
from pydantic import ValidationError

from healthledger.domains.supply.gs1 import gtin_check_digit, parse_expiry, parse_scan
from healthledger.domains.supply.queries import verdict
from healthledger.errors import LedgerError
from web.conftest import PHONE, Portal, sign_in_as

ROOT = Path(__file__).resolve().parents[2]
CASES = json.loads((Path(__file__).parent / "gs1_scan_cases.json").read_text())
GTIN = "09506000134352"
GS = "\x1d"
GOOD = f"(01){GTIN}(17)281031(10)AMX2611(21)A00004"
CLONE_LINK = f"https://id.example.org/01/{GTIN}/10/AMX2611/21/A00003?17=281031"
GS1_MODULE = "/static/portal/supply/gs1.js"


def outcome(scan: str, year: int) -> dict[str, Any]:
    """What the node's parser makes of a scan, in the shape of a shared case."""
    try:
        product = parse_scan(scan, year)
    except LedgerError as exc:
        return {"error": exc.message, "code": str(exc.code)}
    return {
        "product": {
            "gtin": product.gtin,
            "serial": product.serial,
            "lot": product.lot,
            "expiry": product.expiry,
        }
    }


def js_outcomes(page: Page, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the browser's parser over `calls` ({fn, args}) in the page; results or errors."""
    return list(
        page.evaluate(
            """async ([module, calls]) => {
                const gs1 = await import(module);
                return calls.map(({fn, args}) => {
                    try {
                        return {product: gs1[fn](...args)};
                    } catch (error) {
                        return {error: error.message, code: error.code};
                    }
                });
            }""",
            [GS1_MODULE, calls],
        )
    )


def test_the_shared_scan_cases_are_what_the_node_reads() -> None:
    """The node's parser (biip underneath) gives each case's answer: the cases are true."""
    for case in CASES:
        got = outcome(case["scan"], case["year"])
        expected = {key: case[key] for key in ("product", "error") if key in case}
        got.pop("code", None)
        assert got == expected, case["case"]


def test_the_browser_parser_reads_every_shared_case_as_the_node_does(
    page: Page, portal: Portal
) -> None:
    page.goto(portal.url)
    calls = [{"fn": "parseScan", "args": [case["scan"], case["year"]]} for case in CASES]
    for case, got in zip(CASES, js_outcomes(page, calls), strict=True):
        if "product" in case:
            assert got == {"product": case["product"]}, case["case"]
        else:
            assert got == {"error": case["error"], "code": "invalid_field"}, case["case"]


def test_check_digits_and_expiry_dates_agree_with_the_node(page: Page, portal: Portal) -> None:
    """Random key bodies and YYMMDD dates (day 00, leap years, bad days, both centuries)."""
    rng = random.Random(12)
    bodies = [
        "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 17))) for _ in range(200)
    ]
    dates = [
        f"{rng.randint(0, 99):02d}{rng.randint(0, 13):02d}{rng.randint(0, 32):02d}"
        for _ in range(400)
    ]
    years = [1999, 2026, 2049, 2050, 2074, 2099]
    calls = [{"fn": "gtinCheckDigit", "args": [body]} for body in bodies]
    calls += [{"fn": "parseExpiry", "args": [d, y]} for d in dates for y in years]
    expected: list[dict[str, Any]] = [{"product": gtin_check_digit(body)} for body in bodies]
    for value in dates:
        for year in years:
            try:
                expected.append({"product": parse_expiry(value, year)})
            except LedgerError as exc:
                expected.append({"error": exc.message, "code": "invalid_field"})
    page.goto(portal.url)
    assert js_outcomes(page, calls) == expected


def test_a_digital_link_and_fnc1_data_name_the_same_pack(page: Page, portal: Portal) -> None:
    link = f"https://id.gs1.org/01/{GTIN}/10/AMX2611/21/A00004?17=281031"
    fnc1 = f"]d201{GTIN}17281031" + f"10AMX2611{GS}21A00004"
    typed = f"01{GTIN}10AMX2611{{GS}}17281031" + "21A00004"  # a scanner app's visible GS
    page.goto(portal.url)
    got = page.evaluate(
        """async ([module, scans]) => {
            const gs1 = await import(module);
            return scans.map((scan) => gs1.parseScan(gs1.separatorsTyped(scan), 2026));
        }""",
        [GS1_MODULE, [link, fnc1, typed, GOOD]],
    )
    assert got[0] == got[1] == got[2] == got[3] == outcome(link, 2026)["product"]
    assert got[0] == {"gtin": GTIN, "serial": "A00004", "lot": "AMX2611", "expiry": "2028-10-31"}


def test_the_browser_reads_with_the_node_parsers_tables(page: Page, portal: Portal) -> None:
    """gs1-table.js is what scripts/gen-gs1-table makes of biip's tables now, and every
    AI pattern in it compiles as a JavaScript regular expression."""
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-gs1-table"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    page.goto(portal.url)
    count = page.evaluate(
        """async () => {
            const { AIS } = await import("/static/portal/supply/gs1-table.js");
            AIS.forEach(([, pattern]) => new RegExp(pattern));
            return AIS.length;
        }"""
    )
    assert count > 500


def verify(page: Page, scan: str) -> None:
    page.fill("#pharmacist-scan", scan)
    page.click("#pharmacist-verify")


def test_a_pharmacist_verifies_a_good_pack(page: Page, portal: Portal) -> None:
    sign_in_as(page, portal, "Ana Pharmacist", "/pharmacist")
    verify(page, GOOD)
    verdict = page.locator("#pharmacist-verdict .verdict")
    expect(verdict).to_have_text("Verified")
    assert verdict.get_attribute("data-verdict") == "verified"
    checks = page.locator("#pharmacist-checks")
    expect(checks).to_contain_text("Proofs checked in this browser")
    expect(checks).to_contain_text(f"supply/pkg/{GTIN}/A00004 holds the value shown")
    expect(checks).to_contain_text(f"supply/recalls/{GTIN}")
    expect(checks).to_contain_text("recomputed here from the proven records")
    expect(checks).to_contain_text("on first use in this browser")
    expect(page.locator("#pharmacist-custody")).to_contain_text("corner-pharmacy")
    expect(page.locator("#pharmacist-dispense")).to_be_enabled()


def test_a_cloned_serial_is_suspect_and_may_not_be_dispensed(page: Page, portal: Portal) -> None:
    sign_in_as(page, portal, "Ana Pharmacist", "/pharmacist")
    verify(page, CLONE_LINK)
    verdict = page.locator("#pharmacist-verdict .verdict")
    expect(verdict).to_have_text("Suspect")
    assert verdict.get_attribute("data-verdict") == "suspect"
    expect(page.locator("#pharmacist-custody")).to_contain_text("suspect, quarantined")
    expect(page.locator("#pharmacist-checks")).to_contain_text("Proofs checked in this browser")
    expect(page.locator("#pharmacist-dispense")).to_be_disabled()


def test_a_pharmacist_dispenses_a_verified_pack_once(page: Page, portal: Portal) -> None:
    sign_in_as(page, portal, "Ana Pharmacist", "/pharmacist")
    verify(page, f"]d201{GTIN}17281031" + f"10AMX2611{GS}21A00005")
    expect(page.locator("#pharmacist-verdict .verdict")).to_have_text("Verified")
    page.click("#pharmacist-dispense")
    expect(page.locator("#pharmacist-dispense-status")).to_contain_text(
        f"Dispensed {GTIN} serial A00005 at block"
    )
    # The page verified the pack again after dispensing it: the ledger now says so.
    expect(page.locator("#pharmacist-verdict .verdict")).to_have_text("Already dispensed")
    expect(page.locator("#pharmacist-dispense")).to_be_disabled()


def test_a_bad_check_digit_is_refused_with_a_message(page: Page, portal: Portal) -> None:
    sign_in_as(page, portal, "Ana Pharmacist", "/pharmacist")
    verify(page, GOOD.replace("0134352", "0134353"))
    alert = page.locator("#pharmacist-scan-status [role=alert]")
    expect(alert).to_have_text(
        "GTIN 09506000134353: check digit should be 2, not 3 (invalid_field)"
    )
    expect(page.locator("#pharmacist-result")).to_be_hidden()
    verify(page, "   ")
    expect(alert).to_contain_text("Paste or scan the pack's code first")


def test_a_node_lying_about_a_clone_is_caught(page: Page, portal: Portal) -> None:
    """A node that answers `verified` for the suspect A00003 cannot prove it: the page
    recomputes the verdict from the proven record and refuses the answer."""

    def lie(route: Route) -> None:
        answer = route.fetch().json()
        answer["verdict"] = "verified"
        route.fulfill(json=answer)

    sign_in_as(page, portal, "Ana Pharmacist", "/pharmacist")
    page.route("**/v1/supply/verify?*", lie)
    verify(page, CLONE_LINK)
    expect(page.locator("#pharmacist-verdict .verdict")).to_have_text("Not verified")
    expect(page.locator("#pharmacist-checks [role=alert]")).to_contain_text(
        "the node said 'verified', the proven records say 'suspect'"
    )
    expect(page.locator("#pharmacist-dispense")).to_be_disabled()


def test_the_camera_is_offered_only_where_the_browser_reads_codes(
    page: Page, portal: Portal
) -> None:
    page.set_viewport_size(PHONE)
    # A browser without BarcodeDetector, wherever the test runs: no camera button, a hint.
    page.add_init_script("delete window.BarcodeDetector")
    sign_in_as(page, portal, "Ana Pharmacist", "/pharmacist")
    expect(page.locator("#pharmacist-camera")).to_be_hidden()
    expect(page.locator("#pharmacist-camera-note")).to_contain_text("paste the code")
    verify(page, GOOD)
    expect(page.locator("#pharmacist-verdict .verdict")).to_have_text("Verified")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]


def test_the_pharmacist_page_is_usable_by_keyboard(page: Page, portal: Portal) -> None:
    sign_in_as(page, portal, "Ana Pharmacist", "/pharmacist")
    expect(page.locator("#pharmacist-verify")).to_be_enabled()  # the module is running
    page.focus("#pharmacist-scan")
    page.keyboard.insert_text(GOOD)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the Verify button
    expect(page.locator("#pharmacist-verdict .verdict")).to_have_text("Verified")


def verdict_cases() -> list[dict[str, Any]]:
    """Packages and recalls in every combination the verdict looks at, and some malformed."""
    base = {
        "gtin": GTIN,
        "serial": "120",
        "lot": "L1",
        "expiry": "2028-10-31",
        "manufacturer": "medico-pharma",
        "owner": "corner-pharmacy",
        "status": "active",
        "to": None,
        "container": None,
        "suspect": False,
        "quarantined": False,
        "history": [[8, "commission", "medico-pharma", None]],
    }
    packages: list[dict[str, Any] | None] = [None, base]
    for status in ("in_transit", "dispensed", "destroyed", "exported", "transformed"):
        packages.append({**base, "status": status})
    packages += [{**base, "suspect": True}, {**base, "quarantined": True}, {**base, "serial": "A9"}]
    packages += [{**base, "extra": 1}, {**base, "suspect": None}, {**base, "status": "lost"}]

    def recall(lot: str | None, first: str | None, last: str | None) -> dict[str, Any]:
        return {"id": "rcl-0000000000000001", "lot": lot, "serial_from": first, "serial_to": last}

    recalls: list[list[dict[str, Any]] | None] = [
        None,
        [],
        [recall("L1", None, None)],
        [recall("L2", None, None)],
        [recall(None, "100", "130")],  # numeric: 120 lies between
        [recall(None, "99", "119")],  # '99' < '120' by length first
        [recall(None, "A1", "A10")],  # A9 lies between by (length, text)
        [recall(None, "A1", None)],  # never stored: applies to nothing
    ]
    scans = [("L1", "2028-10-31"), ("L2", "2028-10-31"), ("L1", "2028-11-30")]
    return [
        {"package": p, "recalls": r, "lot": lot, "expiry": expiry}
        for p in packages
        for r in recalls
        for lot, expiry in scans
    ]


def test_the_browser_recomputes_the_domains_verdict(page: Page, portal: Portal) -> None:
    """supply/verify.js verdict() against the domain's own (queries.verdict) on every case;
    a record the domain would not load is refused by both."""
    cases = verdict_cases()
    expected = []
    for case in cases:
        try:
            expected.append(verdict(case["package"], case["recalls"], case["lot"], case["expiry"]))
        except ValidationError:
            expected.append("refused")
    page.goto(portal.url)
    got = page.evaluate(
        """async (cases) => {
            const { verdict } = await import("/static/portal/supply/verify.js");
            return cases.map((c) => {
                try {
                    return verdict(c.package, c.recalls, c.lot, c.expiry);
                } catch (error) {
                    return error.code === "invalid_proof" ? "refused" : String(error);
                }
            });
        }""",
        cases,
    )
    assert got == expected
    assert {"verified", "recalled", "suspect", "already_dispensed", "refused"} <= set(expected)
