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
* a matrix group → the items' ``section``;
* "Required Field?" ``y`` → a required item (a blank one makes the form incomplete); any other
  field is optional (safety items are always required);
* severity bands of the total from the field annotation ``@REMIT-BANDS='0-4 minimal; 5-9 mild'``
  (on any field of the form) or a bands file (CSV ``form,min,max,label``);
* item-level safety rules from the annotation ``@REMIT-SAFETY='>=1 same_day: text'`` on the item
  or a rules file (CSV ``form,variable,op,value,level,text``): the item becomes a ``[safety]``
  item of the scale and each rule a ``[[safety.rules]]`` row of the protocol's safety table.

Everything else (checkboxes, files, identifiers, other calculations and branching logic,
descriptive text) is reported item by item and not carried. A malformed dictionary — missing
columns, no fields at all, bad choice strings, duplicate variable names, unknown field types, bad
ranges, a calculation or branching logic naming a field the dictionary does not define or that
does not parse, a malformed ``@REMIT-`` annotation — is refused with the row and column named, and
nothing is written.
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
from remit.protocol.vocab import COMPARE, LEVELS
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
#: One token of REDCap logic or calculations: a field (``[x]``, ``[x(1)]`` for a checkbox
#: choice, ``[event][x]`` is two tokens), a quoted value, a number, an operator, a function
#: call's name, a parenthesis or a comma.
_TOKEN = re.compile(
    r"""\s+|\[[a-z][a-z0-9_]*(?:\([^()\[\]]*\))?\]|\[[a-z0-9_-]+\]|'[^']*'|"[^"]*"|"""
    r"""\d+(?:\.\d+)?|<>|!=|<=|>=|==|=|<|>|\+|-|\*|/|\^|\(|\)|,|\b(?:and|or|not)\b|"""
    r"""[a-z_][a-z0-9_]*(?=\s*\()""",
    re.IGNORECASE,
)
_REF = re.compile(r"\[([a-z][a-z0-9_]*)(?:\([^()\[\]]*\))?\]")
_TAG = re.compile(r"""@REMIT-([A-Z]+)\s*(?:=\s*(['"])(.*?)\2)?""", re.DOTALL)
_BAND = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s+(\S.*?)\s*$")
_RULE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s+([a-z_]+)\s*(?::\s*(.*?))?\s*$")


@dataclass(frozen=True)
class RedcapNote:
    """Something not carried over (or changed), per item."""

    form: str
    variable: str
    row: int
    message: str


@dataclass(frozen=True)
class SafetyRuleRow:
    """One item-level safety rule, as a ``[[safety.rules]]`` row of a protocol's safety table."""

    scale: str
    item: str
    op: str
    value: float
    level: str
    text: str

    @property
    def id(self) -> str:
        """The rule id: ``<scale>_<item>_<level>``."""
        return f"{self.scale}_{self.item}_{self.level}"

    def toml(self) -> str:
        """The ``[[safety.rules]]`` row."""
        return "\n".join(
            [
                "[[safety.rules]]",
                f"id = {_toml(self.id)}",
                f"scale = {_toml(self.scale)}",
                f"item = {_toml(self.item)}",
                f"op = {_toml(self.op)}",
                f"value = {_toml(self.value)}",
                f"level = {_toml(self.level)}",
                f"text = {_toml(self.text)}",
            ]
        )


