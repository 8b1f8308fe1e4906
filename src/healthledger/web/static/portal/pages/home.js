// Sign in: open a key file (plain or passphrase-protected), a remembered one, or, on a
// demo node only, one of the demo's synthetic people.
import { isProtected, openKeyFile } from "../hl/keys.js";
import { forget, recall, remember, remembered } from "../hl/keystore.js";
import { signIn } from "../hl/session.js";
import { afterSignIn } from "../hl/app.js";
import { $, el, replace, status, describe } from "../hl/ui.js";

let wired = false;

function protectedText(text) {
  try {
    return isProtected(JSON.parse(text));
  } catch {
    return false;
  }
}

async function open(root, text, label, { rememberIt = false } = {}) {
  const passphraseField = $(root, "#passphrase-field");
  const passphrase = $(root, "#passphrase");
  if (protectedText(text) && !passphrase.value) {
    passphraseField.hidden = false;
    passphrase.focus();
    throw new Error("this key file is protected: enter its passphrase, then sign in again");
  }
  const keys = openKeyFile(text, passphrase.value || null);
  passphrase.value = "";
  passphraseField.hidden = true;
  const current = await signIn(keys, label);
  if (rememberIt) await remember(keys.keyId, current.label, text, protectedText(text));
  await afterSignIn(current);
}

async function attempt(root, action) {
  const box = $(root, "#sign-in-status");
  status(box, "Opening…");
  try {
    await action();
    replace(box);
  } catch (error) {
    status(box, describe(error), "error");
  }
}

async function drawRemembered(root) {
  const list = $(root, "#remembered-list");
  let entries = [];
  try {
    entries = await remembered();
  } catch {
    entries = []; // IndexedDB unavailable (private window): nothing is remembered
  }
  $(root, "#remembered").hidden = entries.length === 0;
  replace(list, entries.map((entry) => el(
    "li",
    {},
    el("button", {
      type: "button",
      onclick: () => attempt(root, async () => open(root, await recall(entry.keyId), entry.label)),
    }, `Sign in as ${entry.label}${entry.protected ? " (passphrase)" : ""}`),
    " ",
    el("button", {
      type: "button",
      class: "quiet",
      "aria-label": `Forget ${entry.label} on this device`,
      onclick: async () => { await forget(entry.keyId); await drawRemembered(root); },
    }, "Forget"),
  )));
}

function demoButton(root, person) {
  return el(
    "li",
    {},
    el("button", {
      type: "button",
      dataset: { demoKey: person.key_id },
      onclick: () => attempt(root, async () => {
        const answer = await fetch(`/portal/demo/keys/${person.key_id}`, { cache: "no-store" });
        if (!answer.ok) throw new Error("the demo node would not lend that key");
        await open(root, await answer.text(), person.name);
      }),
    }, person.name),
    el("small", {}, `${person.role}${person.organisation ? " · " + person.organisation : ""}`),
  );
}

async function drawDemo(root) {
  const response = await fetch("/portal/demo/identities", { cache: "no-store" });
  if (!response.ok) return; // not a demo node, or not asked from this computer
  const people = await response.json();
  $(root, "#demo-identities").hidden = false;
  const groups = [
    ["Patients", (p) => p.kind === "patient"],
    ["Staff", (p) => p.kind === "member"],
    ["Organisations", (p) => p.kind === "org"],
  ];
  replace($(root, "#demo-list"), groups.map(([title, belongs]) => el(
    "li",
    {},
    el("h3", {}, title),
    el("ul", { class: "people" }, people.filter(belongs).map((person) => demoButton(root, person))),
  )));
}

export async function show(root) {
  if (!wired) {
    wired = true;
    const fileInput = $(root, "#key-file");
    fileInput.addEventListener("change", async () => {
      const file = fileInput.files[0];
      if (file) $(root, "#passphrase-field").hidden = !protectedText(await file.text());
    });
    $(root, "#sign-in").addEventListener("submit", (event) => {
      event.preventDefault();
      const file = fileInput.files[0];
      if (!file) return;
      attempt(root, async () => open(root, await file.text(), null, { rememberIt: $(root, "#remember").checked }));
    });
    // Enabled only now: a click before the handler exists would submit the form natively.
    $(root, "#sign-in-submit").disabled = false;
    await drawDemo(root);
  }
  await drawRemembered(root);
}
