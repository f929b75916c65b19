"""Issue 13, authentication: the attacks of the security battery, now refused and recorded.

Parallel wrong passwords check at most the limit (SQLite and PostgreSQL); an unknown username
takes as long to refuse as a known one; every attempt is in the append-only security log;
``password1234`` is refused; idempotency keys are per user and a replay passes every check.
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from tests.support.forms import madrs
from tests.support.presets import two_site_protocol
from tests.support.trial import PASSWORD, Participant, build_trial

import remit.store.users as users
from remit import services as sv
from remit.errors import (
    ConflictError,
    InputError,
    PermissionDeniedError,
    StoreError,
    TooManyAttemptsError,
)
from remit.services import security
from remit.services.accounts import LoginPolicy
from remit.store import Actor, add_user, unit_of_work
from remit.store.security import SecurityEvent
from remit.store.tables import Assessment


def _add(engine: Engine, name: str, role: str = "admin") -> None:
    with unit_of_work(engine, Actor.system()) as uow:
        add_user(uow, name, PASSWORD, [(role, None)])


def _events(engine: Engine, event: str, username: str | None = None) -> int:
    query = select(func.count()).select_from(SecurityEvent).where(SecurityEvent.event == event)
    if username is not None:
        query = query.where(SecurityEvent.username == username)
    with Session(engine) as session:
        return int(session.scalar(query) or 0)


@pytest.fixture
def counted_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every argon2 verification made by authentication, as the hash checked."""
    checked: list[str] = []
    lock = threading.Lock()
    real = users.verify_password

    def counting(password_hash: str, password: str) -> bool:
        with lock:
            checked.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(users, "verify_password", counting)
    return checked


def test_thirty_parallel_wrong_passwords_check_at_most_the_limit(
    engine: Engine, fast_password_hashing: None, counted_checks: list[str]
) -> None:
    _add(engine, "ada")
    policy = LoginPolicy(max_failures=5, window_s=600)

    def attempt(n: int) -> str:
        try:
            sv.login(engine, "ada", f"wrong password number {n}", client="10.0.0.9", policy=policy)
        except TooManyAttemptsError:
            return "locked"
        except PermissionDeniedError:
            return "wrong"
        return "in"

    with ThreadPoolExecutor(max_workers=30) as pool:
        outcomes = list(pool.map(attempt, range(30)))
    assert outcomes.count("in") == 0
    assert outcomes.count("wrong") == len(counted_checks) <= 5
    assert outcomes.count("wrong") + outcomes.count("locked") == 30
    assert _events(engine, "login_failed", "ada") == outcomes.count("wrong")
    assert _events(engine, "lockout", "ada") == outcomes.count("locked") >= 25
    # even the right password waits for the window now
    with pytest.raises(TooManyAttemptsError) as raised:
        sv.login(engine, "ada", PASSWORD, policy=policy)
    assert raised.value.retry_after_s > 0


def test_the_window_passes_and_a_success_clears_the_count(
    engine: Engine, fast_password_hashing: None
) -> None:
    _add(engine, "ada")
    policy = LoginPolicy(max_failures=2, window_s=0.5)
    for _ in range(2):
        with pytest.raises(PermissionDeniedError):
            sv.login(engine, "ada", "not the password at all", policy=policy)
    with pytest.raises(TooManyAttemptsError):
        sv.login(engine, "ada", PASSWORD, policy=policy)
    time.sleep(0.6)
    assert sv.login(engine, "ada", PASSWORD, policy=policy).username == "ada"
    with pytest.raises(PermissionDeniedError):  # the success cleared the count: not locked
        sv.login(engine, "ada", "not the password at all", policy=policy)
    assert sv.login(engine, "ada", PASSWORD, policy=policy).username == "ada"
    assert _events(engine, "login_ok", "ada") == 2


def test_unknown_usernames_are_throttled_and_logged_like_known_ones(
    engine: Engine, fast_password_hashing: None, counted_checks: list[str]
) -> None:
    policy = LoginPolicy(max_failures=3, window_s=600)
    for _ in range(3):
        with pytest.raises(PermissionDeniedError) as refused:
            sv.login(engine, "nobody", "some password here", policy=policy)
        assert not isinstance(refused.value, TooManyAttemptsError)
    with pytest.raises(TooManyAttemptsError):
        sv.login(engine, "nobody", "some password here", policy=policy)
    assert len(counted_checks) == 3  # a dummy hash was checked each time
    assert _events(engine, "login_failed", "nobody") == 3
    assert _events(engine, "lockout", "nobody") == 1


