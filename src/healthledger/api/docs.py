"""The interactive API docs at /docs, from vendored Swagger UI: they work offline.

FastAPI's default page loads Swagger UI from a CDN; a node on a hospital network
with no internet would show a blank page. The files come from the npm registry,
pinned and checked by `scripts/vendor-js`, and are served under /static. The page
starts Swagger UI from a file (web/static/portal/docs-init.js), not an inline
script, so it carries a strict Content-Security-Policy like the portal it shares
an origin with.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from healthledger.web import STATIC_DIR, TEMPLATES_DIR

SWAGGER = "/static/vendor/swagger-ui-dist"
# Swagger UI sets styles inline as it draws; scripts and connections stay the node's own.
DOCS_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)


def add_docs_routes(app: FastAPI) -> None:
    """Mount the vendored static files and the docs page that uses them."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape())
    page = env.get_template("docs.html").render(
        title=f"{app.title} - docs", swagger=SWAGGER, openapi_url=app.openapi_url or "/openapi.json"
    )
    headers = {"content-security-policy": DOCS_POLICY, "x-content-type-options": "nosniff"}

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=headers)
