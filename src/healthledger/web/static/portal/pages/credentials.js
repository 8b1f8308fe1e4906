// The member's credential file: every credential issued to this member, in order, with its
// status; CE hours per licence cycle against each board's rule; exclusion flags; and the
// member's shares, made and ended here with the member's own transactions.
import { $, describe, el, onSubmitOnce, replace, say, status, table, when, words } from "../hl/ui.js";
import { segment } from "../hl/api.js";
import { currentStatus, day, fieldError, statusWords, validity } from "../credentials/common.js";

// The member's file (domains/credentials/file.py, api/credentials.py), as the signed reader
// may see it.
function filePath(member) {
  return `/v1/credentials/members/${member.split("/").map(segment).join("/")}/file`;
}

function memberOf(session) {
  return session?.actor?.kind === "member" ? session.actor.id : null;
}

// --- the credentials -------------------------------------------------------------------------

function ce(entry) {
  if (entry.ce_minutes === null || entry.ce_minutes === undefined) return "";
  return `${entry.ce_minutes / 60} h ${entry.ce_category ?? ""}`.trim();
}

// One credential of the file: the file view's entry, or an anchor read from state.
function credentialRow(entry) {
  const now = entry.status ?? currentStatus(entry);
  const pick = el("input", { type: "checkbox", value: entry.id, "aria-label": `Share ${entry.id}`, class: "credentials-pick" });
  return el(
    "tr",
    { "data-credential": entry.id },
    el("td", {}, pick),
    el("td", {}, el("span", { class: "mono" }, entry.id)),
    el("td", {}, words(entry.type)),
    el("td", {}, entry.issuer),
    el("td", {}, entry.scope, entry.jurisdiction ? ` (${entry.jurisdiction})` : ""),
    el("td", {}, validity(entry)),
    el("td", {}, ce(entry)),
    el("td", { "data-status": now }, entry.history ? statusWords(entry) : now),
    el("td", {}, `block ${entry.issued_height}`),
  );
}

function drawCredentials(root, member, entries) {
  replace(
    $(root, "#credentials-file"),
    entries.length
      ? table(
          ["Share", "Credential", "Type", "Issuer", "Scope", "Valid", "CE", "Status", "Anchored"],
          entries.map(credentialRow),
          `${entries.length} credential${entries.length === 1 ? "" : "s"} of ${member}, in the order they were issued`,
          { id: "credentials-table", class: "stack" },
        )
      : el("p", {}, `No credential has been issued to ${member}.`),
  );
}

// --- CE cycles, flags, shares -----------------------------------------------------------------

function hours(minutes) {
  return minutes === null || minutes === undefined ? "no rule" : String(minutes / 60);
}

function cycleRow(cycle) {
  const met = cycle.compliant === null ? "no rule published" : cycle.compliant ? "met" : `short by ${cycle.shortfall / 60} h`;
  return el(
    "tr",
    { "data-licence": cycle.licence },
    el("td", {}, cycle.board),
    el("td", {}, el("span", { class: "mono" }, cycle.licence)),
    el("td", {}, cycle.end_ms === null ? `from ${day(cycle.start_ms)}` : `${day(cycle.start_ms)} to ${day(cycle.end_ms)}`),
    el("td", {}, hours(cycle.minutes)),
    el("td", {}, hours(cycle.required_minutes)),
    el("td", {}, cycle.categories.map((c) => `${c.category}: ${c.minutes / 60} h${c.min_minutes !== null ? ` of ${c.min_minutes / 60}` : ""}`).join("; ")),
    el("td", { "data-compliant": String(cycle.compliant) }, met),
  );
}

function drawCe(root, file) {
  replace(
    $(root, "#credentials-ce"),
    file.ce_cycles.length
      ? table(
          ["Board", "Licence", "Cycle", "Hours done", "Hours required", "Categories", "Requirement"],
          file.ce_cycles.map(cycleRow),
          "CE hours per licence cycle, against the board's rule",
          { id: "credentials-ce-table", class: "stack" },
        )
      : el("p", {}, "No licence cycle to count CE against."),
  );
  replace(
    $(root, "#credentials-flags"),
    file.excluded
      ? el("ul", { id: "credentials-flag-list" }, file.exclusions.map((e) => el("li", { class: "bad" }, `Excluded by ${e.regulator} (list ${e.list})${e.since_ms ? ` since ${day(e.since_ms)}` : ""}`)))
      : el("p", {}, "No exclusion flags on your file."),
  );
}

