"""ABCI framing: unsigned varint length prefixes, cut anywhere, bounded in size."""

from __future__ import annotations

from typing import Any

import pytest

from cometbft_tools import install_cometbft
from healthledger.engines.abci.codec import (
    FrameDecoder,
    decode_uvarint,
    encode_frame,
    encode_uvarint,
    frame_message,
)
from healthledger.engines.abci.protos import abci_types
from healthledger.errors import ErrorCode, LedgerError

# (length, its uvarint): base-128 groups, least significant first, high bit = "more".
VECTORS = [
    (0, b"\x00"),
    (1, b"\x01"),
    (127, b"\x7f"),
    (128, b"\x80\x01"),
    (300, b"\xac\x02"),
    (2**21, b"\x80\x80\x80\x01"),
    (2**64 - 1, b"\xff" * 9 + b"\x01"),
]


@pytest.fixture(scope="module")
def types() -> Any:
    """The generated classes (built by scripts/install-cometbft if missing)."""
    install_cometbft()
    return abci_types()


@pytest.mark.parametrize(("length", "prefix"), VECTORS)
def test_uvarint_vectors(length: int, prefix: bytes) -> None:
    assert encode_uvarint(length) == prefix
    assert decode_uvarint(prefix) == (length, len(prefix))


@pytest.mark.parametrize(("length", "prefix"), VECTORS[:6])
def test_frame_is_prefix_then_payload(length: int, prefix: bytes) -> None:
    payload = bytes(range(256)) * (length // 256) + bytes(range(length % 256))
    frame = encode_frame(payload)
    assert frame == prefix + payload
    assert FrameDecoder(max_message_bytes=2**22).feed(frame) == [payload]


@pytest.mark.parametrize("length", [0, 1, 127, 128, 300, 2**21])
def test_our_prefix_matches_protobufs_own_length_encoding(types: Any, length: int) -> None:
    """A bytes field is tag, uvarint length, bytes: the same varint CometBFT frames with."""
    serialized = types.RequestCheckTx(tx=b"x" * length).SerializeToString()
    if length:
        assert serialized[1 : 1 + len(encode_uvarint(length))] == encode_uvarint(length)


def test_frames_cut_at_every_byte_come_out_whole_and_in_order() -> None:
    payloads = [b"", b"a", b"b" * 127, b"c" * 128, b"d" * 300]
    stream = b"".join(encode_frame(p) for p in payloads)
    decoder = FrameDecoder()
    out: list[bytes] = []
    for index in range(len(stream)):
        out += decoder.feed(stream[index : index + 1])
    assert out == payloads
    assert decoder.buffered == 0


def test_partial_frames_wait_for_the_rest() -> None:
    frame = encode_frame(b"z" * 300)
    decoder = FrameDecoder()
    assert decoder.feed(frame[:1]) == []  # half of the two-byte prefix
    assert decoder.feed(frame[1:100]) == []
    assert decoder.buffered == 100
    assert decoder.feed(frame[100:] + encode_frame(b"next")[:3]) == [b"z" * 300]
    assert decoder.feed(encode_frame(b"next")[3:]) == [b"next"]
    assert decoder.buffered == 0


def test_oversize_message_is_refused_from_its_prefix_alone() -> None:
    decoder = FrameDecoder(max_message_bytes=300)
    assert decoder.feed(encode_frame(b"k" * 300)) == [b"k" * 300]
    with pytest.raises(LedgerError) as refused:
        decoder.feed(encode_uvarint(301))
    assert refused.value.code == ErrorCode.TOO_LARGE


def test_length_beyond_uint64_is_malformed() -> None:
    for prefix in (b"\xff" * 9 + b"\x02", b"\x80" * 11):
        with pytest.raises(LedgerError) as refused:
            FrameDecoder().feed(prefix)
        assert refused.value.code == ErrorCode.MALFORMED


def test_request_and_response_round_trip_through_the_generated_classes(types: Any) -> None:
    request = types.Request(
        finalize_block=types.RequestFinalizeBlock(
            txs=[b'{"a":1}', b""], height=7, proposer_address=bytes(20)
        )
    )
    request.finalize_block.time.seconds = 1_700_000_000
    response = types.Response(
        finalize_block=types.ResponseFinalizeBlock(
            tx_results=[types.ExecTxResult(code=0), types.ExecTxResult(code=2, log="malformed")],
            app_hash=b"\x01" * 32,
        )
    )
    decoder = FrameDecoder()
    frames = decoder.feed(frame_message(request) + frame_message(response))
    assert types.Request.FromString(frames[0]) == request
    assert types.Response.FromString(frames[1]) == response
    assert types.Request.FromString(frames[0]).WhichOneof("value") == "finalize_block"
