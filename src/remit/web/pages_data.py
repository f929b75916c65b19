"""Data queries, electronic signatures, audit history, identity, the analysis report, exports
and user administration."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse, Response

from remit import services as sv
from remit.errors import (
    InputError,
    MfaRequiredError,
    NotFoundError,
    PermissionDeniedError,
    TooManyAttemptsError,
)
from remit.interop import EXPORT_FORMATS, FORMATS, export_trial
from remit.reports import render_report
from remit.web.core import (
    ID,
    PID,
    TABLE,
    CheckedForm,
    PageSession,
    client_of,
    login_policy,
    page_requires,
    render,
    state_of,
    web_allowed,
)
from remit.web.page_forms import (
    ActiveForm,
    ClosingForm,
    MessageForm,
    PurposeForm,
    QueryForm,
    SignForm,
    UserForm,
    parse_form,
)

router = APIRouter(include_in_schema=False)

#: Records that can be signed from the web app.
SIGNABLE = ("assessment", "adverse_event")
_EXPORT_NAME = re.compile(r"^export-\d{8}T\d{6}Z-[0-9a-f]{6}\.zip$")


def _go(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- queries --------------------------------------------------------------------------------


@router.get("/queries", dependencies=[page_requires("view_participants")])
def queries(request: Request, session: PageSession) -> Response:
    """Data queries: open, answered and closed."""
    found = sv.list_queries(state_of(request).engine, session.actor)
    role = session.actor.role
    return render(
        request,
        "queries.html",
        title="Data queries",
        queries=found,
        may_answer=web_allowed("answer_query", role),
        may_close=web_allowed("close_query", role),
    )


@router.post("/queries", dependencies=[page_requires("open_query")])
def query_open(request: Request, checked: CheckedForm, session: PageSession) -> Response:
    """Raise a question about one field of a record."""
    body = parse_form(QueryForm, checked)
    sv.open_query(
        state_of(request).engine,
        session.actor,
        body.record_table,
        body.record_id,
        field=body.field,
        text=body.text,
    )
    return _go("/queries")


@router.post("/queries/{query_id}/answer", dependencies=[page_requires("answer_query")])
def query_answer(
    request: Request, checked: CheckedForm, session: PageSession, query_id: ID
) -> Response:
    """Answer an open query."""
    body = parse_form(MessageForm, checked)
    sv.answer_query(state_of(request).engine, session.actor, query_id, body.message)
    return _go(f"/queries#query-{query_id}")


@router.post("/queries/{query_id}/close", dependencies=[page_requires("close_query")])
def query_close(
    request: Request, checked: CheckedForm, session: PageSession, query_id: ID
) -> Response:
    """Close a query."""
    body = parse_form(ClosingForm, checked)
    sv.close_query(state_of(request).engine, session.actor, query_id, body.message)
    return _go(f"/queries#query-{query_id}")


# --- signatures and audit -------------------------------------------------------------------


def _signable(table: str) -> None:
    if table not in SIGNABLE:
        raise NotFoundError(
            f"records of {table!r} are not signed here", expected=" or ".join(SIGNABLE)
        )


def _sign_page(
    request: Request,
    session: PageSession,
    table: str,
    record_id: int,
    error: str | None = None,
    status: int = 200,
) -> Response:
    engine = state_of(request).engine
    return render(
        request,
        "sign.html",
        status_code=status,
        title="Electronic signature",
        table=table,
        record_id=record_id,
        preview=sv.signing_preview(engine, session.actor, table, record_id),
        signatures=sv.signatures_of(engine, session.actor, table, record_id),
        error=error,
    )


@router.get("/sign/{table}/{record_id}", dependencies=[page_requires("sign")])
def sign_form(request: Request, session: PageSession, table: TABLE, record_id: ID) -> Response:
    """What is signed (participant, visit, form, every answer, score, version, SHA-256), the
    meanings that fit the signer, and the password again."""
    _signable(table)
    return _sign_page(request, session, table, record_id)


@router.post("/sign/{table}/{record_id}", dependencies=[page_requires("sign")])
def sign_submit(
    request: Request, form: CheckedForm, session: PageSession, table: TABLE, record_id: ID
) -> Response:
    """Check the password again and sign the record's current content."""
    body = parse_form(SignForm, form)
    _signable(table)
    state = state_of(request)
    password = body.password
    try:
        own = sv.check_password(
            state.engine,
            session.actor,
            password,
            client=client_of(request),
            policy=login_policy(state),
            purpose=f"sign {table} {record_id}",
            totp_code=body.totp_code,
        )
    except MfaRequiredError:
        return _sign_page(
            request,
            session,
            table,
            record_id,
            "Enter your authenticator app's code too: nothing was signed.",
            status=401,
        )
    except TooManyAttemptsError as error:
        return _sign_page(
            request,
            session,
            table,
            record_id,
            "Too many wrong passwords: nothing was signed. "
            f"Try again in {int(error.retry_after_s // 60) + 1} minutes.",
            status=429,
        )
    if not own:
        return _sign_page(
            request,
            session,
            table,
            record_id,
            "The password (or the authenticator code) is not right: nothing was signed.",
            status=401,
        )
    try:
        sv.sign(
            state.engine,
            session.actor,
            table,
            record_id,
            password=password,
            meaning=body.meaning,
        )
    except PermissionDeniedError as refused:
        return _sign_page(
            request, session, table, record_id, f"{refused} Nothing was signed.", status=403
        )
    if table == "assessment":
        return _go(f"/assessments/{record_id}?saved=1")
    return _go(f"/sign/{table}/{record_id}")


