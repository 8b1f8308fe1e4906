"""What a client trusts before it believes a proof: a trust anchor.

A proof checked against the header the same node just sent shows only that the node
agrees with itself. An anchor is something the client holds independently of that
answer: on a CometBFT network, the validator set (`client.consensus.ValidatorAnchor`);
on a single node, a header pinned earlier (`PinnedAnchor`). A newer header is accepted
only if it descends from the pinned one (each header names its parent's hash) and its
ledger-wide log extends the pinned log (an RFC 9162 consistency proof); the pin then
moves to it. An older header must be an ancestor of the pin.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Protocol, Self

from pydantic import ValidationError, model_validator

from healthledger.app.views import ConsistencyView, HeaderView, StateView, TxView, WireView
from healthledger.errors import InvalidProof, MalformedInput
from healthledger.ledger import proofs
from healthledger.ledger.block import Header


class HeaderSource(Protocol):
    """Where an anchor fetches the public headers and consistency proofs it links through."""

    def header(self, height: int | None = None) -> HeaderView: ...

    def consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyView: ...


class NotAnchored(InvalidProof):
    """A header the node sent that does not follow from what the client trusts."""

    def __init__(self, height: int, reason: str) -> None:
        super().__init__(f"header {height} does not follow from the trust anchor: {reason}")
        self.height = height


class Anchor(ABC):
    """Checks that the header a proven view came with follows from something trusted."""

    @abstractmethod
    def check_state(self, source: HeaderSource, view: StateView) -> str:
        """Accept a state view's header, or raise; the answer says which anchor was used."""

    @abstractmethod
    def check_tx(self, source: HeaderSource, view: TxView) -> str:
        """Accept a transaction view's headers, or raise; the answer says which anchor."""


class Pin(WireView):
    """A header the client trusts: kept in a trust file, or given by its height and hash."""

    chain_id: str
    height: int
    hash: str
    header: Header

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.header.hash() != self.hash or self.header.height != self.height:
            raise ValueError("the pinned hash is not the hash of the pinned header")
        if self.header.chain_id != self.chain_id:
            raise ValueError("the pinned header is of another chain")
        return self

    @classmethod
    def of(cls, header: Header) -> Pin:
        return cls(
            chain_id=header.chain_id, height=header.height, hash=header.hash(), header=header
        )

    def label(self) -> str:
        return f"pinned header {self.height} (sha256 {self.hash[:16]}…)"


def parse_pin_arg(text: str) -> tuple[int, str]:
    """`HEIGHT:HASH`, as a user gives a header hash they got from a source they trust."""
    height, _, digest = text.partition(":")
    if not height.isdigit() or int(height) < 1 or len(digest) != 64:
        raise MalformedInput(f"--pin is HEIGHT:SHA256 (64 hex digits), not {text!r}")
    try:
        bytes.fromhex(digest)
    except ValueError as exc:
        raise MalformedInput(f"--pin: {digest!r} is not hex") from exc
    return int(height), digest.lower()


