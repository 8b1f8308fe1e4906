"""The demo's staff credentials story: a licence, a degree, a certification and CE
certificates for a practitioner, clinical privileges that depend on them, and a board's
suspension that suspends the privileges that rest on it, in the same block.

The charity runs accredited CE courses: the consortium grants it the capability
`ce_provider` by a governance vote first. Every document is a W3C VC 2.0 credential the
issuing organisation builds and signs with `eddsa-jcs-2022`; the chain holds its anchor
(hash, issuer, key, subject, validity, status), never the document. The signed documents
are written to `DIR/credentials/`, where `healthledger credentials verify` checks them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from healthledger.app.reader import SnapshotReader
from healthledger.client.sdk import Signer
from healthledger.demo.chain import ORGS, DemoChain, StoryPrecondition
from healthledger.domains.credentials import documents as docs
from healthledger.domains.credentials import queries
from healthledger.domains.credentials.handlers import CE_PROVIDER
from healthledger.domains.credentials.state import CredentialType

BOARD, UNIVERSITY, CE_CHARITY = "medical-board", "metro-university", "relief-charity"
ISSUER_NAMES = {
    BOARD: "State Medical Board",
    UNIVERSITY: "Metro University",
    CE_CHARITY: "Health Relief Charity",
    "st-marys": "St Mary's Hospital",
    "riverside-clinic": "Riverside Clinic",
}
GREY, HOUSE = "st-marys/dr-grey", "riverside-clinic/dr-house"
# Fixed dates: what a document says does not depend on when the demo ran.
SIGNED_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z
DEGREE_MS = 1_434_326_400_000  # 2015-06-15T00:00:00Z
VALID_FROM_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
VALID_UNTIL_MS = 1_924_992_000_000  # 2031-01-01T00:00:00Z
COURSE_MS = 1_770_681_600_000  # 2026-02-10T00:00:00Z


class _Issuance:
    """One credential of the story: who issues it, what it says, where it is written."""

    def __init__(
        self,
        file: str,
        issuer: str,
        local_id: str,
        subject: str,
        type: CredentialType,
        scope: str,
        **extra: Any,
    ) -> None:
        self.file, self.issuer, self.local_id = file, issuer, local_id
        self.subject, self.type, self.scope, self.extra = subject, type, scope, extra

    @property
    def credential_id(self) -> str:
        return f"{self.issuer}:{self.local_id}"


FOUNDATIONS = [
    _Issuance(
        "degree",
        UNIVERSITY,
        "md-2015-0042",
        GREY,
        "degree",
        "Doctor of Medicine (MD)",
        valid_from_ms=DEGREE_MS,
    ),
    _Issuance(
        "licence",
        BOARD,
        "lic-0001",
        GREY,
        "licence",
        "Full licence to practise medicine and surgery",
        name="Dr Meredith Grey",
    ),
    _Issuance(
        "certification",
        BOARD,
        "cert-gs-0001",
        GREY,
        "certification",
        "Board certified in general surgery",
    ),
    _Issuance(
        "licence-house",
        BOARD,
        "lic-0002",
        HOUSE,
        "licence",
        "Full licence to practise medicine",
        name="Dr Gregory House",
    ),
]
CE_CERTIFICATES = [
    _Issuance(
        "ce-trauma",
        CE_CHARITY,
        "ce-2026-0107",
        GREY,
        "ce",
        "Advanced trauma life support refresher",
        ce_minutes=480,
        ce_category="AMA-1",
        valid_from_ms=COURSE_MS,
    ),
    _Issuance(
        "ce-ethics",
        UNIVERSITY,
        "ce-2026-0311",
        GREY,
        "ce",
        "Clinical ethics seminar",
        ce_minutes=90,
        ce_category="AMA-1",
        valid_from_ms=COURSE_MS,
    ),
]
PRIVILEGES = [
    _Issuance(
        "privilege",
        "st-marys",
        "priv-gs-0001",
        GREY,
        "privilege",
        "Clinical privileges: general surgery, St Mary's theatres",
        depends_on=["medical-board:lic-0001", "medical-board:cert-gs-0001"],
    ),
    _Issuance(
        "privilege-house",
        "riverside-clinic",
        "priv-dx-0001",
        HOUSE,
        "privilege",
        "Clinical privileges: diagnostic medicine, outpatients",
        depends_on=["medical-board:lic-0002"],
        jurisdiction="IE",  # the clinic is across the border
    ),
]
SUSPENDED = "medical-board:lic-0002"
# The board's CE rule: 8 hours per licence cycle, at least 4 of them AMA category 1.
CE_RULE = {
    "minutes_per_cycle": 480,
    "categories": [{"category": "AMA-1", "min_minutes": 240}],
    "effective_from_ms": 1_735_689_600_000,  # 2025-01-01T00:00:00Z
}
# Dr Grey shows her whole file to Riverside Clinic, where she may cover as a locum.
SHARE = {"grantee": "riverside-clinic", "credentials": [], "until_ms": 1_798_761_600_000}  # 2027
PSV = {"credential_id": "medical-board:lic-0001", "method": "ledger", "result": "ok"}
# The regulator excludes Dr House; the clinic where he holds privileges is flagged.
EXCLUSION = {"action": "add", "member": HOUSE, "reason": "fraud", "list": "GB-EXCLUDED"}


def credentials_story(chain: DemoChain, directory: Path) -> dict[str, Any]:
    """Run the story; return the credentials' ids and files, the file's share, the PSV and
    its reuse, the exclusion's flags and the suspension's cascade."""
    _grant_ce_provider(chain)
    _act(chain, BOARD, "credential.ce_rule", CE_RULE, "credential.ce_rule")
    written: dict[str, str] = {}
    for group in (FOUNDATIONS, CE_CERTIFICATES, PRIVILEGES):
        written |= _issue(chain, directory, group)
    share = _act(chain, "dr-grey", "credential.share", SHARE, "credential.shared")["share"]
    psv = _act(chain, "st-marys", "credential.psv", PSV, "credential.psv")["psv"]
    reuse = {"psv": psv, "decision": "locum privileges at Riverside Clinic"}
    reused = _act(chain, "riverside-clinic", "credential.psv_reuse", reuse, "credential.psv_reused")
    excluded = _act(
        chain, "health-authority", "credential.exclusion", EXCLUSION, "credential.excluded"
    )
    cascade = _suspend(chain, SUSPENDED)
    return {
        "files": str(directory / "credentials"),
        "credentials": written,
        "share": share,
        "psv": psv,
        "psv_reused_age_days": reused["age_days"],
        "excluded": EXCLUSION["member"],
        "excluded_flagged_orgs": excluded["flagged"],
        "suspended": SUSPENDED,
        "suspended_with_it": cascade,
    }


def _act(
    chain: DemoChain, who: str, tx_type: str, payload: dict[str, Any], event: str
) -> dict[str, Any]:
    """One transaction by `who`, in its own block; the event it must have emitted."""
    (result,) = chain.commit([chain.synced_signer(who).sign(tx_type, payload)])
    return _event(result, event)


def _grant_ce_provider(chain: DemoChain) -> None:
    """The regulator proposes the charity as a CE provider; 8 more founders approve
    (9 of the 13 organisations is above the two-thirds quorum; the charity has no vote)."""
    regulator = chain.signers["health-authority"]
    payload = {"action": "grant", "org_id": CE_CHARITY, "capability": CE_PROVIDER}
    (proposed,) = chain.commit([regulator.sign("capability.propose", payload)])
    proposal = _event(proposed, "capability.proposed")["proposal"]
    voters = [org for org, _r, _n in ORGS if org not in ("health-authority", CE_CHARITY)][:8]
    chain.commit(
        [chain.synced_signer(v).sign("org.approve", {"proposal_id": proposal}) for v in voters]
    )


def _issue(chain: DemoChain, directory: Path, group: list[_Issuance]) -> dict[str, str]:
    """Build, sign and anchor each credential of the group in one block; write its file."""
    slots: dict[str, tuple[int, int]] = {}
    txs, files = [], {}
    synced: dict[str, Signer] = {}
    for issuance in group:
        slot = _next_slot(chain, issuance.issuer, slots)
        document = _signed(chain, issuance, slot)
        payload = docs.anchor_of(document).model_dump(exclude_none=True)
        if issuance.issuer not in synced:  # once per block: the signer then numbers them
            synced[issuance.issuer] = chain.synced_signer(issuance.issuer)
        txs.append(synced[issuance.issuer].sign("credential.issue", payload))
        files[issuance.credential_id] = _write(directory, issuance.file, document)
    for result in chain.commit(txs):
        _event(result, "credential.issued")
    return files


def _next_slot(chain: DemoChain, issuer: str, taken: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """The status slot the issuer's next credential takes: the ledger's next free one, or
    the one after what this block already took (the handler allocates them in order)."""
    if issuer in taken:
        number, index = taken[issuer]
        taken[issuer] = (number, index + 1)
    else:
        store = chain.node.store
        with store.snapshot():
            slot = queries.next_status_slot(SnapshotReader(store).state, issuer)
        taken[issuer] = (slot.list, slot.index)
    return taken[issuer]


def _signed(chain: DemoChain, issuance: _Issuance, slot: tuple[int, int]) -> dict[str, Any]:
    signer = chain.signers[issuance.issuer]
    extra = dict(issuance.extra)
    document = docs.build_credential(
        issuer=issuance.issuer,
        issuer_name=ISSUER_NAMES[issuance.issuer],
        issuer_key=signer.key_id,
        local_id=issuance.local_id,
        subject=issuance.subject,
        type=issuance.type,
        scope=issuance.scope,
        jurisdiction=extra.pop("jurisdiction", "GB"),
        valid_from_ms=extra.pop("valid_from_ms", VALID_FROM_MS),
        valid_until_ms=None if issuance.type in ("degree", "ce") else VALID_UNTIL_MS,
        status_list=slot[0],
        status_index=slot[1],
        **extra,
    )
    return docs.sign_credential(document, signer.keys, SIGNED_MS)


def _write(directory: Path, name: str, document: dict[str, Any]) -> str:
    folder = directory / "credentials"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return str(path)


def _suspend(chain: DemoChain, credential_id: str) -> list[str]:
    """The board suspends a licence; the privilege resting on it is suspended with it."""
    payload = {"credential_id": credential_id, "action": "suspend", "reason": "under review"}
    (result,) = chain.commit([chain.signers[BOARD].sign("credential.status", payload)])
    changed = [
        event["credential"]
        for event in result.get("events", [])
        if event["type"] == "credential.status" and event["status"] == "suspended"
    ]
    if changed[:1] != [credential_id] or len(changed) < 2:
        raise StoryPrecondition("credentials", f"a suspension that cascades, not {result}")
    return changed[1:]


def _event(result: dict[str, Any], event_type: str) -> dict[str, Any]:
    for event in result.get("events", []):
        if event["type"] == event_type:
            return dict(event)
    raise StoryPrecondition("credentials", f"a {event_type} event, not {result}")
