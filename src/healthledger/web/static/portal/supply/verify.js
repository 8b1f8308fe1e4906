// A pack's verification, checked in this browser: a port of client/sdk.py
// verify_supply_view and Client.prove_supply, and of the domain's verdict
// (domains/supply/queries.py package_verdict), so the page shows a verdict it
// recomputed from proven records, never one it took on the node's word.
import { canonicalBytes } from "../hl/canonical.js";
import { InvalidProof, verifyStateView } from "../hl/proofs.js";
import { anchorState } from "../hl/anchor.js";

export const NAMESPACE = "supply";
export const STATUSES = ["active", "in_transit", "dispensed", "destroyed", "exported", "transformed"];

// Every verdict the domain defines, with what it means to the person holding the pack.
export const VERDICTS = {
  verified: { tone: "ok", title: "Verified", advice: "The pack is genuine, in the supply chain and not recalled." },
  unknown_serial: { tone: "bad", title: "Unknown serial", advice: "The manufacturer never serialised this pack: do not dispense; it may be a counterfeit." },
  lot_mismatch: { tone: "bad", title: "Lot mismatch", advice: "The lot on the pack is not the lot of this serial: do not dispense; it may be a counterfeit." },
  expiry_mismatch: { tone: "bad", title: "Expiry mismatch", advice: "The expiry on the pack is not the expiry of this serial: do not dispense." },
  recalled: { tone: "bad", title: "Recalled", advice: "A recall covers this pack: do not dispense; return it as the recall says." },
  already_dispensed: { tone: "bad", title: "Already dispensed", advice: "This serial was dispensed before: this pack may be a clone." },
  destroyed: { tone: "bad", title: "Destroyed", advice: "This serial was destroyed: this pack should not exist." },
  transformed: { tone: "bad", title: "Repackaged", advice: "This serial was consumed by a repackaging or kitting: this pack should not exist." },
  suspect: { tone: "bad", title: "Suspect", advice: "This serial was flagged (a clone or a diversion was seen, or a regulator quarantined it): do not dispense." },
};

// Keys of the supply namespace (domains/supply/state.py).
export const packageKey = (gtin, serial) => `pkg/${gtin}/${serial}`;
export const recallsKey = (gtin) => `recalls/${gtin}`;
export const expiredKey = (gtin, lot) => `expired/${gtin}/${lot}`;

function malformed(what) {
  return new InvalidProof(`supply proof is malformed: ${what}`);
}

const isString = (v) => typeof v === "string";
const isStringOrNull = (v) => v === null || typeof v === "string";
const isBool = (v) => typeof v === "boolean";

function requireRecord(value, fields, name) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw malformed(`${name} is not an object`);
  const want = Object.keys(fields).sort().join();
  if (Object.keys(value).sort().join() !== want) throw malformed(`${name} has fields ${Object.keys(value).sort().join(", ")}`);
  for (const [field, ok] of Object.entries(fields)) {
    if (!ok(value[field])) throw malformed(`${name}.${field} is ${JSON.stringify(value[field])}`);
  }
  return value;
}

const isStep = (step) =>
  Array.isArray(step) && step.length === 4 && Number.isInteger(step[0]) && isString(step[1]) && isString(step[2]) && isStringOrNull(step[3]);

// A Package record as the domain stores it (a StateModel: every field, no other).
export function asPackage(value) {
  return requireRecord(value, {
    owner: isString,
    status: (v) => STATUSES.includes(v),
    to: isStringOrNull,
    container: isStringOrNull,
    history: (v) => Array.isArray(v) && v.every(isStep),
    gtin: isString,
    serial: isString,
    lot: isString,
    expiry: isString,
    manufacturer: isString,
    suspect: isBool,
    quarantined: isBool,
  }, "package");
}

export function asRecalls(value) {
  if (!Array.isArray(value)) throw malformed("the recalls in force are not a list");
  return value.map((recall) => requireRecord(recall, { id: isString, lot: isStringOrNull, serial_from: isStringOrNull, serial_to: isStringOrNull }, "recall"));
}

// Numeric serials compare as numbers; others by (length, text), so '9' < '10'.
function order(serial) {
  return [[...serial].length, serial];
}

