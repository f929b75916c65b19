"""Scale definitions kept in the trial database (``trial_scale``), next to the shipped scales
and those of ``REMIT_SCALES_PATH``.

:func:`add_scale` keeps a definition (TOML text, e.g. written by ``remit import
redcap-dictionary``) in the trial database: audited, versioned (a changed definition of the
same code is a new revision), and immutable once a form uses the scale. The services install
the kept scales into :mod:`remit.scales` whenever they open the database
(:func:`install_trial_scales`), so ``remit scales``, the protocol checks and the forms use them
at once, without ``REMIT_SCALES_PATH``. A code that is a shipped scale or a file of
``REMIT_SCALES_PATH`` is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from remit.errors import InputError, ScaleError
from remit.scales import builtin_scales, parse_scale, user_scale_dirs
from remit.scales.loader import SCALES_PATH_ENV
from remit.services.unit import install_trial_scales, latest_trial_scales, reading, writing
from remit.store import Actor
from remit.store.scales import TrialScale
from remit.store.tables import Assessment

__all__ = [
    "TrialScaleRecord",
    "add_scale",
    "install_trial_scales",
    "kept_scale_definitions",
    "list_trial_scales",
    "open_trial_scales",
]


@dataclass(frozen=True)
class TrialScaleRecord:
    """One revision of a scale kept in the trial database."""

    id: int
    code: str
    revision: int
    name: str
    sha256: str
    source: str
    added_by: int | None
    added_at: datetime
    definition: str

    def to_dict(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self) | {"added_at": self.added_at.isoformat()}


def _record(row: TrialScale) -> TrialScaleRecord:
    return TrialScaleRecord(
        id=row.id,
        code=row.code,
        revision=row.revision,
        name=parse_scale(row.definition, f"{row.code} (trial database)").name,
        sha256=row.sha256,
        source=row.source,
        added_by=row.added_by,
        added_at=row.added_at,
        definition=row.definition,
    )


def add_scale(engine: Engine, actor: Actor, text: str, *, source: str) -> TrialScaleRecord:
    """Keep the scale definition ``text`` (TOML, ``docs/scales.md``) in the trial database.

    Refused (nothing kept): a definition that is not sound (every problem listed, as by
    ``remit scales check``); the code of a shipped scale or of a file in ``REMIT_SCALES_PATH``;
    a changed definition of a scale a form already uses (a scored form must keep the
    definition it was scored with). The same definition again keeps nothing new and returns
    the revision kept; a changed one of a scale no form uses is the next revision.

    Examples
    --------
    ::

        add_scale(engine, data_manager, Path("phq9.toml").read_text(), source="phq9.toml")
    """
    if not source.strip():
        raise InputError("the source of the scale is empty", expected="a file name")
    definition = parse_scale(text, source)
    code = definition.code
    if code in builtin_scales():
        raise InputError(
            f"scale {code!r} from {source} has the code of a built-in scale",
            expected="a code no shipped scale uses (" + ", ".join(builtin_scales()) + ")",
            hint="re-import the REDCap form under another form name, or change its `code`",
        )
    for folder in user_scale_dirs():
        if (folder / f"{code}.toml").is_file():
            raise InputError(
                f"scale {code!r} from {source} is also {folder / (code + '.toml')} "
                f"({SCALES_PATH_ENV})",
                expected="each scale code once: in REMIT_SCALES_PATH or in the trial database",
                hint=f"take the file out of {SCALES_PATH_ENV}, or rename one of the scales",
            )
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with writing(
        engine,
        actor,
        "manage_scales",
        reason=f"scale {code} from {source}",
        protocol=False,
        locks=False,
    ) as w:
        session = w.session
        kept = session.scalars(
            select(TrialScale).where(TrialScale.code == code).order_by(TrialScale.revision)
        ).all()
        if kept and kept[-1].sha256 == sha:
            return _record(kept[-1])
        if kept:
            used = session.scalar(
                select(func.count()).select_from(Assessment).where(Assessment.scale == code)
            )
            if used:
                raise ScaleError(
                    f"scale {code!r} (revision {kept[-1].revision}) is used by {used} form(s); "
                    f"its definition cannot change",
                    expected="the definition the forms were scored with",
                    hint="add the changed scale under another code (a new REDCap form name)",
                )
        row = TrialScale(
            code=code,
            revision=(kept[-1].revision + 1) if kept else 1,
            definition=text,
            sha256=sha,
            source=source.strip()[:300],
            added_by=actor.user_id,
        )
        w.uow.add(row)
        w.uow.flush()
        install_trial_scales(session, uncommitted=True)
        return _record(row)


def list_trial_scales(engine: Engine, actor: Actor) -> list[TrialScaleRecord]:
    """Every revision of the scales kept in the trial database, by code then revision."""
    with reading(engine, actor, "view_scales", "list_trial_scales") as r:
        rows = r.session.scalars(
            select(TrialScale).order_by(TrialScale.code, TrialScale.revision)
        ).all()
        return r.returning([_record(row) for row in rows])


def kept_scale_definitions(engine: Engine) -> dict[str, tuple[str, str]]:
    """Code → (TOML text, source) of the newest revision of each scale kept in the trial
    database of ``engine``: to keep them in another database (the ODM import's rehearsal).
    Like :func:`open_trial_scales` it reads instruments, not data: no access-log row."""
    with Session(engine) as session:
        return {row.code: (row.definition, row.source) for row in latest_trial_scales(session)}


def open_trial_scales(engine: Engine) -> list[str]:
    """Install the scales kept in the trial database of ``engine`` (see
    :func:`install_trial_scales`) for work that reads no participant data (``remit scales
    list --db``, a protocol check against a database); the codes installed. Scale definitions
    are instruments, not data about anyone: no access-log row is written."""
    with Session(engine) as session:
        install_trial_scales(session)
        return [row.code for row in latest_trial_scales(session)]
