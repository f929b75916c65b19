"""``import_odm``: ODM 1.3 clinical data (a snapshot in the layout ``remit export`` writes)
into a trial database, through the services, so the audit trail and the safety alerts are
those of data entered by hand.

Everything is checked before anything is written (a full pre-validation pass): the study
events, forms and items must be those of the protocol in force and its scales, each value must
parse as its item's type, and each form's answers must pass the scale's validation. The first
problem is reported with the subject, event, form and item named, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from lxml import etree  # type: ignore[import-untyped]

from remit import services as sv
from remit.errors import InputError, RemitError
from remit.interop.odm import FORM_META, ODM_NS, fixed_forms, item_types, oid
from remit.interop.odm.metadata import COMMON_EVENTS
from remit.protocol import VITAL_SIGNS, Protocol
from remit.protocol.adverse_event import AEOutcome
from remit.protocol.deviation import AUTOMATIC_CATEGORIES
from remit.protocol.results import ChecklistKind, ItemStatus
from remit.protocol.roles import Role
from remit.protocol.status import DECIDED_DOSE_STATUSES, DoseKind
from remit.protocol.status import ParticipantStatus as S
from remit.scales import load_scale, validate_answers
from remit.services import RATER_ROLES, Actor, Engine

_NS = {"odm": ODM_NS}


@dataclass(frozen=True)
class OdmImportResult:
    """What an import made: the new study ID of each ODM subject and counts of records."""

    source: str
    subjects: dict[str, str]
    counts: dict[str, int]
    alerts: int
    notes: tuple[str, ...] = field(default=())
    unchanged: tuple[str, ...] = field(default=())
    changed: dict[str, str] = field(default_factory=dict)
    changes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "source": self.source,
            "subjects": dict(self.subjects),
            "counts": dict(self.counts),
            "alerts": self.alerts,
            "notes": list(self.notes),
            "new": len(self.subjects),
            "unchanged": list(self.unchanged),
            "changed": dict(self.changed),
            "changes": list(self.changes),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per subject: ODM SubjectKey and the study ID given here."""
        return pd.DataFrame(list(self.subjects.items()), columns=["subject_key", "participant_id"])

    def summary(self) -> str:
        """One line per kind of record."""
        lines = [
            f"{len(self.subjects)} new, {len(self.changed)} changed, {len(self.unchanged)} "
            f"unchanged participants from {self.source}"
        ]
        if self.unchanged:
            lines.append("  already here with the same data: " + ", ".join(self.unchanged))
        lines += [f"  changed in the source: {c}" for c in self.changes]
        lines += [f"  {k}: {v}" for k, v in self.counts.items()]
        lines.append(f"  safety alerts raised: {self.alerts}")
        renamed = {k: v for k, v in self.subjects.items() if k != v}
        if renamed:
            lines.append("  new study IDs: " + ", ".join(f"{k} → {v}" for k, v in renamed.items()))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass
class _Form:
    event: str
    form: str
    repeat: str | None
    values: dict[str, Any]
    where: str


@dataclass
class _Subject:
    key: str
    forms: list[_Form]

    def of(self, form: str, event: str | None = None) -> list[_Form]:
        return [f for f in self.forms if f.form == form and (event is None or f.event == event)]


#: The reason recorded for a visit the imported file dates outside its window (the date is
#: the source's; the deviation it records keeps that visible).
IMPORTED_WINDOW_REASON = "dated outside the window in the imported ODM file"


def _fail(where: str, message: str, **kw: Any) -> InputError:
    return InputError(
        f"{where}: {message}",
        hint=kw.pop("hint", "nothing was written; fix the file or the protocol and retry"),
        **kw,
    )


def _typed(text: str | None, data_type: str, where: str) -> Any:
    if text is None:
        return None
    try:
        if data_type == "integer":
            return int(text)
        if data_type == "float":
            number = float(text)
            return int(number) if number.is_integer() else number
        if data_type == "boolean":
            if text not in ("0", "1", "true", "false"):
                raise ValueError(text)
            return text in ("1", "true")
        if data_type == "date":
            return date.fromisoformat(text)
        if data_type == "datetime":
            ts = pd.Timestamp(text)
            if ts.tzinfo is None:
                raise ValueError("no time zone")
            return ts.tz_convert("UTC").to_pydatetime()
    except ValueError as error:
        raise _fail(where, f"value {text!r} is not a valid {data_type} ({error})") from None
    return text


def _item_types(protocol: Protocol, form: str) -> dict[str, str] | None:
    fixed = fixed_forms(protocol)
    if form in fixed:
        return {n: t for n, t, _ in fixed[form]}
    try:
        load_scale(form.lower())
    except RemitError:
        return None
    out = {n: t for n, t, _ in FORM_META}
    out |= {code.upper(): t for code, t in item_types(form.lower()).items()}
    return out


