"""Identity keys: Ed25519 for signatures, X25519 for sealed boxes (key wrapping).

A key id is the lowercase hex of the Ed25519 public key: self-certifying, so a
signature can be checked before any state is read (the parallel `check` stage).

Rotation replaces both keys on the ledger, but data keys already wrapped to the
old encryption key stay wrapped to it; a key file therefore keeps every earlier
X25519 secret (its keyring), so records sealed before a rotation stay readable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NewType

import nacl.bindings
import nacl.exceptions
import nacl.public
import nacl.pwhash
import nacl.secret
import nacl.signing
import nacl.utils

from healthledger.errors import BadSignature, MalformedInput

KeyId = NewType("KeyId", str)

PUBLIC_KEY_HEX_LEN = 64
SIGNATURE_HEX_LEN = 128
PROTECTED_FORMAT = "healthledger-key/protected-v1"
# Argon2id at libsodium's "moderate" limits: about a second and 256 MiB, in a browser too.
PROTECT_OPSLIMIT: int = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
PROTECT_MEMLIMIT: int = nacl.pwhash.argon2id.MEMLIMIT_MODERATE
# The costs a protected file may ask for (its parameters are read from the file itself):
# a crafted file must not hang whoever opens it. web/static/portal/hl/keys.js holds the same.
MAX_OPSLIMIT = 16
MAX_MEMLIMIT = 1024 * 1024 * 1024


@dataclass(frozen=True)
class KeyPair:
    """A signing key and an encryption key held together by one actor."""

    signing_seed: bytes
    encryption_secret: bytes
    # Encryption secrets held before each rotation, newest first (never the signing seeds:
    # a rotated-away signing key is revoked and has nothing left to open).
    earlier_encryption_secrets: tuple[bytes, ...] = ()

    @classmethod
    def generate(cls) -> KeyPair:
        """Fresh random keys from the operating system's CSPRNG."""
        return cls(signing_seed=os.urandom(32), encryption_secret=os.urandom(32))

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        """Deterministic keys from a 32-byte seed (demo and benchmark actors only)."""
        if len(seed) != 32:
            raise MalformedInput("a key seed is 32 bytes")
        return cls(signing_seed=seed, encryption_secret=hashlib.sha256(b"x25519/" + seed).digest())

    @property
    def public_key(self) -> bytes:
        return bytes(nacl.signing.SigningKey(self.signing_seed).verify_key)

    @property
    def key_id(self) -> KeyId:
        return KeyId(self.public_key.hex())

    @property
    def encryption_public(self) -> bytes:
        return bytes(nacl.public.PrivateKey(self.encryption_secret).public_key)

    @property
    def encryption_keyring(self) -> tuple[bytes, ...]:
        """Every X25519 secret this actor has held, the current one first."""
        return (self.encryption_secret, *self.earlier_encryption_secrets)

    def rotated_to(self, fresh: KeyPair) -> KeyPair:
        """`fresh` keys that still hold this pair's encryption secrets (save this one)."""
        return KeyPair(
            signing_seed=fresh.signing_seed,
            encryption_secret=fresh.encryption_secret,
            earlier_encryption_secrets=self.encryption_keyring + fresh.earlier_encryption_secrets,
        )

    def sign(self, message: bytes) -> bytes:
        """Detached Ed25519 signature over `message`."""
        return nacl.signing.SigningKey(self.signing_seed).sign(message).signature

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key_id": self.key_id,
            "signing_seed": self.signing_seed.hex(),
            "encryption_secret": self.encryption_secret.hex(),
            "encryption_public": self.encryption_public.hex(),
        }
        if self.earlier_encryption_secrets:
            data["earlier_encryption_secrets"] = [s.hex() for s in self.earlier_encryption_secrets]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyPair:
        try:
            pair = cls(
                signing_seed=bytes.fromhex(data["signing_seed"]),
                encryption_secret=bytes.fromhex(data["encryption_secret"]),
                earlier_encryption_secrets=tuple(
                    bytes.fromhex(s) for s in data.get("earlier_encryption_secrets", [])
                ),
            )
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise MalformedInput(f"not a HealthLedger key file: {exc}") from exc
        if any(len(secret) != 32 for secret in (pair.signing_seed, *pair.encryption_keyring)):
            raise MalformedInput("not a HealthLedger key file: keys are 32 bytes")
        return pair


