"""`healthledger demo`: a consortium with people, patients and governance, served on :8700.

The first run creates the network folder, enrols staff, registers patients,
admits a new organisation by quorum vote, rotates and revokes keys and shows a
few refused transactions; `DIR/demo-users.json` lists every actor and its key
file so a user can act as any of them. A second run resumes the same chain.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from healthledger.api.serve import serve
from healthledger.cli.demo_records import demographics, records_story
from healthledger.cli.demo_supply import supply_story
from healthledger.cli.output import Advance, emit, fail, progress_bar
from healthledger.cli.synthetic import SyntheticPatient, synthetic_patients
from healthledger.client.sdk import Signer, registration_payload
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair, save_keypair
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.transaction import Transaction
from healthledger.node.custodian import RecordService
from healthledger.node.home import DEFAULT_PORT, Home, init_home
from healthledger.node.node import Node, submit_and_wait

CHAIN_ID = "healthledger-demo"
ORGS = [
    ("st-marys", "hospital", "St Mary's Hospital"),
    ("riverside-clinic", "clinic", "Riverside Clinic"),
    ("northlab", "laboratory", "North Laboratory Services"),
    ("acme-insurance", "insurer", "Acme Health Insurance"),
    ("medico-pharma", "manufacturer", "Medico Pharma"),
    ("pharmalink", "distributor", "PharmaLink Distribution"),
    ("corner-pharmacy", "pharmacy", "Corner Pharmacy"),
    ("town-pharmacy", "pharmacy", "Town Pharmacy"),
    ("health-authority", "regulator", "National Health Authority"),
    ("medical-board", "board", "State Medical Board"),
    ("cure-sponsor", "sponsor", "Cure Trials Sponsor"),
    ("relief-charity", "charity", "Health Relief Charity"),
]
STAFF = [
    ("st-marys", "dr-grey", "Dr Meredith Grey", "practitioner"),
    ("st-marys", "nurse-joy", "Nurse Joy Adeyemi", "nurse"),
    ("st-marys", "auditor-kim", "Kim Auditor", "auditor"),
    ("riverside-clinic", "dr-house", "Dr Gregory House", "practitioner"),
    ("northlab", "tech-lee", "Lee Technician", "technician"),
    ("corner-pharmacy", "pharm-ana", "Ana Pharmacist", "pharmacist"),
    ("cure-sponsor", "res-patel", "Dr Priya Patel", "researcher"),
    ("acme-insurance", "admin-olsen", "Olsen Admin", "admin"),
]
NEW_ORG = ("metro-university", "university", "Metro University")


@dataclass(frozen=True)
class DemoUser:
    """One actor of the demo, as written to demo-users.json."""

    name: str
    kind: str
    role: str
    organisation: str | None
    key_file: str
    key_id: str
    patient_id: str | None = None
    demographics: dict[str, Any] | None = None


class DemoBuilder:
    """Builds the demo chain through the node's own engine, as any client would."""

    def __init__(self, home: Home, node: Node) -> None:
        self.home = home
        self.node = node
        self.users: list[DemoUser] = []
        self.signers: dict[str, Signer] = {}
        self.count = 0

    def signer(self, name: str, keys: KeyPair | None = None) -> Signer:
        if name not in self.signers:
            pair = keys or KeyPair.generate()
            save_keypair(pair, self.home.key_path(name))
            self.signers[name] = Signer(pair, CHAIN_ID)
        return self.signers[name]

    def run(self, txs: list[Transaction]) -> list[dict[str, Any]]:
        reports = submit_and_wait(self.node, txs)
        self.count += len(txs)
        return [
            r.to_dict() if isinstance(r, LedgerError) else {"height": r[0], **r[1].to_dict()}
            for r in reports
        ]

    def add_user(self, name: str, kind: str, role: str, org: str | None, file: str) -> None:
        key_id = self.signers[file].key_id
        path = str(self.home.key_path(file))
        self.users.append(DemoUser(name, kind, role, org, path, key_id))


