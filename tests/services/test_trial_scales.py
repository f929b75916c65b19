"""Scales kept in the trial database (``remit scales add`` / ``remit import redcap-dictionary
--db``): audited, versioned, immutable once a form uses them, usable at once by ``remit
scales``, protocol checks and forms without REMIT_SCALES_PATH; a code that is also a shipped
or REMIT_SCALES_PATH scale is refused. Service tests on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.interop.test_redcap_phq9 import ANSWERS, MINI, dictionary, phq9_rows
from tests.support.db import count_all
from tests.support.trial import OsloTrial, enrolled
from typer.testing import CliRunner

from remit import services as sv
from remit.cli.app import app
from remit.errors import InputError, NotFoundError, PermissionDeniedError, ScaleError
from remit.interop.redcap import read_redcap_dictionary
from remit.scales import list_scales, load_scale, scale_source, score, use_trial_scales
from remit.store import audit_log, unit_of_work
from remit.store.tables import Assessment


@pytest.fixture
def phq9_toml(tmp_path: Path) -> str:
    path = tmp_path / "phq9_dictionary.csv"
    path.write_text(dictionary(phq9_rows()), encoding="utf-8")
    [scale] = read_redcap_dictionary(path).scales
    return scale.toml


def test_a_kept_scale_is_audited_versioned_and_usable_at_once(
    oslo: OsloTrial, phq9_toml: str
) -> None:
    e, dm = oslo.engine, oslo.data_manager
    use_trial_scales({})
    with pytest.raises(NotFoundError):
        load_scale("phq9")
    kept = sv.add_scale(e, dm, phq9_toml, source="phq9_dictionary.csv")
    assert (kept.code, kept.revision, kept.name) == ("phq9", 1, "Phq9")
    # known at once: listed, loaded, scored, with its source
    assert "phq9" in list_scales()
    assert scale_source("phq9") == "trial database (revision 1)"
    result = score(load_scale("phq9"), ANSWERS)
    assert (result.total, result.band) == (11, "moderate")
    # audited as the data manager's insert
    rows = [r for r in audit_log(e) if r.table_name == "trial_scale"]
    assert {r.username for r in rows} == {dm.username}
    assert {r.field for r in rows} >= {"code", "definition", "revision"}
    # the same definition again keeps nothing new
    before = count_all(e)["trial_scale"]
    assert sv.add_scale(e, dm, phq9_toml, source="again.csv").revision == 1
    assert count_all(e)["trial_scale"] == before
    # a changed definition of a scale no form uses: the next revision, which is used
    changed = phq9_toml.replace('name = "Phq9"', 'name = "PHQ-9 (site wording)"')
    assert changed != phq9_toml
    second = sv.add_scale(e, dm, changed, source="phq9_v2.toml")
    assert second.revision == 2
    assert load_scale("phq9").name == "PHQ-9 (site wording)"
    assert [(r.code, r.revision) for r in sv.list_trial_scales(e, oslo.monitor)] == [
        ("phq9", 1),
        ("phq9", 2),
    ]
    # another process (or test) forgetting them: the next service call installs them again
    use_trial_scales({})
    sv.list_participants(e, dm)
    assert scale_source("phq9") == "trial database (revision 2)"


def test_a_kept_scale_a_form_uses_cannot_change(oslo: OsloTrial, phq9_toml: str) -> None:
    e, dm = oslo.engine, oslo.data_manager
    sv.add_scale(e, dm, phq9_toml, source="phq9_dictionary.csv")
    pid = enrolled(oslo, "V3")
    participant = sv.get_participant(e, dm, pid)
    with unit_of_work(e, oslo.rater) as uow:  # a stored PHQ-9 form
        uow.add(
            Assessment(
                participant_id=participant.id, scale="phq9", scale_version="1",
                answers=ANSWERS, status="draft",
            )
        )  # fmt: skip
    before = count_all(e)
    changed = phq9_toml.replace('name = "Phq9"', 'name = "PHQ-9 (site wording)"')
    with pytest.raises(ScaleError, match=r"scale 'phq9' \(revision 1\) is used by 1 form"):
        sv.add_scale(e, dm, changed, source="phq9_v2.toml")
    assert count_all(e) == before
    assert load_scale("phq9").name == "Phq9"


def test_collisions_and_refusals_keep_nothing(
    oslo: OsloTrial, phq9_toml: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    e, dm = oslo.engine, oslo.data_manager
    before = count_all(e)
    madrs = phq9_toml.replace('code = "phq9"', 'code = "madrs"')
    with pytest.raises(InputError, match=r"scale 'madrs' from x.toml has the code of a built-in"):
        sv.add_scale(e, dm, madrs, source="x.toml")
    with pytest.raises(PermissionDeniedError):
        sv.add_scale(e, oslo.investigator, phq9_toml, source="x.toml")
    with pytest.raises(ScaleError):
        sv.add_scale(e, dm, 'code = "broken"\n', source="broken.toml")
    folder = tmp_path / "my_scales"
    folder.mkdir()
    (folder / "phq9.toml").write_text(phq9_toml, encoding="utf-8")
    monkeypatch.setenv("REMIT_SCALES_PATH", str(folder))
    with pytest.raises(InputError, match=r"scale 'phq9' from x.toml is also .*phq9.toml"):
        sv.add_scale(e, dm, phq9_toml, source="x.toml")
    assert count_all(e) == before
    # kept first, then a file of the same code appears in REMIT_SCALES_PATH: refused by name
    monkeypatch.delenv("REMIT_SCALES_PATH")
    sv.add_scale(e, dm, phq9_toml, source="phq9_dictionary.csv")
    monkeypatch.setenv("REMIT_SCALES_PATH", str(folder))
    with pytest.raises(ScaleError, match=r"'phq9' is kept in the trial database and is also"):
        list_scales()


def test_redcap_import_into_the_database_then_scales_cli_without_the_path(
    oslo: OsloTrial, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REMIT_SCALES_PATH", raising=False)
    url = oslo.engine.url.render_as_string(hide_password=False)
    path = tmp_path / "phq9_dictionary.csv"
    path.write_text(dictionary(phq9_rows()), encoding="utf-8")
    runner = CliRunner()
    imported = runner.invoke(
        app, ["import", "redcap-dictionary", str(path), "--db", url, "--user", "dag"]
    )
    assert imported.exit_code == 0, imported.output
    assert "kept phq9 (revision 1) in the trial database" in imported.output
    assert not (Path.cwd() / "phq9.toml").exists()  # no file written without --out
    use_trial_scales({})  # a new process: only the database knows the scale
    listed = runner.invoke(app, ["scales", "list", "--db", url, "--json"])
    assert listed.exit_code == 0, listed.output
    [entry] = [s for s in json.loads(listed.output) if s["code"] == "phq9"]
    assert entry["source"] == "trial database (revision 1)"
    use_trial_scales({})
    scored = runner.invoke(
        app, ["scales", "score", "phq9", "--db", url, "-a", json.dumps(ANSWERS), "--json"]
    )
    assert scored.exit_code == 0, scored.output
    assert (json.loads(scored.output)["total"], json.loads(scored.output)["band"]) == (
        11,
        "moderate",
    )
    use_trial_scales({})
    unknown = runner.invoke(app, ["scales", "score", "phq9", "-a", json.dumps(ANSWERS)])
    assert unknown.exit_code == 2  # without --db: not known
    # `remit scales add` of the same definition: the revision kept, nothing new
    toml = tmp_path / "phq9.toml"
    toml.write_text(read_redcap_dictionary(path).scales[0].toml, encoding="utf-8")
    added = runner.invoke(app, ["scales", "add", str(toml), "--db", url, "--user", "dag"])
    assert added.exit_code == 0, added.output
    assert "kept scale phq9 (Phq9), revision 1" in added.output
    # a protocol planning the kept scale checks against the database, not without it
    protocol = tmp_path / "mini_phq9.toml"
    protocol.write_text(
        MINI.replace(
            '    { scale = "madrs", rater = "independent_rater" },\n]',
            '    { scale = "madrs", rater = "independent_rater" },\n'
            '    { scale = "phq9", rater = "self_report" },\n]',
            1,
        ),
        encoding="utf-8",
    )
    assert "phq9" in protocol.read_text(encoding="utf-8")
    use_trial_scales({})
    checked = runner.invoke(app, ["protocol", "check", str(protocol), "--db", url])
    assert checked.exit_code == 0, checked.output
    use_trial_scales({})
    unchecked = runner.invoke(app, ["protocol", "check", str(protocol)])
    assert unchecked.exit_code == 2
    assert "phq9" in unchecked.output
