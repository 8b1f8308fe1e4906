"""Every error the API sends is `{"error": {"code": <ErrorCode>, "message"}}`, with one status.

Against a real node process on 127.0.0.1: a route it does not have, a method a route
does not take, and a fault of the node itself (its database broken under it).
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import serve_network, stop_node
from healthledger.api.errors import HTTP_STATUS, code_for_status, status_for
from healthledger.errors import ErrorCode

CHAIN = "errors-test"
ORGS = [("st-marys", "hospital", "St Mary's")]


def served(root: Path) -> tuple[str, subprocess.Popen[bytes]]:
    return serve_network(root, CHAIN, ORGS)


@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, process = served(tmp_path_factory.mktemp("errors") / "net")
    yield url
    stop_node(process)


def test_every_error_code_has_an_http_status() -> None:
    """A new ErrorCode without a status fails here, not as a KeyError inside a handler."""
    assert set(HTTP_STATUS) == set(ErrorCode)
    assert all(400 <= status < 600 for status in HTTP_STATUS.values())
    assert status_for(ErrorCode.INTERNAL) == 500


def test_statuses_starlette_raises_have_codes_of_the_enum() -> None:
    assert code_for_status(404) is ErrorCode.NO_ROUTE
    assert code_for_status(405) is ErrorCode.METHOD_NOT_ALLOWED
    assert code_for_status(413) is ErrorCode.TOO_LARGE
    assert code_for_status(400) is ErrorCode.MALFORMED
    assert code_for_status(502) is ErrorCode.INTERNAL


def test_a_route_the_node_does_not_have_is_no_route(node_url: str) -> None:
    response = httpx.get(f"{node_url}/v1/nowhere")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_route"
    # A missing thing on a route that exists stays not_found.
    missing = httpx.get(f"{node_url}/v1/headers/999999")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


def test_a_method_a_route_does_not_take_is_method_not_allowed(node_url: str) -> None:
    response = httpx.delete(f"{node_url}/v1/info")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.headers["allow"] == "GET"


def test_a_fault_of_the_node_is_internal_and_names_no_detail(tmp_path: Path) -> None:
    """The node's own database loses a table under it: a real, unforeseen failure."""
    root = tmp_path / "net"
    url, process = served(root)
    try:
        assert httpx.get(f"{url}/v1/genesis").status_code == 200
        with sqlite3.connect(root / "data" / "ledger.sqlite") as db:
            db.execute("ALTER TABLE meta RENAME TO meta_elsewhere")
        response = httpx.get(f"{url}/v1/genesis")
        assert response.status_code == 500
        assert response.json() == {
            "error": {"code": "internal", "message": "unexpected error: OperationalError"}
        }
        # The process goes on serving; only what needs the lost table fails.
        assert process.poll() is None
        assert httpx.get(f"{url}/v1/nowhere").json()["error"]["code"] == "no_route"
    finally:
        stop_node(process)
