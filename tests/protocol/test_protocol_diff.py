"""Protocol diff: arms, visits, windows, doses, thresholds, endpoints, in words."""

from __future__ import annotations

from remit.protocol import diff_protocols, load_protocol, protocol_from_text


def test_oslo_to_rct_names_arm_third_session_and_every_moved_window() -> None:
    oslo, rct = load_protocol("oslo-mdma-mdd"), load_protocol("mdma-mdd-rct-example")
    diff = diff_protocols(oslo, rct)
    texts = [c.text for c in diff.changes]
    assert "arm PLACEBO (Placebo with the same therapy, ratio 1) added" in texts
    dosing_added = [c for c in diff.changes if c.topic == "dosing" and c.kind == "added"]
    assert len(dosing_added) == 1
    assert dosing_added[0].text.startswith("dosing session 3 at V13: 120 mg MDMA + 60 mg")
    assert "arm PLACEBO: 0 + 0 mg placebo" in dosing_added[0].text
    # every visit present in both whose window differs is named, with both windows
    moved = {
        v.code: (v.window, rct.visit(v.code).window)
        for v in oslo.visits
        if v.code in rct.visit_codes and rct.visit(v.code).window != v.window
    }
    assert set(moved) == {"V4", "V5", "V9", "V13", "V14", "FU7"}
    window_changes = {c.where.split(".")[1]: c.text for c in diff.of_topic("window")}
    assert set(window_changes) == set(moved)
    for code, (old, new) in moved.items():
        assert (
            f"{old[0]:+d}/{old[1]:+d} days to {new[0]:+d}/{new[1]:+d} days"
            in (window_changes[code])
        )
    assert "target of V13 moved from day 56 to day 28 after V9" in texts
    added_visits = [c.where for c in diff.of_topic("visit") if c.kind == "added"]
    assert added_visits == ["visits.V15", "visits.V16", "visits.V17", "visits.V18"]
    assert any(
        c.text.startswith("randomisation added: permuted block, ratio 1:1") for c in diff.changes
    )
    assert "dosing session 1: arm PLACEBO receives 0 + 0 mg placebo" in texts
    assert any(c.topic == "endpoint" and "madrs_change_v17" in c.text for c in diff.changes)


def test_identical_protocols() -> None:
    oslo = load_protocol("oslo-mdma-mdd")
    diff = diff_protocols(oslo, protocol_from_text(oslo.text + "\n# only a comment\n"))
    assert diff.identical
    assert diff.summary().endswith("have the same content")


def test_doses_thresholds_assessments_and_endpoints(mini: str) -> None:
    a = protocol_from_text(mini, "a.toml")
    text = (
        mini.replace("initial_mg = 80", "initial_mg = 100")
        .replace("supplemental_mg = 40", "supplemental_mg = 50")
        .replace("high = { urgent = 160 }", "high = { urgent = 150 }")
        .replace("min_reduction_pct", "min_reduction_pct")
        .replace('visits = ["END"]', 'visits = ["END"]\nmin_reduction_pct = 40')
        .replace(
            "window = [-3, 3]\n",
            'window = [-3, 3]\nassessments = [{ scale = "se_vas", rater = "self_report" }]\n',
        )
    )
    b = protocol_from_text(text, "b.toml")
    diff = diff_protocols(a, b)
    texts = [c.text for c in diff.changes]
    assert "dosing session 1: initial_mg changed from 80 to 100" in texts
    assert "dosing session 1: supplemental_mg changed from 40 to 50" in texts
    assert "vital-sign limits: systolic_bp urgent high limit changed from 160 to 150" in texts
    assert "D1: se_vas by self report added" in texts
    assert "endpoint resp: min_reduction_pct changed from 50 to 40" in texts
    assert {c.topic for c in diff.changes} == {"dose", "threshold", "assessment", "endpoint"}
    assert diff.to_dict()["a"] == "a.toml"
    assert list(diff.to_frame().columns) == ["kind", "topic", "where", "text"]
    assert diff.summary().startswith("5 changes from a.toml to b.toml:")


def test_a_changed_baseline_is_a_change() -> None:
    oslo = load_protocol("oslo-mdma-mdd")
    moved = protocol_from_text(oslo.text.replace('cssrs = "SCR"', 'cssrs = "V4"'), "b.toml")
    assert moved.baseline_visit("cssrs") == "V4"
    changes = diff_protocols(oslo, moved).changes
    assert [(c.topic, c.text) for c in changes] == [
        ("baseline", "baseline.cssrs changed from SCR to V4")
    ]
