"""Participant self-report (ePRO): single-use, expiring links to the self-report forms of a
visit, submitted by the participant through the same path as a form entered by staff.

A member of staff who may administer self-reports (:data:`~remit.services.access.ACCESS`
``issue_epro_link``) issues a link for a visit with :func:`issue_epro_link`: the scales are
the visit's forms the protocol has rated ``self_report`` (dosing-session ratings aside) not
entered yet. The call returns the token once; only its SHA-256 is stored. The participant
opens the link (:func:`open_epro_link`) and submits every form at once
(:func:`submit_epro_forms`): in one transaction each form goes through
:func:`remit.services.assessments.enter_form` — the protocol's plan, the visit's date gates,
scoring, the audit trail and the safety rules (BDI-II item 9 raises the same alerts as a form
entered by staff) — with the participant as the source (the ``participant`` pseudo-role, no
user account), and the link is used. A used, expired, revoked or unknown link is refused with
:class:`EproLinkError` (its ``reason`` says which), and nothing is written.

A link issued in ``handover`` mode is for the site's tablet (:mod:`remit.web.pages_epro`): the
member of staff hands their logged-in device to the participant, and only their password ends
the hand-over. :func:`send_epro_reminders` e-mails participants who chose e-mail reminders
(their address in :func:`set_epro_preferences`) a fresh token for each open link.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from remit.errors import ConflictError, InputError, PermissionDeniedError, RemitError
from remit.i18n import check_language, translations
from remit.protocol import Protocol
from remit.protocol.roles import PARTICIPANT_ROLE
from remit.protocol.status import NO_DATA_STATUSES, AssessmentStatus
from remit.services._common import aware, find_visit, now_utc, visit_at
from remit.services.assessments import enter_form, score_form
from remit.services.consent_rules import require_consent
from remit.services.records import AssessmentRecord, _Record
from remit.services.senders import OutgoingMessage, Sender
from remit.services.unit import reading, writing
from remit.store import Actor, check_email
from remit.store.epro import EPRO_MODES, EproLink, ParticipantEpro
from remit.store.tables import Assessment, Participant, Visit

#: How long a link stays open unless the issuer says otherwise.
DEFAULT_EXPIRY = timedelta(hours=72)
#: How long a tablet hand-over link stays open (the participant is at the site).
HANDOVER_EXPIRY = timedelta(hours=4)
#: The longest a link may stay open.
MAX_EXPIRY = timedelta(days=14)
#: A reminder goes out once the link has been open this long (and again after as long).
REMIND_AFTER = timedelta(hours=24)
#: The interface language of a participant who has not chosen one.
DEFAULT_LANGUAGE = "nb"
#: The rater word of the protocol for forms the participant fills in.
SELF_REPORT = "self_report"


class EproLinkError(PermissionDeniedError):
    """A link that cannot be used: ``reason`` is ``unknown``, ``used``, ``expired`` or
    ``revoked`` (the participant page says which in plain words, in the link's ``language``
    when the link is known)."""

    def __init__(
        self, reason: str, message: str, *, hint: str | None = None, language: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason
        self.language = language


@dataclass(frozen=True)
class EproLinkRecord(_Record):
    """An ePRO link as staff see it (never its token): whose, which visit and scales, how it
    reaches the participant (``mode``), in which language, and its ``state``: ``open``,
    ``used``, ``expired`` or ``revoked``."""

    id: int
    participant_id: str
    visit_code: str
    scales: tuple[str, ...]
    mode: str
    language: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None
    reminded_at: datetime | None
    revoked_at: datetime | None
    state: str


@dataclass(frozen=True)
class IssuedLink(_Record):
    """A new link and its token (shown once: only its SHA-256 is stored). The participant's
    address is ``/epro/<token>`` on the site's Remit server."""

    link: EproLinkRecord
    token: str

    @property
    def path(self) -> str:
        """The participant page of the link."""
        return f"/epro/{self.token}"


@dataclass(frozen=True)
class EproForms(_Record):
    """What an open link asks of the participant: the scales still to fill in, the language
    of the pages and when the link expires (no study ID, no scores)."""

    link_id: int
    visit_code: str
    scales: tuple[str, ...]
    language: str
    expires_at: datetime
    mode: str


@dataclass(frozen=True)
class EproSubmission(_Record):
    """The forms a participant submitted through a link, and how many alerts they raised
    (staff see the alerts; the participant page does not show scores)."""

    link_id: int
    participant_id: str
    visit_code: str
    forms: tuple[AssessmentRecord, ...]
    n_alerts: int


