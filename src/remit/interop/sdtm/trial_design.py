"""SDTM trial design domains, from the protocol alone: TE, TA and TV."""

from __future__ import annotations

from typing import Any

from remit.interop.dataset import Dataset, make_dataset
from remit.interop.sdtm.base import EPOCHS, var
from remit.protocol import Protocol

_ELEMENTS = (
    ("SCRN", "Screening", "SCREENING"),
    ("TRT", "Treatment", "TREATMENT"),
    ("FU", "Follow-up", "FOLLOW-UP"),
)


def _epoch_visits(protocol: Protocol, epoch: str) -> list[Any]:
    return [v for v in protocol.visits if EPOCHS.get(v.kind, "TREATMENT") == epoch]


def build_te(protocol: Protocol) -> Dataset:
    """TE: the trial elements (screening, each arm's treatment, follow-up)."""
    rows = []
    present = {e for _, _, e in _ELEMENTS if _epoch_visits(protocol, e)}
    for code, label, epoch in _ELEMENTS:
        if epoch not in present:
            continue
        visits = _epoch_visits(protocol, epoch)
        arms = protocol.arms if code == "TRT" else (None,)
        for arm in arms:
            rows.append(
                {
                    "STUDYID": protocol.study.id,
                    "DOMAIN": "TE",
                    "ETCD": f"{code}{arm.code}"[:8] if arm else code,
                    "ELEMENT": f"{label}: {arm.label}"[:200] if arm else label,
                    "TESTRL": f"{visits[0].label} ({visits[0].code})",
                    "TEENRL": None
                    if epoch == "FOLLOW-UP"
                    else f"before {_next_epoch_start(protocol, epoch)}",
                    "TEDUR": None,
                }
            )
    variables = [
        var("STUDYID", "Study Identifier", origin="Assigned", key=1),
        var("DOMAIN", "Domain Abbreviation", origin="Assigned"),
        var("ETCD", "Element Code", origin="Protocol", key=2),
        var("ELEMENT", "Description of Element", origin="Protocol"),
        var("TESTRL", "Rule for Start of Element", origin="Protocol"),
        var("TEENRL", "Rule for End of Element", origin="Protocol"),
        var("TEDUR", "Planned Duration of Element", origin="Protocol"),
    ]
    return make_dataset(
        "TE", "Trial Elements", "SDTM", variables, rows, structure="One record per element"
    )


def _next_epoch_start(protocol: Protocol, epoch: str) -> str:
    order = [e for _, _, e in _ELEMENTS]
    for later in order[order.index(epoch) + 1 :]:
        visits = _epoch_visits(protocol, later)
        if visits:
            return f"{visits[0].label} ({visits[0].code})"
    return "end of study"


def build_ta(protocol: Protocol) -> Dataset:
    """TA: each arm's path through the elements, with the epoch of each."""
    rows = []
    for arm in protocol.arms:
        order = 0
        for code, _, epoch in _ELEMENTS:
            if not _epoch_visits(protocol, epoch):
                continue
            order += 1
            rows.append(
                {
                    "STUDYID": protocol.study.id,
                    "DOMAIN": "TA",
                    "ARMCD": arm.code,
                    "ARM": arm.label,
                    "TAETORD": order,
                    "ETCD": f"{code}{arm.code}"[:8] if code == "TRT" else code,
                    "ELEMENT": None,
                    "TABRANCH": "Enrolled in " + arm.label
                    if code == "SCRN" and len(protocol.arms) > 1
                    else None,
                    "TATRANS": None,
                    "EPOCH": epoch,
                }
            )
    te = {r["ETCD"]: r["ELEMENT"] for r in build_te(protocol).frame.to_dict("records")}
    for r in rows:
        r["ELEMENT"] = te[r["ETCD"]]
    variables = [
        var("STUDYID", "Study Identifier", origin="Assigned", key=1),
        var("DOMAIN", "Domain Abbreviation", origin="Assigned"),
        var("ARMCD", "Planned Arm Code", origin="Protocol", key=2),
        var("ARM", "Description of Planned Arm", origin="Protocol"),
        var("TAETORD", "Planned Order of Element within Arm", "integer", "Protocol", key=3),
        var("ETCD", "Element Code", origin="Protocol"),
        var("ELEMENT", "Description of Element", origin="Protocol"),
        var("TABRANCH", "Branch", origin="Protocol"),
        var("TATRANS", "Transition Rule", origin="Protocol"),
        var("EPOCH", "Epoch", origin="Protocol"),
    ]
    return make_dataset(
        "TA",
        "Trial Arms",
        "SDTM",
        variables,
        rows,
        structure="One record per planned element per arm",
    )


def build_tv(protocol: Protocol) -> Dataset:
    """TV: the planned visits, with their timing rule."""
    rows = []
    all_arms = {a.code for a in protocol.arms}
    for v in protocol.visits:
        arms = (
            [a for a in v.arms if a in all_arms] if v.arms and set(v.arms) != all_arms else [None]
        )
        for arm in arms:
            low, high = v.window
            rows.append(
                {
                    "STUDYID": protocol.study.id,
                    "DOMAIN": "TV",
                    "VISITNUM": protocol.visit_number(v.code),
                    "VISIT": v.label.upper(),
                    "VISITDY": None,
                    "ARMCD": arm,
                    "TVSTRL": (
                        f"{v.target_day} days after {v.anchor} (window {low:+d} to {high:+d} days)"
                    ),
                    "TVENRL": None,
                }
            )
    variables = [
        var("STUDYID", "Study Identifier", origin="Assigned", key=1),
        var("DOMAIN", "Domain Abbreviation", origin="Assigned"),
        var("VISITNUM", "Visit Number", "float", "Protocol", key=2),
        var("VISIT", "Visit Name", origin="Protocol"),
        var("VISITDY", "Planned Study Day of Visit", "integer", "Protocol"),
        var("ARMCD", "Planned Arm Code", origin="Protocol"),
        var("TVSTRL", "Visit Start Rule", origin="Protocol"),
        var("TVENRL", "Visit End Rule", origin="Protocol"),
    ]
    return make_dataset(
        "TV",
        "Trial Visits",
        "SDTM",
        variables,
        rows,
        structure="One record per planned visit per arm",
    )
