"""The CONSORT flow diagram: screened → enrolled → dosed → primary visit → follow-up; for a
randomised trial (:func:`randomised_consort_figure`) assessed for eligibility → excluded →
randomised → allocated per arm → lost or discontinued per arm → analysed per arm.

The counts are read from the population flags of the result's ADSL (``SCRNFL``, ``ENRLFL``,
``SAFFL``, ``COMPPFL``, ``COMPFUFL``, ``FASFL``); exclusion reasons are the eligibility
criteria recorded per person, named with the protocol's own wording.
"""

from __future__ import annotations

import itertools
import textwrap
from collections import Counter
from dataclasses import dataclass

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from remit.protocol import Protocol
from remit.protocol.status import LEFT_EARLY_STATUSES, SCREENING_STATUSES
from remit.protocol.status import ParticipantStatus as S
from remit.reports.style import (
    FULL_WIDTH,
    ReportFigure,
    figure_svg,
    mark_simulated,
    new_figure,
    report_style,
)


@dataclass(frozen=True)
class Disposition:
    """Counts of the flow diagram, with who is missing where."""

    screened: int
    excluded: int
    exclusion_reasons: tuple[tuple[str, int], ...]
    in_screening: int
    enrolled: int
    not_dosed: tuple[str, ...]
    dosed: int
    completed_primary: int
    missing_primary: tuple[str, ...]
    completed_follow_up: int
    missing_follow_up: tuple[str, ...]
    withdrawn: tuple[tuple[str, str], ...]
    analysed: int


def _yes(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(False, index=frame.index)
    return frame[column].eq("Y")


def _reason_text(reason: str, protocol: Protocol) -> str:
    for c in protocol.eligibility.criteria:
        if c.id == reason:
            return c.text if c.kind == "exclusion" else f"not met: {c.text}"
    return reason


_LEFT_WORDS = {S.WITHDRAWN: "withdrew", S.LOST_TO_FOLLOW_UP: "lost to follow-up"}


def disposition(adsl: pd.DataFrame, protocol: Protocol) -> Disposition:
    """The flow-diagram counts from an ADSL (see :func:`remit.analysis.build_adsl`)."""
    ids = adsl["participant_id"].astype(str)
    enrolled = _yes(adsl, "ENRLFL")
    dosed = _yes(adsl, "SAFFL")
    primary = _yes(adsl, "COMPPFL")
    follow = _yes(adsl, "COMPFUFL")
    status = adsl["status"].astype(str)
    not_enrolled = ~enrolled
    in_screening = not_enrolled & status.isin(SCREENING_STATUSES)
    excluded = not_enrolled & ~in_screening
    reasons: Counter[str] = Counter()
    for pid_reasons, is_excluded in zip(adsl["ineligible_reasons"], excluded, strict=True):
        if not is_excluded:
            continue
        listed = [str(r) for r in (pid_reasons or [])]
        for r in listed or ["reason not recorded"]:
            reasons[_reason_text(r, protocol)] += 1
    withdrawn = tuple(
        (str(pid), _LEFT_WORDS[S(st)] + (f": {reason}" if reason else ""))
        for pid, st, reason, e in zip(ids, status, adsl["withdrawn_reason"], enrolled, strict=True)
        if e and st in LEFT_EARLY_STATUSES
    )
    return Disposition(
        screened=len(adsl),
        excluded=int(excluded.sum()),
        exclusion_reasons=tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        in_screening=int(in_screening.sum()),
        enrolled=int(enrolled.sum()),
        not_dosed=tuple(ids[enrolled & ~dosed]),
        dosed=int((enrolled & dosed).sum()),
        completed_primary=int((enrolled & primary).sum()),
        missing_primary=tuple(ids[enrolled & ~primary]),
        completed_follow_up=int((enrolled & follow).sum()),
        missing_follow_up=tuple(ids[enrolled & ~follow]),
        withdrawn=withdrawn,
        analysed=int(_yes(adsl, "FASFL").sum()),
    )


_LINE_IN = 8 * 1.3 / 72  # height of one 8-pt line, inches
_PAD_IN = 0.09
_NBSP = "\u00a0"


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for line in text.split("\n"):
        lines += textwrap.wrap(line, width, subsequent_indent="   ") or [""]
    return lines


@dataclass(frozen=True)
class _Box:
    x: float  # left, inches
    top: float  # inches from the bottom of the figure
    width: float
    lines: tuple[str, ...]

    @property
    def height(self) -> float:
        return len(self.lines) * _LINE_IN + 2 * _PAD_IN

    @property
    def bottom(self) -> float:
        return self.top - self.height

    @property
    def centre_x(self) -> float:
        return self.x + self.width / 2


def _height(text: str, width: int) -> float:
    return len(_wrap(text, width)) * _LINE_IN + 2 * _PAD_IN


def _draw(ax: Axes, box: _Box, side: bool) -> None:
    ax.add_patch(
        Rectangle(
            (box.x, box.bottom),
            box.width,
            box.height,
            facecolor="#F2F2F2" if side else "white",
            edgecolor="#333333",
            linewidth=0.9,
            zorder=3,
        )
    )
    ax.text(
        box.x + _PAD_IN if side else box.centre_x,
        box.top - _PAD_IN,
        "\n".join(box.lines),
        ha="left" if side else "center",
        va="top",
        fontsize=8,
        linespacing=1.3,
        zorder=4,
    )


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={
            "arrowstyle": "-|>",
            "color": "#333333",
            "lw": 0.9,
            "shrinkA": 0,
            "shrinkB": 0,
            "mutation_scale": 9,
        },
        zorder=2,
    )


