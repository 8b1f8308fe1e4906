"""The trust-anchor options of every command that verifies: `--trust FILE` and `--pin`.

`--trust` names a CometBFT genesis.json (the validators are the anchor) or a pin file
(a header pinned earlier; created on first use, moved forward as newer headers are
verified). `--pin HEIGHT:SHA256` gives a header hash obtained out of band. Without
either, the first header the node sends is pinned for this one command: the output's
`anchor` says so, and a proof checked that way shows only that the node agrees with itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from healthledger.client.anchor import Anchor, PinnedAnchor, parse_pin_arg
from healthledger.client.consensus import validator_anchor
from healthledger.errors import MalformedInput

TrustOpt = Annotated[
    Path | None,
    typer.Option(
        "--trust",
        help="Trust anchor: a CometBFT genesis.json (its validators), or a pin file "
        "(a header pinned earlier; pinned now if the file does not exist).",
    ),
]
PinOpt = Annotated[
    str | None,
    typer.Option("--pin", help="Trust anchor: HEIGHT:SHA256 of a header you got out of band."),
]


def anchor_for(url: str, trust: Path | None, pin: str | None) -> Anchor:
    """The anchor the user named (see the module docstring)."""
    if trust is not None and pin is not None:
        raise MalformedInput("give --trust or --pin, not both")
    if pin is not None:
        return PinnedAnchor.given(*parse_pin_arg(pin))
    if trust is None:
        return PinnedAnchor.first_use()
    if _is_cometbft_genesis(trust):
        return validator_anchor(url, trust)
    return PinnedAnchor.from_file(trust)


def _is_cometbft_genesis(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MalformedInput(f"{path}: not JSON: {exc}") from exc
    return isinstance(data, dict) and "validators" in data and "header" not in data
