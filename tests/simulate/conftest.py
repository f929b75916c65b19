"""Shared fixture of the simulation tests (also imported by ``tests/cli/test_demo.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module", name="fast_hashing")
def fast_hashing_fixture() -> Iterator[None]:
    """Cheap argon2id parameters for a whole module (demo users are created per trial)."""
    from argon2 import PasswordHasher

    import remit.store.users

    patch = pytest.MonkeyPatch()
    patch.setattr(
        remit.store.users, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    yield
    patch.undo()