@router.get("/audit/{table}/{record_id}", dependencies=[page_requires("view_participants")])
def audit(request: Request, session: PageSession, table: TABLE, record_id: ID) -> Response:
    """Every change of one record: who, role, when, field, old and new value, reason."""
    entries = sv.audit_history(state_of(request).engine, session.actor, table, record_id)
    return render(
        request,
        "audit.html",
        title=f"Audit history of {table} {record_id}",
        table=table,
        record_id=record_id,
        entries=audit_rows(entries),
    )


def _shown(value: object) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def audit_rows(entries: list[sv.AuditEntry]) -> list[dict[str, object]]:
    """Audit rows as shown: a change of a mapping (a form's answers) becomes one row per key
    that changed, so the page shows ``answers.item: old → new``."""
    rows: list[dict[str, object]] = []
    for e in entries:
        base = {
            "occurred_at": e.occurred_at,
            "username": e.username,
            "role": e.role,
            "action": e.action,
            "reason": e.reason,
        }
        old, new = e.old_value, e.new_value
        if e.action == "update" and isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new), key=str):
                if old.get(key) != new.get(key):
                    rows.append(
                        base
                        | {
                            "field": f"{e.field}.{key}",
                            "old": _shown(old.get(key)),
                            "new": _shown(new.get(key)),
                        }
                    )
            continue
        rows.append(base | {"field": e.field or "", "old": _shown(old), "new": _shown(new)})
    return rows


# --- identity -------------------------------------------------------------------------------


def _identity_reader(request: Request, session: PageSession, pid: PID) -> None:
    """Route guard of the identity pages: a role that may not read identities is refused by
    the service, which logs the attempt (a plain route refusal would leave no trace)."""
    if not web_allowed("read_identity", session.actor.role):
        sv.read_identity(
            state_of(request).engine, session.actor, pid, purpose="identity page (refused role)"
        )
        raise PermissionDeniedError(f"{session.actor.role} may not read identities")


_identity_reader.operation = "read_identity"  # type: ignore[attr-defined]
_identity_reader.surface = "page"  # type: ignore[attr-defined]


@router.get("/participants/{pid}/identity", dependencies=[Depends(_identity_reader)])
def identity_form(request: Request, session: PageSession, pid: PID) -> Response:
    """Ask why the identity is read (every read is logged)."""
    person = sv.get_participant(state_of(request).engine, session.actor, pid)
    return render(request, "identity.html", title="Identity", person=person, identity=None)


@router.post("/participants/{pid}/identity", dependencies=[Depends(_identity_reader)])
def identity_show(
    request: Request, checked: CheckedForm, session: PageSession, pid: PID
) -> Response:
    """Show the identity (the read is written to the access log)."""
    body = parse_form(PurposeForm, checked)
    state = state_of(request)
    # The identity first: a refusal (role or site) is logged before anything else is read.
    found = sv.read_identity(state.engine, session.actor, pid, purpose=body.purpose)
    person = sv.get_participant(state.engine, session.actor, pid)
    return render(request, "identity.html", title="Identity", person=person, identity=found)


# --- report ---------------------------------------------------------------------------------


def _scope_dir(request: Request, session: PageSession, kind: str) -> Path:
    """Where ``kind`` (``report`` or ``exports``) built for the user's scope is kept.

    A report or export holds what its builder may see: a study-wide user's holds every site.
    So each scope (all sites, or one site) has its own folder, readable by the server's user
    only, and a user reads and lists only the folder of their own scope: a site-bound user
    never gets what a study-wide user built (issue 13).
    """
    site = session.actor.site_id
    scope = "all-sites" if site is None else f"site-{int(site)}"
    root = state_of(request).work_dir
    folder = root / scope / kind
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in (root / scope, folder):
        path.mkdir(mode=0o700, exist_ok=True)
        path.chmod(0o700)
    return folder


@router.get("/report", dependencies=[page_requires("view_report")])
def report_page(request: Request, session: PageSession) -> Response:
    """The analysis report: when it was built, a button to build it again, a link to it."""
    path = _scope_dir(request, session, "report") / "report.html"
    built = datetime.fromtimestamp(path.stat().st_mtime, UTC) if path.exists() else None
    return render(request, "report.html", title="Analysis report", built=built)


