// Verifiable Credentials 2.0 as the ledger issues them, built and signed in this browser:
// the document (domains/credentials/documents.py), its eddsa-jcs-2022 Data Integrity proof
// (crypto/data_integrity.py, W3C vc-di-eddsa §3.3), the issuer's did:key, and the anchor
// the issuer sends on chain (documents.anchor_of). The organisation's key never leaves
// this page: only the anchor (a hash and the fields the ledger needs) is sent.
import { sodium } from "../hl/sodium.js";
import { canonicalBytes } from "../hl/canonical.js";
import { concat, sha256, sha256Hex, toHex } from "../hl/bytes.js";

export const CONTEXT = Object.freeze([
  "https://www.w3.org/ns/credentials/v2",
  "https://w3id.org/healthledger/credentials/v1",
]);
export const CRYPTOSUITE = "eddsa-jcs-2022";
export const ID_PREFIX = "urn:healthledger:credential:";
export const SUBJECT_PREFIX = "urn:healthledger:member:";
export const STATUS_LIST_PREFIX = "urn:healthledger:status-list:";
export const TYPE_NAMES = Object.freeze({
  licence: "LicenceCredential",
  degree: "DegreeCredential",
  certification: "CertificationCredential",
  ce: "ContinuingEducationCredential",
  privilege: "PrivilegeCredential",
});
export const STATUS_PURPOSES = Object.freeze(["revocation", "suspension"]);

export class CredentialError extends Error {
  constructor(message, code = "invalid_field") {
    super(message);
    this.name = "CredentialError";
    this.code = code;
  }
}

function fail(message, code) {
  throw new CredentialError(message, code);
}

// --- base58btc (the Bitcoin alphabet), multibase 'z' ---------------------------------------

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

export function base58btc(bytes) {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros += 1;
  const digits = []; // base 58, least significant first
  for (const byte of bytes.slice(zeros)) {
    let carry = byte;
    for (let i = 0; i < digits.length; i += 1) {
      carry += digits[i] * 256;
      digits[i] = carry % 58;
      carry = Math.floor(carry / 58);
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = Math.floor(carry / 58);
    }
  }
  return "1".repeat(zeros) + digits.reverse().map((d) => ALPHABET[d]).join("");
}

export function fromBase58btc(text) {
  if (typeof text !== "string") fail("base58btc text expected");
  let zeros = 0;
  while (zeros < text.length && text[zeros] === "1") zeros += 1;
  const bytes = []; // base 256, least significant first
  for (const char of text.slice(zeros)) {
    let carry = ALPHABET.indexOf(char);
    if (carry < 0) fail(`not base58btc: ${JSON.stringify(char)}`);
    for (let i = 0; i < bytes.length; i += 1) {
      carry += bytes[i] * 58;
      bytes[i] = carry % 256;
      carry = Math.floor(carry / 256);
    }
    while (carry > 0) {
      bytes.push(carry % 256);
      carry = Math.floor(carry / 256);
    }
  }
  return Uint8Array.from([...new Array(zeros).fill(0), ...bytes.reverse()]);
}

export function fromMultibase58(text) {
  if (typeof text !== "string" || !text.startsWith("z")) fail("not multibase base58btc (it must start with z)");
  return fromBase58btc(text.slice(1));
}

// --- did:key for Ed25519 (multicodec ed25519-pub 0xed, varint 0xed 0x01) --------------------

const ED25519_PUB = Uint8Array.of(0xed, 0x01);

export function didKeyOf(publicKey) {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) fail("an Ed25519 public key is 32 bytes");
  return "did:key:z" + base58btc(concat(ED25519_PUB, publicKey));
}

export function publicKeyOfDidKey(did) {
  if (typeof did !== "string" || !did.startsWith("did:key:z")) fail("not an Ed25519 did:key");
  const decoded = fromBase58btc(did.slice("did:key:z".length));
  if (decoded.length !== 34 || decoded[0] !== 0xed || decoded[1] !== 0x01) fail("not an Ed25519 did:key");
  return decoded.slice(2);
}

// `did:key:z6Mk…#z6Mk…`: the key's fragment is its own multibase form.
export function verificationMethodOf(publicKey) {
  const did = didKeyOf(publicKey);
  return `${did}#${did.slice("did:key:".length)}`;
}

