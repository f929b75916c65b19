"""A scale imported from a REDCap dictionary into a user scale directory is usable by a trial at
once: a protocol that schedules it and carries its item-level safety rules is created, a form
is recorded through the services, scored with its bands and raises the alert of its rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.interop.test_redcap_phq9 import ANSWERS, dictionary, phq9_rows
from tests.support.trial import build_trial, enrolled

import remit.services as sv
from remit.interop.redcap import read_redcap_dictionary
from remit.protocol.loader import protocol_from_text
from remit.services import Engine

OSLO = (
    Path(__file__).parents[2] / "src" / "remit" / "protocol" / "protocols" / "oslo-mdma-mdd.toml"
).read_text(encoding="utf-8")
V4_FORMS = '    { scale = "cssrs", version = "since_last_visit", rater = "investigator" },\n]'


def test_user_scale_form_scored_and_its_rule_fires(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_password_hashing: None
) -> None:
    source = tmp_path / "phq9.csv"
    source.write_text(dictionary(phq9_rows()), encoding="utf-8")
    scales = tmp_path / "scales"
    result = read_redcap_dictionary(source)
    result.write(scales)
    monkeypatch.setenv("REMIT_SCALES_PATH", str(scales))
    at = OSLO.index('code = "V4"')
    head, tail = OSLO[:at], OSLO[at:]
    assert tail.index(V4_FORMS) < tail.index("[[visits]]")
    text = head + tail.replace(
        V4_FORMS,
        V4_FORMS.removesuffix("]") + '    { scale = "phq9", rater = "self_report" },\n]',
        1,
    )
    rules = (scales / "safety_rules" / "phq9.toml").read_text(encoding="utf-8")
    text = text.replace("\n[[safety.rules]]", "\n" + rules + "\n[[safety.rules]]", 1)
    protocol = protocol_from_text(text)
    assert any(r.scale == "phq9" for r in protocol.safety.rules)
    trial = build_trial(engine, protocol=protocol)
    pid = enrolled(trial, through="V4")
    calm = sv.record_assessment(engine, trial.investigator, pid, "V4", "phq9", ANSWERS)
    assert (calm.total, calm.band, calm.complete) == (11, "moderate", True)
    assert [a.rule_id for a in calm.alerts] == ["phq9_phq9_9_review"]
    alerts = sv.list_alerts(engine, trial.investigator, participant=pid)
    assert [a.rule_id for a in alerts] == ["phq9_phq9_9_review"]


def test_kept_scale_form_scored_and_its_rule_fires_without_the_path(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_password_hashing: None
) -> None:
    """The same with the scale kept in the trial database (``remit scales add``) instead of a
    REMIT_SCALES_PATH directory: the protocol naming it is checked against the database, and
    the form is scored with the kept definition, which cannot change afterwards."""
    from remit.errors import ScaleError
    from remit.scales import use_trial_scales
    from remit.store import Actor

    monkeypatch.delenv("REMIT_SCALES_PATH", raising=False)
    source = tmp_path / "phq9.csv"
    source.write_text(dictionary(phq9_rows()), encoding="utf-8")
    [scale] = read_redcap_dictionary(source).scales
    sv.add_scale(engine, Actor.system("tests"), scale.toml, source="phq9.csv")
    at = OSLO.index('code = "V4"')
    head, tail = OSLO[:at], OSLO[at:]
    text = head + tail.replace(
        V4_FORMS,
        V4_FORMS.removesuffix("]") + '    { scale = "phq9", rater = "self_report" },\n]',
        1,
    )
    out = tmp_path / "out"  # the rows the REDCap import writes for the protocol file
    read_redcap_dictionary(source).write(out)
    rules = (out / "safety_rules" / "phq9.toml").read_text(encoding="utf-8")
    text = text.replace("\n[[safety.rules]]", "\n" + rules + "\n[[safety.rules]]", 1)
    protocol = protocol_from_text(text)
    trial = build_trial(engine, protocol=protocol)
    pid = enrolled(trial, through="V4")
    use_trial_scales({})  # only the database knows phq9: the services install it
    calm = sv.record_assessment(engine, trial.investigator, pid, "V4", "phq9", ANSWERS)
    assert (calm.total, calm.band, calm.complete) == (11, "moderate", True)
    assert [a.rule_id for a in calm.alerts] == ["phq9_phq9_9_review"]
    changed = scale.toml.replace('name = "Phq9"', 'name = "PHQ-9 (site wording)"')
    with pytest.raises(ScaleError, match=r"is used by 1 form"):
        sv.add_scale(engine, trial.data_manager, changed, source="phq9_v2.toml")
