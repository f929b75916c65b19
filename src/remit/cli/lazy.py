"""Sub-commands loaded when they are run, not when ``remit`` starts.

Every command module imports the part of the library it needs (the services pull in
SQLAlchemy, the analyses SciPy, pandas and statsmodels, the report matplotlib). Importing them
all for each command made even ``remit --help`` take seconds. :class:`LazyGroup` lists the
commands of :data:`ENTRIES` with their one-line help and imports a command's module only when
that command is resolved (to run it or to show its own help); ``tests/cli/test_lazy.py`` checks
that each entry's help is its command's and that ``remit --help`` imports none of the heavy
libraries.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Entry:
    """One sub-command: its name, where it lives (``module:attribute``, a Typer app for a group,
    a function for a single command) and the first paragraph of its help."""

    name: str
    target: str
    help: str

    def load(self) -> Any:
        """The command as Click runs it (imports its module)."""
        module, attribute = self.target.split(":")
        found = getattr(importlib.import_module(module), attribute)
        if isinstance(found, typer.Typer):
            group = typer.main.get_group(found)
            group.name = self.name
            return group
        single = typer.Typer()
        single.command(self.name)(found)
        return typer.main.get_command(single)


class _Placeholder(TyperCommand):
    """What ``remit --help`` lists for an entry not loaded yet."""

    def __init__(self, entry: Entry) -> None:
        super().__init__(entry.name, help=entry.help)
        self.entry = entry


#: The sub-commands in the order ``remit --help`` lists them.
ENTRIES: tuple[Entry, ...] = (
    Entry(
        "init",
        "remit.cli.trial_cmd:init_command",
        "Create a trial database: tables, the study, its protocol, sites and the first admin.",
    ),
    Entry(
        "enter",
        "remit.cli.trial_cmd:enter_command",
        "Enter a form: validated, scored, stored and checked by the safety rules.",
    ),
    Entry(
        "export",
        "remit.cli.export_cmd:export_command",
        "Export the trial: pseudonymised (study IDs only, identity never read).",
    ),
    Entry(
        "serve",
        "remit.cli.serve_cmd:serve_command",
        "Serve the pages and the JSON API (/api/v1, OpenAPI at /openapi.json) with uvicorn.",
    ),
    Entry(
        "doctor",
        "remit.cli.doctor_cmd:doctor_command",
        "Check a deployment: database, durability, anchors, backups, time zones, SMTP, HTTPS.",
    ),
    Entry(
        "worklist",
        "remit.cli.worklist_cmd:worklist_command",
        "What you have to do: overdue, today, this week (for every role you hold).",
    ),
    Entry(
        "backup",
        "remit.cli.backup_cmd:backup_command",
        "Back up the database (SQLite online backup; PostgreSQL pg_dump) with a signed manifest "
        "(checksums, audit head, row counts, schema revision) and a fresh audit anchor.",
    ),
    Entry(
        "restore",
        "remit.cli.backup_cmd:restore_command",
        "Restore a backup into a new database, then verify it against the backup's anchor and "
        "manifest; exit 1 (nothing usable restored) when the backup was altered.",
    ),
    Entry(
        "login",
        "remit.cli.auth_cmd:login_command",
        "Log in: check the password and, for a user with MFA, the TOTP code (throttled and "
        "logged like a web login) and keep a token, valid 8 hours, in the token file "
        "($REMIT_TOKEN_FILE or ~/.config/remit/tokens.json, mode 0600). Commands that act as "
        "--user need it.",
    ),
    Entry(
        "logout",
        "remit.cli.auth_cmd:logout_command",
        "Log out: revoke the user's tokens for this database and remove them from the file.",
    ),
    Entry(
        "scales",
        "remit.cli.scales_cmd:app",
        "Rating scales: list them, show their items and rules, check a file, score a form.",
    ),
    Entry(
        "protocol",
        "remit.cli.protocol_cmd:app",
        "Protocol files: list the built-in ones, show a schedule, check a file, compare two.",
    ),
    Entry("db", "remit.cli.db_cmd:app", "Create and migrate the trial database."),
    Entry("audit", "remit.cli.audit_cmd:app", "Verify the audit trail and show who changed what."),
    Entry(
        "lock",
        "remit.cli.lock_cmd:app",
        "Database locks: lock the study, a participant or a form; list them; open one again.",
    ),
    Entry(
        "stats",
        "remit.cli.stats_cmd:app",
        "Statistics on a long-format CSV file: MMRM and friends.",
    ),
    Entry("power", "remit.cli.power_cmd:app", "Power and sample size for the next trial."),
    Entry(
        "analyse",
        "remit.cli.analyse_cmd:app",
        "Run the protocol's analysis plan and print the results.",
    ),
    Entry("user", "remit.cli.trial_cmd:user_app", "Users and their roles."),
    Entry(
        "participant",
        "remit.cli.trial_cmd:participant_app",
        "Participants: screen, check eligibility, enrol, list, show, withdraw.",
    ),
    Entry(
        "visit",
        "remit.cli.trial_cmd:visit_app",
        "The visit schedule and the visits that took place.",
    ),
    Entry(
        "consent",
        "remit.cli.consent_cmd:app",
        "Informed consent: record it, withdraw it, see where it stands.",
    ),
    Entry("dose", "remit.cli.dosing_cmd:app", "Dosing sessions: start, doses, end."),
    Entry(
        "vitals",
        "remit.cli.dosing_cmd:vitals_app",
        "Vital signs (with plausibility checks and alerts).",
    ),
    Entry("ae", "remit.cli.alerts_cmd:ae_app", "Adverse events."),
    Entry(
        "conmed",
        "remit.cli.conmed_cmd:app",
        "Concomitant medications: ATC code, dose, taper plan; prohibited ones stop a dose.",
    ),
    Entry(
        "coding",
        "remit.cli.coding_cmd:app",
        "Medical coding: load MedDRA / WHODrug, autocode AEs and medications, coding queue.",
    ),
    Entry(
        "result",
        "remit.cli.result_cmd:app",
        "Clinical results (lab, ECG, screening tests) against the protocol's normal ranges.",
    ),
    Entry(
        "epro",
        "remit.cli.epro_cmd:app",
        "Participant self-report (ePRO): single-use links, language, e-mail reminders.",
    ),
    Entry(
        "alerts",
        "remit.cli.alerts_cmd:app",
        "Safety alerts: list, acknowledge, close, sweep for missed readings; e-mail them.",
    ),
    Entry(
        "deviation",
        "remit.cli.deviation_cmd:app",
        "Protocol deviations: log one, list them with the ones Remit records itself.",
    ),
    Entry(
        "randomise",
        "remit.cli.randomise_cmd:app",
        "Randomisation: the allocation key, the concealed list, its use, the balance by arm and "
        "emergency unblinding.",
    ),
    Entry(
        "report",
        "remit.cli.report_cmd:app",
        "Write the trial report: report.html (figures inline) and, with Chromium, report.pdf.",
    ),
    Entry(
        "demo",
        "remit.cli.demo_cmd:app",
        "Create, simulate, analyse and report a synthetic trial like the Norwegian MDMA-AT study "
        "(SIMULATED data).",
    ),
    Entry(
        "import",
        "remit.cli.import_cmd:app",
        "Bring instruments and data from other systems (REDCap, ODM) into Remit.",
    ),
    Entry(
        "security",
        "remit.cli.auth_cmd:security_app",
        "The security log: logins, lockouts, re-authentication.",
    ),
)


class LazyGroup(TyperGroup):
    """The ``remit`` group: lists :data:`ENTRIES` and loads one when it is resolved."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for entry in ENTRIES:
            self.commands.setdefault(entry.name, _Placeholder(entry))

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, _Placeholder):
            entry = command.entry
            command = entry.load()
            self.commands[entry.name] = command
        return name, command, rest
