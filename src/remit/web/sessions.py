"""Server-side sessions and API tokens, kept by the web process.

The cookie (or bearer token) holds only a random 256-bit token; the server keeps the acting
user, the CSRF token and the times, under the SHA-256 of the token (a leaked memory dump does
not give usable tokens). Idle and absolute timeouts end a session; login makes a new one (the
old token dies); logout deletes it; a password change ends the user's other sessions. Whether
the user is still active, or must change their password first, is read from the store on
every request (``remit.web.core``), so a deactivation or an admin's reset made anywhere (the
CLI too) takes effect at the next request.

The store has no session table yet, so sessions live in this process: a restart logs everyone
out, and several worker processes would not share them (``remit serve`` runs one).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from remit.services import Actor


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class WebSession:
    """One logged-in session: who, in which role, its CSRF token and times (monotonic s)."""

    actor: Actor
    csrf_token: str
    created: float
    last_seen: float
    kind: str = "cookie"
    #: ``""`` for a full session; ``"code"`` while the login's TOTP code is due, ``"setup"``
    #: while the user must set TOTP up (only those pages and logout are open).
    stage: str = ""
    #: The token of the ePRO link handed over to a participant on this device (tablet
    #: hand-over, :mod:`remit.web.pages_epro`): while set, only the hand-over pages open, and
    #: only the user's password ends it. ``""`` when no hand-over runs.
    handover: str = ""


class SessionStore:
    """Thread-safe in-memory sessions with idle and absolute timeouts."""

    def __init__(
        self,
        idle_timeout_s: float,
        absolute_timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_timeout_s = idle_timeout_s
        self.absolute_timeout_s = absolute_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, WebSession] = {}

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
        token = secrets.token_urlsafe(32)
        now = self._clock()
        session = WebSession(actor, secrets.token_urlsafe(32), now, now, kind, stage)
        with self._lock:
            if replaces:
                self._sessions.pop(_digest(replaces), None)
            self._expire(now)
            self._sessions[_digest(token)] = session
        return token

    def get(self, token: str | None, *, kind: str | None = None) -> WebSession | None:
        """The live session of ``token`` (touching its idle clock), else ``None``."""
        if not token:
            return None
        key = _digest(token)
        now = self._clock()
        with self._lock:
            session = self._sessions.get(key)
            if session is None or (kind is not None and session.kind != kind):
                return None
            if self._expired(session, now):
                del self._sessions[key]
                return None
            session = replace(session, last_seen=now)
            self._sessions[key] = session
            return session

    def set_handover(self, token: str | None, handover: str) -> None:
        """Start (``handover`` a link's token) or end (``""``) a tablet hand-over on the
        session of ``token``."""
        if not token:
            return
        key = _digest(token)
        with self._lock:
            session = self._sessions.get(key)
            if session is not None:
                self._sessions[key] = replace(session, handover=handover)

    def end(self, token: str | None) -> None:
        """End the session of ``token`` (nothing if there is none)."""
        if token:
            with self._lock:
                self._sessions.pop(_digest(token), None)

    def end_user(self, user_id: int | None, *, keep: str | None = None) -> int:
        """End every session and token of ``user_id`` but ``keep`` (after a password change);
        returns how many ended."""
        kept = _digest(keep) if keep else None
        with self._lock:
            ended = [
                key
                for key, s in self._sessions.items()
                if s.actor.user_id == user_id and key != kept
            ]
            for key in ended:
                del self._sessions[key]
        return len(ended)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expired(self, session: WebSession, now: float) -> bool:
        return (
            now - session.last_seen > self.idle_timeout_s
            or now - session.created > self.absolute_timeout_s
        )

    def _expire(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]


class AddressSlowdown:
    """Slows the answers to one client address after many failed logins from it.

    The count per account lives in the database (:func:`remit.services.login`, atomic across
    requests). This is only a brake on one address spraying many usernames: it delays the
    answer (up to ``max_delay_s``) and never refuses, so that people behind the same address
    (a hospital's NAT, an admin included) can still log in to their own accounts.
    """

    def __init__(
        self,
        after: int,
        window_s: float,
        max_delay_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.after = after
        self.window_s = window_s
        self.max_delay_s = max_delay_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def delay_for(self, client: str) -> float:
        """Seconds to wait before answering a login from ``client`` (0 until ``after`` failures
        in the window; then 0.1 s more per failure, at most ``max_delay_s``)."""
        now = self._clock()
        with self._lock:
            times = [t for t in self._failures.get(client, []) if now - t < self.window_s]
            self._failures[client] = times
        excess = len(times) - self.after + 1
        return 0.0 if excess <= 0 else min(self.max_delay_s, 0.1 * excess)

    def failed(self, client: str) -> None:
        """Count one failed attempt from ``client`` (forgetting counts older than the window,
        so that many addresses cannot grow the table without end)."""
        now = self._clock()
        with self._lock:
            if len(self._failures) > 10_000:
                self._failures = {
                    k: kept
                    for k, times in self._failures.items()
                    if (kept := [t for t in times if now - t < self.window_s])
                }
            self._failures.setdefault(client, []).append(now)
