"""The audit key ring: the secret that keys the audit hash chain, held outside the database.

Each audit row's hash is ``HMAC-SHA256(key, prev_hash + canonical_json(content))``, so rows
cannot be forged, edited or re-chained by anyone who can write the database but not read the
key. A key ring file holds one key per line, oldest first, as ``KEY_ID HEX``; new rows use the
last (newest) key. Rotating a key appends a line (:func:`rotate_key_file`); old keys stay in
the ring because verifying old rows needs them. Lines starting with ``#`` are comments.

Where the ring comes from is decided at the edge (``--audit-key FILE``,
``$REMIT_AUDIT_KEY_FILE``) and attached to the engine with :func:`with_audit_keys`. An engine
without one uses the database's default key file (:func:`default_key_file`): for a SQLite file
``<file>.audit-key`` beside it, otherwise a file under ``~/.remit/audit-keys/``; it is created
(mode 0600, 32 random bytes) the first time it is needed. A key kept beside the database
protects only against someone who can change the database but not read that file: production
keeps the key elsewhere (see docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from remit.errors import InputError, StoreError
from remit.store.canonical import canonical_json

__all__ = [
    "AUDIT_KEYS_OPTION",
    "AuditKeyRing",
    "audit_keys_of",
    "default_key_file",
    "load_key_ring",
    "rotate_key_file",
    "with_audit_keys",
    "write_key_file",
]

#: Execution option under which an engine carries its :class:`AuditKeyRing`.
AUDIT_KEYS_OPTION = "remit_audit_keys"

#: Where keys of databases that are not SQLite files live when none is configured.
DEFAULT_KEY_DIR = Path("~/.remit/audit-keys")

_KEY_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
_MIN_KEY_BYTES = 16


@dataclass(frozen=True)
class AuditKeyRing:
    """Audit keys, oldest first; the last one signs new rows and anchors.

    ``source`` names where the keys came from (a file path), for messages.
    """

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)  # never in logs or tracebacks
    source: str = "(given)"

    def __post_init__(self) -> None:
        if not self.keys:
            raise InputError(f"audit key ring {self.source} holds no key", expected="KEY_ID HEX")
        ids = [key_id for key_id, _ in self.keys]
        if len(set(ids)) != len(ids):
            raise InputError(
                f"audit key ring {self.source} repeats a key id", expected="unique ids"
            )

    @property
    def current_id(self) -> str:
        """Id of the key new rows are made with."""
        return self.keys[-1][0]

    def key(self, key_id: str) -> bytes:
        """The key called ``key_id``."""
        for found, key in self.keys:
            if found == key_id:
                return key
        raise StoreError(
            f"audit key {key_id!r} is not in the key ring {self.source}",
            hint="verify with the key ring that holds every key ever used (docs/security.md)",
        )

    def row_hash(self, index: int, prev_hash: str, content: dict[str, Any]) -> str:
        """The keyed hash of an audit row made with the ``index``-th key."""
        message = (prev_hash + canonical_json(content)).encode("utf-8")
        return hmac.digest(self.keys[index][1], message, "sha256").hex()

    def signer(self) -> Callable[[str, str], str]:
        """The keyed hash of new rows (the newest key) as a function of the previous row's
        hash and the canonical JSON text of the row's content: :meth:`row_hash` of the newest
        key for a caller that spelled the content already."""
        # HMAC keyed once per ring: each row's hash starts from a copy of the keyed state
        # instead of keying again (the key's two padded blocks are hashed once, not per row;
        # the keyed state itself is only ever copied)
        keyed = _keyed(self)

        def sign(prev_hash: str, content_json: str) -> str:
            row = keyed.copy()
            row.update((prev_hash + content_json).encode("utf-8"))
            digest: str = row.hexdigest()
            return digest

        return sign

    def sign(self, key_id: str, payload: dict[str, Any]) -> str:
        """HMAC-SHA256 of the canonical JSON of ``payload`` with key ``key_id`` (anchors)."""
        message = canonical_json(payload).encode("utf-8")
        return hmac.new(self.key(key_id), message, hashlib.sha256).hexdigest()


#: Each ring's newest key as a keyed HMAC state (:meth:`AuditKeyRing.signer`), by the ring's
#: identity (kept with it: an id reused by another ring is keyed again).
_KEYED: dict[int, tuple[AuditKeyRing, Any]] = {}
_KEYED_KEPT = 64


def _keyed(ring: AuditKeyRing) -> Any:
    """The keyed state of ``hmac.new(newest key, digestmod="sha256")``: the OpenSSL HMAC the
    standard library's object holds and hands every ``copy``, ``update`` and ``hexdigest``
    to (the same calls without the Python wrapper around each: 26 rows a form, issue 16),
    else that object itself."""
    found = _KEYED.get(id(ring))
    if found is not None and found[0] is ring:
        return found[1]
    keyed = hmac.new(ring.keys[-1][1], digestmod="sha256")
    state = getattr(keyed, "_hmac", None) or keyed
    if len(_KEYED) >= _KEYED_KEPT:
        _KEYED.clear()
    _KEYED[id(ring)] = (ring, state)
    return state


def _parse(text: str, source: str) -> AuditKeyRing:
    keys: list[tuple[str, bytes]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        problem = None
        if len(parts) != 2 or not _KEY_ID.match(parts[0]):
            problem = "a key id and the key in hex"
        else:
            try:
                key = bytes.fromhex(parts[1])
            except ValueError:
                key = b""
            if len(key) < _MIN_KEY_BYTES:
                problem = f"a key of at least {_MIN_KEY_BYTES} bytes in hex"
        if problem is not None:
            raise InputError(
                f"line {number} of audit key file {source} cannot be read",
                expected=f"`KEY_ID HEX` ({problem}), e.g. `k1 9f3a…` (64 hex digits)",
                hint="create one with `remit audit rotate-key --audit-key FILE`",
            )
        keys.append((parts[0], key))
    return AuditKeyRing(tuple(keys), source)


def load_key_ring(path: str | Path) -> AuditKeyRing:
    """The key ring in file ``path``; one clear error when it is missing or unreadable."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"there is no audit key file at {file}",
            expected="a file of `KEY_ID HEX` lines",
            hint="check the path, or create a key with `remit audit rotate-key --audit-key FILE`",
        ) from None
    except OSError as error:
        raise InputError(f"audit key file {file} cannot be read: {error}") from None
    return _parse(text, str(file))


