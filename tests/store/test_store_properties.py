"""Property: whatever sequence of writes, rollbacks and refusals happens, the chain verifies and
replaying the audit trail gives exactly the tables."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remit.errors import InputError
from remit.store import replay_audit, snapshot_tables, unit_of_work, verify_audit_chain
from remit.store.tables import Assessment, Participant

# PostgreSQL text and JSONB cannot hold NUL characters; lone surrogates are not text at all
# (neither engine's driver can encode them).
chars = st.characters(codec="utf-8", exclude_characters="\x00")
texts = st.one_of(st.none(), st.text(chars, max_size=12))
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**31), 2**31),
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        st.text(chars, max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(chars, max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "edit", "delete", "answers", "complete", "edit_complete"]),
        st.integers(0, 50),
        texts,
        json_values,
        st.booleans(),  # give a reason
        st.booleans(),  # roll back at the end
    ),
    min_size=1,
    max_size=12,
)


class RollbackError(Exception):
    """Raised inside a unit of work to roll it back."""


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
def test_replay_equals_tables_after_any_sequence_of_writes(trial: Any, steps: list[Any]) -> None:
    for kind, pick, value, payload, with_reason, roll_back in steps:
        try:
            with unit_of_work(
                trial.engine, trial.investigator, reason="because" if with_reason else None
            ) as uow:
                participants = uow.session.query(Participant).order_by(Participant.id).all()
                assessments = uow.session.query(Assessment).order_by(Assessment.id).all()
                if kind == "add" or not participants:
                    participant = Participant(
                        study_id=f"P-{len(participants)}-{pick}-{uow.transaction_id[:6]}",
                        site_id=trial.site_id,
                        arm=value,
                        baseline_date=date(2026, 1, 1 + pick % 28),
                    )
                    uow.add(participant)
                    uow.flush()
                    uow.add(
                        Assessment(
                            participant_id=participant.id,
                            scale="madrs",
                            scale_version="1",
                            answers={"payload": payload},
                            status="draft",
                        )
                    )
                elif kind == "edit":
                    participants[pick % len(participants)].status_reason = value
                elif kind == "delete" and assessments:
                    uow.session.delete(assessments[pick % len(assessments)])
                elif kind == "answers" and assessments:
                    assessments[pick % len(assessments)].answers = {"payload": payload}
                elif kind == "complete" and assessments:
                    assessments[pick % len(assessments)].status = "complete"
                elif kind == "edit_complete" and assessments:
                    assessment = assessments[pick % len(assessments)]
                    assessment.score = {"value": payload}
                uow.flush()
                if roll_back:
                    raise RollbackError
        except (RollbackError, InputError):
            pass
    assert verify_audit_chain(trial.engine).ok
    assert replay_audit(trial.engine) == snapshot_tables(trial.engine)
