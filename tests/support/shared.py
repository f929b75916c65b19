"""Files built once per test run and shared by the pytest-xdist workers.

A session-scoped fixture runs once per worker; an expensive database (a simulated trial, the
seeded web trial) would be built by each of them. :func:`build_once` builds it once per run
under a file lock in the run's shared temporary folder; the other workers wait for the lock
(the build is progressing, so there is no deadline) and reuse the file. Tests copy it before
writing to it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import pytest


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of this test run that every xdist worker sees."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the workers' folders popen-gw0, popen-gw1 … share this one
    folder = base / "shared"
    folder.mkdir(exist_ok=True)
    return folder


def build_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]
) -> Path:
    """Path of file ``name``, made by ``build(path)`` the first time any worker asks.

    ``build`` writes to a partial path that is renamed when it returns, so a failed build
    leaves nothing behind (the next worker to ask tries again and fails the same way).
    """
    folder = shared_folder(tmp_path_factory)
    target = folder / name
    with (folder / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not target.exists():
                partial = folder / f"partial-{name}"
                build(partial)
                key = partial.with_name(partial.name + ".audit-key")  # its audit key
                if key.exists():
                    key.rename(target.with_name(target.name + ".audit-key"))
                partial.rename(target)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target