@dataclass(frozen=True)
class ReminderRecord(_Record):
    """One reminder: the link, whether the e-mail went out and the sender's error if not."""

    link_id: int
    participant_id: str
    visit_code: str
    sent: bool
    error: str | None = None


def token_sha256(token: str) -> str:
    """The stored form of a link's token.

    >>> token_sha256("abc")[:16]
    'ba7816bf8f01cfea'
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def participant_actor() -> Actor:
    """The actor of a participant answering through a link: no user account, the
    ``participant`` pseudo-role (recorded as the source of every audit row it writes)."""
    return Actor(user_id=None, username="participant (ePRO)", role=PARTICIPANT_ROLE)


def self_report_scales(protocol: Protocol, visit_code: str) -> tuple[str, ...]:
    """The scales the protocol has the participant fill in at ``visit_code`` (rater
    ``self_report``; ratings during a dosing session are part of the dosing day)."""
    return tuple(
        dict.fromkeys(
            f.scale
            for f in protocol.assessments_at(visit_code)
            if f.rater == SELF_REPORT and f.timing != "during_session"
        )
    )


def _state(link: EproLink, now: datetime) -> str:
    if link.used_at is not None:
        return "used"
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at <= now:
        return "expired"
    return "open"


def _record(session: Session, link: EproLink, now: datetime) -> EproLinkRecord:
    p = session.get_one(Participant, link.participant_id)
    visit = session.get_one(Visit, link.visit_id)
    return EproLinkRecord.from_row(
        link,
        participant_id=p.study_id,
        visit_code=visit.visit_code,
        scales=tuple(link.scales),
        state=_state(link, now),
    )


def _entered(session: Session, visit_id: int) -> set[str]:
    return set(
        session.scalars(
            select(Assessment.scale).where(
                Assessment.visit_id == visit_id,
                Assessment.status != AssessmentStatus.DRAFT.value,
            )
        )
    )


def _preference(session: Session, participant_id: int) -> ParticipantEpro | None:
    return session.scalar(
        select(ParticipantEpro).where(ParticipantEpro.participant_id == participant_id)
    )


def _check_expiry(expires_in: timedelta) -> timedelta:
    if not isinstance(expires_in, timedelta) or not (timedelta(0) < expires_in <= MAX_EXPIRY):
        raise InputError(
            f"a link cannot expire in {expires_in}",
            expected=f"a time after now, at most {MAX_EXPIRY.days} days",
            hint="the default is 72 hours",
        )
    return expires_in


def issue_epro_link(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    visit_code: str,
    *,
    scales: Sequence[str] | None = None,
    mode: str = "link",
    expires_in: timedelta | None = None,
    language: str | None = None,
    window_reason: str | None = None,
    now: datetime | None = None,
) -> IssuedLink:
    """Issue a single-use link to the participant's self-report forms at ``visit_code``.

    ``scales``: the visit's self-report forms not entered yet (default), or some of them.
    ``mode`` ``link`` (sent to the participant) or ``handover`` (the site's tablet; default
    expiry :data:`HANDOVER_EXPIRY` instead of :data:`DEFAULT_EXPIRY`). ``language``: the
    participant's stored choice (:func:`set_epro_preferences`), else
    :data:`DEFAULT_LANGUAGE`. ``window_reason``: for a visit whose window will have closed when
    the participant answers (recorded with the forms, as for staff entry).

    Earlier open links of the same visit are revoked: one live link per visit. Refused
    (nothing written): a visit the participant does not have, a scale that is not a
    self-report form there, a form already entered, nothing left to fill in, a participant who
    is withdrawn (or otherwise takes no more forms), an expiry beyond :data:`MAX_EXPIRY`.

    ``now`` is the clock (default: the current time, UTC): a program entering a past trial
    (the simulation) passes its clinical time; the web app never does.
    """
    if mode not in EPRO_MODES:
        raise InputError(f"mode {mode!r} is not an ePRO mode", expected=" or ".join(EPRO_MODES))
    lifetime = _check_expiry(
        expires_in or (HANDOVER_EXPIRY if mode == "handover" else DEFAULT_EXPIRY)
    )
    if language is not None:
        check_language(language)
    with writing(engine, actor, "issue_epro_link", participant=participant) as w:
        session, p, protocol = w.session, w.p, w.protocol
        if p.status in NO_DATA_STATUSES:
            raise InputError(f"{p.study_id} is {p.status}; no forms are recorded")
        planned = self_report_scales(protocol, visit_code)  # NotFoundError: unknown visit
        visit = visit_at(session, p, visit_code)
        entered = _entered(session, visit.id)
        if scales is None:
            wanted = [s for s in planned if s not in entered]
        else:
            wanted = list(dict.fromkeys(scales))
            for scale in wanted:
                if scale not in planned:
                    raise InputError(
                        f"{scale!r} is not a self-report form at {visit_code}",
                        expected="one of " + (", ".join(planned) or "(none at this visit)"),
                    )
                if scale in entered:
                    raise ConflictError(
                        f"{p.study_id} already has a {scale} form at {visit_code}",
                        hint="issue the link for the forms still to fill in",
                    )
        if not wanted:
            raise InputError(
                f"{p.study_id} has no self-report form left to fill in at {visit_code}",
                expected="a visit with self-report forms not entered yet",
                hint="`remit protocol show` lists the forms of each visit",
            )
        now = _clock(now)
        for earlier in session.scalars(
            select(EproLink).where(
                EproLink.participant_id == p.id,
                EproLink.visit_id == visit.id,
                EproLink.used_at.is_(None),
                EproLink.revoked_at.is_(None),
            )
        ):
            earlier.revoked_at = now
        chosen = language
        if chosen is None:
            pref = _preference(session, p.id)
            chosen = pref.language if pref is not None else DEFAULT_LANGUAGE
        token = secrets.token_urlsafe(32)
        link = EproLink(
            participant_id=p.id,
            visit_id=visit.id,
            scales=wanted,
            token_sha256=token_sha256(token),
            mode=mode,
            language=chosen,
            window_reason=window_reason,
            issued_by=actor.user_id,
            issued_at=now,
            expires_at=now + lifetime,
        )
        w.create(link)
        return IssuedLink(_record(session, link, now), token)


def _finder(token: str, now: datetime, *, lock: bool = False) -> Callable[[Session], Participant]:
    """A participant reference that finds the open link of ``token`` (in the transaction's
    own session, so that a concurrent use is seen) and refuses any other; ``lock`` locks the
    link's row for the transaction."""

    def find(session: Session) -> Participant:
        link = _open_link(session, token, now, lock=lock)
        return session.get_one(Participant, link.participant_id)

    return find


