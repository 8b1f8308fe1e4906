"""A node application that computes a different state root: the Byzantine node of the tests.

It is the real node with one change: every state value is hashed with a suffix
before it enters the state trie, so the first block that writes state gives this
node an app hash no honest node shares. Run as `python byzantine_app.py node run ...`.
"""

from __future__ import annotations

import sys

from healthledger.app import application
from healthledger.cli.main import main
from healthledger.crypto.hashing import sha256


def _tampered_value_hash(value: bytes | None) -> bytes | None:
    return None if value is None else sha256(value + b" (tampered)")


if __name__ == "__main__":
    application._value_hash = _tampered_value_hash  # type: ignore[attr-defined]
    sys.argv = ["healthledger", *sys.argv[1:]]
    main()
