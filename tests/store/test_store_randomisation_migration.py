"""Migration 0021: the randomisation tables and the role ``unblinded_statistician`` appear on
upgrade; downgrade refuses while a list is stored (the allocations would be lost), and
otherwise removes them and the role's grants (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect
from tests.support.trial import PASSWORD, build_trial

from remit import services as sv
from remit.errors import PermissionDeniedError, StoreError
from remit.store import downgrade, make_engine, upgrade

TABLES = {"randomisation_list", "randomisation_slot", "allocation"}


def _role_words(engine: sa.Engine) -> set[str]:
    """The words the CHECK constraint of ``user_role.role`` allows."""
    found = inspect(engine).get_check_constraints("user_role")
    return {w for c in found for w in re.findall(r"'([^']*)'", str(c["sqltext"]))}


def test_randomisation_tables_and_role_upgrade_and_downgrade(
    empty_db_url: str, fast_password_hashing: None, tmp_path: Path
) -> None:
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine, "0022")
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade(engine, "0021")
        assert set(inspect(engine).get_table_names()) >= TABLES
        assert "unblinded_statistician" in _role_words(engine)
        downgrade(engine, "0022")
        assert not TABLES & set(inspect(engine).get_table_names())
        assert "unblinded_statistician" not in _role_words(engine)  # the old CHECK is back
        upgrade(engine)
        key = sv.new_allocation_key_file(tmp_path / "k")
        trial = build_trial(sv.with_allocation_key(engine, key), protocol="mdma-mdd-rct-example")
        # no list yet: the downgrade takes the role's grants, the user stays
        downgrade(engine, "0022")
        with engine.connect() as c:
            users = set(c.execute(sa.text("SELECT username FROM user_account")).scalars())
        assert "una" in users
        upgrade(engine)
        with pytest.raises(PermissionDeniedError, match="holds no matching roles"):
            sv.actor_for(engine, "una", "unblinded_statistician")
        sv.add_user(
            engine, trial.admin, "ulla", PASSWORD, [("unblinded_statistician", None)],
            must_change_password=False,
        )  # fmt: skip
        ulla = sv.actor_for(trial.engine, "ulla", "unblinded_statistician")
        sv.generate_list(trial.engine, ulla, n_per_stratum=2)
        with pytest.raises(StoreError, match="a randomisation list is stored"):
            downgrade(engine, "0022")
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()
