"""``remit init``, ``remit user``, ``remit participant``, ``remit visit``, ``remit enter``:
run a trial from the command line. Every command is a few lines over :mod:`remit.services`."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from remit import services as sv
from remit.cli.common import (
    DbOption,
    JsonOption,
    UserOption,
    acting,
    acting_on,
    audit_keys_given,
    console,
    err_console,
    errors_as_exit,
    open_engine,
    print_json,
    read_password,
)
from remit.errors import InputError
from remit.protocol import load_protocol
from remit.protocol.clock import parse_clinical_time

RoleOption = Annotated[
    str | None,
    typer.Option("--role", help="The role to act in, when the user holds several."),
]
ParticipantOption = Annotated[
    str, typer.Option("--participant", "-p", help="Participant study ID, e.g. OSL-001.")
]
VisitOption = Annotated[str, typer.Option("--visit", help="Visit code of the protocol, e.g. V3.")]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        help="Idempotency key: a retry with the same key never records twice "
        "(the same key with other data is refused).",
    ),
]


def parse_time(text: str, name: str) -> datetime:
    """An ISO 8601 time with a zone (``2024-03-01T09:00+01:00`` or ``…Z``), as UTC: the one
    parser of clinical times (:func:`remit.protocol.clock.parse_clinical_time`) with no site
    zone, since a command line may act on any site."""
    return parse_clinical_time(text, None, name=name)


def parse_date(text: str, name: str) -> date:
    """An ISO date (``2024-03-01``)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{name} {text!r} is not a date", expected="YYYY-MM-DD") from None


def read_json(path: Path, what: str) -> Any:
    """A JSON file (``-`` for standard input)."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as error:
        raise InputError(f"cannot read {what} file {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise InputError(
            f"{what} file {path} is not JSON ({error})",
            expected='an object such as {"1": 3, "2": 4}',
        ) from None


def show(record: Any, json_output: bool, line: str) -> None:
    """Print a record as JSON, or one line for people."""
    if json_output:
        print_json(record.to_dict() if hasattr(record, "to_dict") else record)
    else:
        console.print(line, highlight=False, soft_wrap=True)


# --- remit init ------------------------------------------------------------------------------


def init_command(
    protocol: Annotated[
        str,
        typer.Option("--protocol", help="Built-in protocol name or protocol TOML file."),
    ],
    db: DbOption,
    site: Annotated[
        list[str] | None,
        typer.Option("--site", help="Site code of the protocol (repeat; default: every site)."),
    ] = None,
    admin: Annotated[str, typer.Option("--admin", help="Username of the first admin.")] = "admin",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the admin password from stdin.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Create a trial database: tables, the study, its protocol, sites and the first admin."""
    with errors_as_exit():
        loaded = load_protocol(protocol)
        password = read_password(password_stdin)
        keys = audit_keys_given(None)
        engine = sv.create_database(db, audit_keys=keys)
        try:
            trial = sv.create_trial(
                engine, loaded, sites=site, admin_username=admin, admin_password=password
            )
            own_key = sv.default_key_file(engine.url) if keys is None else None
        finally:
            sv.close_database(engine)
    if own_key is not None:
        err_console.print(
            f"note: the audit key is in {own_key}, beside the database; for a real trial keep "
            "it elsewhere ($REMIT_AUDIT_KEY_FILE, docs/security.md)",
            highlight=False,
            soft_wrap=True,
        )
    show(
        trial,
        json_output,
        f"trial {trial.study_code} ({trial.protocol_id} {trial.protocol_sha256[:12]}) created; "
        f"sites {', '.join(trial.sites)}; admin {trial.admin.username}",
    )


# --- remit user ------------------------------------------------------------------------------

user_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)


