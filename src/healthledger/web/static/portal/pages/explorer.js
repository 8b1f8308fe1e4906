// Explorer (members: organisations and auditors): blocks, transactions with their proofs
// checked here, organisations, members and validators, and on every visit a consistency
// proof from the header this browser pinned last time to the node's latest.
import { getPublic, segment } from "../hl/api.js";
import { anchor, anchorTx, forgetPin, pinned } from "../hl/anchor.js";
import { drawChecks } from "../hl/checks.js";
import { headerHash, verifyTxView } from "../hl/proofs.js";
import { $, describe, el, replace, short, status, table, when } from "../hl/ui.js";

const PAGE = 10; // blocks per page
let wired = false;
let current = null; // the signed-in session
let top = 0; // height of the newest block on the shown page
let latest = 0; // the node's latest height, as of this visit
let orgsAfter = null; // cursor of the next page of organisations
let orgRows = []; // the organisations shown so far

const button = (label, onclick, attrs = {}) => el("button", { type: "button", class: "quiet", onclick, ...attrs }, label);

// A read only members may make: say so plainly when the node refuses it.
function refusal(error) {
  if (error && error.code === "unauthorized") {
    return `The explorer's ledger views are for member organisations and auditors: ${describe(error)}`;
  }
  return describe(error);
}

// --- nothing rewritten since the last visit ---

async function checkHistory(root) {
  const box = $(root, "#explorer-history");
  const checksBox = $(root, "#explorer-history-checks");
  $(root, "#explorer-forget-box").hidden = true;
  status(box, "Checking the ledger against the header this browser pinned…");
  let before = null;
  try {
    before = pinned(current.info.chain_id);
    const view = await getPublic("/v1/headers/latest");
    const checks = await anchor(current.api, view.header);
    const now = view.header;
    latest = now.height;
    status(
      box,
      before === null
        ? `First visit in this browser: pinned header ${now.height} (a log of ${now.log_size} transactions). On your next visit this page proves the ledger has only grown since.`
        : `Nothing was rewritten since your last visit: header ${now.height} (a log of ${now.log_size} transactions) is consistent with the header pinned at height ${before.height} (a log of ${before.header.log_size}).`,
      "ok",
    );
    drawChecks(checksBox, checks);
  } catch (error) {
    status(box, `This node's ledger does not extend what this browser saw before: ${describe(error)}`, "error");
    drawChecks(checksBox, [], error);
    $(root, "#explorer-forget-box").hidden = false;
  }
}

// --- blocks ---

async function drawBlocks(root) {
  const box = $(root, "#explorer-blocks");
  const note = $(root, "#explorer-blocks-status");
  status(note, "Loading blocks…");
  try {
    const heights = [];
    for (let h = top; h > Math.max(0, top - PAGE); h--) heights.push(h);
    // Headers are public; each row's hash is computed here from the header's fields.
    const views = await Promise.all(heights.map((h) => getPublic(`/v1/headers/${h}`)));
    replace(box, table(
      ["Block", "Time", "Transactions", "Log size", "Hash"],
      views.map(({ header }) => [
        button(`Block ${header.height}`, () => openBlock(root, header.height), { "aria-label": `Open block ${header.height}` }),
        when(header.time_ms),
        String(header.tx_count),
        String(header.log_size),
        el("code", {}, short(headerHash(header), 16)),
      ]),
      `Blocks ${Math.max(1, top - PAGE + 1)} to ${top} of ${latest}`,
    ));
    replace(note);
  } catch (error) {
    status(note, describe(error), "error");
  }
  $(root, "#explorer-newer").disabled = top >= latest;
  $(root, "#explorer-older").disabled = top <= PAGE;
}

async function openBlock(root, height) {
  const card = $(root, "#explorer-block-card");
  const box = $(root, "#explorer-block");
  card.hidden = false;
  replace($(root, "#explorer-block-title"), `Block ${height}`);
  status(box, "Loading the block…");
  try {
    const block = await current.api.get(`/v1/blocks/${height}`);
    replace(box,
      el("p", {}, `Proposed by ${block.header.proposer} at ${when(block.header.time_ms)}; hash `, el("code", {}, block.hash)),
      block.txs.length === 0
        ? el("p", {}, "No transactions in this block.")
        : table(
          ["#", "Type", "Sender", "Result", "Transaction"],
          block.txs.map((entry, index) => [
            String(index + 1),
            entry.tx.type,
            el("code", {}, short(entry.tx.sender, 16)),
            entry.result.code,
            button(`Check ${short(entry.id, 10)}`, () => openTx(root, entry.id), { "aria-label": `Open transaction ${entry.id} and check its proofs` }),
          ]),
          `The ${block.txs.length} transactions of block ${height}`,
        ),
    );
  } catch (error) {
    status(box, refusal(error), "error");
  }
  $(root, "#explorer-block-title").focus();
}

// --- a transaction and its proofs ---

