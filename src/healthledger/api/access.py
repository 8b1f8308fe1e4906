"""Who may read what through the node's API: public views, the members' ledger, one's own data.

Three kinds of route (the table is in docs/api.md):

- public: what a light client or a pharmacy's scanner needs and that names no
  person — node info, genesis, block headers, consistency proofs, consensus
  headers, package verification;
- ledger: raw blocks, transactions, state and senders' histories, which link
  patient pseudonyms to diagnosis codes, consents and accesses: only signed
  requests of member organisations (any active organisation key, regulators
  included) and of their auditors (members enrolled with the role `auditor`);
- self: a person reads their own transactions, nonce and key record, the
  chain entries of records the records policy lets them locate, and the
  consortium's directory (organisations and their people: whom to consent to).

Every signed read goes through `ReadGuard.signed`, which checks it with the
node's one `RequestAuthenticator` (node/custodian/auth.py), the same that
checks the requests to the custodian's vault.
"""

from __future__ import annotations

from fastapi import Request

from healthledger.app.reader import SnapshotReader
from healthledger.crypto.signed_request import SignedRequest
from healthledger.domains.governance import queries as gov_queries
from healthledger.domains.governance import state as gov
from healthledger.domains.records import queries as records
from healthledger.domains.records import state as records_state
from healthledger.errors import LedgerError, NotFound, Unauthorized
from healthledger.ledger.context import Actor, StateReader
from healthledger.ledger.store import Store
from healthledger.node.custodian.auth import RequestAuthenticator
from healthledger.node.node import Node

AUDITOR_ROLE = "auditor"
NONCE_NAMESPACE = "nonce"


def request_target(request: Request) -> str:
    """The path with its query string, exactly as the client signed and sent it.

    The raw path, still percent-encoded: a GS1 serial or lot may hold `/`, `?` or `%`,
    which a client sends encoded; the decoded path would not be what it signed.
    """
    raw_path = request.scope.get("raw_path")
    path = request.url.path if raw_path is None else raw_path.decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    return path + (f"?{query}" if query else "")


def is_ledger_reader(actor: Actor) -> bool:
    """Member organisations (regulators included) and auditors read the raw ledger."""
    return actor.kind == "org" or (actor.kind == "member" and actor.role == AUDITOR_ROLE)


class ReadGuard:
    """The route guards of the read side, over one node's store."""

    def __init__(self, node: Node, auth: RequestAuthenticator | None = None) -> None:
        self.node = node
        self.store: Store = node.store
        self.auth = auth or RequestAuthenticator(node)

    def signed(self, request: Request) -> SignedRequest:
        """The one authentication function of reads: a fresh, unreplayed, valid signature."""
        return self.auth.verify(request.headers, request.method, request_target(request))

    def reader(self, signed: SignedRequest) -> Actor:
        """The signer as the ledger knows them now (unknown and revoked keys are refused)."""
        return self.auth.signer(signed)

    def member(self, request: Request) -> Actor:
        """Guard of the members' routes: a signed request of an organisation or an auditor."""
        actor = self.reader(self.signed(request))
        if not is_ledger_reader(actor):
            raise Unauthorized(_members_only(actor))
        return actor

    def tx(self, request: Request) -> SignedRequest:
        """A transaction read is signed; whether the signer may see it is `check_tx`'s call."""
        return self.signed(request)

    def check_tx(self, signed: SignedRequest, sender: str, about: str | None = None) -> None:
        """Members read every transaction; a person reads those they (any of their keys) sent,
        and a patient (or their representative) the access events `about` them: the receipts
        of their accounting of disclosures."""
        if signed.key_id == sender:
            return
        actor = self.reader(signed)
        if is_ledger_reader(actor) or self._same_holder(actor, sender):
            return
        if about is not None and self._patient_side(actor, about):
            return
        raise Unauthorized("this transaction was sent by someone else")

    def _patient_side(self, actor: Actor, patient: str) -> bool:
        """The patient, or a representative who may read their books (as the audit route)."""
        if actor.kind == "patient" and actor.id == patient:
            return True
        with self.store.snapshot():
            ledger = SnapshotReader(self.store)
            file = records.patient_file(ledger, patient)
            now = ledger.block_time_ms(ledger.height) if ledger.height else 0
        return records.appointment_for(file, actor, "read", now) is not None

    def sender(self, request: Request, key_id: str) -> None:
        """A sender's history: members, or the holder of that key."""
        signed = self.signed(request)
        if signed.key_id == key_id:
            return
        actor = self.reader(signed)
        if not (is_ledger_reader(actor) or self._same_holder(actor, key_id)):
            raise Unauthorized(_members_only(actor))

    def state(self, request: Request, namespace: str, key: str) -> None:
        """A state value: members read all; a person what is theirs or the directory."""
        signed = self.signed(request)
        if namespace == NONCE_NAMESPACE and key == signed.key_id:
            return  # a key's own nonce, even before it is registered (self-registration)
        actor = self.reader(signed)
        if is_ledger_reader(actor) or self._own_state(actor, signed, namespace, key):
            return
        raise Unauthorized(_members_only(actor))

    def _own_state(self, actor: Actor, signed: SignedRequest, namespace: str, key: str) -> bool:
        if namespace == gov.NAMESPACE:
            return gov_queries.readable_by_self(actor, signed.key_id, key)
        if namespace == records_state.NAMESPACE and key.startswith("record/"):
            return self._may_locate(actor, key.removeprefix("record/"))
        return False

    def _may_locate(self, actor: Actor, record_id: str) -> bool:
        """A record's chain entry is shown to whoever the records policy lets locate it,
        and to whoever has an audited read of it (a break-glass reader checking what they read)."""
        with self.store.snapshot():
            ledger = SnapshotReader(self.store)
            try:
                patient = records.record(ledger.state, record_id).patient
            except NotFound:
                return False
            file = records.patient_file(ledger, patient)
            height = ledger.height
            now = ledger.block_time_ms(height) if height else 0
            audit = records.audit_trail(ledger, patient)
            country = gov_queries.org_country(ledger.state, actor.org)
        try:
            shown = records.locatable_records(file, actor, None, now, country)
        except LedgerError:  # no standing with this patient at all
            shown = []
        return any(entry.id == record_id for entry in shown) or any(
            event.action == "read"
            and event.record == record_id
            and (event.reader.kind, event.reader.id) == (actor.kind, actor.id)
            for event in audit
        )

    def _same_holder(self, actor: Actor, key_id: str) -> bool:
        """Whether `key_id` is (or was, before a rotation) a key of this actor."""
        return gov_queries.same_holder(StateReader(self.store.state_get), actor, key_id)


def _members_only(actor: Actor) -> str:
    return (
        f"{actor.permission} may not read the raw ledger: it is for member organisations "
        "and auditors; people read their own data through /v1/records, /v1/consents and /v1/audit"
    )


__all__ = ["ReadGuard", "is_ledger_reader", "request_target"]