@user_app.command("add")
def user_add_command(
    username: Annotated[str, typer.Argument(help="The new user's username.")],
    role: Annotated[
        list[str],
        typer.Option(
            "--role",
            help="ROLE or ROLE@SITE (repeat), e.g. investigator@OST; without @SITE study-wide.",
        ),
    ],
    db: DbOption,
    user: UserOption,
    full_name: Annotated[str | None, typer.Option("--full-name", help="Full name.")] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="E-mail address safety alerts are sent to.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new user's password from stdin.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Add a user with roles (admins only)."""
    with acting_on(db, user) as (engine, actor):
        roles = [(r.split("@", 1)[0], r.split("@", 1)[1] if "@" in r else None) for r in role]
        added = sv.add_user(
            engine,
            actor,
            username,
            read_password(password_stdin),
            roles,
            full_name=full_name,
            email=email,
        )
    where = ", ".join(f"{r}@{s}" if s else r for r, s in added.roles)
    show(added, json_output, f"user {added.username} added: {where}")


@user_app.command("email")
def user_email_command(
    username: Annotated[str, typer.Argument(help="The user whose address is set.")],
    address: Annotated[
        str, typer.Argument(help="E-mail address safety alerts are sent to; '' removes it.")
    ],
    db: DbOption,
    user: UserOption,
    json_output: JsonOption = False,
) -> None:
    """Set (or remove) the e-mail address a user receives safety alerts at (admins only)."""
    with acting_on(db, user) as (engine, actor):
        changed = sv.set_user_email(engine, actor, username, address)
    show(
        changed, json_output, f"user {changed.username}: alerts go to {changed.email or 'nowhere'}"
    )


ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="Why (kept in the audit trail).")
]


@user_app.command("deactivate")
def user_deactivate_command(
    username: Annotated[str, typer.Argument(help="The user who may no longer log in.")],
    db: DbOption,
    user: UserOption,
    reason: ReasonOption = None,
    json_output: JsonOption = False,
) -> None:
    """Deactivate a user: they cannot log in, their open sessions end (admins only)."""
    with acting_on(db, user) as (engine, actor):
        changed = sv.set_user_active(engine, actor, username, False, reason=reason)
    show(changed, json_output, f"user {changed.username} deactivated: cannot log in")


@user_app.command("activate")
def user_activate_command(
    username: Annotated[str, typer.Argument(help="The deactivated user to let log in again.")],
    db: DbOption,
    user: UserOption,
    reason: ReasonOption = None,
    json_output: JsonOption = False,
) -> None:
    """Reactivate a deactivated user (admins only)."""
    with acting_on(db, user) as (engine, actor):
        changed = sv.set_user_active(engine, actor, username, True, reason=reason)
    show(changed, json_output, f"user {changed.username} active again")


@user_app.command("reset-password")
def user_reset_password_command(
    username: Annotated[str, typer.Argument(help="The user whose password is reset.")],
    db: DbOption,
    user: UserOption,
    generate: Annotated[
        bool,
        typer.Option(
            "--generate/--prompt",
            help="Generate a temporary password and print it once (default), or type one.",
        ),
    ] = True,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the temporary password from stdin.")
    ] = False,
    reason: ReasonOption = None,
    json_output: JsonOption = False,
) -> None:
    """Give a user a temporary password they must change at their next login (admins only)."""
    chosen = read_password(password_stdin) if (password_stdin or not generate) else None
    with acting_on(db, user) as (engine, actor):
        done = sv.reset_password(engine, actor, username, chosen, reason=reason)
    line = f"password of {done.user.username} reset: to be changed at the next login"
    if done.temporary_password is not None:
        line += f"\ntemporary password (shown once): {done.temporary_password}"
    show(done, json_output, line)


