"""Where ``remit analyse`` and ``remit report`` read a trial from: a database (``--db``) or a
folder of CSV files (``--data``), with the protocol in force or one named (``--protocol``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from remit.analysis import TrialData
from remit.cli.common import acting, open_engine
from remit.errors import InputError
from remit.protocol import Protocol, load_protocol

SourceDbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="REMIT_DATABASE_URL",
        help="Trial database: SQLite file path or database URL (defaults to $REMIT_DATABASE_URL).",
    ),
]
DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Folder of trial-data CSV files (TrialData.to_directory format) instead of "
        "a database.",
    ),
]
SourceUserOption = Annotated[
    str | None,
    typer.Option(
        "--user",
        envvar="REMIT_USER",
        help="Who reads the trial database (username; required with --db, defaults to "
        "$REMIT_USER). A user bound to one site reads that site's participants only; the read "
        "is written to the access log.",
    ),
]
SourceRoleOption = Annotated[
    str | None,
    typer.Option("--role", help="The role to read in, when the --user holds several."),
]
UnblindedOption = Annotated[
    bool,
    typer.Option(
        "--unblinded",
        help="Read each participant's arm from the sealed randomisation list (the unblinded "
        "statistician only, with the allocation key in $REMIT_ALLOCATION_KEY_FILE); the "
        "unblinding is audited. Without it a blinded trial is analysed pooled (both arms "
        "together, no arm shown).",
    ),
]
ProtocolOption = Annotated[
    str | None,
    typer.Option(
        "--protocol",
        help="Built-in protocol name or protocol file (default: the protocol stored in "
        "the database, or protocol.toml in the --data folder).",
    ),
]


def _reader_given(user: str | None, command: str) -> str:
    if not user:
        raise InputError(
            f"{command} --db needs --user: the database is read as a user "
            "(their role and site decide what is read, and the read is logged)",
            expected="--user NAME (or $REMIT_USER)",
        )
    return user


def trial_from_database(
    db: str,
    user: str | None,
    role: str | None = None,
    *,
    command: str = "remit analyse",
    unblinded: bool = False,
) -> tuple[TrialData, Protocol]:
    """The trial's data as ``user`` may read it, and the protocol in force, from a database.

    ``user`` (``--user``) is required: a user bound to one site gets that site's participants
    and their data only, and the read is written to the access log. ``unblinded``
    (``--unblinded``): the arms read from the sealed list, for the unblinded roles with the
    allocation key only; the unblinding (or the refused attempt) is on the audit trail with
    the command as its reason.
    """
    # Imported here: the database stack is only needed when a database is named.
    from remit import services as sv

    with open_engine(db) as engine:
        actor = acting(engine, _reader_given(user, command), role)
        protocol = sv.trial_protocol(engine, source=f"{db} (protocol in force)")
        if unblinded:
            data = sv.build_trial_data(
                engine, actor=actor, unblinded=True, purpose=f"{command} --unblinded"
            )
        else:
            data = sv.build_trial_data(engine, actor=actor)
    return data, protocol


def protocol_for_folder(folder: Path, protocol: str | None) -> Protocol:
    """``protocol`` (a name or file) if given, else ``folder/protocol.toml``."""
    if protocol is not None:
        return load_protocol(protocol)
    beside = folder / "protocol.toml"
    if beside.exists():
        return load_protocol(beside)
    raise InputError(
        f"no protocol given for the data in {folder}",
        expected="--protocol NAME|FILE, or a protocol.toml in the data folder",
        hint="e.g. --protocol oslo-mdma-mdd",
    )


def load_trial(
    db: str | None,
    data: Path | None,
    protocol: str | None,
    *,
    user: str | None = None,
    role: str | None = None,
    command: str = "remit analyse",
    example: str = "remit analyse --db trial.db --user NAME",
    unblinded: bool = False,
) -> tuple[TrialData, Protocol]:
    """The data and protocol named by the ``--db``/``--data``/``--protocol`` options.

    Exactly one of ``db`` and ``data`` must be given; ``protocol`` overrides the protocol in
    force (database) or ``protocol.toml`` (data folder). A database is read as ``user``
    (``--user``, and ``--role`` when they hold several), which is required with ``db``.
    ``command`` names the command in errors; ``example`` is the command line the error for
    no data at all suggests. ``unblinded`` needs ``db`` (the arms are read from its sealed
    list).
    """
    if db is not None and data is not None:
        raise InputError(
            "both --db and --data were given",
            expected="one source of data: --db PATH|URL or --data DIR",
        )
    if data is not None and unblinded:
        raise InputError(
            f"{command} --unblinded with --data {data}: a data folder has no randomisation list",
            expected="--db PATH|URL with --unblinded (the arms are read from the sealed list)",
            hint=f"{command} --db trial.db --user NAME --unblinded",
        )
    if data is not None:
        return TrialData.from_directory(data), protocol_for_folder(data, protocol)
    if db is not None:
        trial, stored = trial_from_database(db, user, role, command=command, unblinded=unblinded)
        return trial, (load_protocol(protocol) if protocol is not None else stored)
    raise InputError(
        "no data given",
        expected="--db PATH|URL (or $REMIT_DATABASE_URL) or --data DIR",
        hint=example,
    )
