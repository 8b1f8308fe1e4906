// The patient's requests to the ledger and their checks, as client/records.py makes them:
// locate, read with the x-hl-intent signature, decrypt here, check the hash against the
// chain, verify receipts against the header this browser pinned.
import { fromBase64, fromHex, fromUtf8 } from "../hl/bytes.js";
import { decrypt, unwrapKey } from "../hl/envelope.js";
import { InvalidProof } from "../hl/proofs.js";
import * as proven from "../hl/proven.js";
import { intentMessage, openView, readView, resourceOf } from "../hl/records.js";
import { sodium } from "../hl/sodium.js";

// The purpose of a patient's reads of their own records (client/records.py pull_all).
export const OWN_PURPOSE = "patient_request";

export async function locate(session) {
  return session.api.get("/v1/records", { patient: session.patientId });
}

// Read one of my records: the vault records the access, then answers the ciphertext and the
// data key sealed to me. Decrypted here; its salted hash must be the record's.
// Returns { view, opened, resource } (resource null for a file record).
export async function readOwn(session, recordId) {
  const view = await readView(session.api, recordId, OWN_PURPOSE);
  const opened = await openView(session.api, view);
  return { view, opened, resource: resourceOf(opened.plaintext) };
}

// An access event of my audit trail: its transaction, proven, says what the trail says,
// and the reader signed the access themselves (their x-hl-intent signature).
export async function checkAccessReceipt(session, event) {
  const { view, checks } = await proven.provenTx(session.api, event.tx_id);
  const p = view.tx.payload ?? {};
  const same = view.tx.type === "record.access" && p.patient === session.patientId &&
    (p.record_id ?? null) === (event.record ?? null) && p.reader === event.reader.key_id &&
    p.purpose === event.purpose && p.basis === event.basis && view.result.code === "ok";
  if (!same) throw new InvalidProof("the transaction proven is not the access this trail shows");
  checks.push({ what: `transaction ${event.tx_id.slice(0, 16)}… records this access: ${p.action} by key ${p.reader.slice(0, 16)}…, purpose ${p.purpose}, basis ${p.basis}` });
  const intent = p.intent ?? {};
  const subject = (p.action === "read" ? p.record_id : p.patient) ?? "";
  const asked = { action: p.action, subject, purpose: p.purpose, reasonHash: intent.reason_hash ?? null };
  const message = intentMessage(view.tx.chain, asked, intent.time_ms, intent.nonce);
  let signed = false;
  try {
    signed = sodium.crypto_sign_verify_detached(fromHex(intent.signature), message, fromHex(p.reader));
  } catch {
    signed = false;
  }
  if (!signed) throw new InvalidProof("the reader's own signature of this access does not verify");
  checks.push({ what: "the reader signed this access themselves (Ed25519 intent signature by their key)" });
  checks.push(...(await checkReaderIdentity(session, event.reader)));
  return checks;
}

// Who the trail says read is who the ledger says holds that key: its key record, proven
// (kept after a rotation or revocation, so past readers stay named).
async function checkReaderIdentity(session, reader) {
  const { view, checks } = await proven.provenState(session.api, "gov", `key/${reader.key_id}`);
  const known = view.value;
  if (!known || known.kind !== reader.kind || known.id !== reader.id || (known.org ?? null) !== (reader.org ?? null)) {
    throw new InvalidProof(`the ledger does not name key ${reader.key_id.slice(0, 16)}… as ${reader.id}`);
  }
  checks.push({ what: `the ledger's key record names key ${reader.key_id.slice(0, 16)}… as ${reader.kind} ${reader.id}` });
  return checks;
}

// A break-glass reason: the sealed note from the vault, opened here and held to the hash on
// the chain (records.py _open_reason). Null when this node holds no note.
export function openReason(session, event) {
  const note = event.reason_note;
  if (!note) return null;
  const opened = decrypt(unwrapKey(note.wrapped_key, session.keys), fromBase64(note.ciphertext));
  if (opened.contentHash !== event.reason_hash) throw new InvalidProof("a break-glass reason does not match its hash on the chain");
  return fromUtf8(opened.plaintext);
}
