"""The export formats, declared once: :data:`EXPORT_FORMATS`.

Each :class:`ExportFormat` names the format (the ``--format`` value and the folder it writes),
says what it is and what files it writes, and carries its writer: a function of the
:class:`ExportJob` (the trial data, built once per export, and the export's settings) that
returns the paths it wrote. :func:`remit.interop.export_trial`, ``remit export --format`` (its
choices, help and ``all``), the web export page and the table in ``docs/interop.md``
(:func:`formats_table`) all read this tuple; ``tests/interop/test_formats_family.py`` checks
that every format has its writer, its section in the docs and a test of its files.

To add a format: write its writer here, add one :class:`ExportFormat` to
:data:`EXPORT_FORMATS`, a ``### <title>`` section and the regenerated table in
``docs/interop.md``, and a test of its files marked ``@pytest.mark.export_format("<name>")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

from remit.analysis import TrialData
from remit.errors import InputError
from remit.interop.adam import analysis_adqs, analysis_adsl, build_adam
from remit.interop.ct import check_terminology
from remit.interop.dataset import Dataset
from remit.interop.datasetjson import write_dataset_json
from remit.interop.dateshift import DateShift
from remit.interop.define import define_metadata, write_define
from remit.interop.define_xml import DefineStudy, Standard, write_define_xml
from remit.interop.odm import ODM_VARIANTS, write_odm_files
from remit.interop.qrs import check_qrs
from remit.interop.sdtm import ClinicianDomain, SdtmSettings, build_sdtm
from remit.interop.sdtm.base import Context
from remit.interop.tidy import form_frames, write_csv
from remit.interop.xpt import write_xpt
from remit.protocol import Protocol
from remit.services import Engine

#: The word for "every format" on the command line.
ALL = "all"


@dataclass(frozen=True)
class ExportJob:
    """What every format's writer reads: one export of one trial.

    ``data`` is built once per export (for the acting user) and already moved by
    ``date_shift`` when there is one; ``out_dir`` is the export's folder (each format writes
    into its own subfolder).
    """

    engine: Engine
    protocol: Protocol
    data: TrialData
    out_dir: Path
    created: datetime
    date_shift: DateShift | None = None
    clinician_domain: ClinicianDomain = "QS"
    odm_variants: tuple[str, ...] = ODM_VARIANTS

    @cached_property
    def context(self) -> Context:
        """The SDTM context of the job's data, shared by the SDTM and ADaM builds (built once,
        on first use)."""
        return Context(self.data, self.protocol)

    @property
    def shift_note(self) -> str:
        """A sentence for the define notes when dates are shifted (else empty)."""
        return " Dates are shifted per participant." if self.date_shift is not None else ""


@dataclass(frozen=True)
class ExportFormat:
    """One export format: ``name`` (``--format`` value and folder), ``title`` (display name and
    the heading of its section in ``docs/interop.md``), a one-line ``description``, the
    ``files`` it writes (in words, for the docs), its ``write`` function and whether the web
    export page ticks it by default."""

    name: str
    title: str
    description: str
    files: str
    write: Callable[[ExportJob], list[Path]]
    web_default: bool = False

    @property
    def folder(self) -> str:
        """The subfolder of the export the format writes into."""
        return self.name


def write_csv_export(job: ExportJob) -> list[Path]:
    """``csv/``: one file per scale form, the ``TrialData`` frames, the analysis datasets."""
    d = job.out_dir / "csv"
    d.mkdir(parents=True, exist_ok=True)
    written = [
        write_csv(frame, d / f"form_{scale}.csv") for scale, frame in form_frames(job.data).items()
    ]
    for name, frame in job.data.frames().items():
        written.append(write_csv(frame, d / f"{name}.csv"))
    # the analysis datasets ADaM is built from (built once per export)
    written.append(write_csv(analysis_adsl(job.context), d / "analysis_adsl.csv"))
    written.append(write_csv(analysis_adqs(job.context), d / "analysis_adqs.csv"))
    return written


def write_sdtm_export(job: ExportJob) -> list[Path]:
    """``sdtm/``: the SDTM domains as XPT and Dataset-JSON, with define.xml and
    define.json/html."""
    settings = SdtmSettings(clinician_domain=job.clinician_domain, data_cut=job.created)
    return _write_cdisc(
        build_sdtm(job.data, job.protocol, settings, job.context),
        job,
        "SDTM",
        notes="SDTM domains; times are UTC." + job.shift_note,
    )


def write_adam_export(job: ExportJob) -> list[Path]:
    """``adam/``: ADSL and ADQS as XPT and Dataset-JSON, with define.xml and
    define.json/html."""
    return _write_cdisc(
        build_adam(
            job.data,
            job.protocol,
            SdtmSettings(clinician_domain=job.clinician_domain, data_cut=job.created),
            job.context,
        ),
        job,
        "ADaM",
        notes="ADaM datasets built with remit.analysis (the numbers of the report)."
        + job.shift_note,
    )


def write_odm_export(job: ExportJob) -> list[Path]:
    """``odm/``: the ODM 1.3.2 snapshot and/or transactional file, from the job's data."""
    return write_odm_files(
        job.engine,
        job.protocol,
        job.out_dir / "odm",
        data=job.data,
        variants=job.odm_variants,
        date_shift=job.date_shift,
        created_at=job.created,
    )


