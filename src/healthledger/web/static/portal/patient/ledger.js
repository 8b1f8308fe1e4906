// The patient's requests to the ledger and their checks, as client/records.py makes them:
// locate, read with the x-hl-intent signature, decrypt here, check the hash against the
// chain, verify receipts against the header this browser pinned.
import { ApiError, segment } from "../hl/api.js";
import { fromBase64, fromHex, fromUtf8, toHex } from "../hl/bytes.js";
import { canonicalBytes } from "../hl/canonical.js";
import { decrypt, unwrapKey } from "../hl/envelope.js";
import { anchorState, anchorTx } from "../hl/anchor.js";
import { InvalidProof, verifyStateView, verifyTxView } from "../hl/proofs.js";
import { sodium } from "../hl/sodium.js";

// The purpose of a patient's reads of their own records (client/records.py pull_all).
export const OWN_PURPOSE = "patient_request";

// Checks move the pinned header; one at a time, each fetching its proof inside its turn,
// so a proof is never older than a pin another check of this page just moved.
let turn = Promise.resolve();
export function serially(work) {
  const run = turn.then(work);
  turn = run.catch(() => {});
  return run;
}

// domains/records/messages.py intent_message: what a reader signs for an access.
function intentMessage(chainId, action, subject, purpose, reasonHash, time, nonce) {
  return canonicalBytes({
    chain: chainId, purpose_of_signature: "record.access", action, subject, purpose,
    reason_hash: reasonHash, time, nonce,
  });
}

// The x-hl-intent header for a request whose envelope is `headers` (same time, nonce).
export function intentSigner(session, action, subject, purpose) {
  return (headers) => toHex(session.keys.sign(
    intentMessage(session.info.chain_id, action, subject, purpose, null, Number(headers["x-hl-time"]), headers["x-hl-nonce"]),
  ));
}

export async function locate(session) {
  return session.api.get("/v1/records", { patient: session.patientId });
}

async function content(api, recordId, accessTx) {
  const response = await api.raw("GET", `/v1/records/${segment(recordId)}/content`, { params: { access: accessTx } });
  if (!response.ok) {
    let error = null;
    try {
      error = (await response.json()).error;
    } catch {
      error = null;
    }
    throw new ApiError(error ? error.code : "unavailable", error ? error.message : response.statusText, response.status);
  }
  return new Uint8Array(await response.arrayBuffer());
}

// Read one of my records: the vault records the access, then answers the ciphertext and the
// data key sealed to me. Decrypted here; its salted hash must be the record's.
export async function readOwn(session, recordId) {
  const api = session.api;
  const view = await api.post(`/v1/records/${segment(recordId)}/read`, { purpose: OWN_PURPOSE }, {
    intent: intentSigner(session, "read", recordId, OWN_PURPOSE),
  });
  const dataKey = unwrapKey(view.wrapped_key, session.keys);
  const ciphertext = view.ciphertext != null ? fromBase64(view.ciphertext) : await content(api, recordId, view.access.tx_id);
  const opened = decrypt(dataKey, ciphertext);
  if (opened.contentHash !== view.record.content_hash) {
    throw new InvalidProof("the decrypted record does not match the hash the vault gave with it");
  }
  return { view, opened, text: fromUtf8(opened.plaintext) };
}

// A state value proven against the chain and this browser's pinned header (sdk prove_state):
// { view, checks }. The node's word alone is never acted on. Asked again once when the
// node answered from before the pin (a block committed meanwhile).
async function provenStateNow(api, namespace, key) {
  const asked = { namespace, key };
  const path = `/v1/state/${namespace}/${key.split("/").map(segment).join("/")}`;
  for (let attempt = 0; ; attempt++) {
    const view = await api.get(path, { proof: "true" });
    try {
      return { view, checks: [...verifyStateView(view, asked), ...(await anchorState(api, view))] };
    } catch (error) {
      if (attempt === 1 || !(error instanceof InvalidProof) || !/ask again/.test(error.message)) throw error;
    }
  }
}

export function provenState(session, namespace, key) {
  return serially(() => provenStateNow(session.api, namespace, key));
}

// The record's entry on the chain, proven, and my copy's hash against it (sdk verify_copy).
export function checkAgainstChain(session, recordId, contentHash) {
  return serially(async () => {
    const { view, checks: anchored } = await provenStateNow(session.api, "records", `record/${recordId}`);
    const onChain = view.value && view.value.content_hash;
    if (onChain !== contentHash) throw new InvalidProof(`this copy's hash is not record ${recordId}'s hash on the chain`);
    return [
      ...anchored,
      { what: `the decrypted copy's salted SHA-256 is ${contentHash.slice(0, 16)}…, the record's content_hash on the chain` },
    ];
  });
}

// A read's receipt: the access event for this read, by me, committed (records.py _verify_receipt).
export function checkReadReceipt(session, view) {
  return serially(async () => {
    const receipt = view.receipt;
    const checks = [...verifyTxView(receipt, view.access.tx_id), ...(await anchorTx(session.api, receipt))];
    const payload = receipt.tx && receipt.tx.payload;
    if (receipt.tx.type !== "record.access" || !payload || payload.record_id !== view.record.id ||
        payload.reader !== session.keys.keyId || !receipt.result || receipt.result.code !== "ok") {
      throw new InvalidProof("the access receipt is not for this read");
    }
    checks.push({ what: `the receipt records this read of ${view.record.id} by your key, committed "ok"` });
    return checks;
  });
}

// An access event of my audit trail: its transaction, proven, says what the trail says,
// and the reader signed the access themselves (their x-hl-intent signature).
export function checkAccessReceipt(session, event) {
  return serially(async () => {
    const view = await session.api.get(`/v1/txs/${segment(event.tx_id)}`, { proof: "true" });
    const checks = [...verifyTxView(view, event.tx_id), ...(await anchorTx(session.api, view))];
    const p = view.tx.payload ?? {};
    const same = view.tx.type === "record.access" && p.patient === session.patientId &&
      (p.record_id ?? null) === (event.record ?? null) && p.reader === event.reader.key_id &&
      p.purpose === event.purpose && p.basis === event.basis && view.result.code === "ok";
    if (!same) throw new InvalidProof("the transaction proven is not the access this trail shows");
    checks.push({ what: `transaction ${event.tx_id.slice(0, 16)}… records this access: ${p.action} by key ${p.reader.slice(0, 16)}…, purpose ${p.purpose}, basis ${p.basis}` });
    const intent = p.intent ?? {};
    const subject = (p.action === "read" ? p.record_id : p.patient) ?? "";
    const message = intentMessage(view.tx.chain, p.action, subject, p.purpose, intent.reason_hash ?? null, intent.time_ms, intent.nonce);
    let signed = false;
    try {
      signed = sodium.crypto_sign_verify_detached(fromHex(intent.signature), message, fromHex(p.reader));
    } catch {
      signed = false;
    }
    if (!signed) throw new InvalidProof("the reader's own signature of this access does not verify");
    checks.push({ what: "the reader signed this access themselves (Ed25519 intent signature by their key)" });
    return checks;
  });
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

// A transaction I sent, proven: the deletion certificate of a shred, a revocation's receipt.
export function provenTx(session, txId) {
  return serially(async () => {
    const view = await session.api.get(`/v1/txs/${segment(txId)}`, { proof: "true" });
    const checks = [...verifyTxView(view, txId), ...(await anchorTx(session.api, view))];
    return { view, checks };
  });
}
