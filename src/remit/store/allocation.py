"""The concealed randomisation list: its tables and its encryption with a key outside the
database.

A list (``randomisation_list``) holds its specification in the clear and its seed sealed; each
of its slots (``randomisation_slot``) holds the stratum, the order of consumption in the
stratum and the kit number in the clear, and the arm (with the block it belongs to) sealed.
An ``allocation`` row gives one participant one slot. All three tables are append-only
(database triggers refuse UPDATE and DELETE, revision 0021): a slot is never changed, an
allocation never changed, re-drawn or removed.

Sealing is AES-256-GCM (``cryptography``) with a 96-bit random nonce. The associated data binds
a sealed value to its place (the stratum, sequence and kit of its slot), so a sealed arm copied
onto another slot does not open. Plaintexts are padded to :data:`SEALED_SIZE` bytes, so the
length of a sealed value does not tell ``MDMA`` from ``PLACEBO``.

The key is 32 random bytes kept outside the database, decided at the edge and attached to the
engine with :func:`with_allocation_key`: ``$REMIT_ALLOCATION_KEY`` (64 hex digits) or the file
``$REMIT_ALLOCATION_KEY_FILE`` holding them (``remit randomise keygen FILE`` makes one). The
list records the key's fingerprint (:attr:`AllocationKey.key_id`), so the wrong key is refused
with a clear message instead of failing to decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from remit.errors import InputError, StoreError
from remit.store.tables import Base
from remit.store.types import JSONType, UTCDateTime, utc_now

__all__ = [
    "ALLOCATION_KEY_ENV",
    "ALLOCATION_KEY_FILE_ENV",
    "Allocation",
    "AllocationKey",
    "RandomisationList",
    "RandomisationSlot",
    "allocation_key_from_env",
    "allocation_key_of",
    "load_allocation_key",
    "new_allocation_key_file",
    "with_allocation_key",
]

#: Environment variable holding the allocation key itself (64 hex digits).
ALLOCATION_KEY_ENV = "REMIT_ALLOCATION_KEY"
#: Environment variable naming a file that holds the allocation key.
ALLOCATION_KEY_FILE_ENV = "REMIT_ALLOCATION_KEY_FILE"
#: Execution option under which an engine carries its :class:`AllocationKey`.
ALLOCATION_KEY_OPTION = "remit_allocation_key"
#: Every sealed plaintext is padded to this many bytes (its length then says nothing).
SEALED_SIZE = 256

_VERSION = "v1"
_HOW = (
    "make a key with `remit randomise keygen FILE` and set REMIT_ALLOCATION_KEY_FILE=FILE "
    "(or REMIT_ALLOCATION_KEY to its 64 hex digits); keep it away from the database and "
    "back it up: without it the list cannot be read"
)


@dataclass(frozen=True)
class AllocationKey:
    """The AES-256 key that seals the randomisation list, and where it came from."""

    key: bytes = field(repr=False)
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise InputError(
                f"the allocation key from {self.source or 'the caller'} has {len(self.key)} bytes",
                expected="32 bytes (64 hex digits)",
                hint=_HOW,
            )

    @property
    def key_id(self) -> str:
        """A fingerprint of the key (not the key): 16 hex digits, recorded with the list."""
        return hashlib.sha256(b"remit-allocation-key-id\x00" + self.key).hexdigest()[:16]

    def seal(self, value: dict[str, Any], place: str) -> str:
        """``value`` (JSON) encrypted and bound to ``place``; the same length for any value."""
        plain = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        if len(plain) > SEALED_SIZE:
            raise StoreError(f"a sealed value of {len(plain)} bytes is over {SEALED_SIZE}")
        padded = plain + b" " * (SEALED_SIZE - len(plain))
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self.key).encrypt(nonce, padded, place.encode())
        return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, stored: str, place: str) -> dict[str, Any]:
        """The value :meth:`seal` sealed at ``place`` (:class:`StoreError` if it does not open)."""
        version, _, body = stored.partition(":")
        try:
            raw = base64.b64decode(body, validate=True)
            if version != _VERSION:
                raise ValueError(version)
            plain = AESGCM(self.key).decrypt(raw[:12], raw[12:], place.encode())
        except (ValueError, InvalidTag):
            raise StoreError(
                f"a sealed value of {place} does not open with this key",
                hint="the key is not the list's, or the stored value was altered or moved",
            ) from None
        found: dict[str, Any] = json.loads(plain.decode().rstrip(" "))
        return found


def _parse_key(text: str, source: str) -> AllocationKey:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    try:
        if len(lines) != 1:
            raise ValueError(len(lines))
        key = bytes.fromhex(lines[0])
    except ValueError:
        raise InputError(
            f"the allocation key in {source} is not one line of hex digits",
            expected="64 hex digits (32 bytes)",
            hint=_HOW,
        ) from None
    return AllocationKey(key, source)


def load_allocation_key(path: str | Path) -> AllocationKey:
    """The key in file ``path`` (one line of 64 hex digits; ``#`` lines are comments)."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(
            f"the allocation key file {file} cannot be read ({error.strerror})",
            expected="a key file made by `remit randomise keygen`",
            hint=_HOW,
        ) from None
    return _parse_key(text, str(file))


