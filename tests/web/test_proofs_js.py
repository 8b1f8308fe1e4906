"""The portal's JavaScript verifiers (hl/proofs.js) over tests/vectors/proofs.json, in a
real Chromium: the same cases and expected outcomes as the Python verifiers
(tests/ledger/test_proof_vectors.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from web.conftest import Portal, sign_in_as
from web.test_explorer import grow_the_ledger

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "proofs.json").read_text(encoding="utf-8")
)

# Each kind of case through its verifier; returns the cases whose outcome is not the
# expected one, with the error the verifier gave, and how many cases ran.
RUN = """async ([kind, cases]) => {
  const p = await import('/static/portal/hl/proofs.js');
  const { fromHex, toHex } = await import('/static/portal/hl/bytes.js');
  const hexes = (list) => list.map((h) => fromHex(h));
  const checks = {
    inclusion: (c) =>
      p.verifyInclusion(fromHex(c.leaf), c.index, c.size, hexes(c.path), fromHex(c.root)),
    consistency: (c) => p.verifyConsistency(
      c.old_size, c.new_size, fromHex(c.old_root), fromHex(c.new_root), hexes(c.path)),
    state: (c) => p.verifyStateProof(fromHex(c.root), fromHex(c.key_hash),
      c.value_hash === null ? null : fromHex(c.value_hash), c.proof),
    tx_views: (c) => p.verifyTxView(c.view, c.asked),
    state_views: (c) => p.verifyStateView(c.view,
      c.namespace === undefined ? undefined : { namespace: c.namespace, key: c.key }),
    state_key_hashes: (c) => {
      if (toHex(p.stateKeyHash(c.namespace, c.key)) !== c.key_hash) {
        throw new p.InvalidProof('another key hash');
      }
    },
  };
  const wrong = [];
  for (const c of cases) {
    let ok = true, error = null;
    try {
      checks[kind](c);
    } catch (e) {
      if (!(e instanceof p.InvalidProof)) error = `not an InvalidProof: ${e}`;
      ok = false;
      error = error ?? e.message;
    }
    const expected = c.ok ?? true;
    if (ok !== expected || (error && error.startsWith('not an InvalidProof'))) {
      wrong.push([c.name ?? c.key, expected, error]);
    }
  }
  return { ran: cases.length, wrong };
}"""

KINDS = ["inclusion", "consistency", "state", "state_key_hashes", "tx_views", "state_views"]


@pytest.mark.parametrize("kind", KINDS)
def test_javascript_verifiers_agree_with_the_vectors(page: Page, portal: Portal, kind: str) -> None:
    page.goto(portal.url + "/")
    cases: list[dict[str, Any]] = VECTORS[kind]
    outcome = page.evaluate(RUN, [kind, cases])
    assert outcome["ran"] == len(cases) > 0
    assert outcome["wrong"] == []


def test_a_failed_check_is_an_invalid_proof_with_the_ledger_code(
    page: Page, portal: Portal
) -> None:
    page.goto(portal.url + "/")
    case = next(c for c in VECTORS["tx_views"] if c["name"] == "tx view: tampered ledger path")
    error = page.evaluate(
        """async (view) => {
          const p = await import('/static/portal/hl/proofs.js');
          try { p.verifyTxView(view); } catch (e) { return [e.name, e.code, e.message]; }
          return null;
        }""",
        case["view"],
    )
    assert error is not None
    name, code, message = error
    assert (name, code) == ("InvalidProof", "invalid_proof")
    assert "does not lead to the root" in message


# --- hl/anchor.js against the real node -----------------------------------------------

ANCHOR = """async ([step, arg]) => {
  const { session } = await import('/static/portal/hl/session.js');
  const p = await import('/static/portal/hl/proofs.js');
  const a = await import('/static/portal/hl/anchor.js');
  const { getPublic } = await import('/static/portal/hl/api.js');
  const api = session().api;
  const outcome = async (work) => {
    try { return { ok: (await work()).map((c) => c.what) }; }
    catch (e) { return { error: e.message, name: e.name, code: e.code }; }
  };
  if (step === 'state') {
    const view = await api.get('/v1/state/gov/org/st-marys', { proof: 'true' });
    window.heldView = view;
    return outcome(async () => [
      ...p.verifyStateView(view, { namespace: 'gov', key: 'org/st-marys' }),
      ...(await a.anchorState(api, view)),
    ]);
  }
  if (step === 'stale state') return outcome(() => a.anchorState(api, window.heldView));
  if (step === 'latest') {
    return outcome(async () => a.anchor(api, (await getPublic('/v1/headers/latest')).header));
  }
  const old = (await getPublic('/v1/headers/2')).header;
  if (step === 'ancestor') return outcome(() => a.anchor(api, old));
  if (step === 'forged ancestor') return outcome(() => a.anchor(api, { ...old, tx_root: arg }));
  if (step === 'pinned') return a.pinned(api.chainId).height;
  if (step === 'forget') return a.forgetPin(api.chainId) ?? null;
  throw new Error(step);
}"""


def test_the_anchor_pins_extends_and_refuses(page: Page, portal: Portal) -> None:
    sign_in_as(page, portal, "Kim Auditor", "/explorer")
    # The explorer's own visit check pins a header: let it finish, then start afresh.
    page.wait_for_selector("#explorer-history .status.ok")
    page.evaluate(ANCHOR, ["forget", None])
    first = page.evaluate(ANCHOR, ["state", None])
    assert "holds the value shown" in first["ok"][0]
    assert any("on first use in this browser" in what for what in first["ok"])
    pinned_at = page.evaluate(ANCHOR, ["pinned", None])
    # An older header is accepted only as an ancestor of the pin, by hash links.
    ancestor = page.evaluate(ANCHOR, ["ancestor", None])
    assert any("is an ancestor of the pinned header" in what for what in ancestor["ok"])
    forged = page.evaluate(ANCHOR, ["forged ancestor", "00" * 32])
    assert forged["name"] == "NotAnchored" and "descends from another header" in forged["error"]
    assert forged["code"] == "invalid_proof"
    # The ledger grows; the pin follows it by a consistency proof; an answer as of the old
    # header is then refused as possibly stale (anchor.py check_state).
    grow_the_ledger(portal)
    moved = page.evaluate(ANCHOR, ["latest", None])
    assert any("RFC 9162 consistency proof" in what for what in moved["ok"])
    assert page.evaluate(ANCHOR, ["pinned", None]) > pinned_at
    stale = page.evaluate(ANCHOR, ["stale state", None])
    assert stale["code"] == "invalid_proof" and "older header than the pinned" in stale["error"]
