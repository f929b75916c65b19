"""``export_trial``: tidy CSV, SDTM and ADaM (XPT + Dataset-JSON + define), ODM XML."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from remit.analysis import TrialData, build_adqs, build_adsl
from remit.errors import InputError
from remit.interop.adam import build_adam
from remit.interop.dataset import Dataset
from remit.interop.datasetjson import write_dataset_json
from remit.interop.dateshift import DateShift, shift_trial_data
from remit.interop.define import define_metadata, write_define
from remit.interop.sdtm import SdtmSettings, build_sdtm
from remit.interop.tidy import form_frames, write_csv
from remit.interop.xpt import write_xpt
from remit.protocol import Protocol
from remit.services import Actor, Engine, build_trial_data, trial_protocol

#: Formats ``export_trial`` writes.
FORMATS = ("csv", "sdtm", "adam", "odm")


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


def _write_cdisc(
    datasets: dict[str, Dataset],
    directory: Path,
    *,
    protocol: Protocol,
    created: datetime,
    notes: str,
) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, ds in datasets.items():
        written.append(write_xpt(ds, directory / f"{name.lower()}.xpt"))
        written.append(
            write_dataset_json(
                ds,
                directory / f"{name.lower()}.json",
                study_oid=protocol.study.id,
                created_at=created,
                source_version=_version(),
            )
        )
    meta = define_metadata(
        datasets.values(),
        study_id=protocol.study.id,
        protocol_version=protocol.study.version,
        notes=notes,
    )
    written.extend(write_define(meta, directory))
    return written


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("remit")
    except PackageNotFoundError:
        return "unknown"


def export_trial(
    engine: Engine,
    out_dir: str | Path,
    *,
    formats: Sequence[str] = FORMATS,
    date_shift: DateShift | None = None,
    clinician_domain: str = "QS",
    actor: Actor | None = None,
    odm_variants: Sequence[str] = ("snapshot", "transactional"),
    created_at: datetime | None = None,
) -> ExportResult:
    """Export the trial in ``engine`` to ``out_dir`` (subfolders ``csv``, ``sdtm``, ``adam``,
    ``odm``).

    Pseudonymised by construction: participants appear under their study IDs only and the
    identity table is never read. With ``date_shift`` every date and time of a participant
    moves by that participant's offset (the same in every format). ``clinician_domain``
    (``QS`` or ``RS``) places clinician-rated scales such as MADRS. ``actor`` is checked
    against the access table (``None``: a trusted in-process caller).
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise InputError(f"unknown export format(s) {unknown}", expected=", ".join(FORMATS))
    if clinician_domain not in ("QS", "RS"):
        raise InputError(f"clinician domain {clinician_domain!r}", expected="QS or RS")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    created = (created_at or datetime.now(UTC)).astimezone(UTC)
    protocol = trial_protocol(engine)
    data: TrialData = build_trial_data(engine, actor=actor or Actor.system("remit-export"))
    if date_shift is not None:
        data = shift_trial_data(data, date_shift)
    files: dict[str, list[Path]] = {}
    notes: list[str] = []
    if data.simulated:
        notes.append("SIMULATED data")
    shifted = " Dates are shifted per participant." if date_shift else ""
    if "csv" in formats:
        d = out / "csv"
        d.mkdir(exist_ok=True)
        written = [
            write_csv(frame, d / f"form_{scale}.csv") for scale, frame in form_frames(data).items()
        ]
        for name, frame in data.frames().items():
            written.append(write_csv(frame, d / f"{name}.csv"))
        written.append(write_csv(build_adsl(data, protocol), d / "analysis_adsl.csv"))
        written.append(write_csv(build_adqs(data, protocol), d / "analysis_adqs.csv"))
        files["csv"] = written
    if "sdtm" in formats:
        settings = SdtmSettings(clinician_domain=clinician_domain)  # type: ignore[arg-type]
        files["sdtm"] = _write_cdisc(
            build_sdtm(data, protocol, settings),
            out / "sdtm",
            protocol=protocol,
            created=created,
            notes="SDTM domains; times are UTC." + shifted,
        )
    if "adam" in formats:
        files["adam"] = _write_cdisc(
            build_adam(data, protocol),
            out / "adam",
            protocol=protocol,
            created=created,
            notes="ADaM datasets built with remit.analysis (the numbers of the report)." + shifted,
        )
    if "odm" in formats:
        from remit.interop.odm import write_odm_files

        files["odm"] = write_odm_files(
            engine,
            protocol,
            out / "odm",
            variants=odm_variants,
            date_shift=date_shift,
            created_at=created,
            participants=set(data.participants["participant_id"].astype(str)),
            actor=actor,
        )
    return ExportResult(
        out_dir=out,
        files={k: tuple(str(p.relative_to(out)) for p in v) for k, v in files.items()},
        participants=len(data.participants),
        date_shifted=date_shift is not None,
        clinician_domain=clinician_domain,
        created_at=created,
        notes=tuple(notes),
    )
