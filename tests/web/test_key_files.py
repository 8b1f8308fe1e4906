"""Key files in the browser: a passphrase-protected file written by the CLI opens in the
page, and "remember on this device" keeps the key in IndexedDB, never in clear."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect
from typer.testing import CliRunner

from healthledger.cli.keyfile import PASSPHRASE_ENV
from healthledger.cli.main import app
from healthledger.crypto.keys import load_keypair
from web.conftest import Portal

PASSPHRASE = "riverside night shift"
UNLOCK_TIMEOUT = 60_000  # Argon2id at libsodium's moderate limits, in wasm


def house_key_file(portal: Portal) -> Path:
    people = json.loads((portal.directory / "demo-users.json").read_text())
    return Path(next(p for p in people if p["name"] == "Dr Gregory House")["key_file"])


def open_key_file(page: Page, portal: Portal, path: Path) -> None:
    page.goto(portal.url + "/")
    page.wait_for_selector("#sign-in")
    page.set_input_files("#key-file", str(path))


def test_a_protected_key_file_written_by_the_cli_signs_in(
    page: Page, portal: Portal, tmp_path: Path
) -> None:
    protected = tmp_path / "house-protected.json"
    outcome = CliRunner().invoke(
        app,
        ["keys", "protect", str(house_key_file(portal)), "--out", str(protected), "--json"],
        env={PASSPHRASE_ENV: PASSPHRASE},
    )
    assert outcome.exit_code == 0, outcome.stdout
    open_key_file(page, portal, protected)
    expect(page.locator("#passphrase-field")).to_be_visible()
    page.fill("#passphrase", "not the passphrase")
    page.click("#sign-in button[type=submit]")
    expect(page.locator("#sign-in-status [role=alert]")).to_contain_text(
        "wrong passphrase", timeout=UNLOCK_TIMEOUT
    )
    page.fill("#passphrase", PASSPHRASE)
    page.click("#sign-in button[type=submit]")
    who = page.locator("#identity .who")
    expect(who).to_contain_text("riverside-clinic/dr-house", timeout=UNLOCK_TIMEOUT)
    assert page.input_value("#passphrase") == ""  # not kept in the form


def test_a_remembered_key_signs_in_without_the_file_and_is_not_stored_in_clear(
    context: BrowserContext, page: Page, portal: Portal
) -> None:
    key_file = house_key_file(portal)
    keys = load_keypair(key_file)
    open_key_file(page, portal, key_file)
    page.check("#remember")
    page.click("#sign-in button[type=submit]")
    expect(page.locator("#identity .who")).to_contain_text("riverside-clinic/dr-house")

    later = context.new_page()  # the same browser profile, a new page: no key in memory
    later.goto(portal.url + "/")
    expect(later.locator("#identity")).to_contain_text("Not signed in")
    remembered = later.get_by_role("button", name="Sign in as riverside-clinic/dr-house")
    expect(remembered).to_be_visible()
    stored = later.evaluate(
        """() => new Promise((resolve, reject) => {
          const opened = indexedDB.open("healthledger-portal");
          opened.onerror = () => reject(opened.error);
          opened.onsuccess = () => {
            const all = opened.result.transaction("keys").objectStore("keys").getAll();
            all.onsuccess = () => resolve(all.result.map((entry) => {
              const hex = (buffer) => [...new Uint8Array(buffer)]
                .map((b) => b.toString(16).padStart(2, "0")).join("");
              return {
                fields: Object.keys(entry).sort(),
                text: JSON.stringify(entry),
                sealed: entry.sealed ? hex(entry.sealed) : null,
                extractable: entry.wrapping ? entry.wrapping.extractable : null,
                kind: entry.wrapping ? entry.wrapping.type : null,
              };
            }));
          };
        })"""
    )
    assert len(stored) == 1
    entry = stored[0]
    assert entry["fields"] == ["iv", "keyId", "label", "protected", "sealed", "wrapping"]
    assert entry["extractable"] is False and entry["kind"] == "secret"
    everything = entry["text"] + (entry["sealed"] or "")
    for secret in (keys.signing_seed, keys.encryption_secret):
        assert secret.hex() not in everything  # neither as hex text nor as raw bytes
        assert secret.hex().encode().hex() not in everything  # nor the key file's own text
    assert len(entry["sealed"]) > 2 * 64  # the key file is in there, encrypted
    remembered.click()
    expect(later.locator("#identity .who")).to_contain_text("riverside-clinic/dr-house")
    later.close()
