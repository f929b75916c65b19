"""Where ``remit analyse`` and ``remit report`` read a trial from: a database (``--db``) or a
folder of CSV files (``--data``), with the protocol in force or one named (``--protocol``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from remit.analysis import TrialData
from remit.cli.common import open_engine
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
ProtocolOption = Annotated[
    str | None,
    typer.Option(
        "--protocol",
        help="Built-in protocol name or protocol file (default: the protocol stored in "
        "the database, or protocol.toml in the --data folder).",
    ),
]


def trial_from_database(db: str) -> tuple[TrialData, Protocol]:
    """The trial's data and the protocol in force, read from a database."""
    # Imported here: the database stack is only needed when a database is named.
    from remit import services as sv

    with open_engine(db) as engine:
        protocol = sv.trial_protocol(engine, source=f"{db} (protocol in force)")
        data = sv.build_trial_data(engine)
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
    example: str = "remit analyse --db trial.db",
) -> tuple[TrialData, Protocol]:
    """The data and protocol named by the ``--db``/``--data``/``--protocol`` options.

    Exactly one of ``db`` and ``data`` must be given; ``protocol`` overrides the protocol in
    force (database) or ``protocol.toml`` (data folder). ``example`` is the command line the
    error for no data at all suggests.
    """
    if db is not None and data is not None:
        raise InputError(
            "both --db and --data were given",
            expected="one source of data: --db PATH|URL or --data DIR",
        )
    if data is not None:
        return TrialData.from_directory(data), protocol_for_folder(data, protocol)
    if db is not None:
        trial, stored = trial_from_database(db)
        return trial, (load_protocol(protocol) if protocol is not None else stored)
    raise InputError(
        "no data given",
        expected="--db PATH|URL (or $REMIT_DATABASE_URL) or --data DIR",
        hint=example,
    )
