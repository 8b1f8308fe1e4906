"""`healthledger bench credentials`: issuance, status changes and offline-style verification.

Three phases on one in-process node (the path `bench supply` uses):

1. issue: `--members` practitioners are enrolled by the bench hospital, then the bench
   medical board issues `--credentials` licences spread over them. Every document is
   built as a VC 2.0 credential and signed with `eddsa-jcs-2022` (in worker processes)
   before the clock starts, so the figure is the ledger's: `credential.issue` checked,
   ordered, applied (slot allocation, status-list bits, anchor, member file) and committed.
2. status changes: a mix of suspend, reinstate and revoke by the board, each rewriting a
   status list of 131,072 entries and committing its raw bitstring's SHA-256.
3. verify: one verification is what the SDK's offline verify does with an anchor answer:
   the anchor's state proof checked against the header's state root, then the document's
   proof, its anchor's fields and hash, and its status at a date (`verify.check_credential`).
"""

from __future__ import annotations

import hashlib
import random
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from healthledger.app.queries import state_in_snapshot
from healthledger.bench.harness import Figures, Report, drive, percentile
from healthledger.client.sdk import Signer, verify_state_view
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.domains.credentials import documents as docs
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.verify import check_credential
from healthledger.engines.checker import worker_pool
from healthledger.engines.solo import SoloEngine
from healthledger.errors import MalformedInput
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.node import Node

CHAIN = "healthledger-bench-credentials"
BOARD, HOSPITAL = "bench-board", "bench-hospital"
ORGS = [(BOARD, "board", "Bench Medical Board"), (HOSPITAL, "hospital", "Bench Hospital")]
VALID_FROM_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
VALID_UNTIL_MS = 1_924_992_000_000  # 2031-01-01T00:00:00Z
SIGNED_MS = VALID_FROM_MS
ENROL_BATCH = 500
SIGN_CHUNK = 2_000


def run_credentials(
    credentials: int,
    members: int,
    status_changes: int,
    verifies: int,
    report: Report | None,
) -> Figures:
    if not 0 < members <= credentials:
        raise MalformedInput("name at least one member and no more members than credentials")
    if credentials > members * st.MAX_FILE_SHARE_PER_ISSUER:
        raise MalformedInput(
            f"one board issues at most {st.MAX_FILE_SHARE_PER_ISSUER} credentials per member"
        )
    with tempfile.TemporaryDirectory(prefix="healthledger-bench-credentials-") as tmp:
        root = Path(tmp) / "net"
        home = init_home(root, CHAIN, ORGS)
        board = load_keypair(home.key_path(BOARD))
        hospital = Signer(load_keypair(home.key_path(HOSPITAL)), CHAIN)
        node = Node(root, NodeSettings(org=BOARD, check_workers=2))
        node.start()
        engine = node.engine
        if not isinstance(engine, SoloEngine):
            raise MalformedInput("the credentials benchmark runs on the solo engine")
        try:
            engine.config = replace(engine.config, max_block_txs=5000)
            _enrol(node, hospital, members, report)
            raws = _presign(board, credentials, members)
            issued_per_s = _issue(node, raws, report)
            del raws
            changes_per_s, changed = _status_changes(
                node, board, credentials, status_changes, report
            )
            latencies, verdicts = _verify_latencies(node, board, credentials, members, verifies)
        finally:
            node.stop()
    return {
        "issued_per_s": round(issued_per_s, 1),
        "status_changes_per_s": round(changes_per_s, 1),
        "verify_p50_ms": round(statistics.median(latencies), 3),
        "verify_p99_ms": round(percentile(latencies, 0.99), 3),
        "credentials": credentials,
        "members": members,
        "status_changes": changed,
        "status_list_size": st.STATUS_LIST_SIZE,
        "verifies": verifies,
        "verified_active": verdicts,
    }


# -- the cast ---------------------------------------------------------------------------


def member_id(index: int) -> str:
    return f"pract-{index:06d}"


def _member_key(index: int, use: str) -> str:
    """A distinct public key per member (the bench never signs as a member)."""
    return hashlib.sha256(f"bench-credentials/{use}/{index}".encode()).hexdigest()


def _enrol(node: Node, hospital: Signer, members: int, report: Report | None) -> None:
    raws = [
        hospital.sign(
            "member.enroll",
            {
                "member_id": member_id(index),
                "name": f"Practitioner {index}",
                "role": "practitioner",
                "signing_key": _member_key(index, "signing"),
                "encryption_key": _member_key(index, "encryption"),
            },
        ).raw
        for index in range(members)
    ]
    recorder = drive(node, raws, None, report, "enrol practitioners", chunk=ENROL_BATCH)
    if recorder.failed:
        raise RuntimeError(f"{recorder.failed} enrolments failed")


