"""The API docs work with no internet: every asset /docs uses is served by the node,
and the vendored files are the ones pinned (scripts/vendor-js --check)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import serve_network, stop_node

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("docs") / "net"
    served, process = serve_network(root, "docs-chain", [("st-marys", "hospital", "St Mary's")])
    yield served
    stop_node(process)


def test_docs_load_every_asset_from_the_node_itself(url: str) -> None:
    page = httpx.get(f"{url}/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert assets, "the docs page names its script and style"
    assert all(asset.startswith("/") for asset in assets), assets  # no CDN, no other host
    for asset in assets:
        answer = httpx.get(f"{url}{asset}")
        assert answer.status_code == 200, asset
        assert len(answer.content) > 0
    assert httpx.get(f"{url}/redoc").status_code == 404  # ReDoc would load from a CDN


def test_the_vendored_files_are_the_pinned_ones() -> None:
    checked = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "vendor-js"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
