"""Per-participant date shifting: every date of one participant moves by the same whole days."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from remit.analysis import SCHEMA, TrialData
from remit.errors import InputError

#: Date and time columns of each TrialData frame, read from the contract (every column of
#: kind date or time), so a date column added to the contract is shifted too.
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in columns if c.kind in ("date", "time"))
    for name, columns in SCHEMA.items()
}

#: Mapping columns whose keys are dates (``YYYY-MM-DD``): a taper plan's step dates.
DATE_KEYED_COLUMNS: dict[str, tuple[str, ...]] = {"conmeds": ("taper_steps",)}


@dataclass(frozen=True)
class DateShift:
    """How far each participant's dates move.

    ``days`` fixes the shift of named participants; the others get a shift drawn from
    ``seed`` and their study ID (so the same seed shifts the same participant the same way
    in every export), uniform on ``[-max_days, max_days]`` and never 0. Intervals within a
    participant (study days, minutes after dose, durations) are unchanged.
    """

    seed: int | None = None
    days: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    max_days: int = 180

    def __post_init__(self) -> None:
        if self.max_days < 1:
            raise InputError(f"max_days {self.max_days} is too small", expected="at least 1")
        if self.seed is None and not self.days:
            raise InputError("a DateShift needs a seed or fixed days per participant")

    def offset(self, participant_id: str) -> int:
        """Days added to every date of ``participant_id``."""
        if participant_id in self.days:
            return int(self.days[participant_id])
        if self.seed is None:
            raise InputError(f"no date shift is set for {participant_id}")
        rng = np.random.default_rng([self.seed, zlib.crc32(participant_id.encode())])
        value = int(rng.integers(1, self.max_days + 1))
        return value if rng.integers(0, 2) else -value


def shift_trial_data(data: TrialData, shift: DateShift) -> TrialData:
    """A copy of ``data`` with every date of each participant moved by its offset."""
    frames = {}
    for name, frame in data.frames().items():
        out = frame.copy()
        if len(out):
            # a study-wide row (no participant, e.g. a deviation) has no personal dates to move
            delta = pd.to_timedelta(
                [0 if p is None else shift.offset(str(p)) for p in out["participant_id"]],
                unit="D",
            )
            for col in DATE_COLUMNS.get(name, ()):
                if col in out.columns:
                    out[col] = out[col] + delta
            for col in DATE_KEYED_COLUMNS.get(name, ()):
                if col in out.columns:
                    shifted = [_shift_keys(m, d) for m, d in zip(out[col], delta, strict=True)]
                    out[col] = pd.Series(shifted, index=out.index, dtype=object)
        frames[name] = out
    return TrialData(**frames, simulated=data.simulated)


def _shift_keys(mapping: Mapping[str, object], delta: pd.Timedelta) -> dict[str, object]:
    """``mapping`` with each date key (``YYYY-MM-DD``) moved by ``delta``."""
    return {(pd.Timestamp(k) + delta).strftime("%Y-%m-%d"): v for k, v in (mapping or {}).items()}
