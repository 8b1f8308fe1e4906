// The browser's trust anchor: a header pinned in this browser, moved forward only along
// hash links and RFC 9162 consistency proofs. A port of client/anchor.py PinnedAnchor.
//
// A proof checked against the header the same node just sent shows only that the node
// agrees with itself; checked against a header this browser pinned on an earlier visit,
// it shows the node has not rewritten what it showed then. The pin holds a public header
// only (heights, sizes, roots, its hash): nothing secret, so localStorage is fine.
import { getPublic } from "./api.js";
import { fromHex } from "./bytes.js";
import { InvalidProof, headerHash, readHeader, verifyConsistency } from "./proofs.js";

const STORE = "healthledger.pin.";

// A header the node sent that does not follow from the pin (anchor.py NotAnchored).
export class NotAnchored extends InvalidProof {
  constructor(height, reason) {
    super(`header ${height} does not follow from the header pinned in this browser: ${reason}`);
    this.height = height;
  }
}

const short = (hex) => `${hex.slice(0, 16)}…`;
const label = (pin) => `pinned header ${pin.height} (sha256 ${short(pin.hash)})`;

function pinOf(header) {
  return { chain_id: header.chain_id, height: header.height, hash: headerHash(header), header };
}

// The pin this browser holds for `chainId`, or null. A damaged pin is refused, not
// silently replaced: replacing it would trust the node's word again.
export function pinned(chainId) {
  const text = localStorage.getItem(STORE + chainId);
  if (text === null) return null;
  try {
    const stored = JSON.parse(text);
    const header = readHeader(stored.header);
    if (headerHash(header) !== stored.hash || header.height !== stored.height || header.chain_id !== chainId) {
      throw new Error("its hash, height or chain is not its header's");
    }
    return pinOf(header);
  } catch (error) {
    throw new InvalidProof(`the header pinned in this browser for ${chainId} is damaged (${error.message}); forget it to pin again`);
  }
}

// Drop the pin (the person's choice, like deleting a CLI trust file): the next check pins anew.
export function forgetPin(chainId) {
  localStorage.removeItem(STORE + chainId);
}

// Move the pin forward, never back (anchor.py _advance). Re-read first: another tab may
// have moved it further.
function advance(chainId, header) {
  const current = pinned(chainId);
  if (current !== null && header.height <= current.height) return false;
  localStorage.setItem(STORE + chainId, JSON.stringify(pinOf(header)));
  return true;
}

// Header `height` as the node serves it publicly; it must be the height asked for.
async function fetchHeader(height) {
  const path = height === null ? "/v1/headers/latest" : `/v1/headers/${height}`;
  const view = await getPublic(path);
  const header = readHeader(view && view.header);
  if (height !== null && header.height !== height) throw new NotAnchored(height, `the node answered header ${header.height}`);
  return header;
}

