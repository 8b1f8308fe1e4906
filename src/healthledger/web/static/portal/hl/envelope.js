// Decrypting a record in the browser (crypto/envelope.py's format, read side):
//   "HLV1" || secretstream header (24) || messages of 64 KiB + 17 bytes, the last tagged FINAL,
// over the stream salt (32) || plaintext. The data key arrives sealed to the reader's
// X25519 key; each secret of the reader's keyring is tried, the current one first.
import { sodium } from "./sodium.js";
import { concat, fromBase64, sha256Hex, utf8 } from "./bytes.js";

const MAGIC = utf8("HLV1");
const HEADER_BYTES = 24;
const ABYTES = 17;
const CHUNK_BYTES = 64 * 1024;
const MESSAGE_BYTES = CHUNK_BYTES + ABYTES;
const SALT_BYTES = 32;

export class DecryptionFailed extends Error {
  constructor(message) {
    super(message);
    this.code = "decryption_failed";
  }
}

export function unwrapKey(wrapped, keys) {
  const sealed = fromBase64(wrapped);
  for (const secret of keys.encryptionKeyring) {
    try {
      const publicKey = sodium.crypto_scalarmult_base(secret);
      const dataKey = sodium.crypto_box_seal_open(sealed, publicKey, secret);
      if (dataKey.length === 32) return dataKey;
    } catch {
      // not sealed to this secret: try the next one
    }
  }
  throw new DecryptionFailed("cannot unwrap the data key with any key you have held");
}

// Whole-record decryption: { plaintext, salt, contentHash } or DecryptionFailed.
export function decrypt(dataKey, ciphertext) {
  if (ciphertext.length < MAGIC.length + HEADER_BYTES + ABYTES) throw new DecryptionFailed("the ciphertext is truncated");
  if (!MAGIC.every((b, i) => ciphertext[i] === b)) throw new DecryptionFailed("not a HealthLedger vault ciphertext");
  const header = ciphertext.subarray(MAGIC.length, MAGIC.length + HEADER_BYTES);
  const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, dataKey);
  const parts = [];
  let at = MAGIC.length + HEADER_BYTES;
  let final = false;
  while (at < ciphertext.length) {
    if (final) throw new DecryptionFailed("bytes follow the final message");
    const message = ciphertext.subarray(at, Math.min(at + MESSAGE_BYTES, ciphertext.length));
    let pulled = null;
    try {
      pulled = sodium.crypto_secretstream_xchacha20poly1305_pull(state, message);
    } catch {
      pulled = null;
    }
    if (!pulled) throw new DecryptionFailed("cannot decrypt: wrong data key, or the ciphertext was altered");
    parts.push(pulled.message);
    final = pulled.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    at += message.length;
  }
  if (!final) throw new DecryptionFailed("the ciphertext is truncated: its last message is not tagged final");
  const stream = concat(...parts);
  if (stream.length < SALT_BYTES) throw new DecryptionFailed("the ciphertext does not hold a whole salt");
  return {
    salt: stream.subarray(0, SALT_BYTES),
    plaintext: stream.subarray(SALT_BYTES),
    contentHash: sha256Hex(stream),
  };
}
