// The member's credential file: every credential anchored for this member, in order, with
// its status (read from the ledger, signed by the member); the file's CE totals, flags and
// shares (the file view); and the member's own share and unshare transactions.
import { $, describe, el, replace, say, status, table, when, words } from "../hl/ui.js";
import { segment, statePath } from "../hl/api.js";
import { NAMESPACE, credentialPath, currentStatus, day, fieldError, statusWords, validity } from "../credentials/common.js";

function memberOf(session) {
  return session?.actor?.kind === "member" ? session.actor.id : null;
}

function filePath(member) {
  return `/v1/credentials/members/${member.split("/").map(segment).join("/")}/file`;
}

// --- the credentials -------------------------------------------------------------------------

async function anchorsOf(session, member) {
  const ids = await session.api.get(statePath(NAMESPACE, `member/${member}/creds`)).catch((error) => {
    if (error.code === "not_found") return { value: [] };
    throw error;
  });
  const views = await Promise.all((ids?.value ?? []).map((id) => session.api.get(credentialPath(id))));
  return views.map((view) => view.value);
}

function ce(anchor) {
  if (anchor.ce_minutes === null || anchor.ce_minutes === undefined) return "";
  return `${anchor.ce_minutes / 60} h ${anchor.ce_category ?? ""}`.trim();
}

function credentialRow(anchor) {
  const pick = el("input", { type: "checkbox", value: anchor.id, "aria-label": `Share ${anchor.id}`, class: "credentials-pick" });
  return el(
    "tr",
    { "data-credential": anchor.id },
    el("td", {}, pick),
    el("td", {}, el("span", { class: "mono" }, anchor.id)),
    el("td", {}, words(anchor.type)),
    el("td", {}, anchor.issuer),
    el("td", {}, anchor.scope, anchor.jurisdiction ? ` (${anchor.jurisdiction})` : ""),
    el("td", {}, validity(anchor)),
    el("td", {}, ce(anchor)),
    el("td", { "data-status": currentStatus(anchor) }, statusWords(anchor)),
    el("td", {}, `block ${anchor.issued_height}`),
  );
}

async function loadCredentials(root, session, member) {
  const box = $(root, "#credentials-file");
  const note = $(root, "#credentials-file-status");
  try {
    const anchors = await anchorsOf(session, member);
    replace(note);
    if (!anchors.length) {
      replace(box, el("p", {}, `No credential has been issued to ${member}.`));
      return;
    }
    replace(
      box,
      table(
        ["Share", "Credential", "Type", "Issuer", "Scope", "Valid", "CE", "Status", "Anchored"],
        anchors.map(credentialRow),
        `${anchors.length} credential${anchors.length === 1 ? "" : "s"} of ${member}, in the order they were issued`,
        { id: "credentials-table", class: "stack" },
      ),
    );
  } catch (error) {
    replace(box);
    status(note, `Your credentials could not be read: ${describe(error)}`, "error");
  }
}

// --- the file view: CE totals, flags, shares --------------------------------------------------

function drawCe(root, file) {
  const cycles = file.ce ?? [];
  replace(
    $(root, "#credentials-ce"),
    cycles.length
      ? table(
          ["Board", "Cycle", "Hours done", "Hours required", "Categories", "Met"],
          cycles.map((cycle) => [
            cycle.board,
            `${day(cycle.cycle_from_ms)} to ${day(cycle.cycle_until_ms)}`,
            String(cycle.minutes / 60),
            String(cycle.required_minutes / 60),
            (cycle.categories ?? []).join(", "),
            cycle.met ? "yes" : "no",
          ]),
          "CE hours per licence cycle, against the board's rule",
          { id: "credentials-ce-table", class: "stack" },
        )
      : el("p", {}, "No board rule applies to your licences yet."),
  );
  const flags = file.flags ?? [];
  replace(
    $(root, "#credentials-flags"),
    flags.length
      ? el("ul", { id: "credentials-flag-list" }, flags.map((flag) => el("li", {}, `${words(flag.kind ?? "flag")}: ${flag.reason ?? ""} (${flag.by ?? ""})`)))
      : el("p", {}, "No flags on your file."),
  );
}

