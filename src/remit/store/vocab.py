"""Controlled vocabularies only the store and the services use (each becomes a CHECK constraint).

Values are plain strings in the tables. The vocabularies other layers share (participant,
visit, window, form and dose statuses; user roles; adverse-event words) are declared in
:mod:`remit.protocol.status`, :mod:`remit.protocol.roles` and
:mod:`remit.protocol.adverse_event`; this module lists the rest.
"""

from __future__ import annotations

from enum import StrEnum


class QueryStatus(StrEnum):
    """A data query's life."""

    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class LockLevel(StrEnum):
    """What a lock covers."""

    FORM = "form"
    PARTICIPANT = "participant"
    STUDY = "study"


class AuditAction(StrEnum):
    """What an audit row records."""

    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    READ = "read"
    READ_REFUSED = "read_refused"


class DeliveryOutcome(StrEnum):
    """What one row of the alert delivery log records (:mod:`remit.store.delivery`).

    ``sending`` claims an attempt before it is made (so two workers never send the same step
    twice); ``sent`` and ``failed`` are its outcome; ``undeliverable`` says that a step of an
    alert reached nobody (and that its undeliverable alert was raised).
    """

    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNDELIVERABLE = "undeliverable"
