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

    def create(self, actor: Actor, *, kind: str = "cookie", replaces: str | None = None) -> str:
        """Start a session for ``actor``; return its token (``replaces`` is ended: rotation)."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        session = WebSession(actor, secrets.token_urlsafe(32), now, now, kind)
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


class LoginThrottle:
    """Counts failed logins per username and per client address in a sliding window."""

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def _keys(self, username: str, client: str) -> list[tuple[str, int]]:
        return [
            (f"user:{username.strip().lower()}", self.max_failures),
            (f"addr:{client}", self.max_failures * 4),
        ]

    def blocked_for(self, username: str, client: str) -> float:
        """Seconds until another attempt is allowed (0 when allowed now)."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key, limit in self._keys(username, client):
                times = [t for t in self._failures.get(key, []) if now - t < self.window_s]
                self._failures[key] = times
                if len(times) >= limit:
                    wait = max(wait, self.window_s - (now - times[-limit]))
        return wait

    def failed(self, username: str, client: str) -> None:
        """Count one failed attempt (and forget counts older than the window, so that a
        spray of made-up usernames cannot grow the table without end)."""
        now = self._clock()
        with self._lock:
            if len(self._failures) > 10_000:
                self._failures = {
                    k: kept
                    for k, times in self._failures.items()
                    if (kept := [t for t in times if now - t < self.window_s])
                }
            for key, _ in self._keys(username, client):
                self._failures.setdefault(key, []).append(now)

    def succeeded(self, username: str) -> None:
        """Forget the username's failures (the address keeps its count)."""
        with self._lock:
            self._failures.pop(f"user:{username.strip().lower()}", None)
