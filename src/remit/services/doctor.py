"""``remit doctor``: check a deployment and say what is wrong and how to fix it.

:func:`check_deployment` runs one check per concern and returns a :class:`DoctorReport`:

========== =============================================================================
database   reachable, and migrated to this version's newest migration
durability every acknowledged save survives a crash (:func:`unsafe_durability`)
anchor     the newest signed audit anchor in the anchor folder is recent, of this
           database, signed by its key ring and not ahead of its audit trail
backup     the newest backup in the backup folder is recent, of this database and signed
time_zone  every site of the protocol in force has a valid IANA time zone
smtp       the SMTP server alerts are e-mailed through answers (and accepts the login)
https      the web servers saw their requests arrive over HTTPS (directly or through a
           trusted proxy's ``X-Forwarded-Proto``, noted by the web app)
========== =============================================================================

Each check is ``ok``, a ``problem`` (with the fix) or ``not checked`` (with why: the database
is unreachable, no request was served yet …). Nothing is written.

Example::

    from remit import services as sv

    report = sv.check_deployment("postgresql://remit@db/trial", anchor_dir=Path("/srv/anchors"))
    print(report.summary())          # one line per check
    exit_code = 0 if report.ok else 1
"""

from __future__ import annotations

import hmac
import json
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from remit.errors import RemitError
from remit.protocol.clock import is_zone_name
from remit.services.audit import read_anchor
from remit.services.backup import MANIFEST, manifest_is_signed, read_manifest
from remit.services.database import close_database, open_database
from remit.services.durability import unsafe_durability
from remit.services.senders import SmtpSender, sender_from_url
from remit.store import AuditAnchor, AuditKeyRing, audit_keys_of, current_revision, head_revision
from remit.store.observations import read_observations
from remit.store.tables import AuditEvent

__all__ = ["DoctorCheck", "DoctorReport", "check_deployment"]

OK = "ok"
PROBLEM = "problem"
NOT_CHECKED = "not checked"

#: Defaults of how old the newest anchor and backup may be.
ANCHOR_MAX_AGE = timedelta(hours=24)
BACKUP_MAX_AGE = timedelta(hours=26)
#: An HTTPS observation older than this is reported as stale (no server wrote one lately).
OBSERVATION_MAX_AGE = timedelta(days=7)


@dataclass(frozen=True)
class DoctorCheck:
    """One check: its name, ``ok`` / ``problem`` / ``not checked``, what was found and (for a
    problem, or why it was not checked) what to do."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        """The check as a JSON-ready dictionary."""
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class DoctorReport:
    """Every check of a deployment; ``ok`` when none found a problem."""

    database: str
    checks: tuple[DoctorCheck, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """Whether no check found a problem (``not checked`` is no problem)."""
        return all(c.status != PROBLEM for c in self.checks)

    @property
    def problems(self) -> list[DoctorCheck]:
        """The checks that found a problem."""
        return [c for c in self.checks if c.status == PROBLEM]

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dictionary."""
        return {
            "database": self.database,
            "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
        }

    def summary(self) -> str:
        """One line per check, then the verdict."""
        lines = [f"{c.name}: {c.status}: {c.detail}" + (f" → {c.fix}" if c.fix else "")
                 for c in self.checks]  # fmt: skip
        lines.append("all ok" if self.ok else f"{len(self.problems)} problem(s)")
        return "\n".join(lines)