def _canvas(total: float) -> tuple[Figure, Axes]:
    """A full-width figure ``total`` inches high whose one axis spans it in inches, unframed:
    the page the flow's boxes are drawn on (inside the caller's ``report_style``)."""
    fig = new_figure(FULL_WIDTH, total, layout=None)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, FULL_WIDTH)
    ax.set_ylim(0, total)
    ax.set_axis_off()
    return fig, ax


def _names(ids: tuple[str, ...], limit: int = 8) -> str:
    if len(ids) <= limit:
        return ", ".join(ids)
    return ", ".join(ids[:limit]) + f" and {len(ids) - limit} more"


def consort_figure(
    flow: Disposition,
    *,
    primary_visit: str,
    follow_up_visit: str | None,
    figure_id: str = "fig-consort",
    simulated: bool = False,
) -> ReportFigure:
    """Draw the flow diagram of ``flow`` (boxes and arrows; side boxes for who left the path)."""
    reasons = "\n".join(f"• {text} (n = {n})" for text, n in flow.exclusion_reasons)
    excluded = f"Excluded (n = {flow.excluded})"
    if reasons:
        excluded += "\n" + reasons
    if flow.in_screening:
        excluded += f"\nStill in screening (n = {flow.in_screening})"
    gone = dict(flow.withdrawn)

    def missing_text(ids: tuple[str, ...], visit: str) -> str:
        lines = [f"No {visit} assessment (n = {len(ids)})"]
        lines += [f"• {pid}: {gone[pid]}" if pid in gone else f"• {pid}" for pid in ids[:8]]
        if len(ids) > 8:
            lines.append(f"• and {len(ids) - 8} more")
        return "\n".join(lines)

    main = [
        ("screened", f"Assessed for eligibility (n = {flow.screened})", excluded),
        (
            "enrolled",
            f"Enrolled (n = {flow.enrolled})",
            f"Not dosed (n = {len(flow.not_dosed)})"
            + (f"\n{_names(flow.not_dosed)}" if flow.not_dosed else ""),
        ),
        (
            "dosed",
            f"Received at least one dosing session (n = {flow.dosed})",
            missing_text(flow.missing_primary, primary_visit),
        ),
        (
            "primary",
            f"Assessed at {primary_visit}, primary endpoint (n = {flow.completed_primary})",
            missing_text(flow.missing_follow_up, follow_up_visit) if follow_up_visit else "",
        ),
    ]
    if follow_up_visit:
        main.append(
            (
                "follow_up",
                f"Assessed at {follow_up_visit}, follow-up (n = {flow.completed_follow_up})",
                "",
            )
        )
    main.append(("analysed", f"Analysed, full analysis set (n = {flow.analysed})", ""))
    main = [
        (k, a.replace(" = ", f"{_NBSP}={_NBSP}"), b.replace(" = ", f"{_NBSP}={_NBSP}"))
        for k, a, b in main
    ]
    main_chars, side_chars = 40, 54
    main_w, side_w = 2.7, 3.3
    x_main, x_side = 0.3, 0.3 + 2.7 + 0.45
    gap = 0.3
    # stack from the top: each main box, then room for its side box (if any) below it
    heights = [_height(text, main_chars) for _k, text, _s in main]
    side_heights = [_height(side, side_chars) if side else 0.0 for _k, _t, side in main]
    total = sum(heights) + sum(max(gap, sh + 0.2) for sh in side_heights[:-1]) + 0.1
    boxes: list[_Box] = []
    sides: list[_Box | None] = []
    top = total - 0.05
    for i, (_key, text, side) in enumerate(main):
        box = _Box(x_main, top, main_w, tuple(_wrap(text, main_chars)))
        boxes.append(box)
        top = box.bottom
        if i == len(main) - 1:
            sides.append(None)
            break
        space = max(gap, side_heights[i] + 0.2)
        if side:
            mid = top - space / 2
            sides.append(
                _Box(x_side, mid + side_heights[i] / 2, side_w, tuple(_wrap(side, side_chars)))
            )
        else:
            sides.append(None)
        top -= space
    with report_style(figure_id):
        fig, ax = _canvas(total)
        for box in boxes:
            _draw(ax, box, side=False)
        for a, b in itertools.pairwise(boxes):
            _arrow(ax, (a.centre_x, a.bottom), (b.centre_x, b.top))
        for a, side_box in zip(boxes, sides, strict=True):
            if side_box is None:
                continue
            _draw(ax, side_box, side=True)
            y = side_box.top - side_box.height / 2
            _arrow(ax, (a.centre_x, y), (side_box.x, y))
        if simulated:
            mark_simulated(fig)
        svg = figure_svg(fig, figure_id)
    return ReportFigure(figure_id, "Flow of participants (CONSORT)", "", svg)


