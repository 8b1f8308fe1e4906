// Reading FHIR R4 resources for the patient's own view: what each kind of record says,
// as plain values (the page draws them with text only). Pure functions, no DOM.

const VITAL = "vital-signs";
const LAB = "laboratory";

// A CodeableConcept's words: its text, else its first coding's display, else its code.
export function conceptText(concept) {
  if (!concept || typeof concept !== "object") return "";
  if (typeof concept.text === "string" && concept.text) return concept.text;
  const coding = Array.isArray(concept.coding) ? concept.coding : [];
  const named = coding.find((c) => c && c.display) ?? coding[0];
  return named ? String(named.display ?? named.code ?? "") : "";
}

// "system|code" of each coding, for the table's small print.
export function conceptCodes(concept) {
  const coding = concept && Array.isArray(concept.coding) ? concept.coding : [];
  return coding.filter((c) => c && c.code).map((c) => `${shortSystem(c.system)} ${c.code}`).join(", ");
}

const SYSTEMS = {
  "http://loinc.org": "LOINC",
  "http://snomed.info/sct": "SNOMED CT",
  "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
  "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
  "http://hl7.org/fhir/sid/cvx": "CVX",
};

function shortSystem(system) {
  return SYSTEMS[system] ?? (system ? String(system) : "");
}

function categoryCodes(resource) {
  const categories = Array.isArray(resource.category) ? resource.category : [];
  return categories.flatMap((c) => (c && Array.isArray(c.coding) ? c.coding.map((x) => x && x.code) : []));
}

// The date a resource is about (what the timeline sorts by), as an ISO string or "".
export function resourceDate(resource) {
  const r = resource ?? {};
  const candidates = [
    r.effectiveDateTime, r.effectivePeriod && r.effectivePeriod.start, r.issued, r.occurrenceDateTime,
    r.onsetDateTime, r.recordedDate, r.dateAsserted, r.authoredOn, r.date, r.birthDate,
  ];
  const found = candidates.find((v) => typeof v === "string" && v);
  return found ?? "";
}

export function day(iso) {
  return typeof iso === "string" ? iso.slice(0, 10) : "";
}

// A Quantity as a number and its unit (UCUM code when there is no human unit).
export function quantity(q) {
  if (!q || typeof q !== "object" || typeof q.value !== "number") return null;
  return { value: q.value, unit: String(q.unit ?? q.code ?? "") };
}

export function quantityText(q) {
  const parsed = quantity(q);
  return parsed ? `${parsed.value}${parsed.unit ? " " + parsed.unit : ""}` : "";
}

// An Observation's value as words: a quantity, a concept, a string, a boolean...
function valueText(o) {
  if (o.valueQuantity) return quantityText(o.valueQuantity);
  if (o.valueCodeableConcept) return conceptText(o.valueCodeableConcept);
  for (const name of ["valueString", "valueInteger", "valueBoolean", "valueDateTime"]) {
    if (o[name] !== undefined) return String(o[name]);
  }
  return "";
}

// referenceRange[0] as words ("4.6–5.9 %", "< 200 mg/dL", its text) and as numbers.
export function referenceRange(o) {
  const range = Array.isArray(o.referenceRange) ? o.referenceRange[0] : null;
  if (!range) return { text: "", low: null, high: null };
  const low = quantity(range.low);
  const high = quantity(range.high);
  let text = typeof range.text === "string" ? range.text : "";
  if (!text && low && high) text = `${low.value}–${high.value}${high.unit ? " " + high.unit : ""}`;
  else if (!text && low) text = `≥ ${quantityText(range.low)}`;
  else if (!text && high) text = `≤ ${quantityText(range.high)}`;
  return { text, low: low ? low.value : null, high: high ? high.value : null };
}

// The lab's own interpretation (H, L, N...) or, failing that, the value against the range.
function interpretation(o, range) {
  const given = Array.isArray(o.interpretation) ? conceptText(o.interpretation[0]) : "";
  if (given) return given;
  const q = quantity(o.valueQuantity);
  if (!q) return "";
  if (range.low !== null && q.value < range.low) return "below range";
  if (range.high !== null && q.value > range.high) return "above range";
  return range.low !== null || range.high !== null ? "in range" : "";
}

// Vital signs as series, one per measurement code: each point { date, value, unit, recordId }.
// A blood pressure panel gives one point to each of its components (systolic, diastolic).
export function vitalSeries(entries) {
  const series = new Map();
  const add = (code, name, date, q, recordId) => {
    const parsed = quantity(q);
    if (!parsed || !date) return;
    if (!series.has(code)) series.set(code, { code, name, unit: parsed.unit, points: [] });
    series.get(code).points.push({ date, value: parsed.value, unit: parsed.unit, recordId });
  };
  for (const { resource, recordId } of entries) {
    if (resource.resourceType !== "Observation" || !categoryCodes(resource).includes(VITAL)) continue;
    const date = resourceDate(resource);
    if (resource.valueQuantity) add(conceptKey(resource.code), conceptText(resource.code), date, resource.valueQuantity, recordId);
    for (const part of Array.isArray(resource.component) ? resource.component : []) {
      add(conceptKey(part.code), conceptText(part.code), date, part.valueQuantity, recordId);
    }
  }
  const out = [...series.values()];
  for (const s of out) s.points.sort((a, b) => a.date.localeCompare(b.date));
  return out;
}