def check_deployment(
    db: str | Path,
    *,
    audit_keys: AuditKeyRing | None = None,
    anchor_dir: Path | None = None,
    backup_dir: Path | None = None,
    smtp_url: str | None = None,
    smtp_from: str | None = None,
    anchor_max_age: timedelta = ANCHOR_MAX_AGE,
    backup_max_age: timedelta = BACKUP_MAX_AGE,
    now: datetime | None = None,
    smtp_timeout_s: float = 10.0,
) -> DoctorReport:
    """Check the deployment of the trial database ``db`` (see the module docstring).

    ``anchor_dir`` is where ``remit serve --anchor-dir`` (or cron with ``remit audit anchor``)
    writes anchors, ``backup_dir`` the folder holding one folder per ``remit backup``;
    ``smtp_url`` and ``smtp_from`` as for ``remit serve``. Without one of them its check is a
    problem: the deployment then has no anchors, backups or alert e-mails that Remit knows of.
    """
    at = now or datetime.now(UTC)
    try:
        engine = open_database(db, require_migrated=False, audit_keys=audit_keys)
    except RemitError as error:
        return _unreachable(str(db), f"cannot open the database: {error.message}")
    name = engine.url.render_as_string(hide_password=True)
    try:
        first = _database(engine)
        if first.status != OK and first.detail.startswith("cannot reach"):
            return _unreachable(name, first.detail)
        steps: list[tuple[str, Callable[[], DoctorCheck]]] = [
            ("durability", lambda: _durability(engine)),
            ("anchor", lambda: _anchor(engine, anchor_dir, anchor_max_age, at)),
            ("backup", lambda: _backup(engine, backup_dir, backup_max_age, at)),
            ("time_zone", lambda: _time_zones(engine)),
            ("smtp", lambda: _smtp(smtp_url, smtp_from, smtp_timeout_s)),
            ("https", lambda: _https(engine, at)),
        ]
        checks = [first]
        for step, run in steps:
            try:
                checks.append(run())
            except Exception as error:  # a check that cannot run is reported, not hidden
                checks.append(
                    DoctorCheck(
                        step,
                        PROBLEM,
                        f"the check failed: {type(error).__name__}: {error}",
                        "fix the database check first" if first.status != OK else "",
                    )
                )
        return DoctorReport(name, tuple(checks))
    finally:
        close_database(engine)


_AFTER_DATABASE = ("durability", "anchor", "backup", "time_zone", "smtp", "https")


def _unreachable(name: str, why: str) -> DoctorReport:
    fix = "check --db (or $REMIT_DATABASE_URL), that the database server runs and accepts us"
    checks = [DoctorCheck("database", PROBLEM, why, fix)]
    checks += [
        DoctorCheck(step, NOT_CHECKED, "the database is unreachable", "")
        for step in _AFTER_DATABASE
    ]
    return DoctorReport(name, tuple(checks))


def _database(engine: Engine) -> DoctorCheck:
    try:
        found = current_revision(engine)
    except RemitError as error:
        return DoctorCheck("database", PROBLEM, f"cannot reach it: {error.message}")
    head = head_revision()
    if found != head:
        return DoctorCheck(
            "database",
            PROBLEM,
            f"reachable, at migration {found or 'none (empty)'}, not this version's {head}",
            "back it up (remit backup), then run `remit db upgrade --db URL`",
        )
    return DoctorCheck("database", OK, f"reachable, migrated to {head}")


def _durability(engine: Engine) -> DoctorCheck:
    unsafe = unsafe_durability(engine)
    if unsafe:
        return DoctorCheck(
            "durability",
            PROBLEM,
            "; ".join(unsafe),
            "PostgreSQL: ALTER DATABASE … RESET synchronous_commit and fsync=on in "
            "postgresql.conf; SQLite: do not lower PRAGMA synchronous below FULL",
        )
    what = "synchronous=FULL" if engine.dialect.name == "sqlite" else "synchronous_commit, fsync on"
    return DoctorCheck("durability", OK, f"acknowledged saves are durable ({what})")


def _age(then: datetime, now: datetime) -> str:
    hours = (now - then).total_seconds() / 3600
    return f"{hours:.1f} h ago" if hours < 48 else f"{hours / 24:.1f} days ago"


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _audit_head(engine: Engine) -> int:
    with engine.connect() as connection:
        head = connection.execute(select(func.max(AuditEvent.id))).scalar()
    return int(head or 0)


