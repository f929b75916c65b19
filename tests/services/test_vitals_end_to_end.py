"""A protocol that sets limits on respiratory rate and oxygen saturation records and checks them
end to end: the service, the web form, the alert, the report's vitals table and figure, SDTM VS.

The protocol is the Oslo protocol with limits on two more signs in its safety table, read in
each dosing session (its text edited here), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine, select
from tests.support.forms import at
from tests.support.predose import ready_for_dose
from tests.support.trial import PASSWORD, OsloTrial, build_trial, enrolled, visit_date

from remit import services as sv
from remit.analysis import SafetySectionResult, run_analysis_plan
from remit.interop import export_trial
from remit.interop.sdtm import build_sdtm
from remit.protocol import load_protocol, protocol_from_text
from remit.reports.figures.vitals import vitals_figure
from remit.reports.tables import vitals_table
from remit.store import unit_of_work
from remit.store.vitals import VitalSignValue
from remit.web import WebSettings, create_app

#: Added to the ``[safety.vitals]`` limits of the Oslo protocol.
EXTRA = """[safety.vitals.limits.respiratory_rate]
high = { urgent = 24 }

[safety.vitals.limits.oxygen_saturation]
low = { urgent = 92 }
unit = "%"

"""
SIGNS = 'signs = ["systolic_bp", "diastolic_bp", "heart_rate", "temperature"]'
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
NORMAL = {"systolic_bp": 128, "diastolic_bp": 82, "heart_rate": 76, "temperature": 36.9}


@pytest.fixture
def trial(engine: Engine) -> OsloTrial:
    text = load_protocol("oslo-mdma-mdd").text
    assert text.count(SIGNS) == 2
    text = text.replace(SIGNS, SIGNS[:-1] + ', "respiratory_rate", "oxygen_saturation"]')
    text = text.replace("[safety.missed]\n", EXTRA + "[safety.missed]\n")
    return build_trial(engine, protocol=protocol_from_text(text))


def _web_post_vitals(trial: OsloTrial, tmp_path: Path, pid: str, values: dict[str, str]) -> str:
    """Log in as the therapist, fill the dosing-day vitals form; return the page after it."""
    app = create_app(
        trial.engine, secret_key="test", settings=WebSettings(work_dir=tmp_path / "work")
    )
    client = TestClient(app, follow_redirects=True)
    login = client.get("/login").text
    token = login.split('name="login_token" value="', 1)[1].split('"', 1)[0]
    client.post(
        "/login",
        data={"username": "tor", "password": PASSWORD, "login_token": token, "next": "/"},
    )
    page = client.get(f"/participants/{pid}/dosing/V5").text
    # the form has a field per sign the session reads, with its unit and limits
    assert '<label for="respiratory_rate">Respiratory rate (/min)</label>' in page
    assert '<label for="oxygen_saturation">Oxygen saturation (%)</label>' in page
    assert 'name="oxygen_saturation" inputmode="numeric" data-high="" data-low="92' in page
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    posted = client.post(
        f"/participants/{pid}/dosing/V5/vitals", data={"csrf_token": csrf, **values}
    )
    assert posted.status_code == 200, posted.text
    return posted.text


def test_respiratory_rate_and_oxygen_saturation_end_to_end(
    trial: OsloTrial, tmp_path: Path
) -> None:
    e, the, inv = trial.engine, trial.therapist, trial.investigator
    pid = enrolled(trial, confirm=True)
    day = visit_date(trial, pid, "V5")
    sv.start_dosing_session(e, inv, pid, "V5", started_at=at(day, 8))
    ready_for_dose(e, trial.protocol, inv, trial.therapist, pid, "V5", at(day, 8, 55))
    sv.record_dose(e, inv, pid, "V5", kind="initial", dose_mg=80, given_at=at(day, 9))

    # the service: within the limits, every sign is checked
    within = NORMAL | {"respiratory_rate": 18, "oxygen_saturation": 97}
    quiet = sv.record_vitals(e, the, pid, "V5", measured_at=at(day, 9, 30), values=within)
    assert quiet.values == within
    assert (quiet.alerts, quiet.not_evaluated) == ((), ())
    # beyond a high and a low limit: ONE alert for the reading, the worst sign first
    beyond = NORMAL | {"respiratory_rate": 28, "oxygen_saturation": 90}
    raised = sv.record_vitals(e, the, pid, "V5", measured_at=at(day, 10), values=beyond)
    ((alert,),) = (raised.alerts,)
    assert (alert.rule_id, alert.level) == ("vitals:respiratory_rate:high:urgent", "urgent")
    assert "also oxygen_saturation 90 % below the urgent limit 92" in alert.message
    # a signature on the reading covers its values, which are rows of their own
    sv.sign(e, inv, "vital_sign", raised.id, password=PASSWORD, meaning="approved")
    assert [ok for _, ok in sv.signatures_of(e, inv, "vital_sign", raised.id)] == [True]
    with unit_of_work(e, inv, reason="typed 90 for 91") as uow:
        value = uow.session.scalars(
            select(VitalSignValue).where(
                VitalSignValue.vital_sign_id == raised.id,
                VitalSignValue.sign == "oxygen_saturation",
            )
        ).one()
        value.value = 91.0
    assert [ok for _, ok in sv.signatures_of(e, inv, "vital_sign", raised.id)] == [False]
    with unit_of_work(e, inv, reason="91 was wrong: source says 90") as uow:
        uow.session.get_one(VitalSignValue, value.id).value = 90.0

    # the web form: a low saturation entered on the dosing-day page
    form = {k: str(v) for k, v in NORMAL.items()}
    # the page reads the time in the site's zone: 11:30 in Oslo in winter (CET) is 10:30 UTC
    assert day < date(day.year, 3, 25), day  # before the clocks go forward
    form |= {"measured_at": f"{day}T11:30", "respiratory_rate": "20", "oxygen_saturation": "89"}
    page = _web_post_vitals(trial, tmp_path, pid, form)
    assert '<td class="beyond">89 <strong>beyond threshold</strong></td>' in page
    assert "<td>20</td>" in page
    alerts = sv.list_alerts(e, inv, participant=pid)
    assert sorted(a.rule_id for a in alerts) == [
        "vitals:oxygen_saturation:low:urgent",
        "vitals:respiratory_rate:high:urgent",
    ]

    # the report: the vitals table and the figure's data carry both signs and their limits
    data = sv.build_trial_data(e, actor=trial.statistician)
    assert list(data.vitals["oxygen_saturation"]) == [98, 97, 90, 89]  # 98: pre-dose
    plan = trial.protocol.analysis
    safety_only = trial.protocol.model_copy(
        update={
            "analysis": plan.model_copy(
                update={"analyses": tuple(a for a in plan.analyses if a.kind == "safety")}
            )
        }
    )
    (safety,) = run_analysis_plan(data, safety_only).sections_of("safety")
    assert isinstance(safety, SafetySectionResult)
    table = vitals_table(safety)
    assert table is not None
    rows = {row[1]: row for row in table.rows if len(row) > 1}
    assert rows["Respiratory rate (/min)"][4:7] == ("28", "14", "> 24")
    assert rows["Oxygen saturation (%)"][4:7] == ("98", "89", "< 92")
    assert rows["Oxygen saturation (%)"][7] == f"1 ({pid})"
    sessions = [(d.number, d.visit) for d in trial.protocol.dosing]
    limits = {d.number: trial.protocol.vital_thresholds(d.visit) for d in trial.protocol.dosing}
    figure = vitals_figure(data.vitals, sessions, limits)
    assert "Respiratory rate" in figure.svg
    assert "Oxygen saturation" in figure.svg
    assert "92 %" in figure.svg  # the low limit drawn

    # SDTM VS: one record per sign read, with the CDISC test codes and units
    vs = build_sdtm(data, trial.protocol)["VS"].frame
    found = vs[vs["VSTESTCD"].isin(["RESP", "OXYSAT"])]
    assert sorted(zip(found["VSTESTCD"], found["VSORRES"], found["VSORRESU"], strict=True)) == [
        ("OXYSAT", "89", "%"),
        ("OXYSAT", "90", "%"),
        ("OXYSAT", "97", "%"),
        ("OXYSAT", "98", "%"),
        ("RESP", "14", "breaths/min"),
        ("RESP", "18", "breaths/min"),
        ("RESP", "20", "breaths/min"),
        ("RESP", "28", "breaths/min"),
    ]
    assert set(found["VSTEST"]) == {"Respiratory Rate", "Oxygen Saturation"}
    assert set(found["VSTPT"]) == {
        "PRE-DOSE",
        "30 MIN POST-DOSE",
        "60 MIN POST-DOSE",
        "90 MIN POST-DOSE",
    }

    # ODM: the items of the VITALS form, in the snapshot and as audited inserts
    odm = export_trial(e, tmp_path / "exports", formats=("odm",)).out_dir / "odm"

    def items(variant: str, code: str) -> list[str]:
        doc = etree.parse(str(odm / f"odm_{variant}.xml"))
        found = doc.xpath(f"//odm:ItemData[@ItemOID='IT.VITALS.{code}']/@Value", namespaces=NS)
        return sorted(str(v) for v in found)

    assert items("snapshot", "OXYSAT") == ["89", "90", "97", "98"]
    # the trail: four inserts (the checklist's pre-dose reading too), the correction to 91
    # and back to 90
    assert items("transactional", "OXYSAT") == ["89", "90", "90", "91", "97", "98"]
    assert items("snapshot", "RESP") == items("transactional", "RESP") == ["14", "18", "20", "28"]
