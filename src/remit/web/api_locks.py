"""The JSON API of the database lock: list the locks, what is still open before the study lock,
lock the study, a participant or a form, and open a lock again with a reason. Each route calls
one service (the review reads several); nothing under an open lock can be changed (423)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from remit import services as sv
from remit.json_values import to_json_value
from remit.web.api import _ERRORS, Json, Session, answers
from remit.web.core import ID, PARTICIPANT_ID_PATTERN, api_requires, state_of
from remit.web.pages_locks import StudyLockReview, study_lock_review

router = APIRouter(prefix="/api/v1", responses=_ERRORS, tags=["locks"])

_REASON = Field(default=None, max_length=2000, description="Why it is locked.")


class LockIn(BaseModel):
    """A lock to make: the study (data manager), a participant's data, or one record (a form:
    ``record_table`` ``assessment`` and its id; it must be complete)."""

    model_config = ConfigDict(extra="forbid")

    level: Literal["study", "participant", "form"]
    participant_id: str | None = Field(
        default=None, pattern=PARTICIPANT_ID_PATTERN, description="For a participant lock."
    )
    record_table: str | None = Field(
        default=None, max_length=40, description="For a form lock (default ``assessment``)."
    )
    record_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="For a form lock.")
    reason: str | None = _REASON

    @model_validator(mode="after")
    def _fields_of_level(self) -> LockIn:
        """Refuse a field the level does not use (a study lock with a participant would lock
        more than the caller may think)."""
        given = {
            "participant_id": self.participant_id,
            "record_table": self.record_table,
            "record_id": self.record_id,
        }
        used = {
            "study": (),
            "participant": ("participant_id",),
            "form": ("record_table", "record_id"),
        }
        extra = [k for k, v in given.items() if v is not None and k not in used[self.level]]
        if extra:
            raise ValueError(
                f"a {self.level} lock takes no {', '.join(extra)}: "
                "send the level that matches what is to be locked"
            )
        return self


class UnlockIn(BaseModel):
    """Why a lock is opened again (required: an empty reason is refused, 422)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000, description="Why the lock is opened again.")


@router.get(
    "/locks", **answers(list[sv.LockRecord]), dependencies=[api_requires("view_participants")]
)
def locks_list(
    request: Request,
    session: Session,
    participant_id: Annotated[
        str | None,
        Query(
            pattern=PARTICIPANT_ID_PATTERN, description="Only this participant's and the study's."
        ),
    ] = None,
    open_only: Annotated[bool, Query(alias="open", description="Only the locks in force.")] = False,
) -> Json:
    """The locks, newest first, with who locked and opened each, when and why."""
    found = sv.list_locks(
        state_of(request).engine, session.actor, participant=participant_id, open_only=open_only
    )
    return to_json_value(found)


@router.get(
    "/locks/study/review",
    **answers(StudyLockReview),
    dependencies=[api_requires("lock_study")],
)
def study_review(request: Request, session: Session) -> Json:
    """What is still open before the study lock: queries and safety alerts not closed,
    complete forms nobody signed, forms missing at visits whose window closed, forms saved
    incomplete. None of it stops the lock."""
    return to_json_value(study_lock_review(state_of(request).engine, session.actor))


@router.post("/locks", **answers(sv.LockRecord, 201), dependencies=[api_requires("lock")])
def lock_make(body: LockIn, request: Request, session: Session) -> Json:
    """Lock the study (data manager only), a participant or a form; locking again what is
    locked answers the lock in force."""
    record_table = body.record_table or ("assessment" if body.level == "form" else None)
    found = sv.lock(
        state_of(request).engine,
        session.actor,
        body.level,
        participant=body.participant_id,
        record_table=record_table,
        record_id=body.record_id,
        reason=body.reason,
    )
    return to_json_value(found)


@router.post(
    "/locks/{lock_id}/open", **answers(sv.LockRecord), dependencies=[api_requires("unlock")]
)
def lock_open(body: UnlockIn, request: Request, session: Session, lock_id: ID) -> Json:
    """Open a lock again (data manager), with a reason; audited."""
    found = sv.unlock(state_of(request).engine, session.actor, lock_id, reason=body.reason)
    return to_json_value(found)
