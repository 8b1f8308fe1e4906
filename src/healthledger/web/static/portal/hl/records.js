// Patient records as the browser reads and writes them: a port of client/records.py
// (locate, read, add, break-glass reasons, intents). Every read decrypts here, checks the
// plaintext against the record's hash, and checks the access receipt's proofs.
import { sodium } from "./sodium.js";
import { canonicalBytes } from "./canonical.js";
import { concat, fromBase64, sha256Hex, toHex, utf8 } from "./bytes.js";
import { decrypt, unwrapKey } from "./envelope.js";
import { errorFrom, getPublic, segment } from "./api.js";
import { InvalidProof } from "./proofs.js";
import { provenState, provenTxView } from "./proven.js";

// The ledger's purposes of use (domains/records/messages.py PURPOSES), in its order.
export const PURPOSES = ["treatment", "payment", "research", "emergency", "operations", "public_health", "patient_request", "transplant"];
// Break-glass reasons: the vault's bounds (domains/records/policy.py).
export const MIN_REASON_CHARS = 10;
export const MAX_REASON_CHARS = 300;
const SALT_BYTES = 32;
const PATIENT_ID = /^pat_[0-9a-f]{32}$/;

export class RecordError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// A pseudonym from what a person typed, pasted or scanned: the pat_ id anywhere in it.
export function findPatientId(text) {
  const found = String(text ?? "").trim().toLowerCase().match(/pat_[0-9a-f]{32}(?![0-9a-f])/);
  return found && PATIENT_ID.test(found[0]) ? found[0] : null;
}

// policy.check_reason_text: the trimmed reason, or invalid_field.
export function checkReasonText(text) {
  const trimmed = String(text ?? "").trim();
  if (trimmed.length < MIN_REASON_CHARS || trimmed.length > MAX_REASON_CHARS) {
    throw new RecordError("invalid_field", `break-glass access needs a reason of ${MIN_REASON_CHARS} to ${MAX_REASON_CHARS} characters`);
  }
  return trimmed;
}

// client/records.py new_reason: the text with a fresh salt of ours; the chain holds only
// sha256(salt || text), which the intent signs.
export function newReason(text) {
  const checked = checkReasonText(text);
  const salt = sodium.randombytes_buf(SALT_BYTES);
  return { text: checked, salt: toHex(salt), hash: sha256Hex(concat(salt, utf8(checked))) };
}

// domains/records/messages.py intent_message: the exact bytes a reader signs for an access.
export function intentMessage(chainId, intent, time, nonce) {
  return canonicalBytes({
    chain: chainId,
    purpose_of_signature: "record.access",
    action: intent.action,
    subject: intent.subject,
    purpose: intent.purpose,
    reason_hash: intent.reasonHash ?? null,
    time,
    nonce,
  });
}

// client/records.py sign_intent: the same time and nonce as the request's own signature.
export function signIntent(keys, chainId, intent, headers) {
  return toHex(keys.sign(intentMessage(chainId, intent, Number(headers["x-hl-time"]), headers["x-hl-nonce"])));
}

// Records.locate: what this caller's standing shows; with a reason, a break-glass search
// (every record, and the access event that recorded the search).
export async function locate(api, patient, { purpose = null, breakGlassReason = null } = {}) {
  const params = { patient };
  if (purpose) params.purpose = purpose;
  if (breakGlassReason === null) return api.get("/v1/records", params);
  const reason = newReason(breakGlassReason);
  params.break_glass_reason = reason.text;
  params.break_glass_salt = reason.salt;
  const intent = { action: "locate", subject: patient, purpose: "emergency", reasonHash: reason.hash };
  return api.get("/v1/records", params, { intent: (headers) => signIntent(api.keys, api.chainId, intent, headers) });
}

// Records.route: a record another organisation holds, and that organisation published where
// its node serves, is read there: the request is signed for it and this node forwards it
// (docs/records.md). Otherwise it is signed for this node's organisation, as before.
export async function audienceFor(api, custodian) {
  if (!custodian || custodian === api.audience) return api.audience;
  try {
    const found = await getPublic(`/v1/orgs/${segment(custodian)}`);
    return found.entry ? custodian : api.audience;
  } catch {
    return api.audience;
  }
}

