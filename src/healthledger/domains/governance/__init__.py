"""Governance: organisations, their members, keys, patients and admission by quorum."""

from __future__ import annotations

from healthledger.domains.governance import handlers as h
from healthledger.domains.governance import messages as m
from healthledger.domains.governance.state import NAMESPACE
from healthledger.ledger.context import TxSpec

TX_SPECS: tuple[TxSpec, ...] = (
    TxSpec(
        "org.propose", NAMESPACE, m.OrgPropose, h.propose_org, "propose adding or removing an org"
    ),
    TxSpec("org.approve", NAMESPACE, m.OrgApprove, h.approve_org, "approve an open proposal"),
    TxSpec("member.enroll", NAMESPACE, m.MemberEnroll, h.enroll_member, "enrol a person"),
    TxSpec("member.revoke", NAMESPACE, m.MemberRevoke, h.revoke_member, "revoke a person"),
    TxSpec("key.rotate", NAMESPACE, m.KeyRotate, h.rotate_key, "replace the sender's keys"),
    TxSpec(
        "patient.register", NAMESPACE, m.PatientRegister, h.register_patient, "register a patient"
    ),
    TxSpec(
        "patient.guardians",
        NAMESPACE,
        m.PatientGuardians,
        h.set_guardians,
        "name the guardians who can restore a lost key",
    ),
    TxSpec(
        "patient.recover",
        NAMESPACE,
        m.PatientRecover,
        h.recover_patient,
        "a guardian vouches for a patient's new keys",
    ),
)

__all__ = ["NAMESPACE", "TX_SPECS"]
