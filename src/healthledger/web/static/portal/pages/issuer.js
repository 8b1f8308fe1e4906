// The issuer's page: a credential built and signed in this browser with the organisation's
// key (eddsa-jcs-2022), its anchor sent as `credential.issue`, the signed document handed
// to the holder as a download; and the organisation's credentials with their status acts.
import { $, describe, download, el, onSubmitOnce, replace, say, status, table, words } from "../hl/ui.js";
import { segment, statePath } from "../hl/api.js";
import { anchorOf, buildDocument, credentialIdOf, newLocalId, signDocument } from "../credentials/vc.js";
import { anchorOf as readAnchor, currentStatus, fieldError, mayIssue, statusWords, validity } from "../credentials/common.js";

const ISSUE_TRIES = 3; // a slot taken by a concurrent issuance: read the next one, sign again

// --- the form ---------------------------------------------------------------------------------

function dayMs(value, what) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw fieldError(`give the ${what} as a date`);
  return Date.parse(`${value}T00:00:00Z`);
}

function formFields(root) {
  const value = (id) => $(root, id).value.trim();
  const type = value("#issuer-type");
  const subject = value("#issuer-subject");
  if (!/^[a-z0-9][a-z0-9_-]{1,62}\/[a-z0-9][a-z0-9_-]{1,62}$/.test(subject)) {
    throw fieldError("name the subject as organisation/member, for example st-marys/dr-grey");
  }
  const scope = value("#issuer-scope");
  if (!scope) throw fieldError("give the credential's scope");
  const jurisdiction = value("#issuer-jurisdiction").toUpperCase();
  if (!/^[A-Z]{2}(-[A-Z0-9]{1,3})?$/.test(jurisdiction)) throw fieldError("give the jurisdiction as GB or US-MA");
  const validFromMs = dayMs(value("#issuer-valid-from"), "start of validity");
  const until = value("#issuer-valid-until");
  const validUntilMs = until ? dayMs(until, "end of validity") : null;
  if (validUntilMs !== null && validUntilMs <= validFromMs) throw fieldError("the credential must end after it starts");
  const localId = value("#issuer-local-id") || newLocalId(Date.now());
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(localId)) throw fieldError("a credential number is letters, digits, dots, dashes and underscores");
  const fields = { type, subject, scope, jurisdiction, validFromMs, validUntilMs, localId, name: value("#issuer-name") || null };
  if (type === "ce") {
    // Whole minutes on chain (no floats): 1.5 hours is 90; 1.33 hours is refused, not rounded.
    const exact = Number(value("#issuer-ce-hours")) * 60;
    const minutes = Math.round(exact);
    if (!Number.isSafeInteger(minutes) || minutes < 1) throw fieldError("give the CE hours");
    if (Math.abs(exact - minutes) > 1e-6) throw fieldError("CE hours must come to whole minutes (1.5 is 90 minutes)");
    const category = value("#issuer-ce-category");
    if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$/.test(category)) throw fieldError("give the CE category, for example AMA-1");
    Object.assign(fields, { ceMinutes: minutes, ceCategory: category });
  }
  if (type === "privilege") {
    fields.dependsOn = value("#issuer-depends").split(/\s+/).filter(Boolean);
  }
  return fields;
}

async function issuerOf(session) {
  const org = session.actor.id;
  const view = await session.api.get(statePath("gov", `org/${org}`));
  return { org, name: view?.value?.name ?? org, publicKey: session.keys.publicKey };
}

// Sign at the issuer's next status slot; a conflict means another issuance took it first.
async function signAndSend(session, issuer, fields) {
  let lastError = null;
  for (let attempt = 0; attempt < ISSUE_TRIES; attempt += 1) {
    const slot = await session.api.get(`/v1/credentials/issuers/${segment(issuer.org)}/next-status`);
    const document = signDocument(buildDocument({ ...fields, issuer, status: { list: slot.list, index: slot.index } }), session.keys, Date.now());
    try {
      const report = await session.api.submit("credential.issue", anchorOf(document));
      return { document, report };
    } catch (error) {
      if (error.code !== "conflict") throw error;
      lastError = error;
    }
  }
  throw lastError;
}

async function issue(root, session) {
  const note = $(root, "#issuer-status");
  let fields;
  try {
    fields = formFields(root);
  } catch (error) {
    status(note, describe(error), "error");
    return;
  }
  status(note, "Signing in this browser and anchoring…", "info");
  try {
    const issuer = await issuerOf(session);
    const { document, report } = await signAndSend(session, issuer, fields);
    root.issued = document;
    const id = credentialIdOf(document);
    status(note, `Issued ${id} at block ${report.height}. Hand the signed credential to its holder.`, "ok");
    drawIssued(root, document, report);
    say(`Issued ${id}`, "ok");
    $(root, "#issuer-local-id").value = "";
    await loadList(root, session);
  } catch (error) {
    status(note, `Refused: ${describe(error)}`, "error");
  }
}

function drawIssued(root, document, report) {
  const anchor = anchorOf(document);
  const slot = document.credentialStatus?.[0];
  replace(
    $(root, "#issuer-issued-facts"),
    el("dt", {}, "Credential"), el("dd", { class: "mono", "data-credential": credentialIdOf(document) }, document.id),
    el("dt", {}, "Issuer key"), el("dd", { class: "mono" }, document.issuer.id),
    el("dt", {}, "Anchored hash"), el("dd", { class: "mono" }, anchor.hash),
    el("dt", {}, "Status slot"), el("dd", {}, slot ? `list ${anchor.status_list}, index ${slot.statusListIndex}` : "none"),
    el("dt", {}, "Block"), el("dd", {}, String(report.height)),
  );
  $(root, "#issuer-issued").hidden = false;
}

