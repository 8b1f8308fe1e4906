// The patient's page: what just happened (live), my records decrypted here and checked
// against the chain, who read them and why (receipts verified here), consents,
// representatives, a FHIR Bundle of everything, shredding with its deletion certificate.
import { onChange } from "../hl/session.js";
import { $, describe, download, el, replace, say, short, status, table, when, words } from "../hl/ui.js";
import { drawChecks } from "../hl/checks.js";
import { fillPatientQr } from "../hl/patient-qr.js";
import { lineChart } from "../patient/chart.js";
import * as fhir from "../patient/fhir.js";
import { Directory, granteeKeys, memberKey, readerKeys } from "../patient/directory.js";
import { Feed } from "../patient/feed.js";
import { appoint, endAppointment, grant, grantee, revoke, shred } from "../patient/acts.js";
import { checkChainRecord, checkReceipt } from "../hl/records.js";
import { checkAccessReceipt, locate, openReason, readOwn } from "../patient/ledger.js";
import { buildSummary } from "../patient/ips.js";

const DAY_MS = 86_400_000;
const AUTO_RECEIPTS = 12; // receipts checked as the log is drawn; the rest on request

let wired = false;
let root = null;
// Everything below belongs to the person signed in; forgotten at sign-out.
let current = null; // { session, feed, records: Map(id -> entry), located, feedItems, audit, consents, directory }

function fresh(session) {
  return {
    session, feed: null, records: new Map(), located: [], feedItems: [], audit: null, consents: null,
    directory: new Directory(session.api),
    loading: false, again: false,
  };
}

// --- the page ------------------------------------------------------------------------------

export async function show(section, session) {
  root = section;
  if (!wired) wire();
  const isPatient = session && session.kind === "patient";
  $(root, "#patient-page").hidden = !isPatient;
  if (!isPatient) {
    status($(root, "#patient-gate"), "This page is for patients: sign in with a patient's key file to see your records.", "info");
    return;
  }
  replace($(root, "#patient-gate"));
  if (!current || current.session !== session) start(session);
  await Promise.all([drawAudit(), drawConsents()]);
}

function start(session) {
  stop();
  current = fresh(session);
  $(root, "#patient-id").textContent = session.patientId;
  fillPatientQr(root, session);
  replace($(root, "#patient-feed"));
  current.feed = new Feed(session, { event: onFeed, state: (text, kind) => status($(root, "#patient-feed-status"), text, kind) });
  current.feed.start();
  loadRecords();
}

function stop() {
  if (current && current.feed) current.feed.stop();
  current = null;
  if (!root) return;
  for (const id of ["#patient-feed", "#patient-vitals", "#patient-labs", "#patient-conditions", "#patient-medications",
    "#patient-immunizations", "#patient-allergies", "#patient-timeline", "#patient-audit", "#patient-consents",
    "#patient-reps", "#patient-certificate", "#patient-records-status", "#patient-feed-status"]) {
    replace($(root, id));
  }
  $(root, "#patient-id").textContent = "";
  replace($(root, "#patient-qr"));
}

function wire() {
  wired = true;
  onChange((session) => { if (!session || (current && current.session !== session)) stop(); });
  $(root, "#patient-reload").addEventListener("click", () => loadRecords());
  $(root, "#patient-download").addEventListener("click", () => downloadBundle());
  $(root, "#patient-summary").addEventListener("click", () => downloadSummary());
  const form = $(root, "#patient-grant");
  form.addEventListener("change", () => drawGrantFields(form));
  form.addEventListener("submit", (event) => { event.preventDefault(); submitGrant(form); });
  const appointForm = $(root, "#patient-appoint");
  appointForm.addEventListener("submit", (event) => { event.preventDefault(); submitAppoint(appointForm); });
  $(root, "#patient-grant-expires").value = isoDay(Date.now() + 365 * DAY_MS);
  $(root, "#patient-appoint-until").value = isoDay(Date.now() + 365 * DAY_MS);
}

const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

// Tables on this page stack into labelled lines on a phone.
const grid = (headers, rows, caption = null) => table(headers, rows, caption, { class: "stack" });

// --- records: locate, read, decrypt, check, draw ----------------------------------------------

