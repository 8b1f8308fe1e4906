// FHIR R4 in the browser: the clinician's forms build Observation and Condition resources
// and check them field by field before sending (the node validates again with
// fhir.resources), and any record read is drawn readably, as text only.
import { el } from "./ui.js";

export const LOINC = "http://loinc.org";
export const SNOMED = "http://snomed.info/sct";
export const UCUM = "http://unitsofmeasure.org";
const OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category";
const CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category";

// Measurements the form offers: LOINC code, UCUM unit, and the range a person can have
// (a value outside it is a typing mistake, not a finding).
export const MEASUREMENTS = [
  { loinc: "8867-4", display: "Heart rate", unit: "beats/minute", ucum: "/min", min: 20, max: 300, category: "vital-signs" },
  { loinc: "9279-1", display: "Respiratory rate", unit: "breaths/minute", ucum: "/min", min: 2, max: 80, category: "vital-signs" },
  { loinc: "8310-5", display: "Body temperature", unit: "°C", ucum: "Cel", min: 25, max: 45, category: "vital-signs" },
  { loinc: "8480-6", display: "Systolic blood pressure", unit: "mmHg", ucum: "mm[Hg]", min: 40, max: 300, category: "vital-signs" },
  { loinc: "8462-4", display: "Diastolic blood pressure", unit: "mmHg", ucum: "mm[Hg]", min: 20, max: 200, category: "vital-signs" },
  { loinc: "2708-6", display: "Oxygen saturation in arterial blood", unit: "%", ucum: "%", min: 50, max: 100, category: "vital-signs" },
  { loinc: "29463-7", display: "Body weight", unit: "kg", ucum: "kg", min: 0.2, max: 500, category: "vital-signs" },
  { loinc: "8302-2", display: "Body height", unit: "cm", ucum: "cm", min: 20, max: 280, category: "vital-signs" },
  { loinc: "2339-0", display: "Glucose [Mass/volume] in Blood", unit: "mg/dL", ucum: "mg/dL", min: 10, max: 1500, category: "laboratory" },
];
export const OBSERVATION_STATUSES = ["registered", "preliminary", "final", "amended"];
export const CLINICAL_STATUSES = ["active", "recurrence", "relapse", "inactive", "remission", "resolved"];
export const VERIFICATION_STATUSES = ["unconfirmed", "provisional", "differential", "confirmed"];

const DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/; // FHIR decimal, as a person types it
const SKEW_MS = 5 * 60 * 1000; // a clock a few minutes fast is not a future measurement
const EARLIEST = Date.UTC(1900, 0, 1);

// Verhoeff's check digit, which every SNOMED CT identifier ends with.
const D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

export function verhoeffValid(digits) {
  let c = 0;
  [...digits].reverse().forEach((digit, i) => { c = D[c][P[i % 8][Number(digit)]]; });
  return c === 0;
}

// A SNOMED CT concept id: 6 to 18 digits, no leading zero, the partition of a concept
// ("00" or "10" before the check digit), and a valid Verhoeff check digit.
export function snomedConceptProblem(code) {
  if (!/^[1-9][0-9]{5,17}$/.test(code)) return "a SNOMED CT concept id is 6 to 18 digits, not starting with 0";
  if (!["00", "10"].includes(code.slice(-3, -1))) return "this is a SNOMED CT id, but not of a concept (its partition digits are not 00 or 10)";
  if (!verhoeffValid(code)) return "the check digit is wrong: look the code up again";
  return null;
}

function dayOf(date) {
  return date.toISOString().slice(0, 10);
}

function moment(text, field, errors, { dateOnly = false } = {}) {
  if (!text) {
    errors[field] = dateOnly ? "enter the date" : "enter the date and time";
    return null;
  }
  const at = dateOnly ? new Date(`${text}T00:00:00Z`) : new Date(text);
  if (Number.isNaN(at.getTime())) {
    errors[field] = "not a valid date";
    return null;
  }
  if (at.getTime() > Date.now() + SKEW_MS) errors[field] = "this is in the future";
  else if (at.getTime() < EARLIEST) errors[field] = "this is before 1900";
  return errors[field] ? null : at;
}

