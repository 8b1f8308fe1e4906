// Proof verifiers, a line-by-line port of src/healthledger/ledger/proofs.py (RFC 9162
// inclusion and consistency, the state trie) and of client/sdk.py verify_tx_view /
// verify_state_view. Both are run over the same vectors (tests/vectors/proofs.json), so a
// proof one accepts the other accepts. Every verify* returns normally or throws InvalidProof.
//
// Sizes and indexes are plain numbers (safe integers, the ledger's JSON bound), so the
// bit tricks of the Python are written with % 2 and Math.floor(x / 2): JavaScript's
// `&` and `>>` would cut them to 32 bits.
import { concat, equalBytes, fromHex, sha256, toHex, utf8 } from "./bytes.js";
import { canonicalBytes } from "./canonical.js";

export class InvalidProof extends Error {
  constructor(message) {
    super(message);
    this.name = "InvalidProof";
    this.code = "invalid_proof";
  }
}

const HASH_SIZE = 32; // RFC 9162 §2.1 trees hash with SHA-256.

function fail(message) {
  throw new InvalidProof(message);
}

// --- log proofs (RFC 9162 §2.1) ---

// Leaf prefix 0x00 and node prefix 0x01: a leaf can never be read as a node (§2.1.1).
export function leafHash(data) {
  return sha256(concat(Uint8Array.of(0), data));
}

function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

const odd = (n) => n % 2 === 1;
const half = (n) => Math.floor(n / 2);

function checkSize(what, value) {
  if (!Number.isSafeInteger(value)) fail(`${what} is not an integer`);
}

// A hash of the wrong size is never a node of the tree: reject it by name rather than as a
// vague mismatch (an empty leaf and an empty root would otherwise "match").
function checkHash(what, value) {
  if (!(value instanceof Uint8Array)) fail(`${what} is not bytes`);
  if (value.length !== HASH_SIZE) fail(`${what} is ${value.length} bytes, not a ${HASH_SIZE}-byte SHA-256 hash`);
}

function checkPath(path) {
  if (!Array.isArray(path)) fail("a proof path is a list of hashes");
  path.forEach((node, position) => checkHash(`proof hash ${position}`, node));
}

