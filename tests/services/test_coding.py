"""Medical coding: loading MedDRA / WHODrug in their distribution formats, autocoding, the
manual coding queue, recoding on a new version, refusals. The dictionaries are tiny made-up
test data (tests/support/coding_dictionaries.py), not MedDRA or WHODrug content."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support import coding_dictionaries as cd
from tests.support.db import assert_trail_agrees, count_all
from tests.support.trial import OsloTrial, enrolled, visit_date

from remit import services as sv
from remit.errors import InputError, PermissionDeniedError
from remit.services import coding
from remit.services.coding_files import read_meddra, read_whodrug, whodrug_format
from remit.store import audit_log


def _ae(oslo: OsloTrial, pid: str, term: str) -> int:
    return sv.record_adverse_event(
        oslo.engine,
        oslo.investigator,
        pid,
        term=term,
        onset_date=visit_date(oslo, pid, "V3"),
        severity="mild",
        relatedness="possible",
    ).id


def _cm(oslo: OsloTrial, pid: str, name: str) -> int:
    return sv.record_conmed(oslo.engine, oslo.investigator, pid, name=name).id


@pytest.fixture
def dictionaries(tmp_path: Path) -> tuple[Path, Path]:
    return cd.meddra_files(tmp_path / "meddra"), cd.whodrug_files(tmp_path / "whodrug")


def test_the_files_read_with_the_primary_path_and_preferred_names(
    dictionaries: tuple[Path, Path],
) -> None:
    meddra = read_meddra(dictionaries[0])
    assert (meddra.version, meddra.language, len(meddra.terms)) == ("99.0", "English", 7)
    head_pain = next(t for t in meddra.terms if t.llt_code == cd.LLT_HEAD_PAIN)
    assert (head_pain.pt_name, head_pain.hlt_code, head_pain.soc_name) == (
        "Headache",
        cd.HLT_HEAD,
        "Nervous system disorders",
    )
    assert not next(t for t in meddra.terms if t.llt_code == cd.LLT_OLD_NAUSEA).current
    drugs = read_whodrug(dictionaries[1], "TEST B3")
    trade = next(t for t in drugs.terms if t.drug_code == cd.DRUG_TRADE)
    assert (trade.preferred_name, trade.atc_code, trade.atc_text) == (
        "TESTOXETINE",
        "N06AB",
        "Selective serotonin reuptake inhibitors (test)",
    )


def test_load_autocode_exact_and_synonym_then_queue_and_manual_code(
    oslo: OsloTrial, dictionaries: tuple[Path, Path]
) -> None:
    e, dm = oslo.engine, oslo.data_manager
    pid = enrolled(oslo, "V3")
    before_load = _ae(oslo, pid, "Headache")  # no dictionary yet: queued
    assert [q.record_id for q in coding.coding_queue(e, dm, "ae")] == [before_load]
    with pytest.raises(PermissionDeniedError):
        coding.load_meddra(e, oslo.investigator, dictionaries[0])
    loaded = coding.load_meddra(e, dm, dictionaries[0])
    assert (loaded.kind, loaded.version, loaded.term_count) == ("meddra", "99.0", 7)
    coding.load_whodrug(e, dm, dictionaries[1], version="TEST B3 2099")

    result = coding.autocode(e, dm)
    assert (result.coded, result.queued) == (1, 0)
    exact = _ae(oslo, pid, "  headache ")
    synonym = _ae(oslo, pid, "FEELING  sick")
    stale = _ae(oslo, pid, "Nausea old term")  # a non-current LLT is never autocoded
    unknown = _ae(oslo, pid, "sore elbow")
    trade = _cm(oslo, pid, "calmatest")
    unmatched = _cm(oslo, pid, "grandma's tea")
    by_record = {(c.record_table, c.record_id): c for c in coding.codes(e, dm)}
    assert by_record[("adverse_event", exact)].method == "exact"
    assert by_record[("adverse_event", exact)].decod == "Headache"
    assert by_record[("adverse_event", synonym)].method == "synonym"
    assert by_record[("adverse_event", synonym)].values["pt_code"] == cd.PT_NAUSEA
    assert by_record[("concomitant_medication", trade)].decod == "TESTOXETINE"
    assert by_record[("concomitant_medication", trade)].method == "synonym"
    queue = {(q.record_table, q.record_id) for q in coding.coding_queue(e, dm)}
    assert queue == {
        ("adverse_event", stale),
        ("adverse_event", unknown),
        ("concomitant_medication", unmatched),
    }

    found = coding.search_terms(e, dm, "meddra", "elbow")
    assert found == []
    found = coding.search_terms(e, dm, "meddra", "head")
    assert {m.code for m in found} == {str(cd.LLT_HEAD_PAIN), str(cd.LLT_HEADACHE)}
    assert next(m.code for m in coding.search_terms(e, dm, "meddra", "HEADACHE")) == str(
        cd.LLT_HEADACHE
    )  # the exact name first
    with pytest.raises(InputError, match="not a current entry"):
        coding.assign_code(e, dm, "ae", stale, str(cd.LLT_OLD_NAUSEA))
    with pytest.raises(PermissionDeniedError):
        coding.assign_code(e, oslo.investigator, "ae", unknown, str(cd.LLT_HEAD_PAIN))
    rows = count_all(e)
    manual = coding.assign_code(e, dm, "ae", unknown, str(cd.LLT_HEAD_PAIN))
    assert (manual.method, manual.decod, manual.participant_id) == ("manual", "Headache", pid)
    assert count_all(e)["coded_term"] == rows["coded_term"] + 1
    with pytest.raises(InputError, match="reason"):
        coding.assign_code(e, dm, "ae", unknown, str(cd.LLT_HEADACHE))
    coding.assign_code(e, dm, "ae", unknown, str(cd.LLT_HEADACHE), reason="verbatim checked")
    trail = audit_log(e, table="coded_term", record_id=_code_id(e, unknown))
    assert {(t.username, t.role) for t in trail} == {("dag", "data_manager")}
    changed = {t.field: (t.old_value, t.new_value, t.reason) for t in trail if t.action != "insert"}
    assert changed["code"] == (str(cd.LLT_HEAD_PAIN), str(cd.LLT_HEADACHE), "verbatim checked")
    assert_trail_agrees(e)


def _code_id(engine: object, ae_id: int) -> int:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from remit.store.coding import CodedTerm

    with Session(engine) as session:  # type: ignore[call-overload]
        return int(
            session.scalar(
                select(CodedTerm.id).where(
                    CodedTerm.record_table == "adverse_event", CodedTerm.record_id == ae_id
                )
            )
        )


def test_a_new_version_recodes_and_a_renamed_medication_is_recoded(
    oslo: OsloTrial, dictionaries: tuple[Path, Path], tmp_path: Path
) -> None:
    e, dm = oslo.engine, oslo.data_manager
    coding.load_meddra(e, dm, dictionaries[0])
    coding.load_whodrug(e, dm, dictionaries[1], version="TEST B3 2099")
    pid = enrolled(oslo, "V3")
    sleepless = _ae(oslo, pid, "Sleeplessness")
    head = _ae(oslo, pid, "head pain")
    with pytest.raises(InputError, match="already loaded"):
        coding.load_meddra(e, dm, dictionaries[0])
    # version 99.1: "Sleeplessness" is no longer current
    newer = cd.meddra_files(tmp_path / "meddra-99.1", version="99.1")
    llt = (newer / "llt.asc").read_text()
    (newer / "llt.asc").write_text(
        llt.replace(
            f"{cd.LLT_SLEEPLESSNESS}$Sleeplessness${cd.PT_INSOMNIA}$$$$$$$Y$",
            f"{cd.LLT_SLEEPLESSNESS}$Sleeplessness${cd.PT_INSOMNIA}$$$$$$$N$",
        )
    )
    coding.load_meddra(e, dm, newer)
    result = coding.autocode(e, dm)
    assert (result.recoded, result.uncoded_again) == (1, 1)
    assert [q.record_id for q in coding.coding_queue(e, dm, "ae")] == [sleepless]
    (code,) = coding.codes(e, dm, "ae")
    assert (code.record_id, code.dictionary) == (head, "meddra 99.1")
    # a medication renamed: its code follows the new name
    med = _cm(oslo, pid, "Calmatest")
    assert coding.codes(e, dm, "cm")[0].decod == "TESTOXETINE"
    sv.edit_conmed(e, oslo.investigator, med, reason="wrong drug noted", name="sleepamide")
    assert coding.codes(e, dm, "cm")[0].decod == "SLEEPAMIDE"
    sv.edit_conmed(e, oslo.investigator, med, reason="herbal after all", name="chamomile")
    assert coding.codes(e, dm, "cm") == []
    assert [q.verbatim for q in coding.coding_queue(e, dm, "cm")] == ["chamomile"]
    assert_trail_agrees(e)


@pytest.mark.parametrize(
    ("file", "broken", "message"),
    [
        ("llt.asc", lambda t: t.replace("Head pain$", "Head pain", 1), r"llt.asc line 2"),
        ("mdhier.asc", lambda t: t.replace("$Y$\n", "$X$\n", 1), r"mdhier.asc line 1"),
        ("pt.asc", lambda t: "x" + t, r"pt.asc line 1: pt_code"),
        ("llt.asc", lambda t: t + "94000099$Orphan$93999999$$$$$$$Y$$\n", r"llt.asc line 8"),
    ],
)
def test_a_broken_meddra_file_is_refused_naming_the_line(
    oslo: OsloTrial, tmp_path: Path, file: str, broken: object, message: str
) -> None:
    folder = cd.meddra_files(tmp_path / "m")
    path = folder / file
    path.write_text(broken(path.read_text()))  # type: ignore[operator]
    before = count_all(oslo.engine)
    with pytest.raises(InputError, match=message):
        coding.load_meddra(oslo.engine, oslo.data_manager, folder)
    assert count_all(oslo.engine) == before


def test_a_broken_whodrug_file_is_refused_naming_the_line(tmp_path: Path) -> None:
    folder = cd.whodrug_files(tmp_path / "w")
    dd = folder / "DD.txt"
    dd.write_text(dd.read_text() + "9000x301001 broken\n")
    with pytest.raises(InputError, match=r"DD\.txt line 5"):
        read_whodrug(folder, "TEST")
    folder = cd.whodrug_files(tmp_path / "w2")
    (folder / "DDA.txt").write_text("90000101001012345\n")
    with pytest.raises(InputError, match=r"DDA\.txt line 1"):
        read_whodrug(folder, "TEST")
    (folder / "DDA.txt").unlink()
    with pytest.raises(InputError, match=r"has no DDA\.txt"):
        read_whodrug(folder, "TEST")


def test_a_c3_release_reads_as_the_same_b3_release(tmp_path: Path) -> None:
    b3 = read_whodrug(cd.whodrug_files(tmp_path / "b3"), "TEST")
    c3 = read_whodrug(cd.whodrug_c3_files(tmp_path / "c3"), "TEST C3")
    assert whodrug_format(tmp_path / "c3") == "C3"
    assert whodrug_format(tmp_path / "b3") == "B3"
    # the trade name is marketed twice (two products), one drug code: one term
    assert sorted(c3.terms, key=lambda t: t.drug_code) == sorted(
        b3.terms, key=lambda t: t.drug_code
    )
    preferred = next(t for t in c3.terms if t.drug_code == cd.DRUG_PREFERRED)
    assert preferred.atc_code == "N06AB"  # the official ATC code, not the first listed
    salt = next(t for t in c3.terms if t.drug_code == cd.DRUG_SALT)
    assert (salt.preferred_name, salt.atc_code) == ("TESTOXETINE", "N06AB")


@pytest.mark.parametrize(
    ("file", "broken", "message"),
    [
        ("MP.txt", lambda t: t + "         6" + " " * 35 + "90000X01001\n",
         r"MP\.txt line 6: drug code '90000X01001' is not 11 digits"),
        ("MP.txt", lambda t: t + "         6" + " " * 35 + "90000301001" + "0" * 20 + "N\n",
         r"MP\.txt line 6: no drug name"),
        ("MP.txt", lambda t: t.replace("Calmatest", "Calmatast", 2).replace(
            "Calmatast", "Calmatest", 1),
         r"MP\.txt line 3: drug code 90000101002 is named 'Calmatast' here and 'Calmatest' "
         r"on line 2"),
        ("ThG.txt", lambda t: t + "        14N06AB     20240301Y        99\n",
         r"ThG\.txt line 4: medicinal product ID '99' is not in MP\.txt"),
        ("ThG.txt", lambda t: t + "        14N06AB     20240301?         1\n",
         r"ThG\.txt line 4: official ATC flag '\?' is not Y or N"),
        ("ATC.txt", lambda t: "n06ab     4lower case\n" + t, r"ATC\.txt line 1: no ATC code"),
    ],
    ids=["drug-code", "no-name", "two-names", "unknown-product", "official-flag", "atc-text"],
)  # fmt: skip
def test_a_malformed_c3_line_is_refused_naming_file_and_line(
    tmp_path: Path, file: str, broken: Callable[[str], str], message: str
) -> None:
    folder = cd.whodrug_c3_files(tmp_path / "c3")
    path = folder / file
    path.write_text(broken(path.read_text()))
    with pytest.raises(InputError, match=message):
        read_whodrug(folder, "TEST C3")


def test_a_folder_with_both_formats_or_neither_is_refused(tmp_path: Path) -> None:
    folder = cd.whodrug_c3_files(tmp_path / "w")
    cd.whodrug_files(folder)
    with pytest.raises(InputError, match=r"holds both DD\.txt \(B3\) and MP\.txt \(C3\)"):
        read_whodrug(folder, "TEST")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"has no DD\.txt \(B3\) and no MP\.txt \(C3\)"):
        read_whodrug(empty, "TEST")


def test_a_c3_release_loads_and_codes_a_medication(oslo: OsloTrial, tmp_path: Path) -> None:
    folder = cd.whodrug_c3_files(tmp_path / "c3")
    record = coding.load_whodrug(oslo.engine, oslo.data_manager, folder, version="TEST C3")
    assert (record.kind, record.version, record.term_count) == ("whodrug", "TEST C3", 4)
    pid = enrolled(oslo, "V3")
    trade = _cm(oslo, pid, "CALMATEST")
    [code] = [
        c
        for c in coding.codes(oslo.engine, oslo.data_manager)
        if c.record_table == "concomitant_medication" and c.record_id == trade
    ]
    assert (code.decod, code.method) == ("TESTOXETINE", "synonym")
