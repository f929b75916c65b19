"""What a signature signs, and the meanings that fit the signer: the preview shows the form's
participant, visit, answers with labels, score, version and the hash the signature binds to;
a meaning that does not fit the role (or ``author`` of someone else's rating) is refused and
nothing is stored (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.support.db import count_all
from tests.support.forms import madrs
from tests.support.trial import PASSWORD, OsloTrial, enrolled

from remit import services as sv
from remit.errors import InputError, PermissionDeniedError
from remit.protocol.roles import SIGNATURE_MEANINGS, Role, SignatureMeaning
from remit.store import canonical_json
from remit.store.tables import Participant


def _rated(oslo: OsloTrial) -> tuple[str, sv.AssessmentRecord]:
    pid = enrolled(oslo, "V3")
    return pid, sv.record_assessment(oslo.engine, oslo.rater, pid, "V3", "madrs", madrs(3, 1))


def test_the_preview_shows_what_is_signed(oslo: OsloTrial) -> None:
    pid, form = _rated(oslo)
    preview = sv.signing_preview(oslo.engine, oslo.investigator, "assessment", form.id)
    assert (preview.participant_id, preview.visit_code) == (pid, "V3")
    assert (preview.scale, preview.scale_version) == ("madrs", form.scale_version)
    assert "MADRS" in preview.title
    assert "Montgomery" in preview.title
    assert len(preview.items) == 10
    first = preview.items[0]
    assert (first.key, first.label, first.value) == ("1", "Apparent sadness", 3)
    assert preview.items[-1].label == "Suicidal thoughts"
    assert preview.items[-1].value == 1
    assert preview.total == form.total == 28
    assert preview.version == form.version
    assert preview.author == "rita"
    assert preview.content["values"]["answers"] == form.answers
    # the content shown is exactly what the hash covers
    assert hashlib.sha256(canonical_json(preview.content).encode()).hexdigest() == (
        preview.content_sha256
    )
    assert preview.meanings == ("approved",)
    rater_view = sv.signing_preview(oslo.engine, oslo.rater, "assessment", form.id)
    assert rater_view.meanings == ("author",)
    assert rater_view.content_sha256 == preview.content_sha256
    signed = sv.sign(
        oslo.engine,
        oslo.investigator,
        "assessment",
        form.id,
        password=PASSWORD,
        meaning="approved",
    )
    assert signed.content_sha256 == preview.content_sha256


def test_the_author_and_the_investigator_sign_with_their_own_meanings(oslo: OsloTrial) -> None:
    _, form = _rated(oslo)
    e = oslo.engine
    by_rater = sv.sign(e, oslo.rater, "assessment", form.id, password=PASSWORD, meaning="author")
    by_inv = sv.sign(
        e,
        oslo.investigator,
        "assessment",
        form.id,
        password=PASSWORD,
        meaning="approved",
    )
    by_monitor = sv.sign(
        e, oslo.monitor, "assessment", form.id, password=PASSWORD, meaning="reviewed"
    )
    held = sv.signatures_of(e, oslo.investigator, "assessment", form.id)
    assert [(s.meaning, ok) for s, ok in held] == [
        ("author", True),
        ("approved", True),
        ("reviewed", True),
    ]
    assert {by_rater.id, by_inv.id, by_monitor.id} == {s.id for s, _ in held}


@pytest.mark.parametrize(
    ("role", "meaning", "error", "words"),
    [
        ("investigator", "author", PermissionDeniedError, r"kari did not enter .* \(rita did\)"),
        ("independent_rater", "approved", PermissionDeniedError, "may not sign"),
        ("monitor", "author", PermissionDeniedError, "may not sign with the meaning 'author'"),
        ("investigator", "looked at it", InputError, "signature meaning 'looked at it'"),
        ("statistician", "reviewed", PermissionDeniedError, "may not sign"),
    ],
)
def test_an_unfitting_meaning_is_refused_and_nothing_is_stored(
    oslo: OsloTrial, role: str, meaning: str, error: type[Exception], words: str
) -> None:
    _, form = _rated(oslo)
    before = count_all(oslo.engine)
    with pytest.raises(error, match=words):
        sv.sign(
            oslo.engine,
            oslo.actors[role],
            "assessment",
            form.id,
            password=PASSWORD,
            meaning=meaning,
        )
    assert count_all(oslo.engine) == before
    assert sv.get_assessment(oslo.engine, oslo.investigator, form.id).status == "complete"


def test_every_meaning_is_offered_to_some_role() -> None:
    offered = {m for meanings in SIGNATURE_MEANINGS.values() for m in meanings}
    assert offered == set(SignatureMeaning)
    assert Role.STATISTICIAN not in SIGNATURE_MEANINGS


def test_the_author_of_a_record_without_a_rater_is_who_inserted_it(oslo: OsloTrial) -> None:
    pid = enrolled(oslo, "V0")
    with Session(oslo.engine) as session:
        key = session.scalar(select(Participant.id).where(Participant.study_id == pid))
    assert key is not None
    mine = sv.signing_preview(oslo.engine, oslo.investigator, "participant", key)
    assert mine.author == "kari"  # from the audit trail's insert
    assert mine.meanings == ("approved", "author")
    assert sv.signing_preview(oslo.engine, oslo.monitor, "participant", key).meanings == (
        "reviewed",
    )