def _open_link(session: Session, token: str, now: datetime, *, lock: bool = False) -> EproLink:
    """The open link of ``token``, else :class:`EproLinkError`. With ``lock`` its row is
    locked until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite's writer holds the
    whole database), so that two submissions of one link cannot both see it open."""
    if not isinstance(token, str) or not token or len(token) > 200:
        raise EproLinkError("unknown", "this link is not valid")
    query = select(EproLink).where(EproLink.token_sha256 == token_sha256(token))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    link = session.scalar(query)
    if link is None:
        raise EproLinkError(
            "unknown",
            "this link is not valid",
            hint="check that the whole address was copied, or ask the study team for a new link",
        )
    state = _state(link, now)
    if state != "open":
        raise EproLinkError(
            state,
            f"this link has been {state} (link {link.id})",
            hint="ask the study team for a new link if forms are still due",
            language=link.language,
        )
    return link


def _pending(session: Session, link: EproLink) -> tuple[str, ...]:
    entered = _entered(session, link.visit_id)
    return tuple(s for s in link.scales if s not in entered)


def _clock(now: datetime | None) -> datetime:
    """``now`` (a clinical time given by a program), else the current time."""
    given = aware(now, "now")
    return now_utc() if given is None else given


def open_epro_link(engine: Engine, token: str, *, now: datetime | None = None) -> EproForms:
    """What the link ``token`` asks of the participant (:class:`EproLinkError` for a link
    that is unknown, used, expired or revoked). The read is logged like any read. ``now``:
    as for :func:`issue_epro_link`."""
    now = _clock(now)
    with reading(
        engine,
        participant_actor(),
        "open_epro_link",
        "open_epro_link",
        participant=_finder(token, now),
    ) as r:
        link = _open_link(r.session, token, now)
        visit = r.session.get_one(Visit, link.visit_id)
        return r.one(
            EproForms(
                link_id=link.id,
                visit_code=visit.visit_code,
                scales=_pending(r.session, link),
                language=link.language,
                expires_at=link.expires_at,
                mode=link.mode,
            )
        )


def missing_answers(
    protocol: Protocol, scale: str, answers: Mapping[str, object]
) -> tuple[str, ...]:
    """The required questions of ``scale`` left unanswered in ``answers`` (as a person types
    their numbers), with the protocol's scoring settings; answers out of range raise
    :class:`~remit.errors.AnswerError`."""
    return score_form(protocol, scale, answers, None).missing_required


