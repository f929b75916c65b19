"""Exports and imports: CDISC SDTM/ADaM (XPT, Dataset-JSON), ODM XML, REDCap data dictionaries.

The export formats are declared once, in :data:`remit.interop.formats.EXPORT_FORMATS`.
See ``docs/interop.md``.
"""

from remit.interop.dateshift import DateShift, shift_trial_data
from remit.interop.export import ExportResult, export_trial
from remit.interop.formats import ALL, EXPORT_FORMATS, FORMATS, ExportFormat, chosen_formats

__all__ = [
    "ALL",
    "EXPORT_FORMATS",
    "FORMATS",
    "DateShift",
    "ExportFormat",
    "ExportResult",
    "chosen_formats",
    "export_trial",
    "shift_trial_data",
]