@dataclass(frozen=True)
class ImportedScale:
    """One form as a scale definition: its TOML text, the parsed definition and the item-level
    safety rules for the protocol's safety table."""

    code: str
    toml: str
    definition: ScaleDefinition
    safety_rules: tuple[SafetyRuleRow, ...] = ()

    def rules_toml(self) -> str:
        """The safety rules as ``[[safety.rules]]`` rows to put in a protocol file."""
        head = (
            f"# Safety rules of scale {self.code} from its REDCap dictionary "
            "(remit import redcap-dictionary):\n# copy these rows into the protocol file.\n"
        )
        return head + "\n\n".join(r.toml() for r in self.safety_rules) + "\n"


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
                    "bands": [
                        {"min": b.min, "max": b.max, "label": b.label} for b in s.definition.bands
                    ],
                    "required": [i.code for i in s.definition.items if i.required],
                    "safety_rules": [r.__dict__ | {"id": r.id} for r in s.safety_rules],
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
            + (f", {len(s.definition.bands)} bands" if s.definition.bands else "")
            + (f", {len(s.safety_rules)} safety rules" if s.safety_rules else "")
            for s in self.scales
        ]
        lines += [f"  {n.form}.{n.variable} (row {n.row}): {n.message}" for n in self.notes]
        return "\n".join(lines)

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write ``<code>.toml`` per scale into ``out_dir`` (a user scale directory, see
        ``REMIT_SCALES_PATH``) and, for a scale with safety rules, ``safety_rules/<code>.toml``
        (rows for the protocol file); return the paths.

        Raises :class:`~remit.errors.InputError` before writing anything when a scale's code is
        that of a built-in scale.
        """
        from remit.scales import builtin_scales

        clash = sorted({s.code for s in self.scales} & set(builtin_scales()))
        if clash:
            raise InputError(
                f"REDCap form(s) {', '.join(clash)} of {self.source} would replace the built-in "
                "scale(s) of that code",
                expected="form names that are not codes of shipped scales ("
                + ", ".join(builtin_scales())
                + ")",
                hint="rename the form in the dictionary (Form Name column); nothing was written",
            )
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        paths = []
        for s in self.scales:
            path = d / f"{s.code}.toml"
            path.write_text(s.toml, encoding="utf-8")
            paths.append(path)
            if s.safety_rules:
                # a subfolder: the user scale directory reads only its own *.toml files
                rules = d / "safety_rules" / f"{s.code}.toml"
                rules.parent.mkdir(exist_ok=True)
                rules.write_text(s.rules_toml(), encoding="utf-8")
                paths.append(rules)
        return paths


class _Problems:
    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, row: int, column: str, message: str) -> None:
        self.found.append(f"row {row}, column {column!r}: {message}")

    def add_at(self, where: str, message: str) -> None:
        self.found.append(f"{where}: {message}")

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


_OPERATORS = frozenset({"<>", "!=", "<=", ">=", "==", "=", "<", ">", "+", "-", "*", "/", "^"})


def logic_problem(text: str, known: set[str]) -> str | None:
    """Why REDCap branching logic or a calculation cannot be read, or ``None`` when it can.

    Every field it names (``[x]``, ``[x(1)]`` for a checkbox choice) must be in ``known``; an
    ``[event_name]`` directly before a field and smart variables with a hyphen
    (``[record-name]``) are not fields. Parentheses must balance and operands and operators
    alternate.

    Examples
    --------
    >>> logic_problem("[q1] = '1' or [q2] = '1'", {"q1", "q2"}) is None
    True
    >>> logic_problem("[q1] = '1' or [q9] = '1'", {"q1"})
    'it names [q9], which no row of the dictionary defines'
    >>> logic_problem("([q1] = '1'", {"q1"})
    "a '(' is not closed"
    """
    pos, depth = 0, 0
    want_operand = True
    tokens = []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or not m.group():
            return f"cannot read {text[pos : pos + 20]!r} (character {pos + 1})"
        pos = m.end()
        if not m.group().isspace():
            tokens.append((m.group(), m.end()))
    for i, (tok, end) in enumerate(tokens):
        low = tok.lower()
        is_operand = tok.startswith(("[", "'", '"')) or tok[0].isdigit()
        if is_operand:
            if not want_operand:
                return f"{tok!r} follows a value without an operator between them"
            ref = _REF.fullmatch(tok)
            event = (
                i + 1 < len(tokens)
                and tokens[i + 1][0].startswith("[")
                and (tokens[i + 1][1] - len(tokens[i + 1][0]) == end)
            )
            if ref and not event and ref.group(1) not in known:
                return f"it names [{ref.group(1)}], which no row of the dictionary defines"
            if not event:
                want_operand = False
        elif tok == "(":
            if not want_operand:
                return "a '(' follows a value without an operator"
            depth += 1
        elif tok == ")":
            if want_operand and not (i > 0 and tokens[i - 1][0] == "("):
                return "a ')' follows an operator"
            depth -= 1
            if depth < 0:
                return "a ')' has no '('"
            want_operand = False
        elif tok == ",":
            if want_operand or depth == 0:
                return "a ',' outside a function's arguments or after an operator"
            want_operand = True
        elif low == "not" or (tok == "-" and want_operand):
            want_operand = True
        elif low in ("and", "or") or tok in _OPERATORS:
            if want_operand:
                return f"the operator {tok!r} has nothing before it"
            want_operand = True
        else:  # a function's name: its '(' follows
            if not want_operand:
                return f"the function {tok!r} follows a value without an operator"
    if depth > 0:
        return "a '(' is not closed"
    if want_operand:
        return "it ends with an operator" if tokens else "it is empty"
    return None


def _annotation(text: str, where: str, problems: _Problems) -> tuple[str | None, str | None, str]:
    """``(bands, safety, rest)`` from a field annotation: the ``@REMIT-BANDS`` and
    ``@REMIT-SAFETY`` values and the other annotation text."""
    found: dict[str, str] = {}
    for m in _TAG.finditer(text):
        name = m.group(1)
        if name not in ("BANDS", "SAFETY"):
            problems.add_at(
                where,
                f"@REMIT-{name} is not a Remit annotation (expected @REMIT-BANDS or @REMIT-SAFETY)",
            )
        elif m.group(3) is None:
            problems.add_at(where, f"@REMIT-{name} has no quoted value, e.g. @REMIT-{name}='…'")
        elif name in found:
            problems.add_at(where, f"@REMIT-{name} is given twice")
        else:
            found[name] = m.group(3)
    rest = " ".join(_TAG.sub(" ", text).split())
    return found.get("BANDS"), found.get("SAFETY"), rest


def _parse_bands(text: str, where: str, problems: _Problems) -> list[tuple[float, float, str]]:
    out = []
    for part in text.split(";"):
        if not part.strip():
            continue
        m = _BAND.match(part)
        if m is None:
            problems.add_at(
                where,
                f"band {part.strip()!r} is not 'min-max label' (e.g. '0-4 minimal; 5-9 mild')",
            )
            continue
        out.append((float(m.group(1)), float(m.group(2)), m.group(3)))
    if not out and text.strip() == "":
        problems.add_at(where, "@REMIT-BANDS is empty")
    return out


def _parse_rule(
    text: str, where: str, problems: _Problems
) -> tuple[str, float, str, str | None] | None:
    m = _RULE.match(text)
    if m is None:
        problems.add_at(
            where,
            f"safety rule {text.strip()!r} is not 'op value level[: text]' "
            "(e.g. '>=1 same_day: thoughts of self-harm')",
        )
        return None
    op, value, level, words = m.groups()
    if level not in LEVELS:
        problems.add_at(where, f"alert level {level!r} is not one of {', '.join(LEVELS)}")
        return None
    return op, float(value), level, words or None


def _read_csv_file(path: str | Path, columns: tuple[str, ...], what: str) -> list[dict[str, str]]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InputError(f"cannot read the {what} {path}: {error}") from error
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(
            f"{what} {path} lacks the column(s) {', '.join(missing)}",
            expected="a CSV header " + ",".join(columns),
        )
    rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k is not None} for r in reader]
    if not rows:
        raise InputError(f"{what} {path} has a header but no rows", expected="one row or more")
    return rows


#: The columns of a bands file and of a safety rules file.
BANDS_COLUMNS = ("form", "min", "max", "label")
RULES_COLUMNS = ("form", "variable", "op", "value", "level", "text")

_Bands = dict[str, list[tuple[float, float, str, str]]]
_Rules = dict[str, list[tuple[str, str, float, str, str | None, str]]]


def _bands_file(path: str | Path, problems: _Problems) -> _Bands:
    out: _Bands = {}
    for n, r in enumerate(_read_csv_file(path, BANDS_COLUMNS, "bands file"), start=2):
        where = f"bands file {path} row {n}"
        try:
            low, high = float(r["min"]), float(r["max"])
        except ValueError:
            problems.add_at(where, f"min {r['min']!r} / max {r['max']!r} are not numbers")
            continue
        if not r["label"]:
            problems.add_at(where, "the band has no label")
            continue
        out.setdefault(r["form"], []).append((low, high, r["label"], where))
    return out


def _rules_file(path: str | Path, problems: _Problems) -> _Rules:
    out: _Rules = {}
    for n, r in enumerate(_read_csv_file(path, RULES_COLUMNS, "safety rules file"), start=2):
        where = f"safety rules file {path} row {n}"
        rule = _parse_rule(f"{r['op']} {r['value']} {r['level']}", where, problems)
        if rule is not None:
            op, value, level, _ = rule
            out.setdefault(r["form"], []).append(
                (r["variable"], op, value, level, r["text"] or None, where)
            )
    return out


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
    if not rows and not problems.found:
        problems.add(2, COLUMNS[0], "no fields: the dictionary has a header and nothing else")
    problems.raise_if_any(source)
    return rows


def read_redcap_dictionary(
    source: str | Path,
    *,
    text: str | None = None,
    respondent: str = "self",
    recall: str = "not stated in the REDCap dictionary",
    bands: str | Path | None = None,
    rules: str | Path | None = None,
) -> RedcapImportResult:
    """Read a REDCap data dictionary (file path, or ``text``) into scale definitions.

    ``bands`` is a CSV file ``form,min,max,label`` of severity bands of each form's total and
    ``rules`` a CSV file ``form,variable,op,value,level,text`` of item-level safety rules;
    both may instead be field annotations (``@REMIT-BANDS``, ``@REMIT-SAFETY``, see
    ``docs/interop.md``).

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
    band_table = _bands_file(bands, problems) if bands is not None else {}
    rule_table = _rules_file(rules, problems) if rules is not None else {}
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
        required = r["Required Field?"].lower()
        if required not in ("", "y", "n"):
            problems.add(n, "Required Field?", f"{r['Required Field?']!r} is not y or blank")
        at = f"row {n}, column 'Field Annotation'"
        band_text, safety_text, _ = _annotation(r["Field Annotation"], at, problems)
        if band_text is not None:
            for low_b, high_b, label in _parse_bands(band_text, at, problems):
                band_table.setdefault(r["Form Name"], []).append((low_b, high_b, label, at))
        if safety_text is not None:
            for part in safety_text.split(";"):
                rule = _parse_rule(part, at, problems)
                if rule is not None:
                    rule_table.setdefault(r["Form Name"], []).append((var, *rule, at))
        forms.setdefault(r["Form Name"], []).append(r)
    known = set(seen)
    for r in rows:
        n = int(r["__row__"])
        for column, kinds in ((COLUMNS[5], ("calc",)), (COLUMNS[11], None)):
            logic = r[column]
            if logic and (kinds is None or r["Field Type"] in kinds):
                why = logic_problem(logic, known)
                if why is not None:
                    what = "calculation" if column == COLUMNS[5] else "branching logic"
                    problems.add(n, column, f"{what} {logic!r} cannot be used: {why}")
    for table, what in ((band_table, "bands"), (rule_table, "safety rules")):
        for form, entries in table.items():
            if form not in forms:
                for entry in entries:
                    problems.add_at(
                        entry[-1],
                        f"{what} for form {form!r}, which the dictionary does not have "
                        f"(forms: {', '.join(forms)})",
                    )
    problems.raise_if_any(name)
    first = rows[0]["Variable / Field Name"] if rows else None
    scales = []
    for form, fields in forms.items():
        scale_text, form_notes, form_rules = _form_toml(
            form,
            fields,
            first,
            respondent,
            recall,
            band_table.get(form, []),
            rule_table.get(form, []),
            problems,
        )
        problems.raise_if_any(name)
        notes += form_notes
        try:
            definition = parse_scale(scale_text, f"{name} form {form}")
        except ScaleError as error:
            bands_from = sorted({b[3] for b in band_table.get(form, [])})
            where = f" (its bands are from {'; '.join(bands_from)})" if bands_from else ""
            raise InputError(
                f"form {form} of {name} does not make a sound scale: {error}{where}",
                hint="nothing was written; check the ranges, calculations and bands of its fields",
            ) from error
        scales.append(ImportedScale(form, scale_text, definition, tuple(form_rules)))
    return RedcapImportResult(name, tuple(scales), tuple(notes))


