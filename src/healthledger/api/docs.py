"""The interactive API docs at /docs, from vendored Swagger UI: they work offline.

FastAPI's default page loads Swagger UI from a CDN; a node on a hospital network
with no internet would show a blank page. The files come from the npm registry,
pinned and checked by `scripts/vendor-js`, and are served under /static.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from healthledger.web import STATIC_DIR

SWAGGER = "/static/vendor/swagger-ui-dist"


def add_docs_routes(app: FastAPI) -> None:
    """Mount the vendored static files and the docs page that uses them."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - docs",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        )