function drawFormFor(root, type) {
  $(root, "#issuer-ce-fields").hidden = type !== "ce";
  $(root, "#issuer-depends-field").hidden = type !== "privilege";
}

// --- the issuer's credentials and their status ------------------------------------------------

// The credentials the organisation's recent transactions issued, newest first: each
// credential.issue result carries a `credential.issued` event naming it.
async function issuedIds(session) {
  const sent = await session.api.get(`/v1/senders/${segment(session.keys.keyId)}/txs`, { limit: 100 });
  const ids = [...sent]
    .sort((a, b) => b.height - a.height)
    .flatMap((tx) => (tx.result.events ?? []).filter((event) => event.type === "credential.issued"))
    .map((event) => event.credential);
  return [...new Set(ids)];
}

function actButton(root, anchor, action, label) {
  return el(
    "button",
    {
      type: "button",
      class: action === "revoke" ? "danger" : "quiet",
      "aria-label": `${label} ${anchor.id}`,
      onclick: (event) => changeStatus(root, root.session, anchor, action, event.currentTarget),
    },
    label,
  );
}

function anchorRow(root, anchor) {
  const now = currentStatus(anchor);
  const acts = [];
  if (now === "active") acts.push(actButton(root, anchor, "suspend", "Suspend"));
  if (now === "suspended") acts.push(actButton(root, anchor, "reinstate", "Reinstate"));
  if (now === "active" || now === "suspended") acts.push(actButton(root, anchor, "revoke", "Revoke"));
  return el(
    "tr",
    { "data-credential": anchor.id },
    el("td", {}, el("span", { class: "mono" }, anchor.id)),
    el("td", {}, words(anchor.type)),
    el("td", {}, anchor.subject),
    el("td", {}, anchor.scope),
    el("td", {}, validity(anchor)),
    el("td", { "data-status": now }, statusWords(anchor)),
    el("td", {}, el("div", { class: "actions" }, acts)),
  );
}

async function loadList(root, session) {
  const box = $(root, "#issuer-list");
  const note = $(root, "#issuer-list-status");
  try {
    const ids = await issuedIds(session);
    const anchors = await Promise.all(ids.map((id) => readAnchor(session.api, id)));
    replace(note);
    if (!anchors.length) {
      replace(box, el("p", {}, "Your organisation has not issued a credential recently."));
      return;
    }
    replace(
      box,
      table(
        ["Credential", "Type", "Subject", "Scope", "Valid", "Status", "Act"],
        anchors.map((anchor) => anchorRow(root, anchor)),
        `${anchors.length} credential${anchors.length === 1 ? "" : "s"}, newest first`,
        { id: "issuer-table", class: "stack" },
      ),
    );
  } catch (error) {
    replace(box);
    status(note, `Your credentials could not be read: ${describe(error)}`, "error");
  }
}

async function changeStatus(root, session, anchor, action, button) {
  const note = $(root, "#issuer-list-status");
  const reason = $(root, "#issuer-reason").value.trim();
  if (!reason) {
    status(note, "Give a reason: it is recorded with the status change (invalid_field)", "error");
    $(root, "#issuer-reason").focus();
    return;
  }
  button.disabled = true;
  try {
    const report = await session.api.submit("credential.status", { credential_id: anchor.id, action, reason });
    await loadList(root, session);
    status(note, `${words(action)}: ${anchor.id} at block ${report.height}.`, "ok");
  } catch (error) {
    button.disabled = false;
    status(note, `Refused: ${describe(error)}`, "error");
  }
}

// --- wiring -----------------------------------------------------------------------------------

function drawNote(root, session) {
  const allowed = mayIssue(session);
  const who = session?.actor ? `${session.actor.kind} ${session.actor.id}${session.actor.role ? ` (${session.actor.role})` : ""}` : "a key the ledger does not know";
  replace(
    $(root, "#issuer-note"),
    allowed
      ? "Boards and regulators issue licences, universities degrees, boards certifications, CE providers and universities CE certificates, hospitals and clinics privileges; the ledger refuses the rest."
      : `Only an organisation's own key issues credentials; you are signed in as ${who}.`,
  );
  $(root, "#issuer-form").hidden = !allowed;
}

function wire(root) {
  onSubmitOnce($(root, "#issuer-form"), () => issue(root, root.session));
  $(root, "#issuer-type").addEventListener("change", (event) => drawFormFor(root, event.currentTarget.value));
  $(root, "#issuer-download").addEventListener("click", () => {
    const document = root.issued;
    if (document) download(`${credentialIdOf(document).replace(":", "-")}.json`, JSON.stringify(document, null, 2) + "\n");
  });
  $(root, "#issuer-list-refresh").addEventListener("click", () => loadList(root, root.session));
  $(root, "#issuer-valid-from").value = new Date().toISOString().slice(0, 10);
  for (const button of root.querySelectorAll("form button[type=submit]")) button.disabled = false;
}

export async function show(root, session) {
  if (!root.wired) {
    root.wired = true;
    wire(root);
  }
  root.session = session;
  drawNote(root, session);
  drawFormFor(root, $(root, "#issuer-type").value);
  if (mayIssue(session)) await loadList(root, session);
  else replace($(root, "#issuer-list"));
}
