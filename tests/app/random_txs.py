"""Builders of random transactions for `test_random_sequences.py`: one small function per type.

Each builder draws a sender and a payload, biased toward what could succeed (ids that
exist, items the sender holds, the proposal everyone else is voting on) but able to
name anything: any sender, ids that do not exist, targets already taken. The world it
draws from is the committed state of one application, read through `Store.state_scan`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from conftest import CHAIN, make_genesis, patient_register_payload, seeded_keys
from healthledger.app.genesis import Genesis
from healthledger.client.sdk import Signer
from healthledger.crypto.canonical import parse_json
from healthledger.crypto.keys import KeyPair, derive_patient_id
from healthledger.domains.governance.messages import MEMBER_ROLES
from healthledger.domains.records.donation import ORGANS
from healthledger.domains.records.messages import POWERS, PURPOSES, intent_message
from healthledger.domains.shared.gln import with_check_digit
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.domains.supply.ti import STATEMENT_SHA256
from healthledger.ledger.block import TxResult
from healthledger.ledger.store import Store

Draw = Callable[[st.SearchStrategy[Any]], Any]

T0_MS = 1_700_000_000_000
BLOCK_MS = 60_000
DAY_MS = 86_400_000

FOUNDERS: dict[str, str] = {
    "st-marys": "hospital",
    "valley-clinic": "clinic",
    "city-lab": "laboratory",
    "acme-insurance": "insurer",
    "medico-pharma": "manufacturer",
    "generico": "manufacturer",
    "dist-co": "distributor",
    "corner-pharmacy": "pharmacy",
    "town-pharmacy": "pharmacy",
    "fda": "regulator",
    "old-supplier": "distributor",
    "med-board": "board",
    "state-univ": "university",
}
REMOVED_ORG = "old-supplier"  # removed by quorum in the first blocks: a sender that was an org
VALIDATING_FOUNDERS = ("st-marys", "dist-co", "fda", "old-supplier")
CANDIDATES: dict[str, str] = {"new-hospital": "hospital", "new-wholesaler": "distributor"}
MEMBERS: tuple[tuple[str, str, str], ...] = (
    ("st-marys", "dr-ada", "practitioner"),
    ("st-marys", "nurse-ben", "nurse"),
    ("st-marys", "clerk-cy", "staff"),
    ("valley-clinic", "dr-dan", "practitioner"),
    ("acme-insurance", "dr-eve", "practitioner"),  # an insurer's "practitioner": attack 4
    ("corner-pharmacy", "pharm-fay", "pharmacist"),
    ("dist-co", "courier-gus", "courier"),
    ("city-lab", "tech-hal", "technician"),
    ("medico-pharma", "rep-ivy", "researcher"),
    ("st-marys", "coord-kim", "coordinator"),
    ("acme-insurance", "coord-lou", "coordinator"),  # an insurer's "coordinator": refused
)
PATIENTS = ("alice", "bruno", "carla")
STRANGER = "stranger"  # a key the ledger never sees registered

TRADING = ("manufacturer", "distributor", "pharmacy", "hospital", "clinic")
CUSTODIAN_ROLES = ("hospital", "clinic", "laboratory", "pharmacy")
CARE_GIVING = ("hospital", "clinic")


def _gtin(body: str) -> str:
    return body + str(gtin_check_digit(body))


def sscc(number: int) -> str:
    """A valid SSCC (extension 0, company prefix 0312345, serial reference `number`)."""
    body = f"00312345{number:09d}"
    return body + str(gtin_check_digit(body))


GTINS: dict[str, str] = {
    _gtin("0031234500001"): "medico-pharma",
    _gtin("0031234500002"): "medico-pharma",
    _gtin("0099999900001"): "generico",
}
LOTS = {"L1": "2030-01-31", "L2": "2031-06-30"}
SERIALS = tuple(str(n) for n in range(1, 9))
SSCCS = tuple(sscc(n) for n in range(1, 7))
UNKNOWN_PACKAGE = f"{next(iter(GTINS))}:unknown"
RECORD_IDS = tuple(f"rec-{n:024x}" for n in range(1, 7))
CONSENT_IDS = tuple(f"cns-{n:024x}" for n in range(1, 5))
APPOINTMENT_IDS = tuple(f"app-{n:024x}" for n in range(1, 5))
BLOB_IDS = tuple(f"{n:064x}" for n in (0xB1, 0xB2, 0xB3))
UNKNOWN_PATIENT = "pat_" + "0" * 32
# A wrapped data key is opaque to the ledger; a fixed one keeps examples reproducible.
WRAPPED_KEY = base64.b64encode(bytes(range(80))).decode()


def keys_for(name: str) -> KeyPair:
    """Deterministic keys for anyone the test invents (genesis orgs use conftest's seeds)."""
    if name in FOUNDERS:
        return seeded_keys(name)
    return KeyPair.from_seed(hashlib.sha256(b"random-sequences/" + name.encode()).digest())


def org_spec(org_id: str, role: str, keys: KeyPair, validator: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "id": org_id,
        "name": org_id.title(),
        "role": role,
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    if validator is not None:
        spec["validator"] = {"pub_key": validator, "power": 10}
    if len(org_id) % 3 == 0:  # some organisations name a country, some do not
        spec["country"] = "FR" if len(org_id) % 2 else "GB"
    return spec


def validator_key(org_id: str) -> str:
    return keys_for(f"{org_id}/validator").key_id


def genesis() -> Genesis:
    """Eleven founders of every trading and caring role; quorum one half, so random votes
    reach it now and then."""
    base = make_genesis(list(FOUNDERS.items())).model_dump()
    for org in base["organisations"]:
        if org["id"] in VALIDATING_FOUNDERS:
            org["validator"] = {"pub_key": validator_key(org["id"]), "power": 10}
        else:
            del org["validator"]
        if org["id"] == "generico":  # a founder holding GLNs from genesis, one of the pool's
            org["glns"] = {"party": with_check_digit("401234500000"), "locations": [GLN_POOL[5]]}
    base["admission_quorum"] = {"numerator": 1, "denominator": 2}
    return Genesis.model_validate(base)


def likely(draw: Draw) -> bool:
    """True four times in five; shrinks toward True (the plausible branch)."""
    return bool(draw(st.integers(0, 4)) != 4)


def pick(draw: Draw, options: Iterable[Any], fallback: Any) -> Any:
    ordered = sorted(set(options))
    return draw(st.sampled_from(ordered)) if ordered else fallback


def some(draw: Draw, options: Iterable[Any], max_size: int = 3) -> list[Any]:
    """A short list drawn from options, duplicates allowed (a named-twice case for free)."""
    ordered = sorted(set(options))
    if not ordered:
        return []
    return list(draw(st.lists(st.sampled_from(ordered), min_size=1, max_size=max_size)))


@dataclass(frozen=True)
class Planned:
    """A transaction to sign: who sends it, what, and what the test learns if it succeeds."""

    sender: str
    type: str
    payload: dict[str, Any]
    after: Callable[[TxResult], None] | None = None


@dataclass
class World:
    """What builders draw from: named signers and the committed state of one application."""

    store: Store
    signers: dict[str, Signer] = field(default_factory=dict)
    patient_names: dict[str, str] = field(default_factory=dict)  # patient id -> signer name
    time_ms: int = T0_MS  # of the last committed block
    _counter: int = 0
    _cache: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    # --- signers ---------------------------------------------------------------

    def add_signer(self, name: str, keys: KeyPair | None = None) -> Signer:
        self.signers[name] = Signer(keys or keys_for(name), CHAIN)
        return self.signers[name]

    def replace_keys(self, name: str, keys: KeyPair) -> None:
        """The sender now signs with `keys`; the old signer stays, as a revoked key."""
        self.signers[self.fresh(f"{name}~retired")] = self.signers[name]
        self.signers[name] = Signer(keys, CHAIN)

    def fresh(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def sender(self, draw: Draw, plausible: Iterable[str]) -> str:
        usable = [name for name in plausible if name in self.signers]
        if usable and likely(draw):
            return str(pick(draw, usable, None))
        return str(pick(draw, self.signers, None))

    def person_name(self, ref: str) -> str | None:
        """The signer of a person reference (`pat_…` or `org/member`), if the test has one."""
        name = self.patient_names.get(ref, ref)
        return name if name in self.signers else None

    # --- committed state ---------------------------------------------------------

    def committed(self, time_ms: int) -> None:
        self.time_ms = time_ms
        self._cache.clear()

    def next_time_ms(self) -> int:
        return self.time_ms + BLOCK_MS

    def scan(self, ns: str, prefix: str) -> dict[str, Any]:
        if (ns, prefix) not in self._cache:
            rows = self.store.state_scan(ns, prefix, limit=10_000_000)
            self._cache[(ns, prefix)] = {key[len(prefix) :]: parse_json(v) for key, v in rows}
        return self._cache[(ns, prefix)]

    def orgs(self) -> dict[str, Any]:
        return self.scan("gov", "org/")

    def active_orgs(self, roles: Sequence[str] = ()) -> list[str]:
        return [
            org_id
            for org_id, org in self.orgs().items()
            if org["status"] == "active" and (not roles or org["role"] in roles)
        ]

    def members(self) -> dict[str, Any]:
        """`org/member` -> member record."""
        return self.scan("gov", "member/")

    def patients(self) -> list[str]:
        return list(self.scan("gov", "patient/"))

    def proposals(self) -> dict[str, Any]:
        return self.scan("gov", "proposal/")

    def gln_holders(self) -> dict[str, Any]:
        """GLN -> its holder record (`gln/`)."""
        return self.scan("gov", "gln/")

    def org_glns(self) -> dict[str, Any]:
        """Organisation -> its GLNs (`glns/`)."""
        return self.scan("gov", "glns/")

    def capabilities(self) -> dict[str, Any]:
        """`org` or `org/member` -> {"granted": {capability: granting proposal}}."""
        return self.scan("gov", "cap/")

    def holders(self, capability: str) -> list[str]:
        """Organisations holding a capability now (members: if passed on under that grant)."""
        caps = self.capabilities()
        orgs = {o: c["granted"] for o, c in caps.items() if "/" not in o}
        return [
            holder
            for holder, c in caps.items()
            if capability in c["granted"]
            and orgs.get(holder.split("/", 1)[0], {}).get(capability) == c["granted"][capability]
        ]

    def packages(self) -> dict[str, Any]:
        return {key.replace("/", ":", 1): v for key, v in self.scan("supply", "pkg/").items()}

    def containers(self) -> dict[str, Any]:
        return self.scan("supply", "sscc/")

    def items(self) -> dict[str, Any]:
        return {**self.packages(), **self.containers()}

    def recalls(self) -> dict[str, Any]:
        return self.scan("supply", "recall/")

    def transactions(self) -> dict[str, Any]:
        """TI id -> DSCSA transaction information record."""
        return self.scan("supply", "ti/")

    def records(self) -> dict[str, Any]:
        return self.scan("records", "record/")

    def consents(self) -> dict[str, Any]:
        return self.scan("records", "consent/")

    def appointments(self) -> dict[str, Any]:
        return self.scan("records", "appointment/")

    def persons(self) -> list[str]:
        return [*self.patients(), *self.members()]

    def credentials(self) -> dict[str, Any]:
        """Credential id -> anchor."""
        return self.scan("credentials", "cred/")

    def external_issuers(self) -> dict[str, Any]:
        return self.scan("credentials", "extissuer/")


Builder = Callable[[Draw, World], Planned]

# --- governance ----------------------------------------------------------------------


def org_propose(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, w.active_orgs())
    if draw(st.booleans()):
        target = pick(draw, [*CANDIDATES, *FOUNDERS], "nobody")
        role = CANDIDATES.get(target) or FOUNDERS.get(target, "hospital")
        keys = keys_for(target) if likely(draw) else keys_for(pick(draw, FOUNDERS, "x"))
        validator = draw(st.sampled_from([validator_key(target), validator_key("fda"), None]))
        payload: dict[str, Any] = {
            "action": "add",
            "org": org_spec(target, role, keys, validator),
        }
    else:
        # Favour targets that already have a proposal: the same removal twice.
        open_targets = [p["org_id"] for p in w.proposals().values() if p["status"] == "open"]
        pool = open_targets if open_targets and likely(draw) else [*FOUNDERS, *CANDIDATES]
        payload = {"action": "remove", "org_id": pick(draw, pool, "nobody")}
    if draw(st.integers(0, 9)) == 0:  # both fields, or neither: malformed on purpose
        payload = {**payload, "org_id": sender} if "org" in payload else {"action": "add"}
    return Planned(sender, "org.propose", payload)


def org_approve(draw: Draw, w: World) -> Planned:
    proposals = w.proposals()
    open_ids = [pid for pid, p in proposals.items() if p["status"] == "open"]
    proposal_id = pick(
        draw, open_ids if open_ids and likely(draw) else proposals, "prop-" + "0" * 16
    )
    voted = proposals.get(proposal_id, {}).get("approvals", [])
    sender = w.sender(draw, [o for o in w.active_orgs() if o not in voted] or w.active_orgs())
    return Planned(sender, "org.approve", {"proposal_id": proposal_id})


# "astronaut": declared by no one
CAPABILITY_NAMES = ("inspector", "inspector", "ce_provider", "astronaut")


def capability_propose(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, w.active_orgs())
    holders = w.holders("inspector")
    target = pick(draw, w.active_orgs() if likely(draw) else [*FOUNDERS, *CANDIDATES], "fda")
    action = "withdraw" if target in holders and likely(draw) else "grant"
    if not likely(draw):
        action = draw(st.sampled_from(["grant", "withdraw"]))
    capability = draw(st.sampled_from(CAPABILITY_NAMES))
    payload = {"action": action, "org_id": target, "capability": capability}
    return Planned(sender, "capability.propose", payload)


# A few GLNs every organisation may fight over, and one whose check digit is wrong.
GLN_POOL = tuple(with_check_digit(f"0614141{n:05d}") for n in range(6))
BAD_GLN = GLN_POOL[0][:-1] + str((int(GLN_POOL[0][-1]) + 1) % 10)


def _glns(draw: Draw, pool: Sequence[str]) -> list[str]:
    """A few GLNs, mostly from `pool`, sometimes a bad one or a repeat (from `some`)."""
    chosen = some(draw, pool if pool and likely(draw) else GLN_POOL, 3)
    if draw(st.integers(0, 9)) == 0:
        chosen.append(BAD_GLN)
    return chosen


def gln_claim(draw: Draw, w: World) -> Planned:
    """Claims of the shared pool: two organisations often race for one GLN."""
    sender = w.sender(draw, w.active_orgs())
    payload: dict[str, Any] = {"locations": _glns(draw, GLN_POOL)}
    if draw(st.booleans()):
        payload["party"] = pick(draw, [*GLN_POOL, BAD_GLN], GLN_POOL[0])
    return Planned(sender, "gln.claim", payload)


def gln_release(draw: Draw, w: World) -> Planned:
    """Mostly a holder freeing its own; sometimes a proposal to free another's, or junk."""
    holders = w.gln_holders()
    sender = w.sender(draw, {h["org"] for h in holders.values()} or w.active_orgs())
    own = [gln for gln, h in holders.items() if h["org"] == sender]
    payload: dict[str, Any] = {"glns": _glns(draw, own)}
    if not likely(draw) and holders:
        gln = pick(draw, holders, GLN_POOL[0])
        payload = {"glns": [gln], "org_id": holders[gln]["org"]}
    return Planned(sender, "gln.release", payload)


def member_capability(draw: Draw, w: World) -> Planned:
    org = w.sender(draw, w.holders("inspector") or w.active_orgs())
    own = [ref.split("/", 1)[1] for ref in w.members() if ref.startswith(org + "/")]
    member_id = pick(draw, own if own and likely(draw) else ["m-one", "dr-ada"], "m-one")
    action = draw(st.sampled_from(["grant", "grant", "withdraw"]))
    capability = draw(st.sampled_from(CAPABILITY_NAMES))
    payload = {"action": action, "member_id": member_id, "capability": capability}
    return Planned(org, "member.capability", payload)


def member_enroll(draw: Draw, w: World) -> Planned:
    org = w.sender(draw, w.active_orgs())
    member_id = pick(draw, ["m-one", "m-two", *(m for _, m, _ in MEMBERS)], "m-one")
    name = f"{org}/{member_id}"
    keys = keys_for(name) if likely(draw) else w.signers[pick(draw, w.signers, STRANGER)].keys
    role = draw(st.sampled_from(["practitioner", "nurse", *MEMBER_ROLES]))
    payload = {
        "member_id": member_id,
        "name": member_id,
        "role": role,
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }

    def learn(result: TxResult) -> None:
        if result.ok and name not in w.signers:
            w.add_signer(name, keys)

    return Planned(org, "member.enroll", payload, learn)


def member_revoke(draw: Draw, w: World) -> Planned:
    org = w.sender(draw, w.active_orgs())
    own = [ref.split("/", 1)[1] for ref in w.members() if ref.startswith(org + "/")]
    member_id = pick(draw, own if own and likely(draw) else ["m-one", "dr-ada"], "m-one")
    return Planned(org, "member.revoke", {"member_id": member_id, "reason": "left"})


def key_rotate(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, w.signers)
    fresh = w.fresh(f"{sender}#key")
    keys = keys_for(fresh) if likely(draw) else w.signers[pick(draw, w.signers, sender)].keys
    payload = {"signing_key": keys.key_id, "encryption_key": keys.encryption_public.hex()}

    def learn(result: TxResult) -> None:
        if result.ok:
            w.replace_keys(sender, keys)

    return Planned(sender, "key.rotate", payload, learn)


def patient_register(draw: Draw, w: World) -> Planned:
    if likely(draw):
        name = w.fresh("patient-")
        w.add_signer(name)
    else:  # someone already known registers (again)
        name = pick(draw, [n for n in w.signers if n != STRANGER], "alice")
    keys = w.signers[name].keys
    patient_id = derive_patient_id(keys.key_id)

    def learn(result: TxResult) -> None:
        if result.ok:
            w.patient_names.setdefault(patient_id, name)

    return Planned(name, "patient.register", patient_register_payload(keys, CHAIN), learn)


def patient_guardians(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, w.patient_names.values())
    own = derive_patient_id(w.signers[sender].keys.key_id)
    guardians = some(draw, [*w.persons(), own, UNKNOWN_PATIENT], max_size=4)
    threshold = draw(st.integers(1, len(guardians) + 1))
    payload = {"guardians": guardians, "threshold": threshold}
    return Planned(sender, "patient.guardians", payload)


def patient_recover(draw: Draw, w: World) -> Planned:
    patients = w.scan("gov", "patient/")
    guarded = [pid for pid, p in patients.items() if p.get("guardians")]
    patient = pick(draw, guarded if guarded and likely(draw) else patients, UNKNOWN_PATIENT)
    guardians = patients.get(patient, {}).get("guardians", [])
    plausible = [n for n in (w.person_name(g) for g in guardians) if n is not None]
    sender = w.sender(draw, plausible)
    keys = keys_for(f"{patient}#recovered{draw(st.integers(0, 1))}")
    payload = {
        "patient": patient,
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }

    def learn(result: TxResult) -> None:
        recovered = any(e["type"] == "patient.recovered" for e in result.events)
        name = w.patient_names.get(patient)
        if recovered and name is not None:
            w.replace_keys(name, keys)

    return Planned(sender, "patient.recover", payload, learn)


# --- records -------------------------------------------------------------------------


def record_add(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, w.active_orgs(CUSTODIAN_ROLES))
    authors = [ref for ref in w.members() if ref.startswith(sender + "/")]
    records = w.records()
    payload: dict[str, Any] = {
        "record_id": pick(draw, RECORD_IDS, RECORD_IDS[0]),
        "patient": pick(draw, w.patients() if likely(draw) else [UNKNOWN_PATIENT], "x"),
        "resource_type": draw(st.sampled_from(["Observation", "Condition"])),
        "code": "http://loinc.org|8867-4",
        "date": "2026-03-02",
        "media_type": "application/fhir+json",
        "content_hash": "a" * 64,
        "blob_id": pick(draw, BLOB_IDS, BLOB_IDS[0]),
        "size": 120,
        "wrapped_keys": {"patient": WRAPPED_KEY, "custodian": WRAPPED_KEY},
    }
    if draw(st.booleans()):
        payload["author"] = pick(draw, authors if likely(draw) else w.members(), "x/y")
    if records and draw(st.integers(0, 3)) == 0:
        payload["replaces"] = pick(draw, records, RECORD_IDS[0])
    return Planned(sender, "record.add", payload)


def record_import(draw: Draw, w: World) -> Planned:
    """A custodian imports a few records at once: ids and ciphertexts may repeat or be taken."""
    sender = w.sender(draw, w.active_orgs(CUSTODIAN_ROLES))
    authors = [ref for ref in w.members() if ref.startswith(sender + "/")]
    entries = [
        {
            "record_id": pick(draw, RECORD_IDS, RECORD_IDS[0]),
            "resource_type": draw(st.sampled_from(["Goal", "ServiceRequest", "Patient"])),
            "code": draw(st.sampled_from(["", "http://snomed.info/sct|289169006"])),
            "date": draw(st.sampled_from(["", "2026-03-02"])),
            "content_hash": "b" * 64,
            "blob_id": pick(draw, BLOB_IDS, BLOB_IDS[0]),
            "size": 300,
            "wrapped_keys": {"patient": WRAPPED_KEY, "custodian": WRAPPED_KEY},
        }
        for _ in range(draw(st.integers(1, 3)))
    ]
    payload: dict[str, Any] = {
        "patient": pick(draw, w.patients() if likely(draw) else [UNKNOWN_PATIENT], "x"),
        "entries": entries,
    }
    if draw(st.booleans()):
        payload["author"] = pick(draw, authors if likely(draw) else w.members(), "x/y")
    return Planned(sender, "record.import", payload)


def _appointment_for(draw: Draw, w: World, sender: str, patient: str) -> str | None:
    """An appointment naming the sender as representative of `patient`, or any, or none."""
    own = [
        a_id
        for a_id, a in w.appointments().items()
        if a["patient"] == patient and w.person_name(a["representative"]) == sender
    ]
    if own and likely(draw):
        return str(pick(draw, own, None))
    if draw(st.booleans()):
        return None
    return pick(draw, w.appointments(), None)  # type: ignore[no-any-return]


def record_shred(draw: Draw, w: World) -> Planned:
    records = w.records()
    record_id = pick(draw, records if likely(draw) else RECORD_IDS, RECORD_IDS[0])
    record = records.get(record_id, {"custodian": "st-marys", "patient": UNKNOWN_PATIENT})
    patient_name = w.patient_names.get(record["patient"])
    sender = w.sender(draw, [record["custodian"], *([patient_name] if patient_name else [])])
    payload: dict[str, Any] = {"record_id": record_id, "reason": "patient_request"}
    appointment = _appointment_for(draw, w, sender, record["patient"])
    if appointment is not None:
        payload["appointment_id"] = appointment
    return Planned(sender, "record.shred", payload)


BREAK_GLASS_REASON = "patient unconscious in the emergency room"


def _plausible_reader(draw: Draw, w: World, record: dict[str, Any]) -> tuple[str, str] | None:
    """A (reader ref, basis) that may well succeed on `record`: its patient reading their
    own, or a clinician of a hospital or clinic under break-glass."""
    care = set(w.active_orgs(["hospital", "clinic"]))
    clinicians = [
        ref
        for ref, m in w.members().items()
        if m["status"] == "active" and m["org"] in care and m["role"] in ("practitioner", "nurse")
    ]
    options = [(record["patient"], "self")] if record.get("patient") else []
    options += [(ref, "break_glass") for ref in clinicians]
    return draw(st.sampled_from(options)) if options else None


def record_access(draw: Draw, w: World) -> Planned:
    if draw(st.integers(0, 3)) == 0:
        return _donation_question(draw, w)
    records = w.records()
    readers = [*w.persons(), *w.orgs()]
    reader_ref = pick(draw, readers, "alice")
    basis = draw(
        st.sampled_from(["break_glass", "self", "custodian", "author", "consent", "representative"])
    )
    chosen: str | None = None
    if records and likely(draw):
        chosen = pick(draw, records, None)
        plausible = _plausible_reader(draw, w, records[chosen])
        if plausible is not None:
            reader_ref, basis = plausible
    reader_name = w.person_name(reader_ref) or pick(draw, w.signers, STRANGER)
    locate = basis == "break_glass" and draw(st.booleans())
    if chosen is not None:
        record_id = None if locate else chosen
    else:
        record_id = None if locate else pick(draw, records if likely(draw) else RECORD_IDS, None)
    record = records.get(record_id or "", {})
    patient = record.get("patient") or pick(draw, w.patients(), UNKNOWN_PATIENT)
    reader_org = w.members().get(reader_ref, {}).get("org")
    custodian = reader_org if locate else record.get("custodian")
    sender = w.sender(draw, [custodian] if custodian else [])
    emergency = basis == "break_glass" and likely(draw)
    payload: dict[str, Any] = {
        "action": "locate" if locate else "read",
        "patient": patient,
        "reader": w.signers[reader_name].key_id,
        "purpose": "emergency" if emergency else draw(st.sampled_from(PURPOSES)),
        "basis": basis,
        "request_id": hashlib.sha256(w.fresh("request").encode()).hexdigest(),
    }
    if record_id is not None:
        payload["record_id"] = record_id
    if basis == "break_glass":
        # the reason itself is a vault note: the chain sees its salted hash only
        payload["reason_hash"] = hashlib.sha256(BREAK_GLASS_REASON.encode()).hexdigest()
    if basis == "consent":
        payload["consent_id"] = pick(draw, w.consents() or CONSENT_IDS, CONSENT_IDS[0])
    if basis == "representative":
        payload["appointment_id"] = pick(draw, w.appointments() or APPOINTMENT_IDS, None)
    # The reader's own signature of what they asked, most often genuine, sometimes made by
    # someone else (a custodian recording reads in another's name).
    signer = w.signers[reader_name if likely(draw) else pick(draw, w.signers, reader_name)]
    subject = (record_id if payload["action"] == "read" else patient) or ""
    nonce = hashlib.sha256(w.fresh("intent").encode()).hexdigest()[:32]
    glass = basis == "break_glass"
    message = intent_message(
        CHAIN,
        payload["action"],
        subject,
        payload["purpose"],
        payload.get("reason_hash") if glass else None,
        w.next_time_ms(),
        nonce,
    )
    payload["intent"] = {
        "time_ms": w.next_time_ms(),
        "nonce": nonce,
        "reason_hash": payload.get("reason_hash") if glass else None,
        "signature": signer.keys.sign(message).hex(),
    }
    return Planned(sender, "record.access", payload)


def _donation_question(draw: Draw, w: World) -> Planned:
    """A transplant coordinator's question about a patient's donation decision, most often
    by a coordinator through their own organisation, for `transplant`; or by anyone."""
    coordinators = [ref for ref, m in w.members().items() if m["role"] == "coordinator"]
    reader_ref = pick(draw, coordinators if likely(draw) else w.persons(), "alice")
    reader_name = w.person_name(reader_ref) or pick(draw, w.signers, STRANGER)
    reader_org = w.members().get(reader_ref, {}).get("org")
    sender = w.sender(draw, [reader_org] if reader_org else [])
    patient = pick(draw, w.patients(), UNKNOWN_PATIENT)
    purpose = draw(st.sampled_from(PURPOSES)) if draw(st.integers(0, 7)) == 0 else "transplant"
    nonce = hashlib.sha256(w.fresh("intent").encode()).hexdigest()[:32]
    signer = w.signers[reader_name if likely(draw) else pick(draw, w.signers, reader_name)]
    message = intent_message(CHAIN, "donation", patient, purpose, None, w.next_time_ms(), nonce)
    payload: dict[str, Any] = {
        "action": "donation",
        "patient": patient,
        "reader": w.signers[reader_name].key_id,
        "purpose": purpose,
        "basis": "break_glass" if draw(st.integers(0, 7)) == 0 else "coordinator",
        "request_id": hashlib.sha256(w.fresh("request").encode()).hexdigest(),
        "intent": {
            "time_ms": w.next_time_ms(),
            "nonce": nonce,
            "reason_hash": None,
            "signature": signer.keys.sign(message).hex(),
        },
    }
    return Planned(sender, "record.access", payload)


def _organs(draw: Draw, decision: str) -> list[str]:
    """Organs that fit the decision (most often), or a mistake: duplicates, 'all' with
    others, organs when not donating, none when donating."""
    if not likely(draw):
        return list(draw(st.lists(st.sampled_from(ORGANS), max_size=4)))
    if decision == "do_not_donate":
        return []
    if draw(st.integers(0, 3)) == 0:
        return ["all"]
    return sorted(set(some(draw, [o for o in ORGANS if o != "all"], max_size=5)))


def _donation_actor(draw: Draw, w: World, plausible: Sequence[str] = ()) -> tuple[str, str]:
    """A sender and the patient they act for: most often themselves."""
    sender = w.sender(draw, plausible or w.patient_names.values())
    own = derive_patient_id(w.signers[sender].keys.key_id)
    patient = own if likely(draw) else pick(draw, [*w.patients(), UNKNOWN_PATIENT], own)
    return sender, patient


def donation_decide(draw: Draw, w: World) -> Planned:
    sender, patient = _donation_actor(draw, w)
    decision = draw(st.sampled_from(["donate", "do_not_donate"]))
    payload: dict[str, Any] = {
        "patient": patient,
        "decision": decision,
        "organs": _organs(draw, decision),
        "research": draw(st.booleans()),
    }
    appointment = _appointment_for(draw, w, sender, patient)
    if appointment is not None:
        payload["appointment_id"] = appointment
    return Planned(sender, "donation.decide", payload)


def donation_withdraw(draw: Draw, w: World) -> Planned:
    decided = [
        name
        for patient, d in w.scan("records", "donation/").items()
        if "/" not in patient
        and d["status"] == "current"
        and (name := w.patient_names.get(patient)) in w.signers
    ]
    sender, patient = _donation_actor(draw, w, decided)
    payload: dict[str, Any] = {"patient": patient}
    appointment = _appointment_for(draw, w, sender, patient)
    if appointment is not None:
        payload["appointment_id"] = appointment
    return Planned(sender, "donation.withdraw", payload)


def _grantee(draw: Draw, w: World) -> dict[str, Any]:
    kind = draw(st.sampled_from(["org", "member", "role"]))
    if kind == "member":
        ref = pick(draw, w.members(), "st-marys/dr-ada")
        return {"kind": "member", "org": ref.split("/", 1)[0], "member": ref}
    org = pick(draw, w.orgs(), "st-marys")
    if kind == "role":
        return {"kind": "role", "org": org, "role": draw(st.sampled_from(MEMBER_ROLES))}
    return {"kind": "org", "org": org}


def _expiry(draw: Draw, w: World) -> int:
    """Later today (most often), within a few blocks, or already past."""
    offset = draw(st.sampled_from([DAY_MS, 3 * BLOCK_MS, 0]))
    return w.next_time_ms() + offset


ENDPOINTS = ["http://127.0.0.1:8700", "https://node.example.org/hl", "http://10.0.0.2:1"]
BAD_ENDPOINTS = ["ftp://x.example:1", "http://u:p@h.example:1", "http://h.example:1/#f"]


def org_endpoint(draw: Draw, w: World) -> Planned:
    """A directory entry: mostly well formed, sometimes a bad URL, a duplicate, an odd replica."""
    sender = w.sender(draw, w.active_orgs())
    urls = some(draw, ENDPOINTS + (BAD_ENDPOINTS if draw(st.integers(0, 4)) == 0 else []), 4)
    if urls and draw(st.integers(0, 9)) == 0:
        urls = [*urls, urls[0]]
    payload: dict[str, Any] = {
        "endpoints": urls,
        "node_key": keys_for(f"{sender}/node").key_id,
    }
    if draw(st.booleans()):
        payload["replica"] = pick(draw, [*w.orgs(), "nobody", sender], "nobody")
    if draw(st.integers(0, 3)) == 0:
        payload["replica_for"] = some(draw, [*w.orgs(), "nobody", sender], 3)
    return Planned(sender, "org.endpoint", payload)


COUNTRY_CHOICES = ["FR", "GB", "DE", "xx"]


def consent_grant(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, [*w.patient_names.values(), *w.members()])
    own = w.signers[sender].keys.key_id
    patient = derive_patient_id(own) if likely(draw) else pick(draw, w.patients(), "x")
    mine = [r_id for r_id, r in w.records().items() if r["patient"] == patient]
    scope = some(draw, mine if mine and likely(draw) else RECORD_IDS) if draw(st.booleans()) else []
    payload: dict[str, Any] = {
        "consent_id": pick(draw, CONSENT_IDS, CONSENT_IDS[0]),
        "patient": patient,
        "grantee": _grantee(draw, w),
        "record_ids": sorted(set(scope)),
        "purposes": sorted(set(some(draw, PURPOSES))),
        "expires_ms": _expiry(draw, w),
        "wrapped_keys": {r_id: WRAPPED_KEY for r_id in scope},
    }
    if draw(st.integers(0, 3)) == 0:  # a consent limited to organisations of some countries
        payload["countries"] = sorted(set(some(draw, COUNTRY_CHOICES)))
    appointment = _appointment_for(draw, w, sender, patient)
    if appointment is not None:
        payload["appointment_id"] = appointment
    return Planned(sender, "consent.grant", payload)


def consent_revoke(draw: Draw, w: World) -> Planned:
    consents = w.consents()
    consent_id = pick(draw, consents if likely(draw) else CONSENT_IDS, CONSENT_IDS[0])
    patient = consents.get(consent_id, {}).get("patient", UNKNOWN_PATIENT)
    sender = w.sender(draw, [n for n in [w.patient_names.get(patient)] if n])
    payload: dict[str, Any] = {"consent_id": consent_id, "reason": "withdrawn"}
    appointment = _appointment_for(draw, w, sender, patient)
    if appointment is not None:
        payload["appointment_id"] = appointment
    return Planned(sender, "consent.revoke", payload)


def representative_appoint(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, w.patient_names.values())
    own = derive_patient_id(w.signers[sender].keys.key_id)
    payload = {
        "appointment_id": pick(draw, APPOINTMENT_IDS, APPOINTMENT_IDS[0]),
        "representative": pick(draw, [*w.persons(), own, UNKNOWN_PATIENT], own),
        "relation": draw(st.sampled_from(["parent", "guardian", "proxy", "caregiver"])),
        "powers": sorted(set(some(draw, POWERS, max_size=5))),
        "until_ms": _expiry(draw, w),
    }
    return Planned(sender, "representative.appoint", payload)


def representative_end(draw: Draw, w: World) -> Planned:
    appointments = w.appointments()
    a_id = pick(draw, appointments if likely(draw) else APPOINTMENT_IDS, APPOINTMENT_IDS[0])
    a = appointments.get(a_id, {})
    parties = [w.person_name(a[k]) for k in ("patient", "representative") if k in a]
    sender = w.sender(draw, [n for n in parties if n])
    return Planned(sender, "representative.end", {"appointment_id": a_id})


def _successor(draw: Draw, w: World) -> str:
    """Mostly an organisation that keeps records; sometimes any, or none at all."""
    keepers = w.active_orgs(CUSTODIAN_ROLES)
    return str(pick(draw, keepers if likely(draw) else [*w.orgs(), "nobody"], "st-marys"))


def custody_offer(draw: Draw, w: World) -> Planned:
    records = w.records()
    holders = sorted({r["custodian"] for r in records.values() if r["status"] != "shredded"})
    sender = w.sender(draw, holders or w.active_orgs(CUSTODIAN_ROLES))
    own = [r_id for r_id, r in records.items() if r["custodian"] == sender]
    ids = some(draw, own if own and likely(draw) else RECORD_IDS)
    payload = {"successor": _successor(draw, w), "records": {r_id: WRAPPED_KEY for r_id in ids}}
    return Planned(sender, "custody.offer", payload)


def custody_accept(draw: Draw, w: World) -> Planned:
    records = w.records()
    offers = w.scan("records", "offer/")
    record_id = pick(
        draw, [o["record"] for o in offers.values()] if offers and likely(draw) else records, None
    )
    record = records.get(record_id or "", {})
    patient = record.get("patient", UNKNOWN_PATIENT)
    offered = next((o for o in offers.values() if o["record"] == record_id), None)
    successor = offered["successor"] if offered and likely(draw) else _successor(draw, w)
    sender = w.sender(draw, [n for n in [w.patient_names.get(patient)] if n])
    # Mostly the one offered record; sometimes another beside it (all move, or none).
    extra = [] if likely(draw) else some(draw, RECORD_IDS, max_size=1)
    ids = [record_id or RECORD_IDS[0], *extra]
    keys = {r_id: (None if draw(st.booleans()) else WRAPPED_KEY) for r_id in ids}
    payload: dict[str, Any] = {"patient": patient, "successor": successor, "records": keys}
    appointment = _appointment_for(draw, w, sender, patient)
    if appointment is not None:
        payload["appointment_id"] = appointment
    return Planned(sender, "custody.accept", payload)


# --- supply ----------------------------------------------------------------------------


def _items(draw: Draw, w: World, holder: str, wanted: Callable[[dict[str, Any]], bool]) -> list:
    """Items, mostly unpacked ones matching `wanted` for `holder`; sometimes anything at all."""
    items = w.items()
    fitting = [i for i, r in items.items() if r["container"] is None and wanted(r)]
    pool = fitting if fitting and likely(draw) else [*items, UNKNOWN_PACKAGE, SSCCS[-1]]
    return some(draw, pool)


def _owned_active(holder: str) -> Callable[[dict[str, Any]], bool]:
    return lambda r: r["owner"] == holder and r["status"] == "active"


def _holder(draw: Draw, w: World, roles: Sequence[str] = TRADING) -> str:
    """A sender that holds something, most often; else any organisation of these roles."""
    holders = {r["owner"] for r in w.items().values() if r["status"] == "active"}
    active = w.active_orgs(roles)
    return w.sender(draw, [o for o in active if o in holders] or active)


def supply_commission(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, w.active_orgs(["manufacturer"]))
    gtin = pick(draw, [g for g, maker in GTINS.items() if maker == sender] or GTINS, "x")
    lot = draw(st.sampled_from(sorted(LOTS)))
    expiry = LOTS[lot] if likely(draw) else "2029-12-31"
    payload = {"gtin": gtin, "lot": lot, "expiry": expiry, "serials": some(draw, SERIALS)}
    return Planned(sender, "supply.commission", payload)


def supply_aggregate(draw: Draw, w: World) -> Planned:
    sender = _holder(draw, w)
    containers = w.containers()
    empty = [s for s, c in containers.items() if not c["children"]]
    target = pick(draw, empty if empty and draw(st.booleans()) else SSCCS, SSCCS[0])
    payload = {"sscc": target, "items": _items(draw, w, sender, _owned_active(sender))}
    return Planned(sender, "supply.aggregate", payload)


def supply_disaggregate(draw: Draw, w: World) -> Planned:
    containers = w.containers()
    target = pick(draw, containers if likely(draw) else SSCCS, SSCCS[0])
    owner = containers.get(target, {}).get("owner")
    sender = w.sender(draw, [owner] if owner else [])
    return Planned(sender, "supply.disaggregate", {"sscc": target})


def _partner(draw: Draw, w: World, sender: str) -> str:
    partners = [o for o in w.active_orgs(TRADING) if o != sender]
    return str(pick(draw, partners if likely(draw) else [*FOUNDERS, *CANDIDATES], "fda"))


# A few business transaction ids, shared by every seller: the same id twice, by one seller
# or by two, comes up often.
BIZ_REFS = (("po", "PO-1"), ("po", "PO-2"), ("inv", "I-1"))


def _biz_refs(draw: Draw) -> list[dict[str, str]]:
    return [{"type": kind, "id": ref} for kind, ref in some(draw, BIZ_REFS, max_size=2)]


def supply_ship(draw: Draw, w: World) -> Planned:
    sender = _holder(draw, w)
    items = _items(draw, w, sender, _owned_active(sender))
    payload: dict[str, Any] = {"items": items, "to": _partner(draw, w, sender)}
    if draw(st.booleans()):  # under a TI: mostly one of the sender's own, to its buyer
        own = [r for r in w.transactions().values() if r["seller"] == sender]
        sale = pick(draw, [r["id"] for r in own], None) if own and likely(draw) else None
        record = w.transactions().get(sale or "", {})
        refs = record.get("biz_transactions") or _biz_refs(draw)
        payload["biz_transactions"] = refs
        if record and likely(draw):
            payload["to"] = record["buyer"]
    return Planned(sender, "supply.ship", payload)


def supply_transaction(draw: Draw, w: World) -> Planned:
    """A sale's TI: lines of known lots or not, or items held; now and then a wrong statement."""
    sender = _holder(draw, w)
    lines = [
        {"gtin": pick(draw, GTINS, "x"), "lot": lot, "quantity": draw(st.integers(1, 4))}
        for lot in some(draw, [*LOTS, "L9"], max_size=2)
    ]
    payload: dict[str, Any] = {
        "buyer": _partner(draw, w, sender),
        "biz_transactions": _biz_refs(draw),
        "lines": lines if likely(draw) else [],
        "statement": STATEMENT_SHA256 if likely(draw) else "0" * 64,
    }
    if draw(st.booleans()):
        payload["items"] = _items(draw, w, sender, _owned_active(sender))
    return Planned(sender, "supply.transaction", payload)


def supply_receive(draw: Draw, w: World) -> Planned:
    awaited = {r["to"] for r in w.items().values() if r["status"] == "in_transit"}
    sender = w.sender(draw, [o for o in awaited if o])
    items = _items(draw, w, sender, lambda r: r["to"] == sender)
    return Planned(sender, "supply.receive", {"items": items})


def supply_return(draw: Draw, w: World) -> Planned:
    sender = _holder(draw, w)
    items = _items(draw, w, sender, _owned_active(sender))
    payload = {"items": items, "to": _partner(draw, w, sender), "reason": "recalled lot"}
    return Planned(sender, "supply.return", payload)


def _package(draw: Draw, w: World, holder: str | None) -> tuple[str, str]:
    packages = w.packages()
    held = [i for i, r in packages.items() if holder is None or r["owner"] == holder]
    item = pick(draw, held if held and likely(draw) else [*packages, UNKNOWN_PACKAGE], "x")
    gtin, serial = item.split(":", 1)
    return gtin, serial


def supply_dispense(draw: Draw, w: World) -> Planned:
    sender = _holder(draw, w, ["pharmacy", "hospital", "clinic"])
    gtin, serial = _package(draw, w, sender)
    return Planned(sender, "supply.dispense", {"gtin": gtin, "serial": serial})


def supply_destroy(draw: Draw, w: World) -> Planned:
    sender = _holder(draw, w, [*TRADING, "regulator"])
    items = _items(draw, w, sender, lambda r: r["owner"] == sender or sender == "fda")
    return Planned(sender, "supply.destroy", {"items": items, "reason": "damaged"})


def supply_export(draw: Draw, w: World) -> Planned:
    sender = _holder(draw, w, ["manufacturer", "distributor"])
    items = _items(draw, w, sender, _owned_active(sender))
    country = draw(st.sampled_from(["DE", "FR"]))
    return Planned(sender, "supply.export", {"items": items, "country": country})


def supply_verify(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, w.active_orgs([*TRADING, "regulator"]))
    gtin, serial = _package(draw, w, sender if likely(draw) else None)
    record = w.packages().get(f"{gtin}:{serial}", {"lot": "L1", "expiry": LOTS["L1"]})
    lot = record["lot"] if likely(draw) else "L2"
    payload = {"gtin": gtin, "serial": serial, "lot": lot, "expiry": record["expiry"]}
    return Planned(sender, "supply.verify", payload)


def supply_quarantine(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, [*w.active_orgs(["regulator"]), *w.holders("inspector")])
    gtin, serial = _package(draw, w, None)
    payload = {"gtin": gtin, "serial": serial, "reason": "suspect counterfeit"}
    return Planned(sender, "supply.quarantine", payload)


def supply_quarantine_by(draw: Draw, w: World, sender: str) -> Planned:
    """A quarantine of a package that exists, by `sender`."""
    gtin, serial = _package(draw, w, None)
    payload = {"gtin": gtin, "serial": serial, "reason": "suspect counterfeit"}
    return Planned(sender, "supply.quarantine", payload)


def supply_clear(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, [*w.active_orgs(["regulator"]), *w.holders("inspector")])
    gtin, serial = _package(draw, w, None)
    return Planned(sender, "supply.clear", {"gtin": gtin, "serial": serial, "reason": "genuine"})


def supply_recall(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, w.active_orgs(["manufacturer", "regulator"]))
    gtin = pick(draw, [g for g, m in GTINS.items() if m == sender] or GTINS, "x")
    payload: dict[str, Any] = {"gtin": gtin, "reason": "contamination"}
    shape = draw(st.sampled_from(["lot", "range", "both"]))
    if shape in ("lot", "both"):
        payload["lot"] = draw(st.sampled_from(sorted(LOTS)))
    if shape in ("range", "both"):
        payload["serial_from"], payload["serial_to"] = "2", "5"
    return Planned(sender, "supply.recall", payload)


def supply_recall_ack(draw: Draw, w: World) -> Planned:
    recalls = w.recalls()
    recall_id = pick(draw, recalls, "rcl-" + "0" * 16)
    notified = recalls.get(recall_id, {}).get("notify", [])
    sender = w.sender(draw, notified)
    return Planned(sender, "supply.recall_ack", {"recall_id": recall_id})


def _epc(item: str) -> str:
    if ":" not in item:
        return f"https://id.gs1.org/00/{item}"
    gtin, serial = item.split(":", 1)
    return f"https://id.gs1.org/01/{gtin}/21/{quote(serial, safe='')}"


def _party(org: str) -> str:
    return f"urn:healthledger:org:{org}"


def _raw_event(draw: Draw, w: World, sender: str) -> dict[str, Any]:
    """A partner's event: the sender's own shipment, or a scan by anyone (an observation),
    at one of two times, so the same event comes back (replays, confirmations)."""
    minute = draw(st.sampled_from([0, 1]))
    base: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": f"2030-01-01T00:0{minute}:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
    }
    if draw(st.booleans()):
        source = sender if likely(draw) else pick(draw, w.active_orgs(TRADING), sender)
        items = _items(draw, w, source, _owned_active(source))
        return {
            **base,
            "epcList": [_epc(item) for item in items],
            "bizStep": "shipping",
            "disposition": "in_transit",
            "sourceList": [{"type": "owning_party", "source": _party(source)}],
            "destinationList": [
                {"type": "owning_party", "destination": _party(_partner(draw, w, source))}
            ],
        }
    gtin, serial = _package(draw, w, None)
    actor = sender if draw(st.booleans()) else pick(draw, w.active_orgs(TRADING), sender)
    event = {
        **base,
        "epcList": [_epc(f"{gtin}:{serial}")],
        "bizStep": draw(st.sampled_from(["inspecting", "storing", "urn:example:step:x"])),
        "readPoint": {"id": _party(actor)},
    }
    if draw(st.integers(0, 4)) == 0:
        event["errorDeclaration"] = {"declarationTime": "2030-01-02T00:00:00Z"}
    return event


def supply_epcis(draw: Draw, w: World) -> Planned:
    sender = _holder(draw, w, [*TRADING, "regulator"])
    events = [_raw_event(draw, w, sender) for _ in range(draw(st.integers(1, 3)))]
    texts = [json.dumps(event, separators=(",", ":")) for event in events]
    return Planned(sender, "supply.epcis", {"events": texts})


# EPCIS transformationIDs the builders share, so steps join, and other senders collide.
TRANSFORMATION_IDS = ("urn:epc:id:gdti:0614141.12345.400", "urn:example:kit-run")


def supply_transform(draw: Draw, w: World) -> Planned:
    """A repackaging: held items in, new serials out (sometimes one side, or a shared id)."""
    sender = _holder(draw, w, ["manufacturer"])
    payload: dict[str, Any] = {"inputs": [], "outputs": []}
    if likely(draw):
        payload["inputs"] = _items(draw, w, sender, _owned_active(sender))
    if likely(draw):
        gtin = pick(draw, [g for g, maker in GTINS.items() if maker == sender] or GTINS, "x")
        lot = draw(st.sampled_from(sorted(LOTS)))
        serials = some(draw, [f"T{n}" for n in range(1, 9)] if likely(draw) else SERIALS)
        payload["outputs"] = [{"gtin": gtin, "lot": lot, "expiry": LOTS[lot], "serials": serials}]
    if draw(st.booleans()):
        payload["transformation_id"] = draw(st.sampled_from(TRANSFORMATION_IDS))
    return Planned(sender, "supply.transform", payload)


def supply_product_range(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, w.active_orgs(["manufacturer"]))
    gtin = pick(draw, [g for g, maker in GTINS.items() if maker == sender] or GTINS, "x")
    low = draw(st.sampled_from([-20_000, 2000, 8000]))
    high = draw(st.sampled_from([8000, 25_000, 1000]))  # 1 °C: sometimes below the minimum
    return Planned(sender, "supply.product_range", {"gtin": gtin, "min_mc": low, "max_mc": high})


def supply_sensor(draw: Draw, w: World) -> Planned:
    """Readings by a holder, a receiver, a regulator, or anyone; often out of range."""
    sender = _holder(draw, w, [*TRADING, "regulator"])
    items = _items(draw, w, sender, lambda r: sender in (r["owner"], r["to"]))
    uom = draw(st.sampled_from(["CEL", "FAR", "KEL", "XYZ"]))
    value = draw(st.integers(-40_000, 320_000))
    reading: dict[str, Any] = {"type": "Temperature", "value": value, "uom": uom}
    if likely(draw):
        reading["max"] = value + draw(st.integers(0, 10_000))
    return Planned(sender, "supply.sensor", {"items": items, "readings": [reading]})


def supply_excursion_resolve(draw: Draw, w: World) -> Planned:
    excursions = w.scan("supply", "excursion/")
    number = pick(draw, [int(n) for n in excursions], 1)
    maker = excursions.get(f"{number:012d}", {}).get("manufacturer")
    sender = w.sender(draw, [maker] if maker else w.active_orgs(["manufacturer"]))
    decision = draw(st.sampled_from(["clear", "destroy"]))
    payload = {"number": number, "decision": decision, "reason": "stability data"}
    return Planned(sender, "supply.excursion_resolve", payload)


# --- credentials: the member's file (CE rules, shares, exclusions, PSV) -------------------

CE_CATEGORIES = ("AMA-1", "AMA-2", "ethics")
EXCLUSION_LISTS = ("LEIE", "state-sanctions")


def credential_ce_rule(draw: Draw, w: World) -> Planned:
    """A new version of a board's rule; sometimes not after the last one (refused)."""
    sender = w.sender(draw, w.active_orgs(["board"]))
    rules = w.scan("credentials", "cerule/").get(sender)
    last = rules["versions"][-1]["effective_from_ms"] if rules else T0_MS - 365 * DAY_MS
    categories = [
        {"category": c, "min_minutes": draw(st.sampled_from([60, 600, 3000]))}
        for c in (some(draw, CE_CATEGORIES) if draw(st.booleans()) else [])
    ]
    payload = {
        "minutes_per_cycle": draw(st.sampled_from([600, 2400, 0])),
        "categories": categories,
        "effective_from_ms": last + draw(st.sampled_from([DAY_MS, DAY_MS, 0, -1])),
    }
    return Planned(sender, "credential.ce_rule", payload)


def credential_share(draw: Draw, w: World) -> Planned:
    """A member shares their file or some of it (sometimes another's credentials)."""
    sender = w.sender(draw, [m for m in w.members() if m in w.signers])
    anchors = w.credentials()
    own = [cid for cid, a in anchors.items() if a["subject"] == sender]
    chosen: list[str] = []
    if draw(st.booleans()):
        chosen = some(draw, own if own and likely(draw) else [*anchors, "st-marys:nothing"])
    grantee = pick(draw, [*w.active_orgs(), *w.members()], "st-marys")
    until = w.next_time_ms() + draw(st.sampled_from([DAY_MS, 2 * BLOCK_MS, 0]))
    payload = {"grantee": grantee, "credentials": sorted(chosen), "until_ms": until}
    return Planned(sender, "credential.share", payload)


def credential_unshare(draw: Draw, w: World) -> Planned:
    shares = w.scan("credentials", "share/")
    share_id = pick(draw, shares, "st-marys/dr-ada:1")
    owner = shares.get(share_id, {}).get("member")
    sender = w.sender(draw, [owner] if owner else [])
    return Planned(sender, "credential.unshare", {"share": share_id})


def credential_exclusion(draw: Draw, w: World) -> Planned:
    """A regulator lists a member, or lifts its entry (mostly the one that applies)."""
    sender = w.sender(draw, w.active_orgs(["regulator"]))
    member = pick(draw, w.members(), "st-marys/dr-ada")
    record = w.scan("credentials", "exclusion/").get(member, {"entries": []})
    entry = next((e for e in record["entries"] if e["regulator"] == sender), None)
    standing = entry is not None and entry["active"]
    action = (
        ("lift" if standing else "add") if likely(draw) else draw(st.sampled_from(["add", "lift"]))
    )
    listed = entry["list"] if entry is not None and likely(draw) else None
    payload = {
        "action": action,
        "member": member,
        "reason": draw(st.sampled_from(["fraud", "1128a1", "reinstated"])),
        "list": listed or draw(st.sampled_from(EXCLUSION_LISTS)),
    }
    return Planned(sender, "credential.exclusion", payload)


def credential_psv(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, w.active_orgs())
    anchors = w.credentials()
    credential_id = pick(draw, anchors if likely(draw) else [], "st-marys:nothing")
    payload = {
        "credential_id": credential_id,
        "method": draw(st.sampled_from(["issuer_api", "board_website", "ledger"])),
        "result": draw(st.sampled_from(["ok", "ok", "discrepancy"])),
    }
    return Planned(sender, "credential.psv", payload)


def credential_psv_reuse(draw: Draw, w: World) -> Planned:
    """Another organisation relies on a PSV (sometimes the verifier itself: refused)."""
    psvs = {k: v for k, v in w.scan("credentials", "psv/").items() if isinstance(v, dict)}
    psv_id = pick(draw, psvs, "st-marys:nothing/1")
    verifier = psvs.get(psv_id, {}).get("verifier")
    sender = w.sender(draw, [o for o in w.active_orgs() if o != verifier])
    return Planned(sender, "credential.psv_reuse", {"psv": psv_id, "decision": "appointed"})


# --- credentials -------------------------------------------------------------------------

CREDENTIAL_ISSUERS = {
    "licence": ("board", "regulator"),
    "degree": ("university",),
    "certification": ("board",),
    "ce": ("university",),  # and holders of ce_provider
    "privilege": ("hospital", "clinic"),
}
CREDENTIAL_KINDS = tuple(CREDENTIAL_ISSUERS)
HANDLES = ("legacy-board", "overseas-univ", "fda")  # "fda": an organisation's id, refused
# Documents are held off chain: a credential's hash stands in for its signed document.
CREDENTIAL_HASH = hashlib.sha256(b"a signed credential").hexdigest()
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def did_key(public_key_hex: str, prefix: bytes = b"\xed\x01") -> str:
    number = int.from_bytes(prefix + bytes.fromhex(public_key_hex), "big")
    text = ""
    while number:
        number, digit = divmod(number, 58)
        text = _BASE58[digit] + text
    return "did:key:z" + text


def _credential_fields(draw: Draw, w: World, kind: str, subject: str) -> dict[str, Any]:
    """The fields of a CredentialIssue: mostly valid for a few hours to days from now."""
    now = w.next_time_ms()
    span = draw(st.sampled_from([None, 60_000, 3_600_000, DAY_MS, 3 * DAY_MS, -DAY_MS, 0]))
    payload: dict[str, Any] = {
        "local_id": draw(st.sampled_from(["c1", "c2", "c3", w.fresh("c")])),
        "subject": subject,
        "type": kind,
        "scope": f"{kind} in general practice",
        "jurisdiction": draw(st.sampled_from(["US-MA", "GB", "FR"])),
        "valid_from_ms": now - DAY_MS,
        "valid_until_ms": None if span is None else now + span,
        "hash": CREDENTIAL_HASH,
    }
    if kind == "ce" or not likely(draw):
        payload |= {"ce_minutes": draw(st.integers(1, 600)), "ce_category": "AMA-1"}
    creds = w.credentials()
    held = [c for c, a in creds.items() if a["subject"] == subject and a["type"] != "privilege"]
    if kind == "privilege" or not likely(draw):
        payload["depends_on"] = some(draw, held if held and likely(draw) else creds, 3)
    return payload


def credential_issue(draw: Draw, w: World) -> Planned:
    kind = draw(st.sampled_from(CREDENTIAL_KINDS))
    issuers = w.active_orgs(CREDENTIAL_ISSUERS[kind])
    sender = w.sender(draw, issuers + (w.holders("ce_provider") if kind == "ce" else []))
    subject = pick(draw, w.members() if likely(draw) else [*w.persons(), "st-marys/ghost"], "x/y")
    payload = _credential_fields(draw, w, kind, subject)
    if not likely(draw):  # name a slot: the next free one, or one taken
        slot = w.scan("credentials", "statusnext/").get(sender, {"list": 0, "index": 0})
        payload["status_list"] = slot["list"]
        payload["status_index"] = slot["index"] - draw(st.integers(0, 1))
    return Planned(sender, "credential.issue", payload)


def credential_status(draw: Draw, w: World) -> Planned:
    creds = w.credentials()
    credential_id = pick(draw, creds, "nobody:c1")
    anchor = creds.get(credential_id, {})
    issuer = anchor.get("issuer", "fda")
    if anchor.get("external"):
        issuer = w.external_issuers().get(issuer, {}).get("registered_by", "fda")
    sender = issuer if issuer in w.signers and likely(draw) else w.sender(draw, w.active_orgs())
    action = draw(st.sampled_from(["suspend", "suspend", "reinstate", "revoke"]))
    payload = {"credential_id": credential_id, "action": action, "reason": "board order"}
    return Planned(sender, "credential.status", payload)


def credential_issuer_register(draw: Draw, w: World) -> Planned:
    sender = w.sender(draw, w.active_orgs(["regulator"]))
    handle = draw(st.sampled_from(HANDLES))
    key = keys_for(f"external/{handle}/{draw(st.integers(0, 1))}").key_id
    payload = {
        "handle": handle,
        "did": did_key(key) if likely(draw) else did_key(key, b"\xec\x01"),
        "name": handle.title(),
        "types": some(draw, CREDENTIAL_KINDS, 3),
        "jurisdiction": "US-MA",
    }
    return Planned(sender, "credential.issuer_register", payload)


def credential_issuer_remove(draw: Draw, w: World) -> Planned:
    registered = w.external_issuers()
    handle = pick(draw, registered if registered and likely(draw) else HANDLES, HANDLES[0])
    registrar = registered.get(handle, {}).get("registered_by", "fda")
    sender = registrar if likely(draw) else w.sender(draw, w.active_orgs())
    return Planned(sender, "credential.issuer_remove", {"handle": handle})


def credential_accept(draw: Draw, w: World) -> Planned:
    registered = w.external_issuers()
    handle = pick(draw, registered if registered and likely(draw) else HANDLES, HANDLES[0])
    types = registered.get(handle, {}).get("types") or list(CREDENTIAL_KINDS)
    kind = draw(st.sampled_from(types if likely(draw) else CREDENTIAL_KINDS))
    subject = pick(draw, w.members(), "st-marys/dr-ada")
    own_org = subject.split("/", 1)[0]
    sender = w.sender(draw, [own_org] if likely(draw) else [subject])
    payload = _credential_fields(draw, w, kind, subject) | {"issuer": handle}
    return Planned(sender, "credential.accept", payload)


BUILDERS: dict[str, Builder] = {
    "org.propose": org_propose,
    "org.approve": org_approve,
    "org.endpoint": org_endpoint,
    "capability.propose": capability_propose,
    "gln.claim": gln_claim,
    "gln.release": gln_release,
    "member.capability": member_capability,
    "member.enroll": member_enroll,
    "member.revoke": member_revoke,
    "key.rotate": key_rotate,
    "patient.register": patient_register,
    "patient.guardians": patient_guardians,
    "patient.recover": patient_recover,
    "record.add": record_add,
    "record.import": record_import,
    "record.shred": record_shred,
    "record.access": record_access,
    "consent.grant": consent_grant,
    "consent.revoke": consent_revoke,
    "representative.appoint": representative_appoint,
    "representative.end": representative_end,
    "donation.decide": donation_decide,
    "donation.withdraw": donation_withdraw,
    "custody.offer": custody_offer,
    "custody.accept": custody_accept,
    "supply.commission": supply_commission,
    "supply.aggregate": supply_aggregate,
    "supply.disaggregate": supply_disaggregate,
    "supply.ship": supply_ship,
    "supply.receive": supply_receive,
    "supply.return": supply_return,
    "supply.dispense": supply_dispense,
    "supply.destroy": supply_destroy,
    "supply.export": supply_export,
    "supply.verify": supply_verify,
    "supply.quarantine": supply_quarantine,
    "supply.clear": supply_clear,
    "supply.recall": supply_recall,
    "supply.recall_ack": supply_recall_ack,
    "supply.epcis": supply_epcis,
    "supply.transform": supply_transform,
    "supply.product_range": supply_product_range,
    "supply.sensor": supply_sensor,
    "supply.excursion_resolve": supply_excursion_resolve,
    "supply.transaction": supply_transaction,
    "credential.ce_rule": credential_ce_rule,
    "credential.share": credential_share,
    "credential.unshare": credential_unshare,
    "credential.exclusion": credential_exclusion,
    "credential.psv": credential_psv,
    "credential.psv_reuse": credential_psv_reuse,
    "credential.issue": credential_issue,
    "credential.status": credential_status,
    "credential.issuer_register": credential_issuer_register,
    "credential.issuer_remove": credential_issuer_remove,
    "credential.accept": credential_accept,
}

# --- junk ------------------------------------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.text(max_size=12),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def mangle(draw: Draw, payload: dict[str, Any]) -> dict[str, Any]:
    """A plausible payload with one field dropped, added, or replaced by any JSON value."""
    mangled = dict(payload)
    how = draw(st.sampled_from(["drop", "add", "replace", "replace"]))
    if how == "drop" and mangled:
        del mangled[draw(st.sampled_from(sorted(mangled)))]
    elif how == "add":
        mangled[draw(st.text(min_size=1, max_size=8))] = draw(JSON_VALUES)
    elif mangled:
        mangled[draw(st.sampled_from(sorted(mangled)))] = draw(JSON_VALUES)
    return mangled
