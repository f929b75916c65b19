"""Result objects of the plan runner: one section per analysis, provenance, the whole result."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from remit.analysis.data import frame_records
from remit.analysis.endpoints import EndpointsResult
from remit.analysis.scale_info import ScaleInfo
from remit.errors import NotFoundError


def plain(value: Any) -> Any:
    """``value`` as JSON-ready Python (numbers unrounded, NaN → None, frames → records).

    Examples
    --------
    >>> plain({"a": np.float64(1.5), "b": float("nan"), "c": (1, 2)})
    {'a': 1.5, 'b': None, 'c': [1, 2]}
    """
    if isinstance(value, pd.DataFrame):
        return frame_records(value)
    if isinstance(value, pd.Series):
        return {str(k): plain(v) for k, v in value.items()}
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, Mapping | type):
        return plain(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if value is pd.NaT or value is pd.NA:
        return None
    return value


#: Columns of every section's ``headline`` table.
HEADLINE_COLUMNS: tuple[str, ...] = (
    "arm",
    "scale",
    "visit",
    "quantity",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p",
    "n",
    "method",
)


#: The headline columns a section's result row carries under the same name.
_SHARED_COLUMNS = ("arm", "scale", "visit", "estimate", "se", "ci_low", "ci_high", "p", "n")


def headline_row(
    row: Mapping[Any, Any], quantity: str, method: str, **values: Any
) -> dict[str, Any]:
    """One headline row from a section's result ``row``: the headline columns the row has
    under the same name (``arm`` … ``n``), then ``quantity``, ``method`` and ``values`` for
    the columns the row names otherwise.

    Examples
    --------
    >>> r = {"scale": "madrs", "visit": "V2", "hl_estimate": -3.0, "n": 8, "w": 1}
    >>> headline_row(r, "change", "exact", estimate=r["hl_estimate"])
    {'scale': 'madrs', 'visit': 'V2', 'n': 8, 'quantity': 'change', 'method': 'exact', \
'estimate': -3.0}
    """
    shared = {column: row[column] for column in _SHARED_COLUMNS if column in row}
    return {**shared, "quantity": quantity, "method": method, **values}


def headline_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A headline table from row dicts (missing keys become NaN/None).

    Examples
    --------
    >>> list(headline_frame([{"scale": "madrs", "estimate": 1.0}]).columns)[:4]
    ['arm', 'scale', 'visit', 'quantity']
    """
    frame = pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))
    for col in ("estimate", "se", "ci_low", "ci_high", "p", "n"):
        frame[col] = frame[col].astype(float)
    return frame


@dataclass(frozen=True)
class Provenance:
    """Where a result came from: protocol, data, software, time.

    Attributes
    ----------
    protocol_id, protocol_version, protocol_sha256, protocol_source
        The protocol run (its SHA-256 names the exact text).
    data_sha256
        :meth:`TrialData.snapshot_sha256` of the data analysed.
    simulated
        True when the data are synthetic: every output must then say SIMULATED.
    created_at
        UTC time of the run (ISO 8601).
    software
        Versions of Python, remit, numpy, scipy, pandas and statsmodels.

    Examples
    --------
    >>> from remit.analysis import run_analysis_plan
    >>> from remit.analysis.examples import example_trial
    >>> from remit.protocol import load_protocol
    >>> result = run_analysis_plan(example_trial(), load_protocol("oslo-mdma-mdd"))
    >>> result.provenance.protocol_id, result.provenance.marker
    ('oslo-mdma-mdd', '')
    """

    protocol_id: str
    protocol_version: str
    protocol_sha256: str
    protocol_source: str
    data_sha256: str
    simulated: bool
    created_at: str
    software: dict[str, str]

    @property
    def marker(self) -> str:
        """``"SIMULATED"`` for synthetic data, else an empty string."""
        return "SIMULATED" if self.simulated else ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (``marker`` included)."""
        out: dict[str, Any] = {
            f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)
        }
        out["marker"] = self.marker
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per field (software versions flattened)."""
        rows = [(k, str(v)) for k, v in self.to_dict().items() if k != "software"]
        rows += [(f"software.{k}", v) for k, v in self.software.items()]
        return pd.DataFrame(rows, columns=["field", "value"])

    def summary(self) -> str:
        """A few lines of text."""
        lines = [
            f"protocol {self.protocol_id} v{self.protocol_version} "
            f"(sha256 {self.protocol_sha256[:12]}…)",
            f"data sha256 {self.data_sha256[:12]}… {self.marker}".rstrip(),
            f"run at {self.created_at} with "
            + ", ".join(f"{k} {v}" for k, v in self.software.items()),
        ]
        return "\n".join(lines)


