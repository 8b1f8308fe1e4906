"""Run a node with its API until Ctrl-C (or SIGTERM), then stop cleanly."""

from __future__ import annotations

import contextlib

import uvicorn

from healthledger.api.server import create_app
from healthledger.node.node import Node
from healthledger.web.demo_keys import DemoKeys


def serve(
    node: Node, host: str, port: int, log_level: str = "warning", demo: DemoKeys | None = None
) -> None:
    """Start block production, serve HTTP, and on shutdown commit what is in flight."""
    node.start()
    try:
        config = uvicorn.Config(
            create_app(node, demo), host=host, port=port, log_level=log_level, access_log=False
        )
        # uvicorn re-raises Ctrl-C after its graceful shutdown; ours follows in `finally`.
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run()
    finally:
        node.stop()
