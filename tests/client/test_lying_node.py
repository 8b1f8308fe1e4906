"""A node that lies with true proofs: it answers a question with the proven answer to
another (another package, another key, another transaction, an older state).

The liar is a real HTTP server on 127.0.0.1 in front of a real node: it forwards every
request and swaps the answers named by each test. The SDK must refuse every swap,
pinned to a header it verified earlier, and say why.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import serve_network, stop_node
from healthledger.client.anchor import NotAnchored, PinnedAnchor
from healthledger.client.sdk import Client, Signer, require_committed
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.errors import InvalidProof, LedgerError
from healthledger.node.home import Home

CHAIN = "lying-node"
BODY = "0950600013435"
GTIN = BODY + str(gtin_check_digit(BODY))
ORGS = [
    ("medico", "manufacturer", "Medico"),
    ("pharm", "pharmacy", "Pharm"),
    ("hosp", "hospital", "Hosp"),
]
Swap = Callable[[str, dict[str, str]], bytes | None]


class Liar:
    """Forwards to the honest node; `swap(path, query)` may answer instead."""

    def __init__(self, honest_url: str) -> None:
        self.honest_url = honest_url
        self.swap: Swap = lambda _path, _query: None
        liar = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = httpx.URL(self.path)
                query = dict(url.params)
                swapped = liar.swap(url.path, query)
                if swapped is None:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    answer = httpx.get(liar.honest_url + self.path, headers=headers)
                    status, body = answer.status_code, answer.content
                else:
                    status, body = 200, swapped
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class World:
    def __init__(self, url: str, keys: dict[str, KeyPair]) -> None:
        self.url = url
        self.keys = keys
        self.client = Client(url)
        self.signers = {org: Signer(keys[org], CHAIN) for org in keys}

    def send(self, org: str, tx_type: str, payload: dict[str, Any]) -> str:
        report = self.client.submit(self.signers[org].sign(tx_type, payload), True)
        return require_committed(report).id

    def raw(self, path: str, params: dict[str, str], org: str | None = None) -> bytes:
        keys = None if org is None else self.keys[org]
        return self.client._get(path, params, keys).content


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("lying") / "net"
    url, process = serve_network(root, CHAIN, ORGS)
    home = Home(root)
    keys = {org: load_keypair(home.key_path(org)) for org, _role, _name in ORGS}
    try:
        yield World(url, keys)
    finally:
        stop_node(process)


@pytest.fixture
def liar(world: World) -> Iterator[Liar]:
    serving = Liar(world.url)
    yield serving
    serving.close()


def _enrol(world: World, member_id: str) -> str:
    person = KeyPair.generate()
    payload = {
        "member_id": member_id,
        "name": member_id,
        "role": "nurse",
        "signing_key": person.key_id,
        "encryption_key": person.encryption_public.hex(),
    }
    return world.send("hosp", "member.enroll", payload)


def _commission(world: World, serial: str, lot: str, expiry: str) -> None:
    payload = {"gtin": GTIN, "lot": lot, "expiry": expiry, "serials": [serial]}
    world.send("medico", "supply.commission", payload)


def _verify_query(serial: str, lot: str, expiry: str) -> dict[str, str]:
    return {"gtin": GTIN, "serial": serial, "lot": lot, "expiry": expiry}


def test_a_verification_answered_with_another_packages_proof_is_refused(
    world: World, liar: Liar, tmp_path: Path
) -> None:
    _commission(world, "GOOD", "L1", "2030-01-31")
    good = world.raw("/v1/supply/verify", _verify_query("GOOD", "L1", "2030-01-31"))
    liar.swap = lambda path, query: good if query.get("serial") == "FAKE" else None
    with (
        Client(liar.url, anchor=PinnedAnchor.from_file(tmp_path / "pin.json")) as client,
        pytest.raises(InvalidProof, match="the node answered for"),
    ):
        client.supply_verify(GTIN, "FAKE", "L1", "2030-01-31")
        assert client.supply_verify(GTIN, "GOOD", "L1", "2030-01-31").verdict == "verified"


def test_a_state_answered_with_another_keys_proof_is_refused(world: World, liar: Liar) -> None:
    _enrol(world, "alice")
    _enrol(world, "bob")
    alice = world.raw("/v1/state/gov/member/hosp/alice", {"proof": "true"}, "hosp")
    liar.swap = lambda path, _query: alice if path.endswith("/member/hosp/bob") else None
    with (
        Client(liar.url, keys=world.keys["hosp"], anchor=PinnedAnchor.first_use()) as client,
        pytest.raises(InvalidProof, match="asked for gov/member/hosp/bob"),
    ):
        client.verified_state("gov", "member/hosp/bob")


def test_a_transaction_answered_with_another_transactions_proof_is_refused(
    world: World, liar: Liar
) -> None:
    asked, other = _enrol(world, "carol"), _enrol(world, "dave")
    proof = world.raw(f"/v1/txs/{other}", {"proof": "true"}, "hosp")
    liar.swap = lambda path, _query: proof if path == f"/v1/txs/{asked}" else None
    with (
        Client(liar.url, keys=world.keys["hosp"], anchor=PinnedAnchor.first_use()) as client,
        pytest.raises(InvalidProof, match=f"asked for transaction {asked}"),
    ):
        client.verified_tx(asked)


def test_a_state_older_than_the_pin_is_refused_a_recall_cannot_be_hidden(
    world: World, liar: Liar, tmp_path: Path
) -> None:
    _commission(world, "BAD", "L2", "2030-01-31")
    query = _verify_query("BAD", "L2", "2030-01-31")
    before_recall = world.raw("/v1/supply/verify", query)
    world.send("medico", "supply.recall", {"gtin": GTIN, "lot": "L2", "reason": "contaminated"})
    pin = PinnedAnchor.from_file(tmp_path / "pin.json")
    with Client(world.url, anchor=pin) as honest:
        assert honest.supply_verify(GTIN, "BAD", "L2", "2030-01-31").verdict == "recalled"
    liar.swap = lambda path, q: before_recall if q.get("serial") == "BAD" else None
    with (
        Client(liar.url, anchor=PinnedAnchor.from_file(tmp_path / "pin.json")) as client,
        pytest.raises(NotAnchored, match="older header than the pinned"),
    ):
        client.supply_verify(GTIN, "BAD", "L2", "2030-01-31")


def test_an_expiry_mark_cannot_be_stripped_or_denied(world: World, liar: Liar) -> None:
    _commission(world, "EXP", "OLD", "2020-01-31")
    honest = httpx.get(
        f"{world.url}/v1/supply/verify", params=_verify_query("EXP", "OLD", "2020-01-31")
    ).json()
    assert honest["expired"] is True
    denied = dict(honest, expired=False)
    stripped = dict(denied, proofs={k: v for k, v in honest["proofs"].items() if k != "expired"})
    for lie in (denied, stripped):
        body = httpx.Response(200, json=lie).content
        liar.swap = lambda _path, q, body=body: body if q.get("serial") == "EXP" else None
        with (
            Client(liar.url, anchor=PinnedAnchor.first_use()) as client,
            pytest.raises(LedgerError),
        ):
            client.supply_verify(GTIN, "EXP", "OLD", "2020-01-31")


def test_junk_in_a_proven_record_is_an_invalid_proof_not_a_crash(world: World, liar: Liar) -> None:
    _commission(world, "JUNK", "L3", "2030-01-31")
    honest = httpx.get(
        f"{world.url}/v1/supply/verify", params=_verify_query("JUNK", "L3", "2030-01-31")
    ).json()
    honest["proofs"]["recalls"]["value"] = 7  # not a list: the proof no longer matches either
    body = httpx.Response(200, json=honest).content
    liar.swap = lambda _path, q: body if q.get("serial") == "JUNK" else None
    with Client(liar.url, anchor=PinnedAnchor.first_use()) as client, pytest.raises(InvalidProof):
        client.supply_verify(GTIN, "JUNK", "L3", "2030-01-31")


def test_a_gln_answered_with_another_glns_proof_is_refused(world: World, liar: Liar) -> None:
    held, asked = "0614141000005", "4012345000009"
    report = world.client.submit(world.signers["medico"].sign("gln.claim", {"party": held}), True)
    events = require_committed(report).result.events
    proposal = next(e["proposal"] for e in events if e["type"] == "gln.proposed")
    for voter in ("pharm", "hosp"):
        world.send(voter, "org.approve", {"proposal_id": proposal})
    honest = httpx.get(f"{world.url}/v1/glns/{held}").json()
    other = httpx.Response(200, json=dict(honest, gln=asked)).content
    liar.swap = lambda path, _query: other if path == f"/v1/glns/{asked}" else None
    with Client(liar.url, anchor=PinnedAnchor.first_use()) as client:
        with pytest.raises(InvalidProof, match=f"asked for gov/gln/{asked}"):
            client.org_of_gln(asked)
        # A name beside a true proof is not believed: the proof's holder is.
        named = httpx.Response(200, json=dict(honest, org="pharm")).content
        liar.swap = lambda path, _query: named if path == f"/v1/glns/{held}" else None
        assert client.org_of_gln(held) == "medico"
