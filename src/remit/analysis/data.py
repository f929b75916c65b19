"""The data contract of the analysis layer: :class:`TrialData`, a frozen bundle of frames.

Whoever holds a trial's data (the services layer reading the database, the synthetic trial, a
team keeping its data in spreadsheets) hands it to :mod:`remit.analysis` as a
:class:`TrialData`. Every frame has canonical column names (``participant_id``, ``visit_code``,
``study_day`` …) and is checked and normalised when the bundle is built, so that the
analysis code can rely on the column types.

Dates (columns ending in ``_date``) are ``datetime64[ns]`` without a time zone, normalised to
midnight; times (columns ending in ``_at``) are ``datetime64[ns, UTC]`` (a naive time is taken
to be UTC). Missing dates and times are ``NaT``; missing numbers ``NaN``; missing text ``None``.
Frames may carry extra columns; they are kept as given and take part in the snapshot hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from remit.analysis.cells import Column, frame_records, normalise_frame
from remit.errors import InputError, NotFoundError
from remit.protocol.status import (
    DECIDED_DOSE_STATUSES,
    ENROLLED_STATUSES,
    DoseKind,
    DoseStatus,
    ParticipantStatus,
    values,
)
from remit.protocol.vital_signs import VITAL_SIGNS

#: The statuses a participant may have (``participants.status``), as the store keeps them.
PARTICIPANT_STATUSES: tuple[str, ...] = values(ParticipantStatus)
DOSE_KINDS: tuple[str, ...] = values(DoseKind)
#: Dose statuses of the ``doses`` frame (an ``offered`` dose is neither given nor withheld).
DOSE_STATUSES: tuple[str, ...] = tuple(s for s in values(DoseStatus) if s in DECIDED_DOSE_STATUSES)


#: Every frame of :class:`TrialData` and its columns, in order.
SCHEMA: Mapping[str, tuple[Column, ...]] = {
    "participants": (
        Column("participant_id", "text", False, doc="study ID (pseudonymous)"),
        Column("site", "text", doc="site code"),
        Column("arm", "text", doc="arm code; None before allocation or if never enrolled"),
        Column("sex", "text", doc="'female', 'male' or another recorded value"),
        Column("age_years", "number", doc="age at screening in whole years"),
        Column("status", "text", False, PARTICIPANT_STATUSES, "where the participant is now"),
        Column("screened_date", "date", doc="date of the first screening contact"),
        Column("enrolled_date", "date", doc="date of enrolment; NaT if never enrolled"),
        Column(
            "ineligible_reasons",
            "text_list",
            doc="list of the eligibility criteria ids (or texts) that excluded the person",
        ),
        Column("withdrawn_reason", "text", doc="why the participant left early, if so"),
        Column("simulated", "bool", False, doc="True for synthetic participants"),
        Column(
            "consented_at", "time", doc="when informed consent was first given (UTC)", optional=True
        ),
        Column(
            "consent_withdrawn_at",
            "time",
            doc="when consent was fully withdrawn (UTC); empty if it never was",
            optional=True,
        ),
        Column(
            "race",
            "text",
            doc="CDISC RACE term; empty when the protocol does not collect race",
            optional=True,
        ),
        Column(
            "ethnicity",
            "text",
            doc="CDISC ETHNIC term; empty when the protocol does not collect ethnicity",
            optional=True,
        ),
    ),
    "visits": (
        Column("participant_id", "text", False),
        Column("visit_code", "text", False, doc="visit code of the protocol"),
        Column("target_date", "date", doc="planned date"),
        Column("window_start_date", "date", doc="first date inside the window"),
        Column("window_end_date", "date", doc="last date inside the window"),
        Column("actual_date", "date", doc="date the visit took place; NaT if not (yet)"),
        Column("study_day", "number", doc="actual_date minus the reference visit date"),
        Column(
            "window_status",
            "text",
            doc="e.g. 'in_window', 'early', 'late', 'missed', 'pending' (as recorded)",
        ),
    ),
    "scores": (
        Column("participant_id", "text", False),
        Column("visit_code", "text", doc="visit of the form; None for a form outside any visit"),
        Column("study_day", "number"),
        Column("scale", "text", False, doc="scale code, e.g. 'madrs'"),
        Column("version", "text", doc="scale version, e.g. 'since_last_visit'"),
        Column("total", "number", doc="total score; NaN when missing or not defined"),
        Column("band", "text", doc="severity band of the total"),
        Column("n_missing", "integer", doc="required items left blank"),
        Column("prorated", "bool", doc="whether the total was prorated"),
        Column("assessed_at", "time", doc="when the form was completed (UTC)"),
        Column("items", "mapping", doc="item code → answer value"),
        Column("subscales", "mapping", doc="subscale code → value"),
        Column("derived", "mapping", doc="derived value name → value (e.g. ideation_type)"),
    ),
    "doses": (
        Column("participant_id", "text", False),
        Column("visit_code", "text", False),
        Column("session_number", "integer", False, doc="dosing session number (1, 2, …)"),
        Column("kind", "text", False, DOSE_KINDS),
        Column("dose_mg", "number", doc="dose given or offered, mg"),
        Column("status", "text", False, DOSE_STATUSES),
        Column("given_at", "time", doc="when the dose was taken; NaT if withheld"),
        Column("withheld_reason", "text", doc="why a dose was withheld"),
    ),
    "vitals": (
        Column("participant_id", "text", False),
        Column("visit_code", "text", False),
        Column("session_number", "integer", doc="dosing session number"),
        Column("minutes_after_dose", "number", doc="minutes after the initial dose (≤ 0 pre)"),
        Column("measured_at", "time"),
        # one column per vital sign of the vocabulary, named by its code (NaN: not read)
        *(Column(s.code, "number", doc=f"{s.label} ({s.unit})") for s in VITAL_SIGNS.values()),
    ),
    "adverse_events": (
        Column("participant_id", "text", False),
        Column("term", "text", False, doc="reported term of the event"),
        Column("onset_date", "date"),
        Column("end_date", "date", doc="date the event resolved; NaT while not", optional=True),
        Column("severity", "text", doc="'mild', 'moderate' or 'severe'"),
        Column("serious", "bool", False, doc="serious adverse event (SAE)"),
        Column("relatedness", "text", doc="e.g. 'not related', 'possibly', 'related'"),
        Column("outcome", "text", doc="e.g. 'recovered', 'ongoing'"),
        Column(
            "action_taken",
            "text",
            doc="action taken with the study treatment (ActionTaken words); empty: not recorded",
            optional=True,
        ),
        Column("awareness_at", "time", doc="when the site learnt of the event", optional=True),
        Column("report_due_at", "time", doc="when a serious event must be reported", optional=True),
        Column("reported_at", "time", doc="when a serious event was reported", optional=True),
        # the MedDRA code (primary path) of a coded event; empty while uncoded
        Column("llt_code", "integer", doc="MedDRA LLT code", optional=True),
        Column("llt_name", "text", doc="MedDRA LLT name", optional=True),
        Column("pt_code", "integer", doc="MedDRA PT code", optional=True),
        Column("pt_name", "text", doc="MedDRA PT name", optional=True),
        Column("hlt_code", "integer", doc="MedDRA HLT code", optional=True),
        Column("hlt_name", "text", doc="MedDRA HLT name", optional=True),
        Column("hlgt_code", "integer", doc="MedDRA HLGT code", optional=True),
        Column("hlgt_name", "text", doc="MedDRA HLGT name", optional=True),
        Column("soc_code", "integer", doc="MedDRA SOC code", optional=True),
        Column("soc_name", "text", doc="MedDRA SOC name", optional=True),
    ),
    "alerts": (
        Column("participant_id", "text", False),
        Column("rule_id", "text", False, doc="the safety rule that raised the alert"),
        Column("level", "text", doc="immediate, urgent, same_day or review"),
        Column("raised_at", "time"),
        Column("status", "text", doc="e.g. 'open', 'acknowledged', 'closed'"),
        Column(
            "observed_at",
            "time",
            doc="when the observation behind the alert was made",
            optional=True,
        ),
        Column("acknowledged_at", "time", doc="when someone acknowledged it", optional=True),
        Column("closed_at", "time", doc="when it was closed", optional=True),
    ),
    "deviations": (
        Column("participant_id", "text", doc="None for a study-wide deviation"),
        Column("visit_code", "text", doc="visit the deviation belongs to, if any"),
        Column("category", "text", False, doc="e.g. 'visit_out_of_window', 'dose_stop_override'"),
        Column("major", "bool", False, doc="a major (important) deviation"),
        Column("description", "text", doc="what happened"),
        Column("occurred_date", "date", doc="when it happened"),
    ),
    "conmeds": (
        Column("participant_id", "text", False),
        Column("conmed_id", "integer", False, doc="the medication record's number"),
        Column("name", "text", False, doc="medication as reported (verbatim)"),
        Column("atc_code", "text", doc="WHO ATC code of the substance"),
        Column("atc_class", "text", doc="ATC class (first 5 characters of the code)"),
        Column("dose", "text", doc="dose as recorded, e.g. '100 mg'"),
        Column("route", "text", doc="route of administration, e.g. 'oral'"),
        Column("indication", "text", doc="what it is taken for"),
        Column("start_date", "date", doc="first day taken; NaT if not known"),
        Column("stop_date", "date", doc="last day taken; NaT while ongoing"),
        Column(
            "taper_steps",
            "mapping",
            doc="the dated taper plan: step date (YYYY-MM-DD) → dose from that day",
        ),
        Column("prohibited", "text", doc="the protocol's prohibited class it falls in, if any"),
        # the WHODrug code of a coded medication; empty while uncoded
        Column("drug_code", "text", doc="WHODrug drug code", optional=True),
        Column("drug_decod", "text", doc="WHODrug preferred name", optional=True),
        Column("drug_atc_code", "text", doc="ATC code of the WHODrug record", optional=True),
        Column("drug_atc_text", "text", doc="ATC text of that code", optional=True),
    ),
    "results": (
        Column("participant_id", "text", False),
        Column("visit_code", "text", doc="visit the result was taken at"),
        Column("test_code", "text", False, doc="test of the protocol's [[results.tests]]"),
        Column("value_number", "number", doc="numeric result; NaN for a screen"),
        Column("value_text", "text", doc="a screen's answer, e.g. 'negative'"),
        Column("unit", "text", doc="unit of a numeric result"),
        Column("normal_low", "number", doc="lower end of the normal range it was judged by"),
        Column("normal_high", "number", doc="upper end of the normal range it was judged by"),
        Column("interpretation", "text", False, doc="normal, low, high, negative, positive …"),
        Column("collected_at", "time", doc="when the sample or tracing was taken"),
    ),
    "checklists": (
        Column("participant_id", "text", False),
        Column("visit_code", "text", doc="the dosing visit"),
        Column("session_number", "integer", doc="dosing session number"),
        Column("completed_at", "time", doc="when the pre-dose checklist was completed"),
        Column("items", "mapping", doc="item id → status (pass, not_applicable, overridden)"),
        Column("not_applicable", "mapping", doc="item id → why it is not applicable"),
        Column("override_reason", "text", doc="investigator's reason to give over failing items"),
    ),
}

FRAME_NAMES: tuple[str, ...] = tuple(SCHEMA)
_FORMAT = "remit-trial-data"
_FORMAT_VERSION = 1


def empty_frame(name: str) -> pd.DataFrame:
    """An empty frame of the contract with the right columns and types.

    Examples
    --------
    >>> list(empty_frame("alerts").columns)  # doctest: +ELLIPSIS
    ['participant_id', 'rule_id', 'level', 'raised_at', 'status', 'observed_at', ...]
    """
    if name not in SCHEMA:
        raise NotFoundError(
            f"there is no TrialData frame called {name!r}", expected="one of " + ", ".join(SCHEMA)
        )
    columns = SCHEMA[name]
    frame = pd.DataFrame({c.name: pd.Series([], dtype=object) for c in columns})
    return _normalise(name, frame)


def _normalise(name: str, frame: object) -> pd.DataFrame:
    return normalise_frame(name, frame, SCHEMA[name])


def _default(name: str) -> Callable[[], pd.DataFrame]:
    return lambda: empty_frame(name)


@dataclass(frozen=True, eq=False)
class TrialData:
    """Everything the analysis needs about one trial, as pandas DataFrames.

    Build it with keyword arguments; frames left out are empty. Each frame is checked and
    normalised on construction (see the module docstring for types); a missing column, a value
    of the wrong type or an unknown status raises :class:`~remit.errors.InputError` naming the
    frame and the column. Extra columns are kept.

    Frames and their columns (``docs/analysis.md`` has the full table):

    ``participants`` — one row per person screened
        participant_id, site, arm, sex, age_years, status (screening, eligible, ineligible,
        enrolled, on_study, in_follow_up, completed, withdrawn, lost_to_follow_up), screened_date,
        enrolled_date (NaT if never), ineligible_reasons (list of str), withdrawn_reason,
        simulated (bool).
    ``visits`` — one row per participant × scheduled visit
        participant_id, visit_code, target_date, window_start_date, window_end_date,
        actual_date (NaT if not done), study_day, window_status.
    ``scores`` — one row per completed form (participant × visit × scale form)
        participant_id, visit_code, study_day, scale, version, total (NaN if none), band,
        n_missing, prorated, assessed_at, items (dict item code → value), subscales (dict),
        derived (dict, e.g. C-SSRS ``ideation_type``).
    ``doses`` — one row per dose initial or supplemental, given or withheld
        participant_id, visit_code, session_number, kind (initial/supplemental), dose_mg,
        status (given/withheld), given_at, withheld_reason.
    ``vitals`` — one row per set of vital signs in a dosing session
        participant_id, visit_code, session_number, minutes_after_dose (≤ 0 before the dose),
        measured_at, then one column per vital sign (``remit.protocol.VITAL_SIGNS``:
        systolic_bp, diastolic_bp, heart_rate, temperature, respiratory_rate,
        oxygen_saturation; NaN when not read).
    ``adverse_events`` — one row per adverse event
        participant_id, term, onset_date, severity, serious (bool), relatedness, outcome;
        optional end_date, action_taken and MedDRA codes and names (llt_/pt_/hlt_/hlgt_/soc_
        code and name).
    ``alerts`` — one row per safety alert
        participant_id, rule_id, level, raised_at, status; optional observed_at,
        acknowledged_at, closed_at.
    ``deviations`` — one row per protocol deviation
        participant_id (None: study-wide), visit_code, category, major (bool), description,
        occurred_date.
    ``conmeds`` — one row per concomitant medication
        participant_id, conmed_id, name, atc_code, atc_class, dose, route, indication,
        start_date, stop_date (NaT while ongoing), taper_steps (dict step date → dose),
        prohibited (the protocol's prohibited class, if any); optional WHODrug drug_code,
        drug_decod, drug_atc_code, drug_atc_text.
    ``results`` — one row per clinical result (laboratory, ECG, screening test)
        participant_id, visit_code, test_code, value_number or value_text, unit, normal_low,
        normal_high, interpretation, collected_at.
    ``checklists`` — one row per pre-dose checklist completion
        participant_id, visit_code, session_number, completed_at, items (dict item id →
        status), not_applicable (dict item id → reason), override_reason.

    An optional column (adverse_events: awareness_at, report_due_at, reported_at, the MedDRA
    columns; conmeds: the WHODrug columns) may be left out; it is then empty.

    ``simulated`` marks data made by :mod:`remit.simulate`; every output then says SIMULATED.

    Two bundles are compared by :meth:`snapshot_sha256` (``==`` is identity, since frames
    have no single truth value).

    Examples
    --------
    >>> import pandas as pd
    >>> people = pd.DataFrame({
    ...     "participant_id": ["P01"], "site": ["OST"], "arm": ["MDMA"], "sex": ["female"],
    ...     "age_years": [41], "status": ["completed"], "screened_date": ["2023-01-02"],
    ...     "enrolled_date": ["2023-01-20"], "ineligible_reasons": [[]],
    ...     "withdrawn_reason": [None], "simulated": [False]})
    >>> data = TrialData(participants=people)
    >>> data.participants["enrolled_date"].dtype
    dtype('<M8[ns]')
    >>> len(data.snapshot_sha256())
    64
    >>> TrialData(participants=people.drop(columns="sex"))
    Traceback (most recent call last):
    ...
    remit.errors.InputError: TrialData.participants lacks column sex; expected columns ...
    """

    participants: pd.DataFrame = field(default_factory=_default("participants"))
    visits: pd.DataFrame = field(default_factory=_default("visits"))
    scores: pd.DataFrame = field(default_factory=_default("scores"))
    doses: pd.DataFrame = field(default_factory=_default("doses"))
    vitals: pd.DataFrame = field(default_factory=_default("vitals"))
    adverse_events: pd.DataFrame = field(default_factory=_default("adverse_events"))
    alerts: pd.DataFrame = field(default_factory=_default("alerts"))
    deviations: pd.DataFrame = field(default_factory=_default("deviations"))
    conmeds: pd.DataFrame = field(default_factory=_default("conmeds"))
    results: pd.DataFrame = field(default_factory=_default("results"))
    checklists: pd.DataFrame = field(default_factory=_default("checklists"))
    simulated: bool = False

    def __post_init__(self) -> None:
        for name in FRAME_NAMES:
            object.__setattr__(self, name, _normalise(name, getattr(self, name)))
        if not isinstance(self.simulated, bool):
            raise InputError(
                f"TrialData.simulated must be True or False; got {self.simulated!r}",
                expected="a bool",
            )

    def frames(self) -> dict[str, pd.DataFrame]:
        """The frames by name, in contract order.

        Examples
        --------
        >>> list(TrialData().frames())[:3]
        ['participants', 'visits', 'scores']
        """
        return {name: getattr(self, name) for name in FRAME_NAMES}

    def snapshot_sha256(self) -> str:
        """SHA-256 (hex) of the data, for provenance.

        The hash covers every frame and column (extra columns too) and the ``simulated`` flag;
        rows are put in a canonical order first, so the same data in another row order give
        the same hash, and any changed value gives another.

        Examples
        --------
        >>> TrialData().snapshot_sha256() == TrialData().snapshot_sha256()
        True
        >>> TrialData().snapshot_sha256() == TrialData(simulated=True).snapshot_sha256()
        False
        """
        digest = hashlib.sha256()
        digest.update(f"{_FORMAT}/{_FORMAT_VERSION};simulated={self.simulated}\n".encode())
        for name in FRAME_NAMES:
            frame = getattr(self, name)
            records = frame_records(frame[sorted(frame.columns)])
            lines = sorted(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in records)
            digest.update(f"[{name}]\n".encode())
            for line in lines:
                digest.update(line.encode("utf-8"))
                digest.update(b"\n")
        return digest.hexdigest()

    @property
    def enrolled_ids(self) -> tuple[str, ...]:
        """Ids of the participants who were ever enrolled: an enrolment date, or a status
        that only follows enrolment (:data:`ENROLLED_STATUSES`).

        Examples
        --------
        >>> TrialData().enrolled_ids
        ()
        """
        p = self.participants
        mask = p["status"].isin(ENROLLED_STATUSES) | p["enrolled_date"].notna()
        return tuple(str(x) for x in p.loc[mask, "participant_id"])

    def to_directory(self, path: str | Path) -> Path:
        """Write the frames as CSV files plus ``manifest.json`` into ``path`` (created).

        Each frame goes to ``<name>.csv``; dates and times are ISO 8601, dict and list cells
        (``items``, ``subscales``, ``derived``, ``ineligible_reasons``) are JSON text.
        :meth:`from_directory` reads it back to an equal bundle (same snapshot hash).

        Examples
        --------
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     back = TrialData.from_directory(TrialData(simulated=True).to_directory(d))
        >>> back.simulated
        True
        """
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        for name in FRAME_NAMES:
            frame = getattr(self, name)
            records = frame_records(frame)
            cols = list(frame.columns)
            table = pd.DataFrame(
                [[_cell(r[c]) for c in cols] for r in records], columns=cols, dtype=object
            )
            table.to_csv(folder / f"{name}.csv", index=False)
        manifest = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "simulated": self.simulated,
            "frames": {n: f"{n}.csv" for n in FRAME_NAMES},
            "snapshot_sha256": self.snapshot_sha256(),
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        return folder

    @classmethod
    def from_directory(cls, path: str | Path) -> TrialData:
        """Read a bundle written by :meth:`to_directory` (or by hand in the same format).

        A frame whose CSV file is absent is empty; ``manifest.json`` is optional (without it
        the data are taken as not simulated unless ``participants.simulated`` says so).

        Examples
        --------
        >>> TrialData.from_directory("/no/such/dir")
        Traceback (most recent call last):
        ...
        remit.errors.NotFoundError: no trial-data directory at /no/such/dir; ...
        """
        folder = Path(path)
        if not folder.is_dir():
            raise NotFoundError(
                f"no trial-data directory at {folder}",
                expected="a directory with participants.csv, scores.csv, … (and manifest.json)",
                hint="write one with TrialData.to_directory()",
            )
        simulated: bool | None = None
        manifest_path = folder / "manifest.json"
        if manifest_path.exists():
            try:
                manifest = json.loads(manifest_path.read_text("utf-8"))
            except json.JSONDecodeError as exc:
                raise InputError(f"{manifest_path} is not valid JSON ({exc})") from exc
            if manifest.get("format") != _FORMAT:
                raise InputError(
                    f"{manifest_path} has format {manifest.get('format')!r}",
                    expected=repr(_FORMAT),
                )
            simulated = bool(manifest.get("simulated", False))
        frames: dict[str, pd.DataFrame] = {}
        for name in FRAME_NAMES:
            file = folder / f"{name}.csv"
            if not file.exists():
                continue
            columns = SCHEMA[name]
            text_like = [c.name for c in columns if c.kind in ("text", "mapping", "text_list")]
            try:
                table = pd.read_csv(
                    file, dtype=dict.fromkeys(text_like, str), keep_default_na=False, na_values=[""]
                )
            except (ValueError, pd.errors.ParserError) as exc:
                raise InputError(f"cannot read {file}: {exc}") from exc
            table = table.astype(object).where(table.notna(), None)
            frames[name] = table
        if simulated is None:
            people = frames.get("participants")
            simulated = bool(
                people is not None
                and "simulated" in people
                and any(str(v).lower() in ("true", "1") for v in people["simulated"])
            )
        return cls(**frames, simulated=simulated)


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def frame_columns(name: str) -> tuple[Column, ...]:
    """The columns of frame ``name`` of the contract.

    Examples
    --------
    >>> [c.name for c in frame_columns("doses")][:3]
    ['participant_id', 'visit_code', 'session_number']
    """
    if name not in SCHEMA:
        raise NotFoundError(
            f"there is no TrialData frame called {name!r}", expected="one of " + ", ".join(SCHEMA)
        )
    return SCHEMA[name]


__all__ = [
    "DOSE_KINDS",
    "DOSE_STATUSES",
    "ENROLLED_STATUSES",
    "FRAME_NAMES",
    "PARTICIPANT_STATUSES",
    "SCHEMA",
    "Column",
    "TrialData",
    "empty_frame",
    "frame_columns",
    "frame_records",
]
