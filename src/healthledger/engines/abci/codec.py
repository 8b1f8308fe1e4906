"""ABCI socket framing: every message is preceded by its length as an unsigned varint.

This is what CometBFT v0.38 writes and reads (libs/protoio: `binary.PutUvarint` /
`binary.ReadUvarint` around each protobuf message), the same base-128 varint as
protobuf's own length prefixes. Bytes arrive in arbitrary pieces, so decoding is
incremental: `FrameDecoder.feed` keeps what it cannot use yet.
"""

from __future__ import annotations

from typing import Any

from healthledger.errors import MalformedInput, TooLarge

# A uint64 takes at most ten base-128 digits.
MAX_VARINT_BYTES = 10
# CometBFT caps a block at 100 MiB (types.MaxBlockSizeBytes); a FinalizeBlock request
# carrying such a block must still fit, with room for the rest of the request.
DEFAULT_MAX_MESSAGE_BYTES = 128 * 1024 * 1024


def encode_uvarint(value: int) -> bytes:
    """`value` as an unsigned base-128 varint, least significant group first."""
    if not 0 <= value < 1 << 64:
        raise ValueError(f"not a uint64: {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_frame(payload: bytes) -> bytes:
    """One framed message: uvarint(len(payload)) then the payload."""
    return encode_uvarint(len(payload)) + payload


def frame_message(message: Any) -> bytes:
    """A protobuf message serialized and framed for the socket."""
    return encode_frame(message.SerializeToString())


def decode_uvarint(data: bytes | bytearray, start: int = 0) -> tuple[int, int] | None:
    """(value, bytes used) of the varint at `start`, or None if it is not complete yet."""
    value = 0
    for index in range(MAX_VARINT_BYTES):
        if start + index >= len(data):
            return None
        byte = data[start + index]
        if index == MAX_VARINT_BYTES - 1 and byte > 1:
            raise MalformedInput("message length overflows a uint64")
        value |= (byte & 0x7F) << (7 * index)
        if byte < 0x80:
            return value, index + 1
    raise MalformedInput("message length overflows a uint64")


class FrameDecoder:
    """Splits a byte stream into message payloads, however the stream was cut."""

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes received that do not yet make a whole message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every message they complete, in order."""
        self._buffer += data
        frames: list[bytes] = []
        offset = 0
        while (frame := self._frame_at(offset)) is not None:
            payload, offset = frame
            frames.append(payload)
        del self._buffer[:offset]
        return frames

    def _frame_at(self, offset: int) -> tuple[bytes, int] | None:
        """(payload, offset after it) of the message at `offset`, if all of it is here."""
        header = decode_uvarint(self._buffer, offset)
        if header is None:
            return None
        length, used = header
        if length > self.max_message_bytes:
            raise TooLarge(
                f"message of {length} bytes exceeds the limit of {self.max_message_bytes}"
            )
        start = offset + used
        if len(self._buffer) - start < length:
            return None
        return bytes(self._buffer[start : start + length]), start + length
