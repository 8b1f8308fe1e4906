"""Patient records: where encrypted records live, who may read them, and every access."""

from __future__ import annotations

from healthledger.domains.records import handlers as h
from healthledger.domains.records import messages as m
from healthledger.domains.records.state import NAMESPACE
from healthledger.ledger.context import TxSpec

TX_SPECS: tuple[TxSpec, ...] = (
    TxSpec("record.add", NAMESPACE, m.RecordAdd, h.add_record, "register an encrypted record"),
    TxSpec("record.shred", NAMESPACE, m.RecordShred, h.shred_record, "crypto-shred a record"),
    TxSpec("record.access", NAMESPACE, m.RecordAccess, h.record_access, "audit a record access"),
    TxSpec("consent.grant", NAMESPACE, m.ConsentGrant, h.grant_consent, "grant access"),
    TxSpec("consent.revoke", NAMESPACE, m.ConsentRevoke, h.revoke_consent, "revoke a consent"),
    TxSpec(
        "representative.appoint",
        NAMESPACE,
        m.RepresentativeAppoint,
        h.appoint_representative,
        "appoint a parent, guardian or proxy",
    ),
    TxSpec(
        "representative.end",
        NAMESPACE,
        m.RepresentativeEnd,
        h.end_representative,
        "end a representative's appointment",
    ),
)

__all__ = ["NAMESPACE", "TX_SPECS"]