@dataclass(frozen=True)
class ArmFlow:
    """One arm of a randomised flow diagram: its label and its disposition."""

    code: str
    label: str
    flow: Disposition


def randomised_disposition(
    adsl: pd.DataFrame, protocol: Protocol
) -> tuple[Disposition, int, tuple[ArmFlow, ...]]:
    """The whole flow, the number randomised, and each arm's flow (the randomised people of
    that arm: ``arm`` of the ADSL, read from the allocations)."""
    whole = disposition(adsl, protocol)
    arm = adsl["arm"] if "arm" in adsl else pd.Series(None, index=adsl.index, dtype=object)
    randomised = _yes(adsl, "ENRLFL") & arm.notna()
    arms = tuple(
        ArmFlow(a.code, a.label, disposition(adsl[randomised & (arm == a.code)], protocol))
        for a in protocol.arms
    )
    return whole, int(randomised.sum()), arms


def _missing_lines(ids: tuple[str, ...], gone: dict[str, str], visit: str) -> str:
    lines = [f"Lost to follow-up or discontinued: no {visit} assessment (n = {len(ids)})"]
    lines += [f"• {pid}: {gone[pid]}" if pid in gone else f"• {pid}" for pid in ids[:6]]
    if len(ids) > 6:
        lines.append(f"• and {len(ids) - 6} more")
    return "\n".join(lines)


