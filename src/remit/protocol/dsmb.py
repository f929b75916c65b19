"""The protocol's ``[dsmb]`` table: what the Data and Safety Monitoring Board's closed report
shows, as its charter says (``remit report --dsmb``, docs/report.md)."""

from __future__ import annotations

from remit.protocol._base import _Model


class Dsmb(_Model):
    """The ``[dsmb]`` table (optional; the defaults when left out).

    ``efficacy``: whether the closed report also shows the efficacy analyses of the plan by
    coded arm (default false: safety only, as most charters ask of an interim look).
    ``charter``: the charter the board works under (a document reference), printed on the
    cover.

    Examples
    --------
    >>> Dsmb().efficacy
    False
    >>> Dsmb(efficacy=True, charter="DSMB charter v1.0").charter
    'DSMB charter v1.0'
    """

    efficacy: bool = False
    charter: str | None = None
    assumption: str | None = None
