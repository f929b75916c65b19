"""Form pages generated from scale definitions: one field per item, checked per field.

The services check the answers again (and score them); checking here first lets the page put
a message next to every field with a bad value instead of only the first one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol as TypingProtocol

from remit.errors import AnswerError
from remit.protocol.status import AssessmentStatus
from remit.scales import load_scale
from remit.scales.answers import normalise_answer


@dataclass(frozen=True)
class Field:
    """One item of a form page."""

    name: str  # the HTML name and id suffix: the item's code
    ref: str
    label: str
    kind: str
    input_type: str
    min: float | None
    max: float | None
    options: tuple[tuple[str, str], ...]
    anchors: tuple[tuple[str, str], ...]
    required: bool
    section: str | None
    allowed: str


def _input_type(kind: str) -> str:
    return {
        "integer": "number",
        "number": "text",
        "boolean": "radio",
        "choice": "select",
        "time": "time",
    }.get(kind, "text")


def form_fields(scale: str, version: str | None = None) -> list[Field]:
    """The fields of ``scale`` (in ``version``) in the order of the printed form."""
    definition = load_scale(scale)
    fields = []
    for item in definition.items_for(version):
        options = tuple((str(k), str(v)) for k, v in item.options.items())
        fields.append(
            Field(
                name=item.code,
                ref=item.ref or str(item.number),
                label=item.label,
                kind=item.kind,
                input_type=_input_type(item.kind),
                min=item.min,
                max=item.max,
                options=options if item.kind == "choice" else (),
                anchors=options if item.kind == "integer" else (),
                required=item.required,
                section=item.section,
                allowed=item.describe_allowed(),
            )
        )
    return fields


def scale_title(scale: str) -> str:
    """The scale's name as shown in headings."""
    definition = load_scale(scale)
    return str(getattr(definition, "name", None) or getattr(definition, "title", None) or scale)


def read_answers(
    scale: str, version: str | None, submitted: Mapping[str, str]
) -> tuple[dict[str, object], dict[str, str]]:
    """The answers of a submitted form (item code → raw text, blanks left out) and the messages
    of every field whose value the scale refuses (item code → message)."""
    definition = load_scale(scale)
    answers: dict[str, object] = {}
    errors: dict[str, str] = {}
    for item in definition.items_for(version):
        raw = submitted.get(item.code, "")
        if raw is None or not str(raw).strip():
            continue
        try:
            normalise_answer(definition, item, str(raw))
        except AnswerError:
            errors[item.code] = f"{raw!s} is not allowed: expected {item.describe_allowed()}"
            continue
        answers[item.code] = str(raw).strip()
    return answers, errors


def shown_answers(scale: str, version: str | None, stored: Mapping[str, object]) -> dict[str, str]:
    """Stored answers (keyed by code or ref) as the text each field shows."""
    definition = load_scale(scale)
    out: dict[str, str] = {}
    for item in definition.items_for(version):
        value = stored.get(item.code, stored.get(item.ref or str(item.number)))
        if value is None:
            continue
        if isinstance(value, bool):
            out[item.code] = "yes" if value else "no"
        elif isinstance(value, float) and value.is_integer() and item.kind == "integer":
            out[item.code] = str(int(value))
        else:
            out[item.code] = str(value)
    return out


def missing_messages(fields: Sequence[Field], missing_required: Sequence[str]) -> dict[str, str]:
    """Item code → the message shown next to each required field left blank (the refs of a
    record's ``missing_required``).

    Examples
    --------
    >>> missing_messages(form_fields("madrs"), ["10"])
    {'suicidal_thoughts': 'Required: item 10 is not answered, so the form is not complete.'}
    """
    wanted = set(missing_required)
    return {
        f.name: f"Required: item {f.ref} is not answered, so the form is not complete."
        for f in fields
        if f.ref in wanted
    }


class _Saved(TypingProtocol):
    @property
    def status(self) -> str: ...
    @property
    def missing_required(self) -> tuple[str, ...]: ...


def saved_message(record: _Saved) -> str:
    """What the page says after a save: the status the form was stored in, and for an
    incomplete form the items still missing (never a bare "Saved.").

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> saved_message(SimpleNamespace(status="incomplete", missing_required=("10",)))
    'Saved as incomplete: required item 10 is not answered. The form is kept but is not complete.'
    >>> saved_message(SimpleNamespace(status="complete", missing_required=()))
    'Saved as complete.'
    """
    if record.status == AssessmentStatus.INCOMPLETE:
        refs = ", ".join(record.missing_required)
        noun = "item" if len(record.missing_required) == 1 else "items"
        verb = "is" if len(record.missing_required) == 1 else "are"
        return (
            f"Saved as incomplete: required {noun} {refs} {verb} not answered. "
            "The form is kept but is not complete."
        )
    return f"Saved as {record.status}."
