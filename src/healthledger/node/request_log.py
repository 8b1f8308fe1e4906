"""A node-local, append-only log of read requests that must be accounted for (verifications).

Not part of the chain: a verification answers in milliseconds and must not wait for a
block. Each line is one JSON object; the file lives beside the database.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson


class RequestLog:
    """Appends one JSON line per request, flushed before the answer leaves."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._handle = path.open("ab")

    def record(self, kind: str, **detail: Any) -> None:
        line = orjson.dumps({"time_ms": int(time.time() * 1000), "kind": kind, **detail})
        with self._lock:
            self._handle.write(line + b"\n")
            self._handle.flush()

    def close(self) -> None:
        with self._lock:
            self._handle.close()
