"""CometBFT light-client verification: trust the validator set, not the node that answered.

A node's RPC answers are parsed into frozen values, and then every byte that matters is
re-derived here: the header hash (CometBFT v0.38 `types/block.go` Header.Hash), the
validator set hash (`types/validator_set.go` Hash), the bytes each validator signed
(`types/vote.go` VoteSignBytes) and the voting power behind them (`light/verifier.go`).
No I/O: the caller fetches `/commit` and `/validators` however it likes. See
docs/light-client.md.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any

import nacl.exceptions
import nacl.signing

from healthledger.errors import ErrorCode, InvalidProof, LedgerError, MalformedInput, NotFound
from healthledger.ledger import merkle, proofs

HASH_SIZE = 32  # tmhash: SHA-256
ADDRESS_SIZE = 20  # crypto.AddressHash: the first 20 bytes of SHA-256(public key)
ED25519_KEY_TYPE = "tendermint/PubKeyEd25519"
PRECOMMIT = 2  # SignedMsgType of the votes a commit is made of


class Check(StrEnum):
    """Which check a header failed: a stable, machine-readable detail of HEADER_UNVERIFIED."""

    CHAIN_ID = "chain_id"
    HEIGHT = "height"
    HEADER_HASH = "header_hash"
    VALIDATORS_HASH = "validators_hash"
    SIGNATURE = "signature"
    VOTING_POWER = "voting_power"
    TRUST = "trust"
    APP_HASH = "app_hash"
    DATA_HASH = "data_hash"


class HeaderUnverified(LedgerError):
    """A header the trusted validators have not committed to; `check` names the failed check."""

    code = ErrorCode.HEADER_UNVERIFIED

    def __init__(self, check: Check, message: str) -> None:
        super().__init__(f"{check}: {message}")
        self.check = check

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "check": str(self.check)}


class BlockIDFlag(IntEnum):
    """types/block.go BlockIDFlag: what a validator's slot in a commit holds."""

    ABSENT = 1
    COMMIT = 2
    NIL = 3


# --- a tiny protobuf writer: just what CometBFT's signed and hashed messages need ---


def _varint(value: int) -> bytes:
    """Base-128 varint; a negative int64 is written as its 64-bit two's complement (10 bytes)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _int_field(field: int, value: int) -> bytes:
    """A varint field (int32/int64/uint32/uint64/enum); proto3 omits zero."""
    return _tag(field, 0) + _varint(value) if value else b""


def _sfixed64_field(field: int, value: int) -> bytes:
    """An sfixed64 field: 8 bytes little-endian, omitted when zero."""
    return _tag(field, 1) + value.to_bytes(8, "little", signed=True) if value else b""


def _bytes_field(field: int, value: bytes) -> bytes:
    """A bytes or string field; proto3 omits an empty one."""
    return _tag(field, 2) + _varint(len(value)) + value if value else b""


def _message_field(field: int, body: bytes) -> bytes:
    """An embedded message that is present: written even when its body is empty."""
    return _tag(field, 2) + _varint(len(body)) + body


def _delimited(body: bytes) -> bytes:
    """libs/protoio MarshalDelimited: the message prefixed with its varint length."""
    return _varint(len(body)) + body


# --- values ---


@dataclass(frozen=True)
class Timestamp:
    """google.protobuf.Timestamp: whole seconds since the Unix epoch plus 0..999999999 nanos."""

    seconds: int
    nanos: int

    def encode(self) -> bytes:
        return _int_field(1, self.seconds) + _int_field(2, self.nanos)

    @property
    def ns(self) -> int:
        return self.seconds * 1_000_000_000 + self.nanos

    def iso(self) -> str:
        """RFC 3339 in UTC with trailing zeros of the fraction trimmed, as Go prints it."""
        moment = _EPOCH + timedelta(seconds=self.seconds)
        fraction = f".{self.nanos:09d}".rstrip("0").rstrip(".")
        return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}{fraction}Z"  # %Y does not pad year 1


_EPOCH = datetime(1970, 1, 1)
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))"
)


def parse_time(text: str) -> Timestamp:
    """An RFC 3339 time with up to 9 fractional digits, exactly (no float on the way)."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    seconds = (datetime(year, month, day, hour, minute, second) - _EPOCH) // timedelta(seconds=1)
    if match.group(8):
        offset = int(match.group(9)) * 3600 + int(match.group(10)) * 60
        seconds -= offset if match.group(8) == "+" else -offset
    return Timestamp(seconds, int((match.group(7) or "").ljust(9, "0")))


