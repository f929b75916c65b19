"""Which demographic characteristics beyond sex and age a trial collects: the protocol's
``[demographics]`` table.

Race and ethnic origin are special categories of personal data (GDPR article 9) and many
countries (Norway among them) do not usually collect them, so a protocol collects them only
when it says so: ``collect = ["race", "ethnicity"]`` with a ``justification`` (checked,
``P042``). A protocol without the table collects neither; the SDTM export then carries no
RACE/ETHNIC value and define.xml says they were not collected.

Examples
--------
>>> from remit.protocol import load_protocol
>>> load_protocol("oslo-mdma-mdd").demographics.collects("race")
False
>>> rct = load_protocol("mdma-mdd-rct-example").demographics
>>> rct.collects("race"), rct.collects("ethnicity")
(True, True)
"""

from __future__ import annotations

from enum import StrEnum

from remit.protocol._base import _Model


class Characteristic(StrEnum):
    """A demographic characteristic a protocol may collect at registration for screening."""

    RACE = "race"
    ETHNICITY = "ethnicity"


class Race(StrEnum):
    """Race as collected: the submission values of the CDISC codelist RACE (C74457,
    non-extensible) that Remit offers; ``NOT REPORTED`` when the person chose not to say."""

    AMERICAN_INDIAN_OR_ALASKA_NATIVE = "AMERICAN INDIAN OR ALASKA NATIVE"
    ASIAN = "ASIAN"
    BLACK_OR_AFRICAN_AMERICAN = "BLACK OR AFRICAN AMERICAN"
    NATIVE_HAWAIIAN_OR_OTHER_PACIFIC_ISLANDER = "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER"
    WHITE = "WHITE"
    NOT_REPORTED = "NOT REPORTED"
    UNKNOWN = "UNKNOWN"


class Ethnicity(StrEnum):
    """Ethnicity as collected: the submission values of the CDISC codelist ETHNIC (C66790,
    non-extensible)."""

    HISPANIC_OR_LATINO = "HISPANIC OR LATINO"
    NOT_HISPANIC_OR_LATINO = "NOT HISPANIC OR LATINO"
    NOT_REPORTED = "NOT REPORTED"
    UNKNOWN = "UNKNOWN"


class Demographics(_Model):
    """The protocol's ``[demographics]`` table: the characteristics collected (``collect``,
    words of :class:`Characteristic`) and why (``justification``, required when anything is
    collected)."""

    collect: tuple[str, ...] = ()
    justification: str | None = None
    assumption: str | None = None

    def collects(self, characteristic: str) -> bool:
        """Whether the protocol collects ``characteristic`` (``race``, ``ethnicity``)."""
        return characteristic in self.collect
