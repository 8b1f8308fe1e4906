"""The ABCI socket server: CometBFT's four connections, each answered strictly in order.

CometBFT opens one connection each for consensus, mempool, query (Info/Query) and
state sync snapshots, and may pipeline several requests before a Flush. Each
connection gets its own reader loop and its own worker thread, so its answers
keep its request order while a slow FinalizeBlock on the consensus connection
does not stall CheckTx on the mempool connection. A request that fails is answered
with ResponseException (CometBFT then stops that connection); this process lives on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from healthledger.engines.abci.codec import DEFAULT_MAX_MESSAGE_BYTES, FrameDecoder, frame_message
from healthledger.errors import LedgerError, MalformedInput

log = logging.getLogger(__name__)

# (method, request body) -> response body; method is the name of the Request's oneof field.
Handler = Callable[[str, Any], Any]
READ_CHUNK = 256 * 1024


@dataclass(frozen=True)
class ListenAddress:
    """`unix:///path/app.sock` or `tcp://host:port`, as CometBFT's --proxy_app names it."""

    unix_path: Path | None = None
    host: str = ""
    port: int = 0

    @classmethod
    def parse(cls, address: str) -> ListenAddress:
        """Refuse anything else with a message that shows both accepted forms."""
        scheme, sep, rest = address.partition("://")
        if sep and scheme == "unix" and rest:
            return cls(unix_path=Path(rest))
        host, _, port = rest.rpartition(":")
        if sep and scheme == "tcp" and host and port.isdigit():
            return cls(host=host, port=int(port))
        raise MalformedInput(
            f"cannot listen on {address!r}: use unix:///path/app.sock or tcp://host:port"
        )


class AbciServer:
    """Serves ABCI over a socket until told to stop."""

    def __init__(
        self, handler: Handler, types: Any, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    ) -> None:
        self.handler = handler
        self.types = types
        self.max_message_bytes = max_message_bytes
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def serve(self, address: str, stopping: asyncio.Event) -> None:
        """Listen on `address` until `stopping` is set, then close every connection."""
        listen = ListenAddress.parse(address)
        server = await self._listen(listen)
        log.info("serving ABCI on %s", address)
        try:
            await stopping.wait()
        finally:
            server.close()
            # Connections first: from Python 3.12 wait_closed also waits for them to end.
            await self._close_connections()
            await server.wait_closed()
            if listen.unix_path is not None:
                listen.unix_path.unlink(missing_ok=True)
            log.info("ABCI server stopped")

    async def _listen(self, listen: ListenAddress) -> asyncio.Server:
        if listen.unix_path is not None:
            listen.unix_path.parent.mkdir(parents=True, exist_ok=True)
            # A socket file left by a killed server is replaced (asyncio removes stale sockets).
            return await asyncio.start_unix_server(self._accept, path=listen.unix_path)
        return await asyncio.start_server(self._accept, host=listen.host, port=listen.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="abci-conn")
        try:
            await self._converse(reader, writer, worker)
        except (ConnectionError, LedgerError) as exc:
            log.warning("ABCI connection closed: %s", exc)
        finally:
            worker.shutdown(wait=False)
            del self._connections[task]
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, worker: ThreadPoolExecutor
    ) -> None:
        """Read frames as they come; answer each in order on this connection's thread."""
        loop = asyncio.get_running_loop()
        decoder = FrameDecoder(self.max_message_bytes)
        while data := await reader.read(READ_CHUNK):
            frames = decoder.feed(data)
            if frames:
                # Everything that arrived together is answered in one hop to the worker
                # (CometBFT pipelines CheckTx), still strictly in order.
                responses = await loop.run_in_executor(worker, self.answer_all, frames)
                for response in responses:
                    writer.write(frame_message(response))
            await writer.drain()  # a peer that stops reading stops us from buffering more

    def answer_all(self, frames: list[bytes]) -> list[Any]:
        return [self.answer(frame) for frame in frames]

    def answer(self, frame: bytes) -> Any:
        """The Response to one framed Request; a failure becomes ResponseException."""
        types = self.types
        try:
            return self._respond(types.Request.FromString(frame))
        except Exception as exc:  # one bad request must never take the node down
            log.exception("ABCI request failed")
            return types.Response(exception=types.ResponseException(error=_describe(exc)))

    def _respond(self, request: Any) -> Any:
        """Flush and Echo are the transport's own; everything else goes to the handler."""
        types = self.types
        method = request.WhichOneof("value")
        if method is None:
            raise MalformedInput("empty ABCI request")
        if method == "flush":
            return types.Response(flush=types.ResponseFlush())
        if method == "echo":
            return types.Response(echo=types.ResponseEcho(message=request.echo.message))
        return types.Response(**{method: self.handler(method, getattr(request, method))})

    async def _close_connections(self) -> None:
        """Close every connection; a request in progress (a Commit, say) runs to its end.

        Closing our side ends each reader loop as if the peer had hung up, after it has
        answered the request it is on; cancelling instead would abandon that answer.
        """
        for writer in self._connections.values():
            writer.close()
        await asyncio.gather(*self._connections, return_exceptions=True)


def _describe(exc: Exception) -> str:
    if isinstance(exc, LedgerError):
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"