@user_app.command("reset-mfa")
def user_reset_mfa_command(
    username: Annotated[str, typer.Argument(help="The user whose MFA is reset.")],
    db: DbOption,
    user: UserOption,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (kept in the security log), e.g. 'phone lost'.")
    ],
) -> None:
    """Remove a user's TOTP MFA set-up and recovery codes (admins only): they set it up again
    at their next web login (at once when their role requires MFA)."""
    from remit.services import mfa

    with acting_on(db, user) as (engine, actor):
        removed = mfa.reset_mfa(engine, actor, username, reason=reason, client="cli")
    typer.echo(f"MFA of {username} reset" if removed else f"{username} had no MFA set up")


# --- remit participant -----------------------------------------------------------------------

participant_app = typer.Typer(
    help="Participants: screen, check eligibility, enrol, list, show, withdraw.",
    no_args_is_help=True,
)


@participant_app.command("add")
def participant_add_command(
    db: DbOption,
    user: UserOption,
    site: Annotated[str | None, typer.Option("--site", help="Site code.")] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="Sex as recorded.")] = None,
    birth_year: Annotated[int | None, typer.Option("--birth-year", help="Year of birth.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Name (kept apart).")] = None,
    national_id: Annotated[
        str | None, typer.Option("--national-id", help="National ID (kept apart).")
    ] = None,
    contact: Annotated[str | None, typer.Option("--contact", help="Contact (kept apart).")] = None,
    referral: Annotated[
        str | None, typer.Option("--referral", help="Referral date YYYY-MM-DD (schedule anchor).")
    ] = None,
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Register a person for screening under a new pseudonymous study ID."""
    with acting_on(db, user) as (engine, actor):
        identity = None
        if name or national_id or contact:
            identity = {"name": name, "national_id": national_id, "contact": contact}
        added = sv.screen_participant(
            engine,
            actor,
            site=site,
            sex=sex,
            birth_year=birth_year,
            identity=identity,
            idempotency_key=key,
        )
        if referral:
            sv.set_anchor_date(
                engine, actor, added.participant_id, "referral", parse_date(referral, "referral")
            )
    show(added, json_output, f"{added.participant_id} registered for screening at {added.site}")


@participant_app.command("list")
def participant_list_command(
    db: DbOption,
    user: UserOption,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    json_output: JsonOption = False,
) -> None:
    """List participants (no identifying data)."""
    with acting_on(db, user) as (engine, actor):
        found = sv.list_participants(engine, actor, status=status)
    if json_output:
        print_json([p.to_dict() for p in found])
        return
    view = Table("participant", "site", "arm", "status", "baseline", "reason")
    for p in found:
        view.add_row(
            p.participant_id,
            p.site,
            p.arm or "",
            p.status,
            str(p.baseline_date or ""),
            p.status_reason or "",
        )
    console.print(view)


def _visit_table(visits: list[sv.VisitRecord]) -> Table:
    view = Table("visit", "label", "target", "window", "actual", "status", "window status")
    for v in visits:
        window = f"{v.window_start_date} – {v.window_end_date}" if v.window_start_date else ""
        view.add_row(
            v.visit_code,
            v.label,
            str(v.target_date or ""),
            window,
            str(v.actual_date or ""),
            v.status,
            v.window_status or "",
        )
    return view


@participant_app.command("show")
def participant_show_command(
    participant: Annotated[str, typer.Argument(help="Participant study ID.")],
    db: DbOption,
    user: UserOption,
    json_output: JsonOption = False,
) -> None:
    """Show a participant, the schedule and the forms entered."""
    with acting_on(db, user) as (engine, actor):
        person = sv.get_participant(engine, actor, participant)
        visits = sv.list_visits(engine, actor, participant)
        forms = sv.list_assessments(engine, actor, participant)
    if json_output:
        print_json(
            {
                "participant": person.to_dict(),
                "visits": [v.to_dict() for v in visits],
                "assessments": [a.to_dict() for a in forms],
            }
        )
        return
    console.print(
        f"{person.participant_id} — {person.status} (site {person.site}, arm {person.arm or '-'})",
        highlight=False,
    )
    console.print(_visit_table(visits))
    for a in forms:
        when = f"{a.visit_code}" + (f" {a.timepoint}" if a.timepoint else "")
        total = sv.SCORES_HIDDEN if a.scores_hidden else a.total if a.total is not None else "-"
        console.print(
            f"  {when:<20} {a.scale:<8} total {total} ({a.status}, v{a.version}, id {a.id})",
            highlight=False,
        )


@participant_app.command("check")
def participant_check_command(
    participant: Annotated[str, typer.Argument(help="Participant study ID.")],
    data: Annotated[
        Path, typer.Option("--data", help="JSON file of screening data (field → value).")
    ],
    db: DbOption,
    user: UserOption,
    key: KeyOption = None,
    json_output: JsonOption = False,
) -> None:
    """Check eligibility: the checklist answers in --data, the criteria read from forms
    (e.g. the screening C-SSRS) from the recorded forms; store the verdict."""
    with acting_on(db, user) as (engine, actor):
        values = read_json(data, "screening data")
        if not isinstance(values, dict):
            raise InputError("screening data must be a JSON object")
        result = sv.check_eligibility(engine, actor, participant, values, idempotency_key=key)
    show(result, json_output, f"{participant}: {result.summary}")


@participant_app.command("enrol")
def participant_enrol_command(
    participant: Annotated[str, typer.Argument(help="Participant study ID.")],
    db: DbOption,
    user: UserOption,
    arm: Annotated[str | None, typer.Option("--arm", help="Arm code (if several).")] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="When (ISO date-time with offset; default now)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Enrol an eligible participant (the enrolment visit, e.g. V0, takes place that day)."""
    when = None if at is None else parse_time(at, "--at")
    with acting_on(db, user) as (engine, actor):
        person = sv.enrol(engine, actor, participant, arm=arm, enrolled_at=when)
    show(person, json_output, f"{person.participant_id} enrolled in arm {person.arm}")