@dataclass(frozen=True, eq=False, kw_only=True)
class SectionResult:
    """What every analysis of the plan returns; each kind adds its own typed tables.

    Each analysis kind has its own subclass (``MMRMSectionResult``, ``WilcoxonSectionResult``
    …) whose extra fields are its tables as DataFrames, main table first: the report reads
    those fields by name, so a misspelt table is an attribute error, not an empty table.

    Attributes
    ----------
    id, kind, label
        As in the protocol's plan.
    stats
        The raw :mod:`remit.stats` result objects, by key (e.g. ``"madrs/V13"``).
    conventions
        Named conventions used (p-value method, CI method, df method …).
    notes
        What a reader must know (missing data, warnings, what could not be estimated).
    assumption
        The plan's assumption note for this analysis, if any.
    headline
        The section's key estimates in the common columns of :data:`HEADLINE_COLUMNS`.
    spec
        The analysis as the protocol states it (its fields as plain values).

    Examples
    --------
    >>> from remit.analysis import run_analysis_plan
    >>> from remit.analysis.examples import example_trial
    >>> from remit.protocol import load_protocol
    >>> result = run_analysis_plan(example_trial(), load_protocol("oslo-mdma-mdd"))
    >>> s = result.section("mmrm")
    >>> type(s).__name__, list(s.tables), sorted(s.stats)
    ('MMRMSectionResult', ['change_vs_baseline', 'lsmeans', 'fits'], ['madrs', 'sds'])
    """

    id: str
    kind: str
    label: str
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)
    conventions: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()
    assumption: str | None = None
    headline: pd.DataFrame = dataclasses.field(default_factory=lambda: headline_frame([]))
    spec: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The kind's tables by field name, in declaration order (absent ones left out)."""
        common = {f.name for f in dataclasses.fields(SectionResult)}
        return {
            f.name: value
            for f in dataclasses.fields(self)
            if f.name not in common and isinstance(value := getattr(self, f.name), pd.DataFrame)
        }

    @property
    def table(self) -> pd.DataFrame:
        """The main table."""
        return next(iter(self.tables.values())) if self.tables else pd.DataFrame()

    def to_frame(self) -> pd.DataFrame:
        """The main table (a copy)."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every table as records and every raw stats result's ``to_dict()``."""
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "tables": {k: frame_records(v) for k, v in self.tables.items()},
            "stats": {k: plain(v) for k, v in self.stats.items()},
            "conventions": dict(self.conventions),
            "notes": list(self.notes),
            "assumption": self.assumption,
            "headline": frame_records(self.headline),
            "spec": plain(self.spec),
        }

    def summary(self) -> str:
        """The label, conventions, notes and the main table."""
        lines = [f"{self.label} [{self.kind}]"]
        lines += [f"  {k}: {v}" for k, v in self.conventions.items()]
        lines += [f"  note: {n}" for n in self.notes]
        if not self.table.empty:
            with pd.option_context("display.max_columns", None, "display.width", 200):
                lines.append(self.table.to_string(index=False))
        return "\n".join(lines)


