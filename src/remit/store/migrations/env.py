"""Alembic environment: runs on the connection handed over by :func:`remit.store.upgrade`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from remit.errors import StoreError
from remit.store.tables import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise StoreError(
            "Remit's migrations run only through remit.store.upgrade()",
            hint="run `remit db upgrade --db URL`",
        )
    _run(connection)


def _inside_alembic() -> bool:
    # Importing this module outside a migration run (e.g. pytest --doctest-modules) does nothing.
    try:
        context.config  # noqa: B018 - the proxy has this attribute only during a run
    except AttributeError:
        return False
    return True


if _inside_alembic():
    _main()
