"""Issuer key periods: credentials issued before a `key.rotate` keep naming, and verifying
against, the key that signed them; the periods say which key was the issuer's when."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cred_net import Net, credential

from conftest import CHAIN
from healthledger.client.sdk import Signer
from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.keys import KeyPair, verify_signature
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials import views
from healthledger.errors import LedgerError

NEW_KEYS = KeyPair.from_seed(b"credentials/ma-board/2".ljust(32, b"."))


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    network = Net(tmp_path / "ledger.sqlite")
    yield network
    network.close()


def signed_document(keys: KeyPair, local_id: str) -> tuple[dict[str, object], bytes]:
    """A stand-in signed document: its bytes and the issuer's Ed25519 signature on them."""
    document = {"id": f"urn:healthledger:credential:ma-board:{local_id}", "issuer": "ma-board"}
    return document, keys.sign(canonical_bytes(document))


def test_credentials_signed_before_a_rotation_still_check(net: Net) -> None:
    old_keys = net.signers["ma-board"].keys
    old_doc, old_sig = signed_document(old_keys, "lic-1")
    old_hash = hashlib.sha256(canonical_bytes(old_doc)).hexdigest()
    assert net.issue("ma-board", credential("lic-1", hash=old_hash)).ok
    first_height = net.height
    assert net.issue("ma-board", credential("lic-2")).ok

    rotate = {"signing_key": NEW_KEYS.key_id, "encryption_key": NEW_KEYS.encryption_public.hex()}
    assert net.send("ma-board", "key.rotate", rotate).ok
    stale = net.issue("ma-board", credential("lic-3"))  # the old key is revoked now
    assert stale.code == "revoked_sender"
    net.signers["ma-board"] = Signer(NEW_KEYS, CHAIN)
    new_doc, new_sig = signed_document(NEW_KEYS, "lic-4")
    assert net.issue("ma-board", credential("lic-4")).ok
    rotated_at = net.height

    old, new = net.anchor("ma-board:lic-1"), net.anchor("ma-board:lic-4")
    assert (old.issuer_key, new.issuer_key) == (old_keys.key_id, NEW_KEYS.key_id)
    verify_signature(old.issuer_key, canonical_bytes(old_doc), old_sig)  # still checks
    verify_signature(new.issuer_key, canonical_bytes(new_doc), new_sig)
    with pytest.raises(LedgerError):
        verify_signature(new.issuer_key, canonical_bytes(old_doc), old_sig)

    periods = net.view(views.VIEWS[3], issuer="ma-board")
    assert [(p.key, p.first_height, p.last_height, p.until_height) for p in periods.keys] == [
        (old_keys.key_id, first_height, first_height + 1, rotated_at),
        (NEW_KEYS.key_id, rotated_at, rotated_at, None),
    ]
    assert periods.record.raw_value is not None  # with its state proof
    # the old credential's status is still the issuer's to change, with its new key
    assert net.status("ma-board", "ma-board:lic-1", "suspend").ok


def test_issuer_keys_are_bounded(net: Net, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(st, "MAX_ISSUER_KEYS", 1)
    assert net.issue("ma-board", credential("lic-1")).ok
    rotate = {"signing_key": NEW_KEYS.key_id, "encryption_key": NEW_KEYS.encryption_public.hex()}
    assert net.send("ma-board", "key.rotate", rotate).ok
    net.signers["ma-board"] = Signer(NEW_KEYS, CHAIN)
    assert net.issue("ma-board", credential("lic-2")).code == "too_large"


def test_an_issuer_that_never_issued_has_no_keys(net: Net) -> None:
    assert net.view(views.VIEWS[3], issuer="ny-board").keys == []