// §2.1.3.2 step 4.b.ii: a node on the right edge with LSB(fn) clear was carried up without
// a sibling, so skip the levels where it has none.
function climbRightEdge(fn, sn) {
  while (fn && !odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  return [fn, sn];
}

// The root an inclusion proof leads to (RFC 9162 §2.1.3.2 steps 1-5).
export function rootFromInclusion(leaf, index, size, path) {
  checkSize("leaf index", index);
  checkSize("tree size", size);
  if (!(index >= 0 && index < size)) fail(`leaf ${index} is outside a tree of ${size} leaves`);
  checkHash("leaf hash", leaf);
  checkPath(path);
  let [fn, sn, r] = [index, size - 1, leaf];
  for (const p of path) {
    if (sn === 0) fail("inclusion proof has more hashes than the tree has levels");
    if (odd(fn) || fn === sn) { // r is a right child, or on the right edge: p sits on its left
      r = nodeHash(p, r);
      [fn, sn] = climbRightEdge(fn, sn);
    } else {
      r = nodeHash(r, p);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  if (sn !== 0) fail("inclusion proof has fewer hashes than the tree has levels");
  return r;
}

// Check that `leaf` is leaf `index` of the log of `size` whose root is `root`.
export function verifyInclusion(leaf, index, size, path, root) {
  checkHash("root", root);
  if (!equalBytes(rootFromInclusion(leaf, index, size, path), root)) {
    fail(`inclusion proof for leaf ${index} of ${size} does not lead to the root`);
  }
}

// Check that the log of `oldSize` is a prefix of the log of `newSize` (§2.1.4.2), defined
// only for 0 < oldSize <= newSize: an empty log proves nothing, and a log only grows.
export function verifyConsistency(oldSize, newSize, oldRoot, newRoot, path) {
  checkSize("old size", oldSize);
  checkSize("new size", newSize);
  if (!(oldSize > 0 && oldSize <= newSize)) fail(`no consistency proof exists from size ${oldSize} to ${newSize}`);
  checkHash("old root", oldRoot);
  checkHash("new root", newRoot);
  checkPath(path);
  if (oldSize === newSize) {
    if (path.length) fail("a consistency proof between equal sizes must be empty");
    if (!equalBytes(oldRoot, newRoot)) fail("two different roots for the same log size");
    return;
  }
  const [fr, sr] = rootsFromConsistency(oldSize, newSize, oldRoot, path);
  if (!equalBytes(fr, oldRoot)) fail(`consistency proof does not lead to the root of size ${oldSize}`);
  if (!equalBytes(sr, newRoot)) fail(`consistency proof does not lead to the root of size ${newSize}`);
}

// §2.1.4.2 steps 1-6 for 0 < oldSize < newSize: the old and new roots the proof leads to.
function rootsFromConsistency(oldSize, newSize, oldRoot, proof) {
  if (!proof.length) fail("consistency proof is empty but the sizes differ");
  // Step 2: an old tree of a power-of-two size is a perfect subtree of the new one, so
  // SUBPROOF left its root out.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof];
  let [fn, sn] = [oldSize - 1, newSize - 1];
  while (odd(fn)) [fn, sn] = [half(fn), half(sn)]; // step 4
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) fail("consistency proof has more hashes than the trees need");
    if (odd(fn) || fn === sn) { // c is on the left: part of both trees
      [fr, sr] = [nodeHash(c, fr), nodeHash(c, sr)];
      [fn, sn] = climbRightEdge(fn, sn);
    } else { // c is on the right: only in the new tree
      sr = nodeHash(sr, c);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  if (sn !== 0) fail("consistency proof has fewer hashes than the trees need");
  return [fr, sr];
}

function isPowerOfTwo(n) {
  while (n > 1 && !odd(n)) n = half(n);
  return n === 1;
}

// --- state proofs (sparse radix-16 trie, docs/state-tree.md) ---

export const STATE_EMPTY_ROOT = new Uint8Array(32);

function text(what, value) {
  // Python's str.encode() refuses a lone surrogate; TextEncoder would replace it silently.
  if (typeof value !== "string" || !value.isWellFormed()) fail(`${what} is not a well-formed string`);
  return utf8(value);
}

// Where a state key sits in the trie: SHA-256(namespace || 0x00 || key).
export function stateKeyHash(namespace, key) {
  return sha256(concat(text("namespace", namespace), Uint8Array.of(0), text("key", key)));
}

// The commitment to a state value: SHA-256 of its canonical bytes.
export function stateValueHash(bytes) {
  return sha256(bytes);
}

function nibble(key, depth) {
  const byte = key[Math.floor(depth / 2)];
  return depth % 2 === 0 ? byte >> 4 : byte & 0x0f;
}

function popcount(n) {
  let count = 0;
  for (; n; n >>= 1) count += n & 1;
  return count;
}

function internalHash(bitmap, children) {
  if (popcount(bitmap) !== children.length || !(bitmap > 0 && bitmap < 1 << 16)) {
    fail("internal node bitmap does not match its children");
  }
  return sha256(concat(Uint8Array.of(1, bitmap >> 8, bitmap & 0xff), ...children));
}

// JSON integers only: accepting "7" or true would give one proof several spellings.
function bitmapOf(value) {
  if (!Number.isInteger(value) || !(value > 0 && value < 1 << 16)) fail("a bitmap is an integer in 1..65535");
  return value;
}

function hashesOf(values) {
  if (!Array.isArray(values)) fail("malformed state proof: hashes are a list");
  const hashes = values.map((v) => hexBytes(v, "a proof hash"));
  if (hashes.some((h) => h.length !== 32)) fail("a proof hash is not 32 bytes");
  return hashes;
}

function hexBytes(value, what) {
  try {
    return fromHex(value);
  } catch {
    return fail(`${what} is not lowercase hex`);
  }
}

function field(object, name) {
  if (object === null || typeof object !== "object" || !(name in object)) fail(`malformed state proof: no ${name}`);
  return object[name];
}

// Check that `keyHash` maps to `valueHash` (or, if null, is absent) under `root`.
export function verifyStateProof(root, keyHash, valueHash, proof) {
  const rawSteps = field(proof, "steps");
  if (!Array.isArray(rawSteps)) fail("malformed state proof: steps are a list");
  const steps = rawSteps.map((s) => [bitmapOf(field(s, "bitmap")), hashesOf(field(s, "siblings"))]);
  const terminal = field(proof, "terminal");
  const kind = field(terminal, "type");
  if (keyHash.length !== 32 || (valueHash !== null && valueHash.length !== 32)) fail("key and value hashes are 32 bytes");
  const depth = steps.length;
  if (depth > 64) fail("state proof is deeper than a key hash"); // two keys differing in their last nibble
  let current = terminalHash(kind, terminal, keyHash, valueHash, depth);
  if (current === null) {
    if (steps.length || !equalBytes(root, STATE_EMPTY_ROOT)) fail("the trie is not empty");
    if (valueHash !== null) fail("an empty trie holds no value");
    return;
  }
  for (let level = depth - 1; level >= 0; level--) {
    const [bitmap, siblings] = steps[level];
    const position = nibble(keyHash, level);
    if (!((bitmap >> position) & 1)) fail("the key's path is not in the proof's node");
    const rank = popcount(bitmap & ((1 << position) - 1));
    current = internalHash(bitmap, [...siblings.slice(0, rank), current, ...siblings.slice(rank)]);
  }
  if (!equalBytes(current, root)) fail("state proof does not lead to the state root");
}

function terminalHash(kind, terminal, keyHash, valueHash, depth) {
  if (kind === "empty_tree") return null;
  if (kind === "leaf") {
    const [leafKey, leafValue] = hashesOf([field(terminal, "key_hash"), field(terminal, "value_hash")]);
    checkLeaf(leafKey, leafValue, keyHash, valueHash, depth);
    return sha256(concat(Uint8Array.of(0), leafKey, leafValue));
  }
  if (kind === "empty_slot") {
    if (valueHash !== null) fail("an empty slot proves absence, not a value");
    const bitmap = bitmapOf(field(terminal, "bitmap"));
    if (depth === 64 || (bitmap >> nibble(keyHash, depth)) & 1) fail("the slot for the key is not empty");
    return internalHash(bitmap, hashesOf(field(terminal, "children")));
  }
  return fail(`unknown state proof terminal ${JSON.stringify(kind)}`);
}

function checkLeaf(leafKey, leafValue, keyHash, valueHash, depth) {
  if (valueHash !== null) {
    if (!equalBytes(leafKey, keyHash) || !equalBytes(leafValue, valueHash)) fail("the leaf does not hold this key and value");
    return;
  }
  if (equalBytes(leafKey, keyHash)) fail("the key is present, not absent");
  for (let d = 0; d < depth; d++) {
    if (nibble(leafKey, d) !== nibble(keyHash, d)) fail("the leaf proving absence is not on the key's path");
  }
}

// --- views as the node sends them (client/sdk.py verify_tx_view, verify_state_view) ---

const HEADER_FIELDS = {
  chain_id: "string", height: "number", time_ms: "number", prev_hash: "string", proposer: "string",
  tx_count: "number", tx_root: "string", result_root: "string", state_root: "string",
  log_size: "number", log_root: "string",
};

// A block header exactly as ledger/block.py Header has it (its fields, nothing else), or
// InvalidProof: its hash is over these fields only, so nothing else a node adds can count.
export function readHeader(value) {
  if (value === null || typeof value !== "object") fail("not a block header");
  const header = {};
  for (const [name, type] of Object.entries(HEADER_FIELDS)) {
    const v = value[name];
    if (typeof v !== type || (type === "number" && !Number.isSafeInteger(v))) fail(`not a block header: ${name}`);
    header[name] = v;
  }
  return header;
}

// The block hash: SHA-256 of the header's canonical JSON (Header.hash), as hex.
export function headerHash(header) {
  return toHex(sha256(canonicalBytes(readHeader(header))));
}

const TX_FIELDS = { chain: "string", nonce: "number", payload: "object", sender: "string", signature: "string", type: "string" };

// The transaction's canonical bytes (ledger/transaction.py decode_transaction: the six
// signed fields, nothing else) and its id, the SHA-256 of those bytes.
function readTx(value) {
  if (value === null || typeof value !== "object") fail("not a transaction");
  const tx = {};
  for (const [name, type] of Object.entries(TX_FIELDS)) {
    const v = value[name];
    if (typeof v !== type || v === null || Array.isArray(v)) fail(`not a transaction: ${name}`);
    tx[name] = v;
  }
  if (!Number.isSafeInteger(tx.nonce) || tx.nonce < 0) fail("not a transaction: nonce");
  if (!/^[0-9a-f]{128}$/.test(tx.signature)) fail("not a transaction: signature");
  const raw = canonicalBytes(tx);
  return { raw, id: toHex(sha256(raw)) };
}

// TxResult.leaf: binds the outcome to the transaction it belongs to.
function resultLeaf(result, txId) {
  if (result === null || typeof result !== "object" || typeof result.code !== "string" || typeof result.message !== "string") {
    fail("not a transaction result");
  }
  const events = result.events ?? [];
  if (!Array.isArray(events)) fail("not a transaction result: events");
  return leafHash(canonicalBytes({ tx: txId, code: result.code, message: result.message, events }));
}

function hexList(values, what) {
  if (!Array.isArray(values)) fail(`${what} is not a list`);
  return values.map((v) => hexBytes(v, what));
}

// Whatever goes wrong while checking leaves as InvalidProof saying what (sdk._proof_errors).
function proving(what, check) {
  try {
    return check();
  } catch (error) {
    if (error instanceof InvalidProof) throw new InvalidProof(`${what} proof does not verify: ${error.message}`);
    throw new InvalidProof(`${what} proof is malformed: ${error.message}`);
  }
}

const short = (hex) => `${String(hex).slice(0, 16)}…`;

// A /v1/txs/{id}?proof=true answer: the transaction is in its block, its result is the
// block's, and it is in the ledger-wide log. Checked against the headers it came with; the
// anchor (anchor.js anchorTx) then checks those headers. With `askedId`, a true proof of
// another transaction is refused (sdk.require_tx_of).
export function verifyTxView(view, askedId = undefined) {
  if (askedId !== undefined && (view === null || typeof view !== "object" || view.id !== askedId)) {
    fail(`asked for transaction ${askedId}, the node proved ${view && view.id}`);
  }
  const facts = proving("transaction", () => {
    if (view === null || typeof view !== "object" || !view.proof) fail("the transaction view has no proof");
    const tx = readTx(view.tx);
    const header = readHeader(view.header);
    const { block, ledger } = view.proof;
    const ledgerHeader = readHeader(ledger && ledger.header);
    verifyInclusion(leafHash(tx.raw), block.index, block.size, hexList(block.path, "block path"), hexBytes(header.tx_root, "tx_root"));
    verifyInclusion(resultLeaf(view.result, tx.id), block.index, block.size, hexList(block.result_path, "result path"), hexBytes(header.result_root, "result_root"));
    verifyInclusion(leafHash(tx.raw), ledger.index, ledger.size, hexList(ledger.path, "ledger path"), hexBytes(ledgerHeader.log_root, "log_root"));
    return { tx, header, block, ledger, ledgerHeader };
  });
  const { tx, header, block, ledger, ledgerHeader } = facts;
  if (tx.id !== view.id || header.tx_count !== block.size || header.height !== block.height) {
    fail("transaction proof does not match its header");
  }
  if (ledger.size !== ledgerHeader.log_size) fail("transaction proof does not match its ledger header");
  return [
    { what: `transaction ${short(tx.id)} is the SHA-256 of the transaction shown (its id)` },
    { what: `it is transaction ${block.index + 1} of ${block.size} in block ${header.height}: RFC 9162 inclusion proof to the block's tx_root ${short(header.tx_root)}` },
    { what: `its result "${view.result.code}" is the block's: inclusion proof to result_root ${short(header.result_root)}` },
    { what: `it is entry ${ledger.index + 1} of ${ledger.size} in the ledger-wide log: inclusion proof to log_root ${short(ledgerHeader.log_root)} of header ${ledgerHeader.height}` },
  ];
}

// A /v1/state/{ns}/{key}?proof=true answer: the value (or its absence) under the state
// root of the header it came with. With `asked` ({namespace, key}), a true proof of another
// key is refused (sdk.require_state_of).
export function verifyStateView(view, asked = undefined) {
  if (asked !== undefined && (view === null || typeof view !== "object" || view.namespace !== asked.namespace || view.key !== asked.key)) {
    fail(`asked for ${asked.namespace}/${asked.key}, the node proved ${view && view.namespace}/${view && view.key}`);
  }
  const header = proving("state", () => {
    if (view === null || typeof view !== "object" || !view.header || !view.proof) fail("the state view has no proof or no header");
    const header = readHeader(view.header);
    const raw = view.raw_value ?? null;
    if (raw !== null && typeof raw !== "string") fail("raw_value is not a string");
    const valueHash = raw === null ? null : stateValueHash(utf8(raw));
    if (raw !== null && !equalBytes(canonicalBytes(view.value), utf8(raw))) fail("the value does not match its proven bytes");
    if (raw === null && view.value !== null && view.value !== undefined) fail("a value without its proven bytes");
    verifyStateProof(hexBytes(header.state_root, "state_root"), stateKeyHash(view.namespace, view.key), valueHash, view.proof);
    return header;
  });
  if (header.height !== view.height) fail("the state proof's header is not at the view's height");
  const what = view.raw_value == null ? "is absent" : "holds the value shown (SHA-256 of its canonical bytes)";
  return [{ what: `${view.namespace}/${view.key} ${what}: state proof to state_root ${short(header.state_root)} of header ${header.height}` }];
}