def _new_key_line(key_id: str) -> str:
    return f"{key_id} {secrets.token_hex(32)}\n"


def rotate_key_file(path: str | Path) -> str:
    """Add a new random key to the ring in ``path`` (created, mode 0600, when absent); its id.

    New audit rows and anchors use the new key; the old ones stay for verifying old rows.
    """
    file = Path(path).expanduser()
    ring = load_key_ring(file) if file.exists() else None
    number = 1 if ring is None else len(ring.keys) + 1
    used = set() if ring is None else {key_id for key_id, _ in ring.keys}
    while f"k{number}" in used:
        number += 1
    key_id = f"k{number}"
    file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as out:
        out.write(_new_key_line(key_id))
        out.flush()
        os.fsync(out.fileno())
    return key_id


def default_key_file(url: URL) -> Path | None:
    """The key file a database uses when none is configured (``None``: in-memory SQLite)."""
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return None
        return Path(f"{url.database}.audit-key")
    name = f"{url.host or 'local'}_{url.port or 5432}_{url.database or 'postgres'}.key"
    return DEFAULT_KEY_DIR.expanduser() / re.sub(r"[^A-Za-z0-9_.-]", "_", name)


_lock = threading.Lock()
_defaults: dict[tuple[str, int], AuditKeyRing] = {}
_MEMORY_KEY = AuditKeyRing((("memory", secrets.token_bytes(32)),), "(in-memory database)")


#: A SQLite database's default key file (:func:`default_key_file`, a function of the URL's
#: database alone), as text, by the URL object's identity (kept with it: an id reused by
#: another URL is worked out again). Every write transaction asks for it.
_SQLITE_KEY_FILES: dict[int, tuple[URL, str | None]] = {}
_SQLITE_KEY_FILES_KEPT = 64


def _default_key_path(url: URL) -> str | None:
    found = _SQLITE_KEY_FILES.get(id(url))
    if found is not None and found[0] is url:
        return found[1]
    file = default_key_file(url)
    path = None if file is None else str(file)
    if url.get_backend_name() == "sqlite":  # (PostgreSQL's depends on the home directory)
        if len(_SQLITE_KEY_FILES) >= _SQLITE_KEY_FILES_KEPT:
            _SQLITE_KEY_FILES.clear()
        _SQLITE_KEY_FILES[id(url)] = (url, path)
    return path


def _default_ring(url: URL) -> AuditKeyRing:
    path = _default_key_path(url)
    if path is None:
        return _MEMORY_KEY
    try:  # the usual case, in one system call: the file is there (its time: a rotation)
        stamp = (path, os.stat(path).st_mtime_ns)
    except OSError:  # not there (or unreadable): made, or refused, below as ever
        stamp = None
    if stamp is not None:
        with _lock:
            found = _defaults.get(stamp)
        if found is not None:
            return found
    file = Path(path)
    with _lock:
        if not file.exists():
            file.parent.mkdir(parents=True, exist_ok=True)
            try:
                descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first
                pass
            else:
                with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                    out.write(
                        "# Remit audit key ring (KEY_ID HEX per line, newest last). Keep a copy\n"
                        "# away from the database: see docs/security.md.\n" + _new_key_line("k1")
                    )
                    out.flush()
                    os.fsync(out.fileno())
        # cached while the file is unchanged (a rotated key is picked up)
        stamp = (str(file), file.stat().st_mtime_ns)
        found = _defaults.get(stamp)
        if found is None:
            found = _defaults[stamp] = load_key_ring(file)
        return found


def with_audit_keys(engine: Engine, ring: AuditKeyRing | None) -> Engine:
    """``engine`` carrying ``ring`` (unchanged when ``ring`` is ``None``: the default key)."""
    if ring is None:
        return engine
    return engine.execution_options(**{AUDIT_KEYS_OPTION: ring})


def audit_keys_of(bind: Engine | Connection) -> AuditKeyRing:
    """The key ring ``bind`` carries, else its database's default key file's."""
    found = bind.get_execution_options().get(AUDIT_KEYS_OPTION)
    if isinstance(found, AuditKeyRing):
        return found
    return _default_ring(bind.engine.url)


def write_key_file(ring: AuditKeyRing, path: str | Path) -> Path:
    """Write ``ring`` to the new file ``path`` (mode 0600); refuses an existing file."""
    file = Path(path).expanduser()
    file.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(
            f"audit key file {file} exists already", hint="move it away or pass --audit-key"
        ) from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write("# Remit audit key ring (KEY_ID HEX per line, newest last)\n")
        for key_id, key in ring.keys:
            out.write(f"{key_id} {key.hex()}\n")
        out.flush()
        os.fsync(out.fileno())
    return file
