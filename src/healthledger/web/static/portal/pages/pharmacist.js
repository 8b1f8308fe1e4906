// The pharmacist's page: read a pack's code (pasted, typed by a scanner, or seen by the
// camera), verify it against the ledger with the proofs checked here, and dispense it.
import { $, el, replace, status, describe, say } from "../hl/ui.js";
import { drawChecks } from "../hl/checks.js";
import { parseScan, separatorsTyped, ScanError } from "../supply/gs1.js";
import { proveSupply, provenPackage, VERDICTS } from "../supply/verify.js";
import { cameraFormats, cameraProblem, startCamera } from "../hl/camera.js";

// Who may dispense (domains/supply/roles.py DISPENSING): a dispensing organisation, or a
// pharmacist member (whose organisation the ledger then checks is a dispenser).
const DISPENSERS = new Set(["pharmacy", "hospital", "clinic"]);

// A pack carries a GS1 DataMatrix; a Digital Link is printed as a QR code.
const PACK_CODES = ["data_matrix", "qr_code"];

let current = null; // {session, product, verdict, expired} of the pack last verified
let camera = null;

export function mayDispense(session) {
  const actor = session?.actor;
  if (!actor) return false;
  if (actor.kind === "org") return DISPENSERS.has(actor.role);
  return actor.kind === "member" && actor.role === "pharmacist";
}

function pair(term, value) {
  return [el("dt", {}, term), el("dd", {}, el("span", { class: "mono" }, value))];
}

function drawVerdict(root, view, pkg) {
  const meaning = VERDICTS[view.verdict];
  const tone = view.expired ? "bad" : meaning.tone;
  replace(
    $(root, "#pharmacist-verdict"),
    el("p", { class: `verdict ${tone}`, "data-verdict": view.verdict }, meaning.title),
    view.expired ? el("p", { class: "verdict-note bad", "data-expired": "true" }, `Expired: the ledger marked lot ${view.lot} past its expiry date (${view.expiry}).`) : null,
    el("p", {}, meaning.advice),
  );
  replace(
    $(root, "#pharmacist-identifiers"),
    pair("GTIN", view.gtin),
    pair("Serial", view.serial),
    pair("Lot", view.lot),
    pair("Expiry", view.expiry),
  );
  const custody = $(root, "#pharmacist-custody");
  if (pkg === null) {
    replace(custody, el("p", {}, "The ledger holds no package with this GTIN and serial (proven absent)."));
    return;
  }
  const flags = [pkg.suspect ? "suspect" : null, pkg.quarantined ? "quarantined" : null].filter(Boolean);
  replace(
    custody,
    el("h3", {}, "Custody, from the proven record"),
    el(
      "dl",
      { class: "pairs" },
      pair("Held by", pkg.owner),
      pair("Status", pkg.status + (pkg.to ? ` to ${pkg.to}` : "")),
      pair("Manufacturer", pkg.manufacturer),
      pair("Flags", flags.length ? flags.join(", ") : "none"),
      pkg.container ? pair("Packed in", pkg.container) : null,
    ),
  );
}

function drawDispense(root, session) {
  const button = $(root, "#pharmacist-dispense");
  const allowed = current && current.verdict === "verified" && !current.expired;
  button.disabled = !allowed || !mayDispense(session);
  const note = $(root, "#pharmacist-dispense-status");
  if (!allowed) status(note, "Only a verified pack that has not expired may be dispensed.", "info");
  else if (!mayDispense(session)) status(note, "Dispensing needs a pharmacist's key or a dispensing organisation's key.", "info");
  else replace(note);
}