// One load at a time; a load asked for meanwhile (a record added, shredded) runs after it.
async function loadRecords() {
  const mine = current;
  if (!mine) return;
  if (mine.loading) {
    mine.again = true;
    return;
  }
  mine.loading = true;
  try {
    do {
      mine.again = false;
      await loadOnce(mine);
    } while (mine.again && mine === current);
  } finally {
    mine.loading = false;
  }
}

async function loadOnce(mine) {
  const box = $(root, "#patient-records-status");
  status(box, "Finding your records…");
  try {
    const located = await locate(mine.session);
    if (mine !== current) return;
    mine.located = located.records;
    const active = located.records.filter((r) => r.status !== "shredded");
    status(box, `Reading and decrypting ${active.length} record${active.length === 1 ? "" : "s"} in this browser…`);
    const read = await Promise.all(active.map((entry) => readEntry(mine, entry)));
    if (mine !== current) return;
    mine.records = new Map(read.map((r) => [r.entry.id, r]));
    drawRecords();
    drawFeed(); // its lines name records by what they are, now that they are read
    const failed = read.filter((r) => r.error).length;
    status(box, failed
      ? `${read.length - failed} of ${read.length} records decrypted and checked; ${failed} failed (see below).`
      : `${read.length} record${read.length === 1 ? "" : "s"} decrypted in this browser; each copy's hash checked against the ledger.`,
    failed ? "error" : "ok");
    await verifyRecords(mine, read);
  } catch (error) {
    if (mine === current) status(box, `Could not read your records: ${describe(error)}`, "error");
  }
}

async function readEntry(mine, entry) {
  try {
    const { view, opened, resource } = await readOwn(mine.session, entry.id);
    return { entry, view, opened, resource, checks: null, error: null };
  } catch (error) {
    return { entry, view: null, opened: null, resource: null, checks: null, error };
  }
}

// Each copy against the chain (state proof) and each read's receipt, one after another.
async function verifyRecords(mine, read) {
  for (const item of read) {
    if (mine !== current) return;
    if (item.error) {
      drawVerification(item);
      continue;
    }
    try {
      item.checks = [
        ...(await checkChainRecord(mine.session.api, item.entry.id, item.opened.contentHash)),
        ...(await checkReceipt(mine.session.api, item.view)),
      ];
    } catch (error) {
      item.error = error;
    }
    drawVerification(item);
  }
}

function fhirEntries() {
  return [...current.records.values()].filter((r) => r.resource && typeof r.resource === "object")
    .map((r) => ({ resource: r.resource, recordId: r.entry.id }));
}

function drawRecords() {
  const entries = fhirEntries();
  drawVitals(entries);
  drawSimpleTable("#patient-labs", "Lab results", fhir.labRows(entries),
    ["Date", "Test", "Value", "Unit", "Reference range", "Flag"],
    (r) => [fhir.day(r.date), el("span", {}, r.test, r.report ? el("small", {}, ` (${r.report})`) : null), r.value, r.unit, r.range || "not given", r.flag]);
  drawSimpleTable("#patient-conditions", "Conditions", fhir.conditionRows(entries),
    ["Condition", "Codes", "Status", "Since", "Recorded"], (r) => [r.name, r.codes, r.status, r.onset, r.recorded]);
  drawSimpleTable("#patient-medications", "Medications", fhir.medicationRows(entries),
    ["Medication", "How to take it", "Status", "Since"], (r) => [r.name, r.dosage, r.status, r.since]);
  drawSimpleTable("#patient-immunizations", "Immunizations", fhir.immunizationRows(entries),
    ["Vaccine", "Date", "Status", "Lot"], (r) => [r.vaccine, r.date, r.status, r.lot]);
  drawSimpleTable("#patient-allergies", "Allergies and intolerances", fhir.allergyRows(entries),
    ["Substance", "Category", "Criticality", "Reactions", "Status"], (r) => [r.substance, r.category, r.criticality, r.reactions, r.status]);
  drawTimeline();
}

function drawSimpleTable(id, title, rows, headers, cells) {
  const box = $(root, id);
  if (!rows.length) return replace(box);
  const headingId = `${id.slice(1)}-title`;
  return replace(box, el("h3", { id: headingId }, title), el("div", { class: "scroll" }, grid(headers, rows.map(cells))));
}

