"""A patient's audit trail as it happens: GET /v1/audit/patients/{patient}/events.

A server-sent-events stream (text/event-stream) of what each committed block did
to the patient's books: reads (break-glass ones first and flagged), records added
or shredded, consents granted or revoked, representatives appointed or ended. The
request is signed and checked exactly like GET /v1/audit/patients/{patient}; a
browser reads it with fetch() (EventSource cannot send the signature headers).

Delivery is pushed by the engine's commit notification, never by polling: one
listener per node computes a block's events for the patients someone is watching
and hands each to the event loop of the stream that waits for it. Streams are
bounded per node and per signing key (`rate_limited` beyond), a comment line is
sent every HEARTBEAT_S so proxies and clients know the stream is alive, and every
stream ends when its client goes away, when it falls too far behind, when its
reader's standing is gone (checked again before each event), or when the
node stops (`close`, called before the HTTP server's graceful shutdown so that it
never waits on a stream that would not end by itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from healthledger.api.access import request_target
from healthledger.crypto.signed_request import EMPTY_BODY
from healthledger.domains.records.replies import FeedEvent
from healthledger.engines.base import CommittedBlock
from healthledger.errors import LedgerError, RateLimited, Unavailable
from healthledger.ledger.context import StateReader
from healthledger.node.custodian import RecordService
from healthledger.node.custodian.feed import feed_events
from healthledger.node.node import Node

log = logging.getLogger(__name__)

MAX_STREAMS = 200  # open streams per node
MAX_STREAMS_PER_KEY = 4  # per signing key: a few tabs, not a fleet
HEARTBEAT_S = 15.0
MAX_QUEUED = 1000  # events a stream may fall behind before it is ended
MEDIA_TYPE = "text/event-stream"


@dataclass(frozen=True)
class Ended:
    """Why a stream ends: sent to the client as its last event."""

    reason: str


@dataclass(eq=False)
class Subscription:
    """One open stream: whose key, which patient, and the loop its events are handed to."""

    key_id: str
    patient: str
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[FeedEvent | Ended] = field(default_factory=asyncio.Queue)
    ended: bool = False

    def deliver(self, item: FeedEvent | Ended) -> None:
        """On the stream's loop: queue an item; a stream too far behind is ended instead."""
        if self.ended:
            return
        if isinstance(item, Ended) or self.queue.qsize() >= MAX_QUEUED:
            self.ended = True
            item = item if isinstance(item, Ended) else Ended("the stream fell too far behind")
        self.queue.put_nowait(item)

    def hand(self, item: FeedEvent | Ended) -> None:
        """From any thread: pass an item to the stream's loop (a closed loop has no stream)."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.deliver, item)


class PatientFeeds:
    """Every open patient stream of one node, fed by the engine's commit notification."""

    def __init__(
        self,
        node: Node,
        max_streams: int = MAX_STREAMS,
        max_per_key: int = MAX_STREAMS_PER_KEY,
    ) -> None:
        self.node = node
        self.max_streams = max_streams
        self.max_per_key = max_per_key
        self._lock = threading.Lock()
        self._streams: set[Subscription] = set()
        self._closed = False
        node.engine.on_commit(self._committed)
        node.on_stop(self.close)

    def subscribe(self, key_id: str, patient: str) -> Subscription:
        """A new stream on the running loop; `rate_limited` beyond the limits."""
        subscription = Subscription(key_id, patient, asyncio.get_running_loop())
        with self._lock:
            if self._closed:
                raise Unavailable("the node is stopping")
            if len(self._streams) >= self.max_streams:
                raise RateLimited(f"this node serves at most {self.max_streams} open streams")
            if sum(s.key_id == key_id for s in self._streams) >= self.max_per_key:
                raise RateLimited(f"at most {self.max_per_key} open streams per key")
            self._streams.add(subscription)
        return subscription

    def release(self, subscription: Subscription) -> None:
        with self._lock:
            self._streams.discard(subscription)

    @property
    def open_streams(self) -> int:
        with self._lock:
            return len(self._streams)

    def close(self) -> None:
        """End every stream and refuse new ones (the node is stopping)."""
        with self._lock:
            self._closed = True
            streams = list(self._streams)
        for subscription in streams:
            subscription.hand(Ended("the node is stopping"))

    def _committed(self, block: CommittedBlock) -> None:
        """On the commit thread: hand each watched patient's events to their streams.

        Never raises: a feed's trouble must not disturb the engine that called it."""
        with self._lock:
            streams = list(self._streams)
        if not streams:
            return
        try:
            watched = {s.patient for s in streams}
            state = StateReader(self.node.store.state_get)
            events = feed_events(block, state, watched.__contains__)
        except Exception as exc:  # logged; the engine goes on
            log.warning(
                "patient feed skipped block %d: %s", block.header.height, type(exc).__name__
            )
            events = {}
        for subscription in streams:
            for event in events.get(subscription.patient, ()):
                subscription.hand(event)


