"""Staff credentials: licences, degrees, certifications, CE credits and privileges as
W3C Verifiable Credentials anchored on the ledger, with provable status.

A base domain: research and claims ask it whether a practitioner is licensed.
"""

from __future__ import annotations

from healthledger.domains.credentials import ce, exclusions, psv, sharing
from healthledger.domains.credentials.state import NAMESPACE
from healthledger.domains.kit import ANY_MEMBER, ANY_ORG, Domain, TxType, org

# The member's file and its monitoring (part "file"): CE rules, shares, exclusions, PSV.
FILE_TXS = (
    TxType(
        "credential.ce_rule",
        ce.CeRule,
        ce.publish_rule,
        frozenset({org("board")}),
        "publish a board's CE requirement per licence cycle (a new version)",
    ),
    TxType(
        "credential.share",
        sharing.CredentialShare,
        sharing.share,
        frozenset({ANY_MEMBER}),
        "share one's credential file, or chosen credentials, until a time",
    ),
    TxType(
        "credential.unshare",
        sharing.CredentialUnshare,
        sharing.unshare,
        frozenset({ANY_MEMBER}),
        "end one of one's shares",
    ),
    TxType(
        "credential.exclusion",
        exclusions.CredentialExclusion,
        exclusions.exclusion,
        frozenset({org("regulator")}),
        "add a member to a regulator's exclusion list, or lift the entry",
    ),
    TxType(
        "credential.psv",
        psv.CredentialPsv,
        psv.record_psv,
        frozenset({ANY_ORG}),
        "record a primary-source verification of a credential",
    ),
    TxType(
        "credential.psv_reuse",
        psv.CredentialPsvReuse,
        psv.reuse_psv,
        frozenset({ANY_ORG}),
        "rely on another organisation's primary-source verification for a decision",
    ),
)

DOMAIN = Domain(
    name="credentials",
    namespace=NAMESPACE,
    summary="licences, certifications, CE credits and privileges (W3C VC 2.0), with status",
    txs=(*FILE_TXS,),
    views=(*ce.VIEWS, *exclusions.VIEWS, *psv.VIEWS),
    base=True,
)

__all__ = ["DOMAIN", "NAMESPACE"]
