// What a patient signs: consents, revocations, representatives, shredding. Each payload is
// the one client/records.py builds (Records.grant, revoke, appoint, shred), field for field,
// signed here and sent to /v1/txs; data keys are rewrapped for a grantee in this browser.
import { ApiError, statePath } from "../hl/api.js";
import { fromHex, toBase64, toHex } from "../hl/bytes.js";
import { unwrapKey } from "../hl/envelope.js";
import { sodium } from "../hl/sodium.js";
import { provenState, provenTx } from "../hl/proven.js";
import { locate } from "./ledger.js";

const DAY_MS = 86_400_000;
export const MAX_SCOPE = 200; // domains/records/messages.py: keys a grant may carry

function randomId(prefix) {
  return prefix + toHex(sodium.randombytes_buf(12));
}

async function stateValue(api, namespace, key) {
  try {
    const view = await api.get(statePath(namespace, key), { proof: "false" });
    return view ? view.value : null;
  } catch (error) {
    if (error.code === "not_found") return null;
    throw error;
  }
}

// records.py _grantee_public_key: a person's own key, else their organisation's. The key
// the patient's data keys are sealed to is proven (state proof to a header that follows
// from this browser's pin): a node that answered with a key of its own would be handed
// every data key of the grant.
async function granteePublicKey(session, grantee) {
  const key = grantee.kind === "member"
    ? `member/${grantee.member.split("/")[0]}/${grantee.member.split("/")[1]}`
    : `org/${grantee.org}`;
  const { view } = await provenState(session.api, "gov", key);
  const value = view.value;
  if (!value || typeof value.encryption_key !== "string") {
    throw new ApiError("not_found", `no ${grantee.kind === "member" ? "person " + grantee.member : "organisation " + grantee.org} on this ledger`, 404);
  }
  return fromHex(value.encryption_key);
}

// records.py _rewrapped_for: the in-scope records' data keys, opened with my key and sealed
// again to the grantee's (at most MAX_SCOPE; the vault rewraps the rest on each read).
async function rewrappedFor(session, grantee, resourceTypes) {
  const publicKey = await granteePublicKey(session, grantee);
  const located = await locate(session);
  const wrapped = {};
  for (const entry of located.records) {
    const inScope = resourceTypes.length === 0 || resourceTypes.includes(entry.resource_type);
    if (!inScope || entry.status === "shredded" || Object.keys(wrapped).length >= MAX_SCOPE) continue;
    const record = await stateValue(session.api, "records", `record/${entry.id}`);
    const sealed = record && record.wrapped_keys;
    if (!sealed) continue; // shredded since it was located
    const dataKey = unwrapKey(sealed.patient, session.keys);
    wrapped[entry.id] = toBase64(sodium.crypto_box_seal(dataKey, publicKey));
    sodium.memzero(dataKey);
  }
  return wrapped;
}

// The grantee as records.py takes it: {kind, org} with the person's or role's id.
export function grantee(kind, org, who) {
  if (kind === "org") return { kind, org };
  if (kind === "member") return { kind, org, member: who.includes("/") ? who : `${org}/${who}` };
  return { kind, org, role: who };
}

export async function grant(session, { grantee: to, purposes, resourceTypes, expiresMs }) {
  const payload = {
    consent_id: randomId("cns-"),
    patient: session.patientId,
    grantee: to,
    resource_types: [...resourceTypes],
    record_ids: [],
    purposes: [...purposes],
    expires_ms: expiresMs || Date.now() + 365 * DAY_MS,
    wrapped_keys: await rewrappedFor(session, to, resourceTypes),
  };
  const report = await session.api.submit("consent.grant", payload);
  return { consentId: payload.consent_id, report, rewrapped: Object.keys(payload.wrapped_keys).length };
}

// The revocation, and its receipt proven (records.py revoke answers the verified tx).
export async function revoke(session, consentId, reason) {
  const report = await session.api.submit("consent.revoke", { consent_id: consentId, reason });
  return provenTx(session.api, report.id);
}

// Crypto-shred a record; the answer is the deletion certificate: the tombstone's
// transaction, proven (records.py shred).
export async function shred(session, recordId, reason = "patient_request") {
  const report = await session.api.submit("record.shred", { record_id: recordId, reason });
  return provenTx(session.api, report.id);
}

export async function appoint(session, { representative, relation, powers, untilMs }) {
  const payload = {
    appointment_id: randomId("app-"),
    representative,
    relation,
    powers: [...powers],
    until_ms: untilMs,
  };
  const report = await session.api.submit("representative.appoint", payload);
  return { appointmentId: payload.appointment_id, report };
}

export async function endAppointment(session, appointmentId) {
  return session.api.submit("representative.end", { appointment_id: appointmentId });
}
