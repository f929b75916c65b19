"""TOTP multi-factor authentication in the database: each user's secret and recovery codes.

``user_mfa`` holds one row per user who set up TOTP: the secret, encrypted with a key derived
from the audit key ring (:mod:`remit.store.audit_keys`, held outside the database), whether the
set-up was confirmed, and the last time step a code was accepted for (a code is never accepted
twice: :func:`claim_step` moves it forward with one conditional UPDATE, atomic under
concurrency). ``mfa_recovery_code`` holds the argon2id hashes of the user's single-use
recovery codes; :func:`use_recovery_code` marks one used with one conditional UPDATE.

Neither table is part of the clinical audit trail: every MFA event is written to the
security log (:mod:`remit.store.security`).

The secret is encrypted with HMAC-SHA256 in counter mode (a keystream from a key derived from
the newest audit key and a random nonce) and authenticated with HMAC-SHA256 over the user id,
the nonce and the ciphertext (encrypt-then-MAC; the standard library offers no block cipher).
A row copied to another user, or edited, does not decrypt. Someone who holds the audit key
ring and can read the database can read the secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import cast

from sqlalchemy import (
    Engine,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from remit.errors import StoreError
from remit.store.audit_keys import AuditKeyRing, audit_keys_of
from remit.store.engine import write_engine
from remit.store.tables import Base
from remit.store.types import UTCDateTime, utc_now

#: How many recovery codes a user gets.
RECOVERY_CODE_COUNT = 10

_VERSION = "v1"


class UserMfa(Base):
    """A user's TOTP set-up: the encrypted secret, when it was confirmed, the last step used."""

    __tablename__ = "user_mfa"
    __audited__ = False

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    secret_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_step: Mapped[int | None] = mapped_column(Integer)


class MfaRecoveryCode(Base):
    """One single-use recovery code of a user (only its argon2id hash)."""

    __tablename__ = "mfa_recovery_code"
    __audited__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


_MFA = cast(Table, UserMfa.__table__)
_CODES = cast(Table, MfaRecoveryCode.__table__)


# --- the secret at rest -----------------------------------------------------------------------


