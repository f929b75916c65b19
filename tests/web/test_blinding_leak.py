"""The blinding leak test (issue 14): on an RCT trial (a generated list, participants confirmed
→ randomised → dosed, one unblinded in an emergency) every blinded role logs in and requests
every page and API route of the app (iterated from its routes, path parameters filled from the
trial), builds and downloads the export of every format and the report where allowed, and
sends a refused dose (an error message); every response (HTML, JSON, CSV, XPT, ZIP members,
headers, error pages) is scanned for what reveals an allocation. Zero hits. The unblinded
statistician's same walk finds hits (the scanner works), and the scanner finds the arm and the
doses in an unmasked (Remit's own) export.

What the scanner looks for, and why these patterns (the trial's name "MDMA-assisted therapy
versus placebo …" and the visits' "80 mg MDMA or placebo" are not allocations and must not
count):

- structured rows (JSON objects, CSV rows, XPT records, Dataset-JSON rows) that name a
  participant (``participant_id``, ``USUBJID``, ``SUBJID``) and carry an arm code or label in
  an arm column (``arm``, ``ARM``, ``ARMCD``, ``ACTARM``, ``ACTARMCD``, ``TRT01P``, ``TRT01A``,
  ``arm_label``), or a dose in mg (``dose_mg``, ``EXDOSE``, ``ECDOSE`` not missing);
- XML (ODM, define.xml) items of those arm variables whose value is an arm code or label;
- HTML: an arm code or label alone in a table cell, "arm MDMA"/"arm PLACEBO", a dose shown in
  mg ("80 mg given", a cell "80 mg"), and the old arm-revealing dose refusal ("planned initial
  dose of 0 mg");
- headers: an arm code as a word in any header value.

Trial-design datasets (TA, TE: arms without participants) and code lists list the arms by
design and are not allocations: the row rules above skip rows without a participant.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.support.trial import (
    PASSWORD,
    ROLE_USER,
    OsloTrial,
    Participant,
    add_participant,
    trial_file,
)
from tests.support.web import csrf_of, page_login
from tests.web.test_access_matrix import guarded_routes

from remit import services as sv
from remit.analysis import run_analysis_plan
from remit.interop import FORMATS, export_trial
from remit.protocol import load_protocol
from remit.protocol.roles import UNBLINDED_ROLES
from remit.reports import render_html
from remit.store import make_engine
from remit.web import create_app
from remit.web.core import web_allowed

PROTOCOL = load_protocol("mdma-mdd-rct-example")
assert PROTOCOL.blinding is not None
BLINDED_ROLES = PROTOCOL.blinding.blinded_roles
ARM_WORDS = frozenset({a.code for a in PROTOCOL.arms} | {a.label for a in PROTOCOL.arms})
ARM_COLUMNS = frozenset(
    {"arm", "arm_label", "ARM", "ARMCD", "ACTARM", "ACTARMCD", "TRT01P", "TRT01A"}
)
DOSE_COLUMNS = frozenset({"dose_mg", "EXDOSE", "ECDOSE"})
SUBJECT_COLUMNS = frozenset({"participant_id", "USUBJID", "SUBJID"})
_CODES = "|".join(re.escape(a.code) for a in PROTOCOL.arms)
_WORDS = "|".join(re.escape(w) for w in sorted(ARM_WORDS, key=len, reverse=True))
HTML_PATTERNS = (
    re.compile(rf"<td[^>]*>\s*(?:{_WORDS})\s*</td>"),
    # "arm MDMA", not "MDMA-assisted therapy" nor the report's "by arm: MDMA/madrs/V17"
    re.compile(rf"\b(?i:arm)\s*:?\s*(?:<[^>]+>\s*)*(?:{_CODES})\b(?![-/])"),
    re.compile(r"\b\d+(?:\.\d+)?\s*mg\s+(?:given|withheld|offered)\b"),
    re.compile(r"<td[^>]*>\s*\d+(?:\.\d+)?\s*mg\s*</td>"),
    re.compile(r"planned (?:initial|supplemental) dose of \d"),
)
# a report built from blinded data pools the arms: no "Arm: <label>" group, no arm with a count
REPORT_PATTERNS = (
    re.compile(rf"\bArm:\s*(?:<[^>]+>\s*)*(?:{_WORDS})"),
    re.compile(rf"(?:{_WORDS})\s+\d+\b(?!\s*mg)"),
    re.compile(r"Allocated to "),
)
XML_ITEM = re.compile(rf"(?:ARM|ARMCD|ACTARM|ACTARMCD|TRT01P|TRT01A)[^>]*\bValue=\"(?:{_WORDS})\"")
HEADER_WORD = re.compile(rf"\b(?:{_CODES})\b")


# --------------------------------------------------------------------------- the scanner


def _row_hits(row: dict[str, Any], where: str) -> Iterator[str]:
    if not SUBJECT_COLUMNS & row.keys():
        return
    for col in ARM_COLUMNS & row.keys():
        if isinstance(row[col], str) and row[col].strip() in ARM_WORDS:
            yield f"{where}: {col}={row[col]!r}"
    for col in DOSE_COLUMNS & row.keys():
        value = row[col]
        if value is not None and value != "" and not (isinstance(value, float) and value != value):
            yield f"{where}: {col}={value!r}"


def _json_hits(value: Any, where: str) -> Iterator[str]:
    if isinstance(value, dict):
        yield from _row_hits(value, where)
        if isinstance(value.get("columns"), list) and isinstance(value.get("rows"), list):
            names = [c.get("name") for c in value["columns"] if isinstance(c, dict)]
            for row in value["rows"]:
                if isinstance(row, list):
                    yield from _row_hits(dict(zip(names, row, strict=False)), where)
        for v in value.values():
            yield from _json_hits(v, where)
    elif isinstance(value, list):
        for v in value:
            yield from _json_hits(v, where)


def _text_hits(text: str, where: str) -> Iterator[str]:
    for pattern in HTML_PATTERNS:
        for m in pattern.finditer(text):
            yield f"{where}: {m.group(0)!r}"
    for m in XML_ITEM.finditer(text):
        yield f"{where}: {m.group(0)!r}"


def report_hits(text: str, where: str) -> list[str]:
    """What a blinded report must not hold beyond the common patterns: groups, counts or
    CONSORT boxes by arm."""
    return [f"{where}: {m.group(0)!r}" for p in REPORT_PATTERNS for m in p.finditer(text)]


def scan_bytes(body: bytes, name: str, where: str) -> list[str]:
    """Every allocation-revealing thing in one file or response body named ``name``."""
    hits: list[str] = []
    lower = name.lower()
    if body[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            for member in z.namelist():
                hits += scan_bytes(z.read(member), member, f"{where}/{member}")
        return hits
    if lower.endswith(".xpt"):
        try:
            frame = pd.read_sas(io.BytesIO(body), format="xport", encoding="utf-8")
        except StopIteration:  # a dataset without records
            return hits
        for row in frame.to_dict("records"):
            hits += _row_hits({str(k): v for k, v in row.items()}, where)
        return hits
    text = body.decode("utf-8", errors="replace")
    if lower.endswith(".csv"):
        for row in csv.DictReader(io.StringIO(text)):
            hits += _row_hits(dict(row), where)
        return hits
    if lower.endswith(".json") or text.lstrip().startswith(("{", "[")):
        with contextlib.suppress(ValueError):
            hits += _json_hits(json.loads(text), where)
    hits += _text_hits(text, where)
    return hits


def scan_response(response: Any, where: str) -> list[str]:
    hits = [
        f"{where} header {k}: {v!r}" for k, v in response.headers.items() if HEADER_WORD.search(v)
    ]
    name = response.headers.get("content-disposition", "") or where
    return hits + scan_bytes(response.content, name.rstrip('"'), where)


# --------------------------------------------------------------------------- the trial


@pytest.fixture(scope="module")
def rct(tmp_path_factory: pytest.TempPathFactory) -> tuple[OsloTrial, Path]:
    """An RCT trial file: a list generated, participants of both arms randomised and dosed,
    one unblinded in an emergency. The engine carries the allocation key."""
    from tests.support.db import cheap_password_hashing

    folder = tmp_path_factory.mktemp("blinding-leak")
    db = folder / "rct.db"
    with cheap_password_hashing():
        made = trial_file(db, protocol=PROTOCOL, sites=None)
        key = sv.new_allocation_key_file(folder / "allocation.key")
        engine = sv.with_allocation_key(make_engine(db), key)
        trial = replace(made, engine=engine)
        una = trial.actors["unblinded_statistician"]
        sv.generate_list(engine, una, n_per_stratum=8, seed=2026)
        arms: set[str] = set()
        while len(arms) < 2 or len(sv.list_allocations(engine, una)) < 3:
            add_participant(trial, Participant(through="V5", dosing=True, site="OST"))
            arms = {a.arm for a in sv.list_allocations(engine, una)}
            assert len(sv.list_allocations(engine, una)) < 12, "both arms never came up"
        first = sv.list_allocations(engine, una)[0].participant_id
        sv.emergency_unblind(engine, trial.investigator, first, "suspected serotonin syndrome")
    return trial, folder


@pytest.fixture(scope="module")
def leak_app(rct: tuple[OsloTrial, Path]) -> FastAPI:
    from remit.web import WebSettings

    trial, folder = rct
    return create_app(trial.engine, settings=WebSettings(work_dir=folder / "web"))


def _samples(trial: OsloTrial) -> dict[str, str]:
    una = trial.actors["unblinded_statistician"]
    pid = sv.list_allocations(trial.engine, una)[0].participant_id
    with trial.engine.connect() as c:
        ids = {
            t: str(c.exec_driver_sql(f"SELECT min(id) FROM {t}").scalar() or 1)
            for t in ("dose", "assessment", "concomitant_medication")
        }
    return {
        "pid": pid,
        "participant_id": pid,
        "visit": "V3",
        "visit_code": "V5",
        "scale": "madrs",
        "table": "dose",
        "record_table": "dose",
        "record_id": ids["dose"],
        "assessment_id": ids["assessment"],
        "conmed_id": ids["concomitant_medication"],
    }


def _path(template: str, samples: dict[str, str]) -> str:
    path = template.replace("{visit}", "V5") if "/dosing/" in template else template
    return re.sub(r"\{(\w+)\}", lambda m: samples.get(m.group(1), "1"), path)


def _walk(app: FastAPI, trial: OsloTrial, role: str) -> tuple[list[str], int]:
    """Every GET route, the audit views, exports, the report and a refused dose, as ``role``:
    (hits, responses scanned)."""
    samples = _samples(trial)
    pages = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    assert page_login(pages, ROLE_USER[role]).status_code == 303
    api = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    token = api.post(
        "/api/v1/auth/login", json={"username": ROLE_USER[role], "password": PASSWORD}
    ).json()["token"]
    api.headers["Authorization"] = f"Bearer {token}"
    hits: list[str] = []
    scanned = 0

    def look(response: Any, where: str) -> None:
        nonlocal scanned
        scanned += 1
        hits.extend(scan_response(response, where))

    for method, template, _, surface in guarded_routes(app):
        if method != "GET" or template.endswith(("/logout", "/login/mfa")):
            continue
        path = _path(template, samples)
        look((api if surface == "api" else pages).get(path), f"{role} GET {path}")
    for table in ("allocation", "emergency_unblinding", "dose", "alert", "participant"):
        look(pages.get(f"/audit/{table}/1"), f"{role} audit {table}")
    pid = samples["pid"]
    look(pages.get(f"/participants/{pid}/dosing/V5"), f"{role} dosing V5")
    # an error message: a dose far above the plan, refused (a dose is recorded already)
    look(
        api.post(
            f"/api/v1/participants/{pid}/dosing/V5/doses",
            json={"kind": "initial", "dose_mg": 999, "status": "given", "at": "2023-03-02T09:00Z"},
        ),
        f"{role} POST dose",
    )
    if web_allowed("export_trial", role):
        form = {"csrf_token": csrf_of(pages.get("/exports").text)}
        form |= {f"format_{f}": "on" for f in FORMATS}
        made = pages.post("/exports", data=form)
        look(made, f"{role} POST /exports")
        listing = pages.get("/exports").text
        for name in sorted(set(re.findall(r"export-[0-9TZ]+-[0-9a-f]{6}\.zip", listing))):
            look(pages.get(f"/exports/{name}"), f"{role} export {name}")
    if web_allowed("view_report", role):
        built = pages.post("/report", data={"csrf_token": csrf_of(pages.get("/report").text)})
        look(built, f"{role} POST /report")
        report = pages.get("/report/view")
        look(report, f"{role} report")
        hits.extend(report_hits(report.text, f"{role} report"))
        # the web builds every report from blinded data: the pooled report, for every role
        assert report.status_code == 200, report.text[:400]
        assert "blinded (pooled) — arms not shown" in report.text
    return hits, scanned


@pytest.mark.parametrize("role", BLINDED_ROLES)
def test_a_blinded_role_sees_no_allocation(leak_app: FastAPI, rct: Any, role: str) -> None:
    hits, scanned = _walk(leak_app, rct[0], role)
    assert scanned > 45
    assert hits == [], f"{role} sees allocations:\n" + "\n".join(hits[:40])


def test_the_scanner_finds_what_an_unblinded_role_sees(leak_app: FastAPI, rct: Any) -> None:
    (role,) = (r.value for r in UNBLINDED_ROLES)
    hits, _ = _walk(leak_app, rct[0], role)
    assert any("/unblindings" in h and "arm=" in h for h in hits), hits
    assert any("dosing/V5" in h and " mg" in h for h in hits), hits  # doses shown in mg


def test_the_scanner_finds_arms_and_doses_in_an_unmasked_export(rct: Any) -> None:
    trial, folder = rct
    out = folder / "system-export"
    export_trial(trial.engine, out, formats=["all"], actor=sv.Actor.system("leak-test"))
    hits = []
    for path in sorted(out.rglob("*")):
        if path.is_file():
            hits += scan_bytes(path.read_bytes(), path.name, path.name)
    assert any("EXDOSE" in h for h in hits), hits[:20]
    assert any("dose_mg" in h for h in hits), hits[:20]


def test_the_report_scanner_finds_the_arms_of_a_report_by_arm(rct: Any) -> None:
    """The unblinded statistician's report by arm (data unblinded from the list) has the arm
    groups, counts and CONSORT boxes that the blinded report may not."""
    trial, _ = rct
    una, dag = trial.actors["unblinded_statistician"], trial.actors["data_manager"]
    held = sv.lock(trial.engine, dag, "study", reason="database lock before the analysis by arm")
    try:  # the arms are read for analysis after the database lock only
        data = sv.build_trial_data(trial.engine, actor=una, unblinded=True)
    finally:  # the other tests of the module write to the trial
        sv.unlock(trial.engine, dag, held.id, reason="the module's other tests go on")
    result = run_analysis_plan(data, PROTOCOL)
    assert not result.blinded
    html, _ = render_html(result, data, PROTOCOL)
    hits = report_hits(html, "report by arm")
    assert any("Arm:" in h for h in hits), hits[:10]
    assert any("Allocated to" in h for h in hits), hits[:10]
    blinded = sv.build_trial_data(trial.engine, actor=trial.actors["statistician"])
    pooled = run_analysis_plan(blinded, PROTOCOL)
    assert pooled.blinded
    assert report_hits(render_html(pooled, blinded, PROTOCOL)[0], "pooled") == []