def section_fields(
    analysis: Any,
    *,
    conventions: dict[str, str],
    stats: dict[str, Any] | None = None,
    notes: tuple[str, ...] = (),
    headline: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The fields every :class:`SectionResult` has, for one analysis of the plan (its id,
    kind, label, assumption and spec taken from ``analysis``); a runner adds its tables.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> a = load_protocol("oslo-mdma-mdd").analysis.analyses[0]
    >>> s = SectionResult(**section_fields(a, conventions={}))
    >>> s.id, s.kind, s.spec["scales"][:2], s.tables
    ('descriptive', 'descriptive', ['madrs', 'sds'], {})
    """
    return {
        "id": analysis.id,
        "kind": analysis.kind,
        "label": analysis.label,
        "stats": {} if stats is None else stats,
        "conventions": conventions,
        "notes": notes,
        "assumption": analysis.assumption,
        "headline": headline_frame([]) if headline is None else headline,
        "spec": analysis.model_dump(mode="json"),
    }


S = TypeVar("S", bound=SectionResult)


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """Everything the protocol's analysis plan produced, with provenance.

    Attributes
    ----------
    provenance
        Protocol and data hashes, software versions, time, SIMULATED marker.
    alpha, sides, ci_level, missing_data_policy
        The plan's conventions.
    population
        Ids analysed (everyone enrolled: the full analysis set).
    adsl, adqs
        The analysis datasets (see :func:`build_adsl`, :func:`build_adqs`).
    endpoints
        Every endpoint per participant, with definitions.
    missing
        Per scale and visit the analyses use: n in the population, n observed, n missing and
        who is missing.
    sections
        One :class:`SectionResult` per analysis of the plan, in plan order.
    scales
        A :class:`ScaleInfo` per scale (display name, total range), from the scale files.
    estimands
        The protocol's estimands (ICH E9(R1)), one sentence each, for the methods section.
    blinded
        Whether the data were blinded (a randomised trial read without the arms): every
        analysis pools both arms (:func:`remit.analysis.blinded.pooled_protocol`).

    Examples
    --------
    >>> from remit.analysis import run_analysis_plan
    >>> from remit.analysis.examples import example_trial
    >>> from remit.protocol import load_protocol
    >>> result = run_analysis_plan(example_trial(), load_protocol("oslo-mdma-mdd"))
    >>> [s.id for s in result.sections][:3]
    ['descriptive', 'wilcoxon', 'mmrm']
    >>> h = result.to_frame()
    >>> row = h[h.section == "mmrm"].iloc[0]
    >>> row["scale"], row["visit"], round(float(row["estimate"]), 6)
    ('madrs', 'V13', -17.0)
    """

    provenance: Provenance
    alpha: float
    sides: int
    ci_level: float
    missing_data_policy: str
    population: tuple[str, ...]
    adsl: pd.DataFrame
    adqs: pd.DataFrame
    endpoints: EndpointsResult
    missing: pd.DataFrame
    sections: tuple[SectionResult, ...]
    scales: Mapping[str, ScaleInfo] = dataclasses.field(default_factory=dict)
    estimands: tuple[str, ...] = ()
    blinded: bool = False

    def scale(self, code: str) -> ScaleInfo:
        """The facts of scale ``code`` (display name, total range) carried by the result."""
        return self.scales.get(code) or ScaleInfo.unknown(code)

    @property
    def simulated(self) -> bool:
        """Whether the data are synthetic."""
        return self.provenance.simulated

    def section(self, id: str) -> SectionResult:
        """The section of the analysis called ``id``; :class:`NotFoundError` if none."""
        for s in self.sections:
            if s.id == id:
                return s
        raise NotFoundError(
            f"the analysis plan has no analysis {id!r}",
            expected="one of " + ", ".join(s.id for s in self.sections),
        )

    def sections_of(self, kind: str) -> tuple[SectionResult, ...]:
        """Every section of analyses of ``kind`` (e.g. ``"mmrm"``)."""
        return tuple(s for s in self.sections if s.kind == kind)

    def of_type(self, cls: type[S]) -> tuple[S, ...]:
        """Every section whose result is a ``cls`` (e.g. ``MMRMSectionResult``), plan order."""
        return tuple(s for s in self.sections if isinstance(s, cls))

    def first(self, cls: type[S]) -> S | None:
        """The first section whose result is a ``cls``, or ``None``."""
        found = self.of_type(cls)
        return found[0] if found else None

    def __getitem__(self, id: str) -> SectionResult:
        return self.section(id)

    def to_frame(self) -> pd.DataFrame:
        """Headline estimates of every section in one long table.

        Columns: section, kind, then :data:`HEADLINE_COLUMNS` (arm — the arm the row is
        about, empty for a model over all arms —, scale, visit, quantity, estimate, se, ci_low,
        ci_high, p, n, method). Safety counts are in the safety section.
        """
        frames = [
            s.headline.assign(section=s.id, kind=s.kind)
            for s in self.sections
            if not s.headline.empty
        ]
        columns = ["section", "kind", *HEADLINE_COLUMNS]
        if not frames:
            return pd.DataFrame(columns=columns)
        return pd.concat(frames, ignore_index=True)[columns]

    def to_dict(self, *, include_datasets: bool = True) -> dict[str, Any]:
        """JSON-ready: provenance, conventions, endpoints, missing data and every section.

        Numbers are unrounded; NaN and infinities become ``null``. ADSL and ADQS are included
        as records unless ``include_datasets`` is false (ADQS holds every item answer and can
        run to megabytes).
        """
        out: dict[str, Any] = {
            "provenance": self.provenance.to_dict(),
            "simulated": self.simulated,
            "blinded": self.blinded,
            "alpha": self.alpha,
            "sides": self.sides,
            "ci_level": self.ci_level,
            "missing_data_policy": self.missing_data_policy,
            "population": list(self.population),
            "n_population": len(self.population),
            "missing": frame_records(self.missing),
            "endpoints": self.endpoints.to_dict(),
            "sections": [s.to_dict() for s in self.sections],
        }
        if include_datasets:
            out["adsl"] = frame_records(self.adsl)
            out["adqs"] = frame_records(self.adqs)
        return out

    def summary(self) -> str:
        """Readable text: provenance, missing data and each section."""
        head = "ANALYSIS RESULT" + (" — SIMULATED DATA" if self.simulated else "")
        if self.blinded:
            head += " — BLINDED (POOLED): ARMS NOT SHOWN"
        lines = [head, self.provenance.summary(), ""]
        lines.append(f"Population: {len(self.population)} enrolled (full analysis set)")
        gaps = self.missing[self.missing["n_missing"] > 0]
        for rec in gaps.to_dict(orient="records"):
            who = ", ".join(str(x) for x in rec["missing_ids"])
            lines.append(
                f"  missing {rec['scale']} at {rec['visit_code']}: {rec['n_missing']} ({who})"
            )
        for s in self.sections:
            lines += ["", s.summary()]
        return "\n".join(lines)