async function openTx(root, id) {
  const box = $(root, "#explorer-tx");
  const checksBox = $(root, "#explorer-tx-checks");
  $(root, "#explorer-tx-id").value = id;
  replace(checksBox);
  status(box, "Loading the transaction and its proofs…");
  $(root, "#explorer-tx-title").focus();
  let view;
  try {
    view = await current.api.get(`/v1/txs/${segment(id)}`, { proof: "true" });
  } catch (error) {
    status(box, refusal(error), "error");
    return;
  }
  if (view && view.status === "pending") {
    status(box, "This transaction is waiting in the mempool: it has no proof until it commits.");
    return;
  }
  drawTx(box, view);
  // Proofs against the headers the answer came with, then those headers against the pin.
  let checks = [];
  try {
    checks = verifyTxView(view, id);
    checks = [...checks, ...(await anchorTx(current.api, view))];
    drawChecks(checksBox, checks);
  } catch (error) {
    drawChecks(checksBox, checks, error);
  }
}

function drawTx(box, view) {
  const rows = [
    ["Id", el("code", {}, String(view.id))],
    ["Type", String(view.tx && view.tx.type)],
    ["Sender", el("code", {}, String(view.tx && view.tx.sender))],
    ["Nonce", String(view.tx && view.tx.nonce)],
    ["Block", `${view.height}, position ${Number(view.position) + 1}`],
    ["Result", `${view.result && view.result.code}${view.result && view.result.message ? ": " + view.result.message : ""}`],
  ];
  replace(box,
    el("dl", { class: "facts" }, rows.map(([term, value]) => [el("dt", {}, term), el("dd", {}, value)])),
    el("details", {}, el("summary", {}, "Payload (as signed)"), el("pre", { class: "mono" }, JSON.stringify(view.tx && view.tx.payload, null, 2))),
  );
}

// --- organisations, members, validators ---

async function drawOrgs(root, more = false) {
  const box = $(root, "#explorer-orgs");
  const moreButton = $(root, "#explorer-more-orgs");
  try {
    const page = await current.api.get("/v1/gov/orgs", { limit: 50, after: more ? orgsAfter : undefined });
    const rows = page.orgs.map((org) => [
      org.name,
      el("code", {}, org.id),
      org.role,
      org.status,
      String(org.joined_height),
      org.validator ? `power ${org.validator.power}` : "no",
      button(`Members of ${org.name}`, () => drawMembers(root, org)),
    ]);
    orgRows = more ? [...orgRows, ...rows] : rows;
    replace(box, table(["Name", "Id", "Role", "Status", "Joined at block", "Validator", "Members"], orgRows, "Organisations of the consortium"));
    orgsAfter = page.next_after;
    moreButton.hidden = orgsAfter === null;
  } catch (error) {
    status(box, refusal(error), "error");
    moreButton.hidden = true;
  }
}

async function drawMembers(root, org) {
  const box = $(root, "#explorer-members");
  status(box, `Loading the members of ${org.name}…`);
  try {
    const members = [];
    let after;
    do {
      const page = await current.api.get(`/v1/gov/orgs/${segment(org.id)}/members`, { limit: 500, after });
      members.push(...page.members);
      after = page.next_after ?? undefined;
    } while (after !== undefined);
    replace(box,
      el("h3", { tabindex: "-1" }, `Members of ${org.name}`),
      members.length === 0
        ? el("p", {}, "No members enrolled.")
        : table(["Name", "Id", "Role", "Status", "Signing key"], members.map((m) => [
          m.name, el("code", {}, m.member_id), m.role, m.status, el("code", {}, short(m.signing_key, 16)),
        ]), `${members.length} ${members.length === 1 ? "member" : "members"} of ${org.name}`),
    );
    box.querySelector("h3").focus();
  } catch (error) {
    status(box, refusal(error), "error");
  }
}

async function drawValidators(root) {
  const box = $(root, "#explorer-validators");
  try {
    const { validators } = await current.api.get("/v1/gov/validators");
    replace(box, validators.length === 0
      ? el("p", {}, "No organisation was admitted with a consensus key: this network runs the single-node engine, whose blocks its one node makes.")
      : table(["Organisation", "Status", "Power", "Consensus key"], validators.map((v) => [
        el("code", {}, v.org), v.org_status, String(v.power), el("code", {}, short(v.pub_key, 16)),
      ]), "Validators recorded by governance"));
  } catch (error) {
    status(box, refusal(error), "error");
  }
}

// --- the page ---

function wire(root) {
  $(root, "#explorer-newer").addEventListener("click", () => {
    top = Math.min(latest, top + PAGE);
    drawBlocks(root);
  });
  $(root, "#explorer-older").addEventListener("click", () => {
    top = Math.max(PAGE, top - PAGE);
    drawBlocks(root);
  });
  $(root, "#explorer-more-orgs").addEventListener("click", () => drawOrgs(root, true));
  $(root, "#explorer-tx-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $(root, "#explorer-tx-id").value.trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(id)) {
      status($(root, "#explorer-tx"), "A transaction id is 64 hexadecimal digits (0-9, a-f).", "error");
      replace($(root, "#explorer-tx-checks"));
      return;
    }
    openTx(root, id);
  });
  $(root, "#explorer-forget").addEventListener("click", async () => {
    forgetPin(current.info.chain_id);
    await checkHistory(root);
  });
}

export async function show(root, session) {
  current = session;
  if (!wired) {
    wire(root);
    wired = true;
  }
  await checkHistory(root);
  if (latest === 0) {
    try {
      latest = (await getPublic("/v1/headers/latest")).header.height;
    } catch (error) {
      status($(root, "#explorer-blocks-status"), describe(error), "error");
      return;
    }
  }
  top = latest;
  await Promise.all([drawBlocks(root), drawOrgs(root), drawValidators(root)]);
}
