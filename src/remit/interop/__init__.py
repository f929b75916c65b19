"""Exports and imports: CDISC SDTM/ADaM, ODM XML, REDCap data dictionaries."""
