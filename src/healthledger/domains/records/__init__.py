"""Patient records: where encrypted records live, who may read them, and every access."""

from __future__ import annotations

from healthledger.domains.kit import ANY_MEMBER, ANY_ORG, PATIENT, Domain, TxType, org
from healthledger.domains.records import custody, donation, imports
from healthledger.domains.records import handlers as h
from healthledger.domains.records import messages as m
from healthledger.domains.records.state import NAMESPACE

# Organisations that keep records in their vault.
CUSTODIANS = frozenset(org(role) for role in custody.CUSTODIAN_ROLES)
PERSONS = frozenset({PATIENT, ANY_MEMBER})

DOMAIN = Domain(
    name="records",
    namespace=NAMESPACE,
    summary="where encrypted records live, who may read them (consent), every access (audit)",
    txs=(
        TxType("record.add", m.RecordAdd, h.add_record, CUSTODIANS, "register an encrypted record"),
        TxType(
            "record.import",
            imports.RecordImport,
            imports.import_records,
            CUSTODIANS,
            "register a FHIR Bundle's records for one patient, all or none",
        ),
        TxType(
            "record.shred",
            m.RecordShred,
            h.shred_record,
            CUSTODIANS | PERSONS,
            "crypto-shred a record",
        ),
        TxType(
            "record.access",
            m.RecordAccess,
            h.record_access,
            frozenset({ANY_ORG}),
            "audit a record access",
        ),
        TxType("consent.grant", m.ConsentGrant, h.grant_consent, PERSONS, "grant access"),
        TxType("consent.revoke", m.ConsentRevoke, h.revoke_consent, PERSONS, "revoke a consent"),
        TxType(
            "representative.appoint",
            m.RepresentativeAppoint,
            h.appoint_representative,
            frozenset({PATIENT}),
            "appoint a parent, guardian or proxy",
        ),
        TxType(
            "donation.decide",
            donation.DonationDecide,
            donation.decide_donation,
            PERSONS,
            "record or change an organ-donation decision",
        ),
        TxType(
            "donation.withdraw",
            donation.DonationWithdraw,
            donation.withdraw_donation,
            PERSONS,
            "withdraw an organ-donation decision",
        ),
        TxType(
            "representative.end",
            m.RepresentativeEnd,
            h.end_representative,
            PERSONS,
            "end a representative's appointment",
        ),
        TxType(
            "custody.offer",
            m.CustodyOffer,
            custody.offer_custody,
            CUSTODIANS,
            "offer records to a successor custodian",
        ),
        TxType(
            "custody.accept",
            m.CustodyAccept,
            custody.accept_custody,
            PERSONS,
            "move records to a successor custodian",
        ),
    ),
    views=donation.VIEWS,
)

__all__ = ["DOMAIN", "NAMESPACE"]
