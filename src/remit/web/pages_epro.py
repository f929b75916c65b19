"""Participant self-report pages (ePRO): the participant's forms behind a single-use link, the
site's tablet hand-over, and the staff page that issues links.

``/epro/<token>`` needs no account: the token is the authority (:mod:`remit.services.epro`).
The pages are in the participant's language (``nb`` or ``en``, gettext catalogues of
:mod:`remit.i18n`), one ``fieldset``/``legend`` per question, large tap targets, errors listed
at the top and linked to their question (``aria-describedby``). They show no study ID and no
score.

A tablet hand-over (``/handover``) runs in the staff member's own logged-in session: while it
runs every other page of that session redirects back to it, and only the staff member's
password (``/handover/end``) ends it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from remit import services as sv
from remit.errors import AnswerError, InputError, TooManyAttemptsError
from remit.i18n import LANGUAGES, translations
from remit.scales import load_scale
from remit.services.epro import DEFAULT_LANGUAGE, EproForms, EproLinkError, missing_answers
from remit.web.core import (
    CODE,
    HANDOVER_END,
    HANDOVER_PAGE,
    PID,
    SESSION_COOKIE,
    CheckedForm,
    PageSession,
    client_of,
    login_policy,
    page_requires,
    render,
    state_of,
)
from remit.web.forms import form_fields, read_answers, scale_title
from remit.web.sessions import WebSession

router = APIRouter()

#: A link's token in a path (what ``secrets.token_urlsafe(32)`` makes, with room to spare).
TOKEN = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_-]{16,100}$")]
LANG = Annotated[str | None, Query(pattern=r"^(nb|en)$")]
#: The language the scale definitions' item texts are written in (no Norwegian texts of the
#: instruments are held: they are shown in English and marked, never translated here).
ITEM_TEXT_LANGUAGE = "en"


@cache
def participant_templates(language: str) -> Environment:
    """The Jinja2 environment of the participant pages in ``language`` (gettext, autoescaped)."""
    env = Environment(
        loader=PackageLoader("remit.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


@dataclass(frozen=True)
class Question:
    """One question of a participant form: its field name ``<scale>.<item>``, number, text,
    answer options (value, text) or input type, and whether it must be answered."""

    key: str
    ref: str
    label: str
    options: tuple[tuple[str, str], ...]
    input_type: str
    inputmode: str | None
    required: bool


@dataclass(frozen=True)
class ScaleForm:
    """A scale's questions as the participant page shows them."""

    code: str
    title: str
    text_language: str
    questions: tuple[Question, ...]


def _options(field: Any, language: str) -> tuple[tuple[str, str], ...]:
    if field.kind == "boolean":
        _ = translations(language).gettext
        return (("yes", _("Yes")), ("no", _("No")))
    if field.options:
        return tuple(field.options)
    if field.anchors:
        return tuple(field.anchors)
    small = field.min is not None and field.max is not None and field.max - field.min <= 10
    if field.kind == "integer" and small:
        return tuple((str(v), "") for v in range(int(field.min), int(field.max) + 1))
    return ()


def scale_form(scale: str, language: str) -> ScaleForm:
    """The questions of ``scale`` (its items, free text aside) for the participant page."""
    questions = []
    for f in form_fields(scale):
        if f.kind == "text":
            continue
        options = _options(f, language)
        questions.append(
            Question(
                key=f"{scale}.{f.name}",
                ref=f.ref,
                label=f.label,
                options=options,
                input_type="time" if f.kind == "time" else "text",
                inputmode={"integer": "numeric", "number": "decimal"}.get(f.kind),
                required=f.required and load_scale(scale).item(f.name).skip_when is None,
            )
        )
    return ScaleForm(scale, scale_title(scale), ITEM_TEXT_LANGUAGE, tuple(questions))


def read_forms(
    request: Request, scales: Sequence[str], submitted: Mapping[str, str], language: str
) -> tuple[dict[str, dict[str, object]], dict[str, str]]:
    """The answers per scale and the message of every question to correct (field name →
    message): answers the scale refuses and required questions left blank."""
    _ = translations(language).gettext
    protocol = state_of(request).protocol
    answers: dict[str, dict[str, object]] = {}
    errors: dict[str, str] = {}
    for scale in scales:
        prefix = f"{scale}."
        own = {k[len(prefix) :]: v for k, v in submitted.items() if k.startswith(prefix)}
        found, refused = read_answers(scale, None, own)
        answers[scale] = found
        for code in refused:
            errors[prefix + code] = _("Please answer this question.")
        if refused:
            continue
        by_ref = {f.ref: f.name for f in form_fields(scale)}
        for ref in missing_answers(protocol, scale, found):
            errors[prefix + by_ref.get(ref, ref)] = _("Please answer this question.")
    return answers, errors