def save_keypair(pair: KeyPair, path: Path, passphrase: str | None = None) -> None:
    """Write a key file readable by its owner only; with a passphrase, its protected form."""
    data = pair.to_dict() if passphrase is None else protect_keypair(pair, passphrase)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)


def load_keypair(path: Path, passphrase: str | None = None) -> KeyPair:
    """Read a key file written by `save_keypair` (a protected one needs its passphrase)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise MalformedInput(f"cannot read key file {path}: {exc}") from exc
    if is_protected(data):
        if passphrase is None:
            raise MalformedInput(f"key file {path} is protected: give its passphrase")
        data = unprotect_keypair(data, passphrase)
    return KeyPair.from_dict(data)


def is_protected(data: object) -> bool:
    """Whether a parsed key file is the passphrase-protected form."""
    return isinstance(data, dict) and data.get("format") == PROTECTED_FORMAT


def protect_keypair(
    pair: KeyPair,
    passphrase: str,
    opslimit: int = PROTECT_OPSLIMIT,
    memlimit: int = PROTECT_MEMLIMIT,
) -> dict[str, Any]:
    """The key file sealed under a passphrase: Argon2id, then XSalsa20-Poly1305 (secretbox).

    The portal opens this form in the browser (web/static/portal/hl/keys.js); the
    public key id stays readable so a person can tell their files apart.
    """
    if not passphrase:
        raise MalformedInput("a protected key file needs a non-empty passphrase")
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    box_key = nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE, passphrase.encode(), salt, opslimit, memlimit
    )
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    plain = json.dumps(pair.to_dict()).encode()
    sealed = nacl.secret.SecretBox(box_key).encrypt(plain, nonce).ciphertext
    return {
        "format": PROTECTED_FORMAT,
        "key_id": pair.key_id,
        "kdf": {
            "name": "argon2id13",
            "opslimit": opslimit,
            "memlimit": memlimit,
            "salt": salt.hex(),
        },
        "nonce": nonce.hex(),
        "ciphertext": base64.b64encode(sealed).decode("ascii"),
    }


def unprotect_keypair(data: dict[str, Any], passphrase: str) -> dict[str, Any]:
    """The plain key file inside a protected one; a wrong passphrase is MALFORMED_INPUT."""
    try:
        kdf = data["kdf"]
        if kdf["name"] != "argon2id13":
            raise MalformedInput(f"unknown key file protection {kdf['name']!r}")
        opslimit, memlimit = int(kdf["opslimit"]), int(kdf["memlimit"])
        if not (1 <= opslimit <= MAX_OPSLIMIT and 8192 <= memlimit <= MAX_MEMLIMIT):
            raise MalformedInput("the key file asks for a passphrase cost outside the bounds")
        box_key = nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE,
            passphrase.encode(),
            bytes.fromhex(kdf["salt"]),
            opslimit,
            memlimit,
        )
        sealed = base64.b64decode(data["ciphertext"], validate=True)
        plain = nacl.secret.SecretBox(box_key).decrypt(sealed, bytes.fromhex(data["nonce"]))
        opened = json.loads(plain)
    except (KeyError, ValueError, TypeError, nacl.exceptions.CryptoError) as exc:
        raise MalformedInput("wrong passphrase, or the key file is damaged") from exc
    if not isinstance(opened, dict):
        raise MalformedInput("not a HealthLedger key file")
    return opened


def parse_key_id(value: object, field: str = "key") -> KeyId:
    """Accept a hex Ed25519 public key or raise a clear error."""
    if not isinstance(value, str) or len(value) != PUBLIC_KEY_HEX_LEN:
        raise MalformedInput(f"{field} must be 64 lowercase hex characters")
    try:
        bytes.fromhex(value)
    except ValueError as exc:
        raise MalformedInput(f"{field} must be hex") from exc
    if value != value.lower():
        raise MalformedInput(f"{field} must be lowercase hex")
    return KeyId(value)


def verify_signature(key_id: str, message: bytes, signature: bytes) -> None:
    """Check an Ed25519 signature; raise BadSignature if it does not hold."""
    try:
        nacl.bindings.crypto_sign_open(signature + message, bytes.fromhex(key_id))
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError) as exc:
        raise BadSignature("signature does not verify for the sender's key") from exc


def derive_patient_id(public_key_hex: str) -> str:
    """A patient's pseudonymous id: derived from their key, never from their name."""
    digest = nacl.bindings.crypto_hash_sha256(
        b"healthledger/patient/" + bytes.fromhex(public_key_hex)
    )
    return "pat_" + digest[:16].hex()
