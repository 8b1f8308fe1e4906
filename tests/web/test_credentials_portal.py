"""The credentials pages in a real Chromium against a real demo node: eddsa-jcs-2022 signed
in the browser (the W3C vector byte for byte, and a licence the Python verifier accepts),
status acts from the issuer's page, the member's file, the verifier's page."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from web.conftest import Portal

# W3C vc-di-eddsa, "Representation: eddsa-jcs-2022" (the Alumni credential example): the
# secret key as the spec gives it (hex seed), the proof's time, and the expected proofValue.
W3C_SEED = "c96ef9ea10c5e414c471723aff9de72c35fa5b70fae97e8832ecac7d2e2b8ed6"
W3C_PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
W3C_CREATED = "2023-02-24T23:36:38Z"
W3C_PROOF_VALUE = (
    "z2HnFSSPPBzR36zdDgK8PbEHeXbR56YF24jwMpt3R1eHXQzJDMWS93FCzpvJpwTWd3GAVFuUfjoJdcnTMuVor51aX"
)
W3C_UNSIGNED: dict[str, Any] = {
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2",
    ],
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": "https://vc.example/issuers/5678",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
}

SIGN_VECTOR = """async ([seed, unsigned, created]) => {
  const vc = await import('/static/portal/credentials/vc.js');
  const { KeyPair } = await import('/static/portal/hl/keys.js');
  const { fromHex } = await import('/static/portal/hl/bytes.js');
  const keys = new KeyPair(fromHex(seed), new Uint8Array(32).fill(7));
  const signed = vc.signDocument(unsigned, keys, Date.parse(created));
  const tampered = { ...signed, name: 'Another credential' };
  let refused = null;
  try { vc.verifyDocumentProof(tampered); } catch (e) { refused = e.message; }
  return {
    signed,
    did: vc.didKeyOf(keys.publicKey),
    verified: vc.verifyDocumentProof(signed).length,
    refused,
    roundTrip: vc.base58btc(vc.fromBase58btc('1112fRGq')),
  };
}"""


def test_the_browser_signs_the_w3c_vector_byte_for_byte(page: Page, portal: Portal) -> None:
    page.goto(portal.url + "/")
    got = page.evaluate(SIGN_VECTOR, [W3C_SEED, W3C_UNSIGNED, W3C_CREATED])
    assert got["did"] == f"did:key:{W3C_PUBLIC}"
    proof = got["signed"]["proof"]
    assert proof["proofValue"] == W3C_PROOF_VALUE
    assert proof["verificationMethod"] == f"did:key:{W3C_PUBLIC}#{W3C_PUBLIC}"
    assert proof["@context"] == W3C_UNSIGNED["@context"]
    assert proof["created"] == W3C_CREATED
    assert got["verified"] == 32
    assert got["refused"] == "the proof's signature does not match the document"
    assert got["roundTrip"] == "1112fRGq"
