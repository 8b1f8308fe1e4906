"""Issuer key periods: credentials issued before a `key.rotate` keep naming, and verifying
against, the key that signed them; the periods say which key was the issuer's when.
Documents are built, signed (eddsa-jcs-2022) and checked with documents.py and verify.py,
against the anchors and status lists this chain holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cred_net import ADA, T0, YEAR_MS, Net, credential

from conftest import CHAIN
from healthledger.client.sdk import Signer
from healthledger.crypto.keys import KeyPair
from healthledger.domains.credentials import documents as docs
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials import views
from healthledger.domains.credentials.verify import check_credential

NEW_KEYS = KeyPair.from_seed(b"credentials/ma-board/2".ljust(32, b"."))


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    network = Net(tmp_path / "ledger.sqlite")
    yield network
    network.close()


def signed_licence(net: Net, keys: KeyPair, local_id: str) -> dict[str, Any]:
    """A licence document built and signed as the issuer's client does, in the slot the
    ledger publishes as the board's next."""
    slot = net.view(views.VIEWS[1], issuer="ma-board")
    document = docs.build_credential(
        issuer="ma-board",
        issuer_name="Massachusetts Board of Registration in Medicine",
        issuer_key=keys.key_id,
        local_id=local_id,
        subject=ADA,
        type="licence",
        scope="physician",
        jurisdiction="US-MA",
        valid_from_ms=T0,
        valid_until_ms=T0 + YEAR_MS,
        status_list=slot.list,
        status_index=slot.index,
    )
    return docs.sign_credential(document, keys, net.time_ms)


def anchor_payload(document: dict[str, Any]) -> dict[str, Any]:
    return docs.anchor_of(document).model_dump(mode="json")


def lists_of(net: Net) -> dict[Any, bytes]:
    return {p: net.status_list("ma-board", p).raw_bits() for p in st.STATUS_PURPOSES}


def test_credentials_signed_before_a_rotation_still_verify(net: Net) -> None:
    old_keys = net.signers["ma-board"].keys
    old_doc = signed_licence(net, old_keys, "lic-1")
    assert net.issue("ma-board", anchor_payload(old_doc)).ok
    first_height = net.height
    assert net.issue("ma-board", credential("lic-2")).ok

    rotate = {"signing_key": NEW_KEYS.key_id, "encryption_key": NEW_KEYS.encryption_public.hex()}
    assert net.send("ma-board", "key.rotate", rotate).ok
    stale = net.issue("ma-board", credential("lic-3"))  # the old key is revoked now
    assert stale.code == "revoked_sender"
    net.signers["ma-board"] = Signer(NEW_KEYS, CHAIN)
    new_doc = signed_licence(net, NEW_KEYS, "lic-4")
    assert net.issue("ma-board", anchor_payload(new_doc)).ok
    rotated_at = net.height

    old, new = net.anchor("ma-board:lic-1"), net.anchor("ma-board:lic-4")
    assert (old.issuer_key, new.issuer_key) == (old_keys.key_id, NEW_KEYS.key_id)
    at = net.time_ms
    for document, anchor in ((old_doc, old), (new_doc, new)):
        verdict = check_credential(document, anchor, at, at, lists_of(net))
        assert verdict.ok, verdict
    # a document signed with the old key does not pass for the new credential
    assert not check_credential(old_doc, new, at, at).issuer_key.ok

    periods = net.view(views.VIEWS[3], issuer="ma-board")
    assert [(p.key, p.first_height, p.last_height, p.until_height) for p in periods.keys] == [
        (old_keys.key_id, first_height, first_height + 1, rotated_at),
        (NEW_KEYS.key_id, rotated_at, rotated_at, None),
    ]
    assert periods.record.raw_value is not None  # with its state proof
    # the old credential's status is still the issuer's to change, with its new key; the
    # verdict, with the lists as the chain now holds them, fails on both counts
    assert net.status("ma-board", "ma-board:lic-1", "revoke").ok
    verdict = check_credential(
        old_doc, net.anchor("ma-board:lic-1"), net.time_ms, net.time_ms, lists_of(net)
    )
    assert not verdict.ok and not verdict.status.ok
    assert verdict.status_list is not None and not verdict.status_list.ok
    before = check_credential(old_doc, net.anchor("ma-board:lic-1"), at, net.time_ms)
    assert before.status.ok  # valid on a date before the revocation


def test_issuer_keys_are_bounded(net: Net, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(st, "MAX_ISSUER_KEYS", 1)
    assert net.issue("ma-board", credential("lic-1")).ok
    rotate = {"signing_key": NEW_KEYS.key_id, "encryption_key": NEW_KEYS.encryption_public.hex()}
    assert net.send("ma-board", "key.rotate", rotate).ok
    net.signers["ma-board"] = Signer(NEW_KEYS, CHAIN)
    assert net.issue("ma-board", credential("lic-2")).code == "too_large"


def test_an_issuer_that_never_issued_has_no_keys(net: Net) -> None:
    assert net.view(views.VIEWS[3], issuer="ny-board").keys == []
