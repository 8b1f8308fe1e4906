"""The light client checks real CometBFT v0.38.25 headers, signatures and tx proofs byte for byte.

One real `cometbft node --proxy_app=kvstore` (CometBFT's built-in app) makes blocks;
verifying its headers against the genesis validators proves the encodings exact, since
one wrong byte anywhere fails a real Ed25519 signature. Synthetic sets of 3-4 keys show
the power thresholds (strictly more than 2/3, and 1/3 of a trusted set when skipping).
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import nacl.signing
import pytest
import typer
from typer.testing import CliRunner

from cometbft_tools import install_cometbft
from healthledger.cli import consensus
from healthledger.client.lightclient import (
    BlockID,
    BlockIDFlag,
    Check,
    Commit,
    CommitSig,
    Header,
    HeaderUnverified,
    SignedHeader,
    Timestamp,
    TxProof,
    Validator,
    ValidatorSet,
    address_of,
    block_data_hash,
    parse_time,
    tx_data_proof,
    verify_commit,
    verify_header,
    verify_tx_in_header,
    vote_sign_bytes,
)
from healthledger.errors import ErrorCode, InvalidProof, LedgerError
from healthledger.node.process import free_port

CHAIN = "hl-light"
Json = dict[str, Any]


# --- a real single-validator network ---


@dataclass
class Chain:
    """A running kvstore validator, its genesis, and what the test committed."""

    home: Path
    process: subprocess.Popen[bytes]
    rpc_url: str
    tx_heights: dict[bytes, int]

    @property
    def genesis_path(self) -> Path:
        return self.home / "config" / "genesis.json"

    def genesis(self) -> Json:
        genesis: Json = json.loads(self.genesis_path.read_text())
        return genesis

    def rpc(self, method: str, **params: Any) -> Json:
        """A JSON-RPC call; its result."""
        body = httpx.post(
            self.rpc_url,
            json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
            timeout=30,
        ).json()
        assert "error" not in body, body
        result: Json = body["result"]
        return result

    def latest_height(self) -> int:
        return int(self.rpc("status")["sync_info"]["latest_block_height"])

    def commit(self, height: int) -> Json:
        return self.rpc("commit", height=str(height))

    def validators(self, height: int) -> Json:
        return self.rpc("validators", height=str(height), per_page="100")


def poll(probe: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """The first truthy answer of `probe`; connection errors count as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = probe()
        except httpx.HTTPError:
            answer = None
        if answer:
            return answer
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def init_cometbft(cometbft: Path, home: Path) -> None:
    """`cometbft init`, our chain id, a block every ~100 ms, empty blocks included."""
    subprocess.run([str(cometbft), "init", "--home", str(home)], check=True, capture_output=True)
    genesis_path = home / "config" / "genesis.json"
    genesis = json.loads(genesis_path.read_text())
    genesis["chain_id"] = CHAIN
    genesis_path.write_text(json.dumps(genesis, indent=2))
    config_path = home / "config" / "config.toml"
    config = config_path.read_text()
    for name, value in (("timeout_commit", '"100ms"'), ("create_empty_blocks", "true")):
        config, count = re.subn(rf"(?m)^{name} = .*$", f"{name} = {value}", config)
        assert count == 1, f"{name} not found in config.toml"
    config_path.write_text(config)


def submit_transactions(chain: Chain) -> None:
    """Three txs in one go (so one block likely holds several), then one waited for."""
    txs = [b"a1=x", b"a2=y", b"a3=z"]
    for tx in txs:
        chain.rpc("broadcast_tx_sync", tx=base64.b64encode(tx).decode())
    committed = chain.rpc("broadcast_tx_commit", tx=base64.b64encode(b"k=v").decode())
    assert committed["tx_result"].get("code", 0) == 0, committed
    for tx in [*txs, b"k=v"]:
        found = poll(functools.partial(_tx_by_hash, chain, tx), f"tx {tx!r} in the index")
        chain.tx_heights[tx] = int(found["height"])


