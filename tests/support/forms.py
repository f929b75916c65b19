"""Form answers and times for tests: valid answers to any scale, MADRS answers, UTC times."""

from __future__ import annotations

from datetime import UTC, date, datetime

#: Vital signs in the normal range.
NORMAL_VITALS = {"systolic_bp": 124, "diastolic_bp": 80, "heart_rate": 72, "temperature": 36.8}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A UTC time on ``day``."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def madrs(total_each: int = 3, item10: int = 1) -> dict[str, int]:
    """MADRS answers: items 1–9 ``total_each``, item 10 ``item10``."""
    return {str(i): total_each for i in range(1, 10)} | {"10": item10}


def fill(scale: str, version: str | None = None, level: int = 1) -> dict[str, object]:
    """Valid answers to every item of a scale: numbers at ``level`` (within range), booleans
    no, choices their first option, PSQI times at night and morning; skipped items blank. The
    scale file's safety items (BDI-II item 9 …) are at their lowest, so that a filled form
    raises no safety alert."""
    from remit.scales import load_scale

    definition = load_scale(scale)
    answers: dict[str, object] = {}
    for item in definition.items_for(version):
        if item.skip_when is not None or item.kind == "text":
            continue
        if item.kind in ("integer", "number"):
            low = item.min if item.min is not None else 0
            high = item.max if item.max is not None else low + level
            value = low if item.code in definition.safety.items else min(max(low, level), high)
            answers[item.code] = int(value) if item.kind == "integer" else float(value)
        elif item.kind == "boolean":
            answers[item.code] = False
        elif item.kind == "choice":
            answers[item.code] = next(iter(item.options))
        elif item.kind == "time":
            answers[item.code] = "23:00" if "bed" in item.code else "07:00"
    if scale == "psqi":
        answers["latency_minutes"] = 20.0
        answers["hours_asleep"] = 7.0
    if scale == "sds":
        answers["work_school"] = level
    return answers