def build_demo(directory: Path, total_txs: int, progress: Advance | None = None) -> dict[str, Any]:
    """Create the demo network folder and fill its chain with about `total_txs` transactions."""
    home = init_home(directory, CHAIN_ID, ORGS, port=DEFAULT_PORT)
    node = Node(directory)
    node.start(parallel_check=False)
    try:
        builder = DemoBuilder(home, node)
        for org_id, role, name in ORGS:
            builder.signer(org_id, load_keypair(home.key_path(org_id)))
            builder.add_user(name, "org", role, org_id, org_id)
        _enrol_staff(builder)
        _admit_new_org(builder)
        _rotate_and_revoke(builder)
        refused = _show_refusals(builder)
        supply = supply_story(builder)
        people = _register_patients(builder, max(20, total_txs - builder.count), progress)
        records = records_story(builder, RecordService(node), people)
        users_path = directory / "demo-users.json"
        users_path.write_text(json.dumps([asdict(u) for u in builder.users], indent=2) + "\n")
        info = node.app.info()
        return {
            "ok": True,
            "dir": str(directory),
            "chain_id": info.chain_id,
            "height": info.height,
            "transactions": builder.count,
            "refused_examples": refused,
            "supply": supply,
            "records": records,
            "users": str(users_path),
        }
    finally:
        node.stop()


def _enrol_staff(builder: DemoBuilder) -> None:
    txs = []
    for org_id, member_id, name, role in STAFF:
        person = builder.signer(member_id)
        txs.append(
            builder.signers[org_id].sign(
                "member.enroll",
                {
                    "member_id": member_id,
                    "name": name,
                    "role": role,
                    "signing_key": person.key_id,
                    "encryption_key": person.keys.encryption_public.hex(),
                },
            )
        )
        builder.add_user(name, "member", role, org_id, member_id)
    builder.run(txs)


def _admit_new_org(builder: DemoBuilder) -> None:
    org_id, role, name = NEW_ORG
    newcomer = builder.signer(org_id)
    spec = {
        "id": org_id,
        "name": name,
        "role": role,
        "signing_key": newcomer.key_id,
        "encryption_key": newcomer.keys.encryption_public.hex(),
    }
    (proposal,) = builder.run(
        [builder.signers["st-marys"].sign("org.propose", {"action": "add", "org": spec})]
    )
    proposal_id = next(e["proposal"] for e in proposal["events"] if e["type"] == "org.proposed")
    # 12 founders: the proposer and 8 more make 9 > 2/3 of 12.
    voters = [org for org, _role, _name in ORGS[1:9]]
    builder.run(
        [builder.signers[v].sign("org.approve", {"proposal_id": proposal_id}) for v in voters]
    )
    builder.add_user(name, "org", role, org_id, org_id)


def _rotate_and_revoke(builder: DemoBuilder) -> None:
    clinic = builder.signers["riverside-clinic"]
    temp = builder.signer("temp-locum")
    builder.run(
        [
            clinic.sign(
                "member.enroll",
                {
                    "member_id": "locum-smith",
                    "name": "Dr Locum Smith",
                    "role": "practitioner",
                    "signing_key": temp.key_id,
                    "encryption_key": temp.keys.encryption_public.hex(),
                },
            )
        ]
    )
    builder.run(
        [clinic.sign("member.revoke", {"member_id": "locum-smith", "reason": "contract_ended"})]
    )
    lab = builder.signers["northlab"]
    fresh = KeyPair.generate()
    builder.run(
        [
            lab.sign(
                "key.rotate",
                {"signing_key": fresh.key_id, "encryption_key": fresh.encryption_public.hex()},
            )
        ]
    )
    save_keypair(lab.keys.rotated_to(fresh), builder.home.key_path("northlab"))  # keyring
    builder.signers["northlab"] = Signer(fresh, CHAIN_ID)
    for user in builder.users:
        if user.key_file == str(builder.home.key_path("northlab")):
            builder.users[builder.users.index(user)] = DemoUser(
                user.name, user.kind, user.role, user.organisation, user.key_file, fresh.key_id
            )


