// The regulator's page: alerts, recalls (listed, and issued by those who may), and the
// quarantine and clearing of packages. The ledger decides who may act; a refusal is shown
// with its code, as the CLI shows it.
import { $, describe, el, replace, say, status, table } from "../hl/ui.js";
import { segment } from "../hl/api.js";
import { validateGtin, validateLot, validateSerial } from "../supply/gs1.js";

// domains/supply/__init__.py: supply.recall is sent by manufacturers and regulators.
const RECALLERS = new Set(["manufacturer", "regulator"]);
const PAGE = 100;

export function mayRecall(session) {
  const actor = session?.actor;
  return Boolean(actor && actor.kind === "org" && RECALLERS.has(actor.role));
}

function cell(text, mono = false) {
  return el("td", {}, mono ? el("span", { class: "mono" }, text) : text);
}

// --- alerts --------------------------------------------------------------------------------

function alertRow(root, alert) {
  const review = el(
    "button",
    {
      type: "button",
      class: "quiet",
      "aria-label": `Review package ${alert.gtin} serial ${alert.serial}`,
      onclick: () => {
        $(root, "#regulator-flag-gtin").value = alert.gtin;
        $(root, "#regulator-flag-serial").value = alert.serial;
        $(root, "#regulator-flag-reason").focus();
      },
    },
    "Review",
  );
  return el(
    "tr",
    { "data-alert": alert.number },
    cell(String(alert.number)),
    el("td", {}, el("span", { class: "mono" }, alert.gtin), el("br"), el("span", { class: "mono" }, alert.serial)),
    cell(alert.reason),
    cell(alert.presented_by),
    cell(alert.manufacturer ?? "never commissioned"),
    cell(String(alert.height)),
    cell(alert.status),
    el("td", {}, review),
  );
}

async function loadAlerts(root, session) {
  const box = $(root, "#regulator-alerts");
  const note = $(root, "#regulator-alerts-status");
  status(note, "Loading alerts…", "info");
  try {
    const alerts = await session.api.get("/v1/supply/alerts", { limit: PAGE });
    replace(note);
    if (!alerts.length) {
      replace(box, el("p", {}, "No alerts: no pack was presented outside its custody path."));
      return;
    }
    replace(
      box,
      table(
        ["#", "Package (GTIN, serial)", "Why", "Presented by", "Manufacturer", "Block", "Status", "Action"],
        alerts.map((alert) => alertRow(root, alert)),
        `${alerts.length} alert${alerts.length === 1 ? "" : "s"}, newest first`,
        { id: "regulator-alerts-table", class: "stack" },
      ),
    );
  } catch (error) {
    replace(box);
    status(note, `Alerts could not be read: ${describe(error)}`, "error");
  }
}

// --- quarantine and clear ----------------------------------------------------------------

function flagFields(root) {
  const gtin = validateGtin($(root, "#regulator-flag-gtin").value.trim());
  const serial = validateSerial($(root, "#regulator-flag-serial").value.trim());
  const reason = $(root, "#regulator-flag-reason").value.trim();
  if (!reason) throw Object.assign(new Error("give a reason: it is recorded with the package"), { code: "invalid_field" });
  return { gtin, serial, reason };
}

async function showPackage(root, session, gtin, serial) {
  const box = $(root, "#regulator-package");
  const view = await session.api.get(`/v1/supply/packages/${gtin}/${segment(serial)}/history`);
  const custody = view.custody;
  const flags = [custody.suspect ? "suspect" : null, custody.quarantined ? "quarantined" : null].filter(Boolean);
  replace(
    box,
    el("h3", {}, `Package ${gtin} serial ${serial}`),
    el(
      "dl",
      { class: "pairs", id: "regulator-package-flags" },
      el("dt", {}, "Held by"), el("dd", {}, custody.owner),
      el("dt", {}, "Status"), el("dd", {}, custody.status),
      el("dt", {}, "Flags"), el("dd", { "data-flags": flags.join(" ") }, flags.length ? flags.join(", ") : "none"),
      el("dt", {}, "Last step"), el("dd", {}, lastStep(view.history)),
    ),
  );
}

function lastStep(history) {
  const step = history.at(-1);
  return step ? `${step.action} by ${step.org} at block ${step.height}${step.detail ? `: ${step.detail}` : ""}` : "none";
}

async function flag(root, session, action) {
  const note = $(root, "#regulator-flag-status");
  let fields;
  try {
    fields = flagFields(root);
  } catch (error) {
    status(note, describe(error), "error");
    return;
  }
  const verb = action === "quarantine" ? "Quarantined" : "Cleared";
  status(note, `${action === "quarantine" ? "Quarantining" : "Clearing"} ${fields.gtin} serial ${fields.serial}…`, "info");
  try {
    const report = await session.api.submit(`supply.${action}`, fields);
    status(note, `${verb} ${fields.gtin} serial ${fields.serial} at block ${report.height}.`, "ok");
    say(`${verb} ${fields.serial}`, "ok");
  } catch (error) {
    status(note, `Refused: ${describe(error)}`, "error");
    return;
  }
  await showPackage(root, session, fields.gtin, fields.serial).catch((error) => status($(root, "#regulator-package"), describe(error), "error"));
}

// --- recalls -------------------------------------------------------------------------------

function scope(recall) {
  if (recall.lot !== null) return `lot ${recall.lot}`;
  return `serials ${recall.serial_from} to ${recall.serial_to}`;
}