def _form_toml(
    form: str,
    fields: list[dict[str, str]],
    record_id: str | None,
    respondent: str,
    recall: str,
    bands: list[tuple[float, float, str, str]],
    rules: list[tuple[str, str, float, str, str | None, str]],
    problems: _Problems,
) -> tuple[str, list[RedcapNote], list[SafetyRuleRow]]:
    notes: list[RedcapNote] = []
    safety_vars = {r[0] for r in rules}
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
        if f["Required Field?"].lower() != "y" and var not in safety_vars:
            item["required"] = False
        rest = _annotation(f["Field Annotation"], "", _Problems())[2]
        if rest:
            note(f, f"field annotation {rest!r} not carried")
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
    by_code = {i["code"]: i for i in items}
    safety_rules: list[SafetyRuleRow] = []
    for var, op, value, level, words, where in rules:
        target = by_code.get(var)
        if target is None or target["kind"] not in ("integer", "number", "boolean"):
            problems.add_at(
                where,
                f"safety rule on {var!r}, which is not a scored item of form {form} "
                "(a whole-number, number or yes/no item)",
            )
            continue
        if target["kind"] != "boolean" and not target["min"] <= value <= target["max"]:
            problems.add_at(
                where,
                f"safety rule {var} {op} {value:g}: {value:g} is outside the item's range "
                f"{target['min']:g}-{target['max']:g}",
            )
            continue
        if not any(COMPARE[op](v, value) for v in _possible(target)):
            problems.add_at(where, f"safety rule {var} {op} {value:g} can never fire")
            continue
        text = words or f"{form} {target['label']} {op} {value:g}"
        safety_rules.append(SafetyRuleRow(form, var, op, value, level, text))
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
    if bands and total is None:
        problems.add_at(bands[0][3], f"bands for form {form}, which has no total to band")
    for low, high, label, _ in sorted(bands):
        lines += ["", "[[bands]]", f"min = {_toml(low)}", f"max = {_toml(high)}"]
        lines.append(f"label = {_toml(label)}")
    if safety_rules:
        items_list = list(dict.fromkeys(r.item for r in safety_rules))
        lines += ["", "[safety]", f"items = {_toml(items_list)}"]
    return "\n".join(lines) + "\n", notes, safety_rules


def _possible(item: dict[str, Any]) -> list[float]:
    if item["kind"] == "boolean":
        return [0.0, 1.0]
    if item["kind"] == "integer":
        return [float(v) for v in range(int(item["min"]), int(item["max"]) + 1)]
    return [float(item["min"]), float(item["max"])]