def randomised_consort_figure(
    whole: Disposition,
    randomised: int,
    arms: tuple[ArmFlow, ...],
    *,
    primary_visit: str,
    figure_id: str = "fig-consort",
    simulated: bool = False,
) -> ReportFigure:
    """The CONSORT 2010 flow of a randomised trial: enrolment (assessed, excluded with
    reasons, randomised), then one column per arm: allocation (received the allocated
    intervention or not), follow-up (lost or discontinued, with reasons) and analysis."""

    def nb(text: str) -> str:
        return text.replace(" = ", f"{_NBSP}={_NBSP}")

    reasons = "\n".join(f"• {text} (n = {n})" for text, n in whole.exclusion_reasons)
    excluded = f"Excluded (n = {whole.excluded})" + (f"\n{reasons}" if reasons else "")
    if whole.in_screening:
        excluded += f"\nStill in screening (n = {whole.in_screening})"
    if whole.enrolled > randomised:
        excluded += f"\nEnrolled, not randomised (n = {whole.enrolled - randomised})"
    columns = max(len(arms), 1)
    col_w = (FULL_WIDTH - 0.3 * (columns + 1)) / columns
    col_chars = int(col_w * 14)
    per_arm: list[list[str]] = []
    for a in arms:
        f = a.flow
        gone = dict(f.withdrawn)
        allocated = (
            f"Allocated to {a.label} (n = {f.enrolled})\n"
            f"• received the allocated intervention (n = {f.dosed})\n"
            f"• did not receive it (n = {len(f.not_dosed)})"
            + (f": {_names(f.not_dosed)}" if f.not_dosed else "")
        )
        per_arm.append(
            [
                nb(allocated),
                nb(_missing_lines(f.missing_primary, gone, primary_visit)),
                nb(f"Analysed, full analysis set (n = {f.analysed})"),
            ]
        )
    top_w, side_w = 2.7, 3.3
    top_chars, side_chars = 40, 48
    assessed = nb(f"Assessed for eligibility (n = {whole.screened})")
    rand = nb(f"Randomised (n = {randomised})")
    side_h = _height(nb(excluded), side_chars)
    rows = (
        [max(_height(texts[r], col_chars) for texts in per_arm) for r in range(3)]
        if per_arm
        else []
    )
    gap = 0.35
    total = (
        _height(assessed, top_chars)
        + max(gap, side_h + 0.2)
        + _height(rand, top_chars)
        + sum(rows)
        + gap * (len(rows) + 0.5)
    )
    x_top = (FULL_WIDTH - top_w) / 2 - 1.4
    first = _Box(max(x_top, 0.3), total - 0.05, top_w, tuple(_wrap(assessed, top_chars)))
    space = max(gap, side_h + 0.2)
    mid = first.bottom - space / 2
    side_x = first.x + top_w + 0.45
    side = _Box(
        side_x,
        mid + side_h / 2,
        min(side_w, FULL_WIDTH - side_x - 0.1),
        tuple(_wrap(nb(excluded), side_chars)),
    )
    second = _Box(first.x, first.bottom - space, top_w, tuple(_wrap(rand, top_chars)))
    grid: list[list[_Box]] = []
    top = second.bottom - gap
    for r, height in enumerate(rows):
        row = []
        for c, texts in enumerate(per_arm):
            x = 0.3 + c * (col_w + 0.3)
            row.append(_Box(x, top, col_w, tuple(_wrap(texts[r], col_chars))))
        grid.append(row)
        top -= height + gap
    with report_style(figure_id):
        fig, ax = _canvas(total)
        for box in (first, second):
            _draw(ax, box, side=False)
        _draw(ax, side, side=True)
        _arrow(ax, (first.centre_x, first.bottom), (second.centre_x, second.top))
        _arrow(ax, (first.centre_x, mid), (side.x, mid))
        for r, row in enumerate(grid):
            for c, box in enumerate(row):
                _draw(ax, box, side=r == 1)
                above = (second.centre_x, second.bottom) if r == 0 else None
                if above is not None:
                    _arrow(ax, above, (box.centre_x, box.top))
                else:
                    prev = grid[r - 1][c]
                    _arrow(ax, (prev.centre_x, prev.bottom), (box.centre_x, box.top))
        if simulated:
            mark_simulated(fig)
        svg = figure_svg(fig, figure_id)
    return ReportFigure(figure_id, "Flow of participants (CONSORT, randomised trial)", "", svg)


__all__ = [
    "ArmFlow",
    "Disposition",
    "consort_figure",
    "disposition",
    "randomised_consort_figure",
    "randomised_disposition",
]
