"""The records network: `make testnet`'s four validators and a clinic that joined.

St Mary's Hospital (a validator, in GB) and West Clinic (a non-validator member in FR
that joined with `healthledger net join` and was admitted with `net admit
--member-only`) are the two care-giving organisations the cross-organisation tests
need; every member has its directory entry (`net up`, `net admit`). One network
serves every records network module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from livenet import LiveNet, healthledger, level, live_network, poll

CLINIC = "westclinic"


@pytest.fixture(scope="session")
def records_net_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNet]:
    with live_network(tmp_path_factory.mktemp("records-net")) as live:
        healthledger("net", "join", "--org", f"{CLINIC}:clinic", "--dir", str(live.root))
        everyone = [node.org for node in live.network.nodes]
        poll(lambda: live.all_agree_at_top(everyone), "the clinic to sync", 180)
        healthledger("net", "admit", "--org", CLINIC, "--member-only", "--dir", str(live.root))
        poll(lambda: live.all_agree_at_top(everyone), "the clinic's admission everywhere", 180)
        yield live


@pytest.fixture
def records_net(records_net_session: LiveNet) -> LiveNet:
    """The records network with every node running and level before each test."""
    return level(records_net_session)
