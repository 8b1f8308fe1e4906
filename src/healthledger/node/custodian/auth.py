"""Who is asking: a signed request checked against this node's chain and the ledger's keys.

One authenticator per node serves every signed route: the custodian's vault and
the read guard of the ledger routes (`api/access.py`) both call it, so a request's
signature, freshness, audience and replay are checked the same way everywhere,
against one memory of the nonces already seen.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from healthledger.crypto.signed_request import (
    EMPTY_BODY,
    ReplayGuard,
    SignedRequest,
    verify_request,
)
from healthledger.domains.governance.queries import resolve_actor
from healthledger.ledger.context import Actor, StateReader
from healthledger.node.node import Node


class RequestAuthenticator:
    """Checks signed request envelopes addressed to this node's organisation."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self.replays = ReplayGuard()

    @property
    def audience(self) -> str:
        """The organisation this node serves: requests meant for another are refused."""
        return self._node.settings.org

    @property
    def chain_id(self) -> str:
        return self._node.app.chain_id

    def verify(
        self, headers: Mapping[str, str], method: str, target: str, body_sha256: str = EMPTY_BODY
    ) -> SignedRequest:
        """A fresh, unreplayed, valid signature over this request (`target` with its query)."""
        now = _now_ms()
        request = verify_request(
            headers, self.chain_id, method, target, body_sha256, now, audience=self.audience
        )
        self.replays.remember(request, now)
        return request

    def signer(self, request: SignedRequest) -> Actor:
        """The signer as the ledger knows them now (unknown and revoked keys are refused)."""
        state = StateReader(self._node.store.state_get)
        return resolve_actor(state, request.key_id, allow_new=False)

    def authenticate(
        self, headers: Mapping[str, str], method: str, target: str, body_sha256: str = EMPTY_BODY
    ) -> tuple[SignedRequest, Actor]:
        """Check the envelope, then resolve its signer on the ledger."""
        request = self.verify(headers, method, target, body_sha256)
        return request, self.signer(request)


def _now_ms() -> int:
    return int(time.time() * 1000)


__all__ = ["EMPTY_BODY", "RequestAuthenticator"]