// Headers low..high, fetched a few at a time (each link is then checked in order).
async function fetchHeaders(low, high) {
  const out = [];
  for (let start = low; start <= high; start += 16) {
    const batch = [];
    for (let h = start; h <= Math.min(high, start + 15); h++) batch.push(fetchHeader(h));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

// Follow parent hashes from `newer` down to height `downTo`, whose hash must be `expectedHash`.
async function walkBack(newer, downTo, expectedHash) {
  const below = await fetchHeaders(downTo, newer.height - 1);
  let current = newer;
  for (const parent of below.reverse()) {
    if (headerHash(parent) !== current.prev_hash) throw new NotAnchored(newer.height, `header ${parent.height} is not the parent of the next`);
    current = parent;
  }
  if (headerHash(current) !== expectedHash) throw new NotAnchored(newer.height, `it descends from another header ${downTo}`);
}

// RFC 9162: the log `newer` commits to begins with the log `older` commits to. The roots
// are the headers' own; the node supplies only the proof path.
async function checkExtends(older, newer, failing) {
  if (older.log_size === 0) return "the older log was empty: every log extends it";
  if (newer.log_size < older.log_size) throw new NotAnchored(failing.height, "its log is shorter than the pinned log");
  const view = await getPublic("/v1/proofs/consistency", { old_size: older.log_size, new_size: newer.log_size });
  try {
    if (!view || !Array.isArray(view.path)) throw new InvalidProof("the node sent no proof path");
    const path = view.path.map((h) => fromHex(h));
    verifyConsistency(older.log_size, newer.log_size, fromHex(older.log_root), fromHex(newer.log_root), path);
  } catch (error) {
    throw new NotAnchored(failing.height, `its log is not consistent with the pinned log: ${error.message}`);
  }
  return `the log of ${newer.log_size} entries (header ${newer.height}) begins with the log of ${older.log_size} entries (header ${older.height}): RFC 9162 consistency proof`;
}

// The pin; on first use, the node's latest header (anchor.py _trusted), said so.
async function trusted(chainId, checks) {
  const pin = pinned(chainId);
  if (pin !== null) return pin;
  advance(chainId, await fetchHeader(null));
  const first = pinned(chainId);
  checks.push({ what: `${label(first)} on first use in this browser: the node's own word until then` });
  return first;
}

async function checkHeader(chainId, header, checks) {
  const pin = await trusted(chainId, checks);
  if (header.chain_id !== pin.chain_id) throw new NotAnchored(header.height, `chain ${header.chain_id}, not ${pin.chain_id}`);
  if (header.height < pin.height) {
    // An older header must be an ancestor of the pin, and its log a prefix of the pin's.
    await walkBack(pin.header, header.height, headerHash(header));
    checks.push({ what: `header ${header.height} is an ancestor of the ${label(pin)}: ${pin.height - header.height} hash links` });
    checks.push({ what: await checkExtends(header, pin.header, header) });
    return;
  }
  await walkBack(header, pin.height, pin.hash);
  checks.push({
    what: header.height === pin.height
      ? `header ${header.height} is the ${label(pin)}`
      : `header ${header.height} descends from the ${label(pin)}: ${header.height - pin.height} hash links`,
  });
  checks.push({ what: await checkExtends(pin.header, header, header) });
  if (advance(chainId, header)) checks.push({ what: `the pin moved to header ${header.height}` });
}

// One check at a time: the pin moves, and two checks racing would read a stale pin
// (anchor.py holds a lock for the same reason).
let queue = Promise.resolve();
function serial(work) {
  const run = queue.then(work);
  queue = run.catch(() => {});
  return run;
}

function chainOf(api, header) {
  return api && api.chainId ? api.chainId : header.chain_id;
}

// Check `header` against the header this browser pinned for the chain, then move the pin
// forward. Returns Check[]; throws NotAnchored (an InvalidProof) if it does not follow.
export function anchor(api, header) {
  return serial(async () => {
    const checked = readHeader(header);
    const checks = [];
    await checkHeader(chainOf(api, checked), checked, checks);
    return checks;
  });
}

// A transaction view's two headers: the ledger header proves it is in the log, its block's
// header proves its result; both must follow from the pin (anchor.py check_tx).
export function anchorTx(api, view) {
  return serial(async () => {
    if (!view || !view.proof) throw new InvalidProof("the transaction view has no proof");
    const ledgerHeader = readHeader(view.proof.ledger && view.proof.ledger.header);
    const header = readHeader(view.header);
    const checks = [];
    await checkHeader(chainOf(api, header), ledgerHeader, checks);
    await checkHeader(chainOf(api, header), header, checks);
    return checks;
  });
}

// A state view's header: as of the pin or later, since an older state may since have
// changed (a consent revoked, a pack recalled); first use pins this answer's header
// (anchor.py check_state).
export function anchorState(api, view) {
  return serial(async () => {
    if (!view || !view.header) throw new InvalidProof("the state view has no header to check");
    const header = readHeader(view.header);
    const chainId = chainOf(api, header);
    const checks = [];
    if (pinned(chainId) === null) {
      advance(chainId, header);
      checks.push({ what: `${label(pinned(chainId))} on first use in this browser: the node's own word until then` });
    }
    const pin = pinned(chainId);
    if (header.height < pin.height) {
      throw new NotAnchored(header.height, `state as of an older header than the pinned ${pin.height}; it may have changed since (the node is behind, or replays): ask again`);
    }
    await checkHeader(chainId, header, checks);
    return checks;
  });
}
