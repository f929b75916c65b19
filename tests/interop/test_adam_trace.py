"""ADaM tied to SDTM (issue 15): ADY counted like QSDY, every ADQS record traced to its QS/RS
record, ADSL's actual arm (masked for a blinded reader), and the refusals of a build that could
not keep those promises. The rules themselves are in :mod:`tests.interop.test_conformance`;
here they run on the simulated demo trial and on the clinical-classification (RS) layout."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree
from tests.interop.test_conformance import (
    NS,
    Package,
    rule_adam_days_like_sdtm,
    rule_adam_traceable,
    rule_adsl_actual_arm,
    rule_ady_is_the_source_dy,
    rule_base_from_a_baseline_record,
    rule_paramcd_param_one_to_one,
    rule_predecessors_copy,
)

from remit.analysis import TrialData
from remit.errors import InputError
from remit.interop import adam, codes
from remit.interop.adam import build_adam, build_adam_adqs
from remit.interop.define_xml import DefineStudy, define_xml
from remit.interop.sdtm import SdtmSettings, build_sdtm
from remit.interop.sdtm.base import Context
from remit.protocol import Protocol
from remit.services import Actor, build_trial_data, trial_protocol
from remit.services.blinding import BLINDED
from remit.store import make_engine


def _load(path: Path) -> tuple[TrialData, Protocol]:
    engine = make_engine(path)
    try:
        return build_trial_data(engine, actor=Actor.system("tests")), trial_protocol(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def demo(simulated_missing_v13: Path) -> tuple[TrialData, Protocol]:
    """The simulated demo trial (four enrolled, two screen failures, a missed V13)."""
    return _load(simulated_missing_v13)


@pytest.fixture(scope="module")
def small(trial_db: Path) -> tuple[TrialData, Protocol]:
    return _load(trial_db)


def _package(data: TrialData, protocol: Protocol, settings: SdtmSettings) -> Package:
    return {**build_sdtm(data, protocol, settings), **build_adam(data, protocol, settings)}


def test_ady_equals_qsdy_on_the_demo_trial(demo: tuple[TrialData, Protocol]) -> None:
    pkg = _package(*demo, SdtmSettings())
    adqs, qs = pkg["ADQS"].frame, pkg["QS"].frame
    joined = adqs.merge(
        qs,
        left_on=["USUBJID", "SRCSEQ"],
        right_on=["USUBJID", "QSSEQ"],
        how="left",
        validate="one_to_one",
        indicator=True,
    )
    assert (joined["_merge"] == "both").all()
    assert set(joined["SRCDOM"]) == {"QS"}
    # a subject never dosed has no TRTSDT (no RFSTDTC): no study day on either side
    undosed = set(pkg["ADSL"].frame.loc[pkg["ADSL"].frame["TRTSDT"].isna(), "USUBJID"])
    assert joined["ADY"].isna().tolist() == joined["USUBJID"].isin(undosed).tolist()
    assert joined["QSDY"].isna().tolist() == joined["ADY"].isna().tolist()
    dated = joined[joined["ADY"].notna()]
    assert len(dated) > 1000
    assert (dated["ADY"] != 0).all()
    assert dated["ADY"].astype(int).tolist() == dated["QSDY"].astype(int).tolist()
    assert (joined["PARAMCD"] == joined["QSTESTCD"]).all()
    totals = joined[joined["PARAMCD"] == "MADRTOT"]
    # every MADRS total the demo recorded, baseline to follow-up
    scores = demo[0].scores
    assert len(totals) == ((scores["scale"] == "madrs") & scores["total"].notna()).sum() > 0
    assert (totals["AVAL"] == totals["QSSTRESN"]).all()
    # the days before the first dose are negative, the dosing day is day 1
    assert (totals["ADY"] < 0).any()
    assert (totals["ADY"] > 0).any()
    for rule in (
        rule_adam_days_like_sdtm,
        rule_adam_traceable,
        rule_ady_is_the_source_dy,
        rule_base_from_a_baseline_record,
        rule_paramcd_param_one_to_one,
        rule_adsl_actual_arm,
        rule_predecessors_copy,
    ):
        assert rule(pkg) == [], rule.__name__


def test_clinician_scales_trace_to_rs(small: tuple[TrialData, Protocol]) -> None:
    pkg = _package(*small, SdtmSettings(clinician_domain="RS"))
    adqs = pkg["ADQS"].frame
    madrs = adqs[adqs["PARCAT2"] == "MADRS"]
    assert len(madrs)
    assert set(madrs["SRCDOM"]) == {"RS"}
    assert set(madrs["SRCVAR"]) <= {"RSSTRESN", "RSSTRESC"}
    assert set(adqs.loc[adqs["PARCAT2"] == "BDI2", "SRCDOM"]) == {"QS"}
    assert rule_adam_traceable(pkg) == []
    assert rule_ady_is_the_source_dy(pkg) == []


def test_yes_no_results_trace_to_stresc(small: tuple[TrialData, Protocol]) -> None:
    pkg = _package(*small, SdtmSettings())
    adqs = pkg["ADQS"].frame
    yes_no = adqs[adqs["SRCVAR"] == "QSSTRESC"]
    assert len(yes_no) > 0
    assert set(yes_no["AVAL"]) <= {0.0, 1.0}


def test_adsl_actual_arm_of_the_open_label_trial(small: tuple[TrialData, Protocol]) -> None:
    data, protocol = small
    adsl = build_adam(data, protocol)["ADSL"].frame.set_index("SUBJID")
    dm = build_sdtm(data, protocol)["DM"].frame.set_index("SUBJID")
    for pid, r in adsl.iterrows():
        if r["SAFFL"] == "Y":
            assert r["ACTARMCD"] == r["ARMCD"] == r["TRT01A"] == r["TRT01P"]
            assert r["ACTARM"] == r["ARM"]
            assert pd.isna(r["ARMNRS"])
        else:
            assert pd.isna(r["ACTARMCD"])
            assert pd.isna(r["ACTARM"])
            assert pd.isna(r["TRT01A"])
            expected = "ASSIGNED, NOT TREATED" if not pd.isna(r["ARMCD"]) else dm.at[pid, "ARMNRS"]
            assert r["ARMNRS"] == expected
        for col in ("ARMCD", "ARM", "ACTARMCD", "ACTARM", "ARMNRS"):
            assert str(r[col]) == str(dm.at[pid, col])


def test_assigned_but_never_dosed_says_why(small: tuple[TrialData, Protocol]) -> None:
    data, protocol = small
    dosed = data.doses[data.doses["status"] == "given"]["participant_id"].iloc[0]
    undosed = replace(data, doses=data.doses[data.doses["participant_id"] != dosed])
    adsl = build_adam(undosed, protocol)["ADSL"].frame.set_index("SUBJID")
    row = adsl.loc[dosed]
    assert row["SAFFL"] == "N"
    assert pd.isna(row["ACTARM"])
    assert pd.isna(row["TRT01A"])
    assert pd.isna(row["TRTSDT"])
    assert row["ARMNRS"] == "ASSIGNED, NOT TREATED"
    assert not pd.isna(row["ARM"])


def test_blinded_data_mask_the_actual_arm(small: tuple[TrialData, Protocol]) -> None:
    data, protocol = small
    people = data.participants.copy()
    # what remit.services.blinding.mask_trial_frames gives a blinded role
    people["arm"] = [BLINDED if isinstance(a, str) and a else None for a in people["arm"]]
    masked = replace(data, participants=people)
    adam = build_adam(masked, protocol)
    adsl = adam["ADSL"].frame
    arms = {a.code for a in protocol.arms} | {a.label for a in protocol.arms}
    for col in ("ARMCD", "ARM", "ACTARMCD", "ACTARM", "TRT01P", "TRT01A"):
        shown = {x for x in adsl[col] if isinstance(x, str)}
        assert shown <= {BLINDED}, col
        assert not shown & arms
    assert (adsl.loc[adsl["SAFFL"] == "Y", "ACTARM"] == BLINDED).all()
    assert set(adam["ADQS"].frame["TRT01P"].dropna()) <= {BLINDED}


def test_a_value_without_its_source_record_is_refused(small: tuple[TrialData, Protocol]) -> None:
    data, protocol = small
    # the SDTM side built from other scores than the analysis: a record would lose its trace
    scores = data.scores
    ctx = Context(replace(data, scores=scores.iloc[1:].reset_index(drop=True)), protocol)
    with pytest.raises(InputError, match="no QS record") as caught:
        build_adam_adqs(data, protocol, ctx)
    assert "export again" in str(caught.value.hint)


def test_a_paramcd_naming_two_parameters_is_refused(
    small: tuple[TrialData, Protocol], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, protocol = small
    real = adam.code_for

    def clashing(scale: str, part: str, key: str) -> codes.TestCode:
        # two parts of a scale under one code, as two scales sharing a four-letter prefix would
        code = real(scale, part, key)
        return replace(code, code="MADRTOT") if scale == "madrs" else code

    monkeypatch.setattr(adam, "code_for", clashing)
    with pytest.raises(InputError, match="PARAMCD MADRTOT names both") as caught:
        build_adam(data, protocol)
    assert caught.value.expected == "one PARAM for each PARAMCD"


def test_define_gives_origins_of_the_new_variables(small: tuple[TrialData, Protocol]) -> None:
    adam = build_adam(*small)
    doc = etree.fromstring(
        define_xml(adam, "ADaM", DefineStudy("S", "T", "1", datetime(2024, 1, 1, tzinfo=UTC)))
    )

    def origin(oid: str) -> etree._Element:
        found = doc.find(f".//o:ItemDef[@OID='{oid}']/def:Origin", NS)
        assert found is not None, oid
        return found

    for name in ("ARMCD", "ARM", "ACTARMCD", "ACTARM", "ARMNRS"):
        el = origin(f"IT.ADSL.{name}")
        assert el.get("Type") == "Predecessor"
        assert el.findtext("o:Description/o:TranslatedText", namespaces=NS) == f"DM.{name}"
    methods = {
        m.get("OID"): m.findtext("o:Description/o:TranslatedText", namespaces=NS)
        for m in doc.iterfind(".//o:MethodDef", NS)
    }
    for name in ("SRCDOM", "SRCVAR", "SRCSEQ", "ADY"):
        assert origin(f"IT.ADQS.{name}").get("Type") == "Derived"
        ref = doc.find(
            f".//o:ItemGroupDef[@OID='IG.ADQS']/o:ItemRef[@ItemOID='IT.ADQS.{name}']", NS
        )
        assert ref is not None
        assert ref.get("MethodOID") in methods
    assert "TRTSDT" in methods["MT.ADQS.ADY"]
    assert "no day 0" in methods["MT.ADQS.ADY"]
    assert "ACTARMCD" in methods["MT.ADSL.TRT01A"]
    # the source domains and variables are listed: a reviewer sees where ADQS comes from
    for name, values in (("SRCDOM", {"QS"}), ("SRCVAR", {"QSSTRESN", "QSSTRESC"})):
        ref = doc.find(f".//o:ItemDef[@OID='IT.ADQS.{name}']/o:CodeListRef", NS)
        assert ref is not None
        listed = doc.find(f".//o:CodeList[@OID='{ref.get('CodeListOID')}']", NS)
        assert listed is not None
        assert {i.get("CodedValue") for i in listed.iterfind("o:EnumeratedItem", NS)} == values


def test_a_param_under_two_codes_is_refused(
    small: tuple[TrialData, Protocol], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, protocol = small
    real = adam.code_for

    def same_label(scale: str, part: str, key: str) -> codes.TestCode:
        code = real(scale, part, key)
        return replace(code, label="Same words") if (scale, part) == ("madrs", "items") else code

    monkeypatch.setattr(adam, "code_for", same_label)
    with pytest.raises(InputError, match="PARAM 'MADRS Same words' has both PARAMCD"):
        build_adam(data, protocol)
