"""A transplant coordinator's question, answered by their own organisation's node.

"Is there a current organ-donation decision for this patient, and what is it?" is
answered only after the `record.access` event (action `donation`) that records it
in the patient's accounting of disclosures has committed, in a block whose handler
re-checked the coordinator, their organisation and the purpose. The node must
hold the coordinator's organisation's key, as for a break-glass search.
"""

from __future__ import annotations

from pydantic import ValidationError

from healthledger.app import queries
from healthledger.app.registry import first_problem
from healthledger.crypto.signed_request import SignedRequest
from healthledger.domains.governance import queries as gov
from healthledger.domains.records import policy
from healthledger.domains.records.donation import (
    DonationState,
    DonationStatus,
    donation_key,
)
from healthledger.domains.records.errors import NotThisVault, PatientNotFound
from healthledger.domains.records.messages import ReaderIntent, RecordAccess
from healthledger.domains.records.replies import AccessSummary
from healthledger.domains.records.state import NAMESPACE
from healthledger.errors import InvalidField
from healthledger.ledger.context import Actor
from healthledger.node.custodian import payloads
from healthledger.node.custodian.prepared import PreparedAccess
from healthledger.node.custodian.service import RecordService
from healthledger.node.custodian.signer import Committed, OrgTx


def prepare_donation_query(
    service: RecordService, request: SignedRequest, reader: Actor, patient: str, purpose: str
) -> PreparedAccess:
    """Decide at the latest block whether the coordinator may ask; build the audit event."""
    intent = payloads.reader_intent(request, None)
    state = service._state()
    # Who asks first: whether a patient is registered is not told to anyone else.
    decision = policy.check_coordinator(reader, gov.org_role(state, reader.org), purpose)
    if reader.org is None or not service.holds(reader.org):
        raise NotThisVault("a coordinator asks through their own organisation's node")
    if not gov.patient_exists(state, patient):
        raise PatientNotFound(patient)
    unsigned = donation_access(reader.org, request, reader, patient, purpose, intent)
    return PreparedAccess(unsigned, reader, decision, None)


def finish_donation_query(
    service: RecordService, prepared: PreparedAccess, patient: str, committed: Committed
) -> DonationStatus:
    """The question is on the chain: answer from the state, with its proof and the receipt."""
    service._settle(prepared, committed.result)
    proven = queries.state_view(service.store, NAMESPACE, donation_key(patient), prove=True)
    value = proven.value
    decision = None if value is None else DonationState.model_validate(value)
    return DonationStatus.model_validate(
        {
            "patient": patient,
            **DonationStatus.fields_of(decision),
            "access": AccessSummary(
                tx_id=committed.tx.id,
                height=committed.height,
                basis=prepared.decision.basis,
                consent=None,
                appointment=None,
                break_glass=False,
            ),
            "receipt": queries.tx_view(service.store, committed.tx.id, prove=True).wire(),
            "state": proven.wire(),
        }
    )


def donation_access(
    org: str,
    request: SignedRequest,
    reader: Actor,
    patient: str,
    purpose: str,
    intent: ReaderIntent,
) -> OrgTx:
    """The coordinator's question, recorded by their organisation before it is answered."""
    # Validated, not constructed: the purpose is the reader's own text.
    try:
        payload = RecordAccess.model_validate(
            {
                "action": "donation",
                "patient": patient,
                "reader": reader.key_id,
                "purpose": purpose,
                "basis": "coordinator",
                "request_id": request.request_id,
                "intent": intent,
            }
        )
    except ValidationError as exc:
        raise InvalidField(f"record.access: {first_problem(exc)}") from exc
    return OrgTx(org, "record.access", payload)


__all__ = ["donation_access", "finish_donation_query", "prepare_donation_query"]