def _keys(ring: AuditKeyRing, key_id: str) -> tuple[bytes, bytes]:
    base = ring.key(key_id)
    enc = hmac.new(base, b"remit-totp-secret-encryption", hashlib.sha256).digest()
    mac = hmac.new(base, b"remit-totp-secret-authentication", hashlib.sha256).digest()
    return enc, mac


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hmac.new(key, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return out[:length]


def _tag(key: bytes, user_id: int, nonce: bytes, ciphertext: bytes) -> str:
    message = str(user_id).encode() + b"|" + nonce + ciphertext
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def encrypt_secret(ring: AuditKeyRing, user_id: int, secret: str) -> str:
    """``secret`` encrypted and authenticated for ``user_id`` with the ring's newest key."""
    key_id = ring.current_id
    enc, mac = _keys(ring, key_id)
    nonce = secrets.token_bytes(16)
    plain = secret.encode("utf-8")
    ciphertext = bytes(
        a ^ b for a, b in zip(plain, _keystream(enc, nonce, len(plain)), strict=True)
    )
    return ":".join(
        (_VERSION, key_id, nonce.hex(), ciphertext.hex(), _tag(mac, user_id, nonce, ciphertext))
    )


def decrypt_secret(ring: AuditKeyRing, user_id: int, stored: str) -> str:
    """The secret :func:`encrypt_secret` made; :class:`StoreError` when it was changed, belongs
    to another user or its key is not in the ring."""
    parts = stored.split(":")
    if len(parts) != 5 or parts[0] != _VERSION:
        raise StoreError("a stored TOTP secret cannot be read", hint="reset the user's MFA")
    _, key_id, nonce_hex, cipher_hex, tag = parts
    enc, mac = _keys(ring, key_id)
    nonce, ciphertext = bytes.fromhex(nonce_hex), bytes.fromhex(cipher_hex)
    if not hmac.compare_digest(tag, _tag(mac, user_id, nonce, ciphertext)):
        raise StoreError(
            "a stored TOTP secret does not verify (changed, or made with another audit key)",
            hint="reset the user's MFA (remit user reset-mfa) so that they set it up again",
        )
    stream = _keystream(enc, nonce, len(ciphertext))
    return bytes(a ^ b for a, b in zip(ciphertext, stream, strict=True)).decode("utf-8")


# --- reading and writing ----------------------------------------------------------------------


def mfa_row(engine: Engine, user_id: int) -> UserMfa | None:
    """The user's TOTP row (detached), or ``None``."""
    with engine.connect() as connection:
        row = connection.execute(select(_MFA).where(_MFA.c.user_id == user_id)).one_or_none()
    if row is None:
        return None
    return UserMfa(
        user_id=row.user_id,
        secret_enc=row.secret_enc,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        last_step=row.last_step,
    )


def user_secret(engine: Engine, user_id: int) -> tuple[str, bool] | None:
    """``(secret, confirmed)`` of the user's TOTP set-up, or ``None`` without one."""
    row = mfa_row(engine, user_id)
    if row is None:
        return None
    return decrypt_secret(audit_keys_of(engine), user_id, row.secret_enc), (
        row.confirmed_at is not None
    )


def start_setup(engine: Engine, user_id: int, secret: str) -> None:
    """Keep a new, unconfirmed secret for ``user_id`` (replacing an unconfirmed one); refused
    (:class:`StoreError`) when the user has a confirmed set-up."""
    stored = encrypt_secret(audit_keys_of(engine), user_id, secret)
    with write_engine(engine).begin() as connection:
        confirmed = connection.execute(
            select(_MFA.c.confirmed_at).where(_MFA.c.user_id == user_id)
        ).one_or_none()
        if confirmed is not None and confirmed[0] is not None:
            raise StoreError("MFA is set up already", hint="an admin resets it first")
        connection.execute(delete(_MFA).where(_MFA.c.user_id == user_id))
        connection.execute(delete(_CODES).where(_CODES.c.user_id == user_id))
        connection.execute(
            insert(_MFA).values(
                user_id=user_id, secret_enc=stored, created_at=utc_now(), confirmed_at=None
            )
        )


def confirm_setup(engine: Engine, user_id: int, step: int, code_hashes: list[str]) -> bool:
    """Mark the user's pending set-up confirmed (the code of ``step`` used) and keep the
    recovery codes' hashes; ``False`` when there was no pending set-up."""
    now = utc_now()
    with write_engine(engine).begin() as connection:
        done = connection.execute(
            update(_MFA)
            .where(_MFA.c.user_id == user_id, _MFA.c.confirmed_at.is_(None))
            .values(confirmed_at=now, last_step=step)
        )
        if done.rowcount != 1:
            return False
        connection.execute(delete(_CODES).where(_CODES.c.user_id == user_id))
        for code_hash in code_hashes:
            connection.execute(
                insert(_CODES).values(user_id=user_id, code_hash=code_hash, created_at=now)
            )
    return True


def claim_step(engine: Engine, user_id: int, step: int) -> bool:
    """Accept the code of time step ``step`` once: one conditional UPDATE that moves the user's
    last used step forward; ``False`` when that step (or a later one) was used already."""
    with write_engine(engine).begin() as connection:
        done = connection.execute(
            update(_MFA)
            .where(
                _MFA.c.user_id == user_id,
                _MFA.c.confirmed_at.is_not(None),
                _MFA.c.last_step.is_(None) | (_MFA.c.last_step < step),
            )
            .values(last_step=step)
        )
        return done.rowcount == 1


def unused_recovery_codes(engine: Engine, user_id: int) -> list[tuple[int, str]]:
    """``(id, hash)`` of the user's unused recovery codes."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(_CODES.c.id, _CODES.c.code_hash)
            .where(_CODES.c.user_id == user_id, _CODES.c.used_at.is_(None))
            .order_by(_CODES.c.id)
        )
        return [(int(i), str(h)) for i, h in rows]


def use_recovery_code(engine: Engine, code_id: int) -> bool:
    """Mark recovery code ``code_id`` used; ``False`` when it was used already (a race)."""
    with write_engine(engine).begin() as connection:
        done = connection.execute(
            update(_CODES)
            .where(_CODES.c.id == code_id, _CODES.c.used_at.is_(None))
            .values(used_at=utc_now())
        )
        return done.rowcount == 1


def remove_mfa(engine: Engine, user_id: int) -> bool:
    """Delete the user's TOTP set-up and recovery codes; whether there was a set-up."""
    with write_engine(engine).begin() as connection:
        connection.execute(delete(_CODES).where(_CODES.c.user_id == user_id))
        done = connection.execute(delete(_MFA).where(_MFA.c.user_id == user_id))
        return done.rowcount == 1
