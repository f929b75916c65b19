"""TOTP multi-factor authentication pages: the login's second step, one's own set-up (with
the recovery codes shown once), an admin's reset of another user's set-up.

After a right password the session is confined to one MFA stage (``remit.web.core``): the
code page (``/login/mfa``) when the user set MFA up, the set-up page (``/account/mfa``) when
their role requires MFA and they have none. Nothing else opens until that step is done.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response

from remit import services as sv
from remit.errors import InputError, PermissionDeniedError, TooManyAttemptsError
from remit.services import mfa
from remit.web.core import (
    MFA_LOGIN_PAGE,
    MFA_PAGE,
    SESSION_COOKIE,
    CheckedForm,
    PageSession,
    client_of,
    login_policy,
    page_requires,
    render,
    state_of,
)

router = APIRouter()

USERNAME = Annotated[str, PathParam(pattern=r"^[^\s/]{1,100}$")]


def _too_many(error: TooManyAttemptsError) -> str:
    return f"Too many wrong codes. Try again in {int(error.retry_after_s // 60) + 1} minutes."


def _safe_next(url: str) -> str:
    return url if url.startswith("/") and not url.startswith("//") else "/"


def _full_session(request: Request, session: Any, to: str) -> Response:
    """A new full session (the MFA stage done) in place of this one, and go to ``to``."""
    state = state_of(request)
    token = state.sessions.create(session.actor, replaces=request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(to, status_code=303)
    secure = request.url.scheme == "https" or state.settings.https
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/"
    )
    return response


def _code_page(
    request: Request, next_url: str, error: str | None = None, status: int = 200
) -> Response:
    return render(
        request,
        "mfa_login.html",
        status_code=status,
        title="Authenticator code",
        next_url=next_url,
        error=error,
    )


@router.get(MFA_LOGIN_PAGE, dependencies=[page_requires("any")])
def mfa_login_form(
    request: Request, session: PageSession, next: Annotated[str, Query(max_length=500)] = "/"
) -> Response:
    """The login's second step: the authenticator app's code (or a recovery code)."""
    if session.stage != "code":
        return RedirectResponse(_safe_next(next), status_code=303)
    return _code_page(request, _safe_next(next))


@router.post(MFA_LOGIN_PAGE, dependencies=[page_requires("any")])
def mfa_login_submit(request: Request, form: CheckedForm, session: PageSession) -> Response:
    """Check the code; when right the session becomes a full one (a new token)."""
    next_url = _safe_next(form.get("next", "/"))
    if session.stage != "code":
        return RedirectResponse(next_url, status_code=303)
    state = state_of(request)
    try:
        ok = sv.login_second_step(
            state.engine,
            session.actor,
            form.get("code", ""),
            client=client_of(request),
            policy=login_policy(state),
        )
    except TooManyAttemptsError as error:
        return _code_page(
            request,
            next_url,
            _too_many(error),
            status=429,
        )
    if not ok:
        return _code_page(request, next_url, "The code is wrong or was used already.", status=401)
    return _full_session(request, session, next_url)


def _setup_page(
    request: Request,
    session: Any,
    error: str | None = None,
    status: int = 200,
    recovery_codes: list[str] | None = None,
) -> Response:
    state = state_of(request)
    engine, actor = state.engine, session.actor
    status_now = mfa.mfa_status(engine, actor, login_policy(state))
    setup = None
    if not status_now.enrolled and recovery_codes is None:
        setup = mfa.pending_setup(engine, actor) or mfa.start_mfa_setup(
            engine, actor, client=client_of(request)
        )
    return render(
        request,
        "mfa.html",
        status_code=status,
        title="Multi-factor authentication",
        status=status_now,
        setup=setup,
        forced=session.stage == "setup",
        error=error,
        recovery_codes=recovery_codes,
    )


@router.get(MFA_PAGE, dependencies=[page_requires("set_up_own_mfa")])
def mfa_form(request: Request, session: PageSession) -> Response:
    """One's own MFA: set it up (the secret as text and as an ``otpauth://`` URI, confirmed
    with a current code), or see that it is set up and how many recovery codes are left."""
    return _setup_page(request, session)


@router.post(MFA_PAGE, dependencies=[page_requires("set_up_own_mfa")])
def mfa_confirm(request: Request, form: CheckedForm, session: PageSession) -> Response:
    """Confirm the set-up with a current code; the recovery codes are shown once."""
    state = state_of(request)
    try:
        codes = mfa.confirm_mfa_setup(
            state.engine,
            session.actor,
            form.get("code", ""),
            client=client_of(request),
            policy=login_policy(state),
        )
    except TooManyAttemptsError as error:
        return _setup_page(
            request,
            session,
            _too_many(error),
            status=429,
        )
    except PermissionDeniedError:
        return _setup_page(
            request, session, "The code does not match: MFA is not set up yet.", status=401
        )
    except InputError as error:
        return _setup_page(request, session, str(error), status=422)
    response = _full_session(request, session, MFA_PAGE)
    # the codes are shown on this answer only (never stored in clear)
    page = _setup_page(request, session, recovery_codes=codes)
    page.headers["set-cookie"] = response.headers["set-cookie"]
    return page


@router.post("/admin/users/{username}/mfa", dependencies=[page_requires("reset_mfa")])
def user_reset_mfa(
    request: Request, form: CheckedForm, session: PageSession, username: USERNAME
) -> Response:
    """Reset a user's MFA (with a reason): they set it up again at their next login."""
    mfa.reset_mfa(
        state_of(request).engine,
        session.actor,
        username,
        reason=form.get("reason", ""),
        client=client_of(request),
    )
    return RedirectResponse("/admin/users?mfa_reset=" + username, status_code=303)
