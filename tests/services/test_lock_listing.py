"""What the database lock pages read from the services, on SQLite and PostgreSQL: the list of
locks says who locked and opened each and why it was opened (the unlock's reason on the audit
trail), and the complete forms nobody has signed are listed until one signs them."""

from __future__ import annotations

from tests.support.forms import madrs
from tests.support.trial import PASSWORD, OsloTrial, enrolled

from remit import services as sv
from remit.services.signing import unsigned_forms


def test_locks_say_who_locked_and_opened_them_and_why(oslo: OsloTrial) -> None:
    e, dm = oslo.engine, oslo.data_manager
    pid = enrolled(oslo, "V3")
    first = sv.lock(e, dm, "participant", participant=pid, reason="V3 cleaned")
    assert (first.locked_by, first.unlocked_by, first.unlock_reason) == (dm.username, None, None)
    opened = sv.unlock(e, dm, first.id, reason="late MADRS to enter")
    assert (opened.unlocked_by, opened.unlock_reason) == (dm.username, "late MADRS to enter")
    study = sv.lock(e, dm, "study", reason="database lock")
    listed = sv.list_locks(e, oslo.investigator)
    assert [(x.id, x.level, x.participant_id, x.reason, x.unlock_reason) for x in listed] == [
        (study.id, "study", None, "database lock", None),
        (first.id, "participant", pid, "V3 cleaned", "late MADRS to enter"),
    ]
    assert [x.id for x in sv.list_locks(e, dm, open_only=True)] == [study.id]


def test_complete_forms_nobody_signed_are_listed_until_signed(oslo: OsloTrial) -> None:
    e = oslo.engine
    pid = enrolled(oslo, "V3")
    before = {f.id for f in unsigned_forms(e, oslo.data_manager)}  # the screening's forms
    form = sv.record_assessment(e, oslo.rater, pid, "V3", "madrs", madrs())
    draft = sv.record_assessment(e, oslo.therapist, pid, "V3", "sds", {"1": 3}, status="draft")
    found = [f for f in unsigned_forms(e, oslo.data_manager) if f.id not in before]
    assert [(f.id, f.participant_id, f.visit_code, f.scale) for f in found] == [
        (form.id, pid, "V3", "madrs")
    ]
    assert draft.status == "draft"
    assert draft.id not in {f.id for f in found}  # a draft is not complete (the worklist's)
    sv.sign(e, oslo.rater, "assessment", form.id, password=PASSWORD, meaning="author")
    assert {f.id for f in unsigned_forms(e, oslo.data_manager)} == before
