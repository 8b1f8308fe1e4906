// The ledger's two signatures, made in the browser with the person's own key:
// signed requests (crypto/signed_request.py) and signed transactions (ledger/transaction.py),
// plus the x-hl-intent signature a record read carries (domains/records/messages.py).
import { sodium } from "./sodium.js";
import { canonicalBytes } from "./canonical.js";
import { sha256Hex, toHex } from "./bytes.js";

export const EMPTY_BODY = sha256Hex(new Uint8Array());

export function requestMessage({ chain, audience, method, target, body, key, time, nonce }) {
  return canonicalBytes({ chain, audience, method: method.toUpperCase(), target, body, key, time, nonce });
}

// Headers that authenticate one request to `audience`'s nodes; `target` is path plus query.
export function signRequest(keys, chain, audience, method, target, bodySha256 = EMPTY_BODY) {
  const time = Date.now();
  const nonce = toHex(sodium.randombytes_buf(16));
  const message = requestMessage({ chain, audience, method, target, body: bodySha256, key: keys.keyId, time, nonce });
  return {
    "x-hl-audience": audience,
    "x-hl-key": keys.keyId,
    "x-hl-time": String(time),
    "x-hl-nonce": nonce,
    "x-hl-signature": toHex(keys.sign(message)),
  };
}

// A signed transaction object, ready for POST /v1/txs.
export function signTransaction(keys, chain, type, nonce, payload) {
  const unsigned = { chain, type, sender: keys.keyId, nonce, payload };
  return { ...unsigned, signature: toHex(keys.sign(canonicalBytes(unsigned))) };
}

// The id a transaction will have: SHA-256 of the canonical bytes of the whole signed object.
export function transactionId(tx) {
  return sha256Hex(canonicalBytes(tx));
}
