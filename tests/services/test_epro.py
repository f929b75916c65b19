"""Participant self-report (ePRO): single-use, expiring links; the participant's forms go
through the staff path (scoring, audit, safety alerts) with the participant as the source."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session
from tests.support.forms import fill
from tests.support.presets import two_site_protocol
from tests.support.smtp import closed_port, local_smtp
from tests.support.trial import OsloTrial, Participant, add_participant, build_trial
from tests.support.waiting import wait_until

from remit import services as sv
from remit.errors import ConflictError, InputError, PermissionDeniedError
from remit.services.epro import EproLinkError, token_sha256
from remit.services.senders import OutgoingMessage, SendResult
from remit.store import Actor
from remit.store.epro import EproLink
from remit.store.tables import Assessment, AuditEvent

#: V3 (the baseline self-reports) falls 49 days after the referral: referred 50 days ago,
#: the participant's V3 was yesterday and its window is open today.
V3_AFTER_REFERRAL = 49


def at_v3_today(trial: OsloTrial) -> str:
    """A participant walked up to V3, which took place yesterday."""
    referral = datetime.now(UTC).date() - timedelta(days=V3_AFTER_REFERRAL + 1)
    return add_participant(trial, Participant(through="V3", referral=referral))


def answers_for(scales: tuple[str, ...], **overrides: dict[str, object]) -> dict[str, dict]:
    """Every item of each scale answered at its lowest level (BDI-II item 9 from overrides)."""
    return {s: {**fill(s, level=0), **overrides.get(s, {})} for s in scales}


def test_a_link_asks_the_visits_self_reports_and_is_used_once(oslo: OsloTrial) -> None:
    pid = at_v3_today(oslo)
    issued = sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3")
    assert issued.link.scales == ("sds", "gad7", "isi", "psqi", "pcl5", "bdi2")
    assert issued.link.state == "open"
    assert issued.link.language == "nb"
    # only the hash is stored
    with Session(oslo.engine) as session:
        stored = session.scalars(select(EproLink.token_sha256)).all()
    assert stored == [token_sha256(issued.token)]
    assert issued.token not in stored[0]

    forms = sv.open_epro_link(oslo.engine, issued.token)
    assert forms.scales == issued.link.scales
    assert forms.visit_code == "V3"

    done = sv.submit_epro_forms(oslo.engine, issued.token, answers_for(forms.scales))
    assert [f.scale for f in done.forms] == list(forms.scales)
    assert {f.rater_role for f in done.forms} == {"participant"}
    assert {f.status for f in done.forms} == {"complete"}
    with pytest.raises(EproLinkError) as used:
        sv.open_epro_link(oslo.engine, issued.token)
    assert used.value.reason == "used"
    with pytest.raises(EproLinkError):
        sv.submit_epro_forms(oslo.engine, issued.token, answers_for(forms.scales))
    [link] = sv.list_epro_links(oslo.engine, oslo.investigator, pid)
    assert link.state == "used"
    assert link.used_at is not None


def test_audit_records_the_participant_as_the_source(oslo: OsloTrial) -> None:
    pid = at_v3_today(oslo)
    issued = sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3", scales=["gad7"])
    [form] = sv.submit_epro_forms(oslo.engine, issued.token, answers_for(("gad7",))).forms
    with Session(oslo.engine) as session:
        rows = session.scalars(
            select(AuditEvent).where(
                AuditEvent.table_name == "assessment", AuditEvent.record_id == form.id
            )
        ).all()
        row = session.get_one(Assessment, form.id)
    assert rows
    assert {(r.role, r.user_id) for r in rows} == {("participant", None)}
    assert row.rater_role == "participant"
    assert row.rater_user_id is None
    # the form's edit history and signatures stay with staff: the usual audit verification
    assert sv.verify_audit(oslo.engine).ok


def test_bdi2_item_9_of_2_raises_the_same_alert_as_staff_entry(oslo: OsloTrial) -> None:
    pid = at_v3_today(oslo)
    issued = sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3", scales=["gad7", "bdi2"])
    answers = answers_for(("gad7", "bdi2"), bdi2={"suicidal_thoughts": 2})
    done = sv.submit_epro_forms(oslo.engine, issued.token, answers)
    bdi = next(f for f in done.forms if f.scale == "bdi2")
    assert {a.rule_id for a in bdi.alerts} >= {"bdi2_item9_2"}
    assert done.n_alerts >= 1
    listed = sv.list_alerts(oslo.engine, oslo.investigator, status="open")
    assert any(a.rule_id == "bdi2_item9_2" and a.participant_id == pid for a in listed)

    # the same answers entered by staff raise the same rules
    other = at_v3_today(oslo)
    staff = sv.record_assessment(oslo.engine, oslo.therapist, other, "V3", "bdi2", answers["bdi2"])
    assert {a.rule_id for a in staff.alerts} == {a.rule_id for a in bdi.alerts}


def test_refusals_write_nothing(oslo: OsloTrial, rows: Callable[[], dict[str, int]]) -> None:
    pid = at_v3_today(oslo)
    issued = sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3", scales=["gad7", "bdi2"])
    before = rows()
    answers = answers_for(("gad7", "bdi2"))
    blank = {**answers, "bdi2": {k: v for k, v in answers["bdi2"].items() if k != "crying"}}
    with pytest.raises(InputError, match="not answered"):  # a question left blank
        sv.submit_epro_forms(oslo.engine, issued.token, blank)
    with pytest.raises(InputError, match="not for the forms"):  # a form missing
        sv.submit_epro_forms(oslo.engine, issued.token, {"gad7": answers["gad7"]})
    with pytest.raises(InputError):  # out of range
        sv.submit_epro_forms(
            oslo.engine, issued.token, {**answers, "gad7": {**answers["gad7"], "irritability": 9}}
        )
    with pytest.raises(EproLinkError) as unknown:
        sv.submit_epro_forms(oslo.engine, issued.token + "x", answers)
    assert unknown.value.reason == "unknown"
    assert rows() == before
    # the link still works after the refusals
    assert sv.submit_epro_forms(oslo.engine, issued.token, answers).link_id == issued.link.id


def test_an_expired_link_is_refused(oslo: OsloTrial, rows: Callable[[], dict[str, int]]) -> None:
    pid = at_v3_today(oslo)
    issued = sv.issue_epro_link(
        oslo.engine, oslo.therapist, pid, "V3", scales=["gad7"], expires_in=timedelta(hours=1)
    )
    assert issued.link.expires_at - issued.link.issued_at == timedelta(hours=1)
    with oslo.engine.begin() as conn:  # an hour and a minute later
        conn.execute(update(EproLink).values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    before = rows()
    with pytest.raises(EproLinkError) as expired:
        sv.submit_epro_forms(oslo.engine, issued.token, answers_for(("gad7",)))
    assert expired.value.reason == "expired"
    with pytest.raises(EproLinkError):
        sv.open_epro_link(oslo.engine, issued.token)
    assert rows() == before  # not even an access-log row


def test_a_new_link_revokes_the_open_one(oslo: OsloTrial) -> None:
    pid = at_v3_today(oslo)
    first = sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3", scales=["gad7"])
    second = sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3", scales=["gad7"])
    with pytest.raises(EproLinkError) as revoked:
        sv.open_epro_link(oslo.engine, first.token)
    assert revoked.value.reason == "revoked"
    assert sv.open_epro_link(oslo.engine, second.token).link_id == second.link.id


def test_a_link_is_for_its_own_participant_only(oslo: OsloTrial) -> None:
    pid, other = at_v3_today(oslo), at_v3_today(oslo)
    issued = sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3", scales=["gad7"])
    done = sv.submit_epro_forms(oslo.engine, issued.token, answers_for(("gad7",)))
    assert done.participant_id == pid
    assert [
        f.scale for f in sv.list_assessments(oslo.engine, oslo.investigator, other, visit_code="V3")
    ] == []
    # the participant pseudo-role performs nothing but its two operations
    participant = sv.epro.participant_actor()
    with pytest.raises(PermissionDeniedError):
        sv.record_assessment(oslo.engine, participant, other, "V3", "gad7", fill("gad7", level=0))
    with pytest.raises(PermissionDeniedError):
        sv.list_assessments(oslo.engine, participant, pid)
    forged = Actor(user_id=oslo.therapist.user_id, username="tor", role="participant")
    with pytest.raises(PermissionDeniedError):
        sv.list_epro_links(oslo.engine, forged, pid)


def test_issuing_refuses_what_is_not_due(oslo: OsloTrial) -> None:
    pid = at_v3_today(oslo)
    with pytest.raises(InputError, match="not a self-report form"):
        sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3", scales=["madrs"])
    with pytest.raises(InputError, match="expire"):
        sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3", expires_in=timedelta(days=30))
    sv.record_assessment(oslo.engine, oslo.therapist, pid, "V3", "gad7", fill("gad7", level=0))
    with pytest.raises(ConflictError, match="already has a gad7"):
        sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3", scales=["gad7"])
    issued = sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3")
    assert "gad7" not in issued.link.scales
    with pytest.raises(PermissionDeniedError):  # a monitor does not administer forms
        sv.issue_epro_link(oslo.engine, oslo.actors["monitor"], pid, "V3")


def test_language_is_chosen_per_participant(oslo: OsloTrial) -> None:
    pid = at_v3_today(oslo)
    assert sv.set_epro_preferences(oslo.engine, oslo.investigator, pid, language="en") == (
        "en",
        False,
    )
    issued = sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3", scales=["gad7"])
    assert sv.open_epro_link(oslo.engine, issued.token).language == "en"
    with pytest.raises(InputError, match="not an interface language"):
        sv.set_epro_preferences(oslo.engine, oslo.investigator, pid, language="sv")
    with pytest.raises(InputError, match="not usable"):
        sv.set_epro_preferences(oslo.engine, oslo.investigator, pid, language="nb", email="x")
    # the address is redacted in the audit trail
    sv.set_epro_preferences(
        oslo.engine, oslo.investigator, pid, language="nb", email="ola@example.org"
    )
    with Session(oslo.engine) as session:
        values = session.scalars(
            select(AuditEvent.new_value).where(AuditEvent.table_name == "participant_epro")
        ).all()
    assert not any("ola@example.org" in (v or "") for v in values)


def _issued_a_day_ago(oslo: OsloTrial, link_id: int) -> None:
    with oslo.engine.begin() as conn:
        conn.execute(
            update(EproLink)
            .where(EproLink.id == link_id)
            .values(issued_at=datetime.now(UTC) - timedelta(hours=25))
        )


def test_reminders_go_by_email_with_a_fresh_token(oslo: OsloTrial) -> None:
    pid, silent = at_v3_today(oslo), at_v3_today(oslo)
    sv.set_epro_preferences(
        oslo.engine, oslo.investigator, pid, language="nb", email="ola@example.org"
    )
    sv.set_epro_preferences(oslo.engine, oslo.investigator, silent, language="en")  # no e-mail
    issued = sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3", scales=["gad7"])
    quiet = sv.issue_epro_link(oslo.engine, oslo.therapist, silent, "V3", scales=["gad7"])
    fresh = at_v3_today(oslo)
    sv.set_epro_preferences(oslo.engine, oslo.investigator, fresh, language="en", email="f@x.no")
    sv.issue_epro_link(oslo.engine, oslo.therapist, fresh, "V3", scales=["gad7"])  # just issued
    for link_id in (issued.link.id, quiet.link.id):
        _issued_a_day_ago(oslo, link_id)
    with local_smtp() as smtp:
        sender = sv.sender_from_url(smtp.url, sender_address="remit@trial.example")
        sent = sv.send_epro_reminders(
            oslo.engine, oslo.therapist, sender, base_url="https://remit.example/"
        )
        (mail,) = wait_until(lambda: smtp.messages or None, "the reminder")
    assert [(r.link_id, r.participant_id, r.sent) for r in sent] == [(issued.link.id, pid, True)]
    assert mail.to == ("ola@example.org",)
    assert mail.subject == "Påminnelse: spørreskjema fra studien"
    assert pid not in mail.body  # no study ID in the e-mail
    url = next(w for w in mail.body.split() if w.startswith("https://remit.example/epro/"))
    token = url.rsplit("/", 1)[1]
    # the old address stops working, the new one opens the forms
    with pytest.raises(EproLinkError):
        sv.open_epro_link(oslo.engine, issued.token)
    assert sv.open_epro_link(oslo.engine, token).scales == ("gad7",)
    # reminded once a day at most
    with local_smtp() as smtp:
        sender = sv.sender_from_url(smtp.url, sender_address="remit@trial.example")
        assert (
            sv.send_epro_reminders(oslo.engine, oslo.therapist, sender, base_url="https://r") == []
        )


def test_a_failed_reminder_changes_nothing(oslo: OsloTrial) -> None:
    pid = at_v3_today(oslo)
    sv.set_epro_preferences(oslo.engine, oslo.investigator, pid, language="en", email="o@x.org")
    issued = sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3", scales=["gad7"])
    _issued_a_day_ago(oslo, issued.link.id)
    down = sv.sender_from_url(f"smtp://127.0.0.1:{closed_port()}", sender_address="r@t.example")
    [result] = sv.send_epro_reminders(oslo.engine, oslo.therapist, down, base_url="https://r")
    assert not result.sent
    assert result.error
    assert sv.open_epro_link(oslo.engine, issued.token).link_id == issued.link.id
    [link] = sv.list_epro_links(oslo.engine, oslo.therapist, pid)
    assert link.reminded_at is None
    with pytest.raises(InputError, match="not a web address"):
        sv.send_epro_reminders(oslo.engine, oslo.therapist, down, base_url="remit.example")


def test_worklists_show_links_sent_and_forms_completed(oslo: OsloTrial) -> None:
    pid = at_v3_today(oslo)
    issued = sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3", scales=["gad7"])

    def items(actor: Actor, kind: str) -> list[sv.WorkItemRecord]:
        found = sv.worklist(oslo.engine, actor).items
        return [i for i in found if i.kind == kind and i.participant_id == pid]

    [gad7] = [i for i in items(oslo.therapist, "form_due") if i.what.startswith("GAD7")]
    assert f"sent to the participant by ePRO link {issued.link.id}" in gad7.why
    [bdi2] = [i for i in items(oslo.therapist, "form_due") if i.what.startswith("BDI2")]
    assert "ePRO" not in bdi2.why  # not in the link
    assert items(oslo.investigator, "epro_completed") == []

    sv.submit_epro_forms(oslo.engine, issued.token, answers_for(("gad7",)))
    assert not [i for i in items(oslo.therapist, "form_due") if i.what.startswith("GAD7")]
    for actor in (oslo.therapist, oslo.investigator):
        [done] = items(actor, "epro_completed")
        assert done.what == "Self-report completed by the participant: GAD7"
        assert done.link == f"/participants/{pid}/epro"
        assert done.group == "today"


def test_two_submissions_of_one_link_at_once_store_one(oslo: OsloTrial) -> None:
    pid = at_v3_today(oslo)
    issued = sv.issue_epro_link(oslo.engine, oslo.therapist, pid, "V3", scales=["gad7"])
    answers = answers_for(("gad7",))
    start = threading.Barrier(2)

    def submit() -> str:
        start.wait()
        try:
            sv.submit_epro_forms(oslo.engine, issued.token, answers)
        except EproLinkError as refused:
            return refused.reason
        except ConflictError:  # the second saw the first's form
            return "conflict"
        return "stored"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(lambda _: submit(), range(2)))
    assert outcomes[1] == "used" or outcomes == ["conflict", "stored"]
    assert "stored" in outcomes
    forms = sv.list_assessments(oslo.engine, oslo.investigator, pid, visit_code="V3")
    assert [f.scale for f in forms] == ["gad7"]


@dataclass
class _Outbox:
    """A sender that keeps what it is given (the SMTP path is tested above)."""

    sent: list[OutgoingMessage] = field(default_factory=list)
    channel: str = "email"

    def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return SendResult(True)

    def describe(self) -> str:
        return "outbox"


def test_a_site_bound_user_reminds_only_their_sites_participants(
    engine: Engine, fast_password_hashing: None
) -> None:
    referral = datetime.now(UTC).date() - timedelta(days=V3_AFTER_REFERRAL + 1)
    trial = build_trial(
        engine,
        protocol=two_site_protocol(),
        sites=None,
        staff={"kari": [("investigator", None)], "tor": [("therapist", "OST")]},
        participants=[
            Participant(site=site, through="V3", referral=referral) for site in ("OST", "OUS")
        ],
    )
    for n, pid in enumerate(trial.participants):
        sv.set_epro_preferences(
            engine, trial.investigator, pid, language="en", email=f"p{n}@example.org"
        )
        link = sv.issue_epro_link(engine, trial.investigator, pid, "V3", scales=["gad7"]).link
        _issued_a_day_ago(trial, link.id)
    outbox = _Outbox()
    sent = sv.send_epro_reminders(engine, trial.therapist, outbox, base_url="https://r")
    assert [r.participant_id for r in sent] == [trial.participants[0]]
    assert [m.to for m in outbox.sent] == ["p0@example.org"]
    everyone = sv.send_epro_reminders(engine, trial.investigator, outbox, base_url="https://r")
    assert [r.participant_id for r in everyone] == [trial.participants[1]]  # OST's was reminded