def _show_refusals(builder: DemoBuilder) -> list[dict[str, Any]]:
    """Refused transactions are part of the story: they are recorded and change nothing."""
    nurse = builder.signers["nurse-joy"]
    outsider = Signer(KeyPair.generate(), CHAIN_ID)
    attempts = [
        nurse.sign(
            "member.enroll",
            {
                "member_id": "x",
                "name": "X",
                "role": "admin",
                "signing_key": "0" * 64,
                "encryption_key": "0" * 64,
            },
        ),
        outsider.sign("org.approve", {"proposal_id": "prop-0000000000000000"}),
        builder.signers["st-marys"].sign("member.revoke", {"member_id": "nobody"}),
    ]
    return builder.run(attempts)


def _register_patients(
    builder: DemoBuilder, count: int, progress: Advance | None
) -> list[tuple[str, SyntheticPatient]]:
    """Register patients; the first 20 get synthetic demographics in demo-users.json."""
    people = synthetic_patients(20, seed=2026)
    named: list[tuple[str, SyntheticPatient]] = []
    batch: list[Transaction] = []
    voucher = builder.signer("st-marys").keys  # the demo hospital vouches for its patients
    for index in range(count):
        name = f"patient-{index + 1:04d}"
        patient = builder.signer(name)
        batch.append(
            patient.sign("patient.register", registration_payload(patient.keys, CHAIN_ID, voucher))
        )
        if index < len(people):
            person = people[index]
            named.append((name, person))
            builder.users.append(
                DemoUser(
                    f"{person.given} {person.family}",
                    "patient",
                    "patient",
                    None,
                    str(builder.home.key_path(name)),
                    patient.key_id,
                    derive_patient_id(patient.key_id),
                    demographics(person),
                )
            )
        if len(batch) == 100 or index == count - 1:
            builder.run(batch)
            batch = []
            if progress is not None:
                progress(index + 1, count)
    return named


def remove_if_other_rules(home: Home) -> str | None:
    """Delete a demo folder made under other rules (it cannot be read); say why, or None.

    Only a folder of the demo's own chain is deleted: any other is refused as it is.
    """
    try:
        home.check_rules_version()
    except LedgerError as exc:
        if exc.code != ErrorCode.RULES_VERSION or home.chain_id() != CHAIN_ID:
            raise
        shutil.rmtree(home.root)
        return f"the old demo folder was removed and built again: {exc.message}"
    return None


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        directory: Annotated[Path, typer.Option("--dir", help="Demo network folder.")] = Path(
            "demo-net"
        ),
        txs: Annotated[int, typer.Option(help="About how many demo transactions.")] = 400,
        serve_api: Annotated[
            bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")
        ] = True,
        port: Annotated[int, typer.Option(help="API port.")] = DEFAULT_PORT,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Build (or resume) a demo network and serve its API on 127.0.0.1."""
        home = Home(directory)
        try:
            recreated = remove_if_other_rules(home)
        except LedgerError as exc:
            fail(exc, as_json)
        if home.exists():
            summary: dict[str, Any] = {"ok": True, "dir": str(directory), "resumed": True}
        else:
            try:
                with progress_bar("demo transactions", not as_json) as advance:
                    summary = build_demo(directory, txs, advance)
            except LedgerError as exc:
                fail(exc, as_json)
            if recreated is not None:
                summary["recreated"] = recreated
        emit(summary, as_json)
        if serve_api:
            node = Node(directory)
            typer.echo(f"Serving {node.app.chain_id} at height {node.app.info().height}")
            typer.echo(
                f"API http://127.0.0.1:{port}  docs http://127.0.0.1:{port}/docs  Ctrl-C stops"
            )
            serve(node, "127.0.0.1", port)
