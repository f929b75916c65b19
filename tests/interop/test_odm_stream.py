"""The ODM files are streamed (one subject or audit record held at a time) and come out byte
for byte as the whole-tree writer printed them: on the small simulated trial, with and without
a date shift, and on hand-made edge cases (an empty container, no clinical data at all, text
over several lines)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import Engine

from remit import services as sv
from remit.interop import DateShift
from remit.interop.dateshift import shift_trial_data
from remit.interop.odm import (
    CLINICAL_TABLES,
    snapshot_odm,
    stream,
    transactional_odm,
    write_odm_files,
)
from remit.interop.odm.audit import audit_record, audit_record_text
from remit.interop.odm.base import _N, ODM_NS, PlainElement, el
from remit.interop.odm.metadata import protocol_scales

CREATED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def _tree_bytes(root: Any) -> bytes:
    """What the former writer did: the whole tree, pretty printed."""
    out = etree.tostring(
        etree.ElementTree(root), xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
    return bytes(out)


@pytest.mark.parametrize("shifted", [False, True])
def test_the_streamed_files_equal_the_tree_writer_on_a_simulated_trial(
    trial_engine: Engine, tmp_path: Path, shifted: bool
) -> None:
    protocol = sv.trial_protocol(trial_engine)
    data = sv.build_trial_data(trial_engine, actor=sv.Actor.system("test"))
    shift = DateShift(days={"OSL-001": 10, "OSL-002": -3, "OSL-003": 5}) if shifted else None
    if shift is not None:
        data = shift_trial_data(data, shift)
    paths = write_odm_files(
        trial_engine, protocol, tmp_path, data=data, date_shift=shift, created_at=CREATED
    )
    trail = sv.audit_log(trial_engine)
    entries = [e for e in trail if e.table_name in CLINICAL_TABLES or e.table_name == "site"]
    with_consent = [e for e in trail if e.table_name in (*CLINICAL_TABLES, "site", "consent")]
    scales = protocol_scales(protocol, data)
    participants = set(data.participants["participant_id"].astype(str))
    snapshot = snapshot_odm(data, with_consent, protocol, scales, CREATED, shift, trail=trail)
    transactional = transactional_odm(
        entries, protocol, scales, CREATED, shift, participants, trail=trail
    )
    assert [p.name for p in paths] == ["odm_snapshot.xml", "odm_transactional.xml"]
    assert paths[0].read_bytes() == _tree_bytes(snapshot)
    assert paths[1].read_bytes() == _tree_bytes(transactional)
    assert len(snapshot.findall(f".//{_N}AuditRecord")) > 100  # the stream had work to do
    assert not list(tmp_path.glob("tmp*"))  # no scratch file left behind


def _frame() -> tuple[Any, Any]:
    root = etree.Element(_N + "ODM", nsmap={None: ODM_NS}, FileType="Snapshot")
    study = el(root, "Study", OID="ST.X")
    el(study, "GlobalVariables", "line one\nline two")
    return root, el(root, "ClinicalData", StudyOID="ST.X")


def _subject(key: str, reason: str | None) -> stream.Chunk:
    def build(parent: Any) -> Any:
        sd = el(parent, "SubjectData", SubjectKey=key)
        ar = el(sd, "AuditRecord")
        el(ar, "UserRef", UserOID=f"USR.{key}")
        el(ar, "LocationRef", LocationOID="LOC.OST")
        if reason is not None:
            el(ar, "ReasonForChange", reason)
        el(sd, "Empty", Value='a "quoted" & <odd>\nvalue')
        return sd

    return stream.Chunk(build)


def _admin(root: Any, users: list[str], locations: list[str]) -> Any:
    admin = el(root, "AdminData")
    root.find(_N + "ClinicalData").addprevious(admin)
    for user in users:
        el(admin, "User", OID=user)
    for location in locations:
        el(admin, "Location", OID=location)
    return admin


def _admin_from_tree(root: Any) -> None:
    users = list(dict.fromkeys(n.get("UserOID") for n in root.iter(_N + "UserRef")))
    places = list(dict.fromkeys(n.get("LocationOID") for n in root.iter(_N + "LocationRef")))
    _admin(root, users, places)


@pytest.mark.parametrize(
    "chunks",
    [
        [],  # no clinical data: <ClinicalData/>
        [stream.Chunk(None, "AuditRecords")],  # an empty container: <AuditRecords/>
        [_subject("S2", "typo\nfixed ø"), _subject("S1", None)],
        [
            _subject("S1", "why"),
            stream.Chunk(None, "AuditRecords"),
            stream.Chunk(
                lambda p: el(el(p, "AuditRecord", ID="AR.1"), "UserRef", UserOID="U9"),
                "AuditRecords",
            ),
            stream.Chunk(lambda p: el(p, "AuditRecord", ID="AR.2"), "AuditRecords"),
        ],
    ],
    ids=["nothing", "empty-container", "subjects", "subjects-and-records"],
)
def test_the_stream_writer_prints_what_the_tree_writer_prints(
    tmp_path: Path, chunks: list[stream.Chunk]
) -> None:
    root, clinical = _frame()
    stream.assemble(clinical, chunks)
    _admin_from_tree(root)
    expected = _tree_bytes(root)
    root, clinical = _frame()
    path = tmp_path / "odm.xml"
    stream.write(path, root, clinical, chunks, _admin)
    assert path.read_bytes() == expected
    assert len(clinical) == 0  # the frame holds no chunk afterwards


_AWKWARD = [
    "plain",
    "",
    'a "quoted" & <odd> value\'s',
    "line one\nline two\r\nthird\tcolumn",
    "ø æ å — 😀 \u2028 \x7f \x85",
]


@pytest.mark.parametrize("value", _AWKWARD)
def test_a_plain_chunk_prints_as_lxml_prints_it(value: str) -> None:
    def build(parent: Any) -> Any:
        sd = el(parent, "SubjectData", SubjectKey=value)
        ar = el(sd, "AuditRecord", ID="AR.1")
        el(ar, "UserRef", UserOID=f"USR.{value}")
        el(ar, "LocationRef", LocationOID="LOC.X")
        el(ar, "ReasonForChange", value)
        el(sd, "Empty")
        return sd

    tree = etree.Element(_N + "ODM", nsmap={None: ODM_NS})
    build(el(tree, "ClinicalData"))
    lines = etree.tostring(tree, encoding="UTF-8", pretty_print=True).split(b"\n")
    expected = b"\n".join(lines[2:-3]) + b"\n"
    plain = PlainElement("", {})
    build(plain)
    users: dict[str, None] = {}
    places: dict[str, None] = {}
    assert stream.plain_text(plain.children, 2, users, places) == expected
    assert list(users) == [f"USR.{value}"]
    assert list(places) == ["LOC.X"]


@pytest.mark.parametrize("value", ["bell \x07", "\ufffe", "nul \x00"])
def test_text_xml_cannot_hold_is_left_to_lxml_which_refuses_it(tmp_path: Path, value: str) -> None:
    def build(parent: Any) -> Any:
        return el(el(parent, "SubjectData", SubjectKey="S1"), "ReasonForChange", value)

    plain = PlainElement("", {})
    build(plain)
    users: dict[str, None] = {}
    assert stream.plain_text(plain.children, 2, users, {}) is None
    root, clinical = _frame()
    with pytest.raises(ValueError, match="XML compatible"):
        stream.write(tmp_path / "odm.xml", root, clinical, [stream.Chunk(build)], _admin)


def test_text_beside_child_elements_is_printed_by_lxml(tmp_path: Path) -> None:
    def build(parent: Any) -> Any:
        sd = el(parent, "SubjectData", "text before the children", SubjectKey="S1")
        el(sd, "UserRef", UserOID="USR.1")
        return sd

    plain = PlainElement("", {})
    build(plain)
    assert stream.plain_text(plain.children, 2, {}, {}) is None
    root, clinical = _frame()
    stream.assemble(clinical, [stream.Chunk(build)])
    _admin_from_tree(root)
    expected = _tree_bytes(root)
    root, clinical = _frame()
    stream.write(tmp_path / "odm.xml", root, clinical, [stream.Chunk(build)], _admin)
    assert (tmp_path / "odm.xml").read_bytes() == expected


@dataclass
class _Entry:
    """The fields of an audit row :func:`audit_record` reads."""

    user_id: int | None
    reason: Any
    table_name: str = "assessment"
    record_id: int = 7
    field: str | None = "total"
    action: str = "update"


@pytest.mark.parametrize(
    ("entry", "rid", "subject"),
    [
        (_Entry(3, None), "AR.1", "OSLO-001"),
        (_Entry(None, ""), None, None),  # no reason, no ID
        *[(_Entry(3, value, field=None), "AR.9", value) for value in _AWKWARD],
    ],
)
def test_an_audit_record_printed_directly_is_the_plain_printing_of_the_built_one(
    entry: _Entry, rid: str | None, subject: str | None
) -> None:
    when = datetime(2026, 12, 4, 23, 0, 1, 5, tzinfo=UTC)
    plain = PlainElement("", {})
    audit_record(plain, entry, when, "OSL", rid, subject)
    users: dict[str, None] = {"USR.0": None}
    places: dict[str, None] = {}
    expected = stream.plain_text(plain.children, 3, users, places)
    assert expected is not None
    direct_users: dict[str, None] = {"USR.0": None}
    direct_places: dict[str, None] = {}
    printed = audit_record_text(3, direct_users, direct_places, entry, when, "OSL", rid, subject)
    assert printed == expected
    assert (direct_users, direct_places) == (users, places)


@pytest.mark.parametrize("reason", ["bell \x07", "\ufffe", 42])
def test_an_audit_record_the_direct_printer_cannot_print_is_built_instead(reason: Any) -> None:
    entry = _Entry(3, reason)
    when = datetime(2026, 12, 4, 23, 0, 1, tzinfo=UTC)
    users: dict[str, None] = {}
    places: dict[str, None] = {}
    assert audit_record_text(3, users, places, entry, when, "OSL", "AR.1") is None
    assert (users, places) == ({}, {})  # nothing added for a record left to the builder
    plain = PlainElement("", {})
    audit_record(plain, entry, when, "OSL", "AR.1")
    assert stream.plain_text(plain.children, 3, users, places) is None
