"""Web sessions, API tokens and the per-address login count, kept in the database.

The web app's session store (:mod:`remit.web.sessions`) calls these; they live in the database
(:mod:`remit.store.web_sessions`, migration 0020) so that every worker process and every host
serving one trial database shares them: a restart keeps sessions, a logout or a password change
ends them at once everywhere. No trial data is read or written, so there is no access check or
audit row here: logins and logouts go to the security log (:func:`remit.services.login`,
:func:`remit.services.log_logout`). The servers also note here what they saw of their requests
(``record_observations``: the scheme, ``X-Forwarded-Proto``), which ``remit doctor`` reads.

Example::

    from datetime import UTC, datetime
    from remit.services.web_sessions import SessionTimeouts, create_session, live_session

    limits = SessionTimeouts(idle_s=1800, absolute_s=12 * 3600)
    token, _ = create_session(engine, actor, now=datetime.now(UTC), timeouts=limits)
    assert live_session(engine, token, now=datetime.now(UTC), timeouts=limits).actor == actor
"""

from __future__ import annotations

from remit.store.observations import Observation, read_observations, record_observations
from remit.store.web_sessions import (
    SESSION_KINDS,
    SESSION_STAGES,
    SessionTimeouts,
    StoredSession,
    address_failures,
    count_address_failure,
    count_addresses,
    count_sessions,
    create_session,
    end_session,
    end_user_sessions,
    live_session,
    session_digest,
    set_handover,
)

__all__ = [
    "SESSION_KINDS",
    "SESSION_STAGES",
    "Observation",
    "SessionTimeouts",
    "StoredSession",
    "address_failures",
    "count_address_failure",
    "count_addresses",
    "count_sessions",
    "create_session",
    "end_session",
    "end_user_sessions",
    "live_session",
    "read_observations",
    "record_observations",
    "session_digest",
    "set_handover",
]