def _page(
    request: Request,
    template: str,
    language: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    env = participant_templates(language)
    session: WebSession | None = getattr(request.state, "web_session", None)
    html = env.get_template(template).render(
        language=language,
        title=translations(language).gettext("Questionnaires"),
        csrf_token=session.csrf_token if session else "",
        handover=session.actor.username if session and session.handover else None,
        errors=context.pop("errors", {}),
        values=context.pop("values", {}),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def _forms_page(
    request: Request,
    forms: EproForms,
    action: str,
    language: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    if not forms.scales:
        return _page(request, "epro_done.html", language, alerted=False)
    switch = [(code, name) for code, name in LANGUAGES.items() if code != language]
    return _page(
        request,
        "epro_form.html",
        language,
        status_code,
        scales=[scale_form(s, language) for s in forms.scales],
        action=action,
        expires_at=forms.expires_at,
        switch=switch if forms.mode == "link" else [],
        **context,
    )


def _refused(
    request: Request, error: EproLinkError, language: str | None, **context: Any
) -> Response:
    """The participant-friendly refusal, in the language asked for, else the link's."""
    status = 404 if error.reason == "unknown" else 410
    shown = language or error.language or DEFAULT_LANGUAGE
    return _page(request, "epro_refused.html", shown, status, reason=error.reason, **context)


def _submit(
    request: Request, token: str, action: str, lang: str | None, submitted: Mapping[str, str]
) -> Response:
    """Submit the forms of a link (in a worker thread: every caller is a plain handler, or
    hands this to one)."""
    engine = state_of(request).engine
    try:
        forms = sv.open_epro_link(engine, token)
    except EproLinkError as error:
        return _refused(request, error, lang)
    language = lang or forms.language
    answers, errors = read_forms(request, forms.scales, submitted, language)
    values = {k: v for k, v in submitted.items() if "." in k}
    if errors:
        return _forms_page(
            request, forms, action, language, status_code=422, errors=errors, values=values
        )
    try:
        done = sv.submit_epro_forms(engine, token, answers)
    except EproLinkError as error:
        return _refused(request, error, language)
    except (InputError, AnswerError) as error:
        return _forms_page(
            request, forms, action, language, status_code=422, problem=error.message, values=values
        )
    return _page(request, "epro_done.html", language, alerted=done.n_alerts > 0)


# --- the participant's link ------------------------------------------------------------------


@router.get("/epro/{token}")
def participant_forms(request: Request, token: TOKEN, lang: LANG = None) -> Response:
    """The forms of a link, in the participant's language (``?lang=`` shows the other one)."""
    try:
        forms = sv.open_epro_link(state_of(request).engine, token)
    except EproLinkError as error:
        return _refused(request, error, lang)
    return _forms_page(request, forms, f"/epro/{token}", lang or forms.language)


@router.post("/epro/{token}")
async def submit_participant_forms(request: Request, token: TOKEN, lang: LANG = None) -> Response:
    """Submit every form of a link (all or nothing; the link is then used)."""
    form = await request.form()
    submitted = {k: v for k, v in form.items() if isinstance(v, str)}
    action = f"/epro/{token}" + (f"?lang={lang}" if lang else "")
    return await run_in_threadpool(_submit, request, token, action, lang, submitted)


# --- the tablet hand-over --------------------------------------------------------------------


@router.post(
    "/participants/{pid}/visits/{code}/epro/handover",
    dependencies=[page_requires("issue_epro_link")],
)
def start_handover(
    request: Request, _checked: CheckedForm, session: PageSession, pid: PID, code: CODE
) -> Response:
    """Hand this device over to the participant for their self-report forms at the visit."""
    issued = sv.issue_epro_link(state_of(request).engine, session.actor, pid, code, mode="handover")
    state_of(request).sessions.set_handover(request.cookies.get(SESSION_COOKIE), issued.token)
    return RedirectResponse(HANDOVER_PAGE, status_code=303)


def _handover_language(state: Any, session: WebSession) -> str:
    try:
        return sv.open_epro_link(state.engine, session.handover).language
    except EproLinkError as error:
        return error.language or DEFAULT_LANGUAGE


@router.get(HANDOVER_PAGE, dependencies=[page_requires("any")])
def handover_forms(request: Request, session: PageSession) -> Response:
    """The participant's forms on the handed-over device (or, once done, the end form)."""
    if not session.handover:
        return RedirectResponse("/", status_code=303)
    try:
        forms = sv.open_epro_link(state_of(request).engine, session.handover)
    except EproLinkError as error:
        return _refused(request, error, None)
    return _forms_page(request, forms, HANDOVER_PAGE, forms.language)


@router.post(HANDOVER_PAGE, dependencies=[page_requires("any")])
def submit_handover_forms(request: Request, form: CheckedForm, session: PageSession) -> Response:
    """Submit the forms on the handed-over device."""
    if not session.handover:
        return RedirectResponse("/", status_code=303)
    return _submit(request, session.handover, HANDOVER_PAGE, None, dict(form))


@router.post(HANDOVER_END, dependencies=[page_requires("any")])
def end_handover(request: Request, form: CheckedForm, session: PageSession) -> Response:
    """End the hand-over with the staff member's own password."""
    if not session.handover:
        return RedirectResponse("/", status_code=303)
    password = form.get("password", "")
    state = state_of(request)
    try:
        ok = sv.check_password(
            state.engine,
            session.actor,
            password,
            client=client_of(request),
            policy=login_policy(state),
            purpose="end_epro_handover",
            second_factor=False,
        )
        problem = (
            None
            if ok
            else translations(_handover_language(state, session)).gettext(
                "The password is not right."
            )
        )
    except TooManyAttemptsError as error:
        problem = error.message
    if problem is not None:
        try:
            forms = sv.open_epro_link(state.engine, session.handover)
        except EproLinkError as error:
            return _refused(request, error, None, end_error=problem)
        return _forms_page(request, forms, HANDOVER_PAGE, forms.language, end_error=problem)
    state.sessions.set_handover(request.cookies.get(SESSION_COOKIE), "")
    return RedirectResponse("/worklist", status_code=303)


# --- staff: links and preferences -------------------------------------------------------------


def _links_page(
    request: Request, session: WebSession, pid: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    state = state_of(request)
    links = sv.list_epro_links(state.engine, session.actor, pid)
    visits = [
        v.visit_code
        for v in sv.list_visits(state.engine, session.actor, pid)
        if sv.epro.self_report_scales(state.protocol, v.visit_code)
    ]
    return render(
        request,
        "epro_links.html",
        status_code=status_code,
        title=f"Self-report links · {pid}",
        pid=pid,
        links=links,
        visits=visits,
        languages=LANGUAGES,
        **context,
    )


@router.get("/participants/{pid}/epro", dependencies=[page_requires("view_epro_links")])
def epro_links(request: Request, session: PageSession, pid: PID) -> Response:
    """A participant's ePRO links, and the forms to issue one or hand the device over."""
    return _links_page(request, session, pid)


@router.post("/participants/{pid}/epro/links", dependencies=[page_requires("issue_epro_link")])
def issue_link(request: Request, form: CheckedForm, session: PageSession, pid: PID) -> Response:
    """Issue a link (its address is shown once, on the page this answers with)."""
    engine = state_of(request).engine
    try:
        issued = sv.issue_epro_link(engine, session.actor, pid, form.get("visit_code", ""))
    except InputError as error:
        return _links_page(request, session, pid, 422, problem=str(error))
    url = str(request.base_url).rstrip("/") + issued.path
    return _links_page(request, session, pid, issued=issued, url=url)


@router.post(
    "/participants/{pid}/epro/preferences", dependencies=[page_requires("set_epro_preferences")]
)
def epro_preferences(
    request: Request, form: CheckedForm, session: PageSession, pid: PID
) -> Response:
    """Store the participant's language and (optional) e-mail address for reminders."""
    try:
        sv.set_epro_preferences(
            state_of(request).engine,
            session.actor,
            pid,
            language=form.get("language", ""),
            email=form.get("email") or None,
        )
    except InputError as error:
        return _links_page(request, session, pid, 422, problem=str(error))
    return RedirectResponse(f"/participants/{pid}/epro", status_code=303)
