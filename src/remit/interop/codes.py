"""Short CDISC test codes (≤ 8 characters) for every scored part of a scale.

One scheme serves SDTM ``QSTESTCD``/``RSTESTCD`` and ADaM ``PARAMCD``, so a value can be
followed from the raw dataset to the analysis dataset: a four-letter scale prefix, then
``TOT`` for the total, ``S`` + number for a subscale, ``D`` + number for a derived value and the
item's position (``01`` …) for an item.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from remit.errors import InputError, ScaleError
from remit.scales import load_scale


@dataclass(frozen=True)
class TestCode:
    """A scale part's code and its label (≤ 40 characters)."""

    code: str
    label: str
    part: str  # total, subscales, derived, items
    key: str  # item code, subscale code, derived name or "total"


def scale_prefix(scale: str) -> str:
    """Upper-case, letters and digits only, at most four characters (``se_vas`` → ``SEVA``)."""
    return "".join(ch for ch in scale.upper() if ch.isalnum())[:4]


def _short(text: str, limit: int = 40) -> str:
    flat = " ".join(text.split()).encode("ascii", "replace").decode("ascii")
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "~"


@cache
def scale_codes(scale: str) -> dict[tuple[str, str], TestCode]:
    """``{(part, key): TestCode}`` for the scale's total, subscales, derived values and items."""
    try:
        definition = load_scale(scale)
    except (ScaleError, InputError, OSError):
        return {}
    prefix = scale_prefix(scale)
    name = scale.upper()
    out: dict[tuple[str, str], TestCode] = {
        ("total", "total"): TestCode(f"{prefix}TOT", _short(f"{name} total"), "total", "total")
    }
    for n, sub in enumerate(definition.subscales, start=1):
        out[("subscales", sub.code)] = TestCode(
            f"{prefix}S{n:02d}", _short(f"{name} {sub.label}"), "subscales", sub.code
        )
    names = list(dict.fromkeys(d.name for d in definition.derived))
    for n, derived in enumerate(names, start=1):
        label = next((d.label for d in definition.derived if d.name == derived and d.label), "")
        out[("derived", derived)] = TestCode(
            f"{prefix}D{n:02d}", _short(f"{name} {label or derived}"), "derived", derived
        )
    items: dict[str, str] = {}
    for version in definition.versions:
        for item in definition.items_for(version):
            items.setdefault(item.code, item.label)
    for item in definition.items:
        items.setdefault(item.code, item.label)
    for n, (code, label) in enumerate(items.items(), start=1):
        out[("items", code)] = TestCode(
            f"{prefix}{n:02d}" if n < 100 else f"{prefix}{n:03d}",
            _short(f"{name} {label}"),
            "items",
            code,
        )
    return out


def code_for(scale: str, part: str, key: str) -> TestCode:
    """The code of one part; a part the definition does not know gets a stable fallback."""
    found = scale_codes(scale).get((part, key))
    if found is not None:
        return found
    prefix = scale_prefix(scale)
    tail = "".join(ch for ch in key.upper() if ch.isalnum())
    return TestCode((prefix + tail)[:8], _short(f"{scale.upper()} {key}"), part, key)
