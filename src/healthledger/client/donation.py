"""SDK for organ-donation decisions: the patient's transactions, the coordinator's audited
question, the public counts; every answer checked against its proofs here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from healthledger.app.views import StateView, TxView
from healthledger.client.sdk import Client, verify_tx_view
from healthledger.domains.records.donation import (
    DonationCounts,
    DonationState,
    DonationStatus,
    donation_key,
)
from healthledger.domains.records.state import NAMESPACE
from healthledger.errors import InvalidProof


def decide_payload(
    patient: str,
    organs: Sequence[str],
    decision: str,
    research: bool,
    appointment_id: str | None,
) -> dict[str, Any]:
    """A `donation.decide` payload; the chain refuses what the vocabulary does not hold."""
    payload: dict[str, Any] = {
        "patient": patient,
        "decision": decision,
        "organs": list(organs),
        "research": research,
    }
    if appointment_id is not None:
        payload["appointment_id"] = appointment_id
    return payload


def withdraw_payload(patient: str, appointment_id: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"patient": patient}
    if appointment_id is not None:
        payload["appointment_id"] = appointment_id
    return payload


def verify_status(client: Client, answer: DonationStatus, reader_key: str) -> None:
    """The answer is read from the proven state, after a proven access event of ours."""
    _verify_receipt(answer, reader_key)
    client.prove_tx(TxView.model_validate(answer.receipt), answer.access.tx_id)
    view = StateView.model_validate(answer.state)
    client.prove_state(view, NAMESPACE, donation_key(answer.patient))
    decision = None if view.value is None else DonationState.model_validate(view.value)
    expected = DonationStatus.fields_of(decision)
    shown = answer.model_dump(mode="json", include=set(expected))
    if shown != expected:
        raise InvalidProof("the donation answer differs from the proven decision")


def _verify_receipt(answer: DonationStatus, reader_key: str) -> None:
    receipt = answer.receipt
    verify_tx_view(receipt)
    tx = receipt.get("tx")
    result = receipt.get("result")
    payload = tx.get("payload") if isinstance(tx, dict) else None
    if (
        not isinstance(tx, dict)
        or not isinstance(payload, dict)
        or not isinstance(result, dict)
        or tx.get("type") != "record.access"
        or payload.get("action") != "donation"
        or payload.get("patient") != answer.patient
        or payload.get("reader") != reader_key
        or result.get("code") != "ok"
        or receipt.get("id") != answer.access.tx_id
    ):
        raise InvalidProof("the access receipt is not for this question")


def verified_counts(client: Client) -> DonationCounts:
    """The public counts, each shown count proven against the client's trust anchor."""
    counts = DonationCounts.model_validate(client._call("GET", "/v1/donation/counts"))
    for row in counts.rows:
        if row.proof is None:
            if not row.suppressed:
                raise InvalidProof(f"count {row.org}/{row.decision} comes without its proof")
            continue
        view = StateView.model_validate(row.proof.model_dump(mode="json"))
        client.prove_state(view, NAMESPACE, f"donation_count/{row.org}/{row.decision}")
        if view.value != row.count:
            raise InvalidProof(f"count {row.org}/{row.decision} differs from its proof")
    return counts


__all__ = [
    "decide_payload",
    "verified_counts",
    "verify_status",
    "withdraw_payload",
]
