"""The supervisor halts a node whose own state disagrees, never one that refused a liar.

Lines as CometBFT v0.38.25 writes them (the prevote and the prevoted lines copied from
network tests' logs, where a Byzantine validator proposed, then was outvoted).
"""

from __future__ import annotations

from healthledger.node.supervisor import _own_mismatch

PROPOSER_WRONG = (
    "E[2026-11-28|12:03:08.134] prevote step: consensus deems this block invalid; prevoting "
    'nil module=consensus height=33 round=0 err="wrong Block.Header.AppHash.  Expected '
    '137A21, got 9978EA"'
)
COMMITTED_REFUSED = (
    'E[2026-11-28|12:03:09.500] CONSENSUS FAILURE!!! module=consensus err="+2/3 committed an '
    'invalid block: wrong Block.Header.AppHash.  Expected 9978EA, got 137A21" stack="goroutine"'
)
PREVOTED_REFUSED = (
    "E[2026-11-28|12:11:57.966] CONSENSUS FAILURE!!!                         module=consensus "
    'err="precommit step; +2/3 prevoted for an invalid block: wrong Block.Header.AppHash.  '
    'Expected 2E7121, got 9978EA" stack="goroutine"'
)
SYNC_REFUSED = (
    "E[2026-11-28|12:04:00.000] Error in validation module=blocksync height=40 hash=AB "
    'err="wrong Block.Header.AppHash.  Expected 9978EA, got 137A21"'
)
RESULTS_REFUSED = (
    'E[2026-11-28|12:05:00.000] CONSENSUS FAILURE!!! module=consensus err="+2/3 committed an '
    'invalid block: wrong Block.Header.LastResultsHash.  Expected AA, got BB" stack="g"'
)
HANDSHAKE = "panic: block.AppHash does not match AppHash after replay. Got 9978EA, expected 137A21."


def test_refusing_a_byzantine_proposers_block_is_not_a_mismatch_of_ones_own() -> None:
    assert not _own_mismatch(PROPOSER_WRONG)


def test_a_committed_block_this_node_cannot_accept_is_its_own_mismatch() -> None:
    assert _own_mismatch(COMMITTED_REFUSED)
    assert _own_mismatch(PREVOTED_REFUSED)  # copied from a network test's log
    assert _own_mismatch(SYNC_REFUSED)
    assert _own_mismatch(RESULTS_REFUSED)  # results diverged while states agree
    assert _own_mismatch(HANDSHAKE)