async function verify(root, session, scanText) {
  const scanStatus = $(root, "#pharmacist-scan-status");
  const result = $(root, "#pharmacist-result");
  let product;
  try {
    if (!scanText.trim()) throw new ScanError("Paste or scan the pack's code first.");
    product = parseScan(separatorsTyped(scanText), new Date().getUTCFullYear());
  } catch (error) {
    result.hidden = true;
    status(scanStatus, describe(error), "error");
    return;
  }
  status(scanStatus, `Asking the ledger about ${product.gtin} serial ${product.serial}…`, "info");
  const view = await session.api.get("/v1/supply/verify", product);
  current = null;
  result.hidden = false;
  try {
    const checks = await proveSupply(session.api, view, product);
    current = { product, verdict: view.verdict, expired: view.expired };
    drawVerdict(root, view, provenPackage(view));
    drawChecks($(root, "#pharmacist-checks"), checks);
    status(scanStatus, `Answer checked: the ledger's records at block ${view.proofs.package.height}, proven in this browser.`, "ok");
  } catch (error) {
    replace($(root, "#pharmacist-verdict"), el("p", { class: "verdict bad", "data-verdict": "proof-failed" }, "Not verified"), el("p", {}, "The ledger's answer did not prove itself: do not rely on it."));
    replace($(root, "#pharmacist-identifiers"));
    replace($(root, "#pharmacist-custody"));
    drawChecks($(root, "#pharmacist-checks"), [], error);
    replace(scanStatus);
  }
  drawDispense(root, session);
}

async function dispense(root, session) {
  const note = $(root, "#pharmacist-dispense-status");
  const { gtin, serial } = current.product;
  $(root, "#pharmacist-dispense").disabled = true;
  status(note, `Dispensing ${gtin} serial ${serial}…`, "info");
  try {
    // The payload the CLI sends (`healthledger supply dispense`): no patient is recorded.
    const report = await session.api.submit("supply.dispense", { gtin, serial });
    const done = `Dispensed ${gtin} serial ${serial} at block ${report.height}.`;
    await verify(root, session, $(root, "#pharmacist-scan").value);
    status(note, done, "ok");
    say(done, "ok");
  } catch (error) {
    status(note, `Refused: ${describe(error)}`, "error");
    $(root, "#pharmacist-dispense").disabled = false;
  }
}

async function toggleCamera(root, session) {
  const button = $(root, "#pharmacist-camera");
  const video = $(root, "#pharmacist-video");
  if (camera) {
    camera.stop();
    camera = null;
    button.textContent = "Scan with the camera";
    return;
  }
  try {
    camera = await startCamera(video, (text) => {
      camera = null;
      button.textContent = "Scan with the camera";
      $(root, "#pharmacist-scan").value = text;
      verify(root, session, text).catch((error) => status($(root, "#pharmacist-scan-status"), describe(error), "error"));
    }, { formats: PACK_CODES });
    button.textContent = "Stop the camera";
  } catch (error) {
    status($(root, "#pharmacist-camera-note"), `The camera could not start: ${cameraProblem(error)}. Paste the code instead.`, "error");
  }
}

async function offerCamera(root) {
  const note = $(root, "#pharmacist-camera-note");
  const usable = (await cameraFormats(PACK_CODES)).length > 0;
  $(root, "#pharmacist-camera").hidden = !usable;
  replace(note, usable ? "" : "This browser cannot read codes from the camera: paste the code, or use a scanner that types into the box.");
}

function wire(root) {
  const form = $(root, "#pharmacist-scan-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $(root, "#pharmacist-scan").value;
    verify(root, root.session, text).catch((error) => status($(root, "#pharmacist-scan-status"), describe(error), "error"));
  });
  $(root, "#pharmacist-dispense").addEventListener("click", () => dispense(root, root.session));
  $(root, "#pharmacist-camera").addEventListener("click", () => toggleCamera(root, root.session));
  offerCamera(root).catch(() => {});
  // Disabled in the markup, so nothing is submitted (into the URL) before this module runs.
  $(root, "#pharmacist-verify").disabled = false;
}

export async function show(root, session) {
  if (!root.wired) {
    root.wired = true;
    wire(root);
  }
  if (root.session !== session) {
    root.session = session;
    current = null;
    $(root, "#pharmacist-result").hidden = true;
  }
}