def _refuse_incomplete(protocol: Protocol, scale: str, answers: Mapping[str, object]) -> None:
    """A participant cannot come back to an incomplete form (the link is single-use): every
    required item must be answered."""
    missing = missing_answers(protocol, scale, answers)
    if missing:
        refs = ", ".join(missing)
        raise InputError(
            f"{scale}: question {refs} is not answered",
            expected="an answer to every question",
            hint="answer the questions marked, then submit again",
        )


def submit_epro_forms(
    engine: Engine,
    token: str,
    answers: Mapping[str, Mapping[str, object]],
    *,
    now: datetime | None = None,
) -> EproSubmission:
    """Store the participant's answers (scale → item → answer) to every form the link still
    asks, in one transaction, and use the link.

    Each form is entered like a form entered by staff
    (:func:`remit.services.assessments.enter_form`: the plan, the visit's dates, consent,
    scoring, audit, safety rules and alerts), with the participant as its source. Refused,
    with nothing written: a link that is not open (:class:`EproLinkError`), answers for
    other scales than those asked or missing a form, a question left unanswered, an answer out
    of range. ``now`` (the time the forms are answered): as for :func:`issue_epro_link`.
    """
    if not isinstance(answers, Mapping) or not all(
        isinstance(a, Mapping) for a in answers.values()
    ):
        raise InputError("answers must map each scale to its item → answer mapping")
    now = _clock(now)
    actor = participant_actor()
    with writing(
        engine, actor, "submit_epro_forms", participant=_finder(token, now, lock=True)
    ) as w:
        session, p, protocol = w.session, w.p, w.protocol
        link = _open_link(session, token, now, lock=True)
        visit_code = session.get_one(Visit, link.visit_id).visit_code
        pending = _pending(session, link)
        if set(answers) != set(pending):
            raise InputError(
                "the answers are not for the forms this link asks: "
                + (", ".join(sorted(answers)) or "(none)"),
                expected="answers to " + ", ".join(pending),
            )
        forms = []
        for scale in pending:
            _refuse_incomplete(protocol, scale, answers[scale])
            require_consent(session, protocol, p, "record_assessment", now, scale)
            forms.append(
                enter_form(
                    w,
                    actor,
                    visit_code,
                    scale,
                    answers[scale],
                    version=None,
                    status=AssessmentStatus.COMPLETE.value,
                    when=now,
                    window_reason=link.window_reason,
                )
            )
        link.used_at = now
        session.flush()
        return EproSubmission(
            link_id=link.id,
            participant_id=p.study_id,
            visit_code=visit_code,
            forms=tuple(forms),
            n_alerts=sum(len(f.alerts) for f in forms),
        )


def set_epro_preferences(
    engine: Engine,
    actor: Actor,
    participant: int | str,
    *,
    language: str,
    email: str | None = None,
) -> tuple[str, bool]:
    """Store the participant's interface language (``nb`` or ``en``) and, only when the site
    sends e-mail reminders to this participant, their e-mail address (``None`` removes it).
    Returns ``(language, has_email)``; the address is never returned or written to the audit
    trail (only that it changed)."""
    check_language(language)
    address = check_email(email)
    with writing(engine, actor, "set_epro_preferences", participant=participant) as w:
        pref = _preference(w.session, w.p.id)
        if pref is None:
            pref = ParticipantEpro(participant_id=w.p.id, language=language, email=address)
            w.uow.add(pref)
        else:
            pref.language = language
            pref.email = address
        w.uow.flush()
        return language, address is not None


def list_epro_links(
    engine: Engine, actor: Actor, participant: int | str, *, visit_code: str | None = None
) -> list[EproLinkRecord]:
    """The participant's links (optionally of one visit), newest first."""
    with reading(engine, actor, "view_epro_links", "list_epro_links", participant=participant) as r:
        query = select(EproLink).where(EproLink.participant_id == r.p.id)
        if visit_code is not None:
            visit = find_visit(r.session, r.p, visit_code)
            query = query.where(EproLink.visit_id == (visit.id if visit is not None else -1))
        now = now_utc()
        rows = r.session.scalars(query.order_by(EproLink.id.desc()))
        return r.returning([_record(r.session, link, now) for link in rows])


