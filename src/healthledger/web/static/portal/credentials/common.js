// What the credential pages share: where an anchor is read, how a status and a validity
// period read, who may issue (domains/credentials: ISSUER_ROLES, core's table).
import { segment } from "../hl/api.js";
import { anchorState } from "../hl/anchor.js";
import { verifyStateView } from "../hl/proofs.js";
import { serially } from "../hl/proven.js";

export const NAMESPACE = "credentials";

// Core's anchor view (a MEMBER read): { credential_id, status, anchor: proven state value }.
export function anchorPath(id) {
  return `/v1/credentials/anchors/${segment(id)}`;
}

export async function anchorOf(api, id) {
  return (await api.get(anchorPath(id))).anchor.value;
}

// The anchor with its state proof checked here and its header anchored to this browser's
// pin (hl/proven.js does the same for raw state reads): { anchor, checks }.
export function provenAnchor(api, id) {
  return serially(async () => {
    const view = (await api.get(anchorPath(id))).anchor;
    const checks = verifyStateView(view, { namespace: NAMESPACE, key: `cred/${id}` });
    checks.push(...(await anchorState(api, view)));
    return { anchor: view.value, checks };
  });
}

export function fieldError(message) {
  return Object.assign(new Error(message), { code: "invalid_field" });
}

// Only organisation keys issue; which types each role may issue is the ledger's to decide
// (a refusal shows its code), the page only hides the form from people.
export function mayIssue(session) {
  return Boolean(session?.actor && session.actor.kind === "org");
}

export function day(ms) {
  return typeof ms === "number" ? new Date(ms).toISOString().slice(0, 10) : "";
}

export function validity(anchor) {
  return anchor.valid_until_ms === null || anchor.valid_until_ms === undefined
    ? `from ${day(anchor.valid_from_ms)}`
    : `${day(anchor.valid_from_ms)} to ${day(anchor.valid_until_ms)}`;
}

// The anchor's status now: the last step of its history (the ledger stores no other copy).
export function currentStatus(anchor) {
  return anchor.history?.at(-1)?.status ?? "unknown";
}

export function statusWords(anchor) {
  const last = anchor.history?.at(-1);
  if (!last || last.status === "active") return currentStatus(anchor);
  return `${last.status} (${last.reason}, by ${last.by})`;
}

// A port of queries.status_at / valid_at: the status at `timeMs` from the anchor's history.
export function statusAt(anchor, timeMs) {
  let current = null;
  for (const change of anchor.history) {
    if (change.time_ms > timeMs) break;
    current = change.status;
  }
  return current;
}

export function validAt(anchor, timeMs) {
  if (timeMs < anchor.valid_from_ms) return false;
  if (anchor.valid_until_ms !== null && timeMs >= anchor.valid_until_ms) return false;
  return statusAt(anchor, timeMs) === "active";
}