def write_redcap_export(job: ExportJob) -> list[Path]:
    """``redcap/``: REDCap data dictionary, records, events and instrument mapping CSVs."""
    from remit.interop.redcap_export import build_redcap_export

    return build_redcap_export(job.protocol, job.data).write(job.out_dir / "redcap")


def _write_cdisc(
    datasets: Mapping[str, Dataset], job: ExportJob, standard: Standard, *, notes: str
) -> list[Path]:
    # terminology is checked before anything is written: a refused export leaves no files
    check_terminology(datasets.values())
    check_qrs(datasets.values())
    directory = job.out_dir / standard.lower()
    directory.mkdir(parents=True, exist_ok=True)
    protocol = job.protocol
    written: list[Path] = []
    for name, ds in datasets.items():
        written.append(write_xpt(ds, directory / f"{name.lower()}.xpt"))
        written.append(
            write_dataset_json(
                ds,
                directory / f"{name.lower()}.json",
                study_oid=protocol.study.id,
                created_at=job.created,
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
    written.extend(
        write_define_xml(
            datasets,
            directory,
            standard,
            DefineStudy(
                protocol.study.id,
                protocol.study.title,
                protocol.study.version,
                job.created,
                notes=notes,
                source_version=_version(),
            ),
        )
    )
    return written


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("remit")
    except PackageNotFoundError:
        return "unknown"


#: The export formats, in the order an export writes them.
EXPORT_FORMATS: tuple[ExportFormat, ...] = (
    ExportFormat(
        name="csv",
        title="CSV",
        description="tidy CSV: one file per form, the trial data frames, the analysis datasets",
        files="`form_<scale>.csv` (one row per completed form: keys, total, band, missing "
        "count, prorated flag, `item_*`, `subscale_*`, `derived_*`), the `TrialData` "
        "frames (`participants.csv` …), `analysis_adsl.csv`, `analysis_adqs.csv` (the "
        "analysis datasets as `remit.analysis` builds them)",
        write=write_csv_export,
        web_default=True,
    ),
    ExportFormat(
        name="sdtm",
        title="SDTM",
        description="CDISC SDTM domains (XPT + Dataset-JSON + define)",
        files="`<domain>.xpt` and `<domain>.json` for DM, EX, EC, CM, QS (and RS), AE, VS, DS, "
        "DV, SV, TA, TE, TV, TS; `define.xml` (Define-XML 2.1) with its stylesheet "
        "`define2-1.xsl`, `define.json`, `define.html`",
        write=write_sdtm_export,
    ),
    ExportFormat(
        name="adam",
        title="ADaM",
        description="CDISC ADaM ADSL and ADQS (XPT + Dataset-JSON + define)",
        files="`adsl.xpt/json`, `adqs.xpt/json`, `define.xml` (Define-XML 2.1) with "
        "`define2-1.xsl`, `define.json`, `define.html`",
        write=write_adam_export,
    ),
    ExportFormat(
        name="odm",
        title="ODM",
        description="CDISC ODM 1.3.2 XML: snapshot with audit records, transactional",
        files="`odm_snapshot.xml`, `odm_transactional.xml`",
        write=write_odm_export,
    ),
    ExportFormat(
        name="redcap",
        title="REDCap",
        description="REDCap data dictionary and records CSV for REDCap's Data Import Tool",
        files="`data_dictionary.csv` (REDCap's 18 columns: a participant instrument, one "
        "instrument per scale), `records.csv` (`record_id`, `redcap_event_name`, fields, "
        "`<form>_complete`), `events.csv`, `instrument_event_mapping.csv`, "
        "`repeating_instruments.csv` when a form repeats within a visit",
        write=write_redcap_export,
    ),
)

#: The names of the export formats (``--format`` values, folders).
FORMATS: tuple[str, ...] = tuple(f.name for f in EXPORT_FORMATS)


def chosen_formats(names: Iterable[str]) -> tuple[ExportFormat, ...]:
    """The formats named (``all`` for every one), in the family's order, each once.

    Raises :class:`~remit.errors.InputError` listing the unknown names, or when none is named.
    """
    wanted = list(names)
    unknown = [n for n in wanted if n != ALL and n not in FORMATS]
    if unknown or not wanted:
        raise InputError(f"unknown export format(s) {unknown}", expected=", ".join((*FORMATS, ALL)))
    if ALL in wanted:
        return EXPORT_FORMATS
    return tuple(f for f in EXPORT_FORMATS if f.name in wanted)


def formats_help() -> str:
    """The ``--format`` help: every format's name, then ``all``."""
    return ", ".join(FORMATS) + f" or {ALL}; repeat for several (default: {ALL})."


def formats_table() -> str:
    """The Markdown table of folders and files in ``docs/interop.md``."""
    lines = ["| folder | files |", "|---|---|"]
    lines += [f"| `{f.folder}/` | {f.files} |" for f in EXPORT_FORMATS]
    return "\n".join(lines)


__all__ = [
    "ALL",
    "EXPORT_FORMATS",
    "FORMATS",
    "ExportFormat",
    "ExportJob",
    "chosen_formats",
    "formats_help",
    "formats_table",
]
