"""Settings of the web app, read at the edge (``remit serve``) and passed to ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from remit.services.accounts import DEFAULT_MFA_ROLES


@dataclass(frozen=True)
class WebSettings:
    """How the web app behaves.

    Attributes
    ----------
    idle_timeout_s
        A session unused this long ends (default 30 minutes).
    absolute_timeout_s
        A session ends this long after login whatever its use (default 12 hours).
    max_failed_logins
        Failed password checks allowed per username in ``failed_login_window_s`` (counted in
        the database, so parallel requests cannot exceed it) before further attempts are
        refused without checking. A client address with more than four times as many failures
        is only slowed down (up to 2 s per answer), never locked out.
    failed_login_window_s
        The window of the failed-login count.
    https
        Mark cookies ``Secure`` always (behind an HTTPS proxy that forwards plain HTTP). Cookies
        are marked ``Secure`` anyway when the request itself came over HTTPS.
    work_dir
        Where rendered reports and exports are written (a temporary folder by default), one
        sub-folder per scope of the users who build them.
    max_body_bytes
        Largest request body accepted (default 1 MiB); a larger one is answered 413.
    body_timeout_s
        A request body not received in full this many seconds after the request began is
        answered 408 (default 30 s).
    mfa_roles
        Roles whose holders must use TOTP MFA (default: none; set at least admin). A user
        holding one of them who has not set it up can do nothing but set it up after logging
        in; a user who set it up is asked for a code at every login (docs/security.md).
    """

    idle_timeout_s: float = 30 * 60
    absolute_timeout_s: float = 12 * 3600
    max_failed_logins: int = 5
    failed_login_window_s: float = 15 * 60
    https: bool = False
    work_dir: Path | None = None
    max_body_bytes: int = 1024 * 1024
    body_timeout_s: float = 30.0
    mfa_roles: frozenset[str] = field(default=DEFAULT_MFA_ROLES)