def _anchor(engine: Engine, folder: Path | None, max_age: timedelta, now: datetime) -> DoctorCheck:
    name = "anchor"
    if folder is None:
        return DoctorCheck(
            name,
            PROBLEM,
            "no anchor folder given: nothing shows whether anchors are written",
            "pass --anchor-dir (where `remit serve --anchor-dir` writes them, or a cron job "
            "runs `remit audit anchor`), keep it off the database's disk",
        )
    if not folder.is_dir():
        return DoctorCheck(
            name, PROBLEM, f"anchor folder {folder} does not exist", "check --anchor-dir"
        )
    anchors: list[AuditAnchor] = []
    unreadable: list[str] = []
    for path in sorted(folder.glob("*.json")):
        try:
            anchors.append(read_anchor(path))
        except RemitError:
            unreadable.append(path.name)
    if not anchors:
        return DoctorCheck(
            name,
            PROBLEM,
            f"no audit anchor in {folder}",
            "start `remit serve --anchor-dir DIR`, or run `remit audit anchor` from cron",
        )
    newest = max(anchors, key=lambda a: _parse_time(a.created_at))
    ring = audit_keys_of(engine)
    database = engine.url.render_as_string(hide_password=True)
    if newest.database != database:
        return DoctorCheck(
            name,
            PROBLEM,
            f"the newest anchor in {folder} is of {newest.database}, not {database}",
            "give the folder this database's anchors are written to",
        )
    if newest.key_id not in {k for k, _ in ring.keys} or not hmac.compare_digest(
        ring.sign(newest.key_id, newest.signed_content()), newest.signature
    ):
        return DoctorCheck(
            name,
            PROBLEM,
            f"the {newest.describe()} is not signed by this database's audit key ring",
            "run `remit audit verify --anchor FILE` with the right --audit-key; if the key is "
            "right, the anchor was altered",
        )
    head = _audit_head(engine)
    if newest.head_id > head:
        return DoctorCheck(
            name,
            PROBLEM,
            f"the {newest.describe()} names audit row {newest.head_id}, the trail ends at {head}: "
            "rows were removed from the end",
            "run `remit audit verify --anchor FILE` and restore from a backup (docs/security.md)",
        )
    created = _parse_time(newest.created_at)
    if now - created > max_age:
        return DoctorCheck(
            name,
            PROBLEM,
            f"the newest anchor was written {_age(created, now)} (allowed "
            f"{max_age.total_seconds() / 3600:g} h)",
            "check that `remit serve --anchor-dir` runs, or the anchor cron job",
        )
    extra = f"; {len(unreadable)} unreadable file(s): {', '.join(unreadable)}" if unreadable else ""
    return DoctorCheck(
        name, OK, f"newest {newest.describe()} written {_age(created, now)}, signed{extra}"
    )


def _backup(engine: Engine, folder: Path | None, max_age: timedelta, now: datetime) -> DoctorCheck:
    name = "backup"
    if folder is None:
        return DoctorCheck(
            name,
            PROBLEM,
            "no backup folder given: nothing shows whether backups are made",
            "pass --backup-dir (the folder holding one folder per `remit backup`)",
        )
    if not folder.is_dir():
        return DoctorCheck(
            name, PROBLEM, f"backup folder {folder} does not exist", "check --backup-dir"
        )
    candidates = [folder] if (folder / MANIFEST).is_file() else []
    candidates += sorted(p for p in folder.iterdir() if (p / MANIFEST).is_file())
    manifests: list[tuple[Path, dict[str, Any]]] = []
    for path in candidates:
        try:
            manifests.append((path, read_manifest(path)))
        except (RemitError, json.JSONDecodeError):
            continue
    if not manifests:
        return DoctorCheck(
            name,
            PROBLEM,
            f"no backup in {folder}",
            "back up daily: `remit backup --db URL --out DIR/$(date +%F)` (docs/deployment.md)",
        )
    path, newest = max(manifests, key=lambda m: _parse_time(str(m[1].get("created_at", ""))))
    database = engine.url.render_as_string(hide_password=True)
    if newest.get("database") != database:
        return DoctorCheck(
            name,
            PROBLEM,
            f"the newest backup ({path}) is of {newest.get('database')}, not {database}",
            "give the folder this database's backups go to",
        )
    if not manifest_is_signed(newest, audit_keys_of(engine)):
        return DoctorCheck(
            name,
            PROBLEM,
            f"the manifest of {path} is not signed by this database's audit key ring",
            "check --audit-key; if it is right, the backup was altered: make a new one",
        )
    created = _parse_time(str(newest["created_at"]))
    if now - created > max_age:
        return DoctorCheck(
            name,
            PROBLEM,
            f"the newest backup ({path.name}) was made {_age(created, now)} (allowed "
            f"{max_age.total_seconds() / 3600:g} h)",
            "check the backup job (systemd timer or cron running `remit backup`)",
        )
    return DoctorCheck(name, OK, f"newest backup {path.name} made {_age(created, now)}, signed")


