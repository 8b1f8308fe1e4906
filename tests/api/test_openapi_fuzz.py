"""schemathesis against a real node (with data) and its own /openapi.json.

For every operation, a bounded number of generated requests, valid and invalid by the
document; each response must be
below 500, of a documented status, of the documented content type, and match the
documented schema (the one error body for every error). Requests are unsigned: a
signed route answers 401 after parsing its parameters, which is what is fuzzed here.
Schema-valid requests must not be refused, except where a rule of the server cannot
be written in JSON Schema (named below with its reason).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import enroll_member, register_patient, serve_network, stop_node
from healthledger.api.openapi import SIGNED_HEADERS
from healthledger.client.sdk import Client
from healthledger.crypto.keys import load_keypair

CHAIN = "openapi-fuzz"
EXAMPLES_PER_OPERATION = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# A solo node has no CometBFT: its consensus routes say so with 503 `unavailable`,
# which the document says; not_a_server_error would still count it.
SOLO_UNAVAILABLE = ("/v1/consensus/",)
# Valid by the document, refused by a rule JSON Schema cannot state.
REFUSES_SCHEMA_VALID = {
    # one of two parameter sets (a scan, or all four fields), and GS1 check digits
    "GET /v1/supply/verify",
    # the body must be exactly `size` bytes hashing to `sha256`
    "POST /v1/records/files",
    # JSON Schema counts 1.0 as an integer; canonical JSON refuses every float
    "POST /v1/txs",
    # old_size <= new_size <= the log's size: a relation between parameters and state
    "GET /v1/proofs/consistency",
    # `at` must be a calendar date (a pattern cannot rule out 2026-02-31); a presentation's
    # credentials must be objects, at most 256 of them
    "POST /v1/credentials/verify",
}


@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("fuzz") / "net"
    url, process = serve_network(
        root, CHAIN, [("st-marys", "hospital", "St Mary's"), ("maker", "manufacturer", "Maker")]
    )
    try:
        _add_data(root, url)
        yield url
    finally:
        stop_node(process)


def _add_data(root: Path, url: str) -> None:
    """A few committed blocks, so reads of heights, headers and proofs find something."""
    with Client(url) as client:
        hospital = client.signer(load_keypair(root / "keys" / "st-marys.json"))
        enroll_member(client, hospital, "nurse-1", "nurse")
        register_patient(client, CHAIN)


def check_case(case: schemathesis.Case) -> None:
    if case.query is not None:
        case.query.pop("wait", None)  # never hold a worker waiting on a commit
    if case.headers is not None:
        for header in SIGNED_HEADERS:  # unsigned, as said above
            case.headers.pop(header, None)
    response = case.call(timeout=30)
    checks = list(CHECKS)
    if response.status_code == 503 and case.path.startswith(SOLO_UNAVAILABLE):
        assert response.json()["error"]["code"] == "unavailable"
        checks.remove(not_a_server_error)
    if case.operation.label not in REFUSES_SCHEMA_VALID:
        checks.append(positive_data_acceptance)
    case.validate_response(response, checks=checks)


def test_every_response_is_documented_and_no_input_gets_a_5xx(node_url: str) -> None:
    """Every operation of the node's own OpenAPI document, fuzzed a bounded number of times."""
    schema = schemathesis.openapi.from_url(f"{node_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20  # the document lists the node's routes
    labels = {operation.label for operation in operations}
    assert labels >= REFUSES_SCHEMA_VALID  # no stale exemption
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    for operation, mode in ((o, m) for o in operations for m in modes):
        fuzz = settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )(given(case=operation.as_strategy(generation_mode=mode))(check_case))
        try:
            fuzz()
        except Unsatisfiable:
            # An operation without parameters or body has no invalid request to draw.
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