def sse(event: str, data: object, event_id: str | None = None) -> bytes:
    """One server-sent event: JSON data on one line (orjson never writes a newline)."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\n".encode() + b"data: " + orjson.dumps(data) + b"\n\n"


Authorize = Callable[[], Awaitable[None]]
NO_LONGER = "you may no longer see this patient's books"


async def stream_events(
    feeds: PatientFeeds,
    subscription: Subscription,
    height: int,
    heartbeat_s: float,
    authorize: Authorize | None = None,
) -> AsyncIterator[bytes]:
    """The stream's bytes: `ready`, then each event, heartbeats between, `end` last.

    `authorize` raises when the reader's standing is gone; it is asked before each event,
    so an appointment that ended, expired or a key revoked after the stream opened ends
    the stream instead of telling a stranger what happens to the patient."""
    try:
        yield sse("ready", {"patient": subscription.patient, "height": height})
        while True:
            try:
                item = await asyncio.wait_for(subscription.queue.get(), heartbeat_s)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            if isinstance(item, Ended):
                yield sse("end", {"reason": item.reason})
                return
            if authorize is not None:
                try:
                    await authorize()
                except LedgerError:
                    yield sse("end", {"reason": NO_LONGER})
                    return
            yield sse("ledger", item.wire(), f"{item.height}:{item.tx_id}")
    finally:
        feeds.release(subscription)


def add_patient_feed_route(
    app: FastAPI, node: Node, service: RecordService, heartbeat_s: float = HEARTBEAT_S
) -> PatientFeeds:
    """Mount the stream; the returned feeds are closed when the node stops (or before)."""
    feeds = PatientFeeds(node)

    @app.get(
        "/v1/audit/patients/{patient}/events",
        tags=["audit"],
        summary="A patient's audit trail as it commits (server-sent events)",
        response_class=StreamingResponse,
    )
    async def events(request: Request, patient: str) -> StreamingResponse:
        """Signed like the audit trail; answers `text/event-stream` until the client leaves."""
        signed, reader = await asyncio.to_thread(
            service.authenticate, request.headers, "GET", request_target(request), EMPTY_BODY
        )
        await asyncio.to_thread(service.require_patient_side, reader, patient, "read")

        def still_allowed() -> None:
            """The signer as the ledger knows them now, still on the patient's side."""
            service.require_patient_side(service.auth.signer(signed), patient, "read")

        async def authorize() -> None:
            await asyncio.to_thread(still_allowed)

        subscription = feeds.subscribe(reader.key_id, patient)
        height = node.app.info().height
        body = stream_events(feeds, subscription, height, heartbeat_s, authorize)
        return FeedResponse(feeds, subscription, body)

    return feeds


class FeedResponse(StreamingResponse):
    """A stream that gives its slot back however it ends, even if it never started."""

    def __init__(
        self, feeds: PatientFeeds, subscription: Subscription, body: AsyncIterator[bytes]
    ) -> None:
        super().__init__(
            body,
            media_type=MEDIA_TYPE,
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )
        self.feeds = feeds
        self.subscription = subscription

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.feeds.release(self.subscription)
