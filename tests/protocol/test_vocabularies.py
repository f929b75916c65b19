"""Each vocabulary is declared once: unique words, one df-method spelling, sets inside their enum.

The store's CHECK constraints are checked against the same vocabularies in
``tests/store/test_store_vocabularies.py``.
"""

from __future__ import annotations

import re
import tomllib
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pandas as pd
import pytest

import remit.protocol.vocab as protocol_vocab
from remit.analysis import DOSE_KINDS, DOSE_STATUSES, PARTICIPANT_STATUSES, SCHEMA, TrialData
from remit.errors import ProtocolError
from remit.protocol import (
    MMRMAnalysis,
    adverse_event,
    builtin_protocols,
    load_protocol,
    protocol_from_text,
    roles,
    status,
)
from remit.safety import LEVELS
from remit.stats.mmrm import DF_METHODS, STRUCTURES
from remit.stats.mmrm import DfMethod as StatsDfMethod
from remit.store import vocab as store_vocab

ROOT = Path(__file__).resolve().parents[2]

ENUM_MODULES = (status, roles, adverse_event, store_vocab)


def _enums() -> list[type[StrEnum]]:
    found: list[type[StrEnum]] = []
    for module in ENUM_MODULES:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, StrEnum)
                and value is not StrEnum
                and value.__module__ == module.__name__
                and value not in found  # an alias (``_P = ParticipantStatus``) is not a second
            ):
                found.append(value)
    return found


def _literals() -> dict[str, tuple[Any, ...]]:
    return {
        name: get_args(value)
        for name, value in vars(protocol_vocab).items()
        if get_origin(value) is Literal
    }


ENUMS = _enums()
LITERALS = _literals()


def test_the_vocabulary_modules_declare_what_they_promise() -> None:
    names = {e.__name__ for e in ENUMS}
    assert {
        "ParticipantStatus",
        "VisitStatus",
        "WindowStatus",
        "AssessmentStatus",
        "DoseKind",
        "DoseStatus",
        "DosingSessionStatus",
        "Role",
        "Severity",
        "Relatedness",
        "AEOutcome",
        "QueryStatus",
        "LockLevel",
        "AuditAction",
    } <= names
    assert {"Rater", "VisitKind", "Level", "EndpointRole", "DfMethod"} <= set(LITERALS)
    assert len(names) == len(ENUMS), "two enums share a name"


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_enum_members_are_unique_lowercase_words(enum: type[StrEnum]) -> None:
    words = [m.value for m in enum]
    assert len(words) == len(set(words)), words
    assert all(re.fullmatch(r"[a-z][a-z_]*", w) for w in words), words
    # the member name is the word in capitals, so code and data read alike
    assert all(m.name == m.value.upper() for m in enum), [m.name for m in enum]


@pytest.mark.parametrize("name", sorted(LITERALS))
def test_literal_words_are_unique(name: str) -> None:
    words = LITERALS[name]
    assert words, name
    assert len(words) == len(set(words)), (name, words)


def test_derived_tuples_follow_their_literals() -> None:
    assert get_args(protocol_vocab.Level) == protocol_vocab.LEVELS == LEVELS
    assert get_args(protocol_vocab.DfMethod) == protocol_vocab.DF_METHODS
    # tuples that only repeated a Literal are gone: the Literal is the one declaration
    assert not hasattr(protocol_vocab, "RATERS")
    assert not hasattr(protocol_vocab, "VISIT_KINDS")


def test_the_participant_status_sets_partition_the_lifecycle() -> None:
    every = set(status.ParticipantStatus)
    sets = {
        "SCREENING_STATUSES": status.SCREENING_STATUSES,
        "ENROLLED_STATUSES": status.ENROLLED_STATUSES,
        "ONGOING_STATUSES": status.ONGOING_STATUSES,
        "LEFT_EARLY_STATUSES": status.LEFT_EARLY_STATUSES,
        "FINAL_STATUSES": status.FINAL_STATUSES,
        "ACTIVE_STATUSES": status.ACTIVE_STATUSES,
        "NO_DATA_STATUSES": status.NO_DATA_STATUSES,
    }
    for name, members in sets.items():
        assert members, name
        assert members <= every, name
        assert all(isinstance(m, status.ParticipantStatus) for m in members), name
        # the store and the data frames hold plain strings: they must be found in the sets
        assert all(str(m.value) in members for m in members), name
    assert every == status.ACTIVE_STATUSES | status.FINAL_STATUSES
    assert not status.ACTIVE_STATUSES & status.FINAL_STATUSES
    assert not status.SCREENING_STATUSES & status.ENROLLED_STATUSES
    assert status.ONGOING_STATUSES <= status.ENROLLED_STATUSES & status.ACTIVE_STATUSES
    assert status.LEFT_EARLY_STATUSES <= status.FINAL_STATUSES
    assert set(status.AssessmentStatus) >= status.ENTRY_STATUSES
    assert set(status.AssessmentStatus) >= status.SIGNABLE_STATUSES
    assert set(status.DoseStatus) >= status.DECIDED_DOSE_STATUSES
    assert set(roles.Role) >= roles.IDENTITY_ROLES
    assert roles.SYSTEM_ROLE not in {r.value for r in roles.Role}


