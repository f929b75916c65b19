"""What changed between two protocols, in words.

Lists are matched by their natural key (arms and visits by ``code``, endpoints, analyses,
criteria and rules by ``id``, dosing sessions by ``number``, assessments by scale, version,
rater and timing), so that a moved window reads as a moved window and not as a removed and
an added visit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

    from remit.protocol.model import Protocol

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Change:
    """One difference: ``kind`` added/removed/changed, ``topic`` (arm, visit, window,
    target_day, anchor, assessment, dosing, dose, threshold, endpoint, analysis, eligibility,
    safety, study, randomisation, event), ``where`` a key path and ``text`` the change in
    words."""

    kind: ChangeKind
    topic: str
    where: str
    text: str

    def to_dict(self) -> dict[str, str]:
        """The change as plain values."""
        return asdict(self)


@dataclass(frozen=True)
class ProtocolDiff:
    """The differences between protocol ``a`` (old) and ``b`` (new).

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> oslo = load_protocol("oslo-mdma-mdd")
    >>> diff_protocols(oslo, oslo).identical
    True
    >>> d = diff_protocols(oslo, load_protocol("mdma-mdd-rct-example"))
    >>> [c.where.split(".")[1] for c in d.of_topic("window")]
    ['V4', 'V5', 'V9', 'V13', 'V14', 'FU7']
    >>> d.to_frame().shape[1], d.summary().splitlines()[0].endswith("to mdma-mdd-rct-example:")
    (4, True)
    """

    a: str
    b: str
    changes: tuple[Change, ...]

    @property
    def identical(self) -> bool:
        """Whether the protocols have the same content (comments and layout aside)."""
        return not self.changes

    def of_topic(self, topic: str) -> tuple[Change, ...]:
        """The changes about one topic (e.g. ``"window"``)."""
        return tuple(c for c in self.changes if c.topic == topic)

    def to_dict(self) -> dict[str, Any]:
        """The diff as JSON-ready values."""
        return {"a": self.a, "b": self.b, "changes": [c.to_dict() for c in self.changes]}

    def to_frame(self) -> pd.DataFrame:
        """One row per change."""
        import pandas as pd

        return pd.DataFrame(
            [c.to_dict() for c in self.changes], columns=["kind", "topic", "where", "text"]
        )

    def summary(self) -> str:
        """The changes as lines of text."""
        if not self.changes:
            return f"{self.a} and {self.b} have the same content"
        n = len(self.changes)
        head = f"{n} change{'s' if n != 1 else ''} from {self.a} to {self.b}:"
        return "\n".join([head, *(f"- {c.text}" for c in self.changes)])


# --------------------------------------------------------------------------- generic walk

_KEYS = ("code", "id", "number")
_Raw = tuple[ChangeKind, tuple[str, ...], Any, Any]


def _key(item: Any, parent: str) -> str | None:
    if not isinstance(item, dict):
        return None
    if parent == "assessments":
        parts = [item.get("scale"), item.get("version"), item.get("rater"), item.get("timing")]
        return "/".join(str(p) for p in parts if p is not None)
    for k in _KEYS:
        if k in item:
            return str(item[k])
    return None


def _walk(a: Any, b: Any, path: tuple[str, ...], out: list[_Raw]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in b:
                out.append(("removed", (*path, k), a[k], None))
            elif k not in a:
                out.append(("added", (*path, k), None, b[k]))
            else:
                _walk(a[k], b[k], (*path, k), out)
        return
    if isinstance(a, list) and isinstance(b, list):
        parent = path[-1] if path else ""
        keys_a = [_key(x, parent) for x in a]
        keys_b = [_key(x, parent) for x in b]
        if a and b and None not in keys_a and None not in keys_b:
            ma = dict(zip(keys_a, a, strict=True))
            mb = dict(zip(keys_b, b, strict=True))
            for k in keys_a:
                if k not in mb:
                    out.append(("removed", (*path, str(k)), ma[k], None))
                else:
                    _walk(ma[k], mb[k], (*path, str(k)), out)
            for k in keys_b:
                if k not in ma:
                    out.append(("added", (*path, str(k)), None, mb[k]))
            return
        if (a and None not in keys_a) or (b and None not in keys_b):
            items = a or b
            kind: ChangeKind = "removed" if a else "added"
            for x in items:
                out.append(
                    (kind, (*path, str(_key(x, parent))), x if a else None, None if a else x)
                )
            return
    if a is None and b is not None and isinstance(b, dict):
        out.append(("added", path, None, b))
    elif b is None and a is not None and isinstance(a, dict):
        out.append(("removed", path, a, None))
    elif a != b:
        out.append(("changed", path, a, b))


# --------------------------------------------------------------------------- wording


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return "(none)"
    return str(value)


def _window(w: list[int]) -> str:
    return f"{w[0]:+d}/{w[1]:+d} days"


def _visit_words(v: dict[str, Any]) -> str:
    return (
        f"visit {v['code']} ({v['label']}, {v['kind']}, day {v['target_day']} after "
        f"{v['anchor']}, window {_window(v['window'])})"
    )


def _dosing_words(d: dict[str, Any]) -> str:
    lo, hi = d["supplemental_offer_min"]
    text = (
        f"dosing session {d['number']} at {d['visit']}: {_fmt(d['initial_mg'])} mg "
        f"{d['substance']} + {_fmt(d['supplemental_mg'])} mg supplemental offered "
        f"{lo}–{hi} min after the initial dose, at most {_fmt(d['max_total_mg'])} mg"
    )
    for arm, dose in d.get("arm_doses", {}).items():
        text += (
            f"; arm {arm}: {_fmt(dose['initial_mg'])} + {_fmt(dose['supplemental_mg'])} mg "
            f"{dose['substance']}"
        )
    return text


def _assessment_words(x: dict[str, Any]) -> str:
    version = f" ({x['version']})" if x.get("version") else ""
    timing = f", {x['timing']}" if x.get("timing") else ""
    return f"{x['scale']}{version} by {x['rater'].replace('_', ' ')}{timing}"


def _describe(kind: ChangeKind, path: tuple[str, ...], old: Any, new: Any, b: Protocol) -> Change:
    where = ".".join(path)
    head = path[0]
    value = new if kind == "added" else old
    verb = kind

    if head == "arms" and len(path) == 2:
        label = value["label"]
        extra = f", ratio {value['ratio']}" if kind == "added" else ""
        return Change(kind, "arm", where, f"arm {path[1]} ({label}{extra}) {verb}")
    if head == "visits" and len(path) == 2:
        return Change(kind, "visit", where, f"{_visit_words(value)} {verb}")
    if head == "visits" and len(path) >= 3:
        code, field = path[1], path[2]
        if field == "window" and kind == "changed" and len(path) == 3:
            return Change(
                "changed",
                "window",
                where,
                f"window of {code} moved from {_window(old)} to {_window(new)} around the target",
            )
        if field == "target_day":
            anchor = b.visit(code).anchor if code in b.visit_codes else "its anchor"
            return Change(
                "changed",
                "target_day",
                where,
                f"target of {code} moved from day {old} to day {new} after {anchor}",
            )
        if field == "anchor":
            return Change(
                "changed", "anchor", where, f"{code} is now anchored to {new} (was {old})"
            )
        if field == "assessments" and len(path) == 4:
            return Change(kind, "assessment", where, f"{code}: {_assessment_words(value)} {verb}")
        if field == "assessments":
            return Change(
                "changed",
                "assessment",
                where,
                f"{code}: assessment {path[3]} {path[-1]} changed from {_fmt(old)} to {_fmt(new)}",
            )
        if field == "kind":
            article = "an" if str(new)[0] in "aeiou" else "a"
            return Change(
                "changed", "visit", where, f"{code} is now {article} {new} visit (was {old})"
            )
        return Change(
            kind, "visit", where, f"{code}: {'.'.join(path[2:])} {verb}" + _from_to(kind, old, new)
        )
    if head == "dosing" and len(path) == 2:
        return Change(kind, "dosing", where, f"{_dosing_words(value)} {verb}")
    if head == "dosing":
        number = path[1]
        rest = path[2:]
        if rest[0] == "arm_doses" and len(rest) == 2:
            dose = value
            text = (
                f"dosing session {number}: arm {rest[1]} receives {_fmt(dose['initial_mg'])} + "
                f"{_fmt(dose['supplemental_mg'])} mg {dose['substance']}"
                if kind == "added"
                else f"dosing session {number}: arm {rest[1]} no longer has its own dose"
            )
            return Change(kind, "dose", where, text)
        topic = (
            "dose"
            if rest[0]
            in ("initial_mg", "supplemental_mg", "max_total_mg", "arm_doses", "substance")
            else "dosing"
        )
        return Change(
            kind,
            topic,
            where,
            f"dosing session {number}: {'.'.join(rest)} {verb}" + _from_to(kind, old, new),
        )
    if head == "endpoints" and len(path) == 2:
        definition = b.endpoint(path[1]).definition if kind == "added" else _endpoint_text(value)
        return Change(kind, "endpoint", where, f"endpoint {path[1]} ({definition}) {verb}")
    if head == "endpoints":
        return Change(
            kind,
            "endpoint",
            where,
            f"endpoint {path[1]}: {'.'.join(path[2:])} {verb}" + _from_to(kind, old, new),
        )
    if head == "analysis" and len(path) >= 3 and path[1] == "analyses":
        if len(path) == 3:
            return Change(
                kind,
                "analysis",
                where,
                f"analysis {path[2]} ({value['kind']}: {value['label']}) {verb}",
            )
        return Change(
            kind,
            "analysis",
            where,
            f"analysis {path[2]}: {'.'.join(path[3:])} {verb}" + _from_to(kind, old, new),
        )
    if head == "eligibility" and len(path) >= 3 and path[1] == "screen_failure_reasons":
        if len(path) == 3:
            text = f"screen-failure reason {path[2]} ({value['label']}) {verb}"
        else:
            text = f"screen-failure reason {path[2]}: {'.'.join(path[3:])} {verb}"
            text += _from_to(kind, old, new)
        return Change(kind, "eligibility", where, text)
    if head == "eligibility" and len(path) >= 3:
        if len(path) == 3:
            return Change(
                kind,
                "eligibility",
                where,
                f"{value['kind']} criterion {path[2]} ({value['text']}) {verb}",
            )
        return Change(
            kind,
            "eligibility",
            where,
            f"criterion {path[2]}: {'.'.join(path[3:])} {verb}" + _from_to(kind, old, new),
        )
    if head == "safety":
        if path[1:3] == ("vitals", "limits") and len(path) > 3:
            sign, side, level = (*path[3:6], "", "")[:3]
            if side in ("unit", "assumption"):
                side, level = "", side
            what = " ".join(w for w in (level, side) if w)
            text = f"vital-sign limits: {sign} {what} limit".replace("  ", " ")
            return Change(kind, "threshold", where, text + f" {verb}" + _from_to(kind, old, new))
        if len(path) == 3 and path[1] == "rules":
            return Change(kind, "safety", where, f"safety rule {path[2]} ({value['text']}) {verb}")
        return Change(
            kind, "safety", where, f"safety {'.'.join(path[1:])} {verb}" + _from_to(kind, old, new)
        )
    if head == "randomisation" and len(path) == 1 and kind != "changed":
        text = (
            f"randomisation {kind}: {value['method'].replace('_', ' ')}, ratio "
            + ":".join(str(arm.ratio) for arm in b.arms)
            + (f", blocks of {_fmt(value['block_sizes'])}" if value["block_sizes"] else "")
            + (
                f", stratified by {', '.join(value['stratification'])}"
                if value["stratification"]
                else ""
            )
        )
        return Change(kind, "randomisation", where, text)
    if head == "study" and len(path) == 3 and path[1] == "sites":
        return Change(kind, "study", where, f"site {path[2]} ({value['name']}) {verb}")
    topic = {"study": "study", "randomisation": "randomisation", "events": "event"}.get(head, head)
    return Change(kind, topic, where, f"{where} {verb}" + _from_to(kind, old, new))


def _from_to(kind: ChangeKind, old: Any, new: Any) -> str:
    if kind == "changed":
        return f" from {_fmt(old)} to {_fmt(new)}"
    if kind == "added" and not isinstance(new, dict | list):
        return f": {_fmt(new)}"
    if kind == "removed" and not isinstance(old, dict | list):
        return f" (was {_fmt(old)})"
    return ""


def _endpoint_text(value: dict[str, Any]) -> str:
    from pydantic import TypeAdapter

    from remit.protocol.model import Endpoint

    endpoint: Any = TypeAdapter(Endpoint).validate_python(value)
    return str(endpoint.definition)


def diff_protocols(a: Protocol, b: Protocol) -> ProtocolDiff:
    """What changed from protocol ``a`` to protocol ``b``, in words.

    Examples
    --------
    >>> from remit.protocol import load_protocol
    >>> d = diff_protocols(load_protocol("oslo-mdma-mdd"), load_protocol("mdma-mdd-rct-example"))
    >>> [c.text for c in d.of_topic("arm")]
    ['arm PLACEBO (Placebo with the same therapy, ratio 1) added']
    >>> [c.text for c in d.of_topic("window")][0]
    'window of V4 moved from -3/+4 days to -3/+3 days around the target'
    """
    raw: list[_Raw] = []
    _walk(a.model_dump(mode="json"), b.model_dump(mode="json"), (), raw)
    changes = tuple(_describe(kind, path, old, new, b) for kind, path, old, new in raw)
    return ProtocolDiff(a.source or a.study.id, b.source or b.study.id, changes)
