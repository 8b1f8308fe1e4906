// Who is signed in on this page: their keys (in memory only), the node they talk to,
// and who the ledger says they are. Leaving or reloading the page forgets the keys
// unless the person chose "remember on this device" (keystore.js).
import { Api, nodeInfo, statePath } from "./api.js";

let current = null;
const listeners = new Set();

export class Session {
  constructor(keys, info, actor, label) {
    this.keys = keys;
    this.info = info; // /v1/info: chain_id, org (the audience of signed requests)
    this.actor = actor; // the ledger's key record: kind, id, org, role, status; null if unknown
    this.label = label;
    this.api = new Api(keys, info);
    Object.freeze(this);
  }

  get kind() {
    return this.actor ? this.actor.kind : "unknown";
  }

  get patientId() {
    return this.kind === "patient" ? this.actor.id : this.keys.patientId;
  }
}

// Sign in with opened keys: ask the node who these keys are (their own key record).
export async function signIn(keys, label) {
  const info = await nodeInfo();
  const api = new Api(keys, info);
  let actor = null;
  try {
    const view = await api.get(statePath("gov", `key/${keys.keyId}`));
    actor = view ? view.value : null;
  } catch (error) {
    if (error.code !== "not_found") throw error;
  }
  current = new Session(keys, info, actor, label || (actor ? actor.id : keys.keyId.slice(0, 12)));
  listeners.forEach((listener) => listener(current));
  return current;
}

export function signOut() {
  current = null;
  listeners.forEach((listener) => listener(null));
}

export function session() {
  return current;
}

export function onChange(listener) {
  listeners.add(listener);
}
