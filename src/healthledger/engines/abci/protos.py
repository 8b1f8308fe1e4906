"""Loads the ABCI protobuf classes that scripts/install-cometbft generates.

They live in `.tools/abci_pb` under the repository (a build product, never committed)
or wherever HEALTHLEDGER_ABCI_PB points. Generated modules carry no type stubs, so
they are handed out as `Any`: the adapter is the one place that knows their shape.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from pathlib import Path
from typing import Any

from healthledger.errors import Unavailable

ENV_VAR = "HEALTHLEDGER_ABCI_PB"
TYPES_MODULE = "tendermint.abci.types_pb2"
INSTALL_HINT = "run scripts/install-cometbft"

# src/healthledger/engines/abci/protos.py -> the repository root is four folders up.
_REPO_ROOT = Path(__file__).resolve().parents[4]


def pb_dir() -> Path:
    """Where the generated `tendermint/...` and `gogoproto/...` modules are."""
    configured = os.environ.get(ENV_VAR)
    return Path(configured) if configured else _REPO_ROOT / ".tools" / "abci_pb"


@functools.cache
def abci_types() -> Any:
    """The `tendermint.abci.types_pb2` module (Request, Response and their parts)."""
    directory = pb_dir()
    if not (directory / "tendermint" / "abci" / "types_pb2.py").is_file():
        raise Unavailable(f"no ABCI protobuf classes in {directory}: {INSTALL_HINT}")
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    try:
        return importlib.import_module(TYPES_MODULE)
    except ImportError as exc:  # protobuf missing, or a runtime older than the generated code
        raise Unavailable(
            f"cannot import the ABCI classes from {directory} ({exc}): install the pinned "
            f"protobuf runtime and {INSTALL_HINT}"
        ) from exc
