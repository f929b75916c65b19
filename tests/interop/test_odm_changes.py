"""``remit import odm`` of a snapshot re-exported after a correction in the source: each value
the source changed becomes an audited edit of the stored form (safety rules run again),
unchanged values stay untouched, and a value changed on both sides is refused with nothing
written. The import target runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.support.db import copy_database, count_all
from tests.support.presets import ENTRY_ROLES
from tests.support.trial import build_trial

from remit.errors import InputError
from remit.interop import export_trial
from remit.interop.odm_import import import_odm
from remit.services import (
    SOURCE_AUDIT_TABLE,
    Actor,
    audit_log,
    get_assessment,
    list_alerts,
    list_assessments,
    update_assessment,
)
from remit.store import make_engine, verify_audit

#: The correction made in the source after the first export.
SOURCE_REASON = "rater corrected item 10 after source check"


@dataclass(frozen=True)
class Snapshots:
    """Two exports of one source trial: before and after a correction of OSL-002's MADRS."""

    before: Path
    after: Path
    visit: str
    old: int
    new: int


@pytest.fixture(scope="module")
def snapshots(trial_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Snapshots:
    folder = tmp_path_factory.mktemp("odm-changes")
    copy_database(trial_db, folder / "source.db")
    source = make_engine(folder / "source.db")
    try:
        first = export_trial(source, folder / "before", formats=("odm",))
        system = Actor.system("tests")
        form = next(a for a in list_assessments(source, system, "OSL-002") if a.scale == "madrs")
        old = int(form.answers["suicidal_thoughts"])
        update_assessment(
            source,
            system,
            form.id,
            dict(form.answers) | {"suicidal_thoughts": 6},
            expected_version=form.version,
            reason=SOURCE_REASON,
        )
        second = export_trial(source, folder / "after", formats=("odm",))
    finally:
        source.dispose()
    assert form.visit_code is not None
    return Snapshots(
        first.out_dir / "odm" / "odm_snapshot.xml",
        second.out_dir / "odm" / "odm_snapshot.xml",
        form.visit_code,
        old,
        6,
    )


@pytest.fixture
def target(db_url: str) -> Iterator[tuple[Engine, dict[str, Actor]]]:
    """An empty Oslo trial whose one user ``imp`` holds the three entry roles."""
    engine = make_engine(db_url)
    trial = build_trial(engine, staff={"imp": [(role, "OST") for role in ENTRY_ROLES]})
    yield engine, {role: trial.actors[role] for role in ENTRY_ROLES}
    engine.dispose()


def _madrs(engine: Engine, visit: str) -> tuple[int, int, dict[str, object]]:
    [form] = [
        a
        for a in list_assessments(engine, Actor.system("tests"), "OSL-002", visit_code=visit)
        if a.scale == "madrs"
    ]
    return form.id, form.version, dict(form.answers)


def _urgent(engine: Engine) -> list[int]:
    """OSL-002's alerts of the urgent MADRS item-10 rule."""
    return [
        a.id
        for a in list_alerts(engine, Actor.system("tests"), participant="OSL-002")
        if a.rule_id == "madrs_item10_6"
    ]


def test_a_value_changed_in_the_source_is_imported_as_an_audited_change(
    snapshots: Snapshots, target: tuple[Engine, dict[str, Actor]]
) -> None:
    engine, actors = target
    import_odm(engine, snapshots.before, actors)
    form_id, version, answers = _madrs(engine, snapshots.visit)
    assert answers["suicidal_thoughts"] == snapshots.old
    other = {k: v for k, v in answers.items() if k != "suicidal_thoughts"}
    kept_before = len(audit_log(engine, "OSL-002", table=SOURCE_AUDIT_TABLE))
    urgent_before = _urgent(engine)

    result = import_odm(engine, snapshots.after, actors)

    assert result.subjects == {}
    assert result.changed == {"OSL-002": "OSL-002"}
    assert result.unchanged == ("OSL-001", "OSL-003")
    assert result.counts["changed_values"] == 1
    assert result.counts["participants"] == 0
    assert "0 new, 1 changed, 2 unchanged participants" in result.summary()
    assert (
        f"OSL-002 {snapshots.visit} MADRS SUICIDAL_THOUGHTS: {snapshots.old} → 6"
        in result.summary()
    )
    # a new version of the same form; the other answers untouched
    same_id, new_version, new_answers = _madrs(engine, snapshots.visit)
    assert same_id == form_id
    assert new_version == version + 1
    assert new_answers["suicidal_thoughts"] == 6
    assert {k: v for k, v in new_answers.items() if k != "suicidal_thoughts"} == other
    # audited as an edit by the importing user, with the source's reason
    edits = [
        e
        for e in audit_log(engine, "OSL-002", table="assessment")
        if e.record_id == form_id and e.field == "answers" and e.action == "update"
    ]
    assert [e.username for e in edits] == ["imp"]
    assert edits[0].reason == (f"ODM import odm_snapshot.xml — changed in source: {SOURCE_REASON}")
    # the source's record of the correction is kept as history (its user, its reason)
    history = audit_log(engine, "OSL-002", table=SOURCE_AUDIT_TABLE)
    new_rows = [e for e in history[kept_before:] if e.field == "source"]
    assert new_rows
    assert {e.reason for e in new_rows} == {SOURCE_REASON}
    assert all(e.new_value["record"].startswith("assessment/") for e in new_rows)
    # the same alert as for a typed entry: MADRS item 10 at 6 is urgent
    urgent = _urgent(engine)
    assert len(urgent) == len(urgent_before) + 1
    assert result.alerts >= 1
    assert any(
        a.rule_id == "madrs_item10_6"
        for a in get_assessment(engine, actors["independent_rater"], form_id).alerts
    )
    assert verify_audit(engine).ok

    # the same corrected file again: nothing left to change
    again = import_odm(engine, snapshots.after, actors)
    assert again.changed == {}
    assert again.unchanged == ("OSL-001", "OSL-002", "OSL-003")
    assert _madrs(engine, snapshots.visit)[1] == new_version


def test_a_value_changed_here_and_in_the_source_is_a_conflict_and_nothing_is_written(
    snapshots: Snapshots, target: tuple[Engine, dict[str, Actor]]
) -> None:
    engine, actors = target
    import_odm(engine, snapshots.before, actors)
    form_id, version, answers = _madrs(engine, snapshots.visit)
    mine = 1 if snapshots.old != 1 else 2
    update_assessment(
        engine,
        actors["independent_rater"],
        form_id,
        answers | {"suicidal_thoughts": mine},
        expected_version=version,
        reason="corrected here",
    )
    before = count_all(engine)
    with pytest.raises(
        InputError,
        match=rf"subject OSL-002, event {snapshots.visit}, form F.MADRS, "
        r"item IT.MADRS.SUICIDAL_THOUGHTS: conflict: changed in the source "
        rf"\({snapshots.old} → 6\) and in this database since the last import "
        rf"\(now {mine}, imported as {snapshots.old}\)",
    ):
        import_odm(engine, snapshots.after, actors)
    after = count_all(engine)
    # the comparison read the trial (and logged that read); nothing else was written
    assert after.pop("identity_access_log") >= before.pop("identity_access_log")
    assert after == before


def test_a_value_changed_only_here_stays_when_the_file_is_imported_again(
    snapshots: Snapshots, target: tuple[Engine, dict[str, Actor]]
) -> None:
    engine, actors = target
    import_odm(engine, snapshots.before, actors)
    form_id, version, answers = _madrs(engine, snapshots.visit)
    mine = 1 if snapshots.old != 1 else 2
    update_assessment(
        engine,
        actors["independent_rater"],
        form_id,
        answers | {"suicidal_thoughts": mine},
        expected_version=version,
        reason="corrected here",
    )
    result = import_odm(engine, snapshots.before, actors)
    assert result.changed == {}
    assert result.unchanged == ("OSL-001", "OSL-002", "OSL-003")
    assert _madrs(engine, snapshots.visit)[2]["suicidal_thoughts"] == mine


def test_the_rehearsal_keeps_the_scales_kept_here(
    snapshots: Snapshots,
    target: tuple[Engine, dict[str, Actor]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The throw-away database the import rehearses in holds the scales kept in the trial
    database (a protocol may plan them; its forms are scored with them)."""
    from tests.interop.test_redcap_phq9 import dictionary, phq9_rows

    import remit.services as services
    from remit.interop.redcap import read_redcap_dictionary
    from remit.services import add_scale, open_trial_scales

    engine, actors = target
    path = tmp_path / "phq9.csv"
    path.write_text(dictionary(phq9_rows()), encoding="utf-8")
    [scale] = read_redcap_dictionary(path).scales
    add_scale(engine, Actor.system("tests"), scale.toml, source="phq9.csv")
    seen: list[list[str]] = []
    close = services.close_database

    def spy(scratch: Engine) -> None:
        seen.append(open_trial_scales(scratch))
        close(scratch)

    monkeypatch.setattr(services, "close_database", spy)
    import_odm(engine, snapshots.before, actors)
    assert seen == [["phq9"]]
    # and the trial database's own scales are the ones installed after the import
    assert open_trial_scales(engine) == ["phq9"]