// The Observation a form describes, or the errors by field ({field: message}).
export function observationFrom(patient, form) {
  const errors = {};
  const measurement = MEASUREMENTS.find((m) => m.loinc === form.code);
  if (!measurement) errors.code = "choose a measurement";
  const text = String(form.value ?? "").trim().replace(",", ".");
  let value = null;
  if (text === "") errors.value = "enter the measured value";
  else if (!DECIMAL.test(text)) errors.value = "enter a number, like 72 or 36.6";
  else if (measurement) {
    value = Number(text);
    if (value < measurement.min || value > measurement.max) {
      errors.value = `${measurement.display} must be between ${measurement.min} and ${measurement.max} ${measurement.unit}`;
    }
  }
  const at = moment(form.when, "when", errors);
  if (!OBSERVATION_STATUSES.includes(form.status)) errors.status = "choose a status";
  if (Object.keys(errors).length) return { errors };
  return {
    resource: {
      resourceType: "Observation",
      status: form.status,
      category: [{ coding: [{ system: OBSERVATION_CATEGORY, code: measurement.category }] }],
      code: { coding: [{ system: LOINC, code: measurement.loinc, display: measurement.display }], text: measurement.display },
      subject: { reference: `Patient/${patient}` },
      effectiveDateTime: at.toISOString(),
      valueQuantity: { value, unit: measurement.unit, system: UCUM, code: measurement.ucum },
    },
  };
}

// The Condition a form describes, or the errors by field.
export function conditionFrom(patient, form) {
  const errors = {};
  const code = String(form.code ?? "").trim();
  const problem = snomedConceptProblem(code);
  if (problem) errors.code = code ? problem : "enter the SNOMED CT concept id";
  const text = String(form.text ?? "").trim();
  if (!text) errors.text = "write the condition as you would in the notes";
  else if (text.length > 200) errors.text = "at most 200 characters";
  const onset = moment(form.onset, "onset", errors, { dateOnly: true });
  if (!CLINICAL_STATUSES.includes(form.clinicalStatus)) errors.clinicalStatus = "choose a clinical status";
  if (!VERIFICATION_STATUSES.includes(form.verification)) errors.verification = "choose a verification status";
  if (Object.keys(errors).length) return { errors };
  return {
    resource: {
      resourceType: "Condition",
      clinicalStatus: { coding: [{ system: CONDITION_CLINICAL, code: form.clinicalStatus }] },
      verificationStatus: { coding: [{ system: CONDITION_VERIFICATION, code: form.verification }] },
      category: [{ coding: [{ system: CONDITION_CATEGORY, code: "problem-list-item" }] }],
      code: { coding: [{ system: SNOMED, code }], text },
      subject: { reference: `Patient/${patient}` },
      onsetDateTime: dayOf(onset),
      recordedDate: dayOf(new Date()),
    },
  };
}

// --- reading ---------------------------------------------------------------------------

const SYSTEM_NAMES = { [LOINC]: "LOINC", [SNOMED]: "SNOMED CT", "http://hl7.org/fhir/sid/cvx": "CVX", "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm", "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM" };

export function systemName(system) {
  return SYSTEM_NAMES[system] ?? system ?? "";
}

// "LOINC 8867-4" from a locator's "system|code".
export function codeLabel(token) {
  if (!token) return "";
  const [system, code] = token.split("|");
  return system ? `${systemName(system)} ${code}` : code;
}

function concept(value) {
  if (!value || typeof value !== "object") return "";
  const coding = (value.coding ?? [])[0] ?? {};
  const words = value.text ?? coding.display ?? coding.code ?? "";
  const code = coding.code ? ` (${systemName(coding.system)} ${coding.code})` : "";
  return `${words}${words === coding.code ? "" : code}`;
}

