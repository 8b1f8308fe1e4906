"""Governance: organisations, their members, keys, patients, admission and capabilities
by quorum.

A base domain: every other domain may read it through its queries and call its
operations; it uses no other domain.
"""

from __future__ import annotations

from healthledger.domains.governance import handlers as h
from healthledger.domains.governance import messages as m
from healthledger.domains.governance.state import NAMESPACE
from healthledger.domains.governance.views import VIEWS
from healthledger.domains.kit import ANY_MEMBER, ANY_ORG, NEW_KEY, PATIENT, Domain, TxType

ORGS = frozenset({ANY_ORG})
PERSONS = frozenset({PATIENT, ANY_MEMBER})

DOMAIN = Domain(
    name="governance",
    namespace=NAMESPACE,
    base=True,
    summary=(
        "organisations, their members, keys, patients, admission, capabilities and GLNs by quorum"
    ),
    txs=(
        TxType(
            "org.propose", m.OrgPropose, h.propose_org, ORGS, "propose adding or removing an org"
        ),
        TxType("org.approve", m.OrgApprove, h.approve_org, ORGS, "approve an open proposal"),
        TxType(
            "capability.propose",
            m.CapabilityPropose,
            h.propose_capability,
            ORGS,
            "propose granting an org a declared capability, or withdrawing it",
        ),
        TxType(
            "member.capability",
            m.MemberCapability,
            h.member_capability,
            ORGS,
            "pass one of the org's capabilities to a member, or take it back",
        ),
        TxType(
            "org.endpoint",
            m.OrgEndpointPublish,
            h.publish_endpoint,
            ORGS,
            "publish where the sender organisation's node serves and the key it answers with",
        ),
        TxType(
            "gln.claim",
            m.GlnClaim,
            h.claim_glns,
            ORGS,
            "claim GS1 GLNs (party, locations) for the sender; registered at quorum",
        ),
        TxType(
            "gln.release",
            m.GlnRelease,
            h.release_glns,
            ORGS,
            "free the sender's GLNs, or propose freeing another organisation's GLN",
        ),
        TxType("member.enroll", m.MemberEnroll, h.enroll_member, ORGS, "enrol a person"),
        TxType("member.revoke", m.MemberRevoke, h.revoke_member, ORGS, "revoke a person"),
        TxType(
            "key.rotate",
            m.KeyRotate,
            h.rotate_key,
            ORGS | PERSONS,
            "replace the sender's keys",
        ),
        TxType(
            "patient.register",
            m.PatientRegister,
            h.register_patient,
            frozenset({NEW_KEY}),
            "register a patient",
        ),
        TxType(
            "patient.guardians",
            m.PatientGuardians,
            h.set_guardians,
            frozenset({PATIENT}),
            "name the guardians who can restore a lost key",
        ),
        TxType(
            "patient.recover",
            m.PatientRecover,
            h.recover_patient,
            PERSONS,
            "a guardian vouches for a patient's new keys",
        ),
    ),
    views=VIEWS,
)

__all__ = ["DOMAIN", "NAMESPACE"]
