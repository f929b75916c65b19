"""The per-cell helpers of the CDISC datasets (kept fast for the demo's exports) say the same
as pandas about what is missing, and define.xml's value-level metadata describes each test
code with its own rows and its own label."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from lxml import etree

from remit.interop.dataset import (
    Variable,
    frame_records,
    is_missing,
    make_dataset,
    plain,
    text_length,
)
from remit.interop.datasetjson import dataset_json_text
from remit.interop.define_xml import DefineStudy, define_xml
from remit.interop.odm.base import odm_time
from remit.interop.sdtm import iso_date, iso_datetime, study_day

NS = {"o": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        (None, True),
        ("", True),
        ("x", False),
        (" ", False),
        (0, False),
        (7, False),
        (True, False),
        (False, False),
        (0.0, False),
        (2.5, False),
        (float("nan"), True),
        (np.nan, True),
        (np.float64("nan"), True),
        (np.float64(1.5), False),
        (np.int64(3), False),
        (pd.NA, True),
        (pd.NaT, True),
        (np.datetime64("NaT"), True),
        (pd.Timestamp("2023-01-02"), False),
        (date(2023, 1, 2), False),
        ([1, 2], False),  # a list is a value, not an array of missing flags
    ],
)
def test_is_missing(value: Any, missing: bool) -> None:
    assert is_missing(value) is missing


def test_text_length_counts_utf8_bytes_and_skips_missing() -> None:
    assert text_length(["abc", "", None, "øå", float("nan"), 12345]) == 5
    assert text_length(["ø" * 3]) == 6
    assert text_length([None, ""]) == 1


def test_make_dataset_reads_a_pandas_string_column_cell_by_cell_the_same() -> None:
    frame = pd.DataFrame(
        {
            "STUDYID": pd.array(["S1", None, "S3"], dtype="string"),
            "N": pd.array([1, None, 3], dtype="Int64"),
        }
    )
    ds = make_dataset(
        "XX",
        "Test",
        "SDTM",
        [Variable("STUDYID", "Study"), Variable("N", "Number", "integer")],
        frame,
    )
    assert list(ds.frame["STUDYID"]) == ["S1", None, "S3"]
    assert ds.column("STUDYID").length == 2
    assert ds.rows() == [["S1", 1], [None, None], ["S3", 3]]


def test_odm_time_of_a_datetime_and_of_a_timestamp_agree() -> None:
    aware = datetime(2023, 5, 6, 7, 8, 9, 120, tzinfo=UTC)
    naive = datetime(2023, 5, 6, 7, 8, 9)
    assert odm_time(aware) == "2023-05-06T07:08:09.000120Z"
    assert odm_time(naive) == "2023-05-06T07:08:09Z"
    assert odm_time(pd.Timestamp(aware)) == odm_time(aware)
    oslo = pd.Timestamp("2023-05-06 09:08:09", tz="Europe/Oslo")
    assert odm_time(oslo.to_pydatetime()) == odm_time(oslo) == "2023-05-06T07:08:09Z"


def test_value_level_metadata_uses_each_codes_rows_and_first_label() -> None:
    rows = [
        {"STUDYID": "S", "DOMAIN": "VS", "USUBJID": "S-1", "VSSEQ": 1, "VSTESTCD": "SYSBP",
         "VSTEST": None, "VSORRES": "120"},
        {"STUDYID": "S", "DOMAIN": "VS", "USUBJID": "S-1", "VSSEQ": 2, "VSTESTCD": "TEMP",
         "VSTEST": "Temperature", "VSORRES": "36.75"},
        {"STUDYID": "S", "DOMAIN": "VS", "USUBJID": "S-1", "VSSEQ": 3, "VSTESTCD": "SYSBP",
         "VSTEST": "Systolic Blood Pressure", "VSORRES": "1355"},
        {"STUDYID": "S", "DOMAIN": "VS", "USUBJID": "S-1", "VSSEQ": 4, "VSTESTCD": "TEMP",
         "VSTEST": "Body temperature", "VSORRES": "37.1"},
    ]  # fmt: skip
    variables = [
        Variable("STUDYID", "Study Identifier"),
        Variable("DOMAIN", "Domain Abbreviation"),
        Variable("USUBJID", "Unique Subject Identifier"),
        Variable("VSSEQ", "Sequence Number", "integer"),
        Variable("VSTESTCD", "Vital Signs Test Short Name"),
        Variable("VSTEST", "Vital Signs Test Name"),
        Variable("VSORRES", "Result or Finding in Original Units"),
    ]
    ds = make_dataset("VS", "Vital Signs", "SDTM", variables, rows)
    study = DefineStudy("S", "Study S", "1.0", datetime(2026, 1, 1, tzinfo=UTC))
    doc = etree.fromstring(define_xml({"VS": ds}, "SDTM", study))

    def item(code: str) -> Any:
        return doc.find(f".//o:ItemDef[@OID='IT.VS.VSORRES.{code}']", NS)

    # SYSBP: whole numbers only, its longest value 4 characters; its first label is on row 3
    assert item("SYSBP").get("DataType") == "integer"
    assert item("SYSBP").get("Length") == "4"
    sysbp = item("SYSBP").findtext("o:Description/o:TranslatedText", namespaces=NS)
    assert sysbp.endswith(": Systolic Blood Pressure")
    # TEMP: decimals, its own rows only (not SYSBP's 1355), the first of its two labels
    assert item("TEMP").get("DataType") == "text"
    assert item("TEMP").get("Length") == "5"
    temp = item("TEMP").findtext("o:Description/o:TranslatedText", namespaces=NS)
    assert temp.endswith(": Temperature")
    vl = doc.find(".//def:ValueListDef[@OID='VL.VS.VSORRES']", NS)
    assert [r.get("ItemOID") for r in vl] == ["IT.VS.VSORRES.SYSBP", "IT.VS.VSORRES.TEMP"]


def test_frame_records_are_pandas_records() -> None:
    frame = pd.DataFrame(
        {
            "text": pd.Series(["a", None, "c"], dtype="str"),
            "objects": ["x", None, {"k": 1}],
            "whole": [1, 2, 3],
            "number": [1.5, np.nan, 3.0],
            "flag": [True, False, True],
            "at": pd.to_datetime(["2024-01-02", None, "2024-03-04"], utc=True),
        }
    )
    records = frame_records(frame)
    expected = frame.to_dict("records")
    assert len(records) == len(expected)
    for got, want in zip(records, expected, strict=True):
        assert list(got) == list(want)
        for key in want:
            assert type(got[key]) is type(want[key])
            assert is_missing(got[key]) == is_missing(want[key])
            if not is_missing(want[key]):
                assert got[key] == want[key]


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [["a", None, 1, 2.5, True, False]],
        [['"quoted"\\ ø\n\t\x01 😀', 1e300, -0.0, 10**20], [float("nan"), float("inf"), 3.0]],
        [["a", 1, None, -0.0], ['b "\x01"', 2.5, True, "ø"], ["", 10**20, False, None]],
        [["a", 1], ["b", np.int64(3)]],  # (rows of one length are printed a column at a time)
        [[np.int64(3)]],  # a type written otherwise: json.dumps writes (or refuses) the file
        [["a", ["nested"]]],
    ],
)
def test_dataset_json_text_is_what_json_dumps_writes(rows: list[list[Any]]) -> None:
    doc = {"name": "QS", "columns": [{"name": "QSORRES"}], "rows": rows}
    try:
        expected = json.dumps(doc, ensure_ascii=False, indent=1)
    except TypeError:
        with pytest.raises(TypeError):
            dataset_json_text(doc)
        return
    assert dataset_json_text(doc) == expected


@pytest.mark.parametrize(
    "value",
    [
        pd.Timestamp("2023-01-02 23:30:05.123456789", tz="Europe/Oslo"),
        pd.Timestamp("2023-01-02 00:30", tz="UTC"),
        pd.Timestamp("2023-06-02 01:30"),
        datetime(2023, 3, 4, 5, 6, 7, 999999),
        datetime(2023, 3, 4, 0, 30, tzinfo=UTC),
        date(2023, 5, 6),
        "2023-05-06T07:08:09+02:00",
        np.datetime64("2023-05-06T07:08:09"),
    ],
)
def test_sdtm_dates_of_dates_and_timestamps_are_pandas_dates(value: Any) -> None:
    ts = pd.Timestamp(value)
    assert iso_date(value) == ts.strftime("%Y-%m-%d")  # the date where it was recorded
    utc = ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts
    assert iso_datetime(value) == utc.strftime("%Y-%m-%dT%H:%M:%S")
    days = (pd.Timestamp(ts.strftime("%Y-%m-%d")) - pd.Timestamp("2023-03-04")).days
    assert study_day(value, date(2023, 3, 4)) == (days + 1 if days >= 0 else days)


def test_dataset_rows_are_the_plain_value_of_each_cell() -> None:
    variables = [
        Variable("TXT", "Text", "text"),
        Variable("NUM", "Number", "integer"),
        Variable("AVAL", "Value", "float"),
        Variable("ADT", "Date", "date"),
    ]
    rows = [
        {"TXT": "a", "NUM": 1, "AVAL": 2.5, "ADT": 23000},
        {"TXT": "", "NUM": None, "AVAL": float("nan"), "ADT": None},
        {"TXT": None, "NUM": 3.0, "AVAL": 4, "ADT": 23001.0},
    ]
    ds = make_dataset("ADXX", "Cells", "ADaM", variables, rows)
    got = ds.rows()
    expected = [
        [plain(value, v) for value, v in zip(row, ds.variables, strict=True)]
        for row in ds.frame[[v.name for v in ds.variables]].to_numpy(dtype=object).tolist()
    ]
    assert got == expected
    assert got == [["a", 1, 2.5, 23000], [None, None, None, None], [None, 3, 4.0, 23001]]
    assert [type(c) for c in got[2][1:]] == [int, float, int]
