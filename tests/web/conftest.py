"""The portal's browser tests: a real demo node in its own process, a real headless
Chromium (Debian's, driven by Playwright), real signed requests from the page.

Playwright's own browser download does not work here; `scripts/install-chromium`
installs Debian's `chromium`, which `.ci/run` calls so CI always runs these tests.
Set HEALTHLEDGER_CHROMIUM to use another binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from healthledger.demo.runner import Runner
from healthledger.node.home import Home
from healthledger.node.process import free_port, wait_until_up

DEMO_TXS = 60
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of this folder drives a browser: `-m "not browser"` skips them all."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.browser)


def chromium_path() -> str:
    found = os.environ.get("HEALTHLEDGER_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail(
            "the portal tests need Debian's chromium: run scripts/install-chromium "
            "(apt-get install -y chromium), or set HEALTHLEDGER_CHROMIUM"
        )
    return found


@dataclass(frozen=True)
class Portal:
    """A demo node serving the portal: its URL, folder and log file."""

    url: str
    directory: Path
    log: Path
    process: subprocess.Popen[bytes]


def build_demo(directory: Path) -> None:
    Runner(directory, DEMO_TXS, block_interval_ms=20).run()
    home = Home(directory)
    home.write_settings(replace(home.settings(), block_interval_ms=50))


def serve_demo(directory: Path, log: Path) -> Portal:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "healthledger",
                "demo",
                "--dir",
                str(directory),
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, process)
    return Portal(url, directory, log, process)


def stop(portal: Portal) -> None:
    portal.process.terminate()
    portal.process.wait(timeout=30)


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    root = tmp_path_factory.mktemp("portal")
    build_demo(root / "demo-net")
    served = serve_demo(root / "demo-net", root / "node.log")
    yield served
    stop(served)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: nothing remembered from another test."""
    fresh = browser.new_context(viewport=DESKTOP)
    yield fresh
    fresh.close()


def watched_page(context: BrowserContext) -> tuple[Page, list[str]]:
    """A new tab and the list its console errors and page errors land in."""
    opened = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    return opened, errors


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A tab that fails its test on any console error or page error."""
    opened, errors = watched_page(context)
    yield opened
    assert not errors, errors


def sign_in_as(page: Page, portal: Portal, name: str, path: str = "/") -> None:
    """Open the portal and sign in as the demo identity called `name`."""
    page.goto(portal.url + path)
    page.get_by_role("button", name=name, exact=True).click()
    page.wait_for_selector("#identity .who")
