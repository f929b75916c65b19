"""Sponsor-defined test codes (≤ 8 characters) for every scored part of a scale.

ADaM ``PARAMCD`` uses this scheme for every scale; SDTM ``QSTESTCD``/``RSTESTCD`` use it for
the parts CDISC publishes no QRS test code for (:mod:`remit.interop.qrs` takes the CDISC codes
where they exist): a four-letter scale prefix, then ``TOT`` for the total, ``S`` + number for a
subscale, ``D`` + number for a derived value and the item's position (``01`` …) for an item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from remit.errors import InputError, NotFoundError, ScaleError
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


_QUALIFIER = re.compile(r"\s*\(([^()]*)\)$")
_ASIDE = re.compile(r"\s*\([^()]*\)")


def _short(text: str, limit: int = 40) -> str:
    """``text`` in at most ``limit`` ASCII characters, keeping a closing qualifier.

    A trailing ``(lifetime)``/``(recent window / past month)`` tells apart items that
    differ only there, so it is kept (up to its first ``/`` or ``,``) and the text before it
    is shortened; other parenthesised asides go first.

    >>> _short("Actual lethality / medical damage of the most lethal attempt (lifetime)")
    'Actual lethality / medical da (lifetime)'
    """
    flat = " ".join(text.split()).encode("ascii", "replace").decode("ascii")
    if len(flat) <= limit:
        return flat
    found = _QUALIFIER.search(flat)
    qualifier = ""
    body = flat
    if found:
        qualifier = "(" + re.split(r"\s*[/,]\s*", found.group(1))[0].strip() + ")"
        body = flat[: found.start()]
        if len(qualifier) > limit // 2:
            qualifier, body = "", flat
    body = _ASIDE.sub("", body).strip()
    room = limit - (len(qualifier) + 1 if qualifier else 0)
    body = body[:room].rstrip(" -:/,")
    return f"{body} {qualifier}".strip() if qualifier else body


def _unique_labels(
    codes: dict[tuple[str, str], TestCode], texts: dict[tuple[str, str], str], limit: int = 40
) -> None:
    """Make the labels of one scale unique: a shortened label two parts share is shortened
    again from the full text and tagged with the part's code (``... #CSSR16``)."""
    seen: dict[str, int] = {}
    for tc in codes.values():
        seen[tc.label] = seen.get(tc.label, 0) + 1
    for k, tc in list(codes.items()):
        if seen[tc.label] > 1:
            tag = f" #{tc.code}"
            codes[k] = TestCode(tc.code, _short(texts[k], limit - len(tag)) + tag, tc.part, tc.key)


@cache
def scale_codes(scale: str) -> dict[tuple[str, str], TestCode]:
    """``{(part, key): TestCode}`` for the scale's total, subscales, derived values and items."""
    try:
        definition = load_scale(scale)
    except (ScaleError, InputError, NotFoundError, OSError):
        return {}
    prefix = scale_prefix(scale)
    name = scale.upper()
    # QSCAT names the scale, so the test names need not: they keep room for the item's words
    out: dict[tuple[str, str], TestCode] = {
        ("total", "total"): TestCode(f"{prefix}TOT", _short(f"{name} total"), "total", "total")
    }
    texts: dict[tuple[str, str], str] = {("total", "total"): f"{name} total"}
    for n, sub in enumerate(definition.subscales, start=1):
        texts[("subscales", sub.code)] = sub.label
        out[("subscales", sub.code)] = TestCode(
            f"{prefix}S{n:02d}", _short(sub.label), "subscales", sub.code
        )
    names = list(dict.fromkeys(d.name for d in definition.derived))
    for n, derived in enumerate(names, start=1):
        label = next((d.label for d in definition.derived if d.name == derived and d.label), "")
        texts[("derived", derived)] = label or derived
        out[("derived", derived)] = TestCode(
            f"{prefix}D{n:02d}", _short(label or derived), "derived", derived
        )
    items: dict[str, str] = {}
    for version in definition.versions:
        for item in definition.items_for(version):
            items.setdefault(item.code, item.label)
    for item in definition.items:
        items.setdefault(item.code, item.label)
    for n, (code, label) in enumerate(items.items(), start=1):
        texts[("items", code)] = label
        out[("items", code)] = TestCode(
            f"{prefix}{n:02d}" if n < 100 else f"{prefix}{n:03d}",
            _short(label),
            "items",
            code,
        )
    _unique_labels(out, texts)
    return out


def code_for(scale: str, part: str, key: str) -> TestCode:
    """The code of one part; a part the definition does not know gets a stable fallback."""
    found = scale_codes(scale).get((part, key))
    if found is not None:
        return found
    prefix = scale_prefix(scale)
    tail = "".join(ch for ch in key.upper() if ch.isalnum())
    return TestCode((prefix + tail)[:8], _short(f"{scale.upper()} {key}"), part, key)
