// Names for the ids a patient sees (who read, whom a consent is to), from the consortium's
// directory: the governance `org/` and `member/` records anyone the ledger knows may read.
// For display only, beside the id, so the page can say "Dr Gregory House" rather than
// "dr-house"; no decision rests on a name, so these reads are not proven.
import { statePath } from "../hl/api.js";

export const orgKey = (org) => `org/${org}`;
export const memberKey = (org, member) => `member/${org}/${member}`;

export class Directory {
  #names = new Map(); // directory key -> name, or null when the directory has none
  #asked = new Map(); // directory key -> the read in flight or done

  constructor(api) {
    this.api = api;
  }

  // Look up every key not yet asked; a failed read leaves the id to be shown.
  async learn(keys) {
    await Promise.all([...new Set(keys)].map((key) => this.#ask(key)));
  }

  #ask(key) {
    if (!this.#asked.has(key)) {
      const read = this.api.get(statePath("gov", key)).then(
        (view) => this.#names.set(key, typeof view?.value?.name === "string" ? view.value.name : null),
        () => this.#names.set(key, null),
      );
      this.#asked.set(key, read);
    }
    return this.#asked.get(key);
  }

  // The name learnt for `key`, else `fallback` (the id).
  name(key, fallback) {
    return this.#names.get(key) ?? fallback;
  }

  org(org) {
    return this.name(orgKey(org), org);
  }

  member(org, member) {
    return this.name(memberKey(org, member), member);
  }
}

// The directory keys that name a reader of the audit trail ({kind, id, org}).
export function readerKeys(reader) {
  if (reader.kind === "member" && reader.org) {
    // The trail names a person as `org/member`, as consents do.
    const member = reader.id.includes("/") ? reader.id.split("/")[1] : reader.id;
    return [memberKey(reader.org, member), orgKey(reader.org)];
  }
  if (reader.kind === "org") return [orgKey(reader.id)];
  return [];
}

// The directory keys that name a consent's grantee ({kind, org, member?, role?}).
export function granteeKeys(grantee) {
  if (grantee.kind === "member") {
    const [org, member] = grantee.member.split("/");
    return [memberKey(org, member), orgKey(org)];
  }
  return [orgKey(grantee.org)];
}