function drawVitals(entries) {
  const box = $(root, "#patient-vitals");
  const series = fhir.vitalSeries(entries);
  if (!series.length) return replace(box);
  // Blood pressure's two components share one chart; every other measurement has its own.
  const groups = [];
  const pressure = series.filter((s) => /blood pressure/i.test(s.name));
  if (pressure.length) groups.push({ title: "Blood pressure", series: pressure });
  for (const s of series.filter((x) => !pressure.includes(x))) groups.push({ title: s.name, series: [s] });
  return replace(box, el("h3", {}, "Vital signs"), groups.map((group, i) => el(
    "figure",
    { class: "vital" },
    lineChart(group.series, { id: `patient-chart-${i}`, title: `${group.title} over time` }),
    el("figcaption", {}, `${group.title} (${group.series[0].unit})`),
    el("div", { class: "scroll" }, grid(
      ["Date", ...group.series.map((s) => `${s.name} (${s.unit})`)],
      vitalRows(group.series),
      `${group.title}: the values of the chart`,
    )),
  )));
}

function vitalRows(series) {
  const dates = [...new Set(series.flatMap((s) => s.points.map((p) => p.date)))].sort();
  return dates.map((date) => [fhir.day(date), ...series.map((s) => {
    const point = s.points.find((p) => p.date === date);
    return point ? String(point.value) : "";
  })]);
}

function drawTimeline() {
  const rows = current.located.slice().sort((a, b) => recordDate(b).localeCompare(recordDate(a)));
  replace($(root, "#patient-timeline"),
    el("h3", {}, "Timeline of all my records"),
    el("div", { class: "scroll" }, grid(["Date", "Record", "What it says", "Held by", "Checked", "Shred"], rows.map((entry) => timelineRow(entry)))));
}

function recordDate(entry) {
  const read = current.records.get(entry.id);
  return (read && read.resource && fhir.resourceDate(read.resource)) || entry.date || "";
}

// A record as the patient knows it: what it says, decrypted here; else its kind.
function recordLabel(recordId) {
  const read = current && current.records.get(recordId);
  if (read && read.resource) return `“${fhir.summary(read.resource)}”`;
  const entry = current && current.located.find((e) => e.id === recordId);
  return entry ? `a record (${entry.resource_type}, ${short(recordId)})` : `a record (${short(recordId)})`;
}

// Why an access was allowed, and for what, in the patient's words.
const BASIS_WORDS = {
  self: "your own access",
  custodian: "the record is held by their organisation",
  author: "they wrote the record",
  consent: "your consent",
  representative: "they represent you",
  break_glass: "an emergency (break-glass)",
};
const PURPOSE_WORDS = { patient_request: "your own request" };
const basisText = (basis) => BASIS_WORDS[basis] ?? words(basis);
const purposeText = (purpose) => PURPOSE_WORDS[purpose] ?? words(purpose);

function timelineRow(entry) {
  const read = current.records.get(entry.id);
  const what = entry.status === "shredded"
    ? el("span", { class: "badge warn" }, "shredded: only its hash remains")
    : read && read.resource ? fhir.summary(read.resource) : read && read.error ? el("span", { class: "badge bad" }, describe(read.error)) : "";
  return el("tr", { dataset: { record: entry.id } },
    el("td", {}, fhir.day(recordDate(entry))),
    el("td", {}, el("span", {}, entry.resource_type), el("br"), el("small", { class: "mono" }, entry.id)),
    el("td", { class: "record-summary" }, what),
    el("td", {}, entry.custodian),
    el("td", { class: "record-checks", id: `patient-checks-${entry.id}` }, entry.status === "shredded" ? "" : "checking…"),
    el("td", {}, entry.status === "shredded" ? "" : shredControl(entry)),
  );
}

function drawVerification(item) {
  const cell = root.querySelector(`#patient-checks-${item.entry.id}`);
  if (!cell) return;
  const list = el("div");
  drawChecks(list, item.checks ?? [], item.error);
  replace(cell, el("details", {},
    el("summary", {}, item.error ? el("span", { class: "badge bad" }, "check failed") : el("span", { class: "badge ok" }, "verified")),
    list));
}

// --- shredding --------------------------------------------------------------------------

