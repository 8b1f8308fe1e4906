"""The node's OpenAPI document: complete error statuses, the signed-request scheme, limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from healthledger.api import server
from healthledger.api.openapi import (
    OPERATIONS,
    SECURITY_SCHEMES,
    SIGNED_HEADERS,
    Does,
)
from healthledger.crypto.signed_request import (
    HEADER_AUDIENCE,
    HEADER_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIME,
)
from healthledger.errors import ErrorCode
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.node import Node

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root: Path = tmp_path_factory.mktemp("openapi") / "net"
    home = init_home(root, "openapi-doc", [("st-marys", "hospital", "St Mary's")])
    node = Node(home.root, NodeSettings(org="st-marys"))
    try:
        yield server.create_app(node).openapi()
    finally:
        node.store.close()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def test_every_route_says_what_it_does(document: dict[str, Any]) -> None:
    """A new route must join OPERATIONS (else it is documented as doing everything)."""
    assert {(m, p) for m, p, _ in operations(document)} == set(OPERATIONS)


def test_errors_use_the_one_body_with_every_code(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["properties"]["code"]["enum"] == [
        str(code) for code in ErrorCode
    ]
    for _method, _path, operation in operations(document):
        responses = operation["responses"]
        assert "422" not in responses  # validation errors are 400 here
        assert "500" in responses
        for status, response in responses.items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}


def test_statuses_follow_what_a_route_does(document: dict[str, Any]) -> None:
    paths = document["paths"]
    header = paths["/v1/headers/{height}"]["get"]["responses"]
    assert {"400", "404", "500"} <= set(header) and "401" not in header
    submit = paths["/v1/txs"]["post"]["responses"]
    assert {"400", "401", "403", "409", "413", "429", "503"} <= set(submit)
    assert "bad_signature" in submit["401"]["description"]
    assert set(paths["/health"]["get"]["responses"]) == {"200", "500"}


def test_signed_routes_name_the_signed_request_scheme(document: dict[str, Any]) -> None:
    assert set(SIGNED_HEADERS) == {
        HEADER_KEY,
        HEADER_SIGNATURE,
        HEADER_TIME,
        HEADER_NONCE,
        HEADER_AUDIENCE,
    }
    assert document["components"]["securitySchemes"] == SECURITY_SCHEMES
    for method, path, operation in operations(document):
        signed = Does.SIGNED in OPERATIONS[(method, path)]
        assert ("security" in operation) == signed, path
        if signed:
            (requirement,) = operation["security"]
            assert set(requirement) == set(SECURITY_SCHEMES)
            assert {"401", "403"} <= set(operation["responses"])


def test_parameters_carry_the_rules_the_server_enforces(document: dict[str, Any]) -> None:
    def parameter(path: str, name: str) -> dict[str, Any]:
        (found,) = (p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name)
        return dict(found["schema"])

    gtin = parameter("/v1/supply/packages/{gtin}/{serial}/history", "gtin")
    assert gtin["pattern"] == "^(?:[0-9]{8}|[0-9]{12,14})$"
    verify_gtin = parameter("/v1/supply/verify", "gtin")
    assert any(branch.get("pattern") == gtin["pattern"] for branch in verify_gtin["anyOf"])
    assert parameter("/v1/proofs/consistency", "old_size")["minimum"] == 1
    body = document["paths"]["/v1/txs"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/Transaction")