def read_odm(path: str | Path, protocol: Protocol) -> list[_Subject]:
    """Parse and check an ODM snapshot against the protocol; raise on the first misfit."""
    try:
        root = etree.parse(str(path)).getroot()
    except (OSError, etree.XMLSyntaxError) as error:
        raise InputError(f"cannot read ODM file {path}: {error}") from error
    if root.tag != f"{{{ODM_NS}}}ODM":
        raise InputError(f"{path} is not an ODM 1.3 file", expected=f"root ODM in {ODM_NS}")
    if root.get("FileType") != "Snapshot":
        raise InputError(
            f"{path} is a {root.get('FileType')} ODM file",
            expected="FileType Snapshot",
            hint="export the snapshot variant (remit export --odm-variant snapshot)",
        )
    study_oid, version_oid = oid("ST", protocol.study.id), oid("MDV", protocol.study.version)
    for cd in root.iterfind("odm:ClinicalData", _NS):
        given = (cd.get("StudyOID"), cd.get("MetaDataVersionOID"))
        if given[0] != study_oid:
            raise InputError(
                f"{path} holds data of study {given[0]}; this database holds study {study_oid}",
                expected=f"ClinicalData StudyOID={study_oid}",
                hint="import the file into the database of its own study; nothing was written",
            )
        known = {m.get("OID") for m in root.iterfind("odm:Study/odm:MetaDataVersion", _NS)}
        if given[1] != version_oid:
            described = "described in the file" if given[1] in known else "unknown here"
            raise InputError(
                f"{path} holds data of metadata version {given[1]} ({described}); this "
                f"database's protocol is metadata version {version_oid} of {study_oid}",
                expected=f"ClinicalData MetaDataVersionOID={version_oid}",
                hint="export the data under the protocol version in force here; nothing was "
                "written",
            )
    events = {oid("SE", v): v for v in protocol.visit_codes} | {
        oid("SE", "SUBJECT"): "SUBJECT",
        **{oid("SE", code): code for code in COMMON_EVENTS},
    }
    subjects = []
    seen: set[str] = set()
    for sd in root.iterfind("odm:ClinicalData/odm:SubjectData", _NS):
        key = sd.get("SubjectKey") or ""
        if key in seen:
            raise _fail(
                f"subject {key}",
                f"SubjectKey {key!r} occurs twice in {path}",
                expected="each SubjectKey once in a snapshot (one SubjectData per subject)",
            )
        seen.add(key)
        forms: list[_Form] = []
        for se in sd.iterfind("odm:StudyEventData", _NS):
            event = events.get(se.get("StudyEventOID", ""))
            if event is None:
                raise _fail(
                    f"subject {key}",
                    f"study event {se.get('StudyEventOID')} is not a visit of protocol "
                    f"{protocol.study.id}",
                    expected="SE.<visit code>, SE.SUBJECT, SE.AE, SE.CM or SE.DV",
                )
            for fd in se.iterfind("odm:FormData", _NS):
                form_oid = fd.get("FormOID", "")
                form = form_oid.removeprefix("F.")
                where = f"subject {key}, event {event}, form {form_oid}"
                types = _item_types(protocol, form)
                if types is None:
                    raise _fail(where, "the form is not a scale or form Remit knows")
                values: dict[str, Any] = {}
                for item in fd.iterfind("odm:ItemGroupData/odm:ItemData", _NS):
                    item_oid = item.get("ItemOID", "")
                    name = item_oid.removeprefix(f"IT.{form.upper()}.")
                    if name not in types:
                        raise _fail(f"{where}, item {item_oid}", "the item is not in the form")
                    values[name] = _typed(
                        item.get("Value"), types[name], f"{where}, item {item_oid}"
                    )
                repeat = fd.get("FormRepeatKey") or se.get("StudyEventRepeatKey")
                forms.append(_Form(event, form, repeat, values, where))
        subjects.append(_Subject(key, forms))
    _prevalidate(subjects, protocol)
    return subjects


