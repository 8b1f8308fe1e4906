"""Python SDK: load keys, build, sign, submit, wait, fetch and verify proofs."""

from healthledger.client.sdk import (
    Client,
    Signer,
    verify_consistency_view,
    verify_state_view,
    verify_tx_view,
)

__all__ = [
    "Client",
    "Signer",
    "verify_consistency_view",
    "verify_state_view",
    "verify_tx_view",
]
