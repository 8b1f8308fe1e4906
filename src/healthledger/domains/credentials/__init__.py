"""Staff credentials: licences, degrees, certifications, CE credits and privileges as
W3C Verifiable Credentials anchored on the ledger, with provable status.

A base domain: research and claims ask it whether a practitioner is licensed.
"""

from __future__ import annotations

from healthledger.domains.credentials import ce, exclusions, psv, sharing, status, views
from healthledger.domains.credentials import handlers as h
from healthledger.domains.credentials import messages as m
from healthledger.domains.credentials.state import NAMESPACE
from healthledger.domains.kit import ANY_MEMBER, ANY_ORG, Domain, TxType, capability, org

# Every organisation whose role issues some type, and holders of the CE capability; the
# handler then checks the type against ISSUER_ROLES and that the organisation's key signed.
ISSUERS = frozenset(
    {org(role) for roles in h.ISSUER_ROLES.values() for role in roles} | {capability(h.CE_PROVIDER)}
)
REGULATOR = frozenset({org("regulator")})

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
    capabilities={
        h.CE_PROVIDER: "issue continuing-education certificates (credential.issue of type ce)"
    },
    txs=(
        TxType(
            "credential.issue",
            m.CredentialIssue,
            h.issue,
            ISSUERS,
            "anchor a credential the organisation signed",
        ),
        # Any organisation: an issuer that lost the role or capability it issued under
        # still suspends and revokes what it issued (the handler checks it is the issuer).
        TxType(
            "credential.status",
            m.CredentialStatus,
            status.change_status,
            frozenset({ANY_ORG}),
            "suspend, reinstate or revoke a credential (cascades to dependent privileges)",
        ),
        TxType(
            "credential.issuer_register",
            m.IssuerRegister,
            h.register_issuer,
            REGULATOR,
            "register an issuer outside the ledger by its did:key",
        ),
        TxType(
            "credential.issuer_remove",
            m.IssuerRemove,
            h.remove_issuer,
            REGULATOR,
            "stop anchoring new credentials of an external issuer",
        ),
        TxType(
            "credential.accept",
            m.CredentialAccept,
            h.accept,
            frozenset({ANY_ORG}),
            "anchor a credential a registered external issuer signed",
        ),
        *FILE_TXS,
    ),
    views=(*views.VIEWS, *ce.VIEWS, *exclusions.VIEWS, *psv.VIEWS),
    # Credentials past valid_until become expired at block time, without a transaction.
    end_block=status.expire_credentials,
    end_block_budget=status.EXPIRY_SWEEP_BUDGET,
    base=True,
)

__all__ = ["DOMAIN", "NAMESPACE"]
