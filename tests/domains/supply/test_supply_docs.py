"""docs/supply.md stays true to the code: its tables name every transaction and bizStep."""

from __future__ import annotations

import re
from pathlib import Path

from healthledger.domains.supply import DOMAIN, epcis

DOC = (Path(__file__).parents[3] / "docs" / "supply.md").read_text()


def _section(title: str) -> str:
    start = DOC.index(f"## {title}\n")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else None]


def test_the_transactions_table_lists_every_supply_transaction() -> None:
    table = _section("Transactions and who may send them")
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `supply.")]
    named = {f"supply.{name}" for row in rows for name in re.findall(r"`(?:supply\.)?(\w+)`", row)}
    assert {tx.type for tx in DOMAIN.txs} <= named


def test_the_bizstep_table_covers_cbv_2_and_agrees_with_the_mappings() -> None:
    table = _section("Importing EPCIS 2.0 feeds")
    rows = {
        line.split("|")[1].strip(): line.split("|")[2]
        for line in table.splitlines()
        if line.startswith("| `")
    }
    observed = next(row for row in rows if row.startswith("`accepting`"))
    listed = set(re.findall(r"`([a-z_]+)`", observed))
    for action, mapping in epcis.MAPPINGS.items():
        assert f"custody:{action}" in rows[f"`{mapping.biz_step}`"], action
        assert mapping.biz_step not in listed
    assert listed | {m.biz_step for m in epcis.MAPPINGS.values()} == set(epcis.CBV_BIZ_STEPS)
    assert {f"`{kind}`" for kind in epcis.EVENT_TYPES} <= set(rows)
