// Canonical JSON (RFC 8785, JCS), the only byte form the ledger signs or hashes.
//
// The ledger's values are integers within ±(2^53-1), strings, booleans, null, arrays
// and objects (crypto/canonical.py); anything else is refused, never approximated.
// JSON.stringify escapes strings exactly as JCS does, and JS sorts keys by UTF-16
// code units, which is JCS's order.
import { utf8 } from "./bytes.js";

export function canonicalJson(value) {
  if (value === null || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Error(`not a safe integer: ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  throw new Error(`cannot encode a ${typeof value} canonically`);
}

export function canonicalBytes(value) {
  return utf8(canonicalJson(value));
}
