"""Backing up a trial database, and restoring a backup into a new database, verified.

:func:`backup_database` writes into a new folder: the database copy (SQLite: the online
backup API, consistent while the app runs; PostgreSQL: ``pg_dump --format=custom`` of an
exported snapshot), ``anchor.json`` (a signed anchor of the audit head *in the copy*) and
``manifest.json``: the files' SHA-256 checksums, the audit head, the row count of every table
(read in the same snapshot), the time, Remit's version and the schema revision, signed with the
audit key. :func:`restore_database` checks the signature and the checksums, restores into a
database that must be new (a SQLite file that does not exist, or a PostgreSQL database without
tables), then verifies the restored trail against the anchor (:func:`remit.store.verify_audit`)
and the row counts against the manifest; a SQLite copy that fails is removed.

The audit key is not in the backup: keep the key ring apart from it (docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL, make_url

import remit
from remit.errors import InputError, StoreError
from remit.services.audit import write_anchor
from remit.services.database import close_database, open_database
from remit.store import (
    AuditAnchor,
    AuditKeyRing,
    audit_keys_of,
    default_key_file,
    is_sqlite,
    load_key_ring,
    make_engine,
    sign_anchor,
    verify_audit,
    write_key_file,
)
from remit.store.tables import Base

__all__ = [
    "BackupResult",
    "RestoreResult",
    "backup_database",
    "manifest_is_signed",
    "read_manifest",
    "restore_database",
]

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "remit-backup/1"
_SQLITE_FILE = "database.sqlite"
_PG_FILE = "database.pgdump"


@dataclass(frozen=True)
class BackupResult:
    """A backup written: its folder and its manifest."""

    folder: Path
    manifest: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dictionary."""
        return {"folder": str(self.folder), "manifest": self.manifest}

    def summary(self) -> str:
        """One line for people."""
        rows = sum(self.manifest["row_counts"].values())
        return (
            f"backup in {self.folder}: {rows} rows, audit head {self.manifest['audit_head_id']}, "
            f"schema {self.manifest['schema_revision']}"
        )