function shareRow(root, share) {
  const end = el(
    "button",
    { type: "button", class: "quiet", "aria-label": `End the share with ${share.grantee}`, onclick: (event) => unshare(root, root.session, share, event.currentTarget) },
    "End share",
  );
  return el(
    "tr",
    { "data-share": share.id },
    el("td", {}, share.grantee),
    el("td", {}, share.credentials.length ? share.credentials.join(", ") : "the whole file"),
    el("td", {}, when(share.until_ms)),
    el("td", {}, end),
  );
}

function drawShares(root, file) {
  replace(
    $(root, "#credentials-shares"),
    file.shares.length
      ? table(["With", "What", "Until", "End"], file.shares.map((share) => shareRow(root, share)), "Who may read your file", { id: "credentials-shares-table", class: "stack" })
      : el("p", {}, "You share your file with no one."),
  );
}

// The file view: credentials, CE cycles, exclusions and shares in one signed read.
async function loadFile(root, session, member) {
  const notes = ["#credentials-file-status", "#credentials-ce-status", "#credentials-shares-status"].map((id) => $(root, id));
  notes.forEach((note) => replace(note));
  try {
    const file = await session.api.get(filePath(member));
    drawCredentials(root, member, file.credentials);
    drawCe(root, file);
    drawShares(root, file);
  } catch (error) {
    status(notes[1], `Your file's CE totals and flags could not be read: ${describe(error)}`, "error");
    status(notes[2], `Your shares could not be read: ${describe(error)}`, "error");
    replace($(root, "#credentials-file"));
    status(notes[0], `Your credentials could not be read: ${describe(error)}`, "error");
  }
}

// --- share and unshare ------------------------------------------------------------------------

function sharePayload(root) {
  const grantee = $(root, "#credentials-share-with").value.trim();
  if (!/^[a-z0-9][a-z0-9_-]{1,62}(\/[a-z0-9][a-z0-9_-]{1,62})?$/.test(grantee)) {
    throw fieldError("name an organisation (riverside-clinic) or a person (riverside-clinic/dr-house)");
  }
  const until = $(root, "#credentials-share-until").value;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(until)) throw fieldError("give the date the share ends");
  const chosenOnly = $(root, "#credentials-share-chosen").checked;
  const credentials = chosenOnly ? [...root.querySelectorAll(".credentials-pick:checked")].map((box) => box.value) : [];
  if (chosenOnly && !credentials.length) throw fieldError("tick the credentials to share in the table above");
  return { grantee, credentials, until_ms: Date.parse(`${until}T00:00:00Z`) };
}

async function share(root, session, member) {
  const note = $(root, "#credentials-share-status");
  let payload;
  try {
    payload = sharePayload(root);
  } catch (error) {
    status(note, describe(error), "error");
    return;
  }
  try {
    const report = await session.api.submit("credential.share", payload);
    await loadFile(root, session, member);
    status(note, `Shared with ${payload.grantee} at block ${report.height}.`, "ok");
    say(`Shared with ${payload.grantee}`, "ok");
  } catch (error) {
    status(note, `Refused: ${describe(error)}`, "error");
  }
}

async function unshare(root, session, shared, button) {
  const note = $(root, "#credentials-share-status");
  button.disabled = true;
  try {
    const report = await session.api.submit("credential.unshare", { share: shared.id });
    await loadFile(root, session, memberOf(session));
    status(note, `Ended the share with ${shared.grantee} at block ${report.height}.`, "ok");
  } catch (error) {
    button.disabled = false;
    status(note, `Refused: ${describe(error)}`, "error");
  }
}

// --- wiring -----------------------------------------------------------------------------------

function wire(root) {
  $(root, "#credentials-refresh").addEventListener("click", () => load(root, root.session));
  onSubmitOnce($(root, "#credentials-share-form"), () => share(root, root.session, memberOf(root.session)));
  for (const button of root.querySelectorAll("form button[type=submit]")) button.disabled = false;
}

async function load(root, session) {
  const member = memberOf(session);
  $(root, "#credentials-share-form").hidden = member === null;
  if (member === null) {
    status($(root, "#credentials-file-status"), "A credential file belongs to a member of an organisation: sign in with a member's key.", "info");
    replace($(root, "#credentials-file"));
    return;
  }
  await loadFile(root, session, member);
}

export async function show(root, session) {
  if (!root.wired) {
    root.wired = true;
    wire(root);
  }
  root.session = session;
  await load(root, session);
}
