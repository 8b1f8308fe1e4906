"""The portal at `/`: one shell page (markup only) for every portal path, and the
demo's key lending when the node was started by `healthledger demo`.

The shell is rendered once, at start: it holds the navigation and each page's
markup and no ledger value, so every person is served the same bytes and a page
cannot leak anyone's data (everything shown is fetched and drawn by the browser).
Its Content-Security-Policy allows scripts from this node only (plus the inline
import map, by hash) and connections to this node only.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from healthledger.errors import NotFound
from healthledger.web import TEMPLATES_DIR
from healthledger.web.demo_keys import DemoKeys
from healthledger.web.pages import PAGES

VENDOR = "/static/vendor"
ESM = "dist/modules-sumo-esm"
# Bare module names the vendored ES modules import, resolved to this node's own copies.
IMPORTS = {
    "libsodium-wrappers-sumo": f"{VENDOR}/libsodium-wrappers-sumo/{ESM}/libsodium-wrappers.mjs",
    "libsodium-sumo": f"{VENDOR}/libsodium-sumo/{ESM}/libsodium-sumo.mjs",
    "uqr": f"{VENDOR}/uqr/dist/index.mjs",
}
LOOPBACK_NAMES = frozenset({"localhost"})


def _importmap() -> str:
    return json.dumps({"imports": IMPORTS}, sort_keys=True)


def content_security_policy(importmap: str) -> str:
    """Scripts only from this node (wasm for libsodium), the import map by its hash."""
    digest = base64.b64encode(hashlib.sha256(importmap.encode()).digest()).decode()
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' 'wasm-unsafe-eval' 'sha256-{digest}'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def render_shell(demo: bool) -> str:
    """The one page every portal path serves (markup only, no ledger value)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html"])
    )
    return env.get_template("shell.html").render(pages=PAGES, importmap=_importmap(), demo=demo)


def _shell_headers(importmap: str) -> dict[str, str]:
    return {
        "content-security-policy": content_security_policy(importmap),
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
        "permissions-policy": "camera=(self), microphone=(), geolocation=()",
    }


def add_portal_routes(app: FastAPI, demo: DemoKeys | None = None) -> None:
    """Serve the shell at each page's path; lend demo keys to loopback callers of a demo."""
    shell = render_shell(demo is not None)
    headers = _shell_headers(_importmap())

    def serve_shell() -> HTMLResponse:
        return HTMLResponse(shell, headers=headers)

    for page in PAGES:
        app.add_api_route(
            page.path,
            serve_shell,
            methods=["GET"],
            include_in_schema=False,
            name=f"portal-{page.slug}",
        )
    if demo is not None:
        _add_demo_routes(app, demo)


def _add_demo_routes(app: FastAPI, demo: DemoKeys) -> None:
    @app.get("/portal/demo/identities", include_in_schema=False)
    def identities(request: Request) -> JSONResponse:
        _require_this_computer(request)
        return JSONResponse(
            [person.model_dump() for person in demo.identities()],
            headers={"cache-control": "no-store"},
        )

    @app.get("/portal/demo/keys/{key_id}", include_in_schema=False)
    def key_file(request: Request, key_id: str) -> PlainTextResponse:
        _require_this_computer(request)
        return PlainTextResponse(
            demo.key_text(key_id),
            media_type="application/json",
            headers={"cache-control": "no-store"},
        )


def _require_this_computer(request: Request) -> None:
    """Loopback peers only, and a loopback Host: a page of another site that rebinds its
    DNS name to 127.0.0.1 arrives with its own name as Host and is refused."""
    peer = request.client.host if request.client else ""
    host = request.headers.get("host", "").rsplit(":", 1)[0].strip("[]")
    if not (_is_loopback(peer) and (_is_loopback(host) or host in LOOPBACK_NAMES)):
        raise NotFound("no such page")  # a non-demo caller learns nothing of the lending


def _is_loopback(value: str) -> bool:
    try:
        return ipaddress.ip_address(value).is_loopback
    except ValueError:
        return False
