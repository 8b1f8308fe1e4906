"""External issuers: registered by a regulator by their did:key; members anchor what they
signed with `credential.accept`; the registering regulator manages their status."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cred_net import ADA, BOB, T0, Net, credential, did_key

from healthledger.crypto.keys import KeyPair
from healthledger.domains.credentials import documents as docs
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials import views
from healthledger.domains.credentials.handlers import did_key_public_key
from healthledger.domains.credentials.verify import check_credential
from healthledger.errors import LedgerError

LEGACY = KeyPair.from_seed(b"credentials/ma-board-legacy".ljust(32, b"."))
HANDLE = "ma-board-legacy"


def registration(**extra: Any) -> dict[str, Any]:
    return {
        "handle": HANDLE,
        "did": did_key(LEGACY.key_id),
        "name": "Massachusetts Board (paper era)",
        "types": ["licence", "certification"],
        "jurisdiction": "US-MA",
    } | extra


def accepted(local_id: str, **extra: Any) -> dict[str, Any]:
    return credential(local_id, issuer=HANDLE, **extra)


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    network = Net(tmp_path / "ledger.sqlite")
    assert network.send("health-dept", "credential.issuer_register", registration()).ok
    yield network
    network.close()


def test_the_did_key_decodes_to_its_public_key() -> None:
    assert did_key_public_key(did_key(LEGACY.key_id)) == LEGACY.key_id
    # the W3C did:key test vector for Ed25519
    vector = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
    assert did_key_public_key(vector) == (
        "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
    )
    with pytest.raises(LedgerError):
        did_key_public_key(did_key(LEGACY.key_id, prefix=b"\xec\x01"))  # an X25519 key


def test_the_members_organisation_accepts_a_credential_of_a_registered_issuer(net: Net) -> None:
    result = net.send("st-marys", "credential.accept", accepted("lic-77"))
    assert result.ok, result
    anchor = net.anchor(f"{HANDLE}:lic-77")
    assert (anchor.external, anchor.issuer, anchor.issuer_key) == (True, HANDLE, LEGACY.key_id)
    assert (anchor.status_list, anchor.status_index) == (None, None)
    assert net.load(st.member_credentials_key(ADA), st.CredentialIds).root == (f"{HANDLE}:lic-77",)
    # the subject's organisation anchors it; another organisation may not, nor the member
    assert net.send("st-marys", "credential.accept", accepted("lic-78", subject=BOB)).ok
    own = accepted("lic-81", subject=BOB)
    assert net.send("st-marys/dr-bob", "credential.accept", own).code == "unauthorized"
    assert net.send("valley-clinic", "credential.accept", accepted("lic-79")).code == "unauthorized"
    bobs = accepted("lic-80", subject=BOB)
    assert net.send("st-marys/dr-ada", "credential.accept", bobs).code == "unauthorized"
    # a privilege may depend on it
    payload = credential("priv-1", kind="privilege", depends_on=[f"{HANDLE}:lic-77"])
    assert net.issue("st-marys", payload).ok


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"issuer": "nobody-here"}, "not_found"),
        ({"type": "degree"}, "unauthorized"),  # not registered for degrees
        ({"status_list": 0, "status_index": 0}, "invalid_field"),
        ({"issuer": "Not A Handle"}, "invalid_field"),
        ({"subject": "st-marys/nobody"}, "not_found"),
    ],
)
def test_refusals_of_accept(net: Net, fields: dict[str, Any], code: str) -> None:
    result = net.send("st-marys", "credential.accept", accepted("lic-1") | fields)
    assert result.code == code, result


def test_a_duplicate_accept_conflicts(net: Net) -> None:
    assert net.send("st-marys", "credential.accept", accepted("lic-1")).ok
    again = net.send("st-marys", "credential.accept", accepted("lic-1"))
    assert again.code == "conflict"


@pytest.mark.parametrize(
    ("sender", "fields", "code"),
    [
        ("ma-board", {"handle": "other-legacy"}, "unauthorized"),  # not a regulator
        ("other-dept", {}, "conflict"),  # registered already
        ("health-dept", {"handle": "st-marys"}, "conflict"),  # an organisation's id
        ("health-dept", {"handle": "x", "did": "did:key:abc"}, "invalid_field"),
        ("health-dept", {"handle": "x2", "types": []}, "invalid_field"),
        ("health-dept", {"handle": "x3", "types": ["licence", "licence"]}, "invalid_field"),
        (
            "health-dept",
            {"handle": "x4", "did": did_key(LEGACY.key_id, prefix=b"\xec\x01")},
            "invalid_field",
        ),
    ],
)
def test_refusals_of_register(net: Net, sender: str, fields: dict[str, Any], code: str) -> None:
    result = net.send(sender, "credential.issuer_register", registration(**fields))
    assert result.code == code, result


def test_removal_stops_new_anchors_and_keeps_status_with_the_regulator(net: Net) -> None:
    assert net.send("st-marys", "credential.accept", accepted("lic-1")).ok
    remove = {"handle": HANDLE}
    assert net.send("other-dept", "credential.issuer_remove", remove).code == "unauthorized"
    assert net.send("health-dept", "credential.issuer_remove", remove).ok
    assert net.send("health-dept", "credential.issuer_remove", remove).code == "invalid_state"
    assert net.send("st-marys", "credential.accept", accepted("lic-2")).code == ("invalid_state")
    credential_id = f"{HANDLE}:lic-1"
    assert net.status("other-dept", credential_id, "revoke").code == "unauthorized"
    assert net.status("st-marys", credential_id, "revoke").code == "unauthorized"
    assert net.status("health-dept", credential_id, "suspend").ok
    assert net.status("health-dept", credential_id, "revoke").ok
    assert net.anchor(credential_id).history[-1].by == "health-dept"
    # another regulator may not take the handle over; its registrar may register it again
    assert net.send("other-dept", "credential.issuer_register", registration()).code == (
        "unauthorized"
    )
    assert net.send("health-dept", "credential.issuer_register", registration()).ok


def test_views_of_external_issuers(net: Net) -> None:
    listed = net.view(views.VIEWS[4])
    assert [i.handle for i in listed.issuers] == [HANDLE] and listed.next is None
    assert listed.issuers[0].public_key == LEGACY.key_id
    one = net.view(views.VIEWS[5], handle=HANDLE)
    assert one.issuer.raw_value is not None
    with pytest.raises(LedgerError):
        net.view(views.VIEWS[5], handle="nobody-here")


def test_a_document_the_external_issuer_signed_verifies_against_its_anchor(net: Net) -> None:
    document = docs.build_credential(
        issuer=HANDLE,
        issuer_name="Massachusetts Board (paper era)",
        issuer_key=LEGACY.key_id,
        local_id="lic-1990",
        subject=ADA,
        type="licence",
        scope="physician",
        jurisdiction="US-MA",
        valid_from_ms=T0,
    )
    signed = docs.sign_credential(document, LEGACY, net.time_ms)
    payload = docs.anchor_of(signed).model_dump(mode="json") | {"issuer": HANDLE}
    assert net.send("st-marys", "credential.accept", payload).ok
    anchor = net.anchor(f"{HANDLE}:lic-1990")
    assert check_credential(signed, anchor, net.time_ms, net.time_ms).ok
    assert net.status("health-dept", anchor.id, "revoke", "forged register entry").ok
    after = check_credential(signed, net.anchor(anchor.id), net.time_ms, net.time_ms)
    assert not after.ok and not after.status.ok
