"""The encrypted off-chain store of patient records: ciphertext on disk, an index in SQLite."""

from healthledger.vault.store import Vault

__all__ = ["Vault"]