export function publicKeyOfMethod(method) {
  if (typeof method !== "string") fail("the proof names no verificationMethod");
  const [did, fragment] = method.split("#");
  if (fragment !== undefined && `did:key:${fragment}` !== did) fail("the verificationMethod's fragment is not its did:key");
  return publicKeyOfDidKey(did);
}

// --- times: the chain counts ms since the epoch, documents say XML dateTime in UTC ----------

export function dateTimeOf(ms) {
  if (!Number.isSafeInteger(ms)) fail("a time is whole milliseconds");
  return new Date(ms).toISOString().replace(/\.000Z$/, "Z");
}

export function msOf(dateTime) {
  const pattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
  if (typeof dateTime !== "string" || !pattern.test(dateTime)) fail(`not a UTC dateTime: ${JSON.stringify(dateTime)}`);
  const ms = Date.parse(dateTime);
  if (!Number.isSafeInteger(ms)) fail(`not a date: ${dateTime}`);
  return ms;
}

// --- the document ---------------------------------------------------------------------------

export function statusListUrn(issuer, purpose, list) {
  return `${STATUS_LIST_PREFIX}${issuer}:${purpose}:${list}`;
}

function statusEntries(issuer, status) {
  return STATUS_PURPOSES.map((purpose) => ({
    id: `${statusListUrn(issuer, purpose, status.list)}#${status.index}`,
    type: "BitstringStatusListEntry",
    statusPurpose: purpose,
    statusListIndex: String(status.index),
    statusListCredential: statusListUrn(issuer, purpose, status.list),
  }));
}

// The unsigned VC 2.0 document (common design §1). `depends_on` holds ledger ids
// (`issuer:local`); the document names them by their URNs.
export function buildDocument(fields) {
  const { issuer, localId, subject, type, scope, jurisdiction, validFromMs, validUntilMs = null } = fields;
  if (!(type in TYPE_NAMES)) fail(`unknown credential type ${JSON.stringify(type)}`);
  const credentialSubject = { id: SUBJECT_PREFIX + subject, credentialType: type, scope, jurisdiction };
  if (fields.name) credentialSubject.name = fields.name;
  if (fields.ceMinutes !== null && fields.ceMinutes !== undefined) credentialSubject.ceMinutes = fields.ceMinutes;
  if (fields.ceCategory) credentialSubject.ceCategory = fields.ceCategory;
  if (fields.dependsOn && fields.dependsOn.length) credentialSubject.dependsOn = fields.dependsOn.map((id) => ID_PREFIX + id);
  const document = {
    "@context": [...CONTEXT],
    id: `${ID_PREFIX}${issuer.org}:${localId}`,
    type: ["VerifiableCredential", TYPE_NAMES[type]],
    issuer: { id: didKeyOf(issuer.publicKey), name: issuer.name, healthledgerOrg: issuer.org },
    validFrom: dateTimeOf(validFromMs),
  };
  if (validUntilMs !== null) document.validUntil = dateTimeOf(validUntilMs);
  document.credentialSubject = credentialSubject;
  if (fields.status) document.credentialStatus = statusEntries(issuer.org, fields.status);
  return document;
}

// --- eddsa-jcs-2022 (vc-di-eddsa §3.3.1-3.3.6) ----------------------------------------------

// The proof configuration: the proof without its value, carrying the document's @context
// (§3.3.5 step 2: it is hashed, so a proof cannot be moved to a document of other contexts).
export function proofOptions(document, publicKey, createdMs) {
  const options = {
    type: "DataIntegrityProof",
    cryptosuite: CRYPTOSUITE,
    created: dateTimeOf(createdMs),
    verificationMethod: verificationMethodOf(publicKey),
    proofPurpose: "assertionMethod",
  };
  if (document["@context"] !== undefined) options["@context"] = document["@context"];
  return options;
}

// hashData = SHA-256(JCS(proof config)) || SHA-256(JCS(unsecured document)) (§3.3.4).
export function hashData(unsecured, options) {
  return concat(sha256(canonicalBytes(options)), sha256(canonicalBytes(unsecured)));
}

