"""`healthledger credentials ...` on a real node: issue to a file, verify it, change status."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import enroll_member, serve_network, stop_node
from healthledger.client.sdk import Client, Signer
from healthledger.crypto.data_integrity import did_key, verify_proof
from healthledger.crypto.keys import KeyPair, load_keypair, save_keypair
from healthledger.crypto.status_list import bit_at, decode_list
from healthledger.domains.credentials.documents import (
    build_credential,
    sign_credential,
    status_slot_of,
)
from healthledger.domains.credentials.presentation import presentation
from healthledger.node.home import Home

CHAIN = "credentials-cli"
CLI = [sys.executable, "-m", "healthledger"]
MEMBER = "st-marys/dr-cole"


@dataclass
class Net:
    url: str
    home: Home
    member_key: Path

    def key(self, org: str) -> str:
        return str(self.home.key_path(org))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def cli(*args: str, code: int = 0) -> Any:
    result = run(*args, "--json")
    assert result.returncode == code, f"{args}: {result.returncode} {result.stdout}{result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    root = tmp_path_factory.mktemp("credentials-cli") / "net"
    orgs = [
        ("st-marys", "hospital", "St Mary's"),
        ("ma-board", "board", "MA Board"),
        ("ma-regulator", "regulator", "MA Regulator"),
        ("mass-u", "university", "Mass University"),
        ("harbor-clinic", "clinic", "Harbor Clinic"),
    ]
    url, process = serve_network(root, CHAIN, orgs)
    home = Home(root)
    with Client(url) as client:
        hospital = Signer(load_keypair(home.key_path("st-marys")), CHAIN)
        member = enroll_member(client, hospital, "dr-cole", "practitioner")
    member_key = root / "dr-cole.json"
    save_keypair(member, member_key)
    yield Net(url, home, member_key)
    stop_node(process)


def issue(net: Net, out: Path, *extra: str, code: int = 0) -> Any:
    return cli("credentials", "issue", "--key", net.key("ma-board"), "--type", "licence",
               "--subject", MEMBER, "--scope", "Physician", "--jurisdiction", "US-MA",
               "--from", "2026-01-01", "--until", "2030-01-01", "--name", "Dr Cole",
               "--out", str(out), *extra, "--url", net.url, code=code)  # fmt: skip


def test_issue_verify_suspend(net: Net, tmp_path: Path) -> None:
    out = tmp_path / "licence.json"
    issued = issue(net, out, "--id", "cole-1")
    assert issued["id"] == "ma-board:cole-1" and out.exists()
    document = json.loads(out.read_text())
    assert document["credentialSubject"]["name"] == "Dr Cole"
    assert document["issuer"]["name"] == "MA Board"  # its registered name
    report = cli("credentials", "verify", str(out), "--url", net.url)
    assert report["valid"] is True
    assert report["credentials"][0]["verified_against"]
    # The human form: one line per check, exit 0.
    shown = run("credentials", "verify", str(out), "--url", net.url)
    assert shown.returncode == 0
    for check in ("proof", "issuer_key", "anchored", "status", "validity"):
        assert f"ok   {check}:" in shown.stdout
    before = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    time.sleep(0.05)
    cli("credentials", "suspend", "ma-board:cole-1", "--key", net.key("ma-board"),
        "--reason", "complaint", "--url", net.url)  # fmt: skip
    now = cli("credentials", "verify", str(out), "--url", net.url, code=2)
    assert now["valid"] is False
    failed = [c for c in now["credentials"][0]["checks"] if not c["ok"]]
    assert [c["check"] for c in failed] == ["status"]
    then = cli("credentials", "verify", str(out), "--at", before, "--url", net.url)
    assert then["valid"] is True
    human = run("credentials", "verify", str(out), "--url", net.url)
    assert human.returncode == 2 and "FAIL status" in human.stdout
    # With an organisation's key the anchor is a signed read; with a person's (who may
    # not read the ledger's state) it comes through the public route: the same verdict.
    for reader in (net.key("st-marys"), str(net.member_key)):
        signed = cli("credentials", "verify", str(out), "--key", reader, "--url", net.url,
                     code=2)  # fmt: skip
        failed = [c["check"] for c in signed["credentials"][0]["checks"] if not c["ok"]]
        assert failed == ["status"]
    shown_anchor = cli("credentials", "show", "ma-board:cole-1", "--key", net.key("st-marys"),
                       "--url", net.url)  # fmt: skip
    assert [h["status"] for h in shown_anchor["anchor"]["history"]] == ["active", "suspended"]


def test_revoke_and_the_status_list(net: Net, tmp_path: Path) -> None:
    out = tmp_path / "revoked.json"
    issue(net, out, "--id", "cole-2")
    cli("credentials", "revoke", "ma-board:cole-2", "--key", net.key("ma-board"),
        "--reason", "surrendered", "--url", net.url)  # fmt: skip
    slot = status_slot_of(json.loads(out.read_text()), "ma-board")
    assert slot is not None
    number, index = slot
    listed = cli("credentials", "status-list", "ma-board", "revocation", str(number),
                 "--index", str(index), "--url", net.url)  # fmt: skip
    assert listed["set"] is True and listed["encoded_list_matches_chain"] is True
    assert listed["entries"] >= 131_072
    clear = cli("credentials", "status-list", "ma-board", "suspension", str(number),
                "--index", str(index), "--url", net.url)  # fmt: skip
    assert clear["set"] is False
    # How many bits are set is its own field: the bit at --index does not overwrite it.
    assert listed["set_bits"] >= 1 and isinstance(clear["set_bits"], int)
    # The issuer signs the list it checked against the chain; anyone verifies that proof.
    signed_file = tmp_path / "list.json"
    signed = cli("credentials", "status-list", "ma-board", "revocation", str(number),
                 "--sign", net.key("ma-board"), "--out", str(signed_file),
                 "--url", net.url)  # fmt: skip
    assert signed["signed"] == str(signed_file)
    document = json.loads(signed_file.read_text())
    board_key = load_keypair(net.home.key_path("ma-board"))
    assert verify_proof(document, int(time.time() * 1000)).key_id == board_key.key_id
    assert bit_at(decode_list(document["credentialSubject"]["encodedList"]), index)
    others = cli("credentials", "status-list", "ma-board", "revocation", str(number),
                 "--sign", net.key("st-marys"), "--out", str(tmp_path / "no.json"),
                 "--url", net.url, code=4)  # fmt: skip
    assert others["error"]["code"] == "unauthorized"


def test_a_presented_file(net: Net, tmp_path: Path) -> None:
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    issue(net, one, "--id", "cole-3")
    issue(net, two, "--id", "cole-4")
    documents = [json.loads(p.read_text()) for p in (one, two)]
    file = tmp_path / "file.json"
    file.write_text(json.dumps(presentation(documents, MEMBER)))
    report = cli("credentials", "verify", str(file), "--url", net.url)
    assert report["valid"] is True and len(report["credentials"]) == 2
    tampered = json.loads(json.dumps(documents))
    tampered[1]["validUntil"] = "2099-01-01T00:00:00Z"
    file.write_text(json.dumps(presentation(tampered, MEMBER)))
    report = cli("credentials", "verify", str(file), "--url", net.url, code=2)
    assert [c["valid"] for c in report["credentials"]] == [True, False]


def test_bad_input_is_refused_with_its_code(net: Net, tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    assert cli("credentials", "verify", str(junk), "--url", net.url, code=2)["error"]["code"] == (
        "malformed"
    )
    out = tmp_path / "x.json"
    by_hospital = cli("credentials", "issue", "--key", net.key("st-marys"), "--type", "licence",
                      "--subject", MEMBER, "--scope", "Physician", "--jurisdiction", "US-MA",
                      "--from", "2026-01-01", "--out", str(out), "--url", net.url,
                      code=4)  # fmt: skip
    assert by_hospital["error"]["code"] == "unauthorized" and not out.exists()
    bad_hours = cli("credentials", "issue", "--key", net.key("ma-board"), "--type", "ce",
                    "--subject", MEMBER, "--scope", "CME", "--jurisdiction", "US-MA",
                    "--from", "2026-01-01", "--ce-hours", "0.001", "--out", str(out),
                    "--url", net.url, code=2)  # fmt: skip
    assert bad_hours["error"]["code"] == "malformed"
    bad_type = cli("credentials", "issue", "--key", net.key("ma-board"), "--type", "diploma",
                   "--subject", MEMBER, "--scope", "x", "--jurisdiction", "US-MA",
                   "--from", "2026-01-01", "--out", str(out), "--url", net.url, code=2)  # fmt: skip
    assert bad_type["error"]["code"] == "invalid_field"


def events(report: Any, event_type: str) -> list[dict[str, Any]]:
    return [e for e in report["result"]["events"] if e["type"] == event_type]


def test_the_file_its_shares_and_its_monitoring(net: Net, tmp_path: Path) -> None:
    board, regulator, hospital = (net.key(o) for o in ("ma-board", "ma-regulator", "st-marys"))
    member = str(net.member_key)
    common = ("--url", net.url)
    cli("credentials", "ce-rule", "--key", board, "--hours", "50", "--from", "2026-01-01",
        "--category", "AMA-1:20", *common)  # fmt: skip
    issue(net, tmp_path / "lic.json", "--id", "cole-file")
    cli("credentials", "issue", "--key", net.key("mass-u"), "--type", "ce", "--subject", MEMBER,
        "--scope", "Cardiology update", "--jurisdiction", "US-MA", "--from", "2026-02-01",
        "--ce-hours", "1.5", "--ce-category", "AMA-1", "--out", str(tmp_path / "ce.json"),
        "--id", "cole-ce", *common)  # fmt: skip
    own = cli("credentials", "file", MEMBER, "--key", member, *common)
    assert "ma-board:cole-file" in [c["id"] for c in own["credentials"]]
    assert "mass-u:cole-ce" in [c["id"] for c in own["credentials"]]
    cycle = next(c for c in own["ce_cycles"] if c["licence"] == "ma-board:cole-file")
    assert "mass-u:cole-ce" in cycle["credentials"]
    assert cycle["required_minutes"] == 3000 and cycle["compliant"] is False
    shared = cli("credentials", "share", "ma-regulator", "--key", member, "--until",
                 "2030-01-01", "--credential", "ma-board:cole-file", *common)  # fmt: skip
    (event,) = events(shared, "credential.shared")
    cli("credentials", "unshare", event["share"], "--key", member, *common)
    # A privilege the member holds at St Mary's: the hospital is flagged on an exclusion.
    cli("credentials", "issue", "--key", hospital, "--type", "privilege", "--subject", MEMBER,
        "--scope", "Cardiac catheterisation", "--jurisdiction", "US-MA", "--from", "2026-01-01",
        "--depends-on", "ma-board:cole-file", "--out", str(tmp_path / "priv.json"),
        "--id", "cole-priv", *common)  # fmt: skip
    excluded = cli("credentials", "exclude", MEMBER, "--key", regulator, "--list", "oig-leie",
                   "--reason", "1128a1", *common)  # fmt: skip
    assert excluded["result"]["code"] == "ok"
    flagged = cli("credentials", "file", MEMBER, "--key", regulator, *common)
    assert flagged["excluded"] is True
    seen = cli("credentials", "flags", "st-marys", "--key", hospital, *common)
    assert [(f["member"], f["regulators"]) for f in seen["flags"]] == [(MEMBER, ["ma-regulator"])]
    # A privilege granted while the exclusion stands flags its organisation at once.
    clinic = net.key("harbor-clinic")
    cli("credentials", "issue", "--key", clinic, "--type", "privilege", "--subject", MEMBER,
        "--scope", "Outpatient cardiology", "--jurisdiction", "US-MA", "--from", "2026-01-01",
        "--out", str(tmp_path / "clinic.json"), "--id", "cole-clinic", *common)  # fmt: skip
    later = cli("credentials", "flags", "harbor-clinic", "--key", clinic, *common)
    assert [f["member"] for f in later["flags"]] == [MEMBER]
    # Suspending the licence suspends the privilege that depends on it (same block).
    cli("credentials", "suspend", "ma-board:cole-file", "--key", board, "--reason", "hearing",
        *common)  # fmt: skip
    cascaded = cli("credentials", "verify", str(tmp_path / "priv.json"), *common, code=2)
    status = next(c for c in cascaded["credentials"][0]["checks"] if c["check"] == "status")
    assert status["reason"] == "suspended"
    cli("credentials", "lift", MEMBER, "--key", regulator, "--list", "oig-leie",
        "--reason", "reinstated", *common)  # fmt: skip
    assert cli("credentials", "file", MEMBER, "--key", regulator, *common)["excluded"] is False
    recorded = cli("credentials", "psv", "ma-board:cole-file", "--key", hospital,
                   "--method", "ledger", *common)  # fmt: skip
    (psv,) = events(recorded, "credential.psv")
    reused = cli("credentials", "psv-reuse", psv["psv"], "--key", regulator,
                 "--decision", "board hearing", *common)  # fmt: skip
    assert reused["result"]["code"] == "ok"
    # Another organisation's member may not read the file.
    refused = cli("credentials", "file", "st-marys/nobody", "--key", member, *common, code=4)
    assert refused["error"]["code"] == "unauthorized"


def test_an_external_issuer_and_an_accepted_credential(net: Net, tmp_path: Path) -> None:
    outside = KeyPair.generate()
    common = ("--url", net.url)
    cli("credentials", "issuer", "register", "gmc-uk", "--key", net.key("ma-regulator"),
        "--did", did_key(outside.public_key), "--name", "General Medical Council",
        "--type", "licence", "--jurisdiction", "GB", *common)  # fmt: skip
    document = sign_credential(
        build_credential(
            issuer="gmc-uk",
            issuer_name="General Medical Council",
            issuer_key=outside.key_id,
            local_id="gmc-7001",
            subject=MEMBER,
            type="licence",
            scope="Full registration",
            jurisdiction="GB",
            valid_from_ms=1_767_225_600_000,
        ),
        outside,
        int(time.time() * 1000),
    )
    # The organisation attests the proof: a document the issuer did not sign is refused
    # by its own client before anything reaches the ledger.
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(document | {"id": "urn:healthledger:credential:gmc-uk:gmc-7002"}))
    refused = cli("credentials", "accept", str(forged), "--key", net.key("st-marys"),
                  "--issuer", "gmc-uk", *common, code=1)  # fmt: skip
    assert refused["error"]["code"] == "invalid_proof"
    file = tmp_path / "gmc.json"
    file.write_text(json.dumps(document))
    accepted = cli("credentials", "accept", str(file), "--key", net.key("st-marys"),
                   "--issuer", "gmc-uk", *common)  # fmt: skip
    assert accepted["result"]["code"] == "ok"
    assert cli("credentials", "verify", str(file), *common)["valid"] is True


def test_fhir_export_and_its_read_gate(net: Net, tmp_path: Path) -> None:
    issue(net, tmp_path / "lic.json", "--id", "cole-fhir")
    bundle = cli("credentials", "fhir", MEMBER, "--key", str(net.member_key), "--url", net.url)
    practitioner, *results = (entry["resource"] for entry in bundle["entry"])
    assert practitioner["resourceType"] == "Practitioner"
    ids = [q["identifier"][0]["value"] for q in practitioner["qualification"]]
    assert "ma-board:cole-fhir" in ids
    assert {r["resourceType"] for r in results} == {"VerificationResult"}
    # A university that issued nothing here and holds no share may not read the file.
    refused = cli("credentials", "fhir", MEMBER, "--key", net.key("mass-u"), "--url", net.url,
                  code=4)  # fmt: skip
    assert refused["error"]["code"] == "unauthorized"
    late = cli("credentials", "fhir", MEMBER, "--key", str(net.member_key), "--at", "2026-13-01",
               "--url", net.url, code=2)  # fmt: skip
    assert late["error"]["code"] == "invalid_field"


def test_document_ids_are_accepted_where_a_credential_id_is(net: Net, tmp_path: Path) -> None:
    lic = tmp_path / "lic.json"
    issue(net, lic, "--id", "cole-urn")
    urn = json.loads(lic.read_text())["id"]
    assert urn == "urn:healthledger:credential:ma-board:cole-urn"
    cli("credentials", "issue", "--key", net.key("st-marys"), "--type", "privilege",
        "--subject", MEMBER, "--scope", "Cardiology", "--jurisdiction", "US-MA",
        "--from", "2026-01-01", "--depends-on", urn, "--out", str(tmp_path / "priv.json"),
        "--id", "cole-urn-priv", "--url", net.url)  # fmt: skip
    suspended = cli("credentials", "suspend", urn, "--key", net.key("ma-board"), "--reason", "x",
                    "--url", net.url)  # fmt: skip
    assert [e["credential"] for e in events(suspended, "credential.status")] == [
        "ma-board:cole-urn",
        "st-marys:cole-urn-priv",
    ]
    shown = cli("credentials", "show", urn, "--key", net.key("st-marys"), "--url", net.url)
    assert shown["status"] == "suspended" and shown["verified_against"]


def test_errors_are_one_line_with_a_code_never_a_traceback(net: Net, tmp_path: Path) -> None:
    board = net.key("ma-board")
    bad_id = run("credentials", "suspend", "not an id", "--key", board, "--reason", "x",
                 "--url", net.url)  # fmt: skip
    assert bad_id.returncode == 2 and "Traceback" not in bad_id.stderr
    assert "[invalid_field]" in bad_id.stderr and "credential_id" in bad_id.stderr
    bad_did = cli("credentials", "issuer", "register", "gmc", "--key", net.key("ma-regulator"),
                  "--did", "did:key:nope", "--name", "GMC", "--type", "licence",
                  "--jurisdiction", "GB", "--url", net.url, code=2)  # fmt: skip
    assert bad_did["error"]["code"] == "invalid_field" and "did" in bad_did["error"]["message"]
    hours = cli("credentials", "ce-rule", "--key", board, "--hours", "lots", "--from",
                "2026-01-01", "--url", net.url, code=2)  # fmt: skip
    assert hours["error"]["message"].startswith("--hours 'lots'")
    missing = cli("credentials", "verify", str(tmp_path / "absent.json"), "--url", net.url,
                  code=2)  # fmt: skip
    assert missing["error"]["message"].startswith("cannot read")


def test_a_did_key_is_printed_as_written(net: Net, tmp_path: Path) -> None:
    lic = tmp_path / "lic.json"
    issue(net, lic, "--id", "cole-did")
    printed = run("credentials", "verify", str(lic), "--url", net.url)
    assert printed.returncode == 0, printed.stderr
    # rich would print `:key:` as an emoji: the verdict names the signer's did:key as is.
    assert "did:key:z6Mk" in printed.stdout.replace("\n", "")
    assert "\N{KEY}" not in printed.stdout


def test_an_unwritable_out_anchors_nothing(net: Net, tmp_path: Path) -> None:
    nowhere = tmp_path / "no-such-folder" / "lic.json"
    refused = issue(net, nowhere, "--id", "cole-nowhere", code=2)
    assert refused["error"]["code"] == "malformed" and "cannot write" in refused["error"]["message"]
    # Nothing was anchored under that id: it is still free.
    written = tmp_path / "lic.json"
    assert issue(net, written, "--id", "cole-nowhere")["id"] == "ma-board:cole-nowhere"
    assert json.loads(written.read_text())["id"].endswith("ma-board:cole-nowhere")
    # A refused issuance leaves no empty file behind.
    taken = tmp_path / "again.json"
    again = issue(net, taken, "--id", "cole-nowhere", code=2)
    assert again["error"]["code"] == "conflict" and not taken.exists()
