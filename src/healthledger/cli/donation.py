"""`healthledger donation ...`: organ-donation decisions from the command line.

A patient (or a representative, with `--patient` and `--appointment`) records,
changes or withdraws a decision; a transplant coordinator asks for a patient's
decision (audited in the patient's accounting of disclosures); anyone reads the
public counts. Every answer is checked against its proofs on this machine.
"""

from __future__ import annotations

from typing import Annotated

import typer

from healthledger.cli.output import JsonOpt, emit, fail
from healthledger.cli.records import DEFAULT_URL, KeyOpt, UrlOpt, _acting, _signer
from healthledger.client.donation import verified_counts
from healthledger.client.sdk import Client
from healthledger.errors import LedgerError, MalformedInput

donation_app = typer.Typer(
    help="Organ-donation decisions: decide, withdraw, status (coordinators), counts.",
    no_args_is_help=True,
)
PatientOpt = Annotated[
    str | None, typer.Option(help="The patient, when acting as their representative.")
]
AppointmentOpt = Annotated[
    str | None, typer.Option(help="The representative's appointment (app-…).")
]


def _organs(donate: str | None, do_not_donate: bool) -> tuple[str, list[str]]:
    if (donate is None) == (not do_not_donate):
        raise MalformedInput("give either --donate ORGANS (or 'all') or --do-not-donate")
    if donate is None:
        return "do_not_donate", []
    return "donate", [organ.strip() for organ in donate.split(",") if organ.strip()]


@donation_app.command("decide")
def decide(
    key: KeyOpt,
    donate: Annotated[
        str | None,
        typer.Option(
            help="Organs and tissues to donate, comma-separated (heart, lungs, liver, kidneys,"
            " pancreas, intestine, corneas, skin, bone, heart_valves, tendons, blood_vessels)"
            " or 'all'."
        ),
    ] = None,
    do_not_donate: Annotated[
        bool, typer.Option("--do-not-donate", help="Record a decision not to donate.")
    ] = False,
    research: Annotated[bool, typer.Option(help="Also for research.")] = False,
    patient: PatientOpt = None,
    appointment: AppointmentOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Record or change a donation decision; prints its receipt (a proven transaction)."""
    with _acting(url, key, as_json) as records:
        decision, organs = _organs(donate, do_not_donate)
        receipt = records.decide_donation(
            _signer(records), organs, decision, research, patient, appointment
        )
        emit(receipt, as_json)


@donation_app.command("withdraw")
def withdraw(
    key: KeyOpt,
    patient: PatientOpt = None,
    appointment: AppointmentOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Withdraw the current decision, from the next block; prints its receipt."""
    with _acting(url, key, as_json) as records:
        emit(records.withdraw_donation(_signer(records), patient, appointment), as_json)


PROOFS = frozenset({"receipt", "state"})  # what `status --json` adds for programs


@donation_app.command("status")
def status(
    key: KeyOpt,
    patient: Annotated[str, typer.Argument(help="Patient pseudonym (pat_…).")],
    purpose: Annotated[str, typer.Option(help="The purpose of the question.")] = "transplant",
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A transplant coordinator asks for a patient's decision (audited, then answered)."""
    with _acting(url, key, as_json) as records:
        answer = records.donation_status(patient, purpose).wire()
    # The SDK checked the receipt and the state proof against its anchor; a person reading
    # the terminal wants the answer and its access event, a program may keep the proofs.
    shown = answer if as_json else {k: v for k, v in answer.items() if k not in PROOFS}
    emit(shown, as_json)


@donation_app.command("counts")
def counts(url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Decisions counted per organisation and decision (public; small counts suppressed)."""
    try:
        with Client(url) as client:
            answer = verified_counts(client)
    except LedgerError as exc:
        fail(exc, as_json)
    rows = [row.model_dump(mode="json", exclude={"proof"}) for row in answer.rows]
    emit(
        {"height": answer.height, "min_published": answer.min_published, "rows": rows},
        as_json,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(donation_app, name="donation")


__all__ = ["register"]
