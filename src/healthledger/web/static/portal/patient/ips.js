// The International Patient Summary (HL7 FHIR IPS document) made in this browser from the
// records the page has already read and checked: the same document as the SDK's
// (src/healthledger/client/summary.py), section for section, rule for rule. Pure: no I/O.

const LOINC = "http://loinc.org";
const URN = "urn:healthledger:";
const RECORD_URN = `${URN}record`;
const PATIENT_URN = `${URN}patient`;
const IPS_ABSENT = "http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips";
const LIST_EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason";
const OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category";
const XHTML = "http://www.w3.org/1999/xhtml";
export const RESULTS_WINDOW_DAYS = 365;
const PATIENT_SECTION = "patient";

const VITAL_SIGN_CODES = new Set([
  "85353-1", "9279-1", "8867-4", "2708-6", "59408-5", "8310-5", "8302-2", "9843-4",
  "29463-7", "39156-5", "85354-9", "8480-6", "8462-4",
]);
const RESULT_CATEGORIES = new Set(["laboratory", "imaging", "procedure"]);

export const SECTIONS = [
  { key: "allergies", code: "48765-2", title: "Allergies and intolerances", types: ["AllergyIntolerance"],
    noInformation: ["AllergyIntolerance", "no-allergy-info", "No information about allergies"] },
  { key: "medications", code: "10160-0", title: "Medication summary", types: ["MedicationStatement", "MedicationRequest"],
    noInformation: ["MedicationStatement", "no-medication-info", "No information about medications"] },
  { key: "problems", code: "11450-4", title: "Problem list", types: ["Condition"],
    noInformation: ["Condition", "no-problem-info", "No information about problems"] },
  { key: "vital_signs", code: "8716-3", title: "Vital signs", types: ["Observation"], recentOnly: true },
  { key: "immunizations", code: "11369-6", title: "Immunizations", types: ["Immunization"] },
  { key: "results", code: "30954-2", title: "Results", types: ["Observation", "DiagnosticReport"], recentOnly: true },
];
const BY_KEY = new Map(SECTIONS.map((s) => [s.key, s]));

const PATIENT_FIELD = {
  AllergyIntolerance: "patient", Immunization: "patient", MedicationStatement: "subject",
  MedicationRequest: "subject", Condition: "subject", Observation: "subject", DiagnosticReport: "subject",
};
const CONCEPT_FIELD = {
  AllergyIntolerance: "code", Immunization: "vaccineCode", MedicationStatement: "medicationCodeableConcept",
  MedicationRequest: "medicationCodeableConcept", Condition: "code", Observation: "code", DiagnosticReport: "code",
};
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

export function recordUrl(recordId) {
  return `${RECORD_URN}:${recordId}`;
}

// The section a located record belongs to, from what the chain says of it (type and code).
function sectionHint(entry) {
  if (entry.resource_type === "Patient") return PATIENT_SECTION;
  if (entry.resource_type === "Observation") {
    const [system, code] = entry.code.split("|");
    return system === LOINC && VITAL_SIGN_CODES.has(code) ? "vital_signs" : "results";
  }
  const section = SECTIONS.find((s) => s.types.includes(entry.resource_type));
  return section ? section.key : null;
}

function whyNot(entry, section, oldestDay) {
  if (entry.status === "shredded") return "shredded";
  if (entry.superseded_by) return "superseded";
  if (section === null) return "outside_sections";
  const recentOnly = BY_KEY.has(section) && BY_KEY.get(section).recentOnly;
  if (recentOnly && entry.date && entry.date < oldestDay) return "older_than_window";
  return null;
}

function categories(resource) {
  const codes = new Set();
  for (const concept of resource.category ?? []) {
    for (const coding of concept?.coding ?? []) {
      if (coding.system === OBSERVATION_CATEGORY && coding.code) codes.add(coding.code);
    }
  }
  return codes;
}

function observationSection(resource, hint) {
  const cats = categories(resource);
  if (hint === "vital_signs" || cats.has("vital-signs")) return "vital_signs";
  if (cats.size === 0 || [...cats].some((c) => RESULT_CATEGORIES.has(c))) return "results";
  return null;
}

function sourced(resource, entry) {
  const cited = { ...resource, meta: { ...(resource.meta ?? {}), source: `${URN}org:${entry.custodian}#${entry.id}` } };
  if (FHIR_ID.test(entry.id)) cited.id = entry.id;
  const mine = { system: RECORD_URN, value: entry.id };
  const others = (Array.isArray(resource.identifier) ? resource.identifier : [])
    .filter((i) => !(i && i.system === mine.system && i.value === mine.value));
  cited.identifier = [mine, ...others];
  return cited;
}

function aboutPatient(resource, patientUrl) {
  const field = PATIENT_FIELD[resource.resourceType];
  return field ? { ...resource, [field]: { reference: patientUrl } } : resource;
}

function patientResource(patient, record) {
  const pseudonym = { system: PATIENT_URN, value: patient };
  if (!record) return [`${PATIENT_URN}:${patient}`, { resourceType: "Patient", identifier: [pseudonym] }];
  const resource = sourced(record.resource, record.entry);
  const others = resource.identifier.filter((i) => !(i && i.system === PATIENT_URN && i.value === patient));
  return [recordUrl(record.entry.id), { ...resource, identifier: [...others, pseudonym] }];
}

function conceptText(resource) {
  const concept = resource[CONCEPT_FIELD[resource.resourceType]] ?? {};
  if (concept.text) return String(concept.text);
  for (const coding of concept.coding ?? []) {
    if (coding && (coding.display || coding.code)) return String(coding.display || coding.code);
  }
  return String(resource.resourceType);
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;" })[c]);
}

