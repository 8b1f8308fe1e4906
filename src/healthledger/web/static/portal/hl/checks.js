// "What this page checked": the list of checks a proof passed, or the failure, drawn the
// same way on every page (DESIGN principle 8: say what was verified, and against what).
import { describe, el, replace } from "./ui.js";

// The one check the browser does not do, said wherever proofs are shown.
export const NOT_CHECKED_HERE =
  "Not checked in this browser: the CometBFT validators' signatures on these headers. " +
  "The SDK and CLI check those (healthledger … --trust genesis.json).";

// Draw `checks` (Check[] from proofs.js / anchor.js) into `node`; with `error`, the failure
// first, in red, as an alert, and the checks that had passed before it.
export function drawChecks(node, checks, error = null) {
  const items = (checks ?? []).map((check) => el("li", { class: "ok" }, check.what));
  if (error) items.push(el("li", { class: "bad" }, describe(error)));
  replace(
    node,
    error
      ? el("p", { class: "status error", role: "alert" }, `Proof check failed: ${describe(error)}`)
      : el("p", { class: "status ok", role: "status" }, "Proofs checked in this browser."),
    el("p", { class: "checked-title" }, "What this page checked:"),
    el("ul", { class: "checked" }, items),
    el("p", { class: "checked" }, NOT_CHECKED_HERE),
  );
  return node;
}