def read_source_history(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """SubjectKey → the file's audit records about that subject, oldest first, each as
    :func:`remit.services.record_source_history` keeps it: the source's user (login name
    from ``AdminData``, else the ``UserOID``), full name, roles, location, time, reason and
    record. Only records whose ``SourceID`` names a subject (``…/<SubjectKey>``, as Remit
    writes them) are about one."""
    root = etree.parse(str(path)).getroot()
    users: dict[str, dict[str, Any]] = {}
    for u in root.iterfind("odm:AdminData/odm:User", _NS):
        display = u.findtext("odm:DisplayName", namespaces=_NS) or ""
        roles = display.partition("(")[2].rstrip(")")
        users[u.get("OID", "")] = {
            "user": u.findtext("odm:LoginName", namespaces=_NS) or u.get("OID"),
            "full_name": u.findtext("odm:FullName", namespaces=_NS),
            "roles": [r.strip() for r in roles.split(",") if r.strip()],
        }
    places = {
        loc.get("OID", ""): loc.get("Name")
        for loc in root.iterfind("odm:AdminData/odm:Location", _NS)
    }
    out: dict[str, list[dict[str, Any]]] = {}
    records = root.iterfind("odm:ClinicalData/odm:AuditRecords/odm:AuditRecord", _NS)
    for n, ar in enumerate(records, start=1):
        source = ar.findtext("odm:SourceID", namespaces=_NS) or ""
        parts = source.split("/")
        if len(parts) != 5 or not parts[4]:
            continue
        user_oid = ar.find("odm:UserRef", _NS)
        location = ar.find("odm:LocationRef", _NS)
        who_oid = "" if user_oid is None else user_oid.get("UserOID", "")
        where = None if location is None else location.get("LocationOID")
        number = (ar.get("ID") or "").removeprefix("AR.")
        out.setdefault(parts[4], []).append(
            {
                "id": int(number) if number.isdigit() else n,
                "user_oid": who_oid,
                **users.get(who_oid, {"user": who_oid, "full_name": None, "roles": []}),
                "location": places.get(where or "", where),
                "at": ar.findtext("odm:DateTimeStamp", namespaces=_NS),
                "reason": ar.findtext("odm:ReasonForChange", namespaces=_NS),
                "record": "/".join(parts[:4]),
            }
        )
    return out


def _answers(f: _Form) -> dict[str, Any]:
    meta = {n for n, _, _ in FORM_META}
    return {k.lower(): v for k, v in f.values.items() if k not in meta}


def _prevalidate(subjects: list[_Subject], protocol: Protocol) -> None:
    for s in subjects:
        if len(s.of("SUBJECT")) != 1:
            raise _fail(f"subject {s.key}", "needs exactly one F.SUBJECT form in SE.SUBJECT")
        for f in s.forms:
            if f.form in fixed_forms(protocol):
                continue
            version = f.values.get("VERSION")
            try:
                validate_answers(f.form.lower(), _answers(f), version=version)
            except RemitError as error:
                item = getattr(error, "item", None)
                raise _fail(
                    f.where + (f", item IT.{f.form.upper()}.{str(item).upper()}" if item else ""),
                    str(error),
                ) from error
            if f.event not in protocol.visit_codes:
                raise _fail(f.where, "a scale form outside a visit")
            if f.form.lower() not in protocol.visit(f.event).scales() and not (
                protocol.dosing_session(f.event) and f.values.get("TIMEPOINT")
            ):
                raise _fail(f.where, f"the protocol does not plan {f.form} at {f.event}")
        dated = {f.event for f in s.of("VISIT") if f.values.get("VISIT_DATE") is not None}
        for f in s.of("RESULT") + s.of("CHECKLIST"):
            if f.event not in dated:
                raise _fail(
                    f.where,
                    f"a {f.form.lower()} at visit {f.event}, which has no visit date in the file",
                    expected=f"F.VISIT with IT.VISIT.VISIT_DATE at {f.event}",
                )
            needed = (
                ("TEST_CODE", "VALUE", "COLLECTED_AT") if f.form == "RESULT" else ("COMPLETED_AT",)
            )
            missing = [n for n in needed if f.values.get(n) is None]
            if missing:
                raise _fail(f.where, f"the form lacks {', '.join(missing)}")
            if f.form == "CHECKLIST":
                planned = protocol.dosing_session(f.event)
                if planned is None or planned.checklist is None:
                    raise _fail(f.where, f"protocol has no pre-dose checklist at {f.event}")
        for f in s.of("CONMED"):
            if f.values.get("NAME") is None:
                raise _fail(f.where, "the medication has no NAME")
        for f in s.of("DEVIATION"):
            missing = [
                n for n in ("CATEGORY", "DESCRIPTION", "OCCURRED_DATE") if f.values.get(n) is None
            ]
            if missing:
                raise _fail(f.where, f"the deviation lacks {', '.join(missing)}")
        for f in s.of("DOSE"):
            if (
                f.values.get("KIND") not in set(DoseKind)
                or f.values.get("STATUS") not in DECIDED_DOSE_STATUSES
            ):
                raise _fail(f.where, "KIND must be initial|supplemental, STATUS given|withheld")


#: The reason of the change that makes an imported event serious, as it became in the source.
BECAME_SERIOUS_REASON = "imported from ODM: the event became serious in the source"


def _adverse_event(engine: Engine, actor: Actor, pid: str, v: Mapping[str, Any]) -> int:
    """Record one adverse event as the source holds it, through the services, and return the
    number of alerts raised: a serious event with its seriousness criteria and the time the
    site became aware (its reporting clock and SAE alert run from it, due when the source's
    was); an event that became serious after it was recorded (``BECAME_SERIOUS_AT``) first as
    the non-serious event it was, then made serious from that time (its clock from then: a
    fatal event is recorded with the outcome unknown, then fatal with its date); a reported
    SAE marked reported when it was (which closes its alert, as in the source)."""
    criteria = [c for c in str(v.get("SERIOUSNESS_CRITERIA") or "").split(";") if c.strip()]
    serious, became = bool(v.get("SERIOUS")), v.get("BECAME_SERIOUS_AT")
    outcome = v.get("OUTCOME") or "unknown"
    upgraded = serious and became is not None
    fatal_later = upgraded and outcome == AEOutcome.FATAL
    ae = sv.record_adverse_event(
        engine,
        actor,
        pid,
        term=v["TERM"],
        onset_date=v["ONSET_DATE"],
        severity=v["SEVERITY"],
        relatedness=v["RELATEDNESS"],
        serious=serious and not upgraded,
        seriousness_criteria=() if upgraded else criteria,
        outcome=AEOutcome.UNKNOWN.value if fatal_later else outcome,
        awareness_at=v.get("AWARENESS_AT"),
        description=v.get("DESCRIPTION"),
        end_date=v.get("END_DATE"),
        action_taken=v.get("ACTION_TAKEN"),
    )
    raised = len(ae.alerts)
    if upgraded:
        changes: dict[str, Any] = {"serious": True, "seriousness_criteria": criteria}
        if fatal_later:
            changes["outcome"] = outcome
        ae = sv.update_adverse_event(
            engine, actor, ae.id, changes=changes, reason=BECAME_SERIOUS_REASON,
            became_serious_at=became,
        )  # fmt: skip
        raised = len(ae.alerts)
    if serious and v.get("REPORTED_AT") is not None:
        sv.mark_sae_reported(engine, actor, ae.id, reported_at=v["REPORTED_AT"])
    return raised


def _pick(actors: Mapping[str, Actor], roles: frozenset[str] | tuple[str, ...], what: str) -> Actor:
    for role in (Role.INVESTIGATOR, Role.THERAPIST, Role.INDEPENDENT_RATER, *sorted(roles)):
        if role in roles and role in actors:
            return actors[role]
    raise InputError(
        f"the importing user holds none of the roles {sorted(roles)} needed to {what}",
        hint="import as a user who holds investigator, therapist and independent_rater roles",
    )


def _rehearse(engine: Engine, protocol: Protocol, subjects: list[_Subject]) -> None:
    """Run the whole import in a throw-away SQLite database first (as Remit itself, so only
    the data can fail): a refusal by any service is then reported before anything is written
    to the real database. The scales kept in the real database are kept in the throw-away one
    too (its forms are scored with them)."""
    import secrets
    import tempfile

    system = Actor(None, "remit-odm-rehearsal", sv.SYSTEM_ROLE, None)
    kept = sv.kept_scale_definitions(engine)  # read without an access-log row
    with tempfile.TemporaryDirectory(prefix="remit-odm-") as folder:
        scratch = sv.create_database(Path(folder) / "rehearsal.db")
        try:
            for text, source in kept.values():  # first: the protocol may name them
                sv.add_scale(scratch, system, text, source=source)
            sv.create_trial(
                scratch, protocol, admin_username="rehearsal",
                admin_password=secrets.token_urlsafe(24),
            )  # fmt: skip
            entering = (Role.INVESTIGATOR, Role.THERAPIST, Role.INDEPENDENT_RATER)
            actors: dict[str, Actor] = dict.fromkeys(entering, system)
            counts = dict.fromkeys(_COUNTS, 0)
            for s in subjects:
                try:
                    _import_subject(scratch, protocol, s, actors, system, counts)
                except RemitError as error:
                    raise InputError(
                        f"subject {s.key} does not fit: {error}",
                        hint="nothing was written; fix the file (or the protocol) and retry",
                    ) from error
        finally:
            sv.close_database(scratch)


_COUNTS = (
    "participants",
    "visits",
    "forms",
    "results",
    "checklists",
    "doses",
    "vitals",
    "adverse_events",
    "conmeds",
    "deviations",
)


def import_odm(
    engine: Engine,
    path: str | Path,
    actors: Mapping[str, Actor],
    *,
    rehearse: bool = True,
) -> OdmImportResult:
    """Import the clinical data of an ODM snapshot; see the module docstring.

    ``actors`` maps role → :class:`~remit.services.Actor`: each step acts in a role it needs
    (participant steps as investigator, forms in a role the protocol allows for the rater).
    With ``rehearse`` (the default) the import first runs in a throw-away database, so that a
    refusal by any service (a dose limit, a window rule) is reported before anything is
    written here.
    """
    protocol = sv.trial_protocol(engine)
    subjects = read_odm(path, protocol)
    inv = _pick(actors, (Role.INVESTIGATOR,), "screen and enrol participants")
    for s in subjects:  # every role needed is held before anything is written
        for f in s.forms:
            if f.form in fixed_forms(protocol) or f.values.get("TIMEPOINT"):
                continue
            planned = [a for a in protocol.assessments_at(f.event) if a.scale == f.form.lower()]
            _pick(actors, RATER_ROLES[planned[0].rater], f"enter {f.form} at {f.event}")
    if rehearse:
        _rehearse(engine, protocol, subjects)
    study = oid("ST", protocol.study.id)
    known = _compare_known(engine, protocol, subjects)
    history = read_source_history(path)
    source = Path(path).name
    counts = dict.fromkeys(_COUNTS, 0) | {"changed_values": 0, "source_audit_records": 0}
    alerts = 0
    made: dict[str, str] = {}
    for s in known.new:
        pid, n_alerts = _import_subject(engine, protocol, s, actors, inv, counts)
        made[s.key] = pid
        alerts += n_alerts
        counts["source_audit_records"] += _keep_history(
            engine, inv, pid, s, history.get(s.key, []), source, study
        )
    # the source's audit records not kept before: the history of the changes
    fresh = {
        s.key: [r for r in history.get(s.key, []) if r["id"] not in known.kept.get(s.key, set())]
        for s in known.changed
    }
    reasons = {key: _change_reason(source, records) for key, records in fresh.items()}
    alerts += _apply_changes(engine, protocol, known.changes, actors, reasons)
    counts["changed_values"] = sum(len(c.items) for c in known.changes)
    for s in known.changed:
        counts["source_audit_records"] += _keep_history(
            engine, inv, known.local[s.key], s, fresh[s.key], source, study
        )
    return OdmImportResult(
        str(path),
        made,
        counts,
        alerts,
        unchanged=tuple(known.unchanged),
        changed={s.key: known.local[s.key] for s in known.changed},
        changes=tuple(c.describe() for c in known.changes),
    )


def _keep_history(
    engine: Engine,
    actor: Actor,
    pid: str,
    s: _Subject,
    records: list[dict[str, Any]],
    source: str,
    study: str,
) -> int:
    """Keep the source's audit ``records`` of subject ``s`` and the values imported (the
    common ancestor of a later import); the number of records kept."""
    keyed = [r | {"subject_key": s.key, "study_oid": study} for r in records]
    return sv.record_source_history(
        engine,
        actor,
        pid,
        keyed,
        source=source,
        imported={"subject_key": s.key, "study_oid": study, "forms": _form_values(s)},
    )


#: Items naming the source system's users: the database here has its own users, so they are
#: not compared (an imported checklist is completed by the importing user).
_SOURCE_SYSTEM_ITEMS = frozenset({"COMPLETED_BY"})


def _form_key(f: _Form) -> tuple[str, str, str]:
    return (f.event, f.form, f.repeat or "")


def _key_text(f: _Form) -> str:
    return "/".join(_form_key(f))


def _plain(value: Any) -> Any:
    """A typed ODM value as JSON keeps it (dates and times as ISO text)."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _form_values(s: _Subject) -> dict[str, dict[str, Any]]:
    """Every form of a subject, ``{"<event>/<form>/<repeat>": {item: JSON value}}``: what an
    import keeps as the common ancestor of a later import (see :func:`_compare_known`)."""
    return {_key_text(f): {n: _plain(v) for n, v in sorted(f.values.items())} for f in s.forms}


@dataclass(frozen=True)
class _Change:
    """The source's new values of one stored form of a participant already here."""

    subject: str
    participant: str
    form: _Form
    assessment_id: int
    version: int
    answers: dict[str, Any]
    items: tuple[tuple[str, Any, Any], ...]  # (item, value here, value in the file)

    def describe(self) -> str:
        return ", ".join(
            f"{self.participant} {self.form.event} {self.form.form} {item}: {old!r} → {new!r}"
            for item, old, new in self.items
        )


@dataclass
class _Known:
    """What a file holds about participants already here."""

    new: list[_Subject]
    unchanged: list[str]
    changes: list[_Change]
    changed: list[_Subject]
    local: dict[str, str]
    kept: dict[str, set[int]]


def _imported_before(
    engine: Engine, study: str, here: set[str]
) -> tuple[dict[str, str], dict[str, dict[str, dict[str, Any]]], dict[str, set[int]]]:
    """From the provenance rows of earlier imports: SubjectKey → study ID given, SubjectKey →
    the forms' values as last imported, SubjectKey → the source audit record IDs kept."""
    imported_as: dict[str, str] = {}
    values: dict[str, dict[str, dict[str, Any]]] = {}
    kept: dict[str, set[int]] = {}
    for e in sv.audit_log(engine, table=sv.SOURCE_AUDIT_TABLE):
        v = e.new_value
        if not isinstance(v, dict) or v.get("study_oid") != study or not v.get("subject_key"):
            continue
        key = str(v["subject_key"])
        if v.get("imported_as") not in here:
            continue
        imported_as[key] = str(v["imported_as"])
        if e.field == sv.IMPORTED_FIELD and isinstance(v.get("forms"), dict):
            values[key] = v["forms"]  # the last import's values win (rows are in order)
        elif e.field == "source" and v.get("id") is not None:
            kept.setdefault(key, set()).add(int(v["id"]))
    return imported_as, values, kept


def _compare_known(engine: Engine, protocol: Protocol, subjects: list[_Subject]) -> _Known:
    """Which subjects are new, already here with the same data, or here with values the
    source changed since the last import.

    A subject imported before (found by the provenance kept then: study OID and SubjectKey,
    whatever study ID it was given) or whose SubjectKey is the study ID of a participant here
    is that participant: the database is exported as an ODM snapshot and read back, and each
    item of the subject's forms is compared three ways — the file, this database, and the
    value the last import wrote (kept with the history). The same value in the file and here:
    untouched. Here as last imported, other in the file: changed in the source, applied as an
    audited correction (only the answers of a scale form; any other changed item is refused).
    Changed here since the last import and other in the file: a conflict, refused naming
    subject, form and item. A form only in the file or only here is refused. For a form no
    import wrote (a participant entered here), the stored value counts as the last imported
    one while the form was never edited here (version 1). Nothing is written by the check."""
    import tempfile

    from remit.interop.odm.files import write_odm_files

    reader = Actor.system("remit-odm-import")
    data = sv.build_trial_data(engine, actor=reader)
    here = set(data.participants["participant_id"].astype(str))
    imported_as, last, kept = _imported_before(engine, oid("ST", protocol.study.id), here)
    local = {s.key: imported_as.get(s.key, s.key) for s in subjects}
    known = [s for s in subjects if local[s.key] in here]
    if not known:
        return _Known(subjects, [], [], [], local, kept)
    with tempfile.TemporaryDirectory(prefix="remit-odm-") as folder:
        [path] = write_odm_files(engine, protocol, folder, data=data, variants=("snapshot",))
        stored = {s.key: s for s in read_odm(path, protocol)}
    unchanged: list[str] = []
    changed: list[_Subject] = []
    changes: list[_Change] = []
    for s in known:
        pid = local[s.key]
        found = _subject_changes(engine, protocol, s, stored[pid], pid, last.get(s.key))
        if found:
            changed.append(s)
            changes.extend(found)
        else:
            unchanged.append(s.key)
    new = [s for s in subjects if local[s.key] not in here]
    return _Known(new, unchanged, changes, changed, local, kept)


def _refuse_change(where: str, message: str) -> InputError:
    return _fail(
        where,
        message,
        hint="nothing was written; record the change in Remit with its reason, or resolve it "
        "in the source and export again",
    )


def _subject_changes(
    engine: Engine,
    protocol: Protocol,
    theirs: _Subject,
    ours: _Subject,
    pid: str,
    last: Mapping[str, Mapping[str, Any]] | None,
) -> list[_Change]:
    """The changes of one subject already here (see :func:`_compare_known`); raise on a
    conflict or on a change that is not imported."""
    mine = {_form_key(f): f for f in ours.forms}
    given = {_form_key(f): f for f in theirs.forms}
    subject = f"subject {theirs.key}"
    records: list[Any] | None = None
    out: list[_Change] = []
    for key in sorted(set(mine) | set(given)):
        a, b = given.get(key), mine.get(key)
        if a is None or b is None:
            where = (a or b).where  # type: ignore[union-attr]
            raise _refuse_change(
                subject,
                f"is already in this database with other data ({where}: "
                f"{'only in the file' if b is None else 'only in this database'}); a form "
                "added or removed in the source is not imported into a participant already here",
            )
        base = None if last is None else last.get(_key_text(a))
        differing = [
            n
            for n in sorted(set(a.values) | set(b.values))
            if n not in _SOURCE_SYSTEM_ITEMS
            and _plain(a.values.get(n)) != _plain(b.values.get(n))
            # as last imported in the file: changed here only, the source has no change
            and (base is None or _plain(a.values.get(n)) != base.get(n))
        ]
        if not differing:
            continue
        first = differing[0]
        item_where = f"{a.where}, item IT.{a.form.upper()}.{first}"
        meta = {n for n, _, _ in FORM_META}
        if (
            a.form in fixed_forms(protocol)
            or a.values.get("TIMEPOINT")
            or any(n in meta for n in differing)
        ):
            raise _refuse_change(
                f"{subject}",
                f"is already in this database with other data ({item_where}: "
                f"{a.values.get(first)!r} in the file, {b.values.get(first)!r} here); only "
                "the answers of a visit's scale form are imported as an audited change",
            )
        if records is None:
            records = sv.list_assessments(engine, Actor.system("remit-odm-import"), pid)
        record = next(
            r
            for r in records
            if r.visit_code == a.event and r.scale == a.form.lower() and r.timepoint is None
        )
        items: list[tuple[str, Any, Any]] = []
        for n in differing:
            if base is not None:
                edited_here = _plain(b.values.get(n)) != base.get(n)
            else:  # no import wrote this form: changed here if ever edited
                edited_here = record.version > 1
            if edited_here:
                raise _refuse_change(
                    f"{a.where}, item IT.{a.form.upper()}.{n}",
                    "conflict: changed in the source ("
                    + ("" if base is None else f"{base.get(n)!r} → ")
                    + f"{a.values.get(n)!r}) and in this database since the last import "
                    f"(now {b.values.get(n)!r}"
                    + (", never imported" if base is None else f", imported as {base.get(n)!r}")
                    + ")",
                )
            items.append((n, b.values.get(n), a.values.get(n)))
        if record.status in ("signed", "locked"):
            raise _refuse_change(
                item_where,
                f"changed in the source, but form {record.id} here is {record.status}",
            )
        answers = dict(record.answers) | {n.lower(): a.values.get(n) for n in differing}
        out.append(_Change(theirs.key, pid, a, record.id, record.version, answers, tuple(items)))
    return out


def _change_reason(source: str, records: list[dict[str, Any]]) -> str:
    """The reason of an imported change: the file and the source's reasons for changes of
    forms it holds that were not kept before."""
    reasons = list(
        dict.fromkeys(
            str(r["reason"])
            for r in records
            if r.get("reason") and str(r.get("record", "")).startswith("assessment/")
        )
    )
    told = "; ".join(reasons) if reasons else "no reason given in the source"
    return f"ODM import {source} — changed in source: {told}"


def _apply_changes(
    engine: Engine,
    protocol: Protocol,
    changes: list[_Change],
    actors: Mapping[str, Actor],
    reasons: Mapping[str, str],
) -> int:
    """Each change as an edit of its form (a new version, audited, the safety rules run again
    as for an edit typed in); the number of new alerts."""
    alerts = 0
    for c in changes:
        planned = [
            a for a in protocol.assessments_at(c.form.event) if a.scale == c.form.form.lower()
        ]
        actor = _pick(actors, RATER_ROLES[planned[0].rater], f"correct {c.form.form}")
        before = {a.id for a in sv.get_assessment(engine, actor, c.assessment_id).alerts}
        record = sv.update_assessment(
            engine,
            actor,
            c.assessment_id,
            c.answers,
            expected_version=c.version,
            reason=reasons[c.subject],
        )
        alerts += len({a.id for a in record.alerts} - before)
    return alerts


def _import_subject(
    engine: Engine,
    protocol: Protocol,
    s: _Subject,
    actors: Mapping[str, Actor],
    inv: Actor,
    counts: dict[str, int],
) -> tuple[str, int]:
    subject = s.of("SUBJECT")[0].values
    person = sv.screen_participant(
        engine,
        inv,
        site=subject.get("SITE"),
        sex=subject.get("SEX"),
        screened_at=subject.get("SCREENED_AT"),
        simulated=bool(subject.get("SIMULATED")),
        race=subject.get("RACE"),
        ethnicity=subject.get("ETHNICITY"),
    )
    pid = person.participant_id
    counts["participants"] += 1
    if subject.get("CONSENTED_AT") is not None:
        sv.record_consent(
            engine,
            inv,
            pid,
            version=str(subject.get("CONSENT_VERSION")),
            components=[c for c in str(subject.get("CONSENT_COMPONENTS") or "").split(",") if c],
            consented_at=subject["CONSENTED_AT"],
        )
    alerts = 0
    _conmeds(engine, s, pid, actors, counts)
    for e in protocol.events:
        day = subject.get(f"ANCHOR_{e.code}".upper())
        if day is not None:
            sv.set_anchor_date(engine, inv, pid, e.code, day)
    eligibility = s.of("ELIGIBILITY")
    checked = not eligibility
    confirm_at = None if protocol.enrolment is None else protocol.enrolment.confirm_at
    for code in protocol.visit_codes:
        visit = protocol.visit(code)
        if not checked and visit.kind != "screening":
            _check(engine, inv, pid, eligibility[0].values)
            checked = True
        found = s.of("VISIT", code)
        if found and found[0].values.get("VISIT_STATUS") == "missed":
            reason = found[0].values.get("MISSED_REASON") or "missed (imported from ODM)"
            sv.mark_visit_missed(engine, inv, pid, code, reason=reason)
            counts["visits"] += 1
            continue
        dates = [f.values.get("VISIT_DATE") for f in found]
        if not dates or dates[0] is None:
            continue
        sv.record_visit(engine, inv, pid, code, dates[0], window_reason=IMPORTED_WINDOW_REASON)
        counts["visits"] += 1
        if visit.kind == "enrolment" and subject.get("ENROLLED_AT") is not None:
            sv.enrol(engine, inv, pid, arm=subject.get("ARM"), enrolled_at=subject["ENROLLED_AT"])
        confirmed = subject.get("ENROLMENT_CONFIRMED_AT")
        if confirmed is not None and code == confirm_at:
            # checked again on the imported forms (the baseline MADRS at V3)
            sv.confirm_enrolment(engine, inv, pid, confirmed_at=confirmed)
        alerts += _visit_forms(engine, protocol, s, code, pid, actors, counts)
    if not checked:
        _check(engine, inv, pid, eligibility[0].values)
    for f in sorted(s.of("AE"), key=lambda f: int(f.repeat or 0)):
        who = _pick(actors, (Role.INVESTIGATOR, Role.THERAPIST), "record adverse events")
        alerts += _adverse_event(engine, who, pid, f.values)
        counts["adverse_events"] += 1
    _deviations(engine, s, pid, actors, counts)
    status = subject.get("STATUS")
    now = sv.get_participant(engine, inv, pid).status
    if status == S.WITHDRAWN:
        sv.withdraw(engine, inv, pid, reason=subject.get("STATUS_REASON") or "withdrawn")
    elif status in (S.IN_FOLLOW_UP, S.COMPLETED, S.LOST_TO_FOLLOW_UP) and status != now:
        if status == S.COMPLETED and now != S.IN_FOLLOW_UP:
            sv.change_status(engine, inv, pid, S.IN_FOLLOW_UP)
        sv.change_status(engine, inv, pid, status, reason=subject.get("STATUS_REASON"))
    return pid, alerts


def _repeat(f: _Form) -> int:
    return int(f.repeat) if f.repeat and f.repeat.isdigit() else 0


def _conmeds(
    engine: Engine, s: _Subject, pid: str, actors: Mapping[str, Actor], counts: dict[str, int]
) -> None:
    """The participant's concomitant medications, as they stand (stop date, taper steps);
    recorded before any visit so the washout rules judge the doses as in the source."""
    for f in sorted(s.of("CONMED"), key=_repeat):
        v = f.values
        steps: list[tuple[str, str]] = []
        for step in str(v.get("TAPER_STEPS") or "").split(";"):
            day, _, dose = step.partition("=")
            if day.strip():
                steps.append((day.strip(), dose.strip()))
        sv.record_conmed(
            engine,
            _pick(actors, (Role.INVESTIGATOR, Role.THERAPIST), "record medications"),
            pid,
            name=v["NAME"],
            atc_code=v.get("ATC_CODE"),
            dose=v.get("DOSE"),
            route=v.get("ROUTE"),
            indication=v.get("INDICATION"),
            start_date=v.get("START_DATE"),
            stop_date=v.get("STOP_DATE"),
            taper_steps=steps or None,
        )
        counts["conmeds"] += 1


def _deviations(
    engine: Engine, s: _Subject, pid: str, actors: Mapping[str, Actor], counts: dict[str, int]
) -> None:
    """The deviations people logged; those Remit records itself (out-of-window visits,
    overrides) were made again by the services during the import and are not repeated."""
    for f in sorted(s.of("DEVIATION"), key=_repeat):
        v = f.values
        if v["CATEGORY"] in AUTOMATIC_CATEGORIES:
            continue
        sv.record_deviation(
            engine,
            _pick(actors, (Role.INVESTIGATOR, Role.DATA_MANAGER), "log deviations"),
            pid,
            category=v["CATEGORY"],
            description=v["DESCRIPTION"],
            occurred_date=v["OCCURRED_DATE"],
            severity=v.get("SEVERITY") or "minor",
            visit_code=v.get("VISIT"),
        )
        counts["deviations"] += 1


def _check(engine: Engine, inv: Actor, pid: str, values: Mapping[str, Any]) -> None:
    data = {k.lower(): v for k, v in values.items() if v is not None}
    sv.check_eligibility(engine, inv, pid, data)


def _visit_forms(
    engine: Engine,
    protocol: Protocol,
    s: _Subject,
    code: str,
    pid: str,
    actors: Mapping[str, Actor],
    counts: dict[str, int],
) -> int:
    alerts = 0
    forms = [
        f
        for f in s.forms
        if f.event == code and f.form not in fixed_forms(protocol) and not f.values.get("TIMEPOINT")
    ]
    for f in sorted(forms, key=lambda f: f.values.get("ASSESSED_AT") or datetime.min):
        planned = [a for a in protocol.assessments_at(code) if a.scale == f.form.lower()]
        actor = _pick(actors, RATER_ROLES[planned[0].rater], f"enter {f.form}")
        record = sv.record_assessment(
            engine,
            actor,
            pid,
            code,
            f.form.lower(),
            _answers(f),
            version=f.values.get("VERSION"),
            assessed_at=f.values.get("ASSESSED_AT"),
        )
        alerts += len(record.alerts)
        counts["forms"] += 1
    staff = _pick(actors, (Role.INVESTIGATOR, Role.THERAPIST), "record results and checklists")
    # results before the checklist, which judges them, and the checklist before the dose
    for f in sorted(s.of("RESULT", code), key=lambda f: f.values["COLLECTED_AT"]):
        v = f.values
        result = sv.record_result(
            engine, staff, pid, code, v["TEST_CODE"], v["VALUE"], collected_at=v["COLLECTED_AT"]
        )
        alerts += len(result.alerts)
        counts["results"] += 1
    session_plan = protocol.dosing_session(code)
    if session_plan is None:
        return alerts
    steps: list[tuple[datetime, int, _Form]] = []
    for f in s.forms:
        if f.event != code:
            continue
        if f.form == "VITALS":
            steps.append((f.values["MEASURED_AT"], 1, f))
        elif f.form == "CHECKLIST":
            steps.append((f.values["COMPLETED_AT"], 2, f))
        elif f.form == "DOSE":
            when = f.values.get("GIVEN_AT")
            steps.append((when or datetime.max.replace(tzinfo=None), 3, f))
        elif f.values.get("TIMEPOINT"):
            steps.append((f.values["ASSESSED_AT"], 4, f))
    if not steps:
        return alerts
    timed = [t for t, _, _ in steps if t.tzinfo is not None]
    sv.start_dosing_session(engine, staff, pid, code, started_at=min(timed))
    for _, kind, f in sorted(steps, key=lambda x: (x[0].replace(tzinfo=None), x[1])):
        v = f.values
        if kind == 1:
            rec = sv.record_vitals(
                engine,
                staff,
                pid,
                code,
                measured_at=v["MEASURED_AT"],
                values={s.code: v.get(s.testcd) for s in VITAL_SIGNS.values()},
            )
            alerts += len(rec.alerts)
            counts["vitals"] += 1
        elif kind == 2:
            _complete_checklist(engine, protocol, code, pid, staff, v)
            counts["checklists"] += 1
        elif kind == 3:
            sv.record_dose(
                engine,
                _pick(actors, (Role.INVESTIGATOR,), "record doses"),
                pid,
                code,
                kind=v["KIND"],
                dose_mg=v["DOSE_MG"],
                status=v["STATUS"],
                given_at=v.get("GIVEN_AT"),
                withheld_reason=v.get("WITHHELD_REASON"),
            )
            counts["doses"] += 1
        else:
            sv.record_vas(
                engine, staff, pid, code, v["TIMEPOINT"], _answers(f), assessed_at=v["ASSESSED_AT"]
            )
            counts["forms"] += 1
    if session_plan.discharge is not None and session_plan.discharge.investigator_sign_off:
        # the source ended the session, so its discharge was signed off there; ODM does not
        # carry the sign-off, which is recorded here by the importing investigator
        sv.sign_off_discharge(
            engine,
            _pick(actors, (Role.INVESTIGATOR,), "sign the discharge off"),
            pid,
            code,
            signed_at=max(timed),
            note="imported from ODM: the session ended in the source study",
        )
    sv.end_dosing_session(engine, staff, pid, code, ended_at=max(timed))
    return alerts


def _complete_checklist(
    engine: Engine, protocol: Protocol, code: str, pid: str, staff: Actor, v: Mapping[str, Any]
) -> None:
    """Complete the checklist again as it was completed in the source: the confirm items
    ticked, the items a person marked not applicable (with their reasons), the override
    reason. The other items are judged again from the data imported before it."""
    planned = protocol.dosing_session(code)
    items = planned.checklist.items if planned is not None and planned.checklist else ()
    status = {i.id: v.get(f"{i.id.upper()}_STATUS") for i in items}
    sv.complete_checklist(
        engine,
        staff,
        pid,
        code,
        completed_at=v["COMPLETED_AT"],
        confirmed=[
            i.id
            for i in items
            if i.kind == ChecklistKind.CONFIRM and status[i.id] == ItemStatus.PASS
        ],
        # marked by a person (with a reason); an item that does not apply to the participant
        # (a pregnancy test of a man) is not applicable from the data and is not marked
        not_applicable={
            i.id: str(v[f"{i.id.upper()}_REASON"])
            for i in items
            if status[i.id] == ItemStatus.NOT_APPLICABLE
            and v.get(f"{i.id.upper()}_REASON") is not None
        },
        override_reason=v.get("OVERRIDE_REASON"),
    )
