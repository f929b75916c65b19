"""Whole-protocol checks of clinical results and pre-dose checklists (P036, P037, and P014 /
P018 for their visits and duplicates): every ``[[results.tests]]`` visit exists and each code
is declared once; every ``[dosing.checklist]`` item refers to what its kind needs (a declared
test for a ``result`` item, taken at the session's visit or before it), ``vitals`` and
``cssrs`` items are never overridable, and item ids are unique in a checklist.
"""

from __future__ import annotations

from remit.protocol._checker import Check, Checker
from remit.protocol.results import SAFETY_KINDS, ChecklistKind


def _check_tests(c: Checker) -> None:
    seen: set[str] = set()
    for i, test in enumerate(c.p.results.tests):
        where = ("results", "tests", i)
        if test.code in seen:
            c.add(
                "P018",
                (*where, "code"),
                f"result test {test.code!r} is declared twice",
                "give each test its own code",
            )
        seen.add(test.code)
        for visit in test.visits:
            c.visit_ref(visit, (*where, "visits"), f"result test {test.code!r}")


def _check_checklists(c: Checker) -> None:
    tests = {t.code: t for t in c.p.results.tests}
    for s, session in enumerate(c.p.dosing):
        if session.checklist is None:
            continue
        ids: set[str] = set()
        for i, item in enumerate(session.checklist.items):
            where = ("dosing", s, "checklist", "items", i)
            what = f"pre-dose checklist item {item.id!r} of dosing session {session.number}"
            if item.id in ids:
                c.add(
                    "P018", (*where, "id"), f"{what} is declared twice", "give each item its own id"
                )
            ids.add(item.id)
            if item.kind == ChecklistKind.RESULT:
                test = tests.get(item.test or "")
                if test is None:
                    c.add(
                        "P036",
                        (*where, "test"),
                        f"{what} refers to result test {item.test!r}, which [results] does not "
                        "declare"
                        if item.test
                        else f"{what} is a result item without a test",
                        "declare the test in [[results.tests]] or name one of "
                        + (", ".join(tests) or "(none declared)"),
                    )
                elif test.visits and not _taken_by(c, test.visits, session.visit):
                    c.add(
                        "P036",
                        (*where, "test"),
                        f"{what} needs {test.code!r}, which is taken only at "
                        f"{', '.join(test.visits)}, none of them at or before {session.visit}",
                        f"add {session.visit} (or an earlier visit) to the test's visits",
                    )
                if item.within_days is None:
                    c.add(
                        "P037",
                        (*where, "within_days"),
                        f"{what} has no within_days: a result of any age would pass",
                        "give within_days (e.g. 7)",
                    )
            elif item.test is not None:
                c.add(
                    "P037",
                    (*where, "test"),
                    f"{what} is a {item.kind.value} item but names test {item.test!r}",
                    'remove test, or make it kind = "result"',
                )
            if item.overridable and item.kind in SAFETY_KINDS:
                c.add(
                    "P037",
                    (*where, "overridable"),
                    f"{what} is a {item.kind.value} item marked overridable: safety items are "
                    "never overridden (the override would be ignored)",
                    "remove overridable = true",
                )
            if item.within_min is not None and item.kind != ChecklistKind.VITALS:
                c.add(
                    "P037",
                    (*where, "within_min"),
                    f"{what} has within_min, which only a vitals item reads",
                    "remove within_min (results and the C-SSRS use within_days)",
                )


def _taken_by(c: Checker, visits: tuple[str, ...], dosing_visit: str) -> bool:
    """Whether one of ``visits`` is ``dosing_visit`` or comes before it in the schedule."""
    order = {code: n for n, code in enumerate(c.visit_codes)}
    limit = order.get(dosing_visit, len(order))
    return any(order.get(v, len(order) + 1) <= limit for v in visits)


#: The checks of this module, in the order they report.
RESULT_CHECKS: tuple[Check, ...] = (_check_tests, _check_checklists)