function conceptKey(concept) {
  const coding = concept && Array.isArray(concept.coding) ? concept.coding[0] : null;
  return coding ? `${coding.system ?? ""}|${coding.code ?? ""}` : conceptText(concept);
}

// Laboratory results, a DiagnosticReport's contained results included, newest first.
export function labRows(entries) {
  const rows = [];
  const push = (o, recordId, report) => {
    const range = referenceRange(o);
    rows.push({
      recordId,
      date: resourceDate(o),
      test: conceptText(o.code),
      codes: conceptCodes(o.code),
      report,
      value: o.valueQuantity ? String(quantity(o.valueQuantity)?.value ?? "") : valueText(o),
      unit: o.valueQuantity ? quantity(o.valueQuantity)?.unit ?? "" : "",
      range: range.text,
      flag: interpretation(o, range),
    });
  };
  for (const { resource, recordId } of entries) {
    if (resource.resourceType === "Observation" && categoryCodes(resource).includes(LAB)) push(resource, recordId, "");
    if (resource.resourceType === "DiagnosticReport") {
      const contained = Array.isArray(resource.contained) ? resource.contained : [];
      for (const o of contained) if (o && o.resourceType === "Observation") push(o, recordId, conceptText(resource.code));
    }
  }
  return rows.sort((a, b) => b.date.localeCompare(a.date));
}

export function conditionRows(entries) {
  return of(entries, "Condition").map(({ resource: r, recordId }) => ({
    recordId,
    name: conceptText(r.code),
    codes: conceptCodes(r.code),
    status: [conceptText(r.clinicalStatus), conceptText(r.verificationStatus)].filter(Boolean).join(", "),
    onset: day(r.onsetDateTime ?? (r.onsetPeriod && r.onsetPeriod.start) ?? ""),
    recorded: day(r.recordedDate ?? ""),
  }));
}

export function medicationRows(entries) {
  const kinds = ["MedicationStatement", "MedicationRequest"];
  return entries.filter((e) => kinds.includes(e.resource.resourceType)).map(({ resource: r, recordId }) => ({
    recordId,
    name: conceptText(r.medicationCodeableConcept) || (r.medicationReference && r.medicationReference.display) || "",
    codes: conceptCodes(r.medicationCodeableConcept),
    status: String(r.status ?? ""),
    dosage: Array.isArray(r.dosage ?? r.dosageInstruction)
      ? (r.dosage ?? r.dosageInstruction).map((d) => d && d.text).filter(Boolean).join("; ")
      : "",
    since: day(resourceDate(r)),
  }));
}

export function immunizationRows(entries) {
  return of(entries, "Immunization").map(({ resource: r, recordId }) => ({
    recordId,
    vaccine: conceptText(r.vaccineCode),
    codes: conceptCodes(r.vaccineCode),
    date: day(r.occurrenceDateTime ?? r.occurrenceString ?? ""),
    status: String(r.status ?? ""),
    lot: String(r.lotNumber ?? ""),
  }));
}

export function allergyRows(entries) {
  return of(entries, "AllergyIntolerance").map(({ resource: r, recordId }) => ({
    recordId,
    substance: conceptText(r.code),
    codes: conceptCodes(r.code),
    category: Array.isArray(r.category) ? r.category.join(", ") : "",
    criticality: String(r.criticality ?? ""),
    reactions: (Array.isArray(r.reaction) ? r.reaction : [])
      .flatMap((x) => (Array.isArray(x.manifestation) ? x.manifestation.map(conceptText) : []))
      .join(", "),
    status: conceptText(r.clinicalStatus),
  }));
}

// One line that says what a record is (the timeline's summary).
export function summary(resource) {
  const r = resource ?? {};
  switch (r.resourceType) {
    case "Observation": {
      const value = valueText(r) || (Array.isArray(r.component)
        ? r.component.map((c) => quantity(c.valueQuantity)?.value).filter((v) => v !== undefined).join("/") +
          " " + (quantity(r.component[0] && r.component[0].valueQuantity)?.unit ?? "")
        : "");
      return `${conceptText(r.code)}: ${value}`.trim();
    }
    case "DiagnosticReport": return conceptText(r.code);
    case "Condition": return conceptText(r.code);
    case "MedicationStatement":
    case "MedicationRequest": return conceptText(r.medicationCodeableConcept);
    case "Immunization": return conceptText(r.vaccineCode);
    case "AllergyIntolerance": return `${conceptText(r.code)}${r.criticality ? ` (criticality ${r.criticality})` : ""}`;
    case "Patient": return patientName(r);
    default: return conceptText(r.code) || String(r.resourceType ?? "record");
  }
}

export function patientName(r) {
  const name = Array.isArray(r.name) ? r.name[0] : null;
  if (!name) return "";
  if (typeof name.text === "string" && name.text) return name.text;
  return [...(Array.isArray(name.given) ? name.given : []), name.family].filter(Boolean).join(" ");
}

function of(entries, type) {
  return entries.filter((e) => e.resource.resourceType === type);
}