def _time_zones(engine: Engine) -> DoctorCheck:
    from remit.services.trial import trial_protocol

    protocol = trial_protocol(engine)
    missing, wrong = [], []
    for site in protocol.study.sites:
        if site.time_zone is None:
            missing.append(site.code)
        elif not is_zone_name(site.time_zone):
            wrong.append(f"{site.code} ({site.time_zone!r})")
    if wrong or missing:
        parts = []
        if wrong:
            parts.append("unknown time zone at " + ", ".join(wrong))
        if missing:
            parts.append("no time zone at " + ", ".join(missing) + " (times shown in UTC)")
        return DoctorCheck(
            "time_zone",
            PROBLEM,
            "; ".join(parts),
            'give each site time_zone = "Area/City" (IANA) in the protocol and amend it; '
            "install tzdata if a valid zone is unknown here",
        )
    zones = sorted({str(s.time_zone) for s in protocol.study.sites})
    return DoctorCheck("time_zone", OK, "sites in " + ", ".join(zones))


def _smtp(url: str | None, sender_address: str | None, timeout_s: float) -> DoctorCheck:
    name = "smtp"
    if not url:
        return DoctorCheck(
            name,
            PROBLEM,
            "no SMTP server given: safety alerts are not e-mailed, they show in the app only",
            "pass --smtp-url and --smtp-from (as to `remit serve`), or set $REMIT_SMTP_URL",
        )
    if not sender_address:
        return DoctorCheck(
            name,
            PROBLEM,
            "no sender address given: alert e-mails cannot be sent",
            "pass --smtp-from remit@your.example (or set $REMIT_SMTP_FROM)",
        )
    try:
        sender = sender_from_url(url, sender_address=sender_address)
    except RemitError as error:
        return DoctorCheck(name, PROBLEM, error.message, error.expected or "")
    if not isinstance(sender, SmtpSender):
        return DoctorCheck(name, NOT_CHECKED, f"{sender.describe()} is not an SMTP server")
    problem = probe_smtp(sender, timeout_s)
    if problem:
        return DoctorCheck(
            name,
            PROBLEM,
            f"{sender.describe()} does not work: {problem}",
            "check the host, port, TLS flag (smtps:// or ?starttls=1) and credentials, and that "
            "this host may connect to it",
        )
    return DoctorCheck(name, OK, f"{sender.describe()} answers")


def probe_smtp(sender: SmtpSender, timeout_s: float) -> str | None:
    """Connect to ``sender``'s server, greet it, upgrade to TLS and log in as it would, say
    NOOP and quit (no message is sent); what went wrong, or ``None``."""
    try:
        client: smtplib.SMTP
        context = ssl.create_default_context()
        if sender.tls:
            client = smtplib.SMTP_SSL(sender.host, sender.port, timeout=timeout_s, context=context)
        else:
            client = smtplib.SMTP(sender.host, sender.port, timeout=timeout_s)
        with client:
            client.ehlo()
            if sender.starttls:
                client.starttls(context=context)
                client.ehlo()
            if sender.username:
                client.login(sender.username, sender.password or "")
            code, answer = client.noop()
            if code != 250:
                return f"NOOP answered {code} {answer.decode(errors='replace')}"
    except (smtplib.SMTPException, OSError) as error:  # TimeoutError is an OSError
        return f"{type(error).__name__}: {error}".strip()
    return None


def _https(engine: Engine, now: datetime) -> DoctorCheck:
    name = "https"
    seen = read_observations(engine)
    scheme, proto = seen.get("request_scheme"), seen.get("forwarded_proto")
    if scheme is None:
        return DoctorCheck(
            name,
            NOT_CHECKED,
            "no web server has noted a request yet",
            "open the app once through its public address, then run remit doctor again",
        )
    when = f"(last noted by {scheme.host} {_age(scheme.observed_at, now)})"
    stale = now - scheme.observed_at > OBSERVATION_MAX_AGE
    if scheme.value == "https":
        how = "through a proxy" if proto is not None and proto.value == "https" else "directly"
        note = "; no request for a long time: is the server running?" if stale else ""
        return DoctorCheck(name, OK, f"requests arrive over HTTPS {how} {when}{note}")
    if proto is not None and proto.value == "https":
        return DoctorCheck(
            name,
            PROBLEM,
            f"the proxy sends X-Forwarded-Proto: https but the server does not trust it {when}",
            "start `remit serve --https` (uvicorn then honours the proxy's headers; a proxy "
            "not on 127.0.0.1 must be listed in $FORWARDED_ALLOW_IPS)",
        )
    return DoctorCheck(
        name,
        PROBLEM,
        f"requests arrive over plain HTTP, without X-Forwarded-Proto: https {when}",
        "serve through a TLS reverse proxy (docs/deploy/nginx.conf) that sets "
        "X-Forwarded-Proto, and start `remit serve --https`",
    )