function shredControl(entry) {
  const reasonId = `patient-shred-reason-${entry.id}`;
  return el("details", { class: "shred" },
    el("summary", {}, "Shred…"),
    el("p", {}, "Shredding destroys the data key and the encrypted copy for good; the ledger keeps a tombstone with the record's hash."),
    el("div", { class: "field" },
      el("label", { for: reasonId }, "Why"),
      el("select", { id: reasonId },
        el("option", { value: "patient_request" }, "I ask for it to be erased"),
        el("option", { value: "entered_in_error" }, "It was entered in error"),
        el("option", { value: "other" }, "Other"))),
    el("button", { type: "button", class: "danger", onclick: (event) => doShred(entry, $(root, `#${reasonId}`).value, event.target) },
      `Shred ${entry.resource_type} permanently`));
}

async function doShred(entry, reason, button) {
  button.disabled = true;
  const box = $(root, "#patient-certificate");
  status(box, `Shredding ${recordLabel(entry.id)}…`);
  try {
    const { view, checks } = await shred(current.session, entry.id, reason);
    drawCertificate(box, entry, view, checks);
    say("Record shredded; its deletion certificate is above your records.", "ok");
    await loadRecords();
  } catch (error) {
    status(box, `Could not shred ${recordLabel(entry.id)}: ${describe(error)}`, "error");
    button.disabled = false;
  }
}

function drawCertificate(box, entry, view, checks) {
  const text = JSON.stringify(view, null, 2);
  const checkList = el("div");
  drawChecks(checkList, checks);
  replace(box, el("section", { class: "subcard certificate", "aria-labelledby": "patient-certificate-title" },
    el("h3", { id: "patient-certificate-title" }, "Deletion certificate"),
    el("p", {}, `Record ${entry.id} (${entry.resource_type}) was shredded in block ${view.height}, `,
      `transaction ${short(view.id, 16)}, result "${view.result.code}". The ledger keeps its hash and this tombstone; the key and the encrypted copy are gone.`),
    checkList,
    el("button", { type: "button", onclick: () => download(`deletion-certificate-${entry.id}.json`, text) }, "Download the certificate"),
    el("details", {}, el("summary", {}, "The certificate as the ledger returned it"), el("pre", { class: "mono" }, text)),
  ));
}

// --- the live feed ----------------------------------------------------------------------------

async function onFeed(kind, data) {
  if (kind !== "ledger" || !current) return;
  const mine = current;
  if (data.access) await mine.directory.learn(readerKeys(data.access.reader));
  if (mine !== current) return;
  // This page's own reads (every load reads each record) would bury what others did: they
  // stay in the access log below, not in the feed.
  const access = data.access;
  const mineOnly = access && access.reader.id === mine.session.patientId;
  if (!mineOnly) {
    mine.feedItems.push(data);
    drawFeed();
  }
  // A read by someone else is announced (the toast is a live region), break-glass loudest.
  if (access && !mineOnly) say(feedText(data), access.break_glass ? "error" : "info");
  if (data.type === "record.accessed") scheduleAudit();
  if (data.type.startsWith("consent.") || data.type.startsWith("representative.")) drawConsents();
  if (data.type === "record.added" || data.type === "record.shredded") loadRecords();
}

// Who read, as the patient knows them: "You", or the person's name with their role and
// organisation from the directory (the id, which the receipt proves, is shown beside it).
function readerText(reader) {
  if (reader.id === current.session.patientId) return "You";
  const dir = current.directory;
  if (reader.kind === "member" && reader.org) {
    return `${dir.name(readerKeys(reader)[0], reader.id)} (${words(reader.role)} at ${dir.org(reader.org)})`;
  }
  if (reader.kind === "org") return dir.org(reader.id);
  return reader.kind === "patient" ? "Your representative" : `${reader.id} (${words(reader.role)})`;
}

function consentTo(consentId) {
  const consent = current.consents?.consents.find((c) => c.id === consentId);
  return consent ? ` to ${granteeText(consent.grantee)}` : "";
}

function appointee(appointmentId) {
  const appointment = current.consents?.appointments?.find((a) => a.id === appointmentId);
  return appointment ? representativeText(appointment.representative) : "A representative";
}

