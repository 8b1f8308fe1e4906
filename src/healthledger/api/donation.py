"""REST endpoint of a transplant coordinator's question: /v1/donation/patients/{patient}.

Signed, and audited before it is answered: the node records the question as a
`record.access` event in the patient's accounting of disclosures, waits for it to
commit, then answers from the state with proofs. The public counts are a domain
view (`GET /v1/donation/counts`, mounted with the other views).
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import Response

from healthledger.api.records import Purpose, _authenticate, _commit_access, _reply
from healthledger.crypto.signed_request import EMPTY_BODY
from healthledger.node.custodian import RecordService
from healthledger.node.custodian.donation import finish_donation_query, prepare_donation_query


def add_donation_routes(app: FastAPI, service: RecordService) -> None:
    @app.get(
        "/v1/donation/patients/{patient}",
        tags=["donation"],
        summary="A patient's organ-donation decision (transplant coordinators; audited)",
    )
    async def donation_status(request: Request, patient: str, purpose: Purpose) -> Response:
        signed, reader = await _authenticate(service, request, EMPTY_BODY)
        prepared = await asyncio.to_thread(
            prepare_donation_query, service, signed, reader, patient, purpose
        )
        committed = await _commit_access(service, prepared)
        answer = await asyncio.to_thread(
            finish_donation_query, service, prepared, patient, committed
        )
        return _reply(answer)
