"""Each participant's outcome category at a visit, from the protocol's endpoints.

The figures colour participants by one category per visit, taken from the endpoint statuses
that :func:`remit.analysis.endpoints.derive_endpoints` decided (nothing is re-derived here):

- ``remission`` — the remission endpoint is met (whether or not the response one is);
- ``response`` — the response endpoint is met but not the remission one;
- ``no_response`` — neither is met;
- ``missing`` — the value at that visit is missing, so neither can be decided.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from remit.analysis.endpoints import EndpointsResult
from remit.protocol import Protocol, RemissionEndpoint, ResponseEndpoint

CATEGORIES: tuple[str, ...] = ("remission", "response", "no_response", "missing")


@dataclass(frozen=True)
class OutcomeDefinitions:
    """The endpoints that define the categories, found in the protocol."""

    scale: str
    response: ResponseEndpoint | None
    remission: RemissionEndpoint | None

    @property
    def visits(self) -> tuple[str, ...]:
        """The visits at which a category can be decided, in protocol order of the endpoints."""
        seen: list[str] = []
        for e in (self.response, self.remission):
            for v in e.visits if e is not None else ():
                if v not in seen:
                    seen.append(v)
        return tuple(seen)


def primary_scale(protocol: Protocol) -> str | None:
    """Scale of the primary endpoint (the first endpoint if none is primary)."""
    for e in protocol.endpoints:
        if e.role == "primary":
            return e.scale
    return protocol.endpoints[0].scale if protocol.endpoints else None


def outcome_definitions(protocol: Protocol) -> OutcomeDefinitions:
    """The response and remission endpoints on the primary scale (``None`` when absent)."""
    scale = primary_scale(protocol) or ""
    response = next(
        (e for e in protocol.endpoints if isinstance(e, ResponseEndpoint) and e.scale == scale),
        None,
    )
    remission = next(
        (e for e in protocol.endpoints if isinstance(e, RemissionEndpoint) and e.scale == scale),
        None,
    )
    return OutcomeDefinitions(scale=scale, response=response, remission=remission)


def _statuses(endpoints: EndpointsResult, endpoint_id: str, visit: str) -> dict[str, object]:
    s = endpoints.status
    rows = s[(s["endpoint_id"] == endpoint_id) & (s["visit_code"] == visit)]
    return dict(zip(rows["participant_id"], rows["status"], strict=True))


def categories_at(
    endpoints: EndpointsResult, definitions: OutcomeDefinitions, visit: str
) -> dict[str, str]:
    """Participant id → category at ``visit`` for everyone in the analysis population."""
    response = _statuses(endpoints, definitions.response.id, visit) if definitions.response else {}
    remission = (
        _statuses(endpoints, definitions.remission.id, visit) if definitions.remission else {}
    )
    out: dict[str, str] = {}
    for pid in endpoints.population:
        rem, resp = remission.get(pid), response.get(pid)
        if rem is True:
            out[pid] = "remission"
        elif resp is True:
            out[pid] = "response"
        elif rem is False or resp is False:
            out[pid] = "no_response"
        else:
            out[pid] = "missing"
    return out


def percent_change_at(
    endpoints: EndpointsResult, definitions: OutcomeDefinitions, visit: str
) -> pd.Series:
    """Percent change from baseline at ``visit`` per participant (NaN when missing)."""
    e = definitions.response or definitions.remission
    if e is None:
        return pd.Series(dtype=float)
    s = endpoints.status
    rows = s[(s["endpoint_id"] == e.id) & (s["visit_code"] == visit)]
    return pd.Series(
        rows["pct_change"].to_numpy(dtype=float), index=rows["participant_id"].astype(str)
    )


__all__ = [
    "CATEGORIES",
    "OutcomeDefinitions",
    "categories_at",
    "outcome_definitions",
    "percent_change_at",
    "primary_scale",
]