function feedText(item) {
  const e = item.event ?? {};
  const a = item.access;
  switch (item.type) {
    case "record.accessed": {
      if (!a) return `A record of yours was accessed (${basisText(e.basis)})`;
      const what = a.action === "locate" ? "searched for your records" : `read ${recordLabel(a.record)}`;
      return `${readerText(a.reader)} ${what}, for ${purposeText(a.purpose)}, on the basis of ${basisText(a.basis)}`;
    }
    case "record.added": return `${e.custodian ? current.directory.org(e.custodian) : "A custodian"} added a record: ${recordLabel(e.record)}`;
    case "record.shredded": return `A record was shredded: ${recordLabel(e.record)}`;
    case "consent.granted": return `A consent was granted${consentTo(e.consent)}`;
    case "consent.revoked": return `A consent${consentTo(e.consent)} was revoked`;
    case "representative.appointed": return `${appointee(e.appointment)} was appointed to act for you`;
    case "representative.ended": return `${appointee(e.appointment)} no longer acts for you`;
    default: return item.type;
  }
}

function drawFeed() {
  const flagged = (i) => Boolean(i.access && i.access.break_glass);
  const items = current.feedItems.slice().sort((a, b) => (flagged(b) - flagged(a)) || (b.height - a.height));
  if (!items.length) return replace($(root, "#patient-feed"), el("li", { class: "quiet" }, "Nothing new since you opened this page."));
  return replace($(root, "#patient-feed"), items.slice(0, 50).map((item) => el(
    "li",
    { class: flagged(item) ? "flag" : "", dataset: { type: item.type } },
    flagged(item) ? el("span", { class: "badge bad" }, "Break-glass") : null,
    flagged(item) ? " " : null,
    el("span", {}, feedText(item)),
    item.access ? el("small", { class: "mono" }, ` ${item.access.reader.id}`) : null,
    el("small", {}, ` · block ${item.height}, ${when(item.time_ms)}`),
  )));
}

let auditTimer = null;
function scheduleAudit() {
  clearTimeout(auditTimer);
  auditTimer = setTimeout(() => drawAudit(), 300);
}

// --- who read what, and why --------------------------------------------------------------------

async function drawAudit() {
  const mine = current;
  const box = $(root, "#patient-audit");
  const state = $(root, "#patient-audit-status");
  try {
    const trail = await mine.session.api.get(`/v1/audit/patients/${mine.session.patientId}`, { format: "json" });
    if (mine !== current) return;
    mine.audit = trail;
    await mine.directory.learn(trail.events.flatMap((e) => readerKeys(e.reader)));
    if (mine !== current) return;
    // Break-glass first, then newest first (the trail comes newest first).
    const events = [...trail.events.filter((e) => e.break_glass), ...trail.events.filter((e) => !e.break_glass)];
    const others = events.filter((e) => e.reader.id !== mine.session.patientId).length;
    status(state, `${events.length} access${events.length === 1 ? "" : "es"} (${trail.break_glass.length} break-glass, ${others} by others than you).`,
      trail.break_glass.length ? "error" : "info");
    const rows = events.map((event, i) => auditRow(mine, event, i < AUTO_RECEIPTS));
    replace(box, grid(["When", "Who", "What", "Why", "Basis", "Receipt"], rows, "Accesses to your records"));
  } catch (error) {
    if (mine === current) status(state, `Could not load your access log: ${describe(error)}`, "error");
  }
}

function auditRow(mine, event, checkNow) {
  const receipt = el("td", { class: "receipt" });
  const check = () => {
    replace(receipt, "checking…");
    checkAccessReceipt(mine.session, event).then(
      (checks) => drawReceipt(receipt, checks, null),
      (error) => drawReceipt(receipt, [], error),
    );
  };
  if (checkNow) check();
  else replace(receipt, el("button", { type: "button", class: "quiet", onclick: check, "aria-label": `Check the receipt of the access at ${when(event.time_ms)} by ${readerText(event.reader)}` }, "Check receipt"));
  let reason = null;
  if (event.break_glass) {
    try {
      const text = openReason(mine.session, event);
      reason = text === null ? "reason held by the custodian's vault" : `reason given: “${text}” (matches its hash on the ledger)`;
    } catch (error) {
      reason = `reason: ${describe(error)}`;
    }
  }
  const self = event.reader.id === mine.session.patientId;
  return el("tr", { class: event.break_glass ? "flag" : "", dataset: { access: event.id } },
    el("td", {}, when(event.time_ms), el("br"), el("small", {}, `block ${event.height}`)),
    el("td", {}, readerText(event.reader), self ? null : [el("br"), el("small", { class: "mono" }, event.reader.id)]),
    el("td", {}, event.action === "locate" ? "searched your records" : recordLabel(event.record)),
    el("td", {}, purposeText(event.purpose), reason ? el("p", { class: "reason" }, reason) : null),
    el("td", {}, event.break_glass ? el("span", { class: "badge bad" }, "Break-glass") : basisText(event.basis)),
    receipt);
}

