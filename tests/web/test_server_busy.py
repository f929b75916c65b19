"""A request that finds every database connection of the server busy for the pool's whole
wait (many logins at once on a loaded server: the load benchmark saw 500s) is answered 503
with ``Retry-After`` and a clear message, on the API and on a page, and stores nothing; sent
again once a connection is free, it goes through."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from remit.store.tables import Assessment, AuditEvent

NEW_MADRS = {
    "participant_id": "OSL-001",
    "visit_code": "V3",
    "scale": "madrs",
    "answers": {str(i): 2 for i in range(1, 11)},
}


@contextmanager
def every_connection_taken(app: FastAPI) -> Iterator[None]:
    """Hold every connection the app's pool can give, with a short wait for a free one."""
    pool = app.state.remit.engine.pool
    waited = pool._timeout  # QueuePool's wait for a free connection (30 s by default)
    pool._timeout = 0.5
    held: list[Connection] = []
    try:
        held.extend(
            app.state.remit.engine.connect() for _ in range(pool.size() + pool._max_overflow)
        )
        yield
    finally:
        for connection in held:
            connection.close()
        pool._timeout = waited


def _rows(app: FastAPI) -> dict[str, int]:
    with Session(app.state.remit.engine) as session:
        return {
            t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0
            for t in (Assessment, AuditEvent)
        }


def test_an_exhausted_pool_is_503_with_retry_after_and_nothing_stored(
    app: FastAPI, api_as: Callable[[str], TestClient], login_as: Callable[[str], TestClient]
) -> None:
    rater = api_as("independent_rater")
    page = login_as("independent_rater")
    before = _rows(app)
    with every_connection_taken(app):
        refused = rater.post(
            "/api/v1/assessments", json=NEW_MADRS, headers={"Idempotency-Key": "busy-1"}
        )
        refused_page = page.get("/participants")
    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == "2"
    body = refused.json()
    assert body["error"] == "ServerBusyError"
    assert "nothing was stored" in body["message"]
    assert "Idempotency-Key" in body["hint"]
    assert refused_page.status_code == 503
    assert "too busy" in refused_page.text
    assert refused_page.headers["Retry-After"] == "2"
    assert "Content-Security-Policy" in refused_page.headers
    assert _rows(app) == before

    again = rater.post("/api/v1/assessments", json=NEW_MADRS, headers={"Idempotency-Key": "busy-1"})
    assert again.status_code == 201, again.text
    assert _rows(app)["assessment"] == before["assessment"] + 1