@router.post("/report", dependencies=[page_requires("view_report")])
def report_build(request: Request, checked: CheckedForm, session: PageSession) -> Response:
    """Build the trial's analysis dataset, run the analysis plan and render the report."""
    from remit.analysis import run_analysis_plan

    state = state_of(request)
    data = sv.build_trial_data(state.engine, actor=session.actor)
    result = run_analysis_plan(data, state.protocol)
    out = _scope_dir(request, session, "report")
    render_report(result, data, state.protocol, out, pdf=False)
    return _go("/report")


@router.get("/report/view", dependencies=[page_requires("view_report")])
def report_view(request: Request, session: PageSession) -> Response:
    """The rendered report (HTML)."""
    path = _scope_dir(request, session, "report") / "report.html"
    if not path.exists():
        raise NotFoundError("the report has not been built yet", hint="build it on /report")
    return FileResponse(path, media_type="text/html")


# --- exports --------------------------------------------------------------------------------


@router.get("/exports", dependencies=[page_requires("export_trial")])
def exports(request: Request, session: PageSession) -> Response:
    """Exports: choose formats; download earlier exports."""
    folder = _scope_dir(request, session, "exports")
    done = (
        sorted((p.name for p in folder.glob("export-*.zip")), reverse=True)
        if folder.exists()
        else []
    )
    return render(request, "exports.html", title="Exports", formats=EXPORT_FORMATS, done=done)


@router.post("/exports", dependencies=[page_requires("export_trial")])
def export_run(request: Request, form: CheckedForm, session: PageSession) -> Response:
    """Export the trial (pseudonymised) in the chosen formats, as one zip file."""
    chosen = [f for f in FORMATS if form.get(f"format_{f}")]
    if not chosen:
        raise InputError("no export format chosen", expected="one or more of " + ", ".join(FORMATS))
    state = state_of(request)
    folder = _scope_dir(request, session, "exports")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"export-{stamp}-{uuid.uuid4().hex[:6]}"
    out = folder / name
    export_trial(state.engine, out, formats=chosen, actor=session.actor)
    shutil.make_archive(str(out), "zip", root_dir=out)
    shutil.rmtree(out)
    return _go(f"/exports#{name}")


@router.get("/exports/{name}", dependencies=[page_requires("export_trial")])
def export_download(request: Request, session: PageSession, name: str) -> Response:
    """Download one export."""
    if not _EXPORT_NAME.match(name):
        raise NotFoundError(f"no export called {name!r}")
    path = _scope_dir(request, session, "exports") / name
    if not path.exists():
        raise NotFoundError(f"no export called {name!r}")
    return FileResponse(path, media_type="application/zip", filename=name)


# --- users ----------------------------------------------------------------------------------


def _users_page(
    request: Request, session: PageSession, reset: sv.PasswordResetRecord | None = None
) -> Response:
    state = state_of(request)
    from remit.services.access import ROLES

    return render(
        request,
        "users.html",
        title="Users and roles",
        users=sv.list_users(state.engine, session.actor),
        roles=ROLES,
        sites=[s.code for s in state.protocol.study.sites],
        reset=reset,
        may_set_active=web_allowed("set_user_active", session.actor.role),
        may_reset=web_allowed("reset_password", session.actor.role),
    )


@router.get("/admin/users", dependencies=[page_requires("add_user")])
def users(request: Request, session: PageSession) -> Response:
    """Users and their roles; add, deactivate or reactivate a user, reset a password."""
    return _users_page(request, session)


USERNAME = Annotated[str, PathParam(pattern=r"^[^\s/]{1,100}$")]


@router.post("/admin/users/{username}/active", dependencies=[page_requires("set_user_active")])
def user_active(
    request: Request, checked: CheckedForm, session: PageSession, username: USERNAME
) -> Response:
    """Deactivate (``active=no``) or reactivate (``active=yes``) a user."""
    body = parse_form(ActiveForm, checked)
    sv.set_user_active(
        state_of(request).engine,
        session.actor,
        username,
        body.active == "yes",
        reason=body.reason,
    )
    return _go("/admin/users")


@router.post("/admin/users/{username}/password", dependencies=[page_requires("reset_password")])
def user_reset_password(
    request: Request, checked: CheckedForm, session: PageSession, username: USERNAME
) -> Response:
    """Give a user a generated temporary password, shown once on the page that answers (they
    must change it at their next login)."""
    done = sv.reset_password(state_of(request).engine, session.actor, username)
    return _users_page(request, session, reset=done)


@router.post("/admin/users", dependencies=[page_requires("add_user")])
def user_add(request: Request, checked: CheckedForm, session: PageSession) -> Response:
    """Add a user with one role (at a site or study-wide)."""
    body = parse_form(UserForm, checked)
    sv.add_user(
        state_of(request).engine,
        session.actor,
        body.username,
        body.password,
        [(body.role, body.site)],
        full_name=body.full_name,
        email=body.email,
    )
    return _go("/admin/users")