// Records.read_view: the vault's answer to a read (ciphertext, a data key sealed to us, receipt).
// `audience` is the organisation it is signed for (audienceFor).
export async function readView(api, recordId, purpose, breakGlassReason = null, audience = null) {
  const body = { purpose };
  let intent = { action: "read", subject: recordId, purpose };
  if (breakGlassReason !== null) {
    const reason = newReason(breakGlassReason);
    body.break_glass_reason = reason.text;
    body.break_glass_salt = reason.salt;
    intent = { ...intent, reasonHash: reason.hash };
  }
  return api.post(`/v1/records/${segment(recordId)}/read`, body, {
    intent: (headers) => signIntent(api.keys, api.chainId, intent, headers),
    audience: audience ?? api.audience,
  });
}

// A large record's ciphertext, fetched apart from the read's answer (its access names it).
async function contentOf(api, recordId, accessTx, audience) {
  const response = await api.raw("GET", `/v1/records/${segment(recordId)}/content`, {
    params: { access: accessTx },
    audience: audience ?? api.audience,
  });
  if (!response.ok) throw await errorFrom(response);
  return new Uint8Array(await response.arrayBuffer());
}

// Open a read's answer here: unwrap the data key with our keyring, decrypt, and hold the
// copy to the hash the vault gave with it. Returns envelope.js's { plaintext, salt, contentHash }.
export async function openView(api, view, audience = null) {
  const dataKey = unwrapKey(view.wrapped_key, api.keys);
  try {
    const ciphertext = view.ciphertext !== null && view.ciphertext !== undefined
      ? fromBase64(view.ciphertext)
      : await contentOf(api, view.record.id, view.access.tx_id, audience);
    const opened = decrypt(dataKey, ciphertext);
    verifyCopy(view.record, opened);
    return opened;
  } finally {
    sodium.memzero(dataKey);
  }
}

// client/records.py verify_copy: the copy is the exact version registered.
export function verifyCopy(record, opened) {
  if (opened.contentHash !== record.content_hash) {
    throw new RecordError("hash_mismatch", `this copy does not match record ${record.id}'s hash on the chain`);
  }
}

// Records._verify_receipt: the receipt proves an access event for this read, by this reader.
export async function checkReceipt(api, view) {
  const receipt = view.receipt;
  const checks = await provenTxView(api, receipt, view.access.tx_id);
  const tx = receipt.tx ?? {};
  const payload = tx.payload ?? {};
  if (tx.type !== "record.access" || payload.record_id !== view.record.id || payload.reader !== api.keys.keyId || receipt.result?.code !== "ok") {
    throw new InvalidProof("the access receipt is not for this read");
  }
  checks.push({ what: `the access event ${receipt.id.slice(0, 16)}… records this read of ${view.record.id} by your key (basis: ${view.access.basis})` });
  return checks;
}

// The record's hash as the chain holds it, proven against this browser's pinned header.
export async function checkChainRecord(api, recordId, contentHash) {
  const { view, checks } = await provenState(api, "records", `record/${recordId}`);
  if (!view.value || view.value.content_hash !== contentHash) {
    throw new InvalidProof("the record's hash on the chain differs from what was read");
  }
  checks.push({ what: `the decrypted copy's salted SHA-256 is ${contentHash.slice(0, 16)}…, the record's content_hash on the chain` });
  return checks;
}

// Records.read: read, decrypt here, check the hash and the receipt's proofs.
// Returns { record, access, resource, plaintext, checks }; `checks` says what held.
export async function readRecord(api, recordId, purpose, breakGlassReason = null, custodian = null) {
  const audience = await audienceFor(api, custodian);
  const view = await readView(api, recordId, purpose, breakGlassReason, audience);
  const opened = await openView(api, view, audience);
  const checks = [
    { what: "the data key was sealed to your own encryption key and opened in this browser" },
    { what: `the decrypted record's SHA-256 with its salt is the record's hash ${opened.contentHash.slice(0, 16)}…` },
  ];
  checks.push(...(await checkReceipt(api, view)));
  checks.push(...(await checkChainRecord(api, recordId, opened.contentHash)));
  const unique = [...new Map(checks.map((check) => [check.what, check])).values()];
  return { record: view.record, access: view.access, resource: resourceOf(opened.plaintext), plaintext: opened.plaintext, checks: unique };
}

// A decrypted record as FHIR JSON, or null for a file record (a genome, an image).
export function resourceOf(plaintext) {
  try {
    const value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plaintext));
    return value !== null && typeof value === "object" ? value : null;
  } catch {
    return null;
  }
}

// Records.add: a FHIR resource for a patient, validated again by the node (fhir.resources).
export async function addRecord(api, patient, resource, replaces = null) {
  const body = { patient, resource };
  if (replaces !== null) body.replaces = replaces;
  return api.post("/v1/records", body);
}