function drawReceipt(cell, checks, error) {
  const list = el("div");
  drawChecks(list, checks, error);
  replace(cell, el("details", {},
    el("summary", {}, error ? el("span", { class: "badge bad" }, "failed") : el("span", { class: "badge ok" }, "verified")),
    list));
}

// --- consents and representatives ---------------------------------------------------------------

async function drawConsents() {
  const mine = current;
  const box = $(root, "#patient-consents");
  try {
    const list = await mine.session.api.get("/v1/consents", { patient: mine.session.patientId, format: "json" });
    if (mine !== current) return;
    await mine.directory.learn([
      ...list.consents.flatMap((c) => granteeKeys(c.grantee)),
      ...(list.appointments ?? []).flatMap((a) => representativeKeys(a.representative)),
    ]);
    if (mine !== current) return;
    mine.consents = list;
    const consents = list.consents.slice().sort((a, b) => (a.status !== "active") - (b.status !== "active") || b.granted_height - a.granted_height);
    replace($(root, "#patient-consents-status"));
    replace(box, consents.length
      ? grid(["To", "Purposes", "Records", "Expires", "Status", "Revoke"], consents.map((c) => consentRow(c)), "Your consents")
      : el("p", {}, "You have granted no consent."));
    drawRepresentatives(list.appointments ?? []);
    drawFeed(); // its consent lines name the grantee, now that the consents are known
  } catch (error) {
    if (mine === current) status($(root, "#patient-consents-status"), `Could not load your consents: ${describe(error)}`, "error");
  }
}

// Whom a consent is to, by the directory's names where it has them.
function granteeText(g) {
  const dir = current.directory;
  if (g.kind === "member") {
    const org = g.member.split("/")[0];
    return `${dir.name(granteeKeys(g)[0], g.member)} at ${dir.org(org)}`;
  }
  if (g.kind === "role") return `every ${words(g.role)} at ${dir.org(g.org)}`;
  return `everyone at ${dir.org(g.org)}`;
}

// The grantee's id, as the patient typed it and the ledger holds it.
function granteeId(g) {
  if (g.kind === "member") return g.member;
  return g.kind === "role" ? `${g.org} · ${g.role}` : g.org;
}

function consentRow(c) {
  const active = c.status === "active" && c.expires_ms > Date.now();
  return el("tr", { dataset: { consent: c.id } },
    el("td", {}, granteeText(c.grantee), el("br"), el("small", { class: "mono" }, granteeId(c.grantee))),
    el("td", {}, c.purposes.map(words).join(", ")),
    el("td", {}, c.record_ids.length ? `${c.record_ids.length} chosen records` : c.resource_types.length ? c.resource_types.join(", ") : "all"),
    el("td", {}, when(c.expires_ms)),
    el("td", {}, el("span", { class: `badge ${active ? "ok" : "warn"}` }, active ? "active" : c.status === "active" ? "expired" : c.status)),
    el("td", {}, active ? el("button", {
      type: "button", class: "danger", "aria-label": `Revoke the consent to ${granteeText(c.grantee)}`,
      onclick: (event) => doRevoke(c, event.target),
    }, "Revoke") : ""),
  );
}

async function doRevoke(consent, button) {
  button.disabled = true;
  const box = $(root, "#patient-consents-status");
  status(box, `Revoking the consent to ${granteeText(consent.grantee)}…`);
  try {
    const { view, checks } = await revoke(current.session, consent.id, $(root, "#patient-revoke-reason").value);
    const list = el("div");
    drawChecks(list, checks);
    await drawConsents();
    replace(box, el("p", { class: "status ok", role: "status" },
      `The consent to ${granteeText(consent.grantee)} is revoked (block ${view.height}); its receipt was checked in this browser:`), list);
  } catch (error) {
    status(box, `Could not revoke: ${describe(error)}`, "error");
    button.disabled = false;
  }
}

function drawGrantFields(form) {
  const kind = form.elements.kind.value;
  $(root, "#patient-grant-member-field").hidden = kind !== "member";
  $(root, "#patient-grant-role-field").hidden = kind !== "role";
}