class PinnedAnchor(Anchor):
    """A single node's anchor: a pinned header, extended by hash links and consistency proofs.

    Made by `first_use()` (pin the first header seen, for this session only),
    `from_file(path)` (the pin kept in a file; pinned on first use if the file does
    not exist, and moved forward in the file as newer headers are verified) or
    `given(height, hash)` (a header hash obtained out of band).
    """

    def __init__(
        self, origin: str, file: Path | None = None, expect: tuple[int, str] | None = None
    ) -> None:
        self.origin = origin
        self.file = file
        self.expect = expect
        self.pin: Pin | None = None
        # One client may verify from several threads: the pin moves under this lock.
        self._lock = threading.RLock()

    @classmethod
    def first_use(cls) -> PinnedAnchor:
        return cls("pinned on first use this session: the node's own word until then")

    @classmethod
    def given(cls, height: int, digest: str) -> PinnedAnchor:
        return cls("given by hash", expect=(height, digest))

    @classmethod
    def from_file(cls, path: Path) -> PinnedAnchor:
        anchor = cls(f"from {path}", file=path)
        if path.exists():
            try:
                anchor.pin = Pin.model_validate_json(path.read_bytes())
            except (OSError, ValidationError) as exc:
                raise MalformedInput(f"{path}: not a pinned header: {exc}") from exc
        else:
            anchor.origin = f"pinned on first use into {path}: the node's own word until then"
        return anchor

    def check_state(self, source: HeaderSource, view: StateView) -> str:
        """Accept a state answer only as of the pinned header or later.

        An older header may be a true ancestor, but its state can be stale: a package
        since recalled, a consent since revoked. Transactions may be older (check_tx).
        """
        if view.header is None:
            raise InvalidProof("the state view has no header to check")
        with self._lock:
            if self.pin is None and self.expect is None:
                self._advance(view.header)  # first use: this answer's header is the node's word
            pin = self._trusted(source)
            if view.header.height < pin.height:
                raise NotAnchored(
                    view.header.height,
                    f"state as of an older header than the pinned {pin.height}; "
                    "it may have changed since (the node is behind, or replays): ask again",
                )
            return self.check_header(source, view.header)

    def check_tx(self, source: HeaderSource, view: TxView) -> str:
        if view.proof is None:
            raise InvalidProof("the transaction view has no proof")
        # The ledger header proves the transaction is in the log; its block's header
        # proves its result: both must follow from the pin.
        with self._lock:
            used = self.check_header(source, view.proof.ledger.header)
            self.check_header(source, view.header)
            return used

    def check_header(self, source: HeaderSource, header: Header) -> str:
        """Accept `header` if it follows from the pin; return which anchor was used."""
        with self._lock:
            pin = self._trusted(source)
            if header.chain_id != pin.chain_id:
                raise NotAnchored(header.height, f"chain {header.chain_id!r}, not {pin.chain_id!r}")
            if header.height < pin.height:
                _walk_back(source, pin.header, header.height, header.hash())
                return f"{pin.label()} ({self.origin}) + hash links back to header {header.height}"
            _walk_back(source, header, pin.height, pin.hash)
            _check_extends(source, pin.header, header)
            used = f"{pin.label()} ({self.origin}) + consistency proof to header {header.height}"
            self._advance(header)
            return used

    def _trusted(self, source: HeaderSource) -> Pin:
        """The pin; on first use, the header the node offers (its hash checked if one was given)."""
        if self.pin is None:
            height = None if self.expect is None else self.expect[0]
            offered = _fetch(source, height).header
            if self.expect is not None and offered.hash() != self.expect[1]:
                raise NotAnchored(offered.height, f"its hash is not the given {self.expect[1]}")
            self._advance(offered)
        assert self.pin is not None
        return self.pin

    def _advance(self, header: Header) -> None:
        if self.pin is not None and header.height <= self.pin.height:
            return
        self.pin = Pin.of(header)
        if self.file is not None:
            self.file.write_text(json.dumps(self.pin.wire(), indent=2) + "\n")


def _fetch(source: HeaderSource, height: int | None) -> HeaderView:
    view = source.header(height)
    if height is not None and view.header.height != height:
        raise NotAnchored(height, f"the node answered header {view.header.height}")
    return view


def _walk_back(source: HeaderSource, newer: Header, down_to: int, expected_hash: str) -> None:
    """Follow parent hashes from `newer` down to height `down_to`, whose hash must be given."""
    current = newer
    while current.height > down_to:
        parent = _fetch(source, current.height - 1).header
        if parent.hash() != current.prev_hash:
            raise NotAnchored(newer.height, f"header {parent.height} is not the parent of the next")
        current = parent
    if current.hash() != expected_hash:
        raise NotAnchored(newer.height, f"it descends from another header {down_to}")


def _check_extends(source: HeaderSource, old: Header, new: Header) -> None:
    """RFC 9162: the log `new` commits to begins with the log `old` commits to."""
    if old.log_size == 0:
        return  # the empty log is a prefix of every log
    if new.log_size < old.log_size:
        raise NotAnchored(new.height, "its log is shorter than the pinned log")
    view = source.consistency(old.log_size, new.log_size)
    try:
        proofs.verify_consistency(
            old.log_size,
            new.log_size,
            bytes.fromhex(old.log_root),
            bytes.fromhex(new.log_root),
            [bytes.fromhex(h) for h in view.path],
        )
    except (proofs.ProofError, ValueError) as exc:
        raise NotAnchored(new.height, f"its log does not extend the pinned log: {exc}") from exc
