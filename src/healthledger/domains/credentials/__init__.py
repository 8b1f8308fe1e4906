"""Staff credentials: licences, degrees, certifications, CE credits and privileges as
W3C Verifiable Credentials anchored on the ledger, with provable status.

A base domain: research and claims ask it whether a practitioner is licensed.
"""

from __future__ import annotations

from healthledger.domains.credentials.state import NAMESPACE
from healthledger.domains.kit import Domain

DOMAIN = Domain(
    name="credentials",
    namespace=NAMESPACE,
    summary="licences, certifications, CE credits and privileges (W3C VC 2.0), with status",
    txs=(),
    base=True,
)

__all__ = ["DOMAIN", "NAMESPACE"]