const ORG_ID = /^[a-z0-9][a-z0-9_-]{1,62}$/;

function grantFromForm(form) {
  const kind = form.elements.kind.value;
  const org = form.elements.org.value.trim().toLowerCase();
  let who = kind === "member" ? form.elements.member.value.trim().toLowerCase() : form.elements.role.value;
  if (kind === "member" && who.includes("/")) {
    const [whoOrg, person] = who.split("/", 2);
    if (org && whoOrg !== org) throw new Error(`the person ${who} is not of the organisation ${org}`);
    who = person;
    if (!org) form.elements.org.value = whoOrg;
  }
  const orgId = form.elements.org.value.trim().toLowerCase();
  if (!ORG_ID.test(orgId)) throw new Error("enter the organisation's id (lowercase letters, digits and dashes, e.g. st-marys)");
  if (kind === "member" && !ORG_ID.test(who)) throw new Error("enter the person's id within the organisation (e.g. dr-grey)");
  const purposes = [...form.querySelectorAll("input[name=purpose]:checked")].map((i) => i.value);
  if (!purposes.length) throw new Error("tick at least one purpose");
  const types = [...form.querySelectorAll("input[name=type]:checked")].map((i) => i.value);
  const expires = Date.parse(form.elements.expires.value + "T23:59:59Z");
  if (Number.isNaN(expires) || expires <= Date.now()) throw new Error("the expiry must be a date in the future");
  return { grantee: grantee(kind, orgId, who), purposes, resourceTypes: types, expiresMs: expires };
}

async function submitGrant(form) {
  const box = $(root, "#patient-grant-status");
  let request;
  try {
    request = grantFromForm(form);
  } catch (error) {
    status(box, error.message, "error");
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  await current.directory.learn(granteeKeys(request.grantee));
  status(box, `Granting a consent to ${granteeText(request.grantee)}…`);
  try {
    const { consentId, report, rewrapped } = await grant(current.session, request);
    status(box, `Consent granted to ${granteeText(request.grantee)} (block ${report.height}, ${consentId}): ${rewrapped} of your records' keys were sealed for them in this browser.`, "ok");
    await drawConsents();
  } catch (error) {
    status(box, `Could not grant: ${describe(error)}`, "error");
  } finally {
    button.disabled = false;
  }
}

function drawRepresentatives(appointments) {
  const box = $(root, "#patient-reps");
  if (!appointments.length) return replace(box, el("p", {}, "You have appointed no representative."));
  return replace(box, grid(["Who", "Relation", "Powers", "Until", "Status", "End"], appointments.map(appointmentRow), "Your representatives"));
}

// A representative by name where the directory has one (a member), else their pseudonym.
function representativeText(representative) {
  return representative.includes("/") ? current.directory.name(representativeKeys(representative)[0], representative) : representative;
}

function representativeKeys(representative) {
  const [org, member] = representative.split("/");
  return member ? [memberKey(org, member)] : [];
}

function appointmentRow(a) {
  const active = a.status === "active" && a.until_ms > Date.now();
  const who = representativeText(a.representative);
  return el("tr", { dataset: { appointment: a.id } },
    el("td", {}, who, el("br"), el("small", { class: "mono" }, a.representative)),
    el("td", {}, a.relation),
    el("td", {}, a.powers.join(", ")),
    el("td", {}, when(a.until_ms)),
    el("td", {}, el("span", { class: `badge ${active ? "ok" : "warn"}` }, active ? "active" : a.status)),
    el("td", {}, active ? el("button", {
      type: "button", class: "quiet", "aria-label": `End the appointment of ${who}`,
      onclick: (event) => doEndAppointment(a, who, event.target),
    }, "End") : ""));
}

async function doEndAppointment(appointment, who, button) {
  button.disabled = true;
  try {
    await endAppointment(current.session, appointment.id);
    say(`${who} no longer acts for you.`, "ok");
    await drawConsents();
  } catch (error) {
    say(`Could not end the appointment: ${describe(error)}`, "error");
    button.disabled = false;
  }
}

const REPRESENTATIVE = /^(pat_[0-9a-f]{32}|[a-z0-9][a-z0-9_-]{1,62}\/[a-z0-9][a-z0-9_-]{1,62})$/;

async function submitAppoint(form) {
  const box = $(root, "#patient-appoint-status");
  const representative = form.elements.who.value.trim();
  const powers = [...form.querySelectorAll("input[name=power]:checked")].map((i) => i.value);
  const until = Date.parse(form.elements.until.value + "T23:59:59Z");
  const problem = !REPRESENTATIVE.test(representative)
    ? "enter a patient pseudonym (pat_ and 32 hex digits) or organisation/person (e.g. st-marys/nurse-joy)"
    : representative === current.session.patientId ? "you cannot represent yourself"
      : !powers.length ? "tick at least one power"
        : Number.isNaN(until) || until <= Date.now() ? "the end date must be in the future" : null;
  if (problem) return status(box, problem, "error");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const { appointmentId, report } = await appoint(current.session, { representative, relation: form.elements.relation.value, powers, untilMs: until });
    await current.directory.learn(representativeKeys(representative));
    status(box, `${representativeText(representative)} may now act for you, as your ${form.elements.relation.value} (block ${report.height}, ${appointmentId}).`, "ok");
    await drawConsents();
  } catch (error) {
    status(box, `Could not appoint: ${describe(error)}`, "error");
  } finally {
    button.disabled = false;
  }
  return null;
}