@dataclass(frozen=True)
class BlockID:
    """types/block.go BlockID: the header hash and the part set header of the block's parts."""

    hash: bytes
    parts_total: int
    parts_hash: bytes

    def _part_set_header(self) -> bytes:
        return _int_field(1, self.parts_total) + _bytes_field(2, self.parts_hash)

    def encode(self) -> bytes:
        """BlockID (and CanonicalBlockID, the same fields): the part set header always present."""
        return _bytes_field(1, self.hash) + _message_field(2, self._part_set_header())

    def is_zero(self) -> bool:
        return not self.hash and not self.parts_total and not self.parts_hash


def vote_sign_bytes(
    chain_id: str, height: int, round_: int, block_id: BlockID | None, timestamp: Timestamp
) -> bytes:
    """The bytes a validator signs for a precommit: a length-delimited CanonicalVote."""
    canonical_block_id = b"" if block_id is None or block_id.is_zero() else block_id.encode()
    body = (
        _int_field(1, PRECOMMIT)
        + _sfixed64_field(2, height)
        + _sfixed64_field(3, round_)
        + (_message_field(4, canonical_block_id) if canonical_block_id else b"")
        + _message_field(5, timestamp.encode())  # non-nullable: written even at the zero time
        + _bytes_field(6, chain_id.encode())
    )
    return _delimited(body)


def _cdc_string(value: str) -> bytes:
    """cdcEncode of a string: a gogotypes StringValue."""
    return _bytes_field(1, value.encode())


def _cdc_int64(value: int) -> bytes:
    """cdcEncode of an int64: a gogotypes Int64Value."""
    return _int_field(1, value)


def _cdc_bytes(value: bytes) -> bytes:
    """cdcEncode of HexBytes: a gogotypes BytesValue."""
    return _bytes_field(1, value)


@dataclass(frozen=True)
class Header:
    """types/block.go Header: the 14 fields its hash commits to."""

    version_block: int
    version_app: int
    chain_id: str
    height: int
    time: Timestamp
    last_block_id: BlockID
    last_commit_hash: bytes
    data_hash: bytes
    validators_hash: bytes
    next_validators_hash: bytes
    consensus_hash: bytes
    app_hash: bytes
    last_results_hash: bytes
    evidence_hash: bytes
    proposer_address: bytes

    def encoded_fields(self) -> list[bytes]:
        """The 14 leaves of Header.Hash, in struct order."""
        version = _int_field(1, self.version_block) + _int_field(2, self.version_app)
        return [
            version,
            _cdc_string(self.chain_id),
            _cdc_int64(self.height),
            self.time.encode(),
            self.last_block_id.encode(),
            *(
                _cdc_bytes(value)
                for value in (
                    self.last_commit_hash,
                    self.data_hash,
                    self.validators_hash,
                    self.next_validators_hash,
                    self.consensus_hash,
                    self.app_hash,
                    self.last_results_hash,
                    self.evidence_hash,
                    self.proposer_address,
                )
            ),
        ]

    def hash(self) -> bytes:
        """Header.Hash: the RFC 6962 Merkle root over the encoded fields."""
        return _merkle_root_of_items(self.encoded_fields())


def _merkle_root_of_items(items: Iterable[bytes]) -> bytes:
    """crypto/merkle HashFromByteSlices: RFC 6962 root with leaf = SHA-256(0x00 || item)."""
    return merkle.merkle_root([merkle.leaf_hash(item) for item in items])


@dataclass(frozen=True)
class CommitSig:
    """One validator's slot in a commit: its flag, address, own vote time and signature."""

    flag: BlockIDFlag
    validator_address: bytes
    timestamp: Timestamp
    signature: bytes


