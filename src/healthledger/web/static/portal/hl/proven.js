// Ledger values and transactions proven against the header this browser pinned: the one
// place a page asks "prove this to me" (hl/proofs.js checks, hl/anchor.js anchors).
import { segment, statePath } from "./api.js";
import { NotAnchored, anchorState, anchorTx, pinned } from "./anchor.js";
import { verifyStateView, verifyTxView } from "./proofs.js";

// Proof checks move the pinned header; each runs alone, fetching its proof inside its
// turn, so a proof is never older than a pin that another check of this page just moved.
let turn = Promise.resolve();
export function serially(work) {
  const run = turn.then(work);
  turn = run.catch(() => {});
  return run;
}

// A state value with its proof, anchored: { view, checks }. State older than the pin (a node
// a block behind) is asked for once more; any other failure throws InvalidProof.
export function provenState(api, namespace, key) {
  return serially(() => provenStateNow(api, namespace, key));
}

async function provenStateNow(api, namespace, key, attempt = 1) {
  const view = await api.get(statePath(namespace, key), { proof: "true" });
  const checks = verifyStateView(view, { namespace, key });
  try {
    checks.push(...(await anchorState(api, view)));
  } catch (error) {
    const behind = error instanceof NotAnchored && error.height < (pinned(api.chainId)?.height ?? 0);
    if (attempt > 1 || !behind) throw error;
    return provenStateNow(api, namespace, key, attempt + 1);
  }
  return { view, checks };
}

// A committed transaction with its proofs, anchored: { view, checks }.
export function provenTx(api, txId) {
  return serially(async () => {
    const view = await api.get(`/v1/txs/${segment(txId)}`, { proof: "true" });
    return { view, checks: [...verifyTxView(view, txId), ...(await anchorTx(api, view))] };
  });
}

// A transaction view already in hand (a read's receipt), checked and anchored.
export function provenTxView(api, view, txId) {
  return serially(async () => [...verifyTxView(view, txId), ...(await anchorTx(api, view))]);
}