def reminder_message(language: str, to: str, url: str, expires_at: datetime) -> OutgoingMessage:
    """The reminder e-mail in the participant's language: no study ID, no clinical content,
    only the link and when it expires.

    >>> from datetime import UTC, datetime
    >>> when = datetime(2026, 1, 2, tzinfo=UTC)
    >>> m = reminder_message("nb", "p@example.org", "https://t/epro/x", when)
    >>> m.subject
    'Påminnelse: spørreskjema fra studien'
    """
    _ = translations(check_language(language)).gettext
    body = "\n\n".join(
        [
            _("You have questionnaires from the study to fill in."),
            _("Open this link to answer them:") + f"\n{url}",
            _("The link can be used once and expires at %(time)s (UTC).")
            % {"time": expires_at.strftime("%Y-%m-%d %H:%M")},
            _("If you did not expect this message, please contact the study team."),
        ]
    )
    return OutgoingMessage(to=to, subject=_("Reminder: questionnaires from the study"), body=body)


class _NotSentError(RemitError):
    """A reminder the sender could not deliver: its transaction is rolled back."""


def send_epro_reminders(
    engine: Engine,
    actor: Actor,
    sender: Sender,
    *,
    base_url: str,
    remind_after: timedelta = REMIND_AFTER,
) -> list[ReminderRecord]:
    """E-mail a reminder for every open link (mode ``link``) of a participant with an e-mail
    address, once it has been open ``remind_after`` and not reminded for as long.

    The stored hash cannot be turned back into the link, so each reminder gives the link a new
    token (the old address stops working) and sends the new address, ``base_url`` +
    ``/epro/<token>``. Each reminder is its own transaction, committed only when the sender
    accepted the message: a failed send changes nothing (the old address still works) and is
    reported with the sender's error.
    """
    if not base_url.startswith(("http://", "https://")):
        raise InputError(
            f"base URL {base_url!r} is not a web address",
            expected="https://… (the address participants reach Remit at)",
        )
    now = now_utc()
    with reading(engine, actor, "send_epro_reminders", "send_epro_reminders") as r:
        query = (
            select(EproLink.id, EproLink.reminded_at)
            .join(ParticipantEpro, ParticipantEpro.participant_id == EproLink.participant_id)
            .join(Participant, Participant.id == EproLink.participant_id)
        )
        if actor.site_id is not None:  # a site-bound actor reminds its own site's participants
            query = query.where(Participant.site_id == actor.site_id)
        due = [
            link_id
            for link_id, reminded in r.session.execute(
                query.where(
                    EproLink.mode == "link",
                    EproLink.used_at.is_(None),
                    EproLink.revoked_at.is_(None),
                    EproLink.expires_at > now,
                    EproLink.issued_at <= now - remind_after,
                    ParticipantEpro.email.is_not(None),
                ).order_by(EproLink.id)
            )
            if reminded is None or reminded <= now - remind_after
        ]
        r.returning(due)
    results = []
    for link_id in due:
        results.append(_remind(engine, actor, sender, link_id, base_url.rstrip("/")))
    return results


def _owner(link_id: int) -> Callable[[Session], Participant]:
    def find(session: Session) -> Participant:
        return session.get_one(Participant, session.get_one(EproLink, link_id).participant_id)

    return find


def _remind(
    engine: Engine, actor: Actor, sender: Sender, link_id: int, base_url: str
) -> ReminderRecord:
    sent: dict[str, object] = {}
    try:
        with writing(
            engine, actor, "send_epro_reminders", participant=_owner(link_id), locks=False
        ) as w:
            link = w.session.get_one(EproLink, link_id)
            pref = _preference(w.session, link.participant_id)
            visit_code = w.session.get_one(Visit, link.visit_id).visit_code
            sent.update(participant=w.p.study_id, visit=visit_code)
            if pref is None or pref.email is None:  # removed since the list was read
                raise _NotSentError("no e-mail address")
            token = secrets.token_urlsafe(32)
            link.token_sha256 = token_sha256(token)
            link.reminded_at = now_utc()
            w.session.flush()
            message = reminder_message(
                link.language, pref.email, f"{base_url}/epro/{token}", link.expires_at
            )
            outcome = sender.send(message)
            if not outcome.ok:
                raise _NotSentError(outcome.error or "the sender refused the message")
    except _NotSentError as failed:
        return ReminderRecord(
            link_id=link_id,
            participant_id=str(sent.get("participant", "")),
            visit_code=str(sent.get("visit", "")),
            sent=False,
            error=failed.message,
        )
    return ReminderRecord(
        link_id=link_id,
        participant_id=str(sent["participant"]),
        visit_code=str(sent["visit"]),
        sent=True,
    )
