"""The `healthledger` command line, run as a user runs it: real processes, real files, real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import process_group, wait_for
from healthledger.app.genesis import RULES_VERSION
from healthledger.crypto.canonical import canonical_bytes
from healthledger.node.process import free_port, wait_until_up

CLI = [sys.executable, "-m", "healthledger"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stdout}{result.stderr}")
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def commission_cli(url: str, keys: Path, gtin: str, lot: str, expiry: str, count: int) -> Any:
    """Serialize `count` packages as Medico Pharma through the CLI."""
    return as_json(
        run(
            "supply",
            "commission",
            "--key",
            str(keys / "medico-pharma.json"),
            "--gtin",
            gtin,
            "--lot",
            lot,
            "--expiry",
            expiry,
            "--count",
            str(count),
            "--prefix",
            lot[0],
            "--url",
            url,
            "--json",
        )
    )


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli") / "demo-net"
    summary = as_json(run("demo", "--dir", str(directory), "--txs", "200", "--no-serve", "--json"))
    assert summary["ok"] is True
    return directory


def test_init_and_keys(tmp_path: Path) -> None:
    out = as_json(
        run(
            "init",
            str(tmp_path / "net"),
            "--org",
            "st-marys:hospital",
            "--org",
            "acme:insurer",
            "--json",
        )
    )
    assert [o["role"] for o in out["organisations"]] == ["hospital", "insurer"]  # type: ignore[index]
    assert (tmp_path / "net" / "genesis.json").exists()
    again = run("init", str(tmp_path / "net"), "--org", "x:clinic", "--json", check=False)
    assert again.returncode == 2
    assert as_json(again)["error"]["code"] == "already_exists"  # type: ignore[index]
    bad_role = run("init", str(tmp_path / "n2"), "--org", "x:spaceship", "--json", check=False)
    assert as_json(bad_role)["error"]["code"] == "malformed"  # type: ignore[index]
    key = as_json(run("keys", "new", str(tmp_path / "me.json"), "--json"))
    assert len(str(key["key_id"])) == 64
    assert str(key["patient_id"]).startswith("pat_")
    assert (tmp_path / "me.json").stat().st_mode & 0o777 == 0o600


def test_demo_writes_its_users_and_verifies(demo_dir: Path) -> None:
    users = json.loads((demo_dir / "demo-users.json").read_text())
    kinds = {u["kind"] for u in users}
    assert {"org", "member", "patient"} <= kinds
    assert all(Path(u["key_file"]).exists() for u in users)
    report = as_json(run("verify", "--data", str(demo_dir), "--json"))
    assert report["ok"] is True
    assert int(report["transactions"]) >= 190  # type: ignore[call-overload]


def test_verify_names_the_tampered_height(demo_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(demo_dir, copy)
    conn = sqlite3.connect(copy / "data" / "ledger.sqlite")
    raw = conn.execute("SELECT raw FROM txs WHERE height = 3 LIMIT 1").fetchone()[0]
    flipped = bytearray(raw)
    flipped[10] ^= 1
    conn.execute("UPDATE txs SET raw = ? WHERE height = 3 AND position = 0", (bytes(flipped),))
    conn.commit()
    conn.close()
    result = run("verify", "--data", str(copy), "--json", check=False)
    assert result.returncode == 1
    error = as_json(result)["error"]
    assert error["height"] == 3  # type: ignore[index]
    assert error["code"] == "tampered"  # type: ignore[index]


def set_rules_version(root: Path, version: int | None) -> None:
    """Rewrite a folder (genesis.json and its stored chain) as if made under `version`.

    None: made before chains recorded a version at all (version 1).
    """

    def rewrite(document: dict[str, object]) -> dict[str, object]:
        document.pop("rules_version")
        return document if version is None else {**document, "rules_version": version}

    genesis = root / "genesis.json"
    genesis.write_text(json.dumps(rewrite(json.loads(genesis.read_text()))))
    database = root / "data" / "ledger.sqlite"
    if database.exists():
        conn = sqlite3.connect(database)
        (raw,) = conn.execute("SELECT value FROM meta WHERE name = 'genesis'").fetchone()
        stored = canonical_bytes(rewrite(json.loads(raw)))
        conn.execute("UPDATE meta SET value = ? WHERE name = 'genesis'", (stored,))
        conn.commit()
        conn.close()


def test_node_run_and_verify_refuse_a_folder_of_other_rules(demo_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(demo_dir, old)
    set_rules_version(old, None)
    # A node that failed to refuse would serve until the timeout fails the test.
    node = subprocess.run(
        [*CLI, "node", "run", "--data", str(old), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert node.returncode == 6, node.stderr
    assert "rules_version" in node.stderr and "rules version 1" in node.stderr
    report = run("verify", "--data", str(old), "--json", check=False)
    assert report.returncode == 6
    assert as_json(report)["error"]["code"] == "rules_version"  # type: ignore[index]


def test_the_demo_rebuilds_its_folder_when_the_rules_version_differs(
    demo_dir: Path, tmp_path: Path
) -> None:
    old = tmp_path / "demo-net"
    shutil.copytree(demo_dir, old)
    set_rules_version(old, 1)
    old_key = (old / "keys" / "st-marys.json").read_text()
    summary = as_json(run("demo", "--dir", str(old), "--txs", "20", "--no-serve", "--json"))
    assert "rules version 1" in str(summary["recreated"])
    assert "resumed" not in summary
    assert (old / "keys" / "st-marys.json").read_text() != old_key  # a new chain, new keys
    assert json.loads((old / "genesis.json").read_text())["rules_version"] == RULES_VERSION
    assert as_json(run("verify", "--data", str(old), "--json"))["ok"] is True


def test_the_demo_deletes_no_folder_but_its_own(tmp_path: Path) -> None:
    other = tmp_path / "ours"
    run("init", str(other), "--org", "st-marys:hospital", "--chain-id", "our-chain", "--json")
    set_rules_version(other, 1)
    result = run("demo", "--dir", str(other), "--no-serve", "--json", check=False)
    assert result.returncode == 6
    assert as_json(result)["error"]["code"] == "rules_version"  # type: ignore[index]
    assert (other / "keys" / "st-marys.json").exists()


@pytest.mark.parametrize("tampered", [False, True])
@pytest.mark.parametrize("stdout", ["closed", "discarded"])
def test_verify_leaves_no_process_behind(
    demo_dir: Path, tmp_path: Path, tampered: bool, stdout: str
) -> None:
    """Whether it passes or finds tampering, and whoever stops reading its output."""
    folder = tmp_path / "copy"
    shutil.copytree(demo_dir, folder)
    if tampered:
        conn = sqlite3.connect(folder / "data" / "ledger.sqlite")
        conn.execute("UPDATE txs SET sender = ? WHERE log_index = 4", ("f0" * 32,))
        conn.commit()
        conn.close()
    process = subprocess.Popen(
        [*CLI, "verify", "--data", str(folder), "--json"],
        stdout=subprocess.PIPE if stdout == "closed" else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: whatever it starts stays in it
    )
    try:
        if process.stdout is not None:
            process.stdout.close()  # the reader goes away before verify has said anything
        code = process.wait(timeout=120)
        wait_for(lambda: process_group(process.pid) == [], timeout=5)
    finally:
        for pid in process_group(process.pid):
            os.kill(pid, signal.SIGKILL)
    if stdout == "discarded":
        assert code == (1 if tampered else 0)


@pytest.fixture(scope="module")
def served(demo_dir: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "demo", "--dir", str(demo_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, process)
    yield url, demo_dir
    process.send_signal(signal.SIGINT)  # Ctrl-C
    assert process.wait(timeout=30) == 0


def test_tour_submit_get_prove(served: tuple[str, Path], tmp_path: Path) -> None:
    url, demo_dir = served
    height = httpx.get(f"{url}/v1/info").json()["height"]
    assert height > 0  # the demo chain resumed
    member = str(demo_dir / "keys" / "st-marys.json")
    unsigned = httpx.get(f"{url}/v1/supply/alerts")
    assert unsigned.status_code == 401  # custody and alerts are members' reads
    alerts = json.loads(run("supply", "alerts", "--key", member, "--url", url, "--json").stdout)
    # The demo's counterfeits, and its sale whose receipt did not match the TI (no serial:
    # a TI mismatch names the sale's line, not one package).
    assert {a["serial"] for a in alerts if a["serial"]} == {"A00003", "Z99999"}
    assert len([a for a in alerts if not a["serial"]]) == 2
    recalls = json.loads(run("supply", "recalls", "--key", member, "--url", url, "--json").stdout)
    assert [(r["lot"], r["by"]) for r in recalls["recalls"]] == [("AMX2612", "medico-pharma")]
    nurse = as_json(run("keys", "new", str(tmp_path / "nurse.json"), "--json"))
    payload = json.dumps(
        {
            "member_id": "nurse-tour",
            "name": "Tour Nurse",
            "role": "nurse",
            "signing_key": nurse["key_id"],
            "encryption_key": nurse["encryption_key"],
        }
    )
    submitted = as_json(
        run(
            "tx",
            "submit",
            "--url",
            url,
            "--key",
            str(demo_dir / "keys" / "st-marys.json"),
            "--type",
            "member.enroll",
            "--payload",
            payload,
            "--json",
        )
    )
    assert submitted["status"] == "committed"
    signed = ("--key", member, "--url", url, "--json")
    tx = as_json(run("tx", "get", str(submitted["id"]), "--proof", *signed))
    assert tx["verified"] is True
    state = as_json(run("state", "get", "gov", "member/st-marys/nurse-tour", "--proof", *signed))
    assert state["verified"] is True
    block = as_json(run("block", "get", "latest", *signed))
    assert block["header"]["height"] >= height  # type: ignore[index]
    assert "txs" in block
    header = as_json(run("block", "get", "latest", "--url", url, "--json"))  # public: header only
    assert "txs" not in header and header["header"]["height"] >= height  # type: ignore[index]
    missing = run("tx", "get", "0" * 64, *signed, check=False)
    assert missing.returncode == 3
    assert as_json(missing)["error"]["code"] == "not_found"  # type: ignore[index]
    refused = run("tx", "get", str(submitted["id"]), "--url", url, "--json", check=False)
    assert refused.returncode != 0  # --key is required: the raw ledger answers signed reads


def test_offline_signing_and_bulk_submit(served: tuple[str, Path], tmp_path: Path) -> None:
    url, folder = served
    lines = []
    for index in range(8):
        key = tmp_path / f"p{index}.json"
        public = as_json(run("keys", "new", str(key), "--json"))
        payload = run(
            "keys",
            "vouch",
            "--key",
            str(folder / "keys" / "st-marys.json"),
            "--chain-id",
            "healthledger-demo",
            "--patient-key",
            str(public["key_id"]),
            "--encryption-key",
            str(public["encryption_key"]),
        ).stdout.strip()
        signed = run(
            "tx",
            "sign",
            "--key",
            str(key),
            "--type",
            "patient.register",
            "--nonce",
            "1",
            "--chain-id",
            "healthledger-demo",
            "--payload",
            payload,
        )
        lines.append(signed.stdout.strip())
    lines.append(lines[0])  # a replay, after the original committed: refused
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(lines) + "\n")
    report = as_json(run("tx", "submit-batch", str(batch), "--chunk", "4", "--url", url, "--json"))
    assert (report["submitted"], report["committed_ok"], report["refused"]) == (9, 8, 1)


def test_supply_commands(served: tuple[str, Path]) -> None:
    url, demo_dir = served
    keys = demo_dir / "keys"
    gtin = "09506000134352"
    made = commission_cli(url, keys, gtin, "CLI1", "2028-03-31", 2500)
    assert made["commissioned"] == 2500
    item = f"{gtin}:C7"
    run(
        "supply",
        "ship",
        "--key",
        str(keys / "medico-pharma.json"),
        "--to",
        "pharmalink",
        item,
        "--url",
        url,
        "--json",
    )
    run("supply", "receive", "--key", str(keys / "pharmalink.json"), item, "--url", url, "--json")
    scan = "]d2\x1d01" + gtin + "21C7\x1d10CLI1\x1d17280331"
    seen = as_json(run("supply", "verify", "--scan", scan, "--url", url, "--json"))
    assert (seen["verdict"], seen["package"]["owner"]) == ("verified", "pharmalink")
    clone = as_json(
        run(
            "supply",
            "verify",
            "--gtin",
            gtin,
            "--serial",
            "C7",
            "--lot",
            "CLI1",
            "--expiry",
            "2028-03-31",
            "--record",
            str(keys / "corner-pharmacy.json"),
            "--url",
            url,
            "--json",
        )
    )
    assert clone["recorded"]["verdict"] == "suspect"
    history = as_json(
        run(
            "supply",
            "history",
            gtin,
            "C7",
            "--key",
            str(keys / "corner-pharmacy.json"),
            "--url",
            url,
            "--json",
        )
    )
    assert [s["action"] for s in history["history"]] == ["commission", "ship", "receive"]
    refused = run(
        "supply",
        "dispense",
        "--key",
        str(keys / "corner-pharmacy.json"),
        "--gtin",
        gtin,
        "--serial",
        "C7",
        "--url",
        url,
        "--json",
        check=False,
    )
    assert refused.returncode == 2  # flagged by the clone check above: never dispensed
    assert as_json(refused)["error"]["code"] == "invalid_state"  # type: ignore[index]
    recalled = as_json(
        run(
            "supply",
            "recall",
            "--key",
            str(keys / "medico-pharma.json"),
            "--gtin",
            gtin,
            "--lot",
            "CLI1",
            "--reason",
            "test recall",
            "--url",
            url,
            "--json",
        )
    )
    notify = next(e for e in recalled["result"]["events"] if e["type"] == "supply.recall")["notify"]
    assert notify == ["medico-pharma", "pharmalink"]


def test_supply_epcis_export_and_import(served: tuple[str, Path], tmp_path: Path) -> None:
    from healthledger.domains.supply.epcis import to_epcis_document
    from healthledger.domains.supply.events import CustodyEvent

    url, demo_dir = served
    keys = demo_dir / "keys"
    gtin = "09521234543213"
    commission_cli(url, keys, gtin, "EP1", "2029-01-31", 3)
    partner_doc = to_epcis_document(
        [
            CustodyEvent(
                "ship",
                1_760_000_000_000,
                "medico-pharma",
                (f"{gtin}:E1", f"{gtin}:E2"),
                counterparty="pharmalink",
            ),
        ],
        created_ms=1_760_000_000_000,
    )
    doc_file = tmp_path / "ship.json"
    doc_file.write_text(json.dumps(partner_doc))

    def import_as(org: str, *flags: str) -> subprocess.CompletedProcess[str]:
        return run(
            "supply",
            "import-epcis",
            str(doc_file),
            "--key",
            str(keys / f"{org}.json"),
            "--url",
            url,
            "--json",
            *flags,
            check=False,
        )

    # The receiver anchors the manufacturer's shipment as an observation; the manufacturer's
    # own import moves custody and confirms it.
    attested = as_json(import_as("pharmalink"))
    assert [e["became"] for e in attested["events"]] == ["observation attested"]  # type: ignore[index]
    dry = as_json(import_as("medico-pharma", "--check"))
    assert dry["submitted"] is False  # type: ignore[index]
    assert [e["became"] for e in dry["events"]] == ["custody:ship"]  # type: ignore[index]
    own = as_json(import_as("medico-pharma"))
    assert own["ok"] is True  # type: ignore[index]
    assert [e["became"] for e in own["events"]] == ["custody:ship"]  # type: ignore[index]
    reader = str(keys / "pharmalink.json")
    exported = as_json(
        run("supply", "history", gtin, "E1", "--epcis", "--key", reader, "--url", url, "--json")
    )
    steps = [e["bizStep"] for e in exported["epcisBody"]["eventList"]]  # type: ignore[index]
    assert steps == ["commissioning", "shipping"]
    doc_file.write_text('{"type": "EPCISDocument", "schemaVersion": "1.2"}')
    bad = import_as("medico-pharma")
    assert bad.returncode == 2
