"""``write_odm_files``: the ODM snapshot and/or transactional file of a trial."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from remit.analysis import TrialData
from remit.errors import InputError
from remit.interop.dateshift import DateShift
from remit.interop.odm import stream
from remit.interop.odm.admin import add_admin_data
from remit.interop.odm.audit import CLINICAL_TABLES
from remit.interop.odm.metadata import protocol_scales
from remit.interop.odm.snapshot import snapshot_parts
from remit.interop.odm.transactional import transactional_parts
from remit.protocol import Protocol
from remit.services import Engine, audit_log

#: The ODM files an export can write (``odm_<variant>.xml``).
ODM_VARIANTS = ("snapshot", "transactional")


def write_odm_files(
    engine: Engine,
    protocol: Protocol,
    directory: str | Path,
    *,
    data: TrialData,
    variants: Iterable[str] = ODM_VARIANTS,
    date_shift: DateShift | None = None,
    created_at: datetime | None = None,
) -> list[Path]:
    """Write ``odm_snapshot.xml`` and/or ``odm_transactional.xml`` into ``directory``.

    ``data`` are the trial data as :func:`remit.services.build_trial_data` gave them to the
    exporting user, already moved by ``date_shift`` when there is one (the shift is applied
    here to the audit trail only). Only their participants reach either file: those the user
    may not see (another site) are left out of the transactional file too.
    """
    wanted = list(variants)
    bad = [v for v in wanted if v not in ODM_VARIANTS]
    if bad:
        raise InputError(f"unknown ODM variant(s) {bad}", expected=", ".join(ODM_VARIANTS))
    created = (created_at or datetime.now(UTC)).astimezone(UTC)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    participants = set(data.participants["participant_id"].astype(str))
    trail = audit_log(engine)
    entries = [e for e in trail if e.table_name in CLINICAL_TABLES or e.table_name == "site"]
    # the snapshot carries each participant's first informed consent on the subject form
    with_consent = [e for e in trail if e.table_name in (*CLINICAL_TABLES, "site", "consent")]
    scales = protocol_scales(protocol, data)
    written = []
    for variant in wanted:
        path = d / f"odm_{variant}.xml"
        if variant == "snapshot":
            root, clinical, chunks = snapshot_parts(
                data, with_consent, protocol, scales, created, date_shift
            )
        else:
            root, clinical, chunks = transactional_parts(
                entries, protocol, scales, created, date_shift, participants
            )

        def admin(root: Any, users: list[str], locations: list[str]) -> Any:
            return add_admin_data(root, protocol, trail, created, (users, locations))

        # streamed: one subject's (or one audit record's) elements are held at a time
        stream.write(path, root, clinical, chunks, admin)
        written.append(path)
    return written
