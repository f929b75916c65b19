"""Informed consent in the protocol: the ``[[consent.versions]]`` of the consent form.

Each version of the consent form has a ``version`` name, the date it takes ``effective``, the
``components`` a participant may agree to and the ``required_components`` without which there
is no consent at all. An optional component may ``cover`` operations (the rows of the services'
access table, ``record_assessment`` …, or ``record_assessment:<scale>`` for one scale): a
participant who did not agree to it, or withdrew it, cannot have those done.

A protocol with no versions asks for no consent (test protocols); a protocol with versions
makes the services refuse every study procedure until consent is recorded, and again when a
newer version is effective on the procedure's date (re-consent).

Example of a protocol file::

    [consent]
    assumption = "not published; one form with an optional biobank part"

    [[consent.versions]]
    version = "1.0"
    effective = 2022-09-01
    components = ["main", "optional_biobank"]
    required_components = ["main"]
    covers = { optional_biobank = ["record_assessment:biobank"] }

Examples
--------
>>> from datetime import date
>>> c = Consent.model_validate({"versions": [
...     {"version": "1.0", "effective": date(2022, 1, 1), "components": ["main"],
...      "required_components": ["main"]},
...     {"version": "2.0", "effective": date(2024, 1, 1), "components": ["main", "bio"],
...      "required_components": ["main"], "covers": {"bio": ["record_assessment:bio"]}}]})
>>> c.in_force(date(2023, 6, 1)).version, c.in_force(date(2024, 1, 1)).version
('1.0', '2.0')
>>> c.in_force(date(2021, 1, 1)) is None
True
>>> c.version("2.0").covering("record_assessment", "bio")
('bio',)
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field, model_validator

from remit.errors import NotFoundError
from remit.protocol._base import _Model


class WithdrawalScope(StrEnum):
    """How much of a consent a participant withdrew: all of it, or optional components only."""

    FULL = "full"
    PARTIAL = "partial"


class ConsentVersion(_Model):
    """One version of the consent form."""

    version: str = Field(min_length=1, max_length=32)
    effective: date
    components: tuple[str, ...] = Field(min_length=1)
    required_components: tuple[str, ...] = Field(min_length=1)
    covers: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    description: str | None = None
    assumption: str | None = None

    @model_validator(mode="after")
    def _sound(self) -> ConsentVersion:
        if len(set(self.components)) != len(self.components):
            raise ValueError(f"consent version {self.version}: components repeat a name")
        for what, names in (
            ("required_components", self.required_components),
            ("covers", tuple(self.covers)),
        ):
            unknown = sorted(set(names) - set(self.components))
            if unknown:
                raise ValueError(
                    f"consent version {self.version}: {what} names {unknown}, which are not "
                    f"among its components {list(self.components)}; add them to components"
                )
        required_covering = sorted(set(self.covers) & set(self.required_components))
        if required_covering:
            raise ValueError(
                f"consent version {self.version}: required components {required_covering} "
                "cannot cover operations (every consent has them); give covers only to "
                "optional components"
            )
        return self

    @property
    def optional_components(self) -> tuple[str, ...]:
        """The components a participant may decline."""
        return tuple(c for c in self.components if c not in self.required_components)

    def covering(self, operation: str, detail: str | None = None) -> tuple[str, ...]:
        """The optional components that cover ``operation`` (or ``operation:detail``)."""
        keys = {operation} if detail is None else {operation, f"{operation}:{detail}"}
        return tuple(c for c, ops in self.covers.items() if keys & set(ops))


class Consent(_Model):
    """The ``[consent]`` table: the versions of the consent form, oldest first."""

    versions: tuple[ConsentVersion, ...] = ()
    assumption: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Consent:
        names = [v.version for v in self.versions]
        if len(set(names)) != len(names):
            raise ValueError(f"consent versions repeat a name: {names}")
        dates = [v.effective for v in self.versions]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError(
                "consent versions must be listed oldest first, each effective on a later "
                f"date than the one before; got {[d.isoformat() for d in dates]}"
            )
        return self

    @property
    def required(self) -> bool:
        """Whether study procedures need consent (the protocol declares a version)."""
        return bool(self.versions)

    def version(self, name: str) -> ConsentVersion:
        """The version called ``name``; :class:`~remit.errors.NotFoundError` lists the others."""
        for v in self.versions:
            if v.version == name:
                return v
        raise NotFoundError(
            f"consent version {name!r} is not in the protocol",
            expected="one of " + (", ".join(v.version for v in self.versions) or "(none)"),
            hint="see the protocol's [[consent.versions]]",
        )

    def in_force(self, on: date) -> ConsentVersion | None:
        """The newest version effective on or before ``on`` (``None`` before the first)."""
        found = [v for v in self.versions if v.effective <= on]
        return found[-1] if found else None
