"""Server-side sessions, API tokens and the per-address login slowdown, kept in the database.

The cookie (or bearer token) holds only a random 256-bit token; the database keeps the acting
user, the CSRF token and the times under the SHA-256 of the token (a copy of the database does
not give usable tokens): :mod:`remit.services.web_sessions`, table ``web_session``. Idle and
absolute timeouts end a session; login makes a new one (the old token dies); logout deletes
it; a password change ends the user's other sessions. Whether the user is still active, or must
change their password first, is read from the store on every request (``remit.web.core``), so
a deactivation or an admin's reset made anywhere (the CLI too) takes effect at the next
request.

Because nothing of a session lives in the process, the web app is stateless: ``remit serve
--workers N`` (PostgreSQL) and several hosts behind a load balancer share sessions through the
database alone; a restart logs nobody out; a logout through one worker is effective on all at
the next request. The same holds for the per-address login slowdown (``login_address``) and
the per-username login throttle (``login_throttle``, :func:`remit.services.login`). Hosts need
synchronised clocks (NTP): the times are UTC wall-clock times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from remit.services import AccountStanding, Actor, Engine
from remit.services import web_sessions as stored


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WebSession:
    """One logged-in session: who, in which role, its CSRF token and times (UTC)."""

    actor: Actor
    csrf_token: str
    created: datetime
    last_seen: datetime
    kind: str = "cookie"
    #: ``""`` for a full session; ``"code"`` while the login's TOTP code is due, ``"setup"``
    #: while the user must set TOTP up (only those pages and logout are open).
    stage: str = ""
    #: The token of the ePRO link handed over to a participant on this device (tablet
    #: hand-over, :mod:`remit.web.pages_epro`): while set, only the hand-over pages open, and
    #: only the user's password ends it. ``""`` when no hand-over runs.
    handover: str = ""
    #: The user's standing as read with the session (one query per request); ``None``: not
    #: read, ``remit.web.core`` reads it.
    standing: AccountStanding | None = None


class SessionStore:
    """Sessions with idle and absolute timeouts, in the database of ``engine``."""

    def __init__(
        self,
        engine: Engine,
        idle_timeout_s: float,
        absolute_timeout_s: float,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.engine = engine
        self.timeouts = stored.SessionTimeouts(idle_timeout_s, absolute_timeout_s)
        self._clock = clock

    @property
    def idle_timeout_s(self) -> float:
        return self.timeouts.idle_s

    @property
    def absolute_timeout_s(self) -> float:
        return self.timeouts.absolute_s

    def create(
        self,
        actor: Actor,
        *,
        kind: str = "cookie",
        replaces: str | None = None,
        stage: str = "",
    ) -> str:
        """Start a session for ``actor``; return its token (``replaces`` is ended: rotation).
        ``stage`` confines it to an MFA step (see :class:`WebSession`)."""
        token, _ = stored.create_session(
            self.engine,
            actor,
            now=self._clock(),
            timeouts=self.timeouts,
            kind=kind,
            stage=stage,
            replaces=replaces,
        )
        return token

    def get(self, token: str | None, *, kind: str | None = None) -> WebSession | None:
        """The live session of ``token`` (recording its use), else ``None``."""
        if not token:
            return None
        found = stored.live_session(
            self.engine, token, now=self._clock(), timeouts=self.timeouts, kind=kind
        )
        if found is None:
            return None
        return WebSession(
            found.actor,
            found.csrf_token,
            found.created_at,
            found.last_seen_at,
            found.kind,
            found.stage,
            found.handover,
            None
            if found.user_active is None or found.must_change_password is None
            else AccountStanding(found.user_active, found.must_change_password),
        )

    def set_handover(self, token: str | None, handover: str) -> None:
        """Start (``handover`` a link's token) or end (``""``) a tablet hand-over on the
        session of ``token``."""
        if token:
            stored.set_handover(self.engine, token, handover)

    def end(self, token: str | None) -> None:
        """End the session of ``token`` (nothing if there is none)."""
        if token:
            stored.end_session(self.engine, token)

    def end_user(self, user_id: int | None, *, keep: str | None = None) -> int:
        """End every session and token of ``user_id`` but ``keep`` (after a password change);
        returns how many ended."""
        if user_id is None:
            return 0
        return stored.end_user_sessions(self.engine, user_id, keep=keep)

    def __len__(self) -> int:
        return stored.count_sessions(self.engine)


class AddressSlowdown:
    """Slows the answers to one client address after many failed logins from it.

    The count per account lives in the database (:func:`remit.services.login`, atomic across
    requests); so does this count per address (``login_address``), so that every worker and
    host applies it. This is only a brake on one address spraying many usernames: it delays the
    answer (up to ``max_delay_s``) and never refuses, so that people behind the same address
    (a hospital's NAT, an admin included) can still log in to their own accounts. The count is
    per fixed window that starts at the address's first failure.
    """

    def __init__(
        self,
        engine: Engine,
        after: int,
        window_s: float,
        max_delay_s: float = 2.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.engine = engine
        self.after = after
        self.window_s = window_s
        self.max_delay_s = max_delay_s
        self._clock = clock

    def delay_for(self, client: str) -> float:
        """Seconds to wait before answering a login from ``client`` (0 until ``after`` failures
        in the window; then 0.1 s more per failure, at most ``max_delay_s``)."""
        failures = stored.address_failures(
            self.engine, client, now=self._clock(), window_s=self.window_s
        )
        excess = failures - self.after + 1
        return 0.0 if excess <= 0 else min(self.max_delay_s, 0.1 * excess)

    def failed(self, client: str) -> None:
        """Count one failed attempt from ``client`` (forgetting the counts of every address
        whose window has passed, so that many addresses cannot grow the table without end)."""
        stored.count_address_failure(self.engine, client, now=self._clock(), window_s=self.window_s)

    def addresses(self) -> int:
        """How many addresses have failures counted."""
        return stored.count_addresses(self.engine)
