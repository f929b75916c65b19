"""REDCap data dictionaries (the 18-column CSV REDCap exports) → Remit scale definitions.

One TOML file per REDCap form (instrument), loadable with
:func:`remit.scales.load_scale_file`. What maps:

* ``radio``/``dropdown`` with whole-number codes → ``integer`` items (range = lowest to highest
  code, the choices as anchors); other codes → ``choice`` items (not scored);
* ``yesno``/``truefalse`` → ``boolean``; ``slider`` → ``integer`` 0–100 (or the validation
  range); ``text`` validated as ``integer``/``number`` with min and max → numeric items,
  ``time`` → ``time``; other ``text`` and ``notes`` → ``text`` (not scored);
* ``calc`` fields that sum (``sum([a],[b])`` or ``[a]+[b]``) or average (``mean(...)``) items
  of the form → the first becomes the total, the others subscales;
* branching logic of the form ``[x] = '1'`` (or ``'0'``) on yes/no fields, joined by all ``or``
  or all ``and`` → ``skip_when``;
* a matrix group → the items' ``section``.

Everything else (checkboxes, files, identifiers, other calculations and branching logic,
descriptive text) is reported item by item and not carried. A malformed dictionary — missing
columns, bad choice strings, duplicate variable names, unknown field types, bad ranges — is
refused with the row and column named, and nothing is written.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from remit.errors import InputError, ScaleError
from remit.scales import ScaleDefinition, parse_scale

#: The columns of a REDCap data dictionary, in REDCap's order.
COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)

FIELD_TYPES = frozenset(
    {
        "text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse", "calc",
        "descriptive", "slider", "file", "sql",
    }
)  # fmt: skip

_VAR = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELD = re.compile(r"\[([a-z][a-z0-9_]*)\]")
_CALL = re.compile(r"^(sum|mean)\((.*)\)$", re.IGNORECASE)
_COND = re.compile(r"""^\(?\s*\[([a-z][a-z0-9_]*)\]\s*=\s*(['"]?)([01])\2\s*\)?$""")


@dataclass(frozen=True)
class RedcapNote:
    """Something not carried over (or changed), per item."""

    form: str
    variable: str
    row: int
    message: str


@dataclass(frozen=True)
class ImportedScale:
    """One form as a scale definition: its TOML text and the parsed definition."""

    code: str
    toml: str
    definition: ScaleDefinition


@dataclass(frozen=True)
class RedcapImportResult:
    """The scales made from a dictionary and what could not be carried over."""

    source: str
    scales: tuple[ImportedScale, ...]
    notes: tuple[RedcapNote, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "source": self.source,
            "scales": [
                {
                    "code": s.code,
                    "items": len(s.definition.items),
                    "has_total": s.definition.total is not None,
                    "subscales": [x.code for x in s.definition.subscales],
                }
                for s in self.scales
            ],
            "not_carried": [n.__dict__ for n in self.notes],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per note."""
        return pd.DataFrame(
            [n.__dict__ for n in self.notes], columns=["form", "variable", "row", "message"]
        )

    def summary(self) -> str:
        """The scales made, then item by item what was not carried."""
        lines = [
            f"{s.code}: {len(s.definition.items)} items"
            + (", total" if s.definition.total is not None else ", no total")
            + (f", {len(s.definition.subscales)} subscales" if s.definition.subscales else "")
            for s in self.scales
        ]
        lines += [f"  {n.form}.{n.variable} (row {n.row}): {n.message}" for n in self.notes]
        return "\n".join(lines)

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write ``<code>.toml`` per scale into ``out_dir``; return the paths."""
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        paths = []
        for s in self.scales:
            path = d / f"{s.code}.toml"
            path.write_text(s.toml, encoding="utf-8")
            paths.append(path)
        return paths


class _Problems:
    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, row: int, column: str, message: str) -> None:
        self.found.append(f"row {row}, column {column!r}: {message}")

    def raise_if_any(self, source: str) -> None:
        if self.found:
            shown = "; ".join(self.found[:10])
            more = f" (and {len(self.found) - 10} more)" if len(self.found) > 10 else ""
            raise InputError(
                f"REDCap data dictionary {source} refused: {shown}{more}",
                hint="fix the dictionary in REDCap (or the CSV) and import it again; "
                "nothing was written",
            )


def _plain_label(text: str) -> str:
    no_tags = re.sub(r"<[^>]+>", " ", text)
    return " ".join(no_tags.split())


def parse_choices(text: str) -> list[tuple[str, str]]:
    """REDCap choices ``"0, Never | 1, Sometimes"`` → ``[("0", "Never"), ("1", "Sometimes")]``.

    Raises InputError on an empty choice, a choice without a comma, or a repeated code.
    """
    out: list[tuple[str, str]] = []
    for part in text.split("|"):
        part = part.strip()
        if not part:
            raise InputError(f"empty choice in {text!r}", expected="'code, label | code, label'")
        if "," not in part:
            raise InputError(f"choice {part!r} has no comma", expected="'code, label'")
        code, label = (s.strip() for s in part.split(",", 1))
        if not code:
            raise InputError(f"choice {part!r} has no code", expected="'code, label'")
        if code in {c for c, _ in out}:
            raise InputError(f"choice code {code!r} appears twice in {text!r}")
        out.append((code, label or code))
    return out


def _int_or_none(values: Sequence[str]) -> list[int] | None:
    try:
        return [int(v) for v in values]
    except ValueError:
        return None


def _number(text: str, row: int, column: str, problems: _Problems) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        problems.add(row, column, f"{text!r} is not a number")
        return None


def _calc_parts(text: str) -> tuple[str, list[str]] | None:
    """``("sum"|"mean", [fields])`` for a plain sum or mean of fields; None otherwise."""
    expr = " ".join(text.split())
    call = _CALL.match(expr)
    if call:
        args = [a.strip() for a in call.group(2).split(",")]
        fields = [_FIELD.fullmatch(a) for a in args]
        if args and all(fields):
            return call.group(1).lower(), [f.group(1) for f in fields if f]
        return None
    terms = [t.strip() for t in expr.strip("()").split("+")]
    fields = [_FIELD.fullmatch(t) for t in terms]
    if len(terms) >= 2 and all(fields):
        return "sum", [f.group(1) for f in fields if f]
    return None


def _branching(text: str, booleans: set[str]) -> dict[str, list[str]] | None:
    """A ``skip_when`` table for simple show-if logic on yes/no fields; None otherwise."""
    expr = " ".join(text.split())
    for joiner in (" or ", " and "):
        parts = re.split(joiner, expr, flags=re.IGNORECASE)
        conds = [_COND.match(p.strip()) for p in parts]
        if not all(conds):
            continue
        names = [c.group(1) for c in conds if c]
        values = {c.group(3) for c in conds if c}
        if any(n not in booleans for n in names) or len(values) != 1:
            return None
        value = values.pop()
        if len(parts) > 1 and joiner == " and " and value == "1":
            return None  # show if all yes: skip when any is no — the format cannot say it
        if len(parts) > 1 and joiner == " or " and value == "0":
            return None  # show if any no: skip when all yes — the format cannot say it
        # show if (any) yes ↔ skip when all are no; show if (all) no ↔ skip when any is yes
        return {"all_false": names} if value == "1" else {"any_true": names}
    return None


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def _rows(text: str, source: str) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"REDCap data dictionary {source} is empty") from None
    header = [h.strip() for h in header]
    problems = _Problems()
    missing = [c for c in COLUMNS if c not in header]
    for c in missing:
        problems.add(1, c, "column missing from the header")
    unknown = [h for h in header if h not in COLUMNS]
    for h in unknown:
        problems.add(1, h, "not a column of a REDCap data dictionary")
    problems.raise_if_any(source)
    rows = []
    for n, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            problems.add(n, COLUMNS[0], f"{len(values)} cells, the header has {len(header)}")
            continue
        rows.append(
            {"__row__": str(n)} | {h: v.strip() for h, v in zip(header, values, strict=True)}
        )
    problems.raise_if_any(source)
    return rows


def read_redcap_dictionary(
    source: str | Path,
    *,
    text: str | None = None,
    respondent: str = "self",
    recall: str = "not stated in the REDCap dictionary",
) -> RedcapImportResult:
    """Read a REDCap data dictionary (file path, or ``text``) into scale definitions.

    Nothing is written: call :meth:`RedcapImportResult.write`. Raises
    :class:`~remit.errors.InputError` naming row and column for a malformed dictionary.
    """
    name = str(source)
    if text is None:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as error:
            raise InputError(f"cannot read {source}: {error}") from error
    rows = _rows(text, name)
    problems = _Problems()
    notes: list[RedcapNote] = []
    seen: dict[str, int] = {}
    forms: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        n = int(r["__row__"])
        var = r["Variable / Field Name"]
        if not _VAR.match(var):
            problems.add(n, COLUMNS[0], f"{var!r} is not a REDCap variable name")
        elif var in seen:
            problems.add(n, COLUMNS[0], f"{var!r} is already defined in row {seen[var]}")
        else:
            seen[var] = n
        if not _VAR.match(r["Form Name"]):
            problems.add(n, "Form Name", f"{r['Form Name']!r} is not a REDCap form name")
        kind = r["Field Type"]
        if kind not in FIELD_TYPES:
            problems.add(
                n,
                "Field Type",
                f"{kind!r} is not a REDCap field type "
                f"(expected one of {', '.join(sorted(FIELD_TYPES))})",
            )
        if kind in ("radio", "dropdown", "checkbox"):
            try:
                parse_choices(r[COLUMNS[5]])
            except InputError as error:
                problems.add(n, COLUMNS[5], str(error))
        low = _number(r["Text Validation Min"], n, "Text Validation Min", problems)
        high = _number(r["Text Validation Max"], n, "Text Validation Max", problems)
        if low is not None and high is not None and low > high:
            problems.add(n, "Text Validation Min", f"min {low:g} is above max {high:g}")
        forms.setdefault(r["Form Name"], []).append(r)
    problems.raise_if_any(name)
    first = rows[0]["Variable / Field Name"] if rows else None
    scales = []
    for form, fields in forms.items():
        scale_text, form_notes = _form_toml(form, fields, first, respondent, recall)
        notes += form_notes
        try:
            definition = parse_scale(scale_text, f"{name} form {form}")
        except ScaleError as error:
            raise InputError(
                f"form {form} of {name} does not make a sound scale: {error}",
                hint="nothing was written; check the ranges and calculations of its fields",
            ) from error
        scales.append(ImportedScale(form, scale_text, definition))
    return RedcapImportResult(name, tuple(scales), tuple(notes))


def _form_toml(
    form: str,
    fields: list[dict[str, str]],
    record_id: str | None,
    respondent: str,
    recall: str,
) -> tuple[str, list[RedcapNote]]:
    notes: list[RedcapNote] = []
    items: list[dict[str, Any]] = []
    calcs: list[tuple[dict[str, str], str, list[str]]] = []
    booleans = {
        f["Variable / Field Name"] for f in fields if f["Field Type"] in ("yesno", "truefalse")
    }
    ranges: dict[str, tuple[float, float]] = {}

    def note(f: dict[str, str], message: str) -> None:
        notes.append(RedcapNote(form, f["Variable / Field Name"], int(f["__row__"]), message))

    for f in fields:
        var, kind = f["Variable / Field Name"], f["Field Type"]
        label = _plain_label(f["Field Label"]) or var
        if var == record_id:
            note(f, "record identifier: Remit identifies forms by participant and visit")
            continue
        if f["Identifier?"].lower() == "y":
            note(f, "identifier field: Remit keeps identifying data apart; not carried")
            continue
        item: dict[str, Any] = {"code": var, "label": label}
        vtype = f[COLUMNS[7]]
        low = float(f["Text Validation Min"]) if f["Text Validation Min"] else None
        high = float(f["Text Validation Max"]) if f["Text Validation Max"] else None
        if kind in ("radio", "dropdown"):
            choices = parse_choices(f[COLUMNS[5]])
            codes = _int_or_none([c for c, _ in choices])
            if codes is not None:
                item |= {"kind": "integer", "min": min(codes), "max": max(codes)}
                if sorted(codes) != list(range(min(codes), max(codes) + 1)):
                    note(
                        f,
                        "choice codes have gaps; Remit accepts every whole number in "
                        f"{min(codes)}-{max(codes)}",
                    )
            else:
                item |= {"kind": "choice", "scored": False}
            item["options"] = dict(choices)
        elif kind in ("yesno", "truefalse"):
            item["kind"] = "boolean"
        elif kind == "slider":
            item |= {
                "kind": "integer",
                "min": int(low or 0),
                "max": int(100 if high is None else high),
            }
        elif kind == "text" and vtype in ("integer", "number", "number_1dp", "number_2dp"):
            if low is None or high is None:
                note(
                    f,
                    f"{vtype} field without validation min and max: Remit needs a range; "
                    "carried as text",
                )
                item |= {"kind": "text", "scored": False}
            else:
                item |= {
                    "kind": "integer" if vtype == "integer" else "number",
                    "min": low,
                    "max": high,
                }
        elif kind == "text" and vtype == "time":
            item |= {"kind": "time", "scored": False}
        elif kind in ("text", "notes"):
            if vtype:
                note(f, f"validation {vtype!r} is not checked by Remit; carried as text")
            item |= {"kind": "text", "scored": False}
        elif kind == "calc":
            calc = _calc_parts(f[COLUMNS[5]])
            if calc is None:
                note(
                    f, f"calculation {f[COLUMNS[5]]!r} is not a sum or mean of fields; not carried"
                )
            else:
                calcs.append((f, calc[0], calc[1]))
            continue
        elif kind == "checkbox":
            note(f, "checkbox (several answers) has no Remit item kind; not carried")
            continue
        elif kind == "descriptive":
            note(f, "descriptive text, not an item")
            continue
        else:
            note(f, f"{kind} field has no Remit item kind; not carried")
            continue
        if f["Matrix Group Name"]:
            item["section"] = f["Matrix Group Name"]
        if f["Matrix Ranking?"].lower() == "y":
            note(f, "matrix ranking (each choice once) is not enforced by Remit")
        logic = f[COLUMNS[11]]
        if logic:
            skip = _branching(logic, booleans - {var})
            if skip is None:
                note(
                    f,
                    f"branching logic {logic!r} does not map to a Remit skip condition; "
                    "not carried",
                )
            else:
                item["skip_when"] = skip
                item["skip_note"] = f"REDCap: shown only if {' '.join(logic.split())}"
        if f["Field Annotation"]:
            note(f, f"field annotation {f['Field Annotation']!r} not carried")
        if item["kind"] in ("integer", "number"):
            ranges[var] = (float(item["min"]), float(item["max"]))
        items.append(item)
    total: tuple[str, list[str]] | None = None
    subscales: list[dict[str, Any]] = []
    usable: list[tuple[dict[str, str], str, list[str]]] = []
    for f, method, parts in calcs:
        unknown = [p for p in parts if p not in ranges]
        if unknown:
            note(
                f,
                f"calculation uses {', '.join(unknown)}, not numeric items of this form; "
                "not carried",
            )
            continue
        if method == "sum" and "sum(" in f[COLUMNS[5]].replace(" ", "").lower():
            note(
                f,
                "REDCap's sum() skips blank fields; Remit leaves the total missing when a "
                "part is blank (set [missing] to prorate if the protocol allows)",
            )
        usable.append((f, method, parts))
    # the calculation over the most items is the total; the others are subscales
    widest = max(usable, key=lambda c: len(c[2]), default=None)
    for f, method, parts in usable:
        if f is widest[0] if widest else False:
            total = (method, parts)
            note(f, f"became the scale total ({method} of {len(parts)} items)")
        else:
            subscales.append(
                {
                    "code": f["Variable / Field Name"],
                    "label": _plain_label(f["Field Label"]) or f["Variable / Field Name"],
                    "items": parts,
                    "method": method,
                }
            )
            note(
                f, f"became subscale {f['Variable / Field Name']} ({method} of {len(parts)} items)"
            )
    in_calcs = set(total[1]) if total else set()
    for s in subscales:
        in_calcs |= set(s["items"])
    if in_calcs:
        # items outside every calculation do not enter a score
        for item in items:
            if item["code"] not in in_calcs and "scored" not in item:
                item["scored"] = False
    lines = [
        f"# Imported from REDCap data dictionary form {form} (remit import redcap-dictionary).",
        f"code = {_toml(form)}",
        f"name = {_toml(form.replace('_', ' ').title())}",
        f"description = {_toml(f'REDCap form {form}: {len(items)} items.')}",
        f"respondent = {_toml(respondent)}",
        f"recall = {_toml(recall)}",
        'licence_note = "As given by the source of the REDCap dictionary; check before sharing."',
    ]
    if total is not None:
        method, parts = total
        lows = [ranges[p][0] for p in parts]
        highs = [ranges[p][1] for p in parts]
        if method == "sum":
            rng = [sum(lows), sum(highs)]
        else:
            rng = [sum(lows) / len(lows), sum(highs) / len(highs)]
        lines.append(f"total_range = {_toml(rng)}")
        lines += [
            "",
            "[missing]",
            'kind = "none"',
            "",
            "[total]",
            'source = "items"',
            f"parts = {_toml(parts)}",
            f"method = {_toml(method)}",
        ]
    for item in items:
        lines += ["", "[[items]]"] + [f"{k} = {_toml(v)}" for k, v in item.items()]
    for s in subscales:
        lines += ["", "[[subscales]]"] + [f"{k} = {_toml(v)}" for k, v in s.items()]
    return "\n".join(lines) + "\n", notes
