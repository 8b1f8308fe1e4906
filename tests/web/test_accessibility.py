"""axe-core (the copy pinned by axe-playwright-python) on every page of the portal, signed in
as the persona it is for, at desktop and phone widths: no serious or critical violation."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext

from healthledger.web.demo_keys import DEMO_VISITORS
from healthledger.web.pages import PAGES
from web.conftest import DESKTOP, PHONE, Portal, sign_in_as

BLOCKING = ("serious", "critical")


@pytest.mark.parametrize("width", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("slug", [page.slug for page in PAGES])
def test_no_serious_violations(
    context: BrowserContext, portal: Portal, slug: str, width: dict[str, int]
) -> None:
    assert slug in DEMO_VISITORS, f"name the persona who visits the {slug} page"
    page = context.new_page()
    page.set_viewport_size(width)
    path = next(p.path for p in PAGES if p.slug == slug)
    visitor = DEMO_VISITORS[slug]
    if visitor is None:
        page.goto(portal.url + path)
    else:
        sign_in_as(page, portal, visitor, path)  # the sign-in page returns to `path`
        assert page.url == portal.url + path
    page.wait_for_selector(f'section[data-page="{slug}"][aria-busy="false"]')
    results = Axe().run(page)
    blocking = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]
    assert not blocking, blocking
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the {slug} page scrolls sideways by {overflow}px at {width}"