def test_the_analysis_contract_uses_the_stored_words() -> None:
    assert status.values(status.ParticipantStatus) == PARTICIPANT_STATUSES
    assert status.values(status.DoseKind) == DOSE_KINDS
    assert set(DOSE_STATUSES) == status.DECIDED_DOSE_STATUSES
    n = len(PARTICIPANT_STATUSES)
    frame = pd.DataFrame({c.name: [None] * n for c in SCHEMA["participants"]})
    frame["participant_id"] = [f"P{i}" for i in range(n)]
    frame["status"] = list(PARTICIPANT_STATUSES)
    frame["ineligible_reasons"] = [[] for _ in range(n)]
    frame["simulated"] = True
    people = TrialData(participants=frame).participants
    assert people["status"].tolist() == list(PARTICIPANT_STATUSES)


# --------------------------------------------------------------------------- df methods


def test_the_protocol_df_methods_are_the_statistics_df_methods() -> None:
    assert get_args(protocol_vocab.DfMethod) == get_args(StatsDfMethod) == DF_METHODS
    field = MMRMAnalysis.model_fields["df_method"]
    assert get_args(field.annotation) == DF_METHODS


def test_the_protocol_covariance_structures_are_known_to_the_statistics() -> None:
    structures = get_args(MMRMAnalysis.model_fields["covariance"].annotation)
    assert structures
    assert set(structures) <= set(STRUCTURES)


def test_every_builtin_protocol_spells_its_df_method_as_the_statistics_do() -> None:
    for name in builtin_protocols():
        plan = load_protocol(name).analysis.analyses
        methods = [a.df_method for a in plan if isinstance(a, MMRMAnalysis)]
        assert methods, name
        assert set(methods) <= set(DF_METHODS), (name, methods)


def _mmrm_protocol(df_method: str) -> str:
    text = load_protocol("oslo-mdma-mdd").text
    changed = text.replace('df_method = "satterthwaite"', f'df_method = "{df_method}"')
    assert changed != text
    return changed


def test_the_old_underscore_spelling_still_loads_with_a_warning() -> None:
    with pytest.warns(
        FutureWarning, match="'kenward_roger_linear' is deprecated.*'kenward-roger-linear'"
    ):
        protocol = protocol_from_text(_mmrm_protocol("kenward_roger_linear"), "old.toml")
    mmrm = next(a for a in protocol.analysis.analyses if isinstance(a, MMRMAnalysis))
    assert mmrm.df_method == "kenward-roger-linear"


@pytest.mark.parametrize("spelling", ["Kenward-Roger", "kenward roger", "kr", "satterthwaite_"])
def test_other_spellings_are_refused(spelling: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ProtocolError, match="df_method"):
            protocol_from_text(_mmrm_protocol(spelling), "bad.toml")


_SECOND_SPELLING = re.compile(r"""["'`](kenward_roger(?:_linear)?|between_within)["'`]""")
_TOML_DF = re.compile(r"""^\s*df_method\s*=\s*["']([^"']*)["']""", re.MULTILINE)


def _text_files() -> list[Path]:
    found: list[Path] = []
    for folder in (ROOT / "src", ROOT / "docs"):
        for suffix in ("*.py", "*.toml", "*.md", "*.html"):
            found.extend(folder.rglob(suffix))
    found.extend(p for p in (ROOT / "README.md",) if p.exists())
    return sorted(found)


def test_no_second_spelling_of_a_df_method_is_left_in_the_sources() -> None:
    files = _text_files()
    assert any(p.name == "sap.py" for p in files)  # the walk did find the sources
    this = Path(__file__).resolve()
    hits = [
        f"{p.relative_to(ROOT)}: {m.group(0)}"
        for p in files
        if p != this
        for m in _SECOND_SPELLING.finditer(p.read_text(encoding="utf-8"))
    ]
    assert hits == []
    bad_toml = [
        f"{p.relative_to(ROOT)}: {word}"
        for p in files
        for word in _TOML_DF.findall(p.read_text(encoding="utf-8"))
        if word not in DF_METHODS
    ]
    assert bad_toml == []


def test_the_builtin_protocol_files_parse_as_plain_toml_with_canonical_df_methods() -> None:
    for path in sorted((ROOT / "src" / "remit" / "protocol" / "protocols").glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        analyses = data.get("analysis", {}).get("analyses", [])
        methods = [a["df_method"] for a in analyses if "df_method" in a]
        assert set(methods) <= set(DF_METHODS), (path.name, methods)
