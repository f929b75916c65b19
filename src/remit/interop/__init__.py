"""Exports and imports: CDISC SDTM/ADaM (XPT, Dataset-JSON), ODM XML, REDCap data dictionaries.

See ``docs/interop.md``.
"""

from remit.interop.dateshift import DateShift, shift_trial_data
from remit.interop.export import FORMATS, ExportResult, export_trial

__all__ = ["FORMATS", "DateShift", "ExportResult", "export_trial", "shift_trial_data"]
