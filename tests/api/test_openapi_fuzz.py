"""schemathesis against a real node's own /openapi.json: no input ever earns a 5xx.

A bounded number of generated requests per operation (unsigned, so the signed
routes answer 401/403 after parsing their parameters, which is what is fuzzed).
Conformance of every response to the document comes later; here only the status.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from conftest import serve_network, stop_node

CHAIN = "openapi-fuzz"
EXAMPLES_PER_OPERATION = 60
# A solo node has no CometBFT: its consensus routes say so with 503 `unavailable`.
SOLO_UNAVAILABLE = ("/v1/consensus/",)


@pytest.fixture(scope="module")
def node_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("fuzz") / "net"
    url, process = serve_network(
        root, CHAIN, [("st-marys", "hospital", "St Mary's"), ("maker", "manufacturer", "Maker")]
    )
    try:
        yield url
    finally:
        stop_node(process)


def check_status(case: schemathesis.Case) -> None:
    """The one property: whatever the input, the node answers below 500."""
    if case.query is not None:
        case.query.pop("wait", None)  # never hold a worker waiting on a commit
    response = case.call(timeout=30)
    if response.status_code == 503 and case.path.startswith(SOLO_UNAVAILABLE):
        assert response.json()["error"]["code"] == "unavailable"
        return
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"


def test_no_input_gets_a_5xx(node_url: str) -> None:
    """Every operation of the node's own OpenAPI document, fuzzed a bounded number of times."""
    schema = schemathesis.openapi.from_url(f"{node_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20  # the document lists the node's routes
    for operation in operations:
        fuzz = settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )(given(case=operation.as_strategy())(check_status))
        fuzz()
