"""The portal's JavaScript verifiers (hl/proofs.js) over tests/vectors/proofs.json, in a
real Chromium: the same cases and expected outcomes as the Python verifiers
(tests/ledger/test_proof_vectors.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from web.conftest import Portal

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
