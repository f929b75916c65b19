"""A trial → the files REDCap's Data Dictionary and Data Import tools take.

* ``data_dictionary.csv`` — REDCap's 18 dictionary columns (:data:`remit.interop.redcap.COLUMNS`):
  a ``participant`` instrument first (``record_id`` and the participant's site, arm, sex, age,
  status, dates), then one instrument per scale of the protocol and the data. Each item becomes
  a field ``<scale>_<item code>``: whole-number items with an anchor for every value → ``radio``
  (``"0, Not at all | 1, …"``), other whole numbers and numbers → ``text`` validated as
  ``integer``/``number`` with min and max, yes/no → ``yesno``, choices → ``radio``, times →
  ``text`` validated as ``time``, text → ``notes``. Required items are "Required Field?" ``y``;
  a skip condition on yes/no items becomes branching logic. A plain sum or mean of plain
  items becomes a ``calc`` field ``<scale>_total`` (REDCap computes it on import); Remit's own
  total, band, scale version, time point (for scales rated at time points within a visit) and
  assessment time are read-only fields beside it (``<scale>_remit_total`` …, ``@READONLY``)
  since Remit's total may prorate.
* ``records.csv`` — one row per participant × event (× repeat instance): ``record_id``,
  ``redcap_event_name``, ``redcap_repeat_instrument``/``redcap_repeat_instance`` when a form is
  filled more than once at a visit, the field columns and ``<form>_complete`` (2 complete,
  0 incomplete). Calc fields are left out (REDCap refuses or recomputes them).
* ``events.csv`` (``event_name, arm_num, day_offset, offset_min, offset_max,
  unique_event_name, custom_event_label``), ``instrument_event_mapping.csv``
  (``arm_num, unique_event_name, form``) and, when needed, ``repeating_instruments.csv``
  (``event_name, form_name, custom_form_label``): what a longitudinal project needs before the
  records are imported (Project Setup → Define my events / Designate instruments, or the API).

Each visit is one event on arm 1 named after the visit code; its unique event name is the code
in lower case, non-letters as ``_``, cut to 18 characters, then ``_arm_1`` (as REDCap makes
it).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from remit.analysis import TrialData
from remit.errors import InputError
from remit.interop.redcap import COLUMNS
from remit.protocol import Protocol
from remit.scales import ItemDefinition, ScaleDefinition, load_scale, total_parts

#: Participant fields of the first instrument: name → (label, validation).
PARTICIPANT_FIELDS: Mapping[str, tuple[str, str]] = {
    "site": ("Site", ""),
    "arm": ("Arm (as randomised)", ""),
    "sex": ("Sex", ""),
    "age_years": ("Age (years)", "integer"),
    "status": ("Status", ""),
    "screened_date": ("Screened on", "date_ymd"),
    "enrolled_date": ("Enrolled on", "date_ymd"),
}
PARTICIPANT_FORM = "participant"
EVENTS_COLUMNS = (
    "event_name",
    "arm_num",
    "day_offset",
    "offset_min",
    "offset_max",
    "unique_event_name",
    "custom_event_label",
)
MAPPING_COLUMNS = ("arm_num", "unique_event_name", "form")
REPEATING_COLUMNS = ("event_name", "form_name", "custom_form_label")
_CODE = re.compile(r"^[a-z0-9_]+$")


def unique_event_name(visit_code: str, arm: int = 1) -> str:
    """REDCap's unique event name of an event named ``visit_code`` on ``arm``.

    Examples
    --------
    >>> unique_event_name("V1"), unique_event_name("Week 12")
    ('v1_arm_1', 'week_12_arm_1')
    """
    slug = re.sub(r"[^a-z0-9]", "_", visit_code.lower())[:18]
    return f"{slug}_arm_{arm}"


@dataclass(frozen=True)
class _Field:
    name: str
    form: str
    kind: str
    label: str
    choices: str = ""
    note: str = ""
    validation: str = ""
    low: str = ""
    high: str = ""
    branching: str = ""
    required: bool = False
    annotation: str = ""
    section: str = ""

    def row(self) -> dict[str, str]:
        return {
            COLUMNS[0]: self.name,
            COLUMNS[1]: self.form,
            COLUMNS[2]: self.section,
            COLUMNS[3]: self.kind,
            COLUMNS[4]: self.label,
            COLUMNS[5]: self.choices,
            COLUMNS[6]: self.note,
            COLUMNS[7]: self.validation,
            COLUMNS[8]: self.low,
            COLUMNS[9]: self.high,
            COLUMNS[10]: "",
            COLUMNS[11]: self.branching,
            COLUMNS[12]: "y" if self.required else "",
            COLUMNS[13]: "",
            COLUMNS[14]: "",
            COLUMNS[15]: "",
            COLUMNS[16]: "",
            COLUMNS[17]: self.annotation,
        }


def _num(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _var(scale: str, code: str) -> str:
    name = f"{scale}_{code}".lower()
    if len(name) > 100 or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise InputError(
            f"scale {scale} item {code} gives the REDCap variable {name!r}",
            expected="lower-case letters, digits and _, starting with a letter, at most 100",
            hint="give the item a shorter snake_case code in the scale file",
        )
    return name


def _choice_label(words: str) -> str:
    # "|" separates REDCap's choices: inside a label it would split the choice
    return words.replace("|", "/")


def _item_field(scale: ScaleDefinition, item: ItemDefinition) -> _Field:
    name = _var(scale.code, item.code)
    label = f"{item.ref}. {item.label}" if item.ref and item.ref != item.code else item.label
    base: dict[str, Any] = {
        "name": name,
        "form": scale.code,
        "label": label,
        "required": item.required or scale.safety.is_item(item.code),
    }
    if item.kind == "integer" and item.min is not None and item.max is not None:
        values = [str(v) for v in range(int(item.min), int(item.max) + 1)]
        if values and all(v in item.options for v in values):
            choices = " | ".join(f"{v}, {_choice_label(item.options[v])}" for v in values)
            return _Field(kind="radio", choices=choices, **base)
        return _Field(kind="text", validation="integer", low=_num(item.min),
                      high=_num(item.max), **base)  # fmt: skip
    if item.kind == "number":
        return _Field(kind="text", validation="number", low=_num(item.min),
                      high=_num(item.max), **base)  # fmt: skip
    if item.kind == "boolean":
        return _Field(kind="yesno", **base)
    if item.kind == "choice":
        bad = [c for c in item.options if not _CODE.match(c)]
        if bad:
            raise InputError(
                f"scale {scale.code} item {item.code} has choice code(s) {bad} REDCap cannot take",
                expected="choice codes of letters, digits and _",
            )
        return _Field(
            kind="radio",
            choices=" | ".join(f"{c}, {_choice_label(w)}" for c, w in item.options.items()),
            **base,
        )
    if item.kind == "time":
        return _Field(kind="text", validation="time", **base)
    return _Field(kind="notes", **base)


def _branching(scale: ScaleDefinition, item: ItemDefinition, kinds: Mapping[str, str]) -> str:
    cond = item.skip_when
    if cond is None:
        return ""
    names = [_var(scale.code, c) for c in cond.items]
    if cond.kind == "all_false" and all(kinds.get(c) == "boolean" for c in cond.items):
        return " or ".join(f"[{n}] = '1'" for n in names)
    if cond.kind == "any_true" and all(kinds.get(c) == "boolean" for c in cond.items):
        return " and ".join(f"[{n}] = '0'" for n in names)
    if cond.kind == "not_zero":
        return " and ".join(f"[{n}] = '0'" for n in names)
    return ""


def _calc(scale: ScaleDefinition, items: Mapping[str, ItemDefinition], version: str) -> str:
    """A REDCap calculation equal to the total for complete forms, or ``""``."""
    if scale.total is None or scale.total.source != "items" or len(scale.versions) > 1:
        return ""
    parts = total_parts(scale, version)
    plain = all(
        p in items
        and items[p].kind in ("integer", "number")
        and not items[p].recode
        and not items[p].bins
        for p in parts
    )
    if not plain or not parts:
        return ""
    return f"{scale.total.method}(" + ", ".join(f"[{_var(scale.code, p)}]" for p in parts) + ")"


def scale_fields(scale: ScaleDefinition, *, timepoints: bool = False) -> list[_Field]:
    """The dictionary rows of one scale's instrument (with a ``<scale>_timepoint`` field when
    the scale is rated at time points within a visit)."""
    items: dict[str, ItemDefinition] = {}
    for version in scale.versions:
        for it in scale.items_for(version):
            items.setdefault(it.code, it)
    kinds = {c: it.kind for c, it in items.items()}
    fields: list[_Field] = []
    section = None
    for it in items.values():
        f = _item_field(scale, it)
        header = ""
        if it.section and it.section != section:
            header = it.section.replace("_", " ").capitalize()
        section = it.section
        branching = _branching(scale, it, kinds)
        fields.append(
            _Field(**{**f.__dict__, "section": header, "branching": branching})
            if header or branching
            else f
        )
    code = scale.code
    calc = _calc(scale, items, scale.versions[0])
    if calc:
        fields.append(
            _Field(f"{code}_total", code, "calc", f"{scale.display_name} total", choices=calc)
        )
    ro = "@READONLY"
    fields += [
        _Field(f"{code}_remit_total", code, "text", f"{scale.display_name} total (Remit)",
               validation="number", note="as Remit scored it (may be prorated)",
               annotation=ro),
        _Field(f"{code}_remit_band", code, "text", "Severity band (Remit)", annotation=ro),
        _Field(f"{code}_version", code, "text", "Scale version", annotation=ro),
        *([_Field(f"{code}_timepoint", code, "text", "Time point", annotation=ro)]
          if timepoints else []),
        _Field(f"{code}_assessed_at", code, "text", "Assessed at (UTC)",
               validation="datetime_ymd", annotation=ro),
    ]  # fmt: skip
    return fields


def _participant_fields() -> list[_Field]:
    out = [_Field("record_id", PARTICIPANT_FORM, "text", "Participant ID", required=True)]
    for name, (label, validation) in PARTICIPANT_FIELDS.items():
        out.append(_Field(name, PARTICIPANT_FORM, "text", label, validation=validation))
    return out


def _scales(protocol: Protocol, data: TrialData) -> list[ScaleDefinition]:
    codes: dict[str, None] = {}
    for visit in protocol.visits:
        codes.update(dict.fromkeys(visit.scales()))
    codes.update(dict.fromkeys(sorted(data.scores["scale"].astype(str).unique())))
    return [load_scale(c) for c in codes]


def _cell(value: Any, field: _Field | None) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, pd.Timestamp):
        fmt = (
            "%Y-%m-%d %H:%M" if field is not None and "datetime" in field.validation else "%Y-%m-%d"
        )
        return value.tz_convert("UTC").strftime(fmt) if value.tzinfo else value.strftime(fmt)
    if isinstance(value, float):
        return _num(value)
    return str(value)


@dataclass(frozen=True)
class RedcapExport:
    """The REDCap files of one trial, as rows (``write`` puts them in a folder)."""

    dictionary: tuple[dict[str, str], ...]
    records: pd.DataFrame
    events: tuple[dict[str, str], ...]
    mapping: tuple[dict[str, str], ...]
    repeating: tuple[dict[str, str], ...]

    def write(self, folder: Path) -> list[Path]:
        """Write the CSV files; return their paths."""
        folder.mkdir(parents=True, exist_ok=True)
        written = [
            _write(folder / "data_dictionary.csv", COLUMNS, self.dictionary),
            _write(folder / "events.csv", EVENTS_COLUMNS, self.events),
            _write(folder / "instrument_event_mapping.csv", MAPPING_COLUMNS, self.mapping),
        ]
        if self.repeating:
            written.append(
                _write(folder / "repeating_instruments.csv", REPEATING_COLUMNS, self.repeating)
            )
        path = folder / "records.csv"
        self.records.to_csv(path, index=False, encoding="utf-8")
        written.append(path)
        return written


def _write(path: Path, columns: Iterable[str], rows: Iterable[Mapping[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns))
        w.writeheader()
        w.writerows(rows)
    return path


def build_redcap_export(protocol: Protocol, data: TrialData) -> RedcapExport:
    """The REDCap dictionary, records, events and instrument mapping of a trial.

    Raises :class:`~remit.errors.InputError` when a scale's item codes or choices cannot be
    REDCap names, or a participant's form is at a visit the protocol does not have.
    """
    scales = _scales(protocol, data)
    scores = data.scores
    timed: set[str] = set()
    if "timepoint" in scores.columns:
        timed = set(scores.loc[scores["timepoint"].notna(), "scale"].astype(str))
    by_form: dict[str, list[_Field]] = {PARTICIPANT_FORM: _participant_fields()}
    for s in scales:
        by_form[s.code] = scale_fields(s, timepoints=s.code in timed)
    fields = {f.name: f for fs in by_form.values() for f in fs}
    events = {v.code: unique_event_name(v.code) for v in protocol.visits}
    if len(set(events.values())) != len(events):
        raise InputError(
            "two visit codes give the same REDCap unique event name",
            expected="visit codes that differ in their first 18 letters and digits",
        )
    first_event = events[protocol.visits[0].code]
    rows: dict[tuple[str, str, str, int], dict[str, str]] = {}
    for p in data.participants.itertuples(index=False):
        row = {"record_id": str(p.participant_id)}
        for name in PARTICIPANT_FIELDS:
            row[name] = _cell(getattr(p, name, None), fields[name])
        row[f"{PARTICIPANT_FORM}_complete"] = "2"
        rows[(str(p.participant_id), first_event, "", 0)] = row
    counts: dict[tuple[str, str, str], int] = {}
    for r in scores.itertuples(index=False):
        key = (str(r.participant_id), str(r.visit_code), str(r.scale))
        counts[key] = counts.get(key, 0) + 1
    repeating_forms = {(v, s) for (_, v, s), n in counts.items() if n > 1}
    seen: dict[tuple[str, str, str], int] = {}
    ordered = scores.sort_values(["participant_id", "assessed_at"], kind="stable")
    filled: dict[str, Any]
    for filled in ordered.to_dict("records"):  # type: ignore[assignment]
        visit, scale = str(filled["visit_code"]), str(filled["scale"])
        if visit not in events:
            raise InputError(
                f"participant {filled['participant_id']} has a {scale} form at visit "
                f"{visit!r}, which the protocol does not have",
                expected="visits of " + ", ".join(events),
            )
        key3 = (str(filled["participant_id"]), visit, scale)
        seen[key3] = seen.get(key3, 0) + 1
        repeat = (visit, scale) in repeating_forms
        slot = (
            str(filled["participant_id"]),
            events[visit],
            scale if repeat else "",
            seen[key3] if repeat else 0,
        )
        row = rows.setdefault(slot, {"record_id": slot[0]})
        if repeat:
            row["redcap_repeat_instrument"] = scale
            row["redcap_repeat_instance"] = str(seen[key3])
        for code, value in filled["items"].items():
            name = _var(scale, code)
            row[name] = _cell(value, fields.get(name))
        row[f"{scale}_remit_total"] = _cell(filled["total"], None)
        row[f"{scale}_remit_band"] = _cell(filled["band"], None)
        row[f"{scale}_version"] = _cell(filled["version"], None)
        if scale in timed:
            row[f"{scale}_timepoint"] = _cell(filled.get("timepoint"), None)
        row[f"{scale}_assessed_at"] = _cell(
            pd.Timestamp(filled["assessed_at"]), fields[f"{scale}_assessed_at"]
        )
        row[f"{scale}_complete"] = "2" if int(filled["n_missing"]) == 0 else "0"
    for (_, event, _, _), row in rows.items():
        row["redcap_event_name"] = event
    has_repeats = bool(repeating_forms)
    head = ["record_id", "redcap_event_name"]
    if has_repeats:
        head += ["redcap_repeat_instrument", "redcap_repeat_instance"]
    columns = list(head)
    for form, fs in by_form.items():
        columns += [f.name for f in fs if f.kind != "calc" and f.name != "record_id"]
        columns.append(f"{form}_complete")
    records = pd.DataFrame(list(rows.values()), columns=columns).fillna("")
    order = {e: i for i, e in enumerate(events.values())}
    records = (
        records.assign(_o=records["redcap_event_name"].map(order))
        .sort_values(["record_id", "_o"], kind="stable")
        .drop(columns="_o")
    )
    visit_forms: dict[str, list[str]] = {v.code: list(v.scales()) for v in protocol.visits}
    for _, visit, scale in counts:
        if scale not in visit_forms[visit]:
            visit_forms[visit].append(scale)
    visit_forms[protocol.visits[0].code].insert(0, PARTICIPANT_FORM)
    mapping = tuple(
        {"arm_num": "1", "unique_event_name": events[v], "form": f}
        for v, forms in visit_forms.items()
        for f in forms
    )
    days = protocol.nominal_days()
    event_rows = tuple(
        {
            "event_name": v.code,
            "arm_num": "1",
            # days from the reference (baseline) visit: REDCap's offsets count from day 0
            "day_offset": str(days.get(v.code) if days.get(v.code) is not None else v.target_day),
            "offset_min": str(abs(v.window[0])),
            "offset_max": str(v.window[1]),
            "unique_event_name": events[v.code],
            "custom_event_label": v.label,
        }
        for v in protocol.visits
    )
    repeating = tuple(
        {"event_name": events[v], "form_name": s, "custom_form_label": ""}
        for v, s in sorted(repeating_forms)
    )
    dictionary = tuple(f.row() for fs in by_form.values() for f in fs)
    return RedcapExport(dictionary, records, event_rows, mapping, repeating)


__all__ = ["PARTICIPANT_FORM", "RedcapExport", "build_redcap_export", "scale_fields",
           "unique_event_name"]  # fmt: skip