def test_unknown_and_known_usernames_take_the_same_time(db_url: str) -> None:
    """The median time to refuse an unknown username is within 20 % of a known one's (real
    argon2 parameters, several tries each, interleaved; no absolute timing is asserted)."""
    engine = sv.open_database(db_url)
    try:
        _add(engine, "ada")
        policy = LoginPolicy(max_failures=1000, window_s=600)
        known: list[float] = []
        unknown: list[float] = []
        for n in range(10):  # the first round warms up (the dummy hash, the throttle rows)
            for name, times in (("ada", known), ("ghost", unknown))[:: 1 if n % 2 else -1]:
                start = time.perf_counter()
                with pytest.raises(PermissionDeniedError):
                    sv.login(engine, name, "a wrong password indeed", policy=policy)
                times.append(time.perf_counter() - start)
        ratio = statistics.median(unknown[1:]) / statistics.median(known[1:])
        assert 0.8 <= ratio <= 1.2, (known, unknown)
    finally:
        sv.close_database(engine)


def test_signature_reauthentication_is_throttled_and_logged(
    engine: Engine, fast_password_hashing: None
) -> None:
    _add(engine, "ada")
    actor = sv.actor_for(engine, "ada")
    policy = LoginPolicy(max_failures=3, window_s=600)
    results = [
        sv.check_password(engine, actor, f"wrong {n} password", policy=policy) for n in range(3)
    ]
    assert results == [False, False, False]
    with pytest.raises(TooManyAttemptsError):
        sv.check_password(engine, actor, PASSWORD, policy=policy)
    assert _events(engine, "reauth_failed", "ada") == 3
    assert _events(engine, "lockout", "ada") == 1


def test_the_security_log_is_append_only_and_for_admins(
    engine: Engine, fast_password_hashing: None
) -> None:
    _add(engine, "ada")
    _add(engine, "mona", "monitor")
    with pytest.raises(PermissionDeniedError):
        sv.login(engine, "ada", "not the password at all")
    sv.login(engine, "ada", PASSWORD, client="10.1.2.3")
    admin = sv.actor_for(engine, "ada")
    rows = security.security_log(engine, admin)
    assert [r.event for r in rows[:2]] == ["login_ok", "login_failed"]
    assert rows[0].client == "10.1.2.3"
    assert [r.event for r in security.security_log(engine, admin, event="login_failed")] == [
        "login_failed"
    ]
    with pytest.raises(InputError):
        security.security_log(engine, admin, event="nonsense")
    with pytest.raises(PermissionDeniedError):
        security.security_log(engine, sv.actor_for(engine, "mona"))
    for statement in ("UPDATE security_event SET username = 'x'", "DELETE FROM security_event"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    assert _events(engine, "login_ok", "ada") == 1


@pytest.mark.parametrize(
    "password",
    [
        "password1234",
        "Password1234!",
        "welcome123456",
        "qwertyuiop12",
        "iloveyou1234",  # from the bundled list of the 10,000 most common passwords
        "Monkey2024!!!",
        "Superman2024!",
    ],
)
def test_common_passwords_are_refused(
    engine: Engine, fast_password_hashing: None, password: str
) -> None:
    with pytest.raises(InputError, match="common"), unit_of_work(engine, Actor.system()) as uow:
        add_user(uow, "eve", password, [("monitor", None)])


def test_the_bundled_common_password_list() -> None:
    listed = users.common_passwords()
    assert len(listed) == 10_000
    assert {"password", "123456", "iloveyou", "baseball", "superman"} <= listed
    assert not users.is_common_password("kari-tar-bussen-hjem")


# --- idempotency keys per user ---------------------------------------------------------------


@pytest.fixture
def two_sites(engine: Engine, fast_password_hashing: None) -> dict[str, object]:
    """Participants at OST and OUS through V3; raters at each site and a therapist at OST."""
    trial = build_trial(
        engine,
        protocol=two_site_protocol(),
        sites=None,
        staff={
            "kari": [("investigator", None)],
            "rita": [("independent_rater", "OST")],
            "rolf": [("independent_rater", "OUS")],
            "tor": [("therapist", "OST")],
        },
        participants=[
            Participant(site=site, referral=date(2024, 1, 8), through="V3")
            for site in ("OST", "OUS")
        ],
    )
    ost, ous = trial.participants
    return {"engine": engine, "ost": ost, "ous": ous}


def _madrs(engine: Engine, user: str, pid: str, key: str) -> sv.AssessmentRecord:
    return sv.record_assessment(
        engine, sv.actor_for(engine, user), pid, "V3", "madrs", madrs(), idempotency_key=key
    )


def _assessments(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Assessment)) or 0)