def allocation_key_from_env(environ: dict[str, str] | None = None) -> AllocationKey | None:
    """The key of ``$REMIT_ALLOCATION_KEY`` or of the file ``$REMIT_ALLOCATION_KEY_FILE``
    (``None`` when neither is set; both set is refused: which one is meant is unclear)."""
    env = os.environ if environ is None else environ
    value, path = env.get(ALLOCATION_KEY_ENV), env.get(ALLOCATION_KEY_FILE_ENV)
    if value and path:
        raise InputError(
            f"both {ALLOCATION_KEY_ENV} and {ALLOCATION_KEY_FILE_ENV} are set",
            expected="one of them",
            hint="unset one",
        )
    if value:
        return _parse_key(value, f"${ALLOCATION_KEY_ENV}")
    if path:
        return load_allocation_key(path)
    return None


def new_allocation_key_file(path: str | Path) -> AllocationKey:
    """Write a new random key to the new file ``path`` (mode 0600); refuses an existing file."""
    file = Path(path).expanduser()
    file.parent.mkdir(parents=True, exist_ok=True)
    key = AllocationKey(secrets.token_bytes(32), str(file))
    try:
        descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(
            f"allocation key file {file} exists already",
            expected="a path where no file is",
            hint="a key in use must never be replaced: the list it sealed needs it",
        ) from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(
            "# Remit allocation key (AES-256, hex). Keep it away from the database and back\n"
            f"# it up: without it the randomisation list cannot be read. id {key.key_id}\n"
            f"{key.key.hex()}\n"
        )
        out.flush()
        os.fsync(out.fileno())
    return key


def with_allocation_key(engine: Engine, key: AllocationKey | None) -> Engine:
    """``engine`` carrying ``key`` (unchanged when ``key`` is ``None``)."""
    if key is None:
        return engine
    return engine.execution_options(**{ALLOCATION_KEY_OPTION: key})


def allocation_key_of(bind: Engine | Connection) -> AllocationKey:
    """The key ``bind`` carries, else :class:`InputError` saying how to make and give one."""
    found = bind.get_execution_options().get(ALLOCATION_KEY_OPTION)
    if isinstance(found, AllocationKey):
        return found
    raise InputError(
        "no allocation key is configured: the randomisation list is sealed with a key kept "
        "outside the database",
        expected=f"${ALLOCATION_KEY_FILE_ENV} or ${ALLOCATION_KEY_ENV}",
        hint=_HOW,
    )


def slot_place(stratum: str, sequence: int, kit: int) -> str:
    """The associated data binding a slot's sealed arm to the slot."""
    return f"remit-slot\x00{stratum}\x00{sequence}\x00{kit}"


#: The associated data of a list's sealed seed.
SEED_PLACE = "remit-list-seed"


# --------------------------------------------------------------------------- tables


class RandomisationList(Base):
    """The randomisation list of the study (one): specification in the clear, seed sealed."""

    __tablename__ = "randomisation_list"

    id: Mapped[int] = mapped_column(primary_key=True)
    method: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    seed_sealed: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(32))
    n_slots: Mapped[int] = mapped_column(Integer)
    protocol_version_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("protocol_version.id", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    created_by: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("user_account.id", ondelete="RESTRICT"), nullable=True
    )


class RandomisationSlot(Base):
    """One place of the list: consumed in ``sequence`` order within its stratum."""

    __tablename__ = "randomisation_slot"
    __table_args__ = (UniqueConstraint("list_id", "stratum", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("randomisation_list.id", ondelete="RESTRICT"), index=True
    )
    stratum: Mapped[str] = mapped_column(String(200))
    sequence: Mapped[int] = mapped_column(Integer)
    kit: Mapped[int] = mapped_column(Integer, unique=True)
    sealed: Mapped[str] = mapped_column(Text)


class Allocation(Base):
    """A participant's allocation: one slot (and so one kit), never changed nor re-drawn."""

    __tablename__ = "allocation"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("participant.id", ondelete="RESTRICT"), unique=True
    )
    slot_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("randomisation_slot.id", ondelete="RESTRICT"), unique=True
    )
    stratum: Mapped[str] = mapped_column(String(200))
    kit: Mapped[int] = mapped_column(Integer)
    allocated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    allocated_by: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("user_account.id", ondelete="RESTRICT"), nullable=True
    )


class EmergencyUnblinding(Base):
    """An investigator broke the blind of one participant in an emergency, with a reason.

    The arm is not stored here (the audit trail and the audit view would then show it to every
    reader): it stays sealed in the slot and is opened for the one who unblinds. Append-only.
    """

    __tablename__ = "emergency_unblinding"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("participant.id", ondelete="RESTRICT"), index=True
    )
    allocation_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("allocation.id", ondelete="RESTRICT")
    )
    reason: Mapped[str] = mapped_column(Text)
    unblinded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    unblinded_by: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("user_account.id", ondelete="RESTRICT"), nullable=True
    )
