"""HTTP/1.1 by hand over a socket: for requests no well-behaved client sends.

A half-sent body, a connection dropped mid-upload, a chunked body that never
ends: httpx finishes what it starts, so these tests speak the protocol directly
and can watch for the node's answer while the body is still open.
"""

from __future__ import annotations

import json
import select
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    @property
    def code(self) -> str:
        return str(self.body["error"]["code"])


def open_request(
    url: str, method: str, target: str, headers: dict[str, str], *, chunked: bool = False
) -> socket.socket:
    """Connect and send the request line and headers; the body is the caller's to send."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    return sock


def answered(sock: socket.socket, wait_s: float = 0.0) -> bool:
    """Whether the node has started to answer (or closed) while we may still be sending."""
    readable, _w, _x = select.select([sock], [], [], wait_s)
    return bool(readable)


def send_until_answered(sock: socket.socket, pieces: Any, chunked: bool = False) -> int:
    """Send pieces of body until the node answers or hangs up; returns the bytes sent."""
    sent = 0
    for piece in pieces:
        if answered(sock):
            break
        frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
        try:
            sock.sendall(frame)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(piece)
    return sent


def read_answer(sock: socket.socket, timeout: float = 15.0) -> Answer:
    """The node's response (status and JSON body); raises TimeoutError if it never comes."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        data += _recv(sock)
    head, _sep, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    fields = {
        name.strip().lower(): value.strip()
        for name, _colon, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
    }
    length = int(fields.get(b"content-length", b"0"))
    while len(rest) < length:
        rest += _recv(sock)
    return Answer(status, json.loads(rest[:length]) if length else None)


def _recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("the node closed the connection without an answer")
    return chunk
