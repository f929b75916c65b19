"""Page POSTs do their database work in worker threads, never on the event loop: a save, an
export or a report that blocks (a write waiting for a lock, an fsync, a long export) holds up
only its own request, not every request of the process.

A page handler reads its form through :data:`remit.web.core.CheckedForm` (the body read and the
CSRF token checked on the event loop) and is a plain function, which FastAPI runs in a worker
thread. The two handlers still written ``async`` are listed here with why."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.support.web import csrf_of
from tests.web.test_pages import MADRS, madrs_form

import remit.web
from remit import services as sv

#: Page handlers still ``async``, each handing its blocking calls to threads itself: the login
#: (its throttle's delay waits with ``asyncio.sleep``, holding no thread) and the participant's
#: own ePRO submission (no staff session to check the form against).
STILL_ASYNC = {"login_submit", "submit_participant_forms"}


def _page_posts() -> list[APIRoute]:
    """The POST routes of every page module's router (``remit.web.pages*``)."""
    found = []
    for module in pkgutil.iter_modules(remit.web.__path__):
        if not module.name.startswith("pages"):
            continue
        router = importlib.import_module(f"remit.web.{module.name}").router
        found += [r for r in router.routes if isinstance(r, APIRoute) and "POST" in r.methods]
    return found


def test_page_posts_are_plain_functions_run_in_worker_threads() -> None:
    posts = _page_posts()
    assert len(posts) > 40
    on_the_loop = {r.endpoint.__name__ for r in posts if inspect.iscoroutinefunction(r.endpoint)}
    assert on_the_loop <= STILL_ASYNC, sorted(on_the_loop - STILL_ASYNC)


@pytest.mark.parametrize("writes", ["record_assessment"])
def test_a_form_saved_through_its_page_is_saved_off_the_event_loop(
    login_as: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch, writes: str
) -> None:
    client = login_as("independent_rater")
    seen: list[tuple[str, bool]] = []
    real = getattr(sv, writes)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:  # no event loop runs in this thread
            on_loop = False
        seen.append((threading.current_thread().name, on_loop))
        return real(*args, **kwargs)

    monkeypatch.setattr(sv, writes, recorded)
    saved = client.post(MADRS, data=madrs_form(csrf_of(client.get(MADRS).text)))
    assert saved.status_code == 200, saved.text
    assert len(seen) == 1
    assert seen[0][1] is False, seen


def test_a_page_post_without_its_token_is_refused_before_the_service_runs(
    login_as: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = login_as("independent_rater")
    called: list[object] = []
    monkeypatch.setattr(sv, "record_assessment", lambda *a, **k: called.append(a))
    data = madrs_form("not-the-token")
    refused = client.post(MADRS, data=data)
    assert refused.status_code == 403
    assert "security token" in refused.text
    assert called == []
