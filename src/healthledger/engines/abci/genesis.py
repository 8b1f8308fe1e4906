"""What InitChain must agree with: the node folder's genesis.json is the only genesis.

HealthLedger's genesis (founding organisations, quorum, genesis time) lives in the
node folder, next to the keys and the vault that need it; CometBFT's genesis.json
carries consensus matters (validators, consensus parameters) and no `app_state`.
InitChain checks the two agree on what both name, so a node wired to the wrong
folder stops at genesis instead of forking at block 1.
"""

from __future__ import annotations

from typing import Any

from healthledger.app.genesis import RULES_VERSION, Genesis, check_rules_version
from healthledger.crypto.canonical import parse_json
from healthledger.errors import (
    Conflict,
    InvalidState,
    RulesVersionMismatch,
    WrongChain,
)

# What CometBFT sends when genesis.json has no app_state, or an empty one.
EMPTY_APP_STATES = (b"", b"null", b"{}")


def check_init_chain(request: Any, genesis: Genesis) -> None:
    """Raise unless CometBFT's genesis matches ours (chain id, first height, app_state)."""
    if request.chain_id != genesis.chain_id:
        raise WrongChain(
            f"CometBFT's genesis.json names chain {request.chain_id!r}, the node folder's "
            f"genesis.json names {genesis.chain_id!r}"
        )
    if genesis.rules_version != RULES_VERSION:
        raise RulesVersionMismatch(
            f"the node folder's genesis is of rules version {genesis.rules_version}; "
            f"this software applies version {RULES_VERSION}"
        )
    if request.initial_height not in (0, 1):
        raise InvalidState(
            f"initial_height {request.initial_height} is not supported: our chain starts at 1"
        )
    check_app_state(bytes(request.app_state_bytes), genesis)


def check_app_state(app_state: bytes, genesis: Genesis) -> None:
    """An app_state, if present at all, must be our genesis document itself."""
    if app_state.strip() in EMPTY_APP_STATES:
        return
    # Before parsing: an old app_state without the field would parse as the current version.
    check_rules_version(app_state, "CometBFT's app_state")
    if Genesis.from_dict(parse_json(app_state)).canonical() != genesis.canonical():
        raise Conflict(
            "CometBFT's app_state differs from the node folder's genesis.json; "
            "leave app_state out of CometBFT's genesis"
        )