@dataclass(frozen=True)
class Commit:
    """types/block.go Commit: +2/3 precommits for one block, one slot per validator by index."""

    height: int
    round: int
    block_id: BlockID
    signatures: tuple[CommitSig, ...]

    def sign_bytes(self, chain_id: str, index: int) -> bytes:
        """What the validator at `index` signed (Commit.VoteSignBytes)."""
        sig = self.signatures[index]
        block_id = self.block_id if sig.flag == BlockIDFlag.COMMIT else None
        return vote_sign_bytes(chain_id, self.height, self.round, block_id, sig.timestamp)


@dataclass(frozen=True)
class SignedHeader:
    """A header and the commit that claims the validators signed it."""

    header: Header
    commit: Commit

    def hash(self) -> bytes:
        return self.header.hash()

    @classmethod
    def from_rpc(cls, result: Mapping[str, Any]) -> SignedHeader:
        """From the `result` of `GET /commit?height=H` (or its `signed_header` alone)."""
        try:
            signed = result.get("signed_header", result)
            return cls(_header_from_json(signed["header"]), _commit_from_json(signed["commit"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedInput(f"not a CometBFT signed header: {exc!r}") from exc


@dataclass(frozen=True)
class Validator:
    """A validator: its address, Ed25519 public key and voting power."""

    address: bytes
    pub_key: bytes
    power: int

    def encode(self) -> bytes:
        """Validator.Bytes: a SimpleValidator{PublicKey{ed25519}, voting_power}."""
        return _message_field(1, _message_field(1, self.pub_key)) + _int_field(2, self.power)


@dataclass(frozen=True)
class ValidatorSet:
    """Validators in CometBFT's set order, which commit slots follow index by index."""

    validators: tuple[Validator, ...]

    def hash(self) -> bytes:
        """ValidatorSet.Hash: RFC 6962 root over each validator's SimpleValidator bytes."""
        return _merkle_root_of_items(v.encode() for v in self.validators)

    @property
    def total_power(self) -> int:
        return sum(v.power for v in self.validators)

    def by_address(self) -> dict[bytes, Validator]:
        return {v.address: v for v in self.validators}

    @classmethod
    def in_cometbft_order(cls, validators: Iterable[Validator]) -> ValidatorSet:
        """CometBFT's order for a new set: voting power descending, then address ascending."""
        return cls(tuple(sorted(validators, key=lambda v: (-v.power, v.address))))

    @classmethod
    def from_rpc(cls, result: Mapping[str, Any]) -> ValidatorSet:
        """From the `result` of `GET /validators?height=H`, all pages joined; order kept."""
        try:
            entries = result["validators"]
            if _int(result.get("total", len(entries))) != len(entries):
                raise ValueError(
                    f"{len(entries)} of {result['total']} validators: fetch every page"
                )
            return _checked_set(
                _validator(e["address"], e["pub_key"], e["voting_power"]) for e in entries
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedInput(f"not a CometBFT validator set: {exc!r}") from exc

    @classmethod
    def from_genesis(cls, genesis: Mapping[str, Any]) -> ValidatorSet:
        """The validators of a CometBFT genesis.json, in the order CometBFT gives them."""
        try:
            entries = genesis["validators"]
            if not entries:
                raise ValueError("genesis lists no validators")
            found = _checked_set(
                _validator(e.get("address", ""), e["pub_key"], e["power"]) for e in entries
            )
            return cls.in_cometbft_order(found.validators)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedInput(f"not a CometBFT genesis: {exc!r}") from exc


@dataclass(frozen=True)
class VerifiedHeader:
    """What a client may now rely on: the header's commitments, signed by enough power."""

    height: int
    chain_id: str
    time: str
    time_ns: int
    app_hash: bytes
    data_hash: bytes
    header_hash: bytes
    validators_hash: bytes
    signed_power: int
    total_power: int

    def to_dict(self) -> dict[str, object]:
        return {
            "height": self.height,
            "chain_id": self.chain_id,
            "time": self.time,
            "app_hash": self.app_hash.hex(),
            "data_hash": self.data_hash.hex(),
            "header_hash": self.header_hash.hex(),
            "validators_hash": self.validators_hash.hex(),
            "signed_power": self.signed_power,
            "total_power": self.total_power,
        }


# --- parsing the RPC's JSON ---


def _int(value: Any) -> int:
    """An integer as CometBFT's JSON writes it: int64 as a decimal string, int32 as a number."""
    if type(value) is int:
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    raise ValueError(f"not an integer: {value!r}")


def _hex(value: Any, size: int | None = HASH_SIZE) -> bytes:
    """Upper-case hex as CometBFT writes HexBytes; empty allowed; `size` if given and not empty."""
    raw = bytes.fromhex(value)
    if raw and size is not None and len(raw) != size:
        raise ValueError(f"{value!r} is {len(raw)} bytes, not {size}")
    return raw


def _b64(value: Any) -> bytes:
    return base64.b64decode(value or "", validate=True)


def _block_id_from_json(data: Mapping[str, Any]) -> BlockID:
    parts = data["parts"]
    return BlockID(_hex(data["hash"]), _int(parts["total"]), _hex(parts["hash"]))


def _header_from_json(data: Mapping[str, Any]) -> Header:
    return Header(
        version_block=_int(data["version"]["block"]),
        version_app=_int(data["version"].get("app", 0)),
        chain_id=str(data["chain_id"]),
        height=_int(data["height"]),
        time=parse_time(data["time"]),
        last_block_id=_block_id_from_json(data["last_block_id"]),
        last_commit_hash=_hex(data["last_commit_hash"]),
        data_hash=_hex(data["data_hash"]),
        validators_hash=_hex(data["validators_hash"]),
        next_validators_hash=_hex(data["next_validators_hash"]),
        consensus_hash=_hex(data["consensus_hash"]),
        app_hash=_hex(data["app_hash"], size=None),  # the application chooses its length
        last_results_hash=_hex(data["last_results_hash"]),
        evidence_hash=_hex(data["evidence_hash"]),
        proposer_address=_hex(data["proposer_address"], ADDRESS_SIZE),
    )


def _commit_sig_from_json(data: Mapping[str, Any]) -> CommitSig:
    return CommitSig(
        flag=BlockIDFlag(_int(data["block_id_flag"])),
        validator_address=_hex(data.get("validator_address") or "", ADDRESS_SIZE),
        timestamp=parse_time(data["timestamp"]),
        signature=_b64(data.get("signature")),
    )


def _commit_from_json(data: Mapping[str, Any]) -> Commit:
    return Commit(
        height=_int(data["height"]),
        round=_int(data["round"]),
        block_id=_block_id_from_json(data["block_id"]),
        signatures=tuple(_commit_sig_from_json(s) for s in data["signatures"]),
    )


def address_of(pub_key: bytes) -> bytes:
    """crypto.AddressHash: the first 20 bytes of SHA-256 of the public key."""
    return hashlib.sha256(pub_key).digest()[:ADDRESS_SIZE]


def _validator(address: Any, pub_key: Mapping[str, Any], power: Any) -> Validator:
    """One validator, refusing other key types and an address that is not its key's."""
    if pub_key["type"] != ED25519_KEY_TYPE:
        raise ValueError(f"unsupported key type {pub_key['type']!r}")
    key = _b64(pub_key["value"])
    if len(key) != 32:
        raise ValueError(f"an Ed25519 key is 32 bytes, not {len(key)}")
    if address and _hex(address, ADDRESS_SIZE) != address_of(key):
        raise ValueError(f"address {address} is not the address of its key")
    if _int(power) <= 0:
        raise ValueError(f"voting power {power} is not positive")
    return Validator(address_of(key), key, _int(power))


def _checked_set(validators: Iterable[Validator]) -> ValidatorSet:
    found = ValidatorSet(tuple(validators))
    if len(found.by_address()) != len(found.validators):
        raise ValueError("a validator appears twice")
    return found


# --- verification ---


def _signature_is_valid(pub_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        nacl.signing.VerifyKey(pub_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        return False
    return True


def _check_signed_header(signed: SignedHeader, chain_id: str) -> None:
    """The commit is for this header, of this chain, at its height."""
    header, commit = signed.header, signed.commit
    if header.chain_id != chain_id:
        raise HeaderUnverified(Check.CHAIN_ID, f"header of {header.chain_id!r}, not {chain_id!r}")
    if commit.height != header.height:
        raise HeaderUnverified(
            Check.HEIGHT, f"commit at {commit.height} for a header at {header.height}"
        )
    if header.hash() != commit.block_id.hash:
        raise HeaderUnverified(
            Check.HEADER_HASH,
            f"header hashes to {header.hash().hex()}, commit is for {commit.block_id.hash.hex()}",
        )


def _check_validator_set(header: Header, validators: ValidatorSet, commit: Commit) -> None:
    """The set is the one the header names, with one commit slot per validator."""
    if validators.hash() != header.validators_hash:
        raise HeaderUnverified(
            Check.VALIDATORS_HASH,
            f"validators hash to {validators.hash().hex()}, "
            f"header names {header.validators_hash.hex()}",
        )
    if len(commit.signatures) != len(validators.validators):
        raise HeaderUnverified(
            Check.VALIDATORS_HASH,
            f"{len(commit.signatures)} commit slots for {len(validators.validators)} validators",
        )


def _verify_sig(commit: Commit, index: int, validator: Validator, chain_id: str) -> None:
    if not _signature_is_valid(
        validator.pub_key, commit.sign_bytes(chain_id, index), commit.signatures[index].signature
    ):
        raise HeaderUnverified(
            Check.SIGNATURE,
            f"signature {index} is not by validator {validator.address.hex()} over the vote",
        )


def _power_by_index(commit: Commit, validators: ValidatorSet, chain_id: str) -> int:
    """Power of the valid commit signatures of the header's own set, slot i = validator i."""
    power = 0
    for index, (sig, validator) in enumerate(
        zip(commit.signatures, validators.validators, strict=True)
    ):
        if sig.flag != BlockIDFlag.COMMIT:
            continue  # absent and nil votes carry no power for this block
        if sig.validator_address != validator.address:
            raise HeaderUnverified(
                Check.SIGNATURE, f"slot {index} is {sig.validator_address.hex()}, not the set's"
            )
        _verify_sig(commit, index, validator, chain_id)
        power += validator.power
    return power


def _power_by_address(commit: Commit, trusted: ValidatorSet, chain_id: str) -> int:
    """Power of the trusted validators among the commit's valid signatures, each counted once."""
    known, seen, power = trusted.by_address(), set[bytes](), 0
    for index, sig in enumerate(commit.signatures):
        validator = known.get(sig.validator_address)
        if sig.flag != BlockIDFlag.COMMIT or validator is None:
            continue
        if validator.address in seen:
            raise HeaderUnverified(Check.SIGNATURE, f"{validator.address.hex()} signed twice")
        seen.add(validator.address)
        _verify_sig(commit, index, validator, chain_id)
        power += validator.power
    return power


def _require_power(check: Check, signed: int, total: int, numerator: int, denominator: int) -> None:
    """Strictly more than numerator/denominator of the total, in integers."""
    if total <= 0 or signed * denominator <= total * numerator:
        raise HeaderUnverified(
            check, f"signed power {signed} of {total} is not more than {numerator}/{denominator}"
        )


def verify_commit(signed: SignedHeader, validators: ValidatorSet, chain_id: str) -> VerifiedHeader:
    """Check a header against the set it names: valid signatures of more than 2/3 of the power."""
    _check_signed_header(signed, chain_id)
    _check_validator_set(signed.header, validators, signed.commit)
    power = _power_by_index(signed.commit, validators, chain_id)
    _require_power(Check.VOTING_POWER, power, validators.total_power, 2, 3)
    return _verified(signed, power, validators.total_power)


def verify_header(
    signed: SignedHeader, validators_at_height: ValidatorSet, trusted: ValidatorSet, chain_id: str
) -> VerifiedHeader:
    """Check a header from a trusted set: directly if it is the header's set, else by skipping.

    Skipping (light/verifier.go VerifyNonAdjacent with trust level 1/3): more than 1/3 of
    the trusted power signed, so at least one honest trusted validator vouches for the new
    set, and more than 2/3 of the new set signed.
    """
    if signed.header.validators_hash == trusted.hash():
        return verify_commit(signed, trusted, chain_id)
    _check_signed_header(signed, chain_id)
    _check_validator_set(signed.header, validators_at_height, signed.commit)
    trusted_power = _power_by_address(signed.commit, trusted, chain_id)
    _require_power(Check.TRUST, trusted_power, trusted.total_power, 1, 3)
    return verify_commit(signed, validators_at_height, chain_id)


def _verified(signed: SignedHeader, power: int, total: int) -> VerifiedHeader:
    header = signed.header
    return VerifiedHeader(
        height=header.height,
        chain_id=header.chain_id,
        time=header.time.iso(),
        time_ns=header.time.ns,
        app_hash=header.app_hash,
        data_hash=header.data_hash,
        header_hash=header.hash(),
        validators_hash=header.validators_hash,
        signed_power=power,
        total_power=total,
    )


# --- transactions in a verified header ---


def tx_leaf_hash(tx: bytes) -> bytes:
    """A transaction's leaf in DataHash: RFC 6962 leaf of its tmhash (types/tx.go Txs.Hash)."""
    return merkle.leaf_hash(hashlib.sha256(tx).digest())


def block_data_hash(txs: Sequence[bytes]) -> bytes:
    """A block's DataHash: the RFC 6962 root over its transactions' leaves."""
    return merkle.merkle_root([tx_leaf_hash(tx) for tx in txs])


def tx_data_proof(txs: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path (deepest sibling first, CometBFT's `aunts`) of transaction `index`."""
    if not 0 <= index < len(txs):
        raise NotFound(f"the block has no transaction {index} (it has {len(txs)})")
    return merkle.inclusion_proof(index, [tx_leaf_hash(tx) for tx in txs])


def verify_tx_in_header(
    tx: bytes, index: int, total: int, proof: Sequence[bytes], data_hash: bytes
) -> None:
    """Check that `tx` is transaction `index` of `total` in the block whose DataHash is given."""
    try:
        proofs.verify_inclusion(tx_leaf_hash(tx), index, total, proof, data_hash)
    except proofs.ProofError as exc:
        raise InvalidProof(f"transaction {index} of {total}: {exc}") from exc


@dataclass(frozen=True)
class TxProof:
    """CometBFT's types.TxProof from `GET /tx?hash=..&prove=true`: the tx and its audit path."""

    tx: bytes
    index: int
    total: int
    aunts: tuple[bytes, ...]

    @classmethod
    def from_rpc(cls, result: Mapping[str, Any]) -> TxProof:
        """From the `result` of `/tx` (or one entry of `/tx_search`) with prove=true."""
        try:
            proof = result["proof"]
            path = proof["proof"]
            aunts = tuple(_b64(a) for a in path["aunts"] or ())
            return cls(_b64(proof["data"]), _int(path["index"]), _int(path["total"]), aunts)
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedInput(f"not a CometBFT transaction proof: {exc!r}") from exc

    def verify(self, header: VerifiedHeader) -> None:
        """Check the transaction against a header this client verified itself."""
        verify_tx_in_header(self.tx, self.index, self.total, self.aunts, header.data_hash)


__all__ = [
    "BlockID",
    "BlockIDFlag",
    "Check",
    "Commit",
    "CommitSig",
    "Header",
    "HeaderUnverified",
    "SignedHeader",
    "Timestamp",
    "TxProof",
    "Validator",
    "ValidatorSet",
    "VerifiedHeader",
    "address_of",
    "block_data_hash",
    "parse_time",
    "tx_data_proof",
    "tx_leaf_hash",
    "verify_commit",
    "verify_header",
    "verify_tx_in_header",
    "vote_sign_bytes",
]
