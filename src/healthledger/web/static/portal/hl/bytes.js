// Byte helpers: hex, base64, UTF-8 and SHA-256, the forms ids and keys take on the wire.
import { sodium } from "./sodium.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function utf8(text) {
  return encoder.encode(text);
}

export function fromUtf8(bytes) {
  return decoder.decode(bytes);
}

export function toHex(bytes) {
  return sodium.to_hex(bytes);
}

export function fromHex(text) {
  if (typeof text !== "string" || text.length % 2 !== 0 || !/^[0-9a-f]*$/.test(text)) {
    throw new Error("not lowercase hex");
  }
  return sodium.from_hex(text);
}

export function toBase64(bytes) {
  return sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
}

export function fromBase64(text) {
  return sodium.from_base64(text, sodium.base64_variants.ORIGINAL);
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function sha256(bytes) {
  return sodium.crypto_hash_sha256(bytes);
}

export function sha256Hex(bytes) {
  return toHex(sha256(bytes));
}

export function equalBytes(a, b) {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
