"""The shell: served at every page path, the same bytes for everyone, a strict CSP, and
demo keys lent only by a demo node to loopback callers."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from conftest import serve_network, stop_node
from healthledger.crypto.keys import load_keypair
from healthledger.web.pages import PAGES
from web.conftest import Portal, sign_in_as


def test_every_page_path_serves_the_same_shell_with_a_strict_policy(portal: Portal) -> None:
    bodies = set()
    for page in PAGES:
        answer = httpx.get(portal.url + page.path)
        assert answer.status_code == 200, page.path
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "connect-src 'self'" in policy
        assert "unsafe-inline" not in policy
        bodies.add(answer.text)
    assert len(bodies) == 1


def test_a_demo_patient_signs_in_from_the_demo_list(page: Page, portal: Portal) -> None:
    sign_in_as(page, portal, "Jasmine Yilmaz")
    assert "patient" in page.inner_text("#identity")
    assert page.url.endswith("/patient")


def test_demo_keys_are_refused_to_a_rebound_host_name(portal: Portal) -> None:
    listed = httpx.get(f"{portal.url}/portal/demo/identities")
    assert listed.status_code == 200
    rebound = httpx.get(f"{portal.url}/portal/demo/identities", headers={"host": "evil.example"})
    assert rebound.status_code == 404
    # Only a listed person's file, asked by their key id: anything else is not found.
    for asked in ("0" * 64, "..%2F..%2Fnode.json", "keys%2Fst-marys.json"):
        answer = httpx.get(f"{portal.url}/portal/demo/keys/{asked}")
        assert answer.status_code == 404, asked
        assert "signing_seed" not in answer.text


def test_a_node_started_with_node_run_never_lends_a_key(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("plain") / "net"
    url, process = serve_network(root, "plain-chain", [("st-marys", "hospital", "St Mary's")])
    try:
        assert httpx.get(f"{url}/").status_code == 200  # the portal itself is served
        assert "Demo network" not in httpx.get(f"{url}/").text
        assert httpx.get(f"{url}/portal/demo/identities").status_code == 404
        key_id = load_keypair(root / "keys" / "st-marys.json").key_id
        assert httpx.get(f"{url}/portal/demo/keys/{key_id}").status_code == 404
    finally:
        stop_node(process)


def test_the_api_docs_draw_under_a_strict_policy(page: Page, portal: Portal) -> None:
    """/docs shares the portal's origin (and its remembered keys): no inline script runs
    there, and Swagger UI still draws every operation (a policy violation is a console
    error, which fails this test)."""
    answer = httpx.get(f"{portal.url}/docs")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    page.goto(f"{portal.url}/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
    assert page.locator(".opblock").count() > 20
