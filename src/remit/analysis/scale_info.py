"""What a report needs to know of each scale, carried by the analysis result.

Reports may not read scale definitions themselves (they import analysis, stats and protocol
only), so the analysis result carries a :class:`ScaleInfo` per scale: its display name and
total range, taken from the scale's definition file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from remit.errors import NotFoundError, ScaleError
from remit.protocol import Protocol
from remit.scales import ScaleDefinition, load_scale


@dataclass(frozen=True)
class ScaleInfo:
    """A scale as a report names and plots it.

    Examples
    --------
    >>> info = ScaleInfo.of("gad7")
    >>> info.short_name, info.total_range
    ('GAD-7', (0.0, 21.0))
    """

    code: str
    name: str
    short_name: str
    total_range: tuple[float, float] | None

    @classmethod
    def from_definition(cls, definition: ScaleDefinition) -> ScaleInfo:
        """The facts of a loaded definition."""
        return cls(
            definition.code, definition.name, definition.display_name, definition.total_range
        )

    @classmethod
    def unknown(cls, code: str) -> ScaleInfo:
        """A scale without a definition: its code upper-cased as its name, no total range."""
        return cls(code, code.upper(), code.upper(), None)

    @classmethod
    def of(cls, code: str) -> ScaleInfo:
        """The facts of a shipped scale; an unknown code gets :meth:`unknown`'s."""
        try:
            return cls.from_definition(load_scale(code))
        except (NotFoundError, ScaleError):
            return cls.unknown(code)


def scale_infos(protocol: Protocol, extra: Iterable[str] = ()) -> dict[str, ScaleInfo]:
    """A :class:`ScaleInfo` for every scale the protocol assesses or analyses (and ``extra``).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> infos = scale_infos(load_protocol("oslo-mdma-mdd"))
    >>> infos["madrs"].total_range, infos["cssrs"].short_name
    ((0.0, 60.0), 'C-SSRS')
    """
    codes = dict.fromkeys(s for visit in protocol.visits for s in visit.scales())
    for item in (*protocol.endpoints, *protocol.analysis.analyses):
        codes.update(dict.fromkeys(item.scale_refs()))
    codes.update(dict.fromkeys(str(c) for c in extra))
    return {code: ScaleInfo.of(code) for code in codes}
