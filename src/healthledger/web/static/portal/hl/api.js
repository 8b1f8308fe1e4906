// The node's HTTP API as the browser uses it: every request that needs a signature is
// signed here with the key held in this page; the key itself is never sent.
import { canonicalBytes } from "./canonical.js";
import { sha256Hex, utf8 } from "./bytes.js";
import { EMPTY_BODY, signRequest, signTransaction } from "./signing.js";

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

// One path segment, percent-encoded whole, exactly as the SDK does (client/sdk.py
// _segment): the signature covers the raw path, so both must send the same bytes.
export function segment(value) {
  const text = String(value);
  if (text !== "" && /^\.+$/.test(text)) return "%2E".repeat(text.length);
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

export function query(params) {
  const pairs = Object.entries(params ?? {}).filter(([, v]) => v !== undefined && v !== null);
  return pairs.length ? "?" + pairs.map(([k, v]) => `${segment(k)}=${segment(v)}`).join("&") : "";
}

// A state key as a path: `/v1/state/{namespace}/{key}`, the key's `/` kept and each part
// one encoded segment (sdk._key_path), so the signature covers what the SDK's would.
export function statePath(namespace, key) {
  return `/v1/state/${segment(namespace)}/${String(key).split("/").map(segment).join("/")}`;
}

function parsed(text) {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

// The ApiError a refused answer carries: the ledger's code and message, or `unavailable`
// with what came back when the answer is not the node's error JSON (a proxy's page).
export async function errorFrom(response) {
  const text = await response.text().catch(() => "");
  const error = parsed(text)?.error;
  if (error && error.code) return new ApiError(error.code, error.message, response.status);
  return new ApiError("unavailable", text || response.statusText, response.status);
}

async function answer(response) {
  if (!response.ok) throw await errorFrom(response);
  return parsed(await response.text());
}

async function send(method, target, init) {
  let response;
  try {
    response = await fetch(target, { method, credentials: "omit", cache: "no-store", ...init });
  } catch (error) {
    throw new ApiError("unavailable", `cannot reach the node: ${error.message}`, 0);
  }
  return response;
}

// Public reads need no key.
export async function getPublic(path, params) {
  return answer(await send("GET", path + query(params), {}));
}

export async function nodeInfo() {
  return getPublic("/v1/info");
}

// Everything a signed-in person does, signed with their keys for the node's organisation.
export class Api {
  constructor(keys, info) {
    this.keys = keys;
    this.chainId = info.chain_id;
    this.audience = info.org;
    this.nextNonce = null;
    this.nonceRead = null; // the read of the ledger's nonce in flight, shared
  }

  // `audience` is the organisation the request is meant for: the node's own, or a record's
  // custodian elsewhere (the node forwards a record read meant for another organisation).
  headers(method, target, bodySha256 = EMPTY_BODY, audience = this.audience) {
    return signRequest(this.keys, this.chainId, audience, method, target, bodySha256);
  }

  // A signed request; `extra(api, signed)` adds headers (an intent signed with the same
  // time and nonce as `signed`), `body` is bytes already encoded.
  async raw(method, path, { params, body, extra, audience } = {}) {
    const target = path + query(params);
    const bytes = body ?? new Uint8Array();
    const signed = this.headers(method, target, bytes.length ? sha256Hex(bytes) : EMPTY_BODY, audience);
    const headers = { ...signed, ...(extra ? extra(this, signed) : {}) };
    if (bytes.length) headers["content-type"] = "application/json";
    return send(method, target, { headers, body: bytes.length ? bytes : undefined });
  }

  // `intent(headers)`, when given, signs the x-hl-intent header (a break-glass search).
  async get(path, params, { intent } = {}) {
    const extra = intent ? (_api, signed) => ({ "x-hl-intent": intent(signed) }) : undefined;
    return answer(await this.raw("GET", path, { params, extra }));
  }

  async post(path, value, { params, intent, audience } = {}) {
    const body = utf8(JSON.stringify(value));
    const target = path + query(params);
    const headers = { ...this.headers("POST", target, sha256Hex(body), audience), "content-type": "application/json" };
    if (intent) headers["x-hl-intent"] = intent(headers);
    return answer(await send("POST", target, { headers, body }));
  }

  // The next transaction nonce: one above the highest the ledger has seen from this key.
  // Acts started together (two buttons pressed at once) share one read of the ledger's
  // nonce and then take consecutive numbers: each read would answer the same number.
  async takeNonce() {
    while (this.nextNonce === null) {
      if (!this.nonceRead) {
        this.nonceRead = this.get(statePath("nonce", this.keys.keyId)).finally(() => { this.nonceRead = null; });
        const view = await this.nonceRead;
        this.nextNonce = (view && view.value ? Number(view.value.max) : 0) + 1;
      } else {
        await this.nonceRead.catch(() => null);
      }
    }
    return this.nextNonce++;
  }

  // Sign and submit a transaction; by default wait for it to commit and return the report.
  // A refused or failed transaction raises ApiError with the ledger's code.
  async submit(type, payload, { wait = true } = {}) {
    const tx = signTransaction(this.keys, this.chainId, type, await this.takeNonce(), payload);
    const body = canonicalBytes(tx);
    let report;
    try {
      report = await answer(await send("POST", "/v1/txs" + query(wait ? { wait: "true" } : {}), {
        headers: { "content-type": "application/json" },
        body,
      }));
    } catch (error) {
      this.nextNonce = null; // re-read it: the refused nonce may or may not have been used
      throw error;
    }
    const result = report && report.result;
    if (result && result.code !== "ok") {
      throw new ApiError(result.code, result.message || "the transaction failed", 200);
    }
    return report;
  }
}
