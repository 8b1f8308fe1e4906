// The verifier's page: a presented credential (or a presentation, or a file of several)
// checked twice. In this browser: the document's own eddsa-jcs-2022 proof, and its anchor
// proven against the header this browser pinned (hash, issuer key, status at the date).
// By the node's verifier (POST /v1/credentials/verify): every check, in its words.
import { $, describe, el, onSubmitOnce, replace, status, words } from "../hl/ui.js";
import { toHex } from "../hl/bytes.js";
import { NOT_CHECKED_HERE } from "../hl/checks.js";
import { credentialIdOf, documentHash, verifyDocumentProof } from "../credentials/vc.js";
import { currentStatus, fieldError, provenAnchor, statusAt, validAt } from "../credentials/common.js";

// The credentials a pasted JSON holds: one credential, a presentation's, a file's, a list.
export function credentialsIn(value) {
  if (Array.isArray(value)) return value;
  if (value && typeof value === "object") {
    if (Array.isArray(value.verifiableCredential)) return value.verifiableCredential;
    if (Array.isArray(value.credentials)) return value.credentials.map((item) => item.document ?? item);
    return [value];
  }
  throw fieldError("paste a credential: a JSON object");
}

// The date asked about: the close of that day in UTC (as the node's `at=YYYY-MM-DD`), or now.
function asked(root) {
  const day = $(root, "#verify-credential-at").value;
  return day ? { day, timeMs: Date.parse(`${day}T23:59:59.999Z`) } : { day: null, timeMs: Date.now() };
}

// What the node's verifier is sent: the credential itself, or a presentation of several.
export function presentationOf(value, documents) {
  if (!Array.isArray(value) && documents.length === 1 && documents[0] === value) return value;
  if (Array.isArray(value?.type) && value.type.includes("VerifiablePresentation")) return value;
  return { "@context": ["https://www.w3.org/ns/credentials/v2"], type: ["VerifiablePresentation"], verifiableCredential: documents };
}

// This browser's own checks of one document; each passed check is a line, a failure throws.
async function browserChecks(session, document, timeMs, passed) {
  const publicKey = verifyDocumentProof(document);
  passed.push(`The credential's eddsa-jcs-2022 proof verifies with the key it names (${document.proof.verificationMethod.split("#")[0].slice(0, 24)}…).`);
  const id = credentialIdOf(document);
  const { anchor, checks } = await provenAnchor(session.api, id);
  passed.push(...checks.map((check) => check.what));
  if (anchor.hash !== documentHash(document)) throw fieldError("the credential is not the one anchored: its hash differs");
  passed.push(`Its SHA-256 is the anchored hash (${anchor.hash.slice(0, 16)}…).`);
  if (anchor.issuer_key !== toHex(publicKey)) throw fieldError(`its proof's key is not the key ${anchor.issuer} anchored it with`);
  passed.push(`Its proof's key is the key ${anchor.issuer} signed its anchor with.`);
  return { id, anchor, at: statusAt(anchor, timeMs), valid: validAt(anchor, timeMs) };
}

function verdictLine(result, timeMs) {
  const date = new Date(timeMs).toISOString().slice(0, 10);
  const now = currentStatus(result.anchor);
  if (result.valid) return `Valid on ${date}: ${result.at} and within its validity period (status now: ${now}).`;
  return `Not valid on ${date}: ${result.at ?? "not yet anchored"}${result.at === "active" ? ", outside its validity period" : ""} (status now: ${now}).`;
}

function checkName(check) {
  return check.check ?? check.name ?? "check";
}

function nodePart(checked) {
  if (!checked) return [el("p", { class: "status error", role: "alert" }, "The node's verifier gave no answer for this credential.")];
  const lines = (checked.checks ?? []).map((check) =>
    el(
      "li",
      { class: check.ok ? "ok" : "bad", "data-check": checkName(check) },
      `${words(checkName(check))}: ${check.ok ? "passed" : "failed"}${check.message || check.detail ? ` (${check.message ?? check.detail}${check.code ?? check.reason ? `, ${check.code ?? check.reason}` : ""})` : ""}`,
    ),
  );
  return [
    el("p", { class: `status ${checked.valid ? "ok" : "error"}`, "data-node-verdict": checked.valid ? "valid" : "not valid" }, `The node's verifier: ${checked.valid ? "valid" : "not valid"}.`),
    el("ul", { class: "checked" }, lines),
  ];
}

async function verifyOne(session, document, timeMs, checked, index) {
  const passed = [];
  let result = null;
  let failure = null;
  try {
    result = await browserChecks(session, document, timeMs, passed);
  } catch (error) {
    failure = error;
  }
  const title = typeof document?.id === "string" ? document.id : `Credential ${index + 1}`;
  const verdict = failure
    ? el("p", { class: "status error", role: "alert", "data-verdict": "failed" }, `Check failed: ${describe(failure)}`)
    : el("p", { class: `status ${result.valid ? "ok" : "error"}`, role: "status", "data-verdict": result.valid ? "valid" : (result.at ?? "unanchored") }, verdictLine(result, timeMs));
  return el(
    "article",
    { class: "credential-result", "data-credential": title },
    el("h3", {}, title),
    verdict,
    el("p", { class: "checked-title" }, "What this browser checked:"),
    el("ul", { class: "checked" }, passed.map((line) => el("li", { class: "ok" }, line)), failure ? el("li", { class: "bad" }, describe(failure)) : null),
    el("p", { class: "checked" }, NOT_CHECKED_HERE),
    el("p", { class: "checked-title" }, "What the node's verifier checked:"),
    nodePart(checked),
  );
}

async function verify(root, session) {
  const note = $(root, "#verify-credential-status");
  let documents;
  let value;
  try {
    const text = $(root, "#verify-credential-text").value.trim();
    if (!text) throw fieldError("paste or upload a credential");
    try {
      value = JSON.parse(text);
    } catch {
      throw fieldError("this is not JSON");
    }
    documents = credentialsIn(value);
  } catch (error) {
    status(note, describe(error), "error");
    return;
  }
  status(note, `Checking ${documents.length} credential${documents.length === 1 ? "" : "s"}…`, "info");
  const { day, timeMs } = asked(root);
  let report = null;
  let nodeError = null;
  try {
    report = await session.api.post("/v1/credentials/verify", presentationOf(value, documents), { params: day ? { at: day } : {} });
  } catch (error) {
    nodeError = error;
  }
  const articles = [];
  if (nodeError) articles.push(el("p", { class: "status error", role: "alert" }, `The node's verifier could not answer: ${describe(nodeError)}`));
  for (const [index, document] of documents.entries()) {
    articles.push(await verifyOne(session, document, timeMs, report?.credentials?.[index], index));
  }
  replace($(root, "#verify-credential-results"), articles);
  $(root, "#verify-credential-result").hidden = false;
  status(note, "Checked.", "ok");
}

function wire(root) {
  $(root, "#verify-credential-file").addEventListener("change", async (event) => {
    const file = event.currentTarget.files?.[0];
    if (file) $(root, "#verify-credential-text").value = await file.text();
  });
  onSubmitOnce($(root, "#verify-credential-form"), () => verify(root, root.session));
  for (const button of root.querySelectorAll("form button[type=submit]")) button.disabled = false;
}

export async function show(root, session) {
  if (!root.wired) {
    root.wired = true;
    wire(root);
  }
  root.session = session;
}
