"""The store's CHECK constraints list the words of the shared vocabularies, no others.

Every choice column of the table classes is built from one declared vocabulary (a ``StrEnum``
of ``remit.protocol.status``, ``remit.protocol.roles``, ``remit.protocol.adverse_event``,
``remit.protocol.consent`` or
``remit.store.vocab``, or a ``Literal`` of ``remit.protocol.vocab``), and the migrated
database enforces exactly those words on both engines.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal, get_args, get_origin

from sqlalchemy import Engine, Enum, inspect

import remit.protocol.vocab as protocol_vocab
from remit.protocol import adverse_event, consent, demographics, results, roles, status
from remit.store import vocab as store_vocab
from remit.store.tables import Base

#: (table, column) → the vocabulary its CHECK constraint must list.
EXPECTED: dict[tuple[str, str], type[StrEnum]] = {
    ("participant", "status"): status.ParticipantStatus,
    ("visit", "status"): status.VisitStatus,
    ("visit", "window_status"): status.WindowStatus,
    ("assessment", "status"): status.AssessmentStatus,
    ("dosing_session", "status"): status.DosingSessionStatus,
    ("dose", "kind"): status.DoseKind,
    ("dose", "status"): status.DoseStatus,
    ("dosing_session", "follow_up_status"): status.FollowUpCallStatus,
    ("user_role", "role"): roles.Role,
    ("adverse_event", "severity"): adverse_event.Severity,
    ("adverse_event", "relatedness"): adverse_event.Relatedness,
    ("adverse_event", "outcome"): adverse_event.AEOutcome,
    ("adverse_event", "action_taken"): adverse_event.ActionTaken,
    ("participant", "race"): demographics.Race,
    ("participant", "ethnicity"): demographics.Ethnicity,
    ("data_query", "status"): store_vocab.QueryStatus,
    ("lock", "level"): store_vocab.LockLevel,
    ("audit_event", "action"): store_vocab.AuditAction,
    ("consent", "withdrawal_scope"): consent.WithdrawalScope,
    ("clinical_result", "interpretation"): results.Interpretation,
}


def _declared_vocabularies() -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for module in (status, roles, adverse_event, consent, demographics, results, store_vocab):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum:
                found[f"{module.__name__}.{value.__name__}"] = status.values(value)
    for name, value in vars(protocol_vocab).items():
        if get_origin(value) is Literal:
            found[f"{protocol_vocab.__name__}.{name}"] = tuple(str(v) for v in get_args(value))
    return found


def _choice_columns() -> dict[tuple[str, str], tuple[str, ...]]:
    return {
        (table.name, column.name): tuple(column.type.enums)
        for table in Base.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, Enum)
    }


def test_the_table_classes_take_their_choices_from_the_vocabularies() -> None:
    columns = _choice_columns()
    for (table, column), enum in EXPECTED.items():
        assert columns[(table, column)] == status.values(enum), (table, column)
    # a choice column added later must use a declared vocabulary, not a list of its own
    declared = set(_declared_vocabularies().values())
    own_lists = {where: words for where, words in columns.items() if words not in declared}
    assert own_lists == {}


def _check_words(engine: Engine, table: str) -> list[set[str]]:
    constraints: list[dict[str, Any]] = inspect(engine).get_check_constraints(table)
    return [set(re.findall(r"'([^']*)'", str(c["sqltext"]))) for c in constraints]


def test_the_migrated_database_checks_the_vocabulary_words(engine: Engine) -> None:
    for (table, column), enum in EXPECTED.items():
        words = set(status.values(enum))
        found = _check_words(engine, table)
        assert words in found, (table, column, found)
    with engine.connect() as connection:
        names = set(inspect(connection).get_table_names())
    assert {table for table, _ in EXPECTED} <= names