@participant_app.command("confirm")
def participant_confirm_command(
    participant: Annotated[str, typer.Argument(help="Participant study ID.")],
    db: DbOption,
    user: UserOption,
    at: Annotated[
        str | None,
        typer.Option("--at", help="When (ISO date-time with offset; default now)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Confirm an enrolment at the protocol's confirmation visit (e.g. V4, study day 0)."""
    when = None if at is None else parse_time(at, "--at")
    with acting_on(db, user) as (engine, actor):
        person = sv.confirm_enrolment(engine, actor, participant, confirmed_at=when)
    show(person, json_output, f"{person.participant_id} enrolment confirmed")


@participant_app.command("referral")
def participant_referral_command(
    participant: Annotated[str, typer.Argument(help="Participant study ID.")],
    on: Annotated[str, typer.Option("--date", help="Referral date (YYYY-MM-DD).")],
    source: Annotated[str, typer.Option("--source", help="Who referred: GP, self, clinic…")],
    db: DbOption,
    user: UserOption,
    json_output: JsonOption = False,
) -> None:
    """Record a candidate's referral: its date (anchors the phone screen) and source."""
    day = parse_date(on, "--date")
    with acting_on(db, user) as (engine, actor):
        person = sv.record_referral(engine, actor, participant, referral_date=day, source=source)
    show(person, json_output, f"{person.participant_id} referred on {day} ({source})")


@participant_app.command("phone-screen")
def participant_phone_screen_command(
    participant: Annotated[str, typer.Argument(help="Participant study ID.")],
    outcome: Annotated[str, typer.Argument(help="pass or fail.")],
    at: Annotated[str, typer.Option("--at", help="When (ISO date-time with offset).")],
    db: DbOption,
    user: UserOption,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Screen-failure code (needed for fail).")
    ] = None,
    text: Annotated[str | None, typer.Option("--text", help="Details of the failure.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Record the phone screen (the first screening visit): pass, or fail with a coded reason."""
    if outcome not in ("pass", "fail"):
        raise InputError(f"phone-screen outcome {outcome!r}", expected="pass or fail")
    when = parse_time(at, "--at")
    with acting_on(db, user) as (engine, actor):
        person = sv.record_phone_screen(
            engine,
            actor,
            participant,
            outcome="pass" if outcome == "pass" else "fail",
            screened_at=when,
            failure_code=reason,
            failure_text=text,
        )
    show(person, json_output, f"{person.participant_id} phone screen: {outcome} ({person.status})")


@participant_app.command("screen-fail")
def participant_screen_fail_command(
    participant: Annotated[str, typer.Argument(help="Participant study ID.")],
    reason: Annotated[str, typer.Option("--reason", help="Screen-failure code of the protocol.")],
    db: DbOption,
    user: UserOption,
    text: Annotated[
        str | None, typer.Option("--text", help="Details (needed for 'other').")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """End a candidate's screening with a coded reason (an enrolled participant not yet
    confirmed leaves as a screen failure)."""
    with acting_on(db, user) as (engine, actor):
        person = sv.record_screen_failure(engine, actor, participant, code=reason, text=text)
    show(person, json_output, f"{person.participant_id} is {person.status}: {person.status_reason}")


@participant_app.command("withdraw")
def participant_withdraw_command(
    participant: Annotated[str, typer.Argument(help="Participant study ID.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the participant leaves.")],
    db: DbOption,
    user: UserOption,
    json_output: JsonOption = False,
) -> None:
    """Withdraw a participant, with the reason."""
    with acting_on(db, user) as (engine, actor):
        person = sv.withdraw(engine, actor, participant, reason=reason)
    show(person, json_output, f"{person.participant_id} withdrawn: {reason}")


@participant_app.command("status")
def participant_status_command(
    participant: Annotated[str, typer.Argument(help="Participant study ID.")],
    status: Annotated[
        str, typer.Argument(help="on_study, in_follow_up, completed or lost_to_follow_up.")
    ],
    db: DbOption,
    user: UserOption,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (required for lost).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Move a participant along the lifecycle."""
    with acting_on(db, user) as (engine, actor):
        person = sv.change_status(engine, actor, participant, status, reason=reason)
    show(person, json_output, f"{person.participant_id} is now {person.status}")


# --- remit visit -----------------------------------------------------------------------------

visit_app = typer.Typer(
    help="The visit schedule and the visits that took place.", no_args_is_help=True
)


@visit_app.command("list")
def visit_list_command(
    participant: ParticipantOption,
    db: DbOption,
    user: UserOption,
    json_output: JsonOption = False,
) -> None:
    """List a participant's visits: target dates, windows, what happened."""
    with acting_on(db, user) as (engine, actor):
        visits = sv.list_visits(engine, actor, participant)
    if json_output:
        print_json([v.to_dict() for v in visits])
    else:
        console.print(_visit_table(visits))


@visit_app.command("record")
def visit_record_command(
    participant: ParticipantOption,
    visit: VisitOption,
    on: Annotated[str, typer.Option("--date", help="Date the visit took place, YYYY-MM-DD.")],
    db: DbOption,
    user: UserOption,
    key: KeyOption = None,
    json_output: JsonOption = False,
    window_reason: Annotated[
        str | None,
        typer.Option(
            "--window-reason",
            help="Why the visit took place outside its window (required then; recorded with "
            "a deviation).",
        ),
    ] = None,
) -> None:
    """Record the date a visit took place (outside its window: needs --window-reason, and is
    recorded with a deviation)."""
    with acting_on(db, user) as (engine, actor):
        done = sv.record_visit(
            engine,
            actor,
            participant,
            visit,
            parse_date(on, "--date"),
            idempotency_key=key,
            window_reason=window_reason,
        )
    show(
        done,
        json_output,
        f"{participant} {visit} on {done.actual_date}: {done.window_status}"
        + (f" ({done.deviation})" if done.deviation else ""),
    )


@visit_app.command("anchor")
def visit_anchor_command(
    participant: ParticipantOption,
    event: Annotated[str, typer.Argument(help="Protocol event code, e.g. referral.")],
    on: Annotated[str, typer.Argument(help="Date of the event, YYYY-MM-DD.")],
    db: DbOption,
    user: UserOption,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why, when changing a recorded date.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Record the date of a protocol event the schedule is anchored to, and reschedule."""
    with acting_on(db, user) as (engine, actor):
        visits = sv.set_anchor_date(
            engine,
            actor,
            participant,
            event,
            parse_date(on, "date"),
            reason=reason,
        )
    if json_output:
        print_json([v.to_dict() for v in visits])
    else:
        console.print(_visit_table(visits))


# --- remit enter -----------------------------------------------------------------------------


def enter_command(
    scale: Annotated[str, typer.Argument(help="Scale code, e.g. madrs (see `remit scales list`).")],
    participant: ParticipantOption,
    visit: VisitOption,
    answers: Annotated[
        Path, typer.Option("--answers", help="JSON file of answers (item → answer); - for stdin.")
    ],
    db: DbOption,
    user: UserOption,
    role: RoleOption = None,
    version: Annotated[
        str | None, typer.Option("--version", help="Scale version (default: the protocol's).")
    ] = None,
    draft: Annotated[bool, typer.Option("--draft", help="Save as a draft.")] = False,
    key: KeyOption = None,
    json_output: JsonOption = False,
    assessed_at: Annotated[
        str | None,
        typer.Option(
            "--assessed-at",
            help="When the form was completed, ISO 8601 with its zone "
            "(2024-03-01T10:30+01:00); default: the visit's date.",
        ),
    ] = None,
    window_reason: Annotated[
        str | None,
        typer.Option(
            "--window-reason",
            help="Why the form is dated outside its visit's window (required then; recorded "
            "with a deviation).",
        ),
    ] = None,
) -> None:
    """Enter a form: validated, scored, stored and checked by the safety rules.

    A form with a required item left blank (a safety item such as MADRS item 10) is saved as
    incomplete, never complete: the output names the missing items (exit 0, the form is
    kept); fill them in to complete it. ``--assessed-at`` gives the clinical time (the entry
    time is recorded separately); a time outside the visit's window is refused unless
    ``--window-reason`` says why.
    """
    with errors_as_exit(), open_engine(db) as engine:
        when = None if assessed_at is None else parse_time(assessed_at, "--assessed-at")
        given = read_json(answers, "answers")
        if not isinstance(given, dict):
            raise InputError("answers must be a JSON object of item → answer")
        form = sv.record_assessment(
            engine,
            acting(engine, user, role),
            participant,
            visit,
            scale,
            given,
            version=version,
            idempotency_key=key,
            status="draft" if draft else "complete",
            assessed_at=when,
            window_reason=window_reason,
        )
    if json_output:
        print_json(form.to_dict())
        return
    total = "-" if form.total is None else f"{form.total:g}"
    band = f" ({form.band})" if form.band else ""
    console.print(
        f"{scale} {participant} {visit}: total {total}{band}; assessment {form.id} v{form.version}"
        f" saved as {form.status}",
        highlight=False,
    )
    if not form.complete:
        refs = ", ".join(form.missing_required)
        plural = "s" if len(form.missing_required) > 1 else ""
        console.print(
            f"[bold yellow]INCOMPLETE:[/] required item{plural} {refs} not answered; "
            f"the form is kept as {form.status}, not complete. "
            "Enter the missing answers to complete it.",
            highlight=False,
        )
    for rule, why in form.not_evaluated:
        console.print(f"[yellow]not evaluated:[/] safety rule {rule} ({why})", highlight=False)
    for alert in form.alerts:
        console.print(f"[bold red]ALERT {alert.level}:[/] {alert.message}", highlight=False)
