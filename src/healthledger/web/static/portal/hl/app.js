// The portal's shell: one page load, many pages. Moving between pages never reloads,
// so the keys a person opened stay in this page's memory and nowhere else.
import { onChange, session, signOut } from "./session.js";
import { el, replace, say, describe } from "./ui.js";

const sections = [...document.querySelectorAll("section[data-page]")];
const loaded = new Map();

function sectionFor(path) {
  return sections.find((s) => s.dataset.path === path) ?? sections.find((s) => s.dataset.path === "/");
}

async function moduleOf(section) {
  if (!loaded.has(section)) loaded.set(section, import(section.dataset.module));
  return loaded.get(section);
}

export async function go(path, { push = true } = {}) {
  if (push && path !== location.pathname + location.search) history.pushState({}, "", path);
  await show();
}

async function show() {
  let section = sectionFor(location.pathname);
  if (section.dataset.signedIn === "true" && !session()) {
    sessionStorage.setItem("healthledger.after-sign-in", location.pathname + location.search);
    section = sectionFor("/");
  }
  for (const other of sections) other.hidden = other !== section;
  for (const link of document.querySelectorAll("nav a[data-nav]")) {
    if (link.getAttribute("href") === section.dataset.path) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${section.dataset.title} · HealthLedger`;
  // aria-busy tells assistive technology (and tests) when the page has drawn its data.
  section.setAttribute("aria-busy", "true");
  try {
    const page = await moduleOf(section);
    await page.show(section, session());
  } catch (error) {
    say(describe(error), "error");
  } finally {
    section.setAttribute("aria-busy", "false");
  }
  const heading = section.querySelector("h1");
  if (heading) heading.focus({ preventScroll: false });
}

// After sign-in: back to the page the person asked for, else their persona's page.
export function afterSignIn(current) {
  const wanted = sessionStorage.getItem("healthledger.after-sign-in");
  sessionStorage.removeItem("healthledger.after-sign-in");
  const home = { patient: "/patient", member: "/clinician", org: "/explorer" }[current.kind] ?? "/explorer";
  return go(wanted && wanted !== "/" ? wanted : home);
}

function drawIdentity(current) {
  const box = document.getElementById("identity");
  if (!current) {
    replace(box, el("span", {}, "Not signed in"));
    return;
  }
  const who = current.actor ? `${current.actor.kind} ${current.actor.id}${current.actor.org ? " at " + current.actor.org : ""}` : "a key the ledger does not know";
  replace(
    box,
    el("span", { class: "who" }, current.label, el("small", {}, ` (${who})`)),
    el("button", { type: "button", class: "quiet", onclick: () => { signOut(); go("/"); } }, "Sign out"),
  );
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-nav]");
  if (!link || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  go(link.getAttribute("href"));
});
window.addEventListener("popstate", () => show());
onChange(drawIdentity);
drawIdentity(null);
show();
