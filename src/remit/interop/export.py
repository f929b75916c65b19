"""``export_trial``: the trial in the chosen formats of
:data:`~remit.interop.formats.EXPORT_FORMATS` (tidy CSV, SDTM and ADaM as XPT + Dataset-JSON +
define, ODM XML), from trial data built once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from remit.analysis import TrialData
from remit.errors import InputError
from remit.interop.dateshift import DateShift, shift_trial_data
from remit.interop.formats import FORMATS, ExportJob, chosen_formats
from remit.interop.odm import ODM_VARIANTS
from remit.interop.sdtm import CLINICIAN_DOMAINS
from remit.services import Actor, Engine, build_trial_data, trial_protocol


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: files per format (paths relative to ``out_dir``)."""

    out_dir: Path
    files: dict[str, tuple[str, ...]]
    participants: int
    date_shifted: bool
    clinician_domain: str
    created_at: datetime
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "out_dir": str(self.out_dir),
            "files": {k: list(v) for k, v in self.files.items()},
            "participants": self.participants,
            "date_shifted": self.date_shifted,
            "clinician_domain": self.clinician_domain,
            "created_at": self.created_at.isoformat(),
            "notes": list(self.notes),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per file written."""
        return pd.DataFrame(
            [{"format": k, "file": f} for k, files in self.files.items() for f in files],
            columns=["format", "file"],
        )

    def summary(self) -> str:
        """One line per format."""
        lines = [f"export of {self.participants} participants to {self.out_dir}"]
        for k, files in self.files.items():
            lines.append(f"  {k}: {len(files)} files")
        if self.date_shifted:
            lines.append("  dates shifted per participant")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def export_trial(
    engine: Engine,
    out_dir: str | Path,
    *,
    formats: Sequence[str] = FORMATS,
    date_shift: DateShift | None = None,
    clinician_domain: str = "QS",
    actor: Actor | None = None,
    odm_variants: Sequence[str] = ODM_VARIANTS,
    created_at: datetime | None = None,
    data: TrialData | None = None,
) -> ExportResult:
    """Export the trial in ``engine`` to ``out_dir``, one subfolder per format.

    ``formats``: names from :data:`~remit.interop.formats.EXPORT_FORMATS` (or ``all``); each
    is written in the family's order. The trial data are built once, for ``actor``, and every
    format reads the same frames.

    Pseudonymised by construction: participants appear under their study IDs only and the
    identity table is never read. With ``date_shift`` every date and time of a participant
    moves by that participant's offset (the same in every format). ``clinician_domain``
    (``QS`` or ``RS``) places clinician-rated scales such as MADRS. ``actor`` is checked
    against the access table (``None``: a trusted in-process caller). ``data``: trial data
    the caller has already built from ``engine`` (for an actor of its own; ``actor`` is then
    not given), exported as they are instead of built again; they are not changed.
    """
    chosen = chosen_formats(formats)
    if data is not None and actor is not None:
        raise InputError(
            f"both trial data and actor {actor!r}",
            expected="data already built (read with their own actor's access) or an actor "
            "to build them for",
            hint="pass one of the two",
        )
    if clinician_domain not in CLINICIAN_DOMAINS:
        raise InputError(
            f"clinician domain {clinician_domain!r}", expected=" or ".join(CLINICIAN_DOMAINS)
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    created = (created_at or datetime.now(UTC)).astimezone(UTC)
    protocol = trial_protocol(engine)
    # the trial data are built once here and every format reads them from the job
    if data is None:
        data = build_trial_data(engine, actor=actor or Actor.system("remit-export"))
    if date_shift is not None:
        data = shift_trial_data(data, date_shift)
    job = ExportJob(
        engine=engine,
        protocol=protocol,
        data=data,
        out_dir=out,
        created=created,
        date_shift=date_shift,
        clinician_domain=clinician_domain,
        odm_variants=tuple(odm_variants),
    )
    files = {f.name: f.write(job) for f in chosen}
    notes = ["SIMULATED data"] if data.simulated else []
    return ExportResult(
        out_dir=out,
        files={k: tuple(str(p.relative_to(out)) for p in v) for k, v in files.items()},
        participants=len(data.participants),
        date_shifted=date_shift is not None,
        clinician_domain=clinician_domain,
        created_at=created,
        notes=tuple(notes),
    )