function notAfter(a, b) {
  return a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]);
}

export function serialInRange(serial, first, last) {
  return notAfter(order(first), order(serial)) && notAfter(order(serial), order(last));
}

function recallApplies(recall, lot, serial) {
  if (recall.lot !== null) return recall.lot === lot;
  if (recall.serial_from === null || recall.serial_to === null) return false;
  return serialInRange(serial, recall.serial_from, recall.serial_to);
}

// What a scan of (lot, expiry) on this package means, most serious finding first.
export function packageVerdict(pkg, recalls, lot, expiry) {
  if (pkg === null) return "unknown_serial";
  if (pkg.lot !== lot) return "lot_mismatch";
  if (pkg.expiry !== expiry) return "expiry_mismatch";
  if (pkg.status === "destroyed") return "destroyed";
  if (pkg.status === "dispensed") return "already_dispensed";
  if (pkg.status === "transformed") return "transformed";
  // An exported package seen again at home is diversion: treated as suspect.
  if (pkg.suspect || pkg.quarantined || pkg.status === "exported") return "suspect";
  if ((recalls ?? []).some((recall) => recallApplies(recall, pkg.lot, pkg.serial))) return "recalled";
  return "verified";
}

// `packageVerdict` of the records as JSON, each checked to be the domain's shape.
export function verdict(pkg, recalls, lot, expiry) {
  return packageVerdict(pkg === null ? null : asPackage(pkg), recalls === null ? null : asRecalls(recalls), lot, expiry);
}

function requireKey(view, key) {
  if (!view || view.namespace !== NAMESPACE || view.key !== key) {
    throw new InvalidProof(`a proof of ${view?.namespace}/${view?.key} where ${key} was needed`);
  }
}

const sameBytes = (a, b) => {
  const x = canonicalBytes(a);
  const y = canonicalBytes(b);
  return x.length === y.length && x.every((byte, i) => byte === y[i]);
};

// Check every proof is of the record the verdict needs, all against one header, and
// recompute the verdict and the expiry mark from them. Returns the checks that held.
export function verifySupplyView(view, asked) {
  const answered = [view?.gtin, view?.serial, view?.lot, view?.expiry];
  const wanted = [asked.gtin, asked.serial, asked.lot, asked.expiry];
  if (answered.join("\n") !== wanted.join("\n")) {
    throw new InvalidProof(`asked to verify ${wanted.join(" ")}, the node answered for ${answered.join(" ")}`);
  }
  const proofs = view.proofs ?? {};
  const { package: pkg, recalls, expired } = proofs;
  requireKey(pkg, packageKey(view.gtin, view.serial));
  requireKey(recalls, recallsKey(view.gtin));
  requireKey(expired, expiredKey(view.gtin, view.lot));
  const checks = [];
  for (const each of [pkg, recalls, expired]) {
    checks.push(...verifyStateView(each));
    if (!sameBytes(each.header, pkg.header)) throw new InvalidProof("the proofs are against different headers");
  }
  checks.push({ what: "the package, its GTIN's recalls and its lot's expiry mark are proven against one header" });
  if (view.expired !== (expired.value !== null)) {
    throw new InvalidProof(`the node said expired=${view.expired}, the proven mark disagrees`);
  }
  let expected;
  try {
    expected = verdict(pkg.value, recalls.value, view.lot, view.expiry);
  } catch (error) {
    if (error instanceof InvalidProof) throw error;
    throw malformed(error.message);
  }
  if (expected !== view.verdict) {
    throw new InvalidProof(`the node said '${view.verdict}', the proven records say '${expected}'`);
  }
  checks.push({ what: `the verdict '${expected}' was recomputed here from the proven records` });
  return checks;
}

// The proven package record the page may show (the node's summary is not relied on).
export function provenPackage(view) {
  const value = view.proofs.package.value;
  return value === null ? null : asPackage(value);
}

// Client.prove_supply: the answer is of the pack asked about, its proofs and verdict
// hold, and their header is the one this browser pinned or follows from it.
export async function proveSupply(api, view, asked) {
  const checks = verifySupplyView(view, asked);
  return [...checks, ...(await anchorState(api, view.proofs.package))];
}
