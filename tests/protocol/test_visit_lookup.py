"""A protocol's visit by code is found from a table worked out once per protocol object
(issue 16): the visit the linear search found, the same refusal for an unknown code, and a
protocol read again (an amendment) is looked up in its own visits."""

from __future__ import annotations

import pytest

from remit.errors import NotFoundError
from remit.protocol import load_protocol
from remit.protocol import model as protocol_model
from remit.protocol.model import Protocol, Visit


def _scanned(protocol: Protocol, code: object) -> Visit:
    """Protocol.visit as it was: the first visit of that code, in order."""
    for visit in protocol.visits:
        if visit.code == code:
            return visit
    raise NotFoundError(f"visit {code!r}")


def test_every_visit_is_the_one_the_search_found() -> None:
    protocol = load_protocol("oslo-mdma-mdd")
    for visit in protocol.visits:
        assert protocol.visit(visit.code) is _scanned(protocol, visit.code)


@pytest.mark.parametrize("code", ["NOPE", "", "v3", " V3", None, 3])
def test_an_unknown_code_is_refused_naming_the_visits(code: object) -> None:
    protocol = load_protocol("oslo-mdma-mdd")
    with pytest.raises(NotFoundError) as refused:
        protocol.visit(code)  # type: ignore[arg-type]
    assert "V3" in str(refused.value)


def test_an_amended_protocol_is_looked_up_in_its_own_visits() -> None:
    protocol = load_protocol("oslo-mdma-mdd")
    assert protocol.visit("FU7").label == _scanned(protocol, "FU7").label
    renamed = tuple(
        v.model_copy(update={"label": "Follow-up, amended"}) if v.code == "FU7" else v
        for v in protocol.visits
    )
    amended = protocol.model_copy(update={"visits": renamed})
    # what a protocol object at a reused address would leave behind
    protocol_model._VISITS_BY_CODE[id(amended)] = protocol_model._VISITS_BY_CODE[id(protocol)]
    assert amended.visit("FU7").label == "Follow-up, amended"
    assert protocol.visit("FU7").label != "Follow-up, amended"
