"""Contract tests of the open families: each member is declared once and has all its parts.

- endpoint kinds (:data:`remit.protocol.ENDPOINT_KINDS`): a deriver, its definition in words,
  a row in ``docs/analysis.md`` and a test naming it;
- analysis kinds (:data:`remit.protocol.ANALYSIS_KINDS`): a runner, a typed result class of its
  own, a renderer in the report, a methods paragraph, docs in ``docs/analysis.md`` and
  ``docs/report.md`` and tests naming the kind and its result class;
- safety table kinds (:data:`remit.protocol.SAFETY_TABLES`): a builder, a renderer, docs and a
  ``test_safety_table_<name>`` test;
- report sections (:data:`remit.reports.content.LAYOUT`): documented, and the only places the
  renderers write to.

Adding a member without one of its parts makes these tests fail (see the ``*_is_caught``
tests, which build such a member).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

import pytest
from pydantic import BaseModel

from remit.analysis import SectionResult, TrialData, run_analysis_plan
from remit.analysis.endpoints import DERIVERS
from remit.analysis.methods import METHODS
from remit.analysis.safety_section import SAFETY_TABLE_KINDS, SafetySectionResult
from remit.analysis.sections import RUNNERS, result_class
from remit.protocol import ANALYSIS_KINDS, ENDPOINT_KINDS, SAFETY_TABLES, Protocol
from remit.protocol.sap import Analysis, Endpoint, _Analysis, _Endpoint
from remit.reports.content import FILLED_BY_RENDERERS, LAYOUT
from remit.reports.renderers import RENDERERS, SAFETY_TABLE_RENDERERS, View, render
from remit.reports.tables import arm_labels

ROOT = Path(__file__).resolve().parents[2]
DOCS_ANALYSIS = (ROOT / "docs" / "analysis.md").read_text(encoding="utf-8")
DOCS_REPORT = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
TESTS = "\n".join(
    p.read_text(encoding="utf-8")
    for p in sorted((ROOT / "tests").rglob("*.py"))
    if p.resolve() != Path(__file__).resolve()
)


def _named(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text) is not None


def _kind(cls: type[BaseModel]) -> str:
    (value,) = get_args(cls.model_fields["kind"].annotation)
    return str(value)


# --------------------------------------------------------------------------- endpoint kinds


def endpoint_problems(cls: type[BaseModel]) -> list[str]:
    """What an endpoint kind lacks."""
    out = []
    if cls not in DERIVERS:
        out.append("no deriver in remit.analysis.endpoints.DERIVERS")
    if "definition" not in vars(cls):
        out.append("no definition in words of its own")
    if f"`{cls.__name__}`" not in DOCS_ANALYSIS:
        out.append("not in docs/analysis.md")
    if not _named(cls.__name__, TESTS):
        out.append("no test names it")
    return out


def test_the_endpoint_union_is_the_tuple() -> None:
    assert get_args(get_args(Endpoint)[0]) == ENDPOINT_KINDS
    assert set(DERIVERS) == set(ENDPOINT_KINDS)


@pytest.mark.parametrize("cls", ENDPOINT_KINDS, ids=lambda c: c.__name__)
def test_endpoint_kind_has_every_part(cls: type[BaseModel]) -> None:
    assert endpoint_problems(cls) == []


def test_an_endpoint_kind_without_its_parts_is_caught() -> None:
    class DeteriorationEndpoint(_Endpoint):
        kind: Literal["deterioration"]

    assert len(endpoint_problems(DeteriorationEndpoint)) == 4


# --------------------------------------------------------------------------- analysis kinds


def analysis_problems(cls: type[BaseModel]) -> list[str]:
    """What an analysis kind lacks."""
    if cls not in RUNNERS:
        return ["no runner in remit.analysis.sections.RUNNERS"]
    out = []
    result = result_class(cls)
    if not issubclass(result, SectionResult) or result is SectionResult:
        return [f"its runner returns {result!r}, not a result class of its own"]
    if result not in RENDERERS:
        out.append("no renderer in remit.reports.renderers.RENDERERS")
    if result not in METHODS:
        out.append("no paragraph in remit.analysis.methods.METHODS")
    if f"`{_kind(cls)}`" not in DOCS_ANALYSIS or f"`{result.__name__}`" not in DOCS_ANALYSIS:
        out.append("its kind or result class is not in docs/analysis.md")
    if f"`{result.__name__}`" not in DOCS_REPORT:
        out.append("its result class is not in docs/report.md")
    if not (_named(cls.__name__, TESTS) and _named(result.__name__, TESTS)):
        out.append("no test names it and its result class")
    return out


def test_the_analysis_union_is_the_tuple() -> None:
    assert get_args(get_args(Analysis)[0]) == ANALYSIS_KINDS
    assert set(RUNNERS) == set(ANALYSIS_KINDS)
    results = [result_class(c) for c in ANALYSIS_KINDS]
    assert len(set(results)) == len(results)  # one result class per kind
    assert set(RENDERERS) == set(METHODS) == set(results)


@pytest.mark.parametrize("cls", ANALYSIS_KINDS, ids=lambda c: c.__name__)
def test_analysis_kind_has_every_part(cls: type[BaseModel]) -> None:
    assert analysis_problems(cls) == []


def test_an_analysis_kind_without_its_parts_is_caught() -> None:
    class BayesAnalysis(_Analysis):
        kind: Literal["bayes"]

    assert analysis_problems(BayesAnalysis) == ["no runner in remit.analysis.sections.RUNNERS"]


@pytest.fixture(scope="module")
def oslo_result(trial: TrialData, oslo: Protocol) -> Any:
    return run_analysis_plan(trial, oslo, now=datetime(2026, 1, 2, tzinfo=UTC))


def test_each_runner_returns_the_class_it_declares(oslo_result: Any, oslo: Protocol) -> None:
    kinds = {type(a) for a in oslo.analysis.analyses}
    assert kinds == set(ANALYSIS_KINDS)  # the Oslo plan uses every kind
    for spec, section in zip(oslo.analysis.analyses, oslo_result.sections, strict=True):
        assert type(section) is result_class(type(spec))


# --------------------------------------------------------------------------- safety tables


def safety_table_problems(name: str) -> list[str]:
    """What a safety table kind lacks."""
    out = []
    if name not in SAFETY_TABLE_KINDS:
        out.append("no builder in remit.analysis.safety_section.SAFETY_TABLE_KINDS")
    if name not in SAFETY_TABLE_RENDERERS:
        out.append("no renderer in remit.reports.renderers.SAFETY_TABLE_RENDERERS")
    if f"`{name}`" not in DOCS_ANALYSIS or f"`{name}`" not in DOCS_REPORT:
        out.append("not in docs/analysis.md and docs/report.md")
    if not re.search(rf"def test_safety_table_{re.escape(name)}\b", TESTS):
        out.append(f"no test_safety_table_{name}")
    return out


def test_the_safety_registries_hold_the_declared_tables() -> None:
    assert set(SAFETY_TABLE_KINDS) == set(SAFETY_TABLES) == set(SAFETY_TABLE_RENDERERS)


@pytest.mark.parametrize("name", SAFETY_TABLES)
def test_safety_table_kind_has_every_part(name: str, trial: TrialData, oslo: Protocol) -> None:
    assert safety_table_problems(name) == []
    built = SAFETY_TABLE_KINDS[name].build(trial, oslo, trial.enrolled_ids)
    fields = set(SafetySectionResult.__dataclass_fields__)
    assert set(built) <= fields  # each table it builds is a typed field of the result


def test_a_safety_table_without_its_parts_is_caught() -> None:
    assert len(safety_table_problems("ecg")) == 4


# --------------------------------------------------------------------------- report layout


def test_sections_filled_by_renderers_are_in_the_layout() -> None:
    assert set(FILLED_BY_RENDERERS) <= set(LAYOUT)


@pytest.mark.parametrize("section_id", LAYOUT)
def test_report_section_is_documented(section_id: str) -> None:
    assert f"| `{section_id}` |" in DOCS_REPORT


def test_renderers_write_only_to_sections_of_the_layout(
    oslo_result: Any, trial: TrialData, oslo: Protocol
) -> None:
    view = View(oslo_result, oslo, trial, arm_labels(oslo), simulated=False)
    written = {b.section for b in render(oslo_result, view)}
    assert written <= set(LAYOUT)
    assert {"time-to-event", "sensitivity", "safety", "secondary", "limitations"} <= written