function shareRow(root, share) {
  const end = el(
    "button",
    { type: "button", class: "quiet", "aria-label": `End the share with ${share.with}`, onclick: (event) => unshare(root, root.session, share, event.currentTarget) },
    "End share",
  );
  return el(
    "tr",
    { "data-share": share.id },
    el("td", {}, share.with),
    el("td", {}, share.credentials?.length ? share.credentials.join(", ") : "the whole file"),
    el("td", {}, when(share.until_ms)),
    el("td", {}, end),
  );
}

function drawShares(root, file) {
  const shares = file.shares ?? [];
  replace(
    $(root, "#credentials-shares"),
    shares.length
      ? table(["With", "What", "Until", "End"], shares.map((share) => shareRow(root, share)), "Who may read your file", { id: "credentials-shares-table", class: "stack" })
      : el("p", {}, "You share your file with no one."),
  );
}

async function loadFile(root, session, member) {
  const note = $(root, "#credentials-ce-status");
  try {
    const file = await session.api.get(filePath(member));
    replace(note);
    replace($(root, "#credentials-shares-status"));
    drawCe(root, file);
    drawShares(root, file);
  } catch (error) {
    status(note, `Your file's totals could not be read: ${describe(error)}`, "error");
    status($(root, "#credentials-shares-status"), `Your shares could not be read: ${describe(error)}`, "error");
  }
}

// --- share and unshare ------------------------------------------------------------------------

function sharePayload(root) {
  const withWhom = $(root, "#credentials-share-with").value.trim();
  if (!/^[a-z0-9][a-z0-9_-]{1,62}(\/[a-z0-9][a-z0-9_-]{1,62})?$/.test(withWhom)) {
    throw fieldError("name an organisation (riverside-clinic) or a person (riverside-clinic/dr-house)");
  }
  const until = $(root, "#credentials-share-until").value;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(until)) throw fieldError("give the date the share ends");
  const chosen = $(root, "#credentials-share-chosen").checked
    ? [...root.querySelectorAll(".credentials-pick:checked")].map((box) => box.value)
    : [];
  if ($(root, "#credentials-share-chosen").checked && !chosen.length) throw fieldError("tick the credentials to share in the table above");
  return { with: withWhom, credentials: chosen, until_ms: Date.parse(`${until}T00:00:00Z`) };
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
    status(note, `Shared with ${payload.with} at block ${report.height}.`, "ok");
    say(`Shared with ${payload.with}`, "ok");
    await loadFile(root, session, member);
  } catch (error) {
    status(note, `Refused: ${describe(error)}`, "error");
  }
}

async function unshare(root, session, shareRecord, button) {
  const note = $(root, "#credentials-share-status");
  button.disabled = true;
  try {
    const report = await session.api.submit("credential.unshare", { share_id: shareRecord.id });
    status(note, `Ended the share with ${shareRecord.with} at block ${report.height}.`, "ok");
    await loadFile(root, session, memberOf(session));
  } catch (error) {
    button.disabled = false;
    status(note, `Refused: ${describe(error)}`, "error");
  }
}

// --- wiring -----------------------------------------------------------------------------------

function wire(root) {
  $(root, "#credentials-refresh").addEventListener("click", () => load(root, root.session));
  $(root, "#credentials-share-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.currentTarget.querySelector("button[type=submit]");
    if (button.disabled) return;
    button.disabled = true;
    try {
      await share(root, root.session, memberOf(root.session));
    } finally {
      button.disabled = false;
    }
  });
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
  await Promise.all([loadCredentials(root, session, member), loadFile(root, session, member)]);
}

export async function show(root, session) {
  if (!root.wired) {
    root.wired = true;
    wire(root);
  }
  root.session = session;
  await load(root, session);
}