@dataclass(frozen=True)
class RestoreResult:
    """A backup restored and verified."""

    database: str
    audit_head_id: int
    row_counts: dict[str, int] = field(default_factory=dict)
    key_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dictionary."""
        return {
            "database": self.database,
            "audit_head_id": self.audit_head_id,
            "row_counts": self.row_counts,
            "key_file": self.key_file,
            "verified": True,
        }

    def summary(self) -> str:
        """One line for people."""
        key = f"; audit key ring written to {self.key_file}" if self.key_file else ""
        return (
            f"restored into {self.database} and verified against the backup's anchor "
            f"(audit head {self.audit_head_id}, {sum(self.row_counts.values())} rows){key}"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    with path.open("rb") as file:
        os.fsync(file.fileno())


def _census(execute: Any) -> tuple[dict[str, int], int, str, str | None]:
    """Row counts of every table, the audit head (id, hash) and the schema revision, read with
    ``execute(sql) -> rows`` (one snapshot)."""
    counts = {
        name: int(execute(f'SELECT count(*) FROM "{name}"')[0][0])  # names from our metadata
        for name in sorted(Base.metadata.tables)
    }
    head = execute("SELECT id, row_hash FROM audit_event ORDER BY id DESC LIMIT 1")
    revision = execute("SELECT version_num FROM alembic_version")
    head_id, head_hash = (int(head[0][0]), str(head[0][1])) if head else (0, "")
    return counts, head_id, head_hash, str(revision[0][0]) if revision else None


def _backup_sqlite(engine: Engine, folder: Path) -> tuple[Path, tuple[Any, ...]]:
    source = engine.url.database
    if not source or source == ":memory:":
        raise InputError("an in-memory database cannot be backed up", expected="a SQLite file")
    target = folder / _SQLITE_FILE
    live, copy = sqlite3.connect(source), sqlite3.connect(target)
    try:
        live.backup(copy)  # the online backup API: a consistent copy while others write
    finally:
        copy.close()
        live.close()
    copy_connection = sqlite3.connect(f"file:{target}?immutable=1", uri=True)
    try:
        census = _census(lambda sql: copy_connection.execute(sql).fetchall())
    finally:
        copy_connection.close()
    _fsync(target)
    return target, census


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """Connection string without the password, and the environment that carries it."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_tool(name: str, connection: Connection) -> str:
    found = shutil.which(name)
    if found is None:
        raise StoreError(
            f"{name} is not installed", hint=f"install the PostgreSQL client tools ({name})"
        )
    output = subprocess.run([found, "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"(\d+)\.", output.stdout)
    server = int(connection.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    if match is None or int(match.group(1)) < server:
        raise StoreError(
            f"{found} is version {output.stdout.strip()!r}, the server is PostgreSQL {server}",
            hint=f"use {name} of PostgreSQL {server} or newer",
        )
    return found


def _backup_postgres(engine: Engine, folder: Path) -> tuple[Path, tuple[Any, ...]]:
    target = folder / _PG_FILE
    conninfo, env = _libpq(engine.url)
    with engine.connect() as base:
        pg_dump = _pg_tool("pg_dump", base)
        base.rollback()
        connection = base.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            census = _census(lambda sql: connection.execute(text(sql)).all())
            done = subprocess.run(
                [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={target}",
                 f"--dbname={conninfo}"],
                capture_output=True, text=True, env=env, check=False,
            )  # fmt: skip
    if done.returncode != 0:
        raise StoreError(f"pg_dump failed: {done.stderr.strip()}")
    _fsync(target)
    return target, census


def _signed(ring: AuditKeyRing, key_id: str, manifest: dict[str, Any]) -> str:
    return ring.sign(key_id, {k: v for k, v in manifest.items() if k != "signature"})


def backup_database(engine: Engine, out: Path, *, now: datetime | None = None) -> BackupResult:
    """Back up the database of ``engine`` into the new (or empty) folder ``out``.

    Writes the copy, ``anchor.json`` and ``manifest.json`` (see the module docstring), signed
    with the engine's audit key.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(
            f"{out} exists and is not an empty folder",
            expected="a new folder for the backup",
            hint="each backup goes into a folder of its own",
        )
    ring = audit_keys_of(engine)
    out.mkdir(parents=True, exist_ok=True)
    backup = _backup_sqlite if is_sqlite(engine) else _backup_postgres
    file, (counts, head_id, head_hash, revision) = backup(engine, out)
    database = engine.url.render_as_string(hide_password=True)
    anchor = sign_anchor(
        ring,
        database=database,
        head_id=head_id,
        head_hash=head_hash,
        row_count=counts["audit_event"],
        now=now,
    )
    write_anchor(anchor, out / "anchor.json")
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "created_at": anchor.created_at,
        "remit_version": remit.__version__,
        "schema_revision": revision,
        "backend": engine.dialect.name,
        "database": database,
        "files": [{"name": file.name, "sha256": _sha256(file), "bytes": file.stat().st_size}],
        "audit_head_id": head_id,
        "audit_head_hash": head_hash,
        "row_counts": counts,
        "anchor": anchor.to_dict(),
        "key_id": ring.current_id,
    }
    manifest["signature"] = _signed(ring, ring.current_id, manifest)
    partial = out / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _fsync(partial)
    os.replace(partial, out / MANIFEST)
    return BackupResult(out, manifest)


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"there is no {MANIFEST} in {folder}", expected="a folder written by `remit backup`"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path} cannot be read: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise InputError(f"{path} is not a Remit backup manifest", expected=MANIFEST_FORMAT)
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the backup in ``folder``; :class:`InputError` when there is none."""
    return _read_manifest(folder)


def manifest_is_signed(manifest: dict[str, Any], ring: AuditKeyRing) -> bool:
    """Whether ``manifest`` is signed by a key of ``ring`` (checksums not checked)."""
    key_id = str(manifest.get("key_id", ""))
    if key_id not in {k for k, _ in ring.keys}:
        return False
    return hmac.compare_digest(_signed(ring, key_id, manifest), str(manifest.get("signature", "")))


def _ring_for_restore(manifest: dict[str, Any], keys: AuditKeyRing | None) -> AuditKeyRing:
    if keys is not None:
        return keys
    original = default_key_file(make_url(str(manifest.get("database", ""))))
    if original is None or not original.exists():
        raise InputError(
            "no audit key ring to verify the backup with",
            expected="the key ring the database was keyed with",
            hint="pass --audit-key FILE (or set $REMIT_AUDIT_KEY_FILE)",
        )
    return load_key_ring(original)


def _check_backup(folder: Path, manifest: dict[str, Any], ring: AuditKeyRing) -> AuditAnchor:
    key_id = str(manifest.get("key_id", ""))
    expected = _signed(ring, key_id, manifest)
    if not hmac.compare_digest(expected, str(manifest.get("signature", ""))):
        raise StoreError(
            f"the manifest in {folder} is not signed by audit key {key_id!r} of the ring: "
            "altered, or made with other keys",
            hint="restore from another backup, or give the right key ring (--audit-key)",
        )
    for entry in manifest["files"]:
        path = folder / entry["name"]
        if not path.is_file():
            raise StoreError(f"backup file {path} is missing", hint="restore another backup")
        if not hmac.compare_digest(_sha256(path), entry["sha256"]):
            raise StoreError(
                f"backup file {path} does not match its checksum in the manifest: it was changed "
                "or damaged; nothing was restored",
                hint="restore from another copy of the backup",
            )
    return AuditAnchor.from_dict(manifest["anchor"], f"the anchor of {folder}")


def _restore_sqlite(file: Path, url: URL) -> None:
    target = Path(str(url.database))
    if target.exists() and target.stat().st_size > 0:
        raise InputError(
            f"{target} exists already",
            expected="the path of a new SQLite file",
            hint="restore into a new database, never over one",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(file, target)
    _fsync(target)


def _restore_postgres(file: Path, engine: Engine) -> None:
    with engine.connect() as connection:
        tables = connection.execute(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
        ).scalar_one()
        if tables:
            raise InputError(
                f"database {engine.url.database} already has {tables} tables",
                expected="a new, empty PostgreSQL database (createdb NAME)",
                hint="restore into a new database, never over one",
            )
        pg_restore = _pg_tool("pg_restore", connection)
    conninfo, env = _libpq(engine.url)
    done = subprocess.run(
        [pg_restore, "--no-owner", "--exit-on-error", f"--dbname={conninfo}", str(file)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise StoreError(f"pg_restore failed: {done.stderr.strip()}")


def restore_database(
    source: Path, target: str | Path, *, audit_keys: AuditKeyRing | None = None
) -> RestoreResult:
    """Restore the backup in folder ``source`` into the new database ``target``, then verify it.

    ``audit_keys`` is the key ring the backed-up database was keyed with (else its default key
    file, if it is still there). When not given, the ring is also written to the new
    database's default key file (mode 0600) so that the restored database keeps working.
    Raises :class:`~remit.errors.StoreError` when the backup was altered or the restored
    database does not verify against the backup's anchor and row counts.
    """
    manifest = _read_manifest(source)
    ring = _ring_for_restore(manifest, audit_keys)
    anchor = _check_backup(source, manifest, ring)
    file = source / manifest["files"][0]["name"]
    engine = make_engine(target)
    sqlite = is_sqlite(engine)
    if (manifest["backend"] == "sqlite") != sqlite:
        engine.dispose()
        raise InputError(
            f"the backup is of a {manifest['backend']} database, the target is not",
            expected=f"a {manifest['backend']} target",
        )
    try:
        if sqlite:
            _restore_sqlite(file, engine.url)
        else:
            _restore_postgres(file, engine)
    finally:
        engine.dispose()
    key_file = None
    if audit_keys is None:
        own = default_key_file(engine.url)
        if own is not None and not own.exists():
            key_file = str(write_key_file(ring, own))
    restored = open_database(target, audit_keys=ring)
    try:
        result = verify_audit(restored, [anchor])
        with restored.connect() as connection:
            counts, head_id, _, revision = _census(lambda sql: connection.execute(text(sql)).all())
    finally:
        close_database(restored, checkpoint=True)
    problem = None
    if not result.ok:
        problem = result.summary()
    elif counts != manifest["row_counts"] or revision != manifest["schema_revision"]:
        problem = "its row counts or schema revision differ from the manifest's"
    if problem is not None:
        if sqlite:
            Path(str(engine.url.database)).unlink(missing_ok=True)
            if key_file is not None:
                Path(key_file).unlink(missing_ok=True)
        raise StoreError(
            f"the restored database does not verify against the backup: {problem}",
            hint="nothing usable was restored; try another backup",
        )
    return RestoreResult(str(target), head_id, counts, key_file)
