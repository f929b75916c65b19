"""REDCap data dictionary → scale definition: a PCL-5 dictionary written in REDCap's format
scores as REDCap's calc fields would; malformed dictionaries are refused with row and column."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from remit.cli.app import app
from remit.errors import InputError
from remit.interop.redcap import COLUMNS, parse_choices, read_redcap_dictionary
from remit.scales import load_scale_file, score

DICTIONARY = Path(__file__).parent / "data" / "pcl5_redcap_dictionary.csv"


def redcap_calc(expression: str, record: dict[str, int | None]) -> float | None:
    """What REDCap computes for a calc field: ``sum()`` skips blank fields; in ``a + b`` a
    blank field makes the result blank."""
    fields = re.findall(r"\[([a-z0-9_]+)\]", expression)
    values = [record.get(f) for f in fields]
    if expression.strip().lower().startswith("sum("):
        return float(sum(v for v in values if v is not None))
    if any(v is None for v in values):
        return None
    return float(sum(v for v in values if v is not None))


def _calcs() -> dict[str, str]:
    with DICTIONARY.open() as fh:
        return {
            r["Variable / Field Name"]: r[COLUMNS[5]]
            for r in csv.DictReader(fh)
            if r["Field Type"] == "calc"
        }


@pytest.fixture(scope="module")
def pcl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = read_redcap_dictionary(DICTIONARY)
    [path] = result.write(tmp_path_factory.mktemp("scales"))
    return path


def test_structure_carried(pcl: Path) -> None:
    d = load_scale_file(pcl)
    assert d.code == "pcl_5"
    assert d.total_range == (0, 80)
    item = d.item("pcl_7")
    assert (item.kind, item.min, item.max, item.section) == ("integer", 0, 4, "pcl5_matrix")
    assert item.options["4"] == "Extremely"
    assert item.skip_when is not None
    assert [s.code for s in d.subscales] == ["pcl_cluster_b"]
    assert d.item("pcl_sleep_hours").max == 24
    codes = {i.code for i in d.items}
    assert not codes & {"record_id", "pcl_initials", "pcl_context", "pcl_total"}


def test_scores_as_redcap_calc_would(pcl: Path) -> None:
    d = load_scale_file(pcl)
    calcs = _calcs()
    rng = np.random.default_rng(20240501)
    for _ in range(200):
        answers: dict[str, int | None] = {f"pcl_{i}": int(rng.integers(0, 5)) for i in range(1, 21)}
        result = score(d, {**answers, "pcl_event_yn": True})
        assert result.total == redcap_calc(calcs["pcl_total"], answers)
        assert result.subscales["pcl_cluster_b"] == redcap_calc(calcs["pcl_cluster_b"], answers)


def test_blank_items_documented_difference(pcl: Path) -> None:
    d = load_scale_file(pcl)
    calcs = _calcs()
    answers: dict[str, int | None] = {f"pcl_{i}": 2 for i in range(1, 21)}
    answers["pcl_3"] = None
    result = score(d, {**answers, "pcl_event_yn": True})
    # "[a] + [b]" is blank in REDCap when a part is blank, and so is the subscale here
    assert redcap_calc(calcs["pcl_cluster_b"], answers) is None
    assert result.subscales.get("pcl_cluster_b") is None
    # REDCap's sum() would give 38; Remit leaves the total missing — and says so on import
    assert redcap_calc(calcs["pcl_total"], answers) == 38
    assert result.total is None
    notes = read_redcap_dictionary(DICTIONARY).notes
    assert any(n.variable == "pcl_total" and "sum() skips blank" in n.message for n in notes)


def test_branching_logic_carried(pcl: Path) -> None:
    d = load_scale_file(pcl)
    answers = {f"pcl_{i}": 1 for i in range(1, 21)}
    with pytest.raises(Exception, match="pcl_1"):
        score(d, {**answers, "pcl_event_yn": False})


def test_not_carried_reported_item_by_item() -> None:
    notes = {(n.variable, n.row): n.message for n in read_redcap_dictionary(DICTIONARY).notes}
    assert "identifier" in notes[("pcl_initials", 3)]
    assert "checkbox" in notes[("pcl_context", 30)]
    assert "not a sum or mean" in notes[("pcl_total_b_scaled", 29)]


def _dictionary(rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c, "") for c in columns})
    return out.getvalue()


def _field(var: str, kind: str = "radio", **more: str) -> dict[str, str]:
    base = {
        "Variable / Field Name": var,
        "Form Name": "phq",
        "Field Type": kind,
        "Field Label": var,
    }
    if kind == "radio":
        base[COLUMNS[5]] = "0, No | 1, Yes"
    return base | more


@pytest.mark.parametrize(
    ("rows", "columns", "expected"),
    [
        (
            [_field("q1")],
            tuple(c for c in COLUMNS if c != "Field Type"),
            r"row 1, column 'Field Type': column missing",
        ),
        (
            [_field("q1"), _field("q2", **{COLUMNS[5]: "0, No | 1 Yes"})],
            COLUMNS,
            r"row 3, column 'Choices, Calculations, OR Slider Labels': choice '1 Yes' has no comma",
        ),
        (
            [_field("q1"), _field("q1")],
            COLUMNS,
            r"row 3, column 'Variable / Field Name': 'q1' is already defined in row 2",
        ),
        (
            [_field("q1"), _field("q2", kind="likert")],
            COLUMNS,
            r"row 3, column 'Field Type': 'likert' is not a REDCap field type",
        ),
        (
            [
                _field(
                    "q1",
                    kind="text",
                    **{
                        COLUMNS[7]: "integer",
                        "Text Validation Min": "9",
                        "Text Validation Max": "1",
                    },
                )
            ],
            COLUMNS,
            r"row 2, column 'Text Validation Min': min 9 is above max 1",
        ),
    ],
    ids=["missing-column", "bad-choices", "duplicate-variable", "unknown-type", "bad-range"],
)
def test_malformed_refused_with_row_and_column(
    rows: list[dict[str, str]], columns: tuple[str, ...], expected: str, tmp_path: Path
) -> None:
    path = tmp_path / "dict.csv"
    path.write_text(_dictionary(rows, columns))
    with pytest.raises(InputError, match=expected):
        read_redcap_dictionary(path)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["import", "redcap-dictionary", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert not out.exists()


def test_parse_choices() -> None:
    assert parse_choices("1, Yes, often | 2, No") == [("1", "Yes, often"), ("2", "No")]
    with pytest.raises(InputError, match="twice"):
        parse_choices("1, a | 1, b")


def test_cli_writes_the_scale_and_prints_what_was_not_carried(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["import", "redcap-dictionary", str(DICTIONARY), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pcl_5.toml").exists()
    assert "pcl_context" in result.output
    assert load_scale_file(tmp_path / "pcl_5.toml").code == "pcl_5"
