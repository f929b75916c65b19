"""A database's default audit key ring is found per write transaction with one ``stat`` of its
file (issue 16) and stays what it was: made when missing, the same ring while the file is
unchanged, the rotated ring once it changed, per database, and none for an in-memory one;
a ring's newest key is keyed once for HMAC and signs as a fresh HMAC does."""

from __future__ import annotations

import hmac
import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from remit.store import audit_keys
from remit.store.audit_keys import (
    AuditKeyRing,
    _default_ring,
    default_key_file,
    load_key_ring,
    rotate_key_file,
)


def test_the_ring_is_made_kept_and_rotated(tmp_path: Path) -> None:
    url = make_url(f"sqlite:///{tmp_path / 'a.db'}")
    file = default_key_file(url)
    assert file is not None
    assert not file.exists()
    ring = _default_ring(url)
    assert file.exists()
    assert ring.keys == load_key_ring(file).keys
    assert _default_ring(url) is ring  # unchanged file: the same ring
    rotate_key_file(file)
    stat = file.stat()
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    rotated = _default_ring(url)
    assert rotated is not ring
    assert len(rotated.keys) == 2
    assert rotated.keys[0] == ring.keys[0]


def test_each_database_has_its_own_ring(tmp_path: Path) -> None:
    one = make_url(f"sqlite:///{tmp_path / 'one.db'}")
    two = make_url(f"sqlite:///{tmp_path / 'two.db'}")
    assert _default_ring(one).keys != _default_ring(two).keys
    # a URL at the address of another, gone (the entry it would leave behind)
    audit_keys._SQLITE_KEY_FILES[id(two)] = audit_keys._SQLITE_KEY_FILES[id(one)]
    assert _default_ring(two).keys == load_key_ring(tmp_path / "two.db.audit-key").keys


def test_an_in_memory_database_has_the_process_ring() -> None:
    assert _default_ring(make_url("sqlite://")) is audit_keys._MEMORY_KEY


def test_a_ring_signs_with_its_own_newest_key() -> None:
    """The keyed HMAC kept per ring gives the hash of a fresh HMAC with the newest key, for
    each ring (another ring at a reused address is keyed again)."""
    first = AuditKeyRing((("k1", b"a" * 32),))
    second = AuditKeyRing((("k1", b"a" * 32), ("k2", b"b" * 32)))
    for ring in (first, second):
        sign = ring.signer()
        expected = hmac.new(ring.keys[-1][1], b"0" * 64 + b'{"x":1}', "sha256").hexdigest()
        assert sign("0" * 64, '{"x":1}') == expected
        assert ring.signer()("0" * 64, '{"x":1}') == expected  # kept, and only copied
    audit_keys._KEYED[id(second)] = audit_keys._KEYED[id(first)]
    expected = hmac.new(b"b" * 32, b"0" * 64 + b"{}", "sha256").hexdigest()
    assert second.signer()("0" * 64, "{}") == expected


def test_a_ring_without_openssl_s_state_signs_through_the_standard_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the standard library's HMAC holds no OpenSSL state, its own object is used."""

    class Plain:
        def __init__(self, inner: hmac.HMAC) -> None:
            self.inner = inner

        def copy(self) -> hmac.HMAC:
            return self.inner.copy()

    real_new = hmac.new
    monkeypatch.setattr(audit_keys.hmac, "new", lambda *a, **k: Plain(real_new(*a, **k)))
    ring = AuditKeyRing((("k9", b"c" * 32),))
    expected = real_new(b"c" * 32, b"0" * 64 + b"{}", "sha256").hexdigest()
    assert ring.signer()("0" * 64, "{}") == expected
