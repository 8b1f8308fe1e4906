"""A node as custodian: the vault service of the organisations whose keys it holds.

auth       who is asking: a signed request checked against the ledger (shared with the
           read guard of the ledger routes)
signer     one organisation key signing in nonce order, submitting, awaiting commits
payloads   the vault's transactions, built from the records domain's message models
prepared   what is decided before a commit and finished after it
upload     a large file streamed into the vault, held to its declaration
service    the records service: vault reads and writes, audit, break-glass notes
replicas   a custodian's ciphertexts sent to, kept by and fetched back from its replica
"""

from __future__ import annotations

from healthledger.node.custodian.auth import RequestAuthenticator
from healthledger.node.custodian.prepared import (
    DeclaredBody,
    NewRecord,
    PreparedAccess,
    PreparedAdd,
    PreparedImport,
)
from healthledger.node.custodian.replicas import ReplicaInbox
from healthledger.node.custodian.service import MAX_RESOURCE_BYTES, RecordService
from healthledger.node.custodian.signer import Committed, OrgSigner, OrgTx, Submitted
from healthledger.node.custodian.upload import MAX_FILE_BYTES, Upload

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_RESOURCE_BYTES",
    "Committed",
    "DeclaredBody",
    "NewRecord",
    "OrgSigner",
    "OrgTx",
    "PreparedAccess",
    "PreparedAdd",
    "PreparedImport",
    "RecordService",
    "ReplicaInbox",
    "RequestAuthenticator",
    "Submitted",
    "Upload",
]
