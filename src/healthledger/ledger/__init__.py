"""Transactions, blocks, Merkle trees, proofs and stores: knows nothing of healthcare."""