// --- everything, as a FHIR Bundle ------------------------------------------------------------

async function downloadBundle() {
  const mine = current;
  if (!mine) return;
  const box = $(root, "#patient-records-status");
  try {
    const [consents, audit] = await Promise.all([
      mine.session.api.get("/v1/consents", { patient: mine.session.patientId, format: "fhir" }),
      mine.session.api.get(`/v1/audit/patients/${mine.session.patientId}`, { format: "fhir" }),
    ]);
    const held = [...mine.records.values()];
    const records = held.filter((r) => r.resource && typeof r.resource === "object" && r.resource.resourceType);
    // Files (genomes, images) are not FHIR JSON, and a record this browser could not open
    // has no content here: say they are left out rather than leave them out silently.
    const left = held.length - records.length;
    const bundle = {
      resourceType: "Bundle",
      type: "collection",
      timestamp: new Date().toISOString(),
      entry: [
        ...records.map((r) => ({ fullUrl: `urn:healthledger:record:${r.entry.id}`, resource: r.resource })),
        ...(consents.entry ?? []).map((e) => ({ resource: e.resource })),
        ...(audit.entry ?? []).map((e) => ({ resource: e.resource })),
      ],
    };
    download(`my-health-${mine.session.patientId}.json`, JSON.stringify(bundle, null, 2), "application/fhir+json");
    const leftOut = left ? ` Not included: ${left} record${left === 1 ? "" : "s"} that are files or that this browser could not open.` : "";
    status(box, `Bundle made in this browser: ${records.length} records, ${(consents.entry ?? []).length} consents, ${(audit.entry ?? []).length} access events.${leftOut}`, "ok");
  } catch (error) {
    status(box, `Could not make the bundle: ${describe(error)}`, "error");
  }
}

// --- the patient summary (IPS), to show a clinician abroad ------------------------------------

// Made from the records this page has read and checked (each read already in the access log):
// the same International Patient Summary document as `healthledger records summary`.
function downloadSummary() {
  const mine = current;
  if (!mine) return;
  const box = $(root, "#patient-records-status");
  try {
    const read = [...mine.records.values()].map((r) => ({
      entry: r.entry,
      resource: r.resource,
      error: r.error ? { code: r.error.code ?? "unavailable", message: describe(r.error) } : null,
    }));
    const made = buildSummary(mine.session.patientId, read);
    download(`patient-summary-${mine.session.patientId}.json`, JSON.stringify(made.bundle, null, 2), "application/fhir+json");
    const left = made.leftOut.length
      ? ` Left out: ${made.leftOut.length} record${made.leftOut.length === 1 ? "" : "s"} this browser could not read (${made.leftOut.map((r) => `${r.record_id}: ${r.code}`).join(", ")}).`
      : "";
    status(box, `Patient summary (IPS) made in this browser from ${made.included.length} record${made.included.length === 1 ? "" : "s"}.${left}`, made.leftOut.length ? "error" : "ok");
  } catch (error) {
    status(box, `Could not make the patient summary: ${describe(error)}`, "error");
  }
}