# -- documents ----------------------------------------------------------------------------


def licence_document(board: KeyPair, index: int, members: int) -> dict[str, Any]:
    """Credential `index`: a licence of member `index % members`, signed by the board.

    Its status slot is the one the board's `index`-th issuance takes (the handler
    allocates slots in order and refuses any other). Ed25519 is deterministic, so the
    same index gives the same signed document every time.
    """
    document = docs.build_credential(
        issuer=BOARD,
        issuer_name="Bench Medical Board",
        issuer_key=board.key_id,
        local_id=f"lic-{index:07d}",
        subject=f"{HOSPITAL}/{member_id(index % members)}",
        type="licence",
        scope="Physician and surgeon",
        jurisdiction="US-MA",
        valid_from_ms=VALID_FROM_MS,
        valid_until_ms=VALID_UNTIL_MS,
        status_list=index // st.STATUS_LIST_SIZE,
        status_index=index % st.STATUS_LIST_SIZE,
    )
    return docs.sign_credential(document, board, SIGNED_MS)


def _sign_issues(job: tuple[dict[str, str], int, int, int]) -> list[bytes]:
    """Worker: build, sign and anchor credentials [start, stop) as `credential.issue`."""
    key_file, start, stop, members = job
    board = KeyPair.from_dict(key_file)
    signer = Signer(board, CHAIN)
    raws = []
    for index in range(start, stop):
        payload = docs.anchor_of(licence_document(board, index, members))
        raws.append(signer.sign("credential.issue", payload.model_dump(), nonce=index + 1).raw)
    return raws


def _presign(board: KeyPair, credentials: int, members: int) -> list[bytes]:
    jobs = [
        (board.to_dict(), start, min(credentials, start + SIGN_CHUNK), members)
        for start in range(0, credentials, SIGN_CHUNK)
    ]
    with worker_pool() as pool:
        return [raw for part in pool.map(_sign_issues, jobs) for raw in part]


# -- the timed phases -----------------------------------------------------------------------


def _issue(node: Node, raws: list[bytes], report: Report | None) -> float:
    started = time.perf_counter()
    recorder = drive(node, raws, None, report, "credential.issue (signed documents)")
    if recorder.failed:
        raise RuntimeError(f"{recorder.failed} issuances failed")
    return len(raws) / (max(recorder.committed.values()) - started)


def _status_changes(
    node: Node, board: KeyPair, credentials: int, count: int, report: Report | None
) -> tuple[float, int]:
    """Suspend a licence, reinstate it, revoke another: thirds of a mix over distinct ones."""
    signer = Signer(board, CHAIN, next_nonce=credentials + 1)
    picked = random.Random(2).sample(range(credentials), min(credentials, 2 * -(-count // 3)))
    raws: list[bytes] = []
    for pair in range(0, len(picked) - 1, 2):
        held, revoked = (f"{BOARD}:lic-{picked[pair + i]:07d}" for i in (0, 1))
        for credential, action in ((held, "suspend"), (held, "reinstate"), (revoked, "revoke")):
            payload = {"credential_id": credential, "action": action, "reason": "bench"}
            raws.append(signer.sign("credential.status", payload).raw)
    raws = raws[:count]
    if not raws:
        return 0.0, 0
    started = time.perf_counter()
    recorder = drive(node, raws, None, report, "credential.status (suspend, reinstate, revoke)")
    if recorder.failed:
        raise RuntimeError(f"{recorder.failed} status changes failed")
    return len(raws) / (max(recorder.committed.values()) - started), len(raws)


def _verify_latencies(
    node: Node, board: KeyPair, credentials: int, members: int, count: int
) -> tuple[list[float], int]:
    """Verify presented documents against their proven anchors, one at a time."""
    rng = random.Random(1)
    presented = [licence_document(board, rng.randrange(credentials), members) for _ in range(count)]
    now_ms = int(time.time() * 1000)
    latencies, active = [], 0
    for document in presented:
        started = time.perf_counter()
        key = st.credential_key(docs.credential_id_of(document))
        with node.store.snapshot():
            view = state_in_snapshot(node.store, st.NAMESPACE, key, prove=True)
        verify_state_view(view)
        anchor = st.CredentialAnchor.model_validate_json(view.raw_value or "null")
        check = check_credential(document, anchor, now_ms, now_ms)
        latencies.append((time.perf_counter() - started) * 1000)
        if not (check.proof.ok and check.issuer_key.ok and check.anchored.ok):
            raise RuntimeError(f"a presented credential failed to verify: {check}")
        active += check.ok
    return latencies, active
