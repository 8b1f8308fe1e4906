// The clinician's page: find a patient (pseudonym or QR code), see what their standing
// allows, read a record for a purpose (decrypted and checked here), break the glass with
// a stated reason, add an Observation or a Condition. Every request is signed in this
// page as client/records.py signs it; no clinical value leaves the page except a new
// record, sent to the vault that encrypts it.
import { addRecord, checkReasonText, findPatientId, locate, readRecord } from "../hl/records.js";
import { MEASUREMENTS, codeLabel, conditionFrom, observationFrom, renderResource } from "../hl/fhir.js";
import { cameraFormats, cameraProblem, startCamera } from "../hl/camera.js";
import { drawChecks } from "../hl/checks.js";
import { $, describe, el, replace, say, short, status, table } from "../hl/ui.js";

let wired = false;
let current = null; // the session this page last drew for
// The patient on screen and how their records were found: { id, breakGlass: reason | null }.
let shown = null;
let camera = null; // { stop() } while the camera scans

function fieldError(root, id, message) {
  const input = root.querySelector(`#clinician-${id}`);
  const box = $(root, `#clinician-${id}-error`);
  box.hidden = !message;
  box.textContent = message ?? "";
  if (input) {
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
}

// --- finding a patient ---------------------------------------------------------------------

function recordRows(root, records) {
  return records.map((record) => [
    record.resource_type,
    codeLabel(record.code),
    record.date || "—",
    record.custodian,
    record.status,
    record.status === "shredded"
      ? "shredded"
      : el("button", {
        type: "button",
        class: "quiet",
        dataset: { record: record.id },
        "aria-label": `Read ${record.resource_type} ${record.date || ""} (${record.id})`.replace("  ", " "),
        onclick: () => read(root, record),
      }, "Read"),
  ]);
}

function drawRecords(root, answer) {
  const records = answer.records ?? [];
  const box = $(root, "#clinician-records");
  $(root, "#clinician-patient-view").hidden = false;
  const how = shown.breakGlass ? "Break-glass search: every record of" : "Records you may see (by consent, care or authorship) of";
  status($(root, "#clinician-records-status"), `${how} ${answer.patient} at ledger height ${answer.height}: ${records.length}.`, shown.breakGlass ? "error" : "info");
  if (!records.length) {
    replace(box, el("p", {}, "None that you may see."));
    return;
  }
  replace(box, table(["Type", "Code", "Date", "Custodian", "Status", "Action"], recordRows(root, records), `Records of ${answer.patient}`));
}

async function find(root, patient, breakGlass = null) {
  const statusBox = $(root, "#clinician-records-status");
  shown = { id: patient, breakGlass };
  $(root, "#clinician-patient-view").hidden = false;
  $(root, "#clinician-break-glass").hidden = false;
  $(root, "#clinician-record").hidden = true;
  $(root, "#clinician-add-card").hidden = false; // a first record needs no standing to be added
  $(root, "#clinician-add-title").textContent = `Add a record for ${patient}`;
  replace($(root, "#clinician-records"));
  status(statusBox, breakGlass ? "Breaking the glass: the ledger records this search…" : "Asking the record locator…");
  try {
    const answer = await locate(current.api, patient, { breakGlassReason: breakGlass });
    drawRecords(root, answer);
    if (breakGlass) {
      $(root, "#clinician-purpose").value = "emergency";
      status($(root, "#clinician-break-glass-status"), `Break-glass search recorded on the ledger (access event ${short(answer.access.tx_id, 16)} at height ${answer.access.height}), flagged to the patient and to your organisation's alert feed. Reads you make now are break-glass reads, each recorded with your reason.`, "error");
    }
  } catch (error) {
    shown = breakGlass ? { id: patient, breakGlass: null } : shown;
    const hint = error.code === "no_consent" ? " You may ask the patient for consent, or, in an emergency, break the glass below." : "";
    status(statusBox, `The node refused: ${describe(error)}.${hint}`, "error");
    if (breakGlass) status($(root, "#clinician-break-glass-status"), `Break-glass refused: ${describe(error)}`, "error");
  }
}

function onFind(root, event) {
  event.preventDefault();
  const text = $(root, "#clinician-patient").value;
  const patient = findPatientId(text);
  fieldError(root, "patient", patient ? null : text.trim() ? "no pseudonym here: it is pat_ followed by 32 hex characters" : "enter the patient's pseudonym");
  if (!patient) return;
  $(root, "#clinician-patient").value = patient;
  find(root, patient);
}

// --- scanning the patient's QR code ----------------------------------------------------------

function stopCamera(root) {
  if (camera) camera.stop();
  camera = null;
  $(root, "#clinician-scanner").hidden = true;
}

async function scan(root) {
  const box = $(root, "#clinician-scan-status");
  if (!(await cameraFormats(["qr_code"])).length) {
    status(box, "This browser cannot read QR codes from the camera: type or paste the pseudonym, or the text a QR reader app shows, into the field above.");
    $(root, "#clinician-patient").focus();
    return;
  }
  stopCamera(root);
  $(root, "#clinician-scanner").hidden = false;
  try {
    camera = await startCamera($(root, "#clinician-video"), (patient) => {
      stopCamera(root);
      $(root, "#clinician-patient").value = patient;
      status(box, `Scanned ${patient} with the camera.`, "ok");
      find(root, patient);
    }, { formats: ["qr_code"], accept: findPatientId });
    status(box, "Scanning with the camera: hold the patient's QR code in view.");
  } catch (error) {
    stopCamera(root);
    status(box, `The camera is not available (${cameraProblem(error)}): type or paste the pseudonym instead.`, "error");
  }
}

// --- reading --------------------------------------------------------------------------------

async function read(root, record) {
  const section = $(root, "#clinician-record");
  const body = $(root, "#clinician-record-body");
  const purpose = $(root, "#clinician-purpose").value;
  const reason = shown?.breakGlass ?? null;
  section.hidden = false;
  $(root, "#clinician-record-title").textContent = `${record.resource_type} ${record.date || ""}`.trim();
  replace(body);
  status($(root, "#clinician-record-status"), reason ? "Break-glass read: the ledger records it with your reason…" : `Reading for the purpose "${purpose}": the ledger records the access…`);
  let read = null;
  try {
    read = await readRecord(current.api, record.id, reason ? "emergency" : purpose, reason, record.custodian);
  } catch (error) {
    status($(root, "#clinician-record-status"), `The node refused the read: ${describe(error)}`, "error");
    section.focus?.();
    return;
  }
  const flagged = read.access.break_glass;
  status(
    $(root, "#clinician-record-status"),
    `Decrypted in this browser. Access recorded on the ledger at height ${read.access.height} (basis: ${read.access.basis}${read.access.consent ? `, consent ${read.access.consent}` : ""})${flagged ? ", flagged as break-glass" : ""}.`,
    flagged ? "error" : "ok",
  );
  const checks = el("div", { class: "card", id: "clinician-record-checks" });
  drawChecks(checks, read.checks);
  replace(body, el("div", { id: "clinician-record-content" }, renderResource(read.resource)), checks);
}

// --- break-glass --------------------------------------------------------------------------------

function onBreakGlass(root, event) {
  event.preventDefault();
  if (!shown) return;
  const reasonText = $(root, "#clinician-reason").value;
  let reason = null;
  try {
    reason = checkReasonText(reasonText);
    fieldError(root, "reason", null);
  } catch (error) {
    fieldError(root, "reason", reasonText.trim() ? `${error.message} (you wrote ${reasonText.trim().length})` : "state why you need emergency access");
  }
  const confirmed = $(root, "#clinician-confirm").checked;
  const confirmBox = $(root, "#clinician-confirm-error");
  confirmBox.hidden = confirmed;
  confirmBox.textContent = confirmed ? "" : "confirm that you understand this access is flagged";
  if (confirmed) $(root, "#clinician-confirm").removeAttribute("aria-invalid");
  else $(root, "#clinician-confirm").setAttribute("aria-invalid", "true");
  if (!reason || !confirmed) return;
  $(root, "#clinician-confirm").checked = false; // one confirmation per break-glass
  find(root, shown.id, reason);
}

// --- adding a record --------------------------------------------------------------------------------

function kindOf(root) {
  return root.querySelector('input[name="kind"]:checked').value;
}

function drawKind(root) {
  const observation = kindOf(root) === "Observation";
  $(root, "#clinician-observation-fields").hidden = !observation;
  $(root, "#clinician-condition-fields").hidden = observation;
}

function drawMeasurement(root) {
  const measurement = MEASUREMENTS.find((m) => m.loinc === $(root, "#clinician-obs-code").value);
  $(root, "#clinician-obs-unit").textContent = measurement ? `(${measurement.unit})` : "";
  $(root, "#clinician-obs-value-hint").textContent = measurement ? `Between ${measurement.min} and ${measurement.max} ${measurement.unit}.` : "";
}

const FIELDS = {
  Observation: { code: "obs-code", value: "obs-value", when: "obs-when", status: "obs-status" },
  Condition: { code: "cond-code", text: "cond-text", onset: "cond-onset", clinicalStatus: "cond-status", verification: "cond-verification" },
};

function built(root, kind) {
  const form = Object.fromEntries(Object.entries(FIELDS[kind]).map(([name, id]) => [name, $(root, `#clinician-${id}`).value]));
  return kind === "Observation" ? observationFrom(shown.id, form) : conditionFrom(shown.id, form);
}

async function onAdd(root, event) {
  event.preventDefault();
  if (!shown) return;
  const kind = kindOf(root);
  const box = $(root, "#clinician-add-status");
  const { resource, errors } = built(root, kind);
  for (const [name, id] of Object.entries(FIELDS[kind])) {
    if (root.querySelector(`#clinician-${id}-error`)) fieldError(root, id, errors?.[name] ?? null);
  }
  if (errors) {
    status(box, `Not sent: ${Object.keys(errors).length === 1 ? "one field needs" : "some fields need"} correcting.`, "error");
    root.querySelector("[aria-invalid=true]")?.focus();
    return;
  }
  const go = $(root, "#clinician-add-go");
  go.disabled = true;
  status(box, "Sending to your organisation's vault: it validates the FHIR resource, encrypts it and registers it on the ledger…");
  try {
    const added = await addRecord(current.api, shown.id, resource);
    status(box, `Added ${added.resource_type} ${added.record_id} at ledger height ${added.height} (content hash ${short(added.content_hash, 16)}).`, "ok");
    say("Record added", "ok");
    await find(root, shown.id); // the locator again: the new record shows (you are its author)
  } catch (error) {
    status(box, `The node refused the record: ${describe(error)}`, "error");
  } finally {
    go.disabled = false;
  }
}

// --- the page -----------------------------------------------------------------------------------

function wire(root) {
  const select = $(root, "#clinician-obs-code");
  replace(select, MEASUREMENTS.map((m) => el("option", { value: m.loinc }, `${m.display} (LOINC ${m.loinc})`)));
  select.addEventListener("change", () => drawMeasurement(root));
  drawMeasurement(root);
  for (const radio of root.querySelectorAll('input[name="kind"]')) radio.addEventListener("change", () => drawKind(root));
  $(root, "#clinician-find").addEventListener("submit", (event) => onFind(root, event));
  $(root, "#clinician-scan").addEventListener("click", () => scan(root));
  $(root, "#clinician-scan-stop").addEventListener("click", () => {
    stopCamera(root);
    status($(root, "#clinician-scan-status"), "Camera stopped.");
  });
  $(root, "#clinician-break-glass-form").addEventListener("submit", (event) => onBreakGlass(root, event));
  $(root, "#clinician-add").addEventListener("submit", (event) => onAdd(root, event));
}

function reset(root) {
  shown = null;
  stopCamera(root);
  for (const id of ["#clinician-patient-view", "#clinician-break-glass", "#clinician-record", "#clinician-add-card"]) $(root, id).hidden = true;
  for (const id of ["#clinician-records", "#clinician-records-status", "#clinician-record-body", "#clinician-break-glass-status", "#clinician-add-status", "#clinician-scan-status"]) replace($(root, id));
  $(root, "#clinician-patient").value = "";
  $(root, "#clinician-reason").value = "";
}

export async function show(root, session) {
  if (!wired) {
    wired = true;
    wire(root);
  }
  if (session !== current) {
    const switched = current !== null;
    current = session;
    if (switched) reset(root); // another person signed in: nothing of the last one stays on screen
  }
  root.dataset.ready = "true";
  if (session && session.kind !== "member") {
    status($(root, "#clinician-scan-status"), "This page is for practitioners and nurses: the ledger will refuse reads your key has no standing for.");
  }
}