def _tx_by_hash(chain: Chain, tx: bytes) -> Json | None:
    body = httpx.post(
        chain.rpc_url,
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tx",
            "params": {"hash": base64.b64encode(hashlib.sha256(tx).digest()).decode()},
        },
        timeout=30,
    ).json()
    result: Json | None = body.get("result")
    return result


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    cometbft = install_cometbft()
    home = tmp_path_factory.mktemp("cometbft")
    init_cometbft(cometbft, home)
    rpc_port, p2p_port = free_port(), free_port()
    with (home / "node.log").open("ab") as log:
        process = subprocess.Popen(
            [
                str(cometbft),
                "node",
                "--home",
                str(home),
                "--proxy_app=kvstore",
                f"--rpc.laddr=tcp://127.0.0.1:{rpc_port}",
                f"--p2p.laddr=tcp://127.0.0.1:{p2p_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    net = Chain(home, process, f"http://127.0.0.1:{rpc_port}", {})
    try:
        poll(lambda: process.poll() is None and net.latest_height() >= 2, "the first blocks")
        submit_transactions(net)
        top = max(net.tx_heights.values())
        poll(lambda: net.latest_height() >= top + 2, "blocks after the transactions")
        yield net
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def trusted(chain: Chain) -> ValidatorSet:
    return ValidatorSet.from_genesis(chain.genesis())


def check_fails(check: Check, verify: Callable[[], object]) -> None:
    """`verify` raises HEADER_UNVERIFIED naming `check`."""
    with pytest.raises(HeaderUnverified) as caught:
        verify()
    assert caught.value.code == ErrorCode.HEADER_UNVERIFIED
    assert caught.value.check == check, caught.value.message


# --- real headers verify ---


def heights_to_check(chain: Chain) -> list[int]:
    """The first block (empty last block id and hashes), the tx blocks and a later one."""
    return sorted({1, 2, *chain.tx_heights.values(), chain.latest_height() - 1})


def test_real_headers_verify_against_the_genesis_validators(
    chain: Chain, trusted: ValidatorSet
) -> None:
    for height in heights_to_check(chain):
        result = chain.commit(height)
        signed = SignedHeader.from_rpc(result)
        validators = ValidatorSet.from_rpc(chain.validators(height))
        verified = verify_header(signed, validators, trusted, CHAIN)
        header = result["signed_header"]["header"]
        assert verified.height == height
        assert verified.chain_id == CHAIN
        assert verified.app_hash.hex().upper() == header["app_hash"]
        assert (
            verified.header_hash.hex().upper()
            == result["signed_header"]["commit"]["block_id"]["hash"]
        )
        assert parse_time(verified.time) == parse_time(header["time"])
        assert verified.signed_power == verified.total_power == 10
        assert verify_commit(signed, validators, CHAIN) == verified


def test_real_transactions_prove_against_the_verified_data_hash(
    chain: Chain, trusted: ValidatorSet
) -> None:
    for tx, height in chain.tx_heights.items():
        signed = SignedHeader.from_rpc(chain.commit(height))
        verified = verify_header(signed, trusted, trusted, CHAIN)
        block_txs = [
            base64.b64decode(t)
            for t in chain.rpc("block", height=str(height))["block"]["data"]["txs"]
        ]
        assert block_data_hash(block_txs) == verified.data_hash
        index = block_txs.index(tx)
        ours = tx_data_proof(block_txs, index)
        verify_tx_in_header(tx, index, len(block_txs), ours, verified.data_hash)
        # CometBFT's own proof (/tx?prove=true) is the same audit path, and checks here too.
        theirs = TxProof.from_rpc(
            chain.rpc("tx", hash=base64.b64encode(hashlib.sha256(tx).digest()).decode(), prove=True)
        )
        assert (theirs.tx, theirs.index, list(theirs.aunts)) == (tx, index, ours)
        theirs.verify(verified)
        with pytest.raises(InvalidProof):
            verify_tx_in_header(tx + b"!", index, len(block_txs), ours, verified.data_hash)


def test_several_transactions_share_a_block(chain: Chain) -> None:
    """The sync-broadcast txs land together, so the proofs above have real audit paths."""
    heights = list(chain.tx_heights.values())
    assert max(heights.count(h) for h in heights) >= 2, chain.tx_heights


# --- real headers, altered, fail with a stable code ---


def _set_app_hash(result: Json) -> None:
    result["signed_header"]["header"]["app_hash"] = "AB" * 8


def _rehash_block(result: Json) -> None:
    """Tamper and point the commit at the new hash: the signatures then cover another block."""
    _set_app_hash(result)
    new_hash = SignedHeader.from_rpc(result).hash().hex().upper()
    result["signed_header"]["commit"]["block_id"]["hash"] = new_hash


def _flip_signature(result: Json) -> None:
    sig = result["signed_header"]["commit"]["signatures"][0]
    raw = bytearray(base64.b64decode(sig["signature"]))
    raw[5] ^= 0x01
    sig["signature"] = base64.b64encode(bytes(raw)).decode()


def _move_vote_time(result: Json) -> None:
    sig = result["signed_header"]["commit"]["signatures"][0]
    sig["timestamp"] = "2001-01-01T00:00:00.5Z"


def _drop_signature(result: Json) -> None:
    sig = result["signed_header"]["commit"]["signatures"][0]
    sig.update(block_id_flag=BlockIDFlag.ABSENT.value, signature=None, validator_address="")


def _vote_nil(result: Json) -> None:
    """A nil vote keeps its signature but gives the block no power."""
    result["signed_header"]["commit"]["signatures"][0]["block_id_flag"] = BlockIDFlag.NIL.value


@pytest.mark.parametrize(
    ("alter", "check"),
    [
        (_set_app_hash, Check.HEADER_HASH),
        (_rehash_block, Check.SIGNATURE),
        (_flip_signature, Check.SIGNATURE),
        (_move_vote_time, Check.SIGNATURE),
        (_drop_signature, Check.VOTING_POWER),
        (_vote_nil, Check.VOTING_POWER),
    ],
)
def test_altered_real_commits_fail(
    chain: Chain, trusted: ValidatorSet, alter: Callable[[Json], None], check: Check
) -> None:
    height = chain.tx_heights[b"k=v"]
    result = copy.deepcopy(chain.commit(height))
    alter(result)
    validators = ValidatorSet.from_rpc(chain.validators(height))
    check_fails(
        check, lambda: verify_header(SignedHeader.from_rpc(result), validators, trusted, CHAIN)
    )


def test_a_real_header_fails_for_another_chain_id(chain: Chain, trusted: ValidatorSet) -> None:
    signed = SignedHeader.from_rpc(chain.commit(2))
    check_fails(Check.CHAIN_ID, lambda: verify_header(signed, trusted, trusted, "other-chain"))


def test_a_real_header_fails_against_other_trusted_validators(chain: Chain) -> None:
    """A client whose genesis names another key trusts nothing this node says."""
    stranger = make_validator(nacl.signing.SigningKey.generate())
    other = ValidatorSet((stranger,))
    signed = SignedHeader.from_rpc(chain.commit(2))
    real = ValidatorSet.from_rpc(chain.validators(2))
    check_fails(Check.TRUST, lambda: verify_header(signed, real, other, CHAIN))
    check_fails(Check.VALIDATORS_HASH, lambda: verify_commit(signed, other, CHAIN))


def test_altered_real_validators_fail(chain: Chain, trusted: ValidatorSet) -> None:
    answer = copy.deepcopy(chain.validators(2))
    answer["validators"][0]["voting_power"] = "1000"
    signed = SignedHeader.from_rpc(chain.commit(2))
    check_fails(
        Check.VALIDATORS_HASH,
        lambda: verify_commit(signed, ValidatorSet.from_rpc(answer), CHAIN),
    )


# --- the CLI, against CometBFT's RPC and against a node API that relays it ---


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """A group, so `verify-header` is a subcommand as in the real CLI."""

    consensus.register(app)
    return app


def run_cli(*args: str) -> tuple[int, Json]:
    outcome = CliRunner().invoke(cli(), ["verify-header", *args, "--json"])
    return outcome.exit_code, json.loads(outcome.stdout)


def test_cli_verifies_a_header_from_cometbft_rpc(chain: Chain) -> None:
    height = chain.tx_heights[b"k=v"]
    code, report = run_cli(
        "--rpc", chain.rpc_url, "--height", str(height), "--trust", str(chain.genesis_path)
    )
    header = chain.commit(height)["signed_header"]["header"]
    assert code == 0, report
    assert report["ok"] is True
    assert report["height"] == height
    assert report["chain_id"] == CHAIN
    assert report["app_hash"] == header["app_hash"].lower()
    assert (report["signed_power"], report["total_power"]) == (10, 10)


def test_cli_rejects_a_node_that_other_validators_would_not_sign(
    chain: Chain, tmp_path: Path
) -> None:
    genesis = chain.genesis()
    key = nacl.signing.SigningKey.generate().verify_key.encode()
    genesis["validators"] = [
        {
            "address": "",
            "pub_key": {
                "type": "tendermint/PubKeyEd25519",
                "value": base64.b64encode(key).decode(),
            },
            "power": "10",
            "name": "stranger",
        }
    ]
    other = tmp_path / "genesis.json"
    other.write_text(json.dumps(genesis))
    code, report = run_cli("--rpc", chain.rpc_url, "--height", "2", "--trust", str(other))
    assert code == 1
    assert report["error"]["code"] == "header_unverified"
    assert report["error"]["check"] == "trust"


class _Relay(BaseHTTPRequestHandler):
    """A stand-in node API: /v1/consensus/<route> answers CometBFT's bare `result`."""

    rpc_url = ""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        route = parts.path.removeprefix("/v1/consensus/")
        body = httpx.get(f"{self.rpc_url}/{route}", params=parts.query).json()
        payload = json.dumps(body["result"]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def node_api(chain: Chain) -> Iterator[str]:
    handler = type("Relay", (_Relay,), {"rpc_url": chain.rpc_url})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_cli_verifies_a_header_through_a_node_api(chain: Chain, node_api: str) -> None:
    code, report = run_cli("--url", node_api, "--height", "3", "--trust", str(chain.genesis_path))
    assert code == 0, report
    assert report["height"] == 3


# --- encodings: CometBFT's own test vectors (types/vote_test.go, types/block_test.go) ---


def tmhash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_vote_sign_bytes_match_cometbft_vector() -> None:
    """TestVoteSignBytesTestVectors case 1: a precommit at Go's zero time, negative seconds."""
    zero_time = parse_time("0001-01-01T00:00:00Z")
    assert vote_sign_bytes("", 1, 1, None, zero_time) == bytes.fromhex(
        "2108021101000000000000001901000000000000002a0b088092b8c398feffffff01"
    )


def test_header_hash_matches_cometbft_vector() -> None:
    """TestHeaderHash's 'Generates expected hash' case."""
    header = Header(
        version_block=1,
        version_app=2,
        chain_id="chainId",
        height=3,
        time=parse_time("2019-10-13T16:14:44Z"),
        last_block_id=BlockID(bytes(32), 6, bytes(32)),
        last_commit_hash=tmhash(b"last_commit_hash"),
        data_hash=tmhash(b"data_hash"),
        validators_hash=tmhash(b"validators_hash"),
        next_validators_hash=tmhash(b"next_validators_hash"),
        consensus_hash=tmhash(b"consensus_hash"),
        app_hash=tmhash(b"app_hash"),
        last_results_hash=tmhash(b"last_results_hash"),
        evidence_hash=tmhash(b"evidence_hash"),
        proposer_address=tmhash(b"proposer_address")[:20],
    )
    assert header.hash().hex().upper() == (
        "F740121F553B5418C3EFBD343C2DBFE9E007BB67B0D020A0741374BAB65242A4"
    )


@pytest.mark.parametrize(
    ("text", "seconds", "nanos"),
    [
        ("2026-11-25T10:00:00.123456789Z", 1795600800, 123456789),
        ("2026-11-25T10:00:00.1Z", 1795600800, 100_000_000),
        ("2026-11-25T10:00:00Z", 1795600800, 0),
        ("2026-11-25T11:30:00.000000001+01:30", 1795600800, 1),
        ("0001-01-01T00:00:00Z", -62135596800, 0),
    ],
)
def test_times_parse_exactly(text: str, seconds: int, nanos: int) -> None:
    assert parse_time(text) == Timestamp(seconds, nanos)


def test_times_print_as_go_does() -> None:
    assert Timestamp(1795600800, 120_000_000).iso() == "2026-11-25T10:00:00.12Z"
    assert Timestamp(-62135596800, 0).iso() == "0001-01-01T00:00:00Z"


@pytest.mark.parametrize("text", ["2026-11-25T10:00:00.1234567891Z", "2026-11-25 10:00:00Z", ""])
def test_malformed_times_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


def test_malformed_rpc_answers_are_malformed_input() -> None:
    with pytest.raises(LedgerError) as caught:
        SignedHeader.from_rpc({"signed_header": {"header": {}}})
    assert caught.value.code == ErrorCode.MALFORMED


# --- thresholds with synthetic validators ---

SIGNED_AT = Timestamp(1_795_600_800, 42)


def make_validator(key: nacl.signing.SigningKey, power: int = 10) -> Validator:
    public = key.verify_key.encode()
    return Validator(address_of(public), public, power)


def make_keys(count: int, first: int = 1) -> dict[bytes, nacl.signing.SigningKey]:
    """Deterministic keys, by address."""
    keys = [nacl.signing.SigningKey(bytes([first + i]) * 32) for i in range(count)]
    return {address_of(k.verify_key.encode()): k for k in keys}


def make_header(validators: ValidatorSet, height: int = 7) -> Header:
    return Header(
        version_block=11,
        version_app=1,
        chain_id=CHAIN,
        height=height,
        time=SIGNED_AT,
        last_block_id=BlockID(tmhash(b"previous"), 1, tmhash(b"previous parts")),
        last_commit_hash=tmhash(b"last commit"),
        data_hash=block_data_hash([b"a=1", b"b=2", b"c=3"]),
        validators_hash=validators.hash(),
        next_validators_hash=validators.hash(),
        consensus_hash=tmhash(b"consensus"),
        app_hash=tmhash(b"state"),
        last_results_hash=tmhash(b"results"),
        evidence_hash=tmhash(b""),
        proposer_address=validators.validators[0].address,
    )


def sign_header(
    header: Header,
    validators: ValidatorSet,
    keys: dict[bytes, nacl.signing.SigningKey],
    votes: dict[bytes, BlockIDFlag],
) -> SignedHeader:
    """A commit in round 1 where `votes` says how each validator voted (absent if unlisted)."""
    block_id = BlockID(header.hash(), 1, tmhash(b"parts"))
    slots = []
    for index, validator in enumerate(validators.validators):
        flag = votes.get(validator.address, BlockIDFlag.ABSENT)
        if flag == BlockIDFlag.ABSENT:
            slots.append(CommitSig(flag, b"", parse_time("0001-01-01T00:00:00Z"), b""))
            continue
        stamp = Timestamp(SIGNED_AT.seconds + 1, index)
        voted = block_id if flag == BlockIDFlag.COMMIT else None
        message = vote_sign_bytes(CHAIN, header.height, 1, voted, stamp)
        signature = keys[validator.address].sign(message).signature
        slots.append(CommitSig(flag, validator.address, stamp, signature))
    return SignedHeader(header, Commit(header.height, 1, block_id, tuple(slots)))


def votes_of(
    addresses: list[bytes], flag: BlockIDFlag = BlockIDFlag.COMMIT
) -> dict[bytes, BlockIDFlag]:
    return dict.fromkeys(addresses, flag)


def test_three_of_four_validators_commit_and_two_do_not() -> None:
    keys = make_keys(4)
    validators = ValidatorSet.in_cometbft_order(make_validator(k) for k in keys.values())
    header = make_header(validators)
    order = [v.address for v in validators.validators]
    verified = verify_commit(
        sign_header(header, validators, keys, votes_of(order[:3])), validators, CHAIN
    )
    assert (verified.signed_power, verified.total_power) == (30, 40)
    assert verified.header_hash == header.hash()
    two = sign_header(header, validators, keys, votes_of(order[:2]))
    check_fails(Check.VOTING_POWER, lambda: verify_commit(two, validators, CHAIN))
    two_and_nil = sign_header(
        header, validators, keys, {**votes_of(order[:2]), order[2]: BlockIDFlag.NIL}
    )
    check_fails(Check.VOTING_POWER, lambda: verify_commit(two_and_nil, validators, CHAIN))


def test_exactly_two_thirds_is_not_enough() -> None:
    keys = make_keys(3)
    validators = ValidatorSet.in_cometbft_order(make_validator(k, power=1) for k in keys.values())
    order = [v.address for v in validators.validators]
    signed = sign_header(make_header(validators), validators, keys, votes_of(order[:2]))
    check_fails(Check.VOTING_POWER, lambda: verify_commit(signed, validators, CHAIN))


def test_unequal_power_counts_power_not_heads() -> None:
    keys = make_keys(4)
    powers = dict(zip(keys, [70, 10, 10, 10], strict=True))
    validators = ValidatorSet.in_cometbft_order(
        make_validator(k, powers[a]) for a, k in keys.items()
    )
    heavy = validators.validators[0].address
    assert (
        verify_commit(
            sign_header(make_header(validators), validators, keys, votes_of([heavy])),
            validators,
            CHAIN,
        ).signed_power
        == 70
    )
    light = [v.address for v in validators.validators[1:]]
    signed = sign_header(make_header(validators), validators, keys, votes_of(light))
    check_fails(Check.VOTING_POWER, lambda: verify_commit(signed, validators, CHAIN))


def test_a_slot_signed_by_another_validator_fails() -> None:
    keys = make_keys(4)
    validators = ValidatorSet.in_cometbft_order(make_validator(k) for k in keys.values())
    order = [v.address for v in validators.validators]
    signed = sign_header(make_header(validators), validators, keys, votes_of(order))
    slots = list(signed.commit.signatures)
    slots[0], slots[1] = slots[1], slots[0]
    swapped = SignedHeader(signed.header, Commit(7, 1, signed.commit.block_id, tuple(slots)))
    check_fails(Check.SIGNATURE, lambda: verify_commit(swapped, validators, CHAIN))


# --- skipping verification: trusted set A, new set B sharing two of four ---


@pytest.fixture
def two_sets() -> tuple[dict[bytes, nacl.signing.SigningKey], ValidatorSet, ValidatorSet]:
    """A = {1, 2, 3, 4}; B = {1, 2, 5, 6}: B shares half of A's power."""
    keys = make_keys(6)
    pairs = list(keys.items())
    set_a = ValidatorSet.in_cometbft_order(make_validator(k) for _, k in pairs[:4])
    set_b = ValidatorSet.in_cometbft_order(make_validator(k) for _, k in pairs[:2] + pairs[4:])
    return keys, set_a, set_b


def test_skipping_to_a_new_set_that_half_the_trusted_power_signed(
    two_sets: tuple[dict[bytes, nacl.signing.SigningKey], ValidatorSet, ValidatorSet],
) -> None:
    keys, set_a, set_b = two_sets
    header = make_header(set_b, height=500)
    signed = sign_header(header, set_b, keys, votes_of([v.address for v in set_b.validators]))
    verified = verify_header(signed, set_b, set_a, CHAIN)
    assert (verified.height, verified.signed_power, verified.total_power) == (500, 40, 40)
    assert verified.validators_hash == set_b.hash() != set_a.hash()


def test_skipping_fails_with_a_quarter_of_the_trusted_power(
    two_sets: tuple[dict[bytes, nacl.signing.SigningKey], ValidatorSet, ValidatorSet],
) -> None:
    """B's 3 of 4 signed (enough for B) but only one of them is in A: 10 of 40 is not > 1/3."""
    keys, set_a, set_b = two_sets
    in_a = {v.address for v in set_a.validators}
    shared = [v.address for v in set_b.validators if v.address in in_a]
    new = [v.address for v in set_b.validators if v.address not in in_a]
    signed = sign_header(make_header(set_b), set_b, keys, votes_of([shared[0], *new]))
    assert verify_commit(signed, set_b, CHAIN).signed_power == 30
    check_fails(Check.TRUST, lambda: verify_header(signed, set_b, set_a, CHAIN))


def test_skipping_needs_the_validators_the_header_names(
    two_sets: tuple[dict[bytes, nacl.signing.SigningKey], ValidatorSet, ValidatorSet],
) -> None:
    keys, set_a, set_b = two_sets
    signed = sign_header(make_header(set_b), set_b, keys, votes_of(list(keys)))
    check_fails(Check.VALIDATORS_HASH, lambda: verify_header(signed, set_a, set_a, CHAIN))


def test_skipping_checks_the_trusted_signatures(
    two_sets: tuple[dict[bytes, nacl.signing.SigningKey], ValidatorSet, ValidatorSet],
) -> None:
    keys, set_a, set_b = two_sets
    signed = sign_header(make_header(set_b), set_b, keys, votes_of(list(keys)))
    slots = list(signed.commit.signatures)
    in_a = {v.address for v in set_a.validators}
    first = next(i for i, s in enumerate(slots) if s.validator_address in in_a)
    slots[first] = CommitSig(
        BlockIDFlag.COMMIT, slots[first].validator_address, SIGNED_AT, b"\0" * 64
    )
    forged = SignedHeader(signed.header, Commit(7, 1, signed.commit.block_id, tuple(slots)))
    check_fails(Check.SIGNATURE, lambda: verify_header(forged, set_b, set_a, CHAIN))


def test_tx_proofs_over_synthetic_blocks() -> None:
    """Every tx of blocks of 1..9 txs proves against the data hash; the wrong index does not."""
    for size in range(1, 10):
        txs = [f"tx-{i}".encode() for i in range(size)]
        root = block_data_hash(txs)
        for index, tx in enumerate(txs):
            verify_tx_in_header(tx, index, size, tx_data_proof(txs, index), root)
            if size > 1:
                with pytest.raises(InvalidProof):
                    other = (index + 1) % size
                    verify_tx_in_header(tx, other, size, tx_data_proof(txs, index), root)
    assert block_data_hash([]) == tmhash(b"")