// The document with its proof; `keys` signs (hl/keys.js KeyPair), `createdMs` is the proof's time.
export function signDocument(document, keys, createdMs) {
  const { proof: _old, ...unsecured } = document;
  const options = proofOptions(unsecured, keys.publicKey, createdMs);
  const signature = keys.sign(hashData(unsecured, options));
  return { ...unsecured, proof: { ...options, proofValue: "z" + base58btc(signature) } };
}

// Check a document's own proof (not the ledger's word on it): returns the signing public key.
export function verifyDocumentProof(document) {
  if (document === null || typeof document !== "object" || Array.isArray(document)) fail("a credential is a JSON object");
  const proof = document.proof;
  if (proof === null || typeof proof !== "object" || Array.isArray(proof)) fail("the credential has no proof", "invalid_signature");
  if (proof.type !== "DataIntegrityProof" || proof.cryptosuite !== CRYPTOSUITE) {
    fail(`unsupported proof: ${proof.type} / ${proof.cryptosuite}`, "invalid_signature");
  }
  if (proof.proofPurpose !== "assertionMethod") fail("the proof's purpose is not assertionMethod", "invalid_signature");
  const { proofValue, ...options } = proof;
  const { proof: _proof, ...unsecured } = document;
  if (options["@context"] !== undefined) {
    const context = options["@context"];
    const own = unsecured["@context"] ?? [];
    if (!Array.isArray(context) || !context.every((item, i) => JSON.stringify(item) === JSON.stringify(own[i]))) {
      fail("the proof's @context is not the document's", "invalid_signature");
    }
    unsecured["@context"] = context;
  }
  const publicKey = publicKeyOfMethod(options.verificationMethod);
  const signature = fromMultibase58(proofValue);
  if (signature.length !== 64) fail("the proofValue is not an Ed25519 signature", "invalid_signature");
  if (!sodium.crypto_sign_verify_detached(signature, hashData(unsecured, options), publicKey)) {
    fail("the proof's signature does not match the document", "invalid_signature");
  }
  return publicKey;
}

// --- what the ledger holds of a document ----------------------------------------------------

// SHA-256 hex of the JCS bytes of the signed document, proof included: the anchor's hash.
export function documentHash(document) {
  return sha256Hex(canonicalBytes(document));
}

export function credentialIdOf(document) {
  const id = document?.id;
  if (typeof id !== "string" || !id.startsWith(ID_PREFIX)) fail("the credential's id is not a HealthLedger credential URN");
  return id.slice(ID_PREFIX.length);
}

function statusOf(document) {
  const entries = document.credentialStatus;
  if (entries === undefined) return { status_list: null, status_index: null };
  const first = Array.isArray(entries) ? entries[0] : entries;
  const list = Number(String(first?.statusListCredential ?? "").split(":").at(-1));
  const index = Number(first?.statusListIndex);
  if (!Number.isSafeInteger(list) || !Number.isSafeInteger(index)) fail("the credential's status entry names no list and index");
  return { status_list: list, status_index: index };
}

// The `credential.issue` payload for a signed document (documents.anchor_of).
export function anchorOf(document) {
  const id = credentialIdOf(document);
  const subject = document.credentialSubject ?? {};
  if (typeof subject.id !== "string" || !subject.id.startsWith(SUBJECT_PREFIX)) fail("the subject is not a HealthLedger member");
  return {
    local_id: id.slice(id.indexOf(":") + 1),
    subject: subject.id.slice(SUBJECT_PREFIX.length),
    type: subject.credentialType,
    scope: subject.scope,
    jurisdiction: subject.jurisdiction,
    valid_from_ms: msOf(document.validFrom),
    valid_until_ms: document.validUntil === undefined ? null : msOf(document.validUntil),
    ce_minutes: subject.ceMinutes ?? null,
    ce_category: subject.ceCategory ?? null,
    depends_on: (subject.dependsOn ?? []).map((urn) => {
      if (typeof urn !== "string" || !urn.startsWith(ID_PREFIX)) fail("dependsOn names a credential that is not a HealthLedger URN");
      return urn.slice(ID_PREFIX.length);
    }),
    hash: documentHash(document),
    ...statusOf(document),
  };
}

// A fresh local id: the date and random hex (the issuer may type its own instead).
export function newLocalId(nowMs) {
  return `${new Date(nowMs).toISOString().slice(0, 10).replaceAll("-", "")}-${toHex(sodium.randombytes_buf(6))}`;
}
