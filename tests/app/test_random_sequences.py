"""Random sequences of every transaction type, applied by two applications (hypothesis).

Each step builds a block of signed transactions (builders in `random_txs.py`, one per
type: any sender, payloads biased toward ids that exist, plus junk), finalizes and
commits it on two `Application`s over their own SQLite files, and then checks what
must hold after any block, whatever its transactions:

- `finalize_block` raises nothing: a transaction can fail, it can never stop a node;
- both applications agree byte for byte (header, state root, every result);
- result messages are our own text, never pydantic's;
- nonces: every included transaction of this chain consumes its (sender, nonce),
  succeeded or failed, so the same bytes sent again fail `duplicate_nonce`;
- governance: `active_orgs` equals the active organisation records; no organisation
  is admitted or removed twice; a validator is added and removed at most once;
- supply: every item is in exactly one place, contents travel with their container,
  no container holds itself, nesting is bounded; under a TI, no line received more than
  was shipped, and a TI matches only when all shipped arrived as listed;
- credentials (file): every flag names a member on a standing exclusion by each regulator it
  names, which lists the flagged organisation; flag indexes match the flags; a member's
  live shares are theirs and unrevoked; rule versions take effect in order; PSV counts
  match their records, and no organisation reuses its own PSV;
- credentials: each anchor's bits in its issuer's lists equal its status, and each list's
  hash its bits; a history runs forward in time, nothing follows a revocation, expiry
  comes by the sweep at `valid_until_ms` and on time; a privilege is not active while a
  credential it depends on is suspended or revoked, unless its issuer reinstated it
  since; slots are unique and below the issuer's next one; key periods chain;
- records: a blob is registered once; break-glass only by care-giving organisations'
  clinicians, and at most the genesis limit per reader in any 24 hours; a moved
  record's custody history is one unbroken chain ending at its custodian.

FUZZ_EXAMPLES and FUZZ_STEPS (environment) make a longer run; FUZZ_SKIP names invariants
to leave out (governance, containers, transactions, records, credentials, credential_file, messages,
nonces).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule
from random_txs import (
    BLOCK_MS,
    BUILDERS,
    CANDIDATES,
    CARE_GIVING,
    CUSTODIAN_ROLES,
    DAY_MS,
    FOUNDERS,
    GLN_POOL,
    GTINS,
    JSON_VALUES,
    LOTS,
    MEMBERS,
    PATIENTS,
    REMOVED_ORG,
    STRANGER,
    VALIDATING_FOUNDERS,
    WRAPPED_KEY,
    Draw,
    Planned,
    World,
    did_key,
    genesis,
    keys_for,
    likely,
    mangle,
    org_spec,
    pick,
    sscc,
    supply_quarantine_by,
    validator_key,
)

from conftest import CHAIN, patient_register_payload
from healthledger.app import nonces
from healthledger.app.application import Application, PendingBlock
from healthledger.app.genesis import Genesis
from healthledger.app.registry import CAPABILITIES, REGISTRY
from healthledger.crypto.canonical import parse_json
from healthledger.crypto.keys import derive_patient_id
from healthledger.domains.governance.messages import MAX_LOCATION_GLNS
from healthledger.domains.records.donation import MAX_VERSIONS
from healthledger.domains.supply.ti import STATEMENT_SHA256
from healthledger.errors import DuplicateNonce
from healthledger.ledger.block import TxResult
from healthledger.ledger.context import BlockInfo
from healthledger.ledger.store import Store
from healthledger.ledger.transaction import Transaction, sign_transaction

# Phrases of pydantic's own messages: results must carry our text (it is hashed into blocks).
LIBRARY_WORDING = (
    "Input should be",
    "Field required",
    "validation error",
    "Extra inputs are not permitted",
    "Value error,",
    "String should",
    "should be a valid",
    "pydantic",
)
# FUZZ_SKIP=nonces,messages (say) leaves those invariants out, so that while one rule is being
# fixed the others still get examples that reach them: each example stops at its first failure.
SKIP = frozenset(os.environ.get("FUZZ_SKIP", "").split(","))
MAX_NESTING = 8  # containers inside containers: a pallet of cases is 2
DUPLICATE_NONCE = "duplicate_nonce"
After = Callable[[TxResult], None] | None
Entry = tuple[Transaction, After]


@dataclass
class Node:
    """One application over its own SQLite file, as one node of the network holds it."""

    store: Store
    app: Application

    @classmethod
    def start(cls, folder: Path, genesis_doc: Genesis) -> Node:
        folder.mkdir()
        store = Store(folder / "ledger.sqlite")
        app = Application(store)
        app.init_chain(genesis_doc)
        return cls(store, app)

    def finalize(self, block: BlockInfo, txs: Sequence[Transaction]) -> PendingBlock:
        try:
            return self.app.finalize_block(block, txs)
        except Exception as exc:  # any exception here stops a real node: that is the bug
            raise AssertionError(
                f"finalize_block raised {type(exc).__name__}: {str(exc)[:200]}"
            ) from exc

    def close(self) -> None:
        self.app.close()
        self.store.close()


class RandomSequences(RuleBasedStateMachine):
    """Two nodes, one stream of random blocks, and what must hold after each block."""

    @initialize()
    def start(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.genesis = genesis()
        root = Path(self.tmp.name)
        self.nodes = [Node.start(root / f"node-{i}", self.genesis) for i in range(2)]
        self.world = World(self.nodes[0].store)
        for name in [*FOUNDERS, *CANDIDATES, *PATIENTS, STRANGER]:
            self.world.add_signer(name)
        for org, member, _role in MEMBERS:
            self.world.add_signer(f"{org}/{member}")
        self.height = 0
        self.used_nonces: set[tuple[str, int]] = set()
        self.included: list[Transaction] = []
        self.admitted: Counter[str] = Counter(FOUNDERS)
        self.removed: Counter[str] = Counter()
        self.validator_changes: Counter[tuple[str, str]] = Counter(
            (org, "up") for org in VALIDATING_FOUNDERS
        )
        self.sscc_numbers = 1000
        self._found_the_consortium()

    def teardown(self) -> None:
        for node in getattr(self, "nodes", []):
            node.close()
        if hasattr(self, "tmp"):
            self.tmp.cleanup()

    def _found_the_consortium(self) -> None:
        """Members, patients and stock, then the quorum removes `old-supplier`."""
        planned = [
            *(
                Planned(org, "member.enroll", _enrolment(f"{org}/{member}", member, role))
                for org, member, role in MEMBERS
            ),
            *(_registration(self.world, name) for name in PATIENTS),
            *(
                Planned(maker, "supply.commission", _commission(gtin, ["1", "2", "3", "4"]))
                for gtin, maker in GTINS.items()
            ),
            Planned("st-marys", "org.propose", {"action": "remove", "org_id": REMOVED_ORG}),
        ]
        entries = [self._sign(p) for p in planned]
        assert all(r.ok for r in self._block(entries)), "the founding block must succeed"
        proposal = "prop-" + entries[-1][0].id[:16]
        voters = [
            "valley-clinic",
            "city-lab",
            "acme-insurance",
            "medico-pharma",
            "dist-co",
            "med-board",
        ]
        approvals = [Planned(o, "org.approve", {"proposal_id": proposal}) for o in voters]
        assert all(r.ok for r in self._block([self._sign(p) for p in approvals]))
        assert self.world.orgs()[REMOVED_ORG]["status"] == "removed"

    # --- running blocks --------------------------------------------------------------

    def _sign(self, planned: Planned) -> Entry:
        signer = self.world.signers[planned.sender]
        return signer.sign(planned.type, planned.payload), planned.after

    def _block(self, entries: Sequence[Entry], step_ms: int = BLOCK_MS) -> list[TxResult]:
        """Finalize and commit one block on both nodes, then check everything."""
        txs = [tx for tx, _ in entries]
        self.height += 1
        block = BlockInfo(self.height, self.world.time_ms + step_ms, "fuzz")
        first, second = (node.finalize(block, txs) for node in self.nodes)
        results = [result for *_rest, result in first.txs]
        assert first.header == second.header, "the two nodes disagree on the header"
        assert results == [result for *_rest, result in second.txs], "results differ"
        for node in self.nodes:
            node.app.commit()
        stored = {node.store.raw_header(self.height) for node in self.nodes}
        assert len(stored) == 1, "the stored headers differ"
        self.world.committed(block.time_ms)
        self._check_block(txs, results)
        # How far partners' feeds get (pytest --hypothesis-show-statistics).
        for tx, result in zip(txs, results, strict=True):
            if tx.type == "supply.epcis" or tx.type.startswith("credential."):
                hypothesis_event(f"{tx.type}: {result.code}")
        for (_tx, after), result in zip(entries, results, strict=True):
            if after is not None:
                after(result)
        return results

    def _run(self, draw: Draw, planned: Sequence[Planned | Entry]) -> list[TxResult]:
        """Steps in one block, one block each, or cut where hypothesis chooses."""
        how = draw(st.sampled_from(["one", "each", "cut"])) if len(planned) <= 20 else "one"
        results: list[TxResult] = []
        batch: list[Entry] = []
        for index, step in enumerate(planned):
            cut = how == "each" or (how == "cut" and draw(st.booleans()))
            if batch and cut:
                results += self._block(batch)
                batch = []
            # Sign when the step's turn comes, so a rotated key is used once it is current.
            batch.append(step if isinstance(step, tuple) else self._sign(step))
            if index == len(planned) - 1:
                results += self._block(batch)
        return results

    # --- rules: random blocks ------------------------------------------------------------

    @rule(data=st.data())
    def any_block(self, data: st.DataObject) -> None:
        self._random_block(data.draw, sorted(BUILDERS))

    @rule(
        data=st.data(),
        namespace=st.sampled_from(["gov", "records", "supply", "credentials", "credentials"]),
    )
    def domain_block(self, data: st.DataObject, namespace: str) -> None:
        types = sorted(t for t, spec in REGISTRY.items() if spec.namespace == namespace)
        self._random_block(data.draw, types)

    def _random_block(self, draw: Draw, types: Sequence[str]) -> None:
        entries = [
            self._sign(BUILDERS[draw(st.sampled_from(types))](draw, self.world))
            for _ in range(draw(st.integers(1, 6)))
        ]
        if draw(st.integers(0, 9)) == 0:  # the same bytes twice in one block
            entries.append((draw(st.sampled_from([tx for tx, _ in entries])), None))
        self._block(entries)

    @rule(data=st.data())
    def junk_block(self, data: st.DataObject) -> None:
        """A payload with a field dropped, added or replaced, or any JSON, of any type."""
        draw = data.draw
        tx_type = draw(st.sampled_from([*sorted(REGISTRY), "nothing.here"]))
        plausible = BUILDERS.get(tx_type, _nothing)(draw, self.world)
        if likely(draw):
            payload = mangle(draw, plausible.payload)
        else:
            payload = draw(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4))
        # Mostly a sender who may send this type, so the payload itself is what gets judged.
        sender = plausible.sender if likely(draw) else pick(draw, self.world.signers, STRANGER)
        signer = self.world.signers[sender]
        chain = CHAIN if likely(draw) else "another-chain"
        tx = sign_transaction(signer.keys, chain, tx_type, signer.take_nonce(), payload)
        self._block([(tx, None)])

    @precondition(lambda self: bool(self.included))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """Any transaction included earlier, failed or not, is refused when sent again."""
        tx = data.draw(st.sampled_from(self.included))
        (result,) = self._block([(tx, None)])
        assert "nonces" in SKIP or result.code == DUPLICATE_NONCE, (
            f"replayed {tx.type} (nonce {tx.nonce}) got {result.code}: {result.message}"
        )

    @rule()
    def a_day_passes(self) -> None:
        self._block([], step_ms=DAY_MS)

    # --- rules: scenarios that random blocks reach too rarely ---------------------------

    def _fresh_sscc(self) -> str:
        self.sscc_numbers += 1
        return sscc(self.sscc_numbers)

    def _maker(self) -> tuple[str, str]:
        makers = self.world.active_orgs(["manufacturer"]) or ["medico-pharma"]
        maker = "medico-pharma" if "medico-pharma" in makers else makers[0]
        gtin = next((g for g, m in GTINS.items() if m == maker), next(iter(GTINS)))
        return maker, gtin

    def _partner(self, sender: str) -> str:
        partners = [o for o in self.world.active_orgs(["distributor", "pharmacy"]) if o != sender]
        return "dist-co" if "dist-co" in partners else (partners or ["dist-co"])[0]

    def _move(self, draw: Draw, sender: str, target: str) -> list[Planned]:
        """Move a container (and so everything inside it) some way."""
        action = draw(st.sampled_from(["ship", "destroy", "export", "disaggregate", "return"]))
        partner = self._partner(sender)
        if action == "ship":
            return [
                Planned(sender, "supply.ship", {"items": [target], "to": partner}),
                Planned(partner, "supply.receive", {"items": [target]}),
            ]
        if action == "return":
            payload = {"items": [target], "to": partner, "reason": "recalled lot"}
            return [Planned(sender, "supply.return", payload)]
        if action == "destroy":
            return [Planned(sender, "supply.destroy", {"items": [target], "reason": "damaged"})]
        if action == "export":
            return [Planned(sender, "supply.export", {"items": [target], "country": "DE"})]
        return [Planned(sender, "supply.disaggregate", {"sscc": target})]

    @rule(data=st.data(), size=st.integers(2, 4))
    def containers_packed_into_each_other(self, data: st.DataObject, size: int) -> None:
        """Issue 10, attack 1: empty a case, pack it into others, then pack the ring shut."""
        maker, gtin = self._maker()
        ring = [self._fresh_sscc() for _ in range(size)]
        serial = self.world.fresh("ring")
        steps = [
            Planned(maker, "supply.commission", _commission(gtin, [serial])),
            Planned(maker, "supply.aggregate", {"sscc": ring[0], "items": [f"{gtin}:{serial}"]}),
            Planned(maker, "supply.disaggregate", {"sscc": ring[0]}),
            *(
                Planned(maker, "supply.aggregate", {"sscc": outer, "items": [inner]})
                for inner, outer in pairwise(ring)
            ),
            Planned(maker, "supply.aggregate", {"sscc": ring[0], "items": [ring[-1]]}),
            *self._move(data.draw, maker, data.draw(st.sampled_from(ring))),
        ]
        self._run(data.draw, steps)

    @rule(data=st.data(), sold=st.integers(1, 3), shipped=st.integers(1, 3))
    def a_sale_under_its_ti(self, data: st.DataObject, sold: int, shipped: int) -> None:
        """A TI for `sold` packages, `shipped` of them shipped in a case under it and received
        (a match, an over-shipment or a short one), some steps in one block."""
        maker, gtin = self._maker()
        partner = self._partner(maker)
        serials = [self.world.fresh("sale") for _ in range(shipped)]
        case = self._fresh_sscc()
        po = {"type": "po", "id": self.world.fresh("PO-")}
        sale = {
            "buyer": partner,
            "biz_transactions": [po],
            "lines": [{"gtin": gtin, "lot": "L1", "quantity": sold}],
            "statement": STATEMENT_SHA256,
        }
        ship = {"items": [case], "to": partner, "biz_transactions": [po]}
        steps = [
            Planned(maker, "supply.commission", _commission(gtin, serials)),
            Planned(maker, "supply.transaction", sale),
            Planned(
                maker, "supply.aggregate", {"sscc": case, "items": [f"{gtin}:{s}" for s in serials]}
            ),
            Planned(maker, "supply.ship", ship),
            Planned(partner, "supply.receive", {"items": [case]}),
        ]
        self._run(data.draw, steps)

    @rule(data=st.data(), depth=st.integers(2, 12), very=st.integers(0, 19))
    def deep_chain(self, data: st.DataObject, depth: int, very: int) -> None:
        """Containers nested `depth` deep (now and then past any interpreter's stack),
        then the outermost is moved."""
        depth = 1100 if very == 19 else depth
        maker, gtin = self._maker()
        chain = [self._fresh_sscc() for _ in range(depth)]
        serial = self.world.fresh("deep")
        steps = [
            Planned(maker, "supply.commission", _commission(gtin, [serial])),
            Planned(maker, "supply.aggregate", {"sscc": chain[0], "items": [f"{gtin}:{serial}"]}),
            *(
                Planned(maker, "supply.aggregate", {"sscc": outer, "items": [inner]})
                for inner, outer in pairwise(chain)
            ),
            *self._move(data.draw, maker, chain[-1]),
        ]
        self._run(data.draw, steps)

    @rule(data=st.data(), count=st.sampled_from([12, 150]))
    def big_pallet(self, data: st.DataObject, count: int) -> None:
        """Many packages in cases on one pallet, moved as one."""
        maker, gtin = self._maker()
        prefix = self.world.fresh("bp") + "-"
        serials = [f"{prefix}{n}" for n in range(count)]
        cases = [serials[i : i + 50] for i in range(0, count, 50)]
        case_ids = [self._fresh_sscc() for _ in cases]
        pallet = self._fresh_sscc()
        steps = [
            Planned(maker, "supply.commission", _commission(gtin, serials)),
            *(
                Planned(
                    maker,
                    "supply.aggregate",
                    {"sscc": case, "items": [f"{gtin}:{s}" for s in case_serials]},
                )
                for case, case_serials in zip(case_ids, cases, strict=True)
            ),
            Planned(maker, "supply.aggregate", {"sscc": pallet, "items": case_ids}),
            *self._move(data.draw, maker, pallet),
        ]
        self._run(data.draw, steps)

    @rule(data=st.data(), action=st.sampled_from(["remove", "add"]))
    def duplicate_proposals(self, data: st.DataObject, action: str) -> None:
        """Issue 10, attack 2: two proposals on one target, both voted through."""
        draw = data.draw
        orgs = sorted(self.world.active_orgs()) or sorted(FOUNDERS)
        if action == "remove":
            payload: dict[str, Any] = {"action": "remove", "org_id": draw(st.sampled_from(orgs))}
            payloads = [payload, payload]
        else:
            target = draw(st.sampled_from(sorted(CANDIDATES)))
            keys = [keys_for(target), keys_for(f"{target}/other")]
            payloads = [
                {
                    "action": "add",
                    "org": org_spec(target, CANDIDATES[target], k, validator_key(target)),
                }
                for k in (keys if draw(st.booleans()) else keys[:1] * 2)
            ]
        proposers = draw(st.lists(st.sampled_from(orgs), min_size=2, max_size=2))
        proposals = [
            self._sign(Planned(o, "org.propose", p))
            for o, p in zip(proposers, payloads, strict=True)
        ]
        ids = ["prop-" + tx.id[:16] for tx, _ in proposals]
        voters = draw(st.lists(st.sampled_from(orgs), min_size=1, max_size=len(orgs)))
        votes = [
            Planned(voter, "org.approve", {"proposal_id": proposal})
            for voter in voters
            for proposal in (ids if draw(st.booleans()) else ids[::-1])
        ]
        self._run(draw, [*proposals, *votes])

    @rule(data=st.data())
    def inspector_granted_used_withdrawn(self, data: st.DataObject) -> None:
        """A quorum grants an organisation `inspector`, it passes it to a member, both
        quarantine, the quorum withdraws it, both try again: each step in its own block.
        Whoever holds it may quarantine; whoever does not (no regulator here) may not."""
        draw = data.draw
        world = self.world
        target = draw(st.sampled_from(sorted(o for o in world.active_orgs() if o != "fda")))
        members = [m for m in world.members() if m.startswith(target + "/") and m in world.signers]
        member = draw(st.sampled_from(sorted(members))) if members else None
        for action in ("grant", "withdraw"):
            executed = self._quorum_on_capability(draw, target, action)
            if member is not None and action == "grant":
                payload = {"action": "grant", "member_id": member.split("/", 1)[1]}
                payload["capability"] = "inspector"
                self._block([self._sign(Planned(target, "member.capability", payload))])
            for sender in [target, member] if member is not None else [target]:
                holds = sender in world.holders("inspector")
                who = "org" if sender == target else "member"
                hypothesis_event(f"inspector {action}: {who} {holds}")
                assert not (holds and executed and action == "withdraw"), f"{sender} kept it"
                (result,) = self._block([self._sign(supply_quarantine_by(draw, world, sender))])
                if holds:
                    assert result.code != "unauthorized", (sender, result)
                elif result.code not in ("revoked_sender", "unknown_sender"):
                    assert result.code == "unauthorized", (sender, result)

    @rule(data=st.data())
    def a_record_moves(self, data: st.DataObject) -> None:
        """A custodian offers a record to another keeper of records, its patient accepts:
        the record changes hands (random blocks rarely line both up)."""
        draw, world = data.draw, self.world
        movable = [
            (r_id, r)
            for r_id, r in sorted(world.records().items())
            if r["status"] != "shredded" and r["patient"] in world.patient_names
        ]
        if not movable:
            return
        record_id, record = draw(st.sampled_from(movable))
        others = [o for o in world.active_orgs(CUSTODIAN_ROLES) if o != record["custodian"]]
        if not others or record["custodian"] not in world.signers:
            return
        successor = draw(st.sampled_from(others))
        offer = {"successor": successor, "records": {record_id: WRAPPED_KEY}}
        (offered,) = self._block([self._sign(Planned(record["custodian"], "custody.offer", offer))])
        patient = world.patient_names[record["patient"]]
        accept = {
            "patient": record["patient"],
            "successor": successor,
            "records": {record_id: None},
        }
        (accepted,) = self._block([self._sign(Planned(patient, "custody.accept", accept))])
        if offered.ok and accepted.code not in ("revoked_sender", "unknown_sender"):
            assert accepted.ok, (record_id, accepted.code, accepted.message)
            assert self.world.records()[record_id]["custodian"] == successor

    @rule(data=st.data())
    def racing_gln_claims(self, data: st.DataObject) -> None:
        """Two organisations claim one GLN and every other organisation approves both, in
        any order, in one block or several: one of them holds it after, never both."""
        draw, world = data.draw, self.world
        orgs = sorted(world.active_orgs())
        first, second = draw(st.lists(st.sampled_from(orgs), min_size=2, max_size=2, unique=True))
        contested = draw(st.sampled_from(GLN_POOL))
        claims = [
            self._sign(Planned(org, "gln.claim", {"locations": [contested]}))
            for org in (first, second)
        ]
        ids = ["prop-" + tx.id[:16] for tx, _ in claims]
        votes = [
            Planned(voter, "org.approve", {"proposal_id": proposal})
            for proposal in (ids if draw(st.booleans()) else ids[::-1])
            for voter in orgs
            if voter not in (first, second)
        ]
        self._run(draw, [*claims, *votes])
        statuses = [world.proposals().get(p, {}).get("status") for p in ids]
        hypothesis_event(f"racing GLN claims: {sorted(map(str, statuses))}")
        assert statuses.count("executed") <= 1, statuses

    def _quorum_on_capability(self, draw: Draw, target: str, action: str) -> bool:
        """Propose, and every other organisation approves; whether the proposal executed
        (the proposer may have one open already, the change may be no change)."""
        voters = [o for o in self.world.active_orgs() if o != target]
        proposer = draw(st.sampled_from(voters))
        payload = {"action": action, "org_id": target, "capability": "inspector"}
        entry = self._sign(Planned(proposer, "capability.propose", payload))
        proposal = "prop-" + entry[0].id[:16]
        approvals = [
            Planned(v, "org.approve", {"proposal_id": proposal}) for v in voters if v != proposer
        ]
        self._run(draw, [entry, *approvals])
        return bool(self.world.proposals().get(proposal, {}).get("status") == "executed")

    @rule(data=st.data(), action=st.sampled_from(["suspend", "revoke"]))
    def a_licence_suspended_under_privileges(self, data: st.DataObject, action: str) -> None:
        """A board licenses a member, two carers grant privileges on it, the board suspends
        or revokes it, reinstates it, a carer reinstates its privilege: some in one block."""
        draw, world = data.draw, self.world
        boards = world.active_orgs(["board"])
        carers = world.active_orgs(["hospital", "clinic"])
        members = sorted(world.members())
        if not boards or not carers or not members:
            return
        board, subject = draw(st.sampled_from(boards)), draw(st.sampled_from(members))
        local = world.fresh("lic")
        licence = f"{board}:{local}"
        now = world.next_time_ms()

        def issue(sender: str, local_id: str, kind: str, depends_on: list[str]) -> Planned:
            payload = {
                "local_id": local_id,
                "subject": subject,
                "type": kind,
                "scope": "general practice",
                "jurisdiction": "US-MA",
                "valid_from_ms": now,
                "valid_until_ms": now + draw(st.sampled_from([DAY_MS, 30 * DAY_MS])),
                "hash": "ab" * 32,
                "depends_on": depends_on,
            }
            return Planned(sender, "credential.issue", payload)

        def change(sender: str, credential_id: str, how: str) -> Planned:
            payload = {"credential_id": credential_id, "action": how, "reason": "review"}
            return Planned(sender, "credential.status", payload)

        privileges = [(carer, f"{carer}:{world.fresh('priv')}") for carer in carers[:2]]
        steps = [
            issue(board, local, "licence", []),
            *(issue(c, p.split(":")[1], "privilege", [licence]) for c, p in privileges),
            change(board, licence, action),
            change(board, licence, "reinstate"),
            change(privileges[0][0], privileges[0][1], "reinstate"),
        ]
        self._run(draw, steps)
        creds = world.credentials()
        if creds.get(licence, {"history": [{}]})["history"][-1].get("status") in (
            "suspended",
            "revoked",
        ):
            for _carer, privilege in privileges:
                if privilege in creds:
                    assert creds[privilege]["history"][-1]["status"] != "active" or any(
                        c["status"] == "active" and c["by"] == _carer
                        for c in creds[privilege]["history"][1:]
                    ), privilege

    @rule(data=st.data())
    def an_external_credential(self, data: st.DataObject) -> None:
        """A regulator registers an external issuer, a member anchors a licence it signed, a
        carer grants a privilege on it, the regulator suspends or revokes it, then removes
        the issuer: some steps in one block."""
        draw, world = data.draw, self.world
        regulators = world.active_orgs(["regulator"])
        carers = world.active_orgs(["hospital", "clinic"])
        members = sorted(m for m in world.members() if m in world.signers)
        if not regulators or not carers or not members:
            return
        regulator, carer = draw(st.sampled_from(regulators)), draw(st.sampled_from(carers))
        subject = draw(st.sampled_from(members))
        handle = draw(st.sampled_from(["legacy-board", "overseas-univ"]))
        local = world.fresh("ext")
        now = world.next_time_ms()
        fields = {
            "subject": subject,
            "scope": "general practice",
            "jurisdiction": "GB",
            "valid_from_ms": now,
            "valid_until_ms": now + draw(st.sampled_from([DAY_MS, 30 * DAY_MS])),
            "hash": "cd" * 32,
        }
        register = {
            "handle": handle,
            "did": did_key(keys_for(f"external/{handle}/0").key_id),
            "name": "Legacy",
            "types": ["licence", "degree"],
            "jurisdiction": "GB",
        }
        change = draw(st.sampled_from(["suspend", "revoke"]))
        steps = [
            Planned(regulator, "credential.issuer_register", register),
            Planned(
                draw(st.sampled_from([subject, subject.split("/")[0]])),
                "credential.accept",
                {**fields, "local_id": local, "type": "licence", "issuer": handle},
            ),
            Planned(
                carer,
                "credential.issue",
                {
                    **fields,
                    "local_id": world.fresh("priv"),
                    "type": "privilege",
                    "depends_on": [f"{handle}:{local}"],
                },
            ),
            Planned(
                regulator,
                "credential.status",
                {"credential_id": f"{handle}:{local}", "action": change, "reason": "fraud"},
            ),
            Planned(regulator, "credential.issuer_remove", {"handle": handle}),
        ]
        self._run(draw, steps)

    # --- what must hold after every block ---------------------------------------------------

    def _check_block(self, txs: Sequence[Transaction], results: Sequence[TxResult]) -> None:
        """Every invariant, by name; state ones first (a nonce slip would hide them)."""
        world = self.world
        checks: dict[str, Callable[[], None]] = {
            "governance": lambda: self._check_governance(results),
            "containers": lambda: check_containers(world.packages(), world.containers()),
            "transactions": lambda: check_transactions(world),
            "records": lambda: check_records(world, self.genesis.limits.break_glass_per_day),
            "credentials": lambda: check_credentials(world),
            "credential_file": lambda: check_credential_file(world),
            "messages": lambda: check_messages_are_ours(txs, results),
            "nonces": lambda: self._check_nonces(txs, results),
        }
        for name, check in checks.items():
            if name not in SKIP:
                check()

    def _check_governance(self, results: Sequence[TxResult]) -> None:
        self._check_governance_events(results)
        check_active_orgs(self.world)
        check_validator_keys(self.world)
        check_capabilities(self.world)
        check_capability_events(self.world, results)
        check_glns(self.world)

    def _check_nonces(self, txs: Sequence[Transaction], results: Sequence[TxResult]) -> None:
        """Every included transaction of this chain uses up its nonce, whatever its result."""
        store = self.nodes[0].store
        for tx, result in zip(txs, results, strict=True):
            if tx.chain != CHAIN:
                continue
            used_before = (tx.sender, tx.nonce) in self.used_nonces
            assert (result.code == DUPLICATE_NONCE) == used_before, (
                f"{tx.type} nonce {tx.nonce}: {'a replay' if used_before else 'fresh'},"
                f" got {result.code}: {result.message}"
            )
            record = nonces.load_nonce(store.state_get, tx.sender)
            assert _nonce_used(record, tx.nonce), (
                f"{tx.type} ({result.code}) did not consume nonce {tx.nonce}: it can be replayed"
            )
            if not used_before:
                self.used_nonces.add((tx.sender, tx.nonce))
                self.included.append(tx)

    def _check_governance_events(self, results: Sequence[TxResult]) -> None:
        for event in (e for result in results for e in result.events):
            if event["type"] == "org.admitted":
                self.admitted[event["org"]] += 1
                assert self.admitted[event["org"]] == 1, f"{event['org']} admitted twice"
            elif event["type"] == "org.removed":
                self.removed[event["org"]] += 1
                assert self.removed[event["org"]] == 1, f"{event['org']} removed twice"
            elif event["type"] == "validator.update":
                change = (event["org"], "up" if event["power"] > 0 else "down")
                self.validator_changes[change] += 1
                assert self.validator_changes[change] == 1, f"validator {change} sent twice"


TestRandomSequences = RandomSequences.TestCase
TestRandomSequences.settings = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "50")),
    stateful_step_count=int(os.environ.get("FUZZ_STEPS", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_every_transaction_type_has_a_builder() -> None:
    """A new transaction type joins the random sequences, or this fails."""
    assert set(BUILDERS) == set(REGISTRY)


# --- payloads the scenarios share ---------------------------------------------------------


def _enrolment(name: str, member_id: str, role: str) -> dict[str, Any]:
    keys = keys_for(name)
    return {
        "member_id": member_id,
        "name": member_id,
        "role": role,
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }


def _registration(world: World, name: str) -> Planned:
    keys = world.signers[name].keys
    world.patient_names[derive_patient_id(keys.key_id)] = name
    return Planned(name, "patient.register", patient_register_payload(keys, CHAIN))


def _nothing(draw: Draw, world: World) -> Planned:
    """A type no domain offers, from anyone."""
    return Planned(pick(draw, world.signers, STRANGER), "nothing.here", {})


def _commission(gtin: str, serials: list[str]) -> dict[str, Any]:
    return {"gtin": gtin, "lot": "L1", "expiry": LOTS["L1"], "serials": serials}


# --- invariants ------------------------------------------------------------------------------


def _nonce_used(record: nonces.NonceRecord | None, nonce: int) -> bool:
    try:
        nonces.check_nonce(record, nonce)
    except DuplicateNonce:
        return True
    return False


def check_capabilities(world: World) -> None:
    """An organisation holds only declared capabilities, each by an executed grant of it;
    a member only capabilities its organisation was granted at some point."""
    proposals = world.proposals()
    for holder, record in world.capabilities().items():
        assert record["granted"], f"{holder}: an empty capability record is kept"
        for name, grant in record["granted"].items():
            assert name in CAPABILITIES, f"{holder} holds undeclared capability {name}"
            proposal = proposals[grant]
            org = holder.split("/", 1)[0]
            assert (proposal["action"], proposal["org_id"], proposal["capability"]) == (
                "grant",
                org,
                name,
            ), f"{holder}'s {name} does not come from a grant to {org}"
            assert proposal["status"] == "executed", f"{holder}'s {name}: grant not executed"


def check_glns(world: World) -> None:
    """The two GLN records agree both ways; a GLN has one holder, an active organisation
    holding at most one party GLN and MAX_LOCATION_GLNS locations."""
    holders, by_org = world.gln_holders(), world.org_glns()
    active = set(world.active_orgs())
    for gln, holder in holders.items():
        org = holder["org"]
        assert org in active, f"GLN {gln} held by {org}, not an active organisation"
        held = by_org.get(org, {"party": None, "locations": []})
        named = held["party"] if holder["kind"] == "party" else held["locations"]
        assert gln == named or gln in named, f"GLN {gln} of {org} is not in its GLNs"
    for org, held in by_org.items():
        listed = [*([held["party"]] if held["party"] else []), *held["locations"]]
        assert listed, f"{org} keeps an empty GLN record"
        assert len(held["locations"]) <= MAX_LOCATION_GLNS
        for gln in listed:
            assert holders.get(gln, {}).get("org") == org, f"{org} lists {gln}, not its own"


def check_capability_events(world: World, results: Sequence[TxResult]) -> None:
    """The block's last grant or withdrawal of an organisation's capability is what it holds."""
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for event in (e for result in results for e in result.events):
        if event["type"] in ("capability.granted", "capability.withdrawn"):
            last[(event["org"], event["capability"])] = event
    caps = world.capabilities()
    for (org, name), event in last.items():
        held = caps.get(org, {"granted": {}})["granted"].get(name)
        expected = event["proposal"] if event["type"] == "capability.granted" else None
        assert held == expected, f"{org} {name}: holds {held} after {event['type']}"


def check_messages_are_ours(txs: Sequence[Transaction], results: Sequence[TxResult]) -> None:
    for tx, result in zip(txs, results, strict=True):
        for phrase in LIBRARY_WORDING:
            assert phrase not in result.message, (
                f"{tx.type} result carries a library's text ({result.code}): {result.message}"
            )


def check_active_orgs(world: World) -> None:
    active = sum(1 for org in world.orgs().values() if org["status"] == "active")
    stats = parse_json(world.store.state_get("gov", "stats") or b"{}")
    assert stats["active_orgs"] == active, (
        f"stats say {stats['active_orgs']} active organisations, the records say {active}"
    )


def check_validator_keys(world: World) -> None:
    keys = [
        org["validator"]["pub_key"]
        for org in world.orgs().values()
        if org["status"] == "active" and org.get("validator")
    ]
    assert len(keys) == len(set(keys)), "two active organisations validate with one key"


def check_containers(packages: dict[str, Any], containers: dict[str, Any]) -> None:
    """Every item is in exactly one place; contents share their container's custody."""
    items = {**packages, **containers}
    listed_in: dict[str, list[str]] = defaultdict(list)
    for sscc_id, container in containers.items():
        for child in container["children"]:
            listed_in[child].append(sscc_id)
            assert child in items, f"{sscc_id} holds {child}, which does not exist"
            custody = [(r["owner"], r["status"], r["to"]) for r in (container, items[child])]
            assert custody[0] == custody[1], (
                f"{child} inside {sscc_id}: custody {custody[1]} differs from {custody[0]}"
            )
    for item, record in items.items():
        expected = [] if record["container"] is None else [record["container"]]
        assert listed_in.get(item, []) == expected, (
            f"{item} says it is in {record['container']}; containers listing it:"
            f" {listed_in.get(item, [])}"
        )
    levels = container_levels(containers)
    deepest = max(levels.values(), default=0)
    assert deepest <= MAX_NESTING, f"containers nested {deepest} deep (at most {MAX_NESTING})"


def check_transactions(world: World) -> None:
    """Under a TI nothing is received that was not shipped; "matched" means all arrived as
    listed; a shipment's link names an item still on its way (or destroyed on the way)."""
    for ti_id, record in world.transactions().items():
        hypothesis_event(f"a TI is {record['status']}")
        for line in record["lines"]:
            assert line["received"] <= line["shipped"], f"{ti_id}: received more than shipped"
        if record["status"] == "matched":
            assert all(line["received"] == line["quantity"] for line in record["lines"]), ti_id
            assert all(line["shipped"] == line["received"] for line in record["lines"]), ti_id
    items = world.items()
    for item, link in world.scan("supply", "tiship/").items():
        record = items[item]
        on_its_way = (record["status"], record["to"]) == ("in_transit", link["to"])
        assert on_its_way or record["status"] == "destroyed", f"{item}: stale link to {link}"


def container_levels(containers: dict[str, Any]) -> dict[str, int]:
    """How many container levels each container spans (1 = holds only packages), walking
    iteratively; an assertion names a container that (indirectly) holds itself."""

    def inner(sscc_id: str) -> list[str]:
        return [c for c in containers[sscc_id]["children"] if c in containers]

    levels: dict[str, int] = {}
    for root in sorted(containers):
        if root in levels:
            continue
        path = {root}
        stack = [(root, iter(inner(root)))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.discard(node)
                levels[node] = 1 + max((levels[c] for c in inner(node)), default=0)
            elif child in path:
                raise AssertionError(f"container cycle: {child} holds itself through {node}")
            elif child not in levels:
                path.add(child)
                stack.append((child, iter(inner(child))))
    return levels


def check_records(world: World, break_glass_per_day: int) -> None:
    check_blobs_registered_once(world.records())
    check_break_glass(world, break_glass_per_day)
    check_donation_counts(world)
    check_donation_questions(world)
    check_custody_chains(world.records(), world.orgs())


def check_donation_counts(world: World) -> None:
    """The counters kept by the handlers equal a recount of the decisions (the reference),
    and each patient keeps at most MAX_VERSIONS versions, the newest the current one."""
    rows = world.scan("records", "donation/")
    current = {key: value for key, value in rows.items() if "/" not in key}
    recount = Counter(
        f"{d['counted_under']}/{'withdrawn' if d['status'] == 'withdrawn' else d['decision']}"
        for d in current.values()
    )
    assert dict(recount) == world.scan("records", "donation_count/")
    for patient, decision in current.items():
        versions = sorted(k for k in rows if k.startswith(patient + "/"))
        assert 0 < len(versions) <= MAX_VERSIONS, f"{patient} keeps {len(versions)} versions"
        assert rows[versions[-1]] == decision, f"{patient}'s newest version is not current"
        if decision["decision"] == "do_not_donate":
            assert decision["organs"] == []
        else:
            organs = decision["organs"]
            assert organs and len(set(organs)) == len(organs)
            assert organs == ["all"] or "all" not in organs


def check_donation_questions(world: World) -> None:
    """Only coordinators of care-giving organisations asked, for `transplant`."""
    orgs = world.orgs()
    for event in world.scan("records", "audit/").values():
        if event["action"] != "donation":
            continue
        reader = event["reader"]
        assert reader["role"] == "coordinator", f"{reader['id']} asked for a donation decision"
        assert orgs[reader["org"]]["role"] in CARE_GIVING
        assert event["purpose"] == "transplant" and event["custodian"] == reader["org"]


def check_custody_chains(records: dict[str, Any], orgs: dict[str, Any]) -> None:
    """Each move starts where the last ended, goes to an organisation that keeps records,
    and the last one ends at the record's custodian."""
    for record_id, record in records.items():
        holder = None
        for move in record.get("custody", []):
            assert holder in (None, move["custodian"]), f"{record_id}: custody chain breaks"
            assert move["successor"] != move["custodian"], f"{record_id} moved to itself"
            role = orgs[move["successor"]]["role"]
            assert role in CUSTODIAN_ROLES, f"{record_id} moved to a {role}"
            holder = move["successor"]
        assert holder in (None, record["custodian"]), f"{record_id}: history ends elsewhere"


def check_blobs_registered_once(records: dict[str, Any]) -> None:
    counts = Counter(record["blob_id"] for record in records.values())
    twice = sorted(blob for blob, n in counts.items() if n > 1)
    assert not twice, f"blobs registered by more than one record: {twice}"


def check_break_glass(world: World, per_day: int) -> None:
    """Break-glass by care-giving organisations only, within the daily limit per reader."""
    orgs = world.orgs()
    times: dict[str, list[int]] = defaultdict(list)
    for event in world.scan("records", "audit/").values():
        if not event["break_glass"]:
            continue
        reader = event["reader"]
        role = orgs.get(reader["org"] or "", {}).get("role")
        assert role in CARE_GIVING, f"break-glass by {reader['id']} of a {role} organisation"
        times[reader["id"]].append(event["time_ms"])
    for reader_id, moments in times.items():
        assert _most_in_a_day(moments) <= per_day, (
            f"{reader_id} broke the glass {_most_in_a_day(moments)} times in 24 hours"
        )


def _most_in_a_day(moments: Iterable[int]) -> int:
    ordered = sorted(moments)
    start, most = 0, 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - DAY_MS:
            start += 1
        most = max(most, end - start + 1)
    return most


def check_credential_file(world: World) -> None:
    """The file part's records agree with each other (see the module's docstring)."""
    scan = world.scan
    exclusions = scan("credentials", "exclusion/")
    flags = scan("credentials", "flag/")
    for key, flag in flags.items():
        org, _, member = key.partition("/")
        assert (flag["org"], flag["member"]) == (org, member)
        assert flag["regulators"], f"flag {key} names no regulator"
        entries = {e["regulator"]: e for e in exclusions.get(member, {"entries": []})["entries"]}
        for regulator in flag["regulators"]:
            entry = entries.get(regulator)
            assert entry is not None and entry["active"], f"{key}: {regulator} stands not"
            assert org in entry["flagged"]
    for member, record in exclusions.items():
        for entry in record["entries"]:
            assert entry["active"] or not entry["flagged"]
            for org in entry["flagged"]:
                assert entry["regulator"] in flags[f"{org}/{member}"]["regulators"]
    indexed = {
        f"{org}/{member}"
        for org, index in scan("credentials", "flags/").items()
        for member in index["members"]
    }
    assert indexed == set(flags)
    shares = scan("credentials", "share/")
    for member, index in scan("credentials", "shares/").items():
        for share_id in index["live"]:
            share = shares[share_id]
            assert share["member"] == member and share["revoked_ms"] is None
        assert len([s for s in shares.values() if s["member"] == member]) == index["count"]
    for rules in scan("credentials", "cerule/").values():
        starts = [v["effective_from_ms"] for v in rules["versions"]]
        assert starts == sorted(set(starts))
    records = scan("credentials", "psv/")
    made = [v for v in records.values() if isinstance(v, dict)]
    for key, value in records.items():
        if "/by/" in key:  # one verifier's PSVs of a credential
            credential_id, _, org = key.partition("/by/")
            assert value == sum(
                1 for p in made if (p["credential_id"], p["verifier"]) == (credential_id, org)
            ), key
        elif isinstance(value, int):  # a credential's PSV count
            assert {f"{key}/{n}" for n in range(1, value + 1)} <= set(records)
    reuses = scan("credentials", "psvuse/")
    done = [v for v in reuses.values() if isinstance(v, dict)]
    for key, reuse in reuses.items():
        if "/by/" in key:  # one organisation's reuses of a PSV
            psv_id, _, org = key.partition("/by/")
            assert reuse == sum(1 for r in done if (r["psv"], r["by"]) == (psv_id, org)), key
            continue
        psv = records[reuse["psv"]]
        assert key == f"{psv['id']}/{reuse['number']}" and reuse["number"] <= psv["reuses"]
        assert reuse["by"] != psv["verifier"]


def check_credentials(world: World) -> None:
    creds = world.credentials()
    lists = world.scan("credentials", "statuslist/")
    for key, record in lists.items():
        raw = base64.b64decode(record["bits"])
        assert len(raw) * 8 == record["size"] == 131_072, key
        assert hashlib.sha256(raw).hexdigest() == record["bits_hash"], f"{key}: stale hash"
    slots: set[tuple[str, int, int]] = set()
    nexts = world.scan("credentials", "statusnext/")
    for credential_id, anchor in creds.items():
        _check_history(world, credential_id, anchor)
        _check_bits(lists, credential_id, anchor)
        if anchor["status_list"] is not None:
            slot = (anchor["issuer"], anchor["status_list"], anchor["status_index"])
            assert slot not in slots, f"{credential_id} shares slot {slot}"
            slots.add(slot)
            following = nexts[anchor["issuer"]]
            assert (slot[1], slot[2]) < (following["list"], following["index"]), credential_id
        _check_dependencies(creds, credential_id, anchor)
        held = world.scan("credentials", "member/").get(f"{anchor['subject']}/creds", [])
        assert credential_id in held, f"{credential_id} is not in its subject's file"
    _check_key_periods(world, creds)


def _check_history(world: World, credential_id: str, anchor: dict[str, Any]) -> None:
    history = anchor["history"]
    assert history[0]["status"] == "active" and history[0]["by"] == anchor["issuer"]
    assert len(history) <= 64, f"{credential_id}: {len(history)} status changes"
    for before, after in pairwise(history):
        assert before["time_ms"] <= after["time_ms"], f"{credential_id}: history goes back"
        assert before["height"] <= after["height"], credential_id
        assert before["status"] != "revoked", f"{credential_id}: a change after revocation"
    for change in history:
        assert (change["status"] == "expired") == (change["by"] == "expiry"), credential_id
        if change["status"] == "expired":
            assert change["time_ms"] == anchor["valid_until_ms"], credential_id
    until = anchor["valid_until_ms"]
    # expired by the first block of the hour after, with a budget to spare in these tests
    if until is not None and until + 3_600_000 <= world.time_ms:
        assert any(c["status"] in ("expired", "revoked") for c in history), (
            f"{credential_id} is past its validity and not expired"
        )


def _check_bits(lists: dict[str, Any], credential_id: str, anchor: dict[str, Any]) -> None:
    if anchor["external"] or anchor["status_list"] is None:
        assert anchor["external"] and anchor["status_list"] is None, credential_id
        return
    index, statuses = anchor["status_index"], [c["status"] for c in anchor["history"]]
    bits = {}
    for purpose in ("revocation", "suspension"):
        raw = base64.b64decode(
            lists[f"{anchor['issuer']}/{purpose}/{anchor['status_list']}"]["bits"]
        )
        bits[purpose] = bool(raw[index // 8] & (0x80 >> (index % 8)))
    suspended = statuses[-1] == "suspended" or statuses[-2:] == ["suspended", "expired"]
    assert bits == {"revocation": statuses[-1] == "revoked", "suspension": suspended}, (
        f"{credential_id} is {statuses[-1]} but its bits say {bits}"
    )


def _check_dependencies(creds: dict[str, Any], credential_id: str, anchor: dict[str, Any]) -> None:
    """Not active while a dependency is suspended or revoked, unless its issuer (or the
    regulator of an external issuer) reinstated it since."""
    if anchor["history"][-1]["status"] != "active":
        return
    for dependency_id in anchor["depends_on"]:
        dependency = creds[dependency_id]
        last = dependency["history"][-1]
        if last["status"] not in ("suspended", "revoked"):
            continue
        since = [c for c in anchor["history"][1:] if c["height"] >= last["height"]]
        assert any(
            c["status"] == "active" and not c["by"].startswith(("cascade:", "expiry"))
            for c in since
        ), f"{credential_id} is active while {dependency_id} is {last['status']}"


def _check_key_periods(world: World, creds: dict[str, Any]) -> None:
    periods = world.scan("credentials", "issuerkeys/")
    for issuer, record in periods.items():
        keys = record["keys"]
        assert keys and keys[-1]["until_height"] is None, issuer
        for before, after in pairwise(keys):
            assert before["until_height"] == after["first_height"], issuer
            assert before["last_height"] <= after["first_height"], issuer
    for credential_id, anchor in creds.items():
        if anchor["external"]:
            continue
        named = [p for p in periods[anchor["issuer"]]["keys"] if p["key"] == anchor["issuer_key"]]
        assert any(
            p["first_height"] <= anchor["issued_height"] <= p["last_height"] for p in named
        ), f"{credential_id}: its key has no period covering its issuance"