function recallRow(recall) {
  const pending = recall.notify.filter((org) => !recall.acknowledged.includes(org));
  return el(
    "tr",
    { "data-recall": recall.id },
    cell(recall.id, true),
    cell(recall.gtin, true),
    cell(scope(recall)),
    cell(recall.reason),
    cell(recall.by),
    cell(String(recall.height)),
    cell(`${recall.acknowledged.length} of ${recall.notify.length}` + (pending.length ? ` (waiting: ${pending.join(", ")})` : "")),
  );
}

async function loadRecalls(root, session, after = null) {
  const box = $(root, "#regulator-recalls");
  const note = $(root, "#regulator-recalls-status");
  const more = $(root, "#regulator-recalls-more");
  try {
    const page = await session.api.get("/v1/supply/recalls", { limit: PAGE, after: after ?? undefined });
    root.recalls = after ? [...root.recalls, ...page.recalls] : page.recalls;
    root.recallCursor = page.next_after;
    more.hidden = page.next_after === null;
    replace(note);
    if (!root.recalls.length) {
      replace(box, el("p", {}, "No recalls have been issued."));
      return;
    }
    const newest = [...root.recalls].sort((a, b) => b.height - a.height || a.id.localeCompare(b.id));
    replace(
      box,
      table(
        ["Recall", "GTIN", "What", "Reason", "By", "Block", "Acknowledged"],
        newest.map(recallRow),
        "Recalls, newest first, with the holders notified",
        { id: "regulator-recalls-table", class: "stack" },
      ),
    );
  } catch (error) {
    status(note, `Recalls could not be read: ${describe(error)}`, "error");
  }
}

function recallPayload(root) {
  const gtin = validateGtin($(root, "#regulator-recall-gtin").value.trim());
  const byLot = $(root, "#regulator-recall-by-lot").checked;
  const reason = $(root, "#regulator-recall-reason").value.trim();
  if (!reason) throw Object.assign(new Error("give the reason for the recall"), { code: "invalid_field" });
  // The payload `healthledger supply recall` sends: every field, null where not given.
  return {
    gtin,
    reason,
    lot: byLot ? validateLot($(root, "#regulator-recall-lot").value.trim()) : null,
    serial_from: byLot ? null : validateSerial($(root, "#regulator-recall-from").value.trim()),
    serial_to: byLot ? null : validateSerial($(root, "#regulator-recall-to").value.trim()),
  };
}

async function issueRecall(root, session) {
  const note = $(root, "#regulator-recall-status");
  let payload;
  try {
    payload = recallPayload(root);
  } catch (error) {
    status(note, describe(error), "error");
    return;
  }
  status(note, "Issuing the recall…", "info");
  try {
    const report = await session.api.submit("supply.recall", payload);
    const event = (report.result?.events ?? []).find((e) => e.type === "supply.recall");
    const notify = event?.notify ?? [];
    status(note, `Recall ${event?.recall ?? ""} issued at block ${report.height}; holders to notify: ${notify.length ? notify.join(", ") : "none"}.`, "ok");
    await loadRecalls(root, session);
  } catch (error) {
    status(note, `Refused: ${describe(error)}`, "error");
  }
}

function drawRecallForm(root, session) {
  const allowed = mayRecall(session);
  $(root, "#regulator-recall-form").hidden = !allowed;
  const who = session?.actor ? `${session.actor.kind} ${session.actor.id}${session.actor.role ? ` (${session.actor.role})` : ""}` : "a key the ledger does not know";
  replace(
    $(root, "#regulator-recall-note"),
    allowed
      ? "A regulator may recall any product; a manufacturer, its own. The holders of the recalled packages are named for notification."
      : `Only a manufacturer's or a regulator's organisation key may issue a recall; you are signed in as ${who}.`,
  );
}

// One act per press: the form's buttons stay disabled until the act is answered, so a
// double click cannot sign a second recall (its id comes from its own transaction).
async function once(form, act) {
  const buttons = [...form.querySelectorAll("button[type=submit]")];
  if (buttons.some((button) => button.disabled)) return;
  buttons.forEach((button) => { button.disabled = true; });
  try {
    await act();
  } finally {
    buttons.forEach((button) => { button.disabled = false; });
  }
}

function wire(root) {
  $(root, "#regulator-alerts-refresh").addEventListener("click", () => loadAlerts(root, root.session));
  $(root, "#regulator-flag-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const action = event.submitter?.value === "clear" ? "clear" : "quarantine";
    once(event.currentTarget, () => flag(root, root.session, action));
  });
  $(root, "#regulator-recalls-more").addEventListener("click", () => loadRecalls(root, root.session, root.recallCursor));
  $(root, "#regulator-recall-form").addEventListener("submit", (event) => {
    event.preventDefault();
    once(event.currentTarget, () => issueRecall(root, root.session));
  });
  for (const radio of root.querySelectorAll("input[name=scope]")) {
    radio.addEventListener("change", () => {
      const byLot = $(root, "#regulator-recall-by-lot").checked;
      $(root, "#regulator-recall-lot-field").hidden = !byLot;
      $(root, "#regulator-recall-range-field").hidden = byLot;
    });
  }
  // Disabled in the markup, so no form is submitted (into the URL) before this module runs.
  for (const button of root.querySelectorAll("form button[type=submit]")) button.disabled = false;
}

export async function show(root, session) {
  if (!root.wired) {
    root.wired = true;
    wire(root);
  }
  root.session = session;
  drawRecallForm(root, session);
  await Promise.all([loadAlerts(root, session), loadRecalls(root, session)]);
}
