"""SDTM maps Remit's vocabularies to CDISC terms: every word of the vocabulary is mapped."""

from __future__ import annotations

from remit.interop.sdtm.events import DISPOSITION, SEVERITY_TERMS
from remit.protocol.adverse_event import Severity
from remit.protocol.status import FINAL_STATUSES, values


def test_every_final_status_has_a_disposition_and_nothing_else_does() -> None:
    assert set(DISPOSITION) == {s.value for s in FINAL_STATUSES}


def test_every_severity_has_its_aesev_term() -> None:
    assert tuple(SEVERITY_TERMS) == values(Severity)
    assert set(SEVERITY_TERMS.values()) == {"MILD", "MODERATE", "SEVERE"}
