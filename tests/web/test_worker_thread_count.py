"""The worker threads per server process can be set (``remit serve --threads``, passed to each
worker as ``$REMIT_WEB_THREADS``): the factory uses the number given, refuses a bad one before
serving with what was expected and how to set it, and keeps 4 when none is given."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from remit.cli import serve_cmd
from remit.cli.app import app as cli_app
from remit.errors import InputError
from remit.web import app as web_app
from remit.web import workers


@pytest.fixture(autouse=True)
def _threads_restored() -> Iterator[None]:
    before = workers._size
    yield
    workers.use_worker_threads(before)


def _factory_threads(trial_db: Path, monkeypatch: pytest.MonkeyPatch, given: str | None) -> int:
    monkeypatch.setattr(web_app, "keep_out_of_full_collections", lambda: None)
    monkeypatch.setenv(web_app.ENV_DB, str(trial_db))
    if given is None:
        monkeypatch.delenv(web_app.ENV_THREADS, raising=False)
    else:
        monkeypatch.setenv(web_app.ENV_THREADS, given)
    web_app.app_from_environment()
    return workers._size


def test_the_factory_runs_the_threads_asked_for_and_4_by_default(
    trial_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _factory_threads(trial_db, monkeypatch, "12") == 12
    assert workers.worker_threads().size == 12
    assert _factory_threads(trial_db, monkeypatch, None) == workers.WORKER_THREADS == 4
    assert workers.worker_threads().size == 4


@pytest.mark.parametrize("given", ["0", "257", "four", "2.5", "-1"])
def test_the_factory_refuses_a_bad_number_of_threads(
    trial_db: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    before = workers._size
    with pytest.raises(InputError, match="REMIT_WEB_THREADS") as refused:
        _factory_threads(trial_db, monkeypatch, given)
    assert "1 to 256" in str(refused.value)
    assert "remit serve --threads" in str(refused.value)
    assert workers._size == before


def test_no_more_threads_run_than_asked_for() -> None:
    pool = workers.WorkerThreads(2, "remit-test-count")
    release = threading.Event()
    started: list[str] = []
    counted = threading.Semaphore(0)

    def job() -> None:
        started.append(threading.current_thread().name)
        counted.release()
        release.wait(30)

    try:
        for _ in range(5):
            pool.submit(job)
        for _ in range(2):
            assert counted.acquire(timeout=30)
        assert len(pool._threads) == 2
        assert not counted.acquire(timeout=0.2)  # the others wait in line
    finally:
        release.set()
        pool.stop()
    assert len(started) == 5
    assert set(started) == {"remit-test-count_0", "remit-test-count_1"}


@pytest.mark.parametrize("count", [0, 257, True, 2.0])
def test_a_bad_count_is_refused_in_process(count: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        workers.use_worker_threads(count)


def test_serve_passes_threads_to_its_workers(
    trial_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class _Done:
        def join(self, timeout: float | None = None) -> None:
            pass

    monkeypatch.setattr("uvicorn.run", lambda *a, **k: None)
    monkeypatch.setattr(serve_cmd, "_start_delivery", lambda *a, **k: _Done())
    monkeypatch.delenv("REMIT_WEB_THREADS", raising=False)
    done = CliRunner().invoke(cli_app, ["serve", "--db", str(trial_db), "--threads", "16"])
    assert done.exit_code == 0, done.output
    assert os.environ["REMIT_WEB_THREADS"] == "16"
    refused = CliRunner().invoke(cli_app, ["serve", "--db", str(trial_db), "--threads", "0"])
    assert refused.exit_code != 0
    assert "--threads" in refused.output
