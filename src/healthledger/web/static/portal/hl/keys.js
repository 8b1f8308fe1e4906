// Key files, opened in the browser: the same JSON the CLI writes (crypto/keys.py),
// plain or passphrase-protected. Keys live in this module's objects only; nothing
// here sends them anywhere.
import { sodium } from "./sodium.js";
import { concat, fromBase64, fromHex, fromUtf8, sha256, toHex, utf8 } from "./bytes.js";

export const PROTECTED_FORMAT = "healthledger-key/protected-v1";
// The costs a protected file may ask of Argon2id: its own parameters are read from the
// file, and a crafted file must not freeze the tab (crypto/keys.py holds the same bounds).
const MAX_OPSLIMIT = 16;
const MAX_MEMLIMIT = 1024 * 1024 * 1024;

export class KeyFileError extends Error {}

export class KeyPair {
  #signingSecret;
  #keyring;

  constructor(signingSeed, encryptionSecret, earlierEncryptionSecrets = []) {
    for (const secret of [signingSeed, encryptionSecret, ...earlierEncryptionSecrets]) {
      if (!(secret instanceof Uint8Array) || secret.length !== 32) {
        throw new KeyFileError("not a HealthLedger key file: keys are 32 bytes");
      }
    }
    const pair = sodium.crypto_sign_seed_keypair(signingSeed);
    this.#signingSecret = pair.privateKey;
    this.#keyring = [encryptionSecret, ...earlierEncryptionSecrets];
    this.publicKey = pair.publicKey;
    this.keyId = toHex(pair.publicKey);
    this.encryptionPublic = sodium.crypto_scalarmult_base(encryptionSecret);
    Object.freeze(this);
  }

  // Detached Ed25519 signature over `message` (bytes).
  sign(message) {
    return sodium.crypto_sign_detached(message, this.#signingSecret);
  }

  // Every X25519 secret this person has held, the current one first (sealed boxes
  // do not name their recipient, so a reader tries each).
  get encryptionKeyring() {
    return this.#keyring.map((secret) => secret.slice());
  }

  // The pseudonym these keys have as a patient (crypto/keys.py derive_patient_id).
  get patientId() {
    return "pat_" + toHex(sha256(concat(utf8("healthledger/patient/"), this.publicKey)).slice(0, 16));
  }
}

function secret(value, field) {
  try {
    return fromHex(value);
  } catch {
    throw new KeyFileError(`not a HealthLedger key file: ${field} is not hex`);
  }
}

function fromPlain(data) {
  if (typeof data.signing_seed !== "string" || typeof data.encryption_secret !== "string") {
    throw new KeyFileError("not a HealthLedger key file: signing_seed and encryption_secret are missing");
  }
  const earlier = (data.earlier_encryption_secrets ?? []).map((s) => secret(s, "earlier_encryption_secrets"));
  const pair = new KeyPair(secret(data.signing_seed, "signing_seed"), secret(data.encryption_secret, "encryption_secret"), earlier);
  if (data.key_id !== undefined && data.key_id !== pair.keyId) {
    throw new KeyFileError("not a HealthLedger key file: its key_id does not match its signing key");
  }
  return pair;
}

export function isProtected(data) {
  return data !== null && typeof data === "object" && data.format === PROTECTED_FORMAT;
}

// The plain key file inside a protected one: Argon2id stretches the passphrase into a
// secretbox key (crypto/keys.py protect_keypair writes the same form).
export function unprotect(data, passphrase) {
  const kdf = data.kdf ?? {};
  if (kdf.name !== "argon2id13") throw new KeyFileError("unknown key file protection");
  const costly = !Number.isSafeInteger(kdf.opslimit) || !Number.isSafeInteger(kdf.memlimit) ||
    kdf.opslimit < 1 || kdf.opslimit > MAX_OPSLIMIT || kdf.memlimit < 8192 || kdf.memlimit > MAX_MEMLIMIT;
  if (costly) throw new KeyFileError("this key file asks for a passphrase cost outside the bounds HealthLedger writes");
  const key = sodium.crypto_pwhash(
    sodium.crypto_secretbox_KEYBYTES,
    utf8(passphrase),
    fromHex(kdf.salt),
    kdf.opslimit,
    kdf.memlimit,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
  let plain;
  try {
    plain = sodium.crypto_secretbox_open_easy(fromBase64(data.ciphertext), fromHex(data.nonce), key);
  } catch {
    throw new KeyFileError("wrong passphrase, or the key file is damaged");
  } finally {
    sodium.memzero(key);
  }
  return JSON.parse(fromUtf8(plain));
}

// Parse a key file's text; a protected one needs its passphrase.
export function openKeyFile(text, passphrase = null) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    throw new KeyFileError("not a HealthLedger key file: it is not JSON");
  }
  if (isProtected(data)) {
    if (passphrase === null || passphrase === "") throw new KeyFileError("this key file is protected: enter its passphrase");
    data = unprotect(data, passphrase);
  }
  return fromPlain(data);
}
