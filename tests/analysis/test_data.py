"""The TrialData contract: validation, normalisation, hashing and the directory format."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from remit.analysis import FRAME_NAMES, TrialData, empty_frame
from remit.errors import InputError, NotFoundError


def _people(**overrides: object) -> pd.DataFrame:
    row: dict[str, object] = {
        "participant_id": "P01",
        "site": "OST",
        "arm": "MDMA",
        "sex": "female",
        "age_years": 41,
        "status": "completed",
        "screened_date": "2023-01-02",
        "enrolled_date": dt.date(2023, 1, 20),
        "ineligible_reasons": [],
        "withdrawn_reason": None,
        "simulated": False,
    }
    row.update(overrides)
    return pd.DataFrame([row])


def _scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "participant_id": ["P01", "P01"],
            "visit_code": ["V3", "V13"],
            "study_day": [-3, 90],
            "scale": ["madrs", "madrs"],
            "version": ["default", "default"],
            "total": [30, None],
            "band": ["moderate", None],
            "n_missing": [0, 10],
            "prorated": [False, False],
            "assessed_at": ["2023-02-01T09:00:00Z", dt.datetime(2023, 5, 1, 10, 30)],
            "items": [{"1": 3, "2": 4}, "{}"],
            "subscales": [None, {}],
            "derived": [{}, {}],
        }
    )


def test_empty_bundle_has_every_frame_with_its_columns() -> None:
    data = TrialData()
    assert list(data.frames()) == list(FRAME_NAMES)
    for name, frame in data.frames().items():
        assert frame.empty
        assert list(frame.columns) == list(empty_frame(name).columns)


def test_types_are_normalised() -> None:
    data = TrialData(participants=_people(), scores=_scores())
    p = data.participants
    assert p["enrolled_date"].dtype == "datetime64[ns]"
    assert p["simulated"].dtype == bool
    s = data.scores
    assert str(s["assessed_at"].dtype) == "datetime64[ns, UTC]"
    # a naive time is taken as UTC
    assert s["assessed_at"].iloc[1] == pd.Timestamp("2023-05-01T10:30:00Z")
    assert s["total"].dtype == "float64"
    assert pd.isna(s["total"].iloc[1])
    assert s["items"].iloc[0] == {"1": 3, "2": 4}
    assert s["items"].iloc[1] == {}
    assert s["subscales"].iloc[0] == {}
    assert str(s["n_missing"].dtype) == "Int64"


def test_missing_column_names_frame_and_column() -> None:
    with pytest.raises(InputError, match=r"TrialData\.scores lacks column total"):
        TrialData(scores=_scores().drop(columns="total"))


@pytest.mark.parametrize(
    ("frame", "column", "value", "pattern"),
    [
        ("participants", "age_years", "forty", r"participants\.age_years must hold numbers"),
        ("participants", "age_years", float("inf"), r"participants\.age_years holds an infinite"),
        ("participants", "status", "dropped", r"participants\.status holds unknown value"),
        ("participants", "participant_id", 17, r"participants\.participant_id must hold text"),
        ("participants", "participant_id", None, r"participants\.participant_id has 1 empty"),
        ("participants", "enrolled_date", "20/01/2023x", r"participants\.enrolled_date must hold"),
        ("participants", "simulated", "maybe", r"participants\.simulated must hold true/false"),
    ],
)
def test_wrong_values_are_refused(frame: str, column: str, value: object, pattern: str) -> None:
    with pytest.raises(InputError, match=pattern):
        TrialData(participants=_people(**{column: value}))


def test_wrong_dose_kind_and_fractional_session_are_refused() -> None:
    doses = pd.DataFrame(
        {
            "participant_id": ["P01"],
            "visit_code": ["V5"],
            "session_number": [1],
            "kind": ["booster"],
            "dose_mg": [80.0],
            "status": ["given"],
            "given_at": ["2023-03-01T08:00:00Z"],
            "withheld_reason": [None],
        }
    )
    with pytest.raises(InputError, match=r"doses\.kind holds unknown value\(s\) booster"):
        TrialData(doses=doses)
    with pytest.raises(InputError, match=r"doses\.session_number must hold whole numbers"):
        TrialData(doses=doses.assign(kind="initial", session_number=1.5))


def test_not_a_frame_is_refused() -> None:
    with pytest.raises(InputError, match=r"TrialData\.visits must be a pandas DataFrame"):
        TrialData(visits=[1, 2])  # type: ignore[arg-type]


def test_hash_ignores_row_order_but_sees_every_value() -> None:
    base = TrialData(participants=_people(), scores=_scores())
    shuffled = TrialData(participants=_people(), scores=_scores().iloc[::-1])
    assert base.snapshot_sha256() == shuffled.snapshot_sha256()
    changed = _scores()
    changed.loc[0, "total"] = 31
    assert TrialData(participants=_people(), scores=changed).snapshot_sha256() != (
        base.snapshot_sha256()
    )
    item_changed = _scores()
    item_changed.at[0, "items"] = {"1": 3, "2": 5}
    assert TrialData(participants=_people(), scores=item_changed).snapshot_sha256() != (
        base.snapshot_sha256()
    )
    extra = _people().assign(note="x")
    assert TrialData(participants=extra, scores=_scores()).snapshot_sha256() != (
        base.snapshot_sha256()
    )


def test_enrolled_ids() -> None:
    people = pd.concat(
        [
            _people(),
            _people(participant_id="P02", status="ineligible", enrolled_date=None, arm=None),
            _people(participant_id="P03", status="withdrawn"),
            _people(participant_id="P04", status="withdrawn", enrolled_date=None),
            _people(participant_id="P05", status="on_study", enrolled_date=None),
        ]
    )
    # P04 withdrew during screening; P05's status implies enrolment
    assert TrialData(participants=people).enrolled_ids == ("P01", "P03", "P05")


def test_directory_round_trip(tmp_path: Path) -> None:
    people = pd.concat(
        [
            _people(participant_id="007"),
            _people(
                participant_id="P02",
                status="ineligible",
                enrolled_date=None,
                arm=None,
                ineligible_reasons=["madrs_entry", "distance"],
            ),
        ]
    )
    data = TrialData(participants=people, scores=_scores(), simulated=True)
    folder = data.to_directory(tmp_path / "bundle")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["simulated"] is True
    assert manifest["snapshot_sha256"] == data.snapshot_sha256()
    back = TrialData.from_directory(folder)
    assert back.snapshot_sha256() == data.snapshot_sha256()
    assert back.participants["participant_id"].tolist() == ["007", "P02"]
    assert back.participants["ineligible_reasons"].iloc[1] == ["madrs_entry", "distance"]
    assert back.scores["items"].iloc[0] == {"1": 3, "2": 4}


def test_directory_without_manifest_and_missing_frames(tmp_path: Path) -> None:
    _people().to_csv(tmp_path / "participants.csv", index=False)
    back = TrialData.from_directory(tmp_path)
    assert back.simulated is False
    assert len(back.participants) == 1
    assert back.scores.empty


def test_missing_directory_and_bad_manifest(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no trial-data directory"):
        TrialData.from_directory(tmp_path / "nope")
    (tmp_path / "manifest.json").write_text('{"format": "other"}')
    with pytest.raises(InputError, match="has format 'other'"):
        TrialData.from_directory(tmp_path)


def test_bundles_compare_by_identity_and_content_by_snapshot() -> None:
    a, b = TrialData(), TrialData()
    assert a == a
    assert a != b  # identity: compare snapshot_sha256() for content
    assert a.snapshot_sha256() == b.snapshot_sha256()
    assert len({a, b}) == 2


def test_results_and_checklists_frames_survive_a_folder(tmp_path: Path) -> None:
    results = pd.DataFrame(
        [
            {"participant_id": "P1", "visit_code": "V5", "test_code": "urine_drug_screen",
             "value_number": None, "value_text": "negative", "unit": None, "normal_low": None,
             "normal_high": None, "interpretation": "negative",
             "collected_at": "2023-03-14T07:30:00Z"},
            {"participant_id": "P1", "visit_code": "SCR", "test_code": "ecg_qtc",
             "value_number": 412, "value_text": None, "unit": "ms", "normal_low": 350,
             "normal_high": 450, "interpretation": "normal",
             "collected_at": "2023-02-01T10:00:00Z"},
        ]
    )  # fmt: skip
    checklists = pd.DataFrame(
        [
            {"participant_id": "P1", "visit_code": "V5", "session_number": 1,
             "completed_at": "2023-03-14T08:00:00Z",
             "items": {"urine_drug_screen": "pass", "pregnancy_test": "not_applicable"},
             "not_applicable": {"pregnancy_test": "post-menopausal"}, "override_reason": None},
        ]
    )  # fmt: skip
    data = TrialData(results=results, checklists=checklists)
    assert data.results["value_number"].tolist()[1] == 412.0
    back = TrialData.from_directory(data.to_directory(tmp_path / "bundle"))
    assert back.snapshot_sha256() == data.snapshot_sha256()
    assert back.checklists["not_applicable"].iloc[0] == {"pregnancy_test": "post-menopausal"}
    with pytest.raises(InputError, match="results"):
        TrialData(results=results.drop(columns="interpretation"))