def test_a_replay_by_the_same_user_returns_the_record(two_sites: dict[str, object]) -> None:
    engine, ost = two_sites["engine"], str(two_sites["ost"])
    assert isinstance(engine, Engine)
    first = _madrs(engine, "rita", ost, "tablet-7:madrs")
    again = _madrs(engine, "rita", ost, "tablet-7:madrs")
    assert again.id == first.id


def test_another_sites_user_replaying_a_key_learns_nothing(two_sites: dict[str, object]) -> None:
    engine, ost, ous = two_sites["engine"], str(two_sites["ost"]), str(two_sites["ous"])
    assert isinstance(engine, Engine)
    first = _madrs(engine, "rita", ost, "tablet-7:madrs")
    before = _assessments(engine)
    # the very same request from a rater of the other site: refused by site, no record shown
    with pytest.raises(PermissionDeniedError) as refused:
        _madrs(engine, "rolf", ost, "tablet-7:madrs")
    assert f"assessment {first.id}" not in str(refused.value)
    # the same key for a different request of their own: never the other user's record (the
    # form's own idempotency_key column still keeps keys unique: a conflict naming nothing)
    with pytest.raises((StoreError, ConflictError)) as conflict:
        _madrs(engine, "rolf", ous, "tablet-7:madrs")
    assert f"assessment {first.id}" not in str(conflict.value)
    assert "rita" not in str(conflict.value)
    assert _assessments(engine) == before


def test_a_replay_by_a_non_rater_is_refused(two_sites: dict[str, object]) -> None:
    engine, ost = two_sites["engine"], str(two_sites["ost"])
    assert isinstance(engine, Engine)
    _madrs(engine, "rita", ost, "tablet-7:madrs")
    before = _assessments(engine)
    with pytest.raises(PermissionDeniedError, match="independent rater"):
        _madrs(engine, "tor", ost, "tablet-7:madrs")  # a therapist may not enter the MADRS
    assert _assessments(engine) == before


def test_password_changes_and_resets_are_in_the_security_log(
    engine: Engine, fast_password_hashing: None
) -> None:
    _add(engine, "ada")
    _add(engine, "mona", "monitor")
    ada, mona = sv.actor_for(engine, "ada"), sv.actor_for(engine, "mona")
    with pytest.raises(PermissionDeniedError):
        sv.change_password(engine, mona, "not my password at all", "kari tar bussen hjem")
    assert _events(engine, "reauth_failed", "mona") == 1
    sv.change_password(engine, mona, PASSWORD, "kari tar bussen hjem")
    assert _events(engine, "password_changed", "mona") == 1
    sv.reset_password(engine, ada, "mona")
    assert _events(engine, "password_reset", "mona") == 1


def test_throttle_rows_whose_window_passed_are_pruned(
    engine: Engine, fast_password_hashing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import remit.store.security as store_security

    policy = LoginPolicy(max_failures=3, window_s=0.2)
    for n in range(5):
        with pytest.raises(PermissionDeniedError):
            sv.login(engine, f"made-up-{n}", "some password here", policy=policy)
    time.sleep(0.3)
    monkeypatch.setattr(store_security, "PRUNE_ONE_IN", 1)
    with pytest.raises(PermissionDeniedError):
        sv.login(engine, "made-up-new", "some password here", policy=policy)
    with Session(engine) as session:
        kept = list(session.scalars(select(store_security.LoginThrottle.username)))
    assert kept == ["made-up-new"]
