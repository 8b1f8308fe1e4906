"""Run a node with its API until Ctrl-C (or SIGTERM), then stop cleanly."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

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
        app = create_app(node, demo)
        config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False)
        # uvicorn re-raises Ctrl-C after its graceful shutdown; ours follows in `finally`.
        with contextlib.suppress(KeyboardInterrupt):
            Server(config, before_shutdown=app.state.patient_feeds.close).run()
    finally:
        node.stop()


class Server(uvicorn.Server):
    """uvicorn's server that first ends the node's event streams when it shuts down.

    Its graceful shutdown waits for every open response to finish, and a stream
    would not finish by itself: without this, stopping the node would hang.
    """

    def __init__(self, config: uvicorn.Config, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self.before_shutdown = before_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.before_shutdown()
        await super().shutdown(sockets)