function quantity(q) {
  if (!q || typeof q !== "object") return "";
  const comparator = q.comparator ?? "";
  return `${comparator}${q.value ?? ""} ${q.unit ?? q.code ?? ""}`.trim();
}

function range(r) {
  const low = r.low ? quantity(r.low) : "";
  const high = r.high ? quantity(r.high) : "";
  return r.text ?? [low, high].filter(Boolean).join(" to ");
}

function valueOf(resource) {
  for (const [key, value] of Object.entries(resource)) {
    if (!key.startsWith("value")) continue;
    if (key === "valueQuantity") return quantity(value);
    if (key === "valueCodeableConcept") return concept(value);
    if (typeof value !== "object") return String(value);
  }
  return "";
}

function when(resource, ...fields) {
  for (const field of fields) {
    const value = field.split(".").reduce((v, step) => (v && typeof v === "object" ? v[step] : undefined), resource);
    if (typeof value === "string") return value;
  }
  return "";
}

function facts(pairs) {
  const shown = pairs.filter(([, value]) => value !== "" && value !== null && value !== undefined);
  return el("dl", { class: "facts" }, shown.map(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
}

function observationFacts(r) {
  const components = (r.component ?? []).map((c) => `${concept(c.code)}: ${valueOf(c)}`).join("; ");
  return [
    ["Measurement", concept(r.code)],
    ["Value", valueOf(r)],
    ["Components", components],
    ["Interpretation", (r.interpretation ?? []).map(concept).join(", ")],
    ["Reference range", (r.referenceRange ?? []).map(range).join("; ")],
    ["When", when(r, "effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued")],
    ["Category", (r.category ?? []).map(concept).join(", ")],
    ["Status", r.status ?? ""],
  ];
}

function conditionFacts(r) {
  return [
    ["Condition", concept(r.code)],
    ["Clinical status", concept(r.clinicalStatus)],
    ["Verification", concept(r.verificationStatus)],
    ["Onset", when(r, "onsetDateTime", "onsetPeriod.start", "onsetString")],
    ["Abatement", when(r, "abatementDateTime", "abatementString")],
    ["Recorded", r.recordedDate ?? ""],
    ["Category", (r.category ?? []).map(concept).join(", ")],
  ];
}

function otherFacts(r) {
  const code = r.code ?? r.vaccineCode ?? r.medicationCodeableConcept ?? r.type ?? (r.category ?? [])[0];
  return [
    ["What", concept(Array.isArray(code) ? code[0] : code)],
    ["Value", valueOf(r)],
    ["When", when(r, "effectiveDateTime", "occurrenceDateTime", "onsetDateTime", "performedDateTime", "authoredOn", "recordedDate", "issued", "date", "period.start")],
    ["Status", typeof r.status === "string" ? r.status : concept(r.clinicalStatus)],
    ["Criticality", r.criticality ?? ""],
    ["Reactions", (r.reaction ?? []).flatMap((x) => (x.manifestation ?? []).map(concept)).join(", ")],
    ["Dosage", (r.dosage ?? r.dosageInstruction ?? []).map((d) => d.text ?? "").filter(Boolean).join("; ")],
    ["Results", (r.contained ?? []).map((c) => `${concept(c.code)}: ${valueOf(c)}`).join("; ")],
  ];
}

// A FHIR resource drawn as a definition list (text only), with its JSON behind a disclosure.
export function renderResource(resource) {
  if (!resource || typeof resource !== "object") return el("p", {}, "This record is a file, not a FHIR resource: nothing to draw here.");
  const kind = resource.resourceType;
  const rows = kind === "Observation" ? observationFacts(resource) : kind === "Condition" ? conditionFacts(resource) : otherFacts(resource);
  return el(
    "div",
    { class: "fhir" },
    el("p", {}, el("strong", {}, kind ?? "Resource"), resource.id ? ` ${resource.id}` : ""),
    facts(rows),
    el("details", {}, el("summary", {}, "FHIR JSON"), el("pre", { class: "mono" }, JSON.stringify(resource, null, 2))),
  );
}