function narrative(lines, missing) {
  const items = lines.map((line) => `<li>${escapeHtml(line)}</li>`).join("");
  let body = items ? `<ul>${items}</ul>` : "";
  if (missing) body += `<p>${missing} ${missing === 1 ? "record" : "records"} of this section could not be read for this summary.</p>`;
  if (!body) body = "<p>No information.</p>";
  return { status: "generated", div: `<div xmlns="${XHTML}">${body}</div>` };
}

function noInformation(section, patientUrl) {
  const [resourceType, code, display] = section.noInformation;
  const concept = { coding: [{ system: IPS_ABSENT, code, display }] };
  const resource = resourceType === "MedicationStatement"
    ? { resourceType, status: "unknown", medicationCodeableConcept: concept }
    : { resourceType, code: concept };
  return [`urn:uuid:${crypto.randomUUID()}`, aboutPatient(resource, patientUrl)];
}

function sectionBody(section, members, missing, patientUrl) {
  let entries = members.map((m) => [recordUrl(m.entry.id), aboutPatient(sourced(m.resource, m.entry), patientUrl)]);
  let lines = members.map((m) => conceptText(m.resource) + (m.entry.date ? ` (${m.entry.date})` : ""));
  if (!entries.length && section.noInformation) {
    entries = [noInformation(section, patientUrl)];
    lines = [section.noInformation[2]];
  }
  const body = {
    title: section.title,
    code: { coding: [{ system: LOINC, code: section.code, display: section.title }] },
    text: narrative(lines, missing),
  };
  if (entries.length) body.entry = entries.map(([url]) => ({ reference: url }));
  else if (missing) body.emptyReason = { coding: [{ system: LIST_EMPTY_REASON, code: "unavailable" }] };
  else return null;
  return { body, entries };
}

function instant(date) {
  return date.toISOString(); // UTC with milliseconds, as the SDK writes it
}

// Sort the read records into sections; what cannot go in is listed, with why.
function sortRecords(records, oldestDay) {
  const included = [];
  const leftOut = [];
  const notSummarised = [];
  const patients = [];
  for (const record of records) {
    const entry = record.entry;
    let section = sectionHint(entry);
    const reason = whyNot(entry, section, oldestDay);
    const brief = { record_id: entry.id, custodian: entry.custodian, resource_type: entry.resource_type };
    if (reason) {
      notSummarised.push({ ...brief, reason });
      continue;
    }
    const resource = record.resource;
    if (record.error || !resource || resource.resourceType !== entry.resource_type) {
      const error = record.error ?? { code: "invalid_resource", message: `record ${entry.id} does not hold a ${entry.resource_type}` };
      leftOut.push({ ...brief, section, code: String(error.code ?? "unavailable"), message: String(error.message ?? error) });
      continue;
    }
    if (entry.resource_type === "Observation") section = observationSection(resource, section);
    if (section === null) notSummarised.push({ ...brief, reason: "outside_sections" });
    else if (section === PATIENT_SECTION) patients.push({ entry, resource, section });
    else included.push({ entry, resource, section });
  }
  patients.sort((a, b) => b.entry.added_height - a.entry.added_height);
  for (const older of patients.slice(1)) {
    notSummarised.push({ record_id: older.entry.id, custodian: older.entry.custodian, resource_type: "Patient", reason: "superseded" });
  }
  const newestFirst = (a, b) => (a.entry.date === b.entry.date ? b.entry.added_height - a.entry.added_height : a.entry.date < b.entry.date ? 1 : -1);
  included.sort(newestFirst);
  return { included, demographics: patients[0] ?? null, leftOut, notSummarised };
}

// The IPS document for `patient` from `records` ({entry, resource, error}), authored by the patient.
export function buildSummary(patient, records, now = new Date(), windowDays = RESULTS_WINDOW_DAYS) {
  const oldest = new Date(now.getTime() - windowDays * 86_400_000).toISOString().slice(0, 10);
  const { included, demographics, leftOut, notSummarised } = sortRecords(records, oldest);
  const [patientUrl, patientBody] = patientResource(patient, demographics);
  const sections = [];
  const entries = [[patientUrl, patientBody]];
  for (const section of SECTIONS) {
    const members = included.filter((i) => i.section === section.key);
    const missing = leftOut.filter((r) => r.section === section.key).length;
    const made = sectionBody(section, members, missing, patientUrl);
    if (made) {
      sections.push(made.body);
      entries.push(...made.entries);
    }
  }
  const composition = {
    resourceType: "Composition",
    status: "final",
    type: { coding: [{ system: LOINC, code: "60591-5", display: "Patient summary Document" }] },
    subject: { reference: patientUrl },
    date: instant(now),
    author: [{ reference: patientUrl, display: "the patient" }],
    title: `Patient summary of ${patient}`,
    section: sections,
  };
  const bundle = {
    resourceType: "Bundle",
    identifier: { system: "urn:ietf:rfc:3986", value: `urn:uuid:${crypto.randomUUID()}` },
    type: "document",
    timestamp: instant(now),
    entry: [
      { fullUrl: `urn:uuid:${crypto.randomUUID()}`, resource: composition },
      ...entries.map(([fullUrl, resource]) => ({ fullUrl, resource })),
    ],
  };
  const cited = [...included, ...(demographics ? [demographics] : [])];
  return {
    bundle,
    included: cited.map((i) => ({ record_id: i.entry.id, custodian: i.entry.custodian, resource_type: i.entry.resource_type, section: i.section, full_url: recordUrl(i.entry.id) })),
    leftOut,
    notSummarised,
  };
}
