"""Run the packaged Alembic migrations: the only way Remit's tables are created."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from remit.errors import StoreError
from remit.store.engine import make_engine, write_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """An Alembic configuration pointing at Remit's packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration shipped with this version of Remit."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise StoreError("no migrations found in " + str(MIGRATIONS_DIR))
    return head


def _engine(engine_or_url: Engine | str | Path | URL) -> tuple[Engine, bool]:
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return make_engine(engine_or_url), True


def _migrate(
    engine_or_url: Engine | str | Path | URL,
    step: Callable[[Config, str], None],
    revision: str,
    doing: str,
    hint: str | None = None,
) -> str | None:
    """Run the Alembic ``step`` (upgrade or downgrade) to ``revision`` in one transaction;
    return the revision reached. A failure is a :class:`StoreError` saying what was ``doing``."""
    engine, owned = _engine(engine_or_url)
    config = alembic_config()
    try:
        with write_engine(engine).begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)
        return current_revision(engine)
    except SQLAlchemyError as error:
        raise StoreError(
            f"{doing} {engine.url.render_as_string(hide_password=True)} failed: {error}",
            hint=hint,
        ) from error
    finally:
        if owned:
            engine.dispose()


def upgrade(engine_or_url: Engine | str | Path | URL, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` (the newest by default); return the revision reached.

    Runs in one transaction (DDL is transactional on SQLite and PostgreSQL), so a failed
    migration leaves the database as it was.
    """
    return _migrate(
        engine_or_url,
        command.upgrade,
        revision,
        "migrating",
        hint="check that the database is reachable and that you may create tables",
    )


def downgrade(engine_or_url: Engine | str | Path | URL, revision: str) -> str | None:
    """Migrate the database back to ``revision`` (``"base"`` drops every table; data are lost)."""
    return _migrate(engine_or_url, command.downgrade, revision, "downgrading")


def current_revision(engine_or_url: Engine | str | Path | URL) -> str | None:
    """The migration the database is at (``None`` for an empty database)."""
    engine, owned = _engine(engine_or_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as error:
        raise StoreError(
            f"cannot read {engine.url.render_as_string(hide_password=True)}: {error}",
            hint="check the --db URL and that the database server is running",
        ) from error
    finally:
        if owned:
            engine.dispose()


def require_current(engine: Engine) -> None:
    """Refuse to work on a database that is not migrated to this version's head."""
    found = current_revision(engine)
    head = head_revision()
    if found != head:
        raise StoreError(
            f"database {engine.url.render_as_string(hide_password=True)} is at migration "
            f"{found or 'none (empty)'}",
            expected=f"migration {head}",
            hint="run `remit db upgrade --db URL`",
        )
