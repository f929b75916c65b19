"""Export to REDCap: the data dictionary and records CSV of the small trial pass the checks
REDCap's Data Dictionary and Data Import tools make, and round-trip through Remit's own
dictionary import and scoring."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest

from remit.interop import ExportResult, export_trial
from remit.interop.redcap import COLUMNS, parse_choices, read_redcap_dictionary
from remit.interop.redcap_export import unique_event_name
from remit.scales import score

SYSTEM = {"record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"}


@pytest.fixture(scope="module")
def redcap(trial_db: Path, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    from remit.store import make_engine

    engine = make_engine(trial_db)
    try:
        return export_trial(engine, tmp_path_factory.mktemp("redcap"), formats=("csv", "redcap"))
    finally:
        engine.dispose()


def _csv(result: ExportResult, name: str) -> list[dict[str, str]]:
    with (result.out_dir / "redcap" / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def import_problems(
    dictionary: list[dict[str, str]],
    records: list[dict[str, str]],
    events: list[dict[str, str]],
    mapping: list[dict[str, str]],
) -> list[str]:
    """What REDCap's Data Import Tool refuses, as REDCap documents it: unknown columns, the
    record id not first, an unknown event, a form's data on an event it is not designated
    for, a radio/dropdown code that is not a choice, yes/no other than 0/1, a validated value
    out of its format or range, a ``<form>_complete`` other than 0/1/2, calc columns."""
    fields = {r[COLUMNS[0]]: r for r in dictionary}
    forms = {r[COLUMNS[1]] for r in dictionary}
    problems = []
    header = list(records[0])
    if header[0] != dictionary[0][COLUMNS[0]]:
        problems.append("the first column is not the record id field")
    allowed = set(fields) | {f"{f}_complete" for f in forms} | SYSTEM
    problems += [f"unknown column {c}" for c in header if c not in allowed]
    problems += [f"calc column {c}" for c in header if c in fields and
                 fields[c]["Field Type"] == "calc"]  # fmt: skip
    unique = {e["unique_event_name"] for e in events}
    designated = {(m["unique_event_name"], m["form"]) for m in mapping}
    for n, row in enumerate(records, start=2):
        event = row["redcap_event_name"]
        if event not in unique:
            problems.append(f"row {n}: unknown event {event}")
        for col, value in row.items():
            if value == "" or col in SYSTEM:
                continue
            if col.endswith("_complete") and col not in fields:
                if value not in ("0", "1", "2"):
                    problems.append(f"row {n}: {col}={value}")
                form = col.removesuffix("_complete")
            else:
                f = fields[col]
                form = f[COLUMNS[1]]
                kind, vtype = f["Field Type"], f[COLUMNS[7]]
                if kind in ("radio", "dropdown"):
                    if value not in {c for c, _ in parse_choices(f[COLUMNS[5]])}:
                        problems.append(f"row {n}: {col}={value} is not a choice")
                elif kind == "yesno" and value not in ("0", "1"):
                    problems.append(f"row {n}: {col}={value} is not yes/no")
                elif vtype in ("integer", "number"):
                    x = float(value)
                    if vtype == "integer" and not re.fullmatch(r"-?\d+", value):
                        problems.append(f"row {n}: {col}={value} is not an integer")
                    lo, hi = f["Text Validation Min"], f["Text Validation Max"]
                    if (lo and x < float(lo)) or (hi and x > float(hi)):
                        problems.append(f"row {n}: {col}={value} out of range")
                elif vtype == "date_ymd" and not re.fullmatch(r"\d{4}-\d\d-\d\d", value):
                    problems.append(f"row {n}: {col}={value} is not YYYY-MM-DD")
                elif vtype == "datetime_ymd" and not re.fullmatch(
                    r"\d{4}-\d\d-\d\d \d\d:\d\d", value
                ):
                    problems.append(f"row {n}: {col}={value} is not YYYY-MM-DD HH:MM")
            if (event, form) not in designated:
                problems.append(f"row {n}: {form} data on {event}, not designated there")
    return problems


@pytest.mark.export_format("redcap")
def test_files_pass_redcaps_import_checks(redcap: ExportResult) -> None:
    dictionary = _csv(redcap, "data_dictionary.csv")
    records = _csv(redcap, "records.csv")
    events = _csv(redcap, "events.csv")
    mapping = _csv(redcap, "instrument_event_mapping.csv")
    with (redcap.out_dir / "redcap" / "data_dictionary.csv").open(encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == list(COLUMNS)
    assert dictionary[0][COLUMNS[0]] == "record_id"
    assert list(records[0])[:2] == ["record_id", "redcap_event_name"]
    assert import_problems(dictionary, records, events, mapping) == []
    # every dictionary row is accepted by Remit's own (strict) dictionary reader
    read_redcap_dictionary(redcap.out_dir / "redcap" / "data_dictionary.csv")


def test_the_import_check_can_fail(redcap: ExportResult) -> None:
    dictionary = _csv(redcap, "data_dictionary.csv")
    records = _csv(redcap, "records.csv")
    events = _csv(redcap, "events.csv")
    mapping = _csv(redcap, "instrument_event_mapping.csv")
    radio = next(r[COLUMNS[0]] for r in dictionary if r["Field Type"] == "radio")
    row = next(r for r in records if r.get(radio))
    row[radio] = "99"
    broken = [dict(r, redcap_event_name="nowhere_arm_1") if i == 0 else r
              for i, r in enumerate(records)]  # fmt: skip
    assert any(
        "is not a choice" in p for p in import_problems(dictionary, records, events, mapping)
    )
    assert any("unknown event" in p for p in import_problems(dictionary, broken, events, mapping))
    assert any("not designated" in p for p in import_problems(dictionary, records, events, []))


def _same(csv_value: object, redcap_value: str) -> bool:
    if csv_value is None or (isinstance(csv_value, float) and pd.isna(csv_value)):
        return redcap_value == ""
    if isinstance(csv_value, bool) or csv_value in ("True", "False"):
        return redcap_value == ("1" if csv_value in (True, "True") else "0")
    try:
        return float(str(csv_value)) == float(redcap_value)
    except ValueError:
        return str(csv_value) == redcap_value


def test_round_trip_columns_and_values(redcap: ExportResult) -> None:
    """Every item answer of the tidy CSV export is in the REDCap records, at its participant's
    record and its visit's event, under ``<scale>_<item>``; so are Remit's totals."""
    records = pd.read_csv(redcap.out_dir / "redcap" / "records.csv", dtype=str).fillna("")
    repeat = records.get("redcap_repeat_instrument", pd.Series("", index=records.index))
    compared = 0
    for path in sorted((redcap.out_dir / "csv").glob("form_*.csv")):
        scale = path.stem.removeprefix("form_")
        forms = pd.read_csv(path, dtype=object)
        for _, form in forms.iterrows():
            match = records[
                (records["record_id"] == form["participant_id"])
                & (records["redcap_event_name"] == unique_event_name(form["visit_code"]))
                & (repeat.isin(["", scale]))
                & (records[f"{scale}_assessed_at"] != "")
            ]
            if (repeat == scale).any():
                stamp = pd.Timestamp(form["assessed_at"]).tz_convert("UTC")
                match = match[match[f"{scale}_assessed_at"] == stamp.strftime("%Y-%m-%d %H:%M")]
            assert len(match) == 1, (scale, form["participant_id"], form["visit_code"])
            row = match.iloc[0]
            for col in (c for c in forms.columns if c.startswith("item_")):
                redcap_col = f"{scale}_{col.removeprefix('item_')}"
                assert _same(form[col], row[redcap_col]), (redcap_col, form[col], row[redcap_col])
                compared += 1
            assert _same(form["total"], row[f"{scale}_remit_total"])
            if not pd.isna(form.get("timepoint")):
                assert row[f"{scale}_timepoint"] == form["timepoint"]
            assert row[f"{scale}_complete"] == ("2" if form["n_missing"] == "0" else "0")
    assert compared > 100
    participants = records[records["participant_complete"] == "2"]
    assert sorted(participants["record_id"]) == ["OSL-001", "OSL-002", "OSL-003"]


def test_dictionary_reimports_with_the_same_totals(redcap: ExportResult, tmp_path: Path) -> None:
    result = read_redcap_dictionary(redcap.out_dir / "redcap" / "data_dictionary.csv")
    by_code = {s.code: s.definition for s in result.scales}
    # MADRS: a sum of plain 0-6 items: REDCap's calc and the re-imported scale give its total
    assert by_code["madrs"].total_range == (0, 60)
    records = pd.read_csv(redcap.out_dir / "redcap" / "records.csv", dtype=str).fillna("")
    done = records[records["madrs_complete"] == "2"]
    scored = [i for i in by_code["madrs"].items if i.scored]
    assert len(scored) == 10
    assert len(done) > 0
    for _, row in done.iterrows():
        answers = {i.code: int(row[i.code]) for i in scored if row[i.code] != ""}
        assert score(by_code["madrs"], answers).total == float(row["madrs_remit_total"])


def test_unique_event_names() -> None:
    assert unique_event_name("SCR") == "scr_arm_1"
    assert unique_event_name("a-very-long-visit-code-here") == "a_very_long_visit__arm_1"


def test_a_form_filled_twice_at_a_visit_repeats(trial_db: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from remit.interop.redcap_export import build_redcap_export
    from remit.services import Actor, build_trial_data, trial_protocol
    from remit.store import make_engine

    engine = make_engine(trial_db)
    try:
        protocol = trial_protocol(engine)
        data = build_trial_data(engine, actor=Actor.system("remit-export"))
    finally:
        engine.dispose()
    scores = data.scores
    first = scores[scores["scale"] == "madrs"].iloc[[0]].copy()
    first["assessed_at"] = first["assessed_at"] + pd.Timedelta(hours=2)
    twice = replace(data, scores=pd.concat([scores, first], ignore_index=True))
    out = build_redcap_export(protocol, twice)
    written = out.write(tmp_path)
    assert tmp_path / "repeating_instruments.csv" in written
    records = out.records
    again = records[records["redcap_repeat_instrument"] == "madrs"]
    who = first["participant_id"].iloc[0]
    event = unique_event_name(first["visit_code"].iloc[0])
    mine = again[again["record_id"] == who]
    assert sorted(mine["redcap_repeat_instance"]) == ["1", "2"]
    # a repeating form is repeating on its event for everyone: the others' forms are instance 1
    assert set(again["redcap_event_name"]) == {event}
    assert set(again[again["record_id"] != who]["redcap_repeat_instance"]) <= {"1"}
    assert out.repeating == ({"event_name": event, "form_name": "madrs", "custom_form_label": ""},)
    # the repeated form's rows carry only that form's fields
    assert (again["participant_complete"] == "").all()
    assert (again["madrs_complete"] != "").all()
    rows = [dict(r) for r in records.astype(str).to_dict("records")]
    listed = [dict(r) for r in out.dictionary]
    assert import_problems(listed, rows, list(out.events), list(out.mapping)) == []
