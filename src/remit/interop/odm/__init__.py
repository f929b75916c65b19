"""CDISC ODM 1.3.2 XML: study metadata from the protocol and the scale definitions, clinical
data, and the audit trail as ODM AuditRecords; snapshot and transactional files.

* Snapshot (``FileType="Snapshot"``): the data as they stand (from
  :func:`remit.services.build_trial_data`), then ``<AuditRecords>`` with one ``AuditRecord``
  per audit row of the clinical tables (who, where, when, why; ``SourceID`` names the table,
  record, field and action).
* Transactional (``FileType="Transactional"``): the audit trail replayed as ODM transactions —
  every insert and change of a visit date, form answer, dose, vital sign, adverse event,
  clinical result, pre-dose checklist completion, concomitant medication or deviation as an
  ``ItemData`` with ``TransactionType`` and its own ``AuditRecord``.

Clinical results (``F.RESULT``) and checklist completions (``F.CHECKLIST``) sit at their
visits; medications (``F.CONMED``) and deviations (``F.DEVIATION``, Remit's own marked
``SOURCE`` automatic) in the repeating common events ``SE.CM`` and ``SE.DV``.

Identity data are never read: the audit rows of ``participant_identity`` (and of users and
roles) are left out.

One module per part: :mod:`~remit.interop.odm.base` (XML elements, OIDs, values),
:mod:`~remit.interop.odm.metadata` (study metadata), :mod:`~remit.interop.odm.audit` (the
audit trail), :mod:`~remit.interop.odm.snapshot`, :mod:`~remit.interop.odm.transactional`
and :mod:`~remit.interop.odm.files` (writing the files).
"""

from remit.interop.odm.audit import CLINICAL_TABLES, audit_state
from remit.interop.odm.base import ODM_NS, all_items, item_types, oid
from remit.interop.odm.files import ODM_VARIANTS, write_odm_files
from remit.interop.odm.metadata import FIXED_FORMS, FORM_META, fixed_forms, study_metadata
from remit.interop.odm.snapshot import snapshot_odm
from remit.interop.odm.transactional import transactional_odm

__all__ = [
    "CLINICAL_TABLES",
    "FIXED_FORMS",
    "FORM_META",
    "ODM_NS",
    "ODM_VARIANTS",
    "all_items",
    "audit_state",
    "fixed_forms",
    "item_types",
    "oid",
    "snapshot_odm",
    "study_metadata",
    "transactional_odm",
    "write_odm_files",
]
