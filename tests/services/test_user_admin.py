"""User administration: deactivate and reactivate, an admin's password reset, the forced
change at first login, changing one's own password; each refusal leaves the database as it was
(SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.support.db import count_all, count_data
from tests.support.trial import PASSWORD, OsloTrial

from remit import services as sv
from remit.errors import InputError, NotFoundError, PermissionDeniedError
from remit.store.tables import AuditEvent

NEW = "kari tar bussen hjem"


def _audited(oslo: OsloTrial, field: str) -> list[tuple[str, str | None]]:
    with Session(oslo.engine) as session:
        rows = session.execute(
            select(AuditEvent.username, AuditEvent.new_value).where(
                AuditEvent.table_name == "user_account", AuditEvent.field == field
            )
        )
        return [(u, v) for u, v in rows]


def test_a_new_user_must_change_the_password_an_admin_chose(oslo: OsloTrial) -> None:
    added = sv.add_user(oslo.engine, oslo.admin, "liv", PASSWORD, [("therapist", "OST")])
    assert added.must_change_password
    liv = sv.login(oslo.engine, "liv", PASSWORD)
    assert sv.account_standing(oslo.engine, liv) == sv.AccountStanding(True, True)
    changed = sv.change_password(oslo.engine, liv, PASSWORD, NEW)
    assert not changed.must_change_password
    assert sv.account_standing(oslo.engine, liv) == sv.AccountStanding(True, False)
    with pytest.raises(PermissionDeniedError):
        sv.login(oslo.engine, "liv", PASSWORD)
    assert sv.login(oslo.engine, "liv", NEW).username == "liv"


@pytest.mark.parametrize(
    ("current", "new", "error", "words"),
    [
        ("not my password!!", NEW, PermissionDeniedError, "current password does not match"),
        (PASSWORD, PASSWORD, InputError, "the new password is the current one"),
        (PASSWORD, "short one", InputError, "9 characters"),
        (PASSWORD, "Password2024!", InputError, "very common"),
        (PASSWORD, "I am kari, really", InputError, "contains the username"),
    ],
)
def test_a_refused_password_change_changes_nothing(
    oslo: OsloTrial, current: str, new: str, error: type[Exception], words: str
) -> None:
    before = count_data(oslo.engine)  # the attempt itself is in the security log
    with pytest.raises(error, match=words):
        sv.change_password(oslo.engine, oslo.investigator, current, new)
    assert count_data(oslo.engine) == before
    assert sv.login(oslo.engine, "kari", PASSWORD).username == "kari"


def test_deactivating_stops_login_and_every_service_and_is_audited(oslo: OsloTrial) -> None:
    kari = oslo.investigator
    done = sv.set_user_active(oslo.engine, oslo.admin, "kari", False, reason="left the study")
    assert not done.active
    with pytest.raises(PermissionDeniedError, match="inactive"):
        sv.login(oslo.engine, "kari", PASSWORD)
    assert not sv.account_standing(oslo.engine, kari).active
    with pytest.raises(PermissionDeniedError, match="inactive"):
        sv.list_participants(oslo.engine, kari)
    assert ("ada", "false") in _audited(oslo, "active")
    again = sv.set_user_active(oslo.engine, oslo.admin, "kari", True, reason="back")
    assert again.active
    assert sv.login(oslo.engine, "kari", PASSWORD).role == "investigator"


def test_deactivation_refusals_change_nothing(oslo: OsloTrial) -> None:
    before = count_all(oslo.engine)
    with pytest.raises(InputError, match="cannot deactivate their own account"):
        sv.set_user_active(oslo.engine, oslo.admin, "ada", False)
    with pytest.raises(PermissionDeniedError, match="may not set user active"):
        sv.set_user_active(oslo.engine, oslo.investigator, "tor", False)
    with pytest.raises(NotFoundError, match="'nobody' does not exist"):
        sv.set_user_active(oslo.engine, oslo.admin, "nobody", False)
    assert count_all(oslo.engine) == before


def test_a_reset_password_is_generated_shown_once_and_must_be_changed(oslo: OsloTrial) -> None:
    reset = sv.reset_password(oslo.engine, oslo.admin, "tor", reason="forgot it")
    temporary = reset.temporary_password
    assert temporary is not None
    assert len(temporary) >= 12
    assert reset.user.must_change_password
    with pytest.raises(PermissionDeniedError):
        sv.login(oslo.engine, "tor", PASSWORD)
    tor = sv.login(oslo.engine, "tor", temporary)
    assert sv.account_standing(oslo.engine, tor).must_change_password
    sv.change_password(oslo.engine, tor, temporary, NEW)
    assert not sv.account_standing(oslo.engine, tor).must_change_password
    # the audit trail has the change but never the hash nor the password
    trail = _audited(oslo, "password_hash")
    assert trail
    assert all(temporary not in (v or "") and "argon2" not in (v or "") for _, v in trail)


def test_an_admin_may_choose_the_temporary_password(oslo: OsloTrial) -> None:
    reset = sv.reset_password(oslo.engine, oslo.admin, "rita", "a temporary one 7")
    assert reset.temporary_password is None
    assert sv.login(oslo.engine, "rita", "a temporary one 7").username == "rita"


def test_reset_refusals_change_nothing(oslo: OsloTrial) -> None:
    before = count_all(oslo.engine)
    with pytest.raises(InputError, match="very common"):
        sv.reset_password(oslo.engine, oslo.admin, "rita", "Welcome12345!")
    with pytest.raises(PermissionDeniedError, match="may not reset password"):
        sv.reset_password(oslo.engine, oslo.data_manager, "rita")
    with pytest.raises(NotFoundError):
        sv.reset_password(oslo.engine, oslo.admin, "nobody")
    with pytest.raises(InputError, match="cannot reset their own password"):
        sv.reset_password(oslo.engine, oslo.admin, "ada")
    assert count_all(oslo.engine) == before
    assert sv.login(oslo.engine, "rita", PASSWORD).username == "rita"
