"""The SDK against a node that lies about a grantee's encryption key.

A patient's grant seals their records' data keys to the grantee's public key, which the
SDK reads from the node. A node operator who answers that read with a key of their own
would be handed the data keys; the SDK must prove the key record against its anchor.
The node here is real; its answers pass through a transport that rewrites them in
transit, as a malicious operator's node would write them.
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Iterator
from typing import Any

import httpx
import nacl.exceptions
import nacl.public
import orjson
import pytest

from conftest import enroll_member, register_patient, serve_network, stop_node
from healthledger.client.records import Records
from healthledger.client.sdk import Client, Signer
from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.keys import derive_patient_id, load_keypair
from healthledger.errors import InvalidProof
from healthledger.node.home import Home

CHAIN = "lying-node"
ORGS = [("general-hospital", "hospital", "General Hospital")]
ORG = ORGS[0][0]
KEY_RECORD = re.compile(r"^/v1/state/gov/(member|org)/")
PULSE = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
    "effectiveDateTime": "2026-03-02T09:30:00Z",
    "valueQuantity": {"value": 64, "unit": "beats/minute", "system": "http://unitsofmeasure.org"},
}


class SwappingKeys(httpx.HTTPTransport):
    """Real HTTP to the node; key records come back with the operator's encryption key,
    and the grants sent through it are kept (what the operator's node would receive)."""

    def __init__(self, public_hex: str) -> None:
        super().__init__()
        self.public_hex = public_hex
        self.swapped = 0
        self.grants: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v1/txs":
            tx = orjson.loads(request.read())
            if isinstance(tx, dict) and tx.get("type") == "consent.grant":
                self.grants.append(tx)
        answer = super().handle_request(request)
        if not KEY_RECORD.match(request.url.path) or answer.status_code != 200:
            return answer
        view: dict[str, Any] = orjson.loads(answer.read())
        value = view.get("value")
        if isinstance(value, dict) and "encryption_key" in value:
            value["encryption_key"] = self.public_hex
            if view.get("raw_value") is not None:  # a careful liar: the bytes agree
                view["raw_value"] = canonical_bytes(value).decode()
            self.swapped += 1
        return httpx.Response(200, json=view)


@pytest.fixture
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Home]]:
    root = tmp_path_factory.mktemp("lying") / "net"
    url, process = serve_network(root, CHAIN, ORGS)
    try:
        yield url, Home(root)
    finally:
        stop_node(process)


def test_a_grant_never_seals_data_keys_to_a_key_the_node_made_up(
    network: tuple[str, Home],
) -> None:
    url, home = network
    with Client(url, keys=home.key_path(ORG)) as honest:
        org = Signer(load_keypair(home.key_path(ORG)), CHAIN)
        doctor = enroll_member(honest, org, "dr-ada", "practitioner")
        patient = register_patient(honest, CHAIN)
        Records(honest, doctor, CHAIN).add(derive_patient_id(patient.key_id), PULSE)

    operator = nacl.public.PrivateKey.generate()
    lying = SwappingKeys(bytes(operator.public_key).hex())
    with Client(url) as client:
        client._http = httpx.Client(base_url=client.base_url, transport=lying)
        signer = Signer(patient, CHAIN)
        signer.sync_nonce(client)
        grantee = {"kind": "member", "org": ORG, "member": f"{ORG}/dr-ada"}
        with contextlib.suppress(InvalidProof):
            Records(client, patient, CHAIN).grant(signer, grantee, ["research"])
    assert lying.swapped, "the node lied (the test rewrote a real key record)"
    opener = nacl.public.SealedBox(operator)
    stolen = 0
    for tx in lying.grants:
        for wrapped in tx["payload"]["wrapped_keys"].values():
            with contextlib.suppress(nacl.exceptions.CryptoError):
                opener.decrypt(base64.b64decode(wrapped))
                stolen += 1
    assert stolen == 0, f"the lying node opened {stolen} of the patient's data keys"
    assert not lying.grants, "no grant is sent when the grantee's key is not proven"
