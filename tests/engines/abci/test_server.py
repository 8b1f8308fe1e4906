"""The ABCI server and adapter in-process: ordering, Flush, exceptions, and each method."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from cometbft_tools import install_cometbft
from conftest import CHAIN, make_genesis, seeded_keys
from healthledger.app.application import Application
from healthledger.client.sdk import Signer
from healthledger.crypto.canonical import canonical_bytes, parse_json
from healthledger.crypto.keys import KeyPair
from healthledger.engines.abci.adapter import AbciAdapter, fit_to_block
from healthledger.engines.abci.codec import FrameDecoder, encode_frame, frame_message
from healthledger.engines.abci.genesis import check_app_state
from healthledger.engines.abci.protos import ENV_VAR, abci_types, pb_dir
from healthledger.engines.abci.results import (
    ABCI_CODES,
    CODESPACE,
    INTERNAL_CODE,
    abci_code,
    abci_events,
)
from healthledger.engines.abci.server import AbciServer, ListenAddress
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.store import Store
from healthledger.ledger.transaction import Transaction
from healthledger.node.home import init_home
from healthledger.node.process import free_port


@pytest.fixture(scope="module")
def types() -> Any:
    install_cometbft()
    return abci_types()


@pytest.fixture
def adapter(tmp_path: Path, types: Any) -> Iterator[AbciAdapter]:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    yield AbciAdapter(app, make_genesis(), types)
    app.close()
    store.close()


def init(adapter: AbciAdapter, chain_id: str = CHAIN) -> Any:
    return adapter.handle("init_chain", adapter.types.RequestInitChain(chain_id=chain_id))


def enrol(nonce: int = 1) -> Transaction:
    member = KeyPair.generate()
    return Signer(seeded_keys("st-marys"), CHAIN).sign(
        "member.enroll",
        {
            "member_id": f"nurse-{nonce}",
            "name": "Nurse",
            "role": "nurse",
            "signing_key": member.key_id,
            "encryption_key": member.encryption_public.hex(),
        },
        nonce=nonce,
    )


def finalize(adapter: AbciAdapter, height: int, txs: list[bytes]) -> Any:
    request = adapter.types.RequestFinalizeBlock(
        txs=txs, height=height, proposer_address=bytes.fromhex("ab" * 20)
    )
    request.time.seconds, request.time.nanos = 1_800_000_000, 123_456_789
    return adapter.handle("finalize_block", request)


# --- result codes ----------------------------------------------------------------------


def test_every_error_code_has_its_own_small_abci_number() -> None:
    assert set(ABCI_CODES) == set(ErrorCode)
    numbers = list(ABCI_CODES.values())
    assert len(set(numbers)) == len(numbers)
    # `internal` keeps the number every unexpected failure had before it had a code.
    assert ABCI_CODES[ErrorCode.INTERNAL] == INTERNAL_CODE
    assert min(n for c, n in ABCI_CODES.items() if c is not ErrorCode.INTERNAL) > INTERNAL_CODE
    assert abci_code("ok") == 0
    assert abci_code("no_such_code") == INTERNAL_CODE


def test_prepare_proposal_counts_txs_as_cometbft_encodes_them() -> None:
    # Each tx costs tag (1) + varint length (1 below 128 bytes) + bytes.
    txs = [b"a" * 10, b"b" * 10, b"c" * 200]
    assert fit_to_block(txs, 24) == txs[:2]
    assert fit_to_block(txs, 23) == txs[:1]
    assert fit_to_block(txs, 24 + 203) == txs


def test_app_state_is_absent_or_our_own_genesis() -> None:
    genesis = make_genesis()
    for empty in (b"", b"null", b"{}", b" {} \n"):
        check_app_state(empty, genesis)
    check_app_state(genesis.canonical(), genesis)
    other = make_genesis([("st-marys", "hospital")])
    with pytest.raises(LedgerError) as refused:
        check_app_state(other.canonical(), genesis)
    assert refused.value.code == ErrorCode.CONFLICT


def test_app_state_of_other_rules_is_refused_as_such() -> None:
    """An app_state from before rules versions would parse as the current version: it must not."""
    genesis = make_genesis()
    document = parse_json(genesis.canonical())
    assert isinstance(document, dict)
    del document["rules_version"]
    with pytest.raises(LedgerError) as refused:
        check_app_state(canonical_bytes(document), genesis)
    assert refused.value.code == ErrorCode.RULES_VERSION


def test_the_abci_server_refuses_a_folder_of_other_rules(types: Any, tmp_path: Path) -> None:
    """The server process exits at once (were it to serve, the timeout would fail the test)."""
    home = init_home(tmp_path / "net", CHAIN, [("st-marys", "hospital", "St Mary's")])
    document = json.loads(home.genesis_path.read_text())
    document["rules_version"] = 1
    home.genesis_path.write_text(json.dumps(document))
    socket = f"unix://{tmp_path / 'app.sock'}"
    command = [sys.executable, "-m", "healthledger.engines.abci", "--home", str(home.root)]
    result = subprocess.run(
        [*command, "--socket", socket],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, ENV_VAR: str(pb_dir())},
        check=False,
    )
    assert result.returncode == 1
    assert "rules version 1" in result.stderr
    assert not home.db_path.exists()  # refused before the ledger was touched


# --- adapter ------------------------------------------------------------------------------


def test_init_chain_returns_the_genesis_root_once_and_again_after_a_crash(
    adapter: AbciAdapter,
) -> None:
    info = adapter.handle("info", adapter.types.RequestInfo())
    assert (info.last_block_height, info.last_block_app_hash) == (0, b"")
    first = init(adapter)
    assert len(first.app_hash) == 32
    assert init(adapter).app_hash == first.app_hash  # CometBFT may repeat InitChain
    info = adapter.handle("info", adapter.types.RequestInfo())
    assert (info.last_block_height, info.last_block_app_hash) == (0, first.app_hash)


def test_init_chain_refuses_another_chain_id(adapter: AbciAdapter) -> None:
    with pytest.raises(LedgerError) as refused:
        init(adapter, "some-other-chain")
    assert refused.value.code == ErrorCode.WRONG_CHAIN
    assert not adapter.app.initialized


def test_init_chain_refuses_a_genesis_of_other_rules(tmp_path: Path, types: Any) -> None:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    try:
        genesis = make_genesis().model_copy(update={"rules_version": 1})
        with pytest.raises(LedgerError) as refused:
            init(AbciAdapter(app, genesis, types))
        assert refused.value.code == ErrorCode.RULES_VERSION
        assert not app.initialized
    finally:
        app.close()
        store.close()


def test_check_tx_answers_with_codes_and_our_codespace(adapter: AbciAdapter) -> None:
    init(adapter)
    check = adapter.types.RequestCheckTx
    assert adapter.handle("check_tx", check(tx=enrol().raw)).code == 0
    wrong_chain = Signer(seeded_keys("st-marys"), "other-chain").sign("patient.register", {})
    refused = adapter.handle("check_tx", check(tx=wrong_chain.raw))
    assert (refused.code, refused.codespace) == (ABCI_CODES[ErrorCode.WRONG_CHAIN], CODESPACE)
    assert "other-chain" in refused.log
    garbage = adapter.handle("check_tx", check(tx=b"\xff\x00"))
    assert garbage.code == ABCI_CODES[ErrorCode.MALFORMED]


def test_process_proposal_rejects_a_block_with_an_undecodable_tx(adapter: AbciAdapter) -> None:
    types = adapter.types
    status = types.ResponseProcessProposal
    good = types.RequestProcessProposal(txs=[enrol().raw])
    bad = types.RequestProcessProposal(txs=[enrol().raw, b"junk"])
    assert adapter.handle("process_proposal", good).status == status.ACCEPT
    assert adapter.handle("process_proposal", bad).status == status.REJECT


def test_finalize_block_then_commit_stores_our_block_with_cometbfts_time_and_proposer(
    adapter: AbciAdapter,
) -> None:
    init(adapter)
    tx = enrol()
    response = finalize(adapter, 1, [tx.raw, b"junk", tx.raw])
    codes = [result.code for result in response.tx_results]
    assert codes == [0, ABCI_CODES[ErrorCode.MALFORMED], ABCI_CODES[ErrorCode.DUPLICATE_NONCE]]
    assert response.tx_results[0].events[0].type == "member.enrolled"
    assert adapter.app.store.last_height() == 0  # not durable before Commit
    adapter.handle("commit", adapter.types.RequestCommit())
    header = adapter.app.store.header(1)
    assert (header.time_ms, header.proposer, header.tx_count) == (1_800_000_000_123, "ab" * 20, 2)
    assert response.app_hash == bytes.fromhex(header.state_root)
    info = adapter.handle("info", adapter.types.RequestInfo())
    assert (info.last_block_height, info.last_block_app_hash) == (1, response.app_hash)


def test_finalize_block_out_of_order_is_an_error(adapter: AbciAdapter) -> None:
    init(adapter)
    with pytest.raises(LedgerError) as refused:
        finalize(adapter, 2, [])
    assert refused.value.code == ErrorCode.CONFLICT


def test_query_reads_committed_state_and_info(adapter: AbciAdapter) -> None:
    init(adapter)
    query = adapter.types.RequestQuery
    org = adapter.handle("query", query(path="/state/gov/org/st-marys"))
    assert (org.code, parse_json(org.value)["id"]) == (0, "st-marys")
    info = adapter.handle("query", query(path="/info"))
    assert parse_json(info.value)["chain_id"] == CHAIN
    for path, height in (("/state/gov/org/nobody", 0), ("/blocks", 0), ("/info", 7)):
        missing = adapter.handle("query", query(path=path, height=height))
        assert (missing.code, missing.codespace) == (ABCI_CODES[ErrorCode.NOT_FOUND], CODESPACE)
        assert missing.log


# --- server over a real socket ----------------------------------------------------------------


def test_listen_addresses() -> None:
    assert ListenAddress.parse("unix:///tmp/a.sock").unix_path == Path("/tmp/a.sock")
    assert ListenAddress.parse("tcp://127.0.0.1:26658") == ListenAddress(
        host="127.0.0.1", port=26658
    )
    for bad in ("/tmp/a.sock", "tcp://nohost", "http://x:1"):
        with pytest.raises(LedgerError):
            ListenAddress.parse(bad)


@asynccontextmanager
async def serving(server: AbciServer) -> AsyncIterator[Path]:
    """The server listening on a fresh Unix socket until the block ends."""
    folder = tempfile.mkdtemp(prefix="hl-abci-", dir="/tmp")
    path = Path(folder) / "app.sock"
    stopping = asyncio.Event()
    task = asyncio.create_task(server.serve(f"unix://{path}", stopping))
    try:
        while not path.exists():
            await asyncio.sleep(0.01)
        yield path
    finally:
        stopping.set()
        await task
        shutil.rmtree(folder, ignore_errors=True)


async def exchange(path: Path, frames: list[bytes], answers: int, types: Any) -> list[Any]:
    """Send frames in one write on a new connection; read `answers` responses."""
    reader, writer = await asyncio.open_unix_connection(path)
    writer.write(b"".join(frames))
    decoder, received = FrameDecoder(), []
    while len(received) < answers:
        chunk = await asyncio.wait_for(reader.read(65536), timeout=10)
        assert chunk, "the server closed the connection"
        received += decoder.feed(chunk)
    writer.close()
    return [types.Response.FromString(frame) for frame in received]


def test_pipelined_requests_are_answered_in_order_and_failures_do_not_end_the_server(
    adapter: AbciAdapter,
) -> None:
    types = adapter.types
    requests = [
        frame_message(types.Request(echo=types.RequestEcho(message="one"))),
        frame_message(types.Request(info=types.RequestInfo())),
        encode_frame(b"\xff\xff\xff"),  # not a protobuf Request
        frame_message(types.Request(finalize_block=types.RequestFinalizeBlock(height=9))),
        frame_message(types.Request(echo=types.RequestEcho(message="two"))),
        frame_message(types.Request(flush=types.RequestFlush())),
    ]

    async def run() -> list[Any]:
        async with serving(AbciServer(adapter.handle, types)) as path:
            return await exchange(path, requests, len(requests), types)

    responses = asyncio.run(run())
    kinds = [response.WhichOneof("value") for response in responses]
    assert kinds == ["echo", "info", "exception", "exception", "echo", "flush"]
    assert [responses[0].echo.message, responses[4].echo.message] == ["one", "two"]
    assert "block 9 does not follow height 0" in responses[3].exception.error


def test_a_stream_that_breaks_framing_closes_only_its_own_connection(
    adapter: AbciAdapter,
) -> None:
    types = adapter.types
    oversize = frame_message(types.Request(echo=types.RequestEcho(message="x" * 64)))
    echo = frame_message(types.Request(echo=types.RequestEcho(message="hi")))

    async def run() -> tuple[bytes, list[Any]]:
        async with serving(AbciServer(adapter.handle, types, max_message_bytes=16)) as path:
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(oversize)
            closed = await asyncio.wait_for(reader.read(), timeout=10)
            writer.close()
            return closed, await exchange(path, [echo], 1, types)

    closed, (response,) = asyncio.run(run())
    assert closed == b""
    assert response.echo.message == "hi"


def test_events_keep_non_string_values_as_json(adapter: AbciAdapter) -> None:
    (event,) = abci_events(adapter.types, ({"type": "t.x", "n": 3, "who": "a", "l": [1]},))
    assert [(a.key, a.value) for a in event.attributes] == [
        ("l", canonical_bytes([1]).decode()),
        ("n", "3"),
        ("who", "a"),
    ]


async def open_tcp(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect once the server listens (it starts inside the same event loop)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.01)


def test_tcp_listener_answers_too(adapter: AbciAdapter) -> None:
    types = adapter.types
    port = free_port()
    echo = frame_message(types.Request(echo=types.RequestEcho(message="over tcp")))

    async def run() -> bytes:
        stopping = asyncio.Event()
        task = asyncio.create_task(
            AbciServer(adapter.handle, types).serve(f"tcp://127.0.0.1:{port}", stopping)
        )
        try:
            reader, writer = await open_tcp(port)
            writer.write(echo)
            (frame,) = FrameDecoder().feed(await asyncio.wait_for(reader.read(1024), 10))
            writer.close()
            return frame
        finally:
            stopping.set()
            await task

    assert types.Response.FromString(asyncio.run(run())).echo.message == "over tcp"
