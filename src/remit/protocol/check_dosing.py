"""Whole-protocol checks of the dosing sessions: where they are held (P014, P015, P018), their
doses (P012, P017), the supplemental offer window (P013), vital-sign limits and schedule (P022)
and their numbering (P023)."""

from __future__ import annotations

from remit.protocol._checker import Check, Checker, duplicates, suggest


def _check_dosing(c: Checker) -> None:
    sessions_at: dict[str, int] = {}
    for i, d in enumerate(c.p.dosing):
        where = ("dosing", i)
        if c.visit_ref(d.visit, (*where, "visit"), f"dosing session {d.number}"):
            kind = c.visits[d.visit].kind
            if kind != "dosing":
                c.add(
                    "P015",
                    (*where, "visit"),
                    f"dosing session {d.number} is held at {d.visit}, a {kind} visit",
                    f'set kind = "dosing" on {d.visit} or move the session to a dosing visit',
                )
            if d.visit in sessions_at:
                c.add(
                    "P018",
                    (*where, "visit"),
                    f"visit {d.visit} holds two dosing sessions ({sessions_at[d.visit]} and "
                    f"{d.number})",
                    "hold each session at its own visit",
                )
            sessions_at[d.visit] = d.number
        doses = [(None, d.dose_for(None))] + [(arm, dose) for arm, dose in d.arm_doses.items()]
        for arm, dose in doses:
            if arm is not None and arm not in c.arms:
                c.add(
                    "P017",
                    (*where, "arm_doses", arm),
                    f"dosing session {d.number} gives a dose to arm {arm!r}, which is not in the "
                    "protocol",
                    suggest(arm, sorted(c.arms), "use an arm code"),
                )
            total = dose.initial_mg + dose.supplemental_mg
            if total > d.max_total_mg:
                who = f" (arm {arm})" if arm else ""
                path = (*where, "arm_doses", arm) if arm else (*where, "supplemental_mg")
                c.add(
                    "P012",
                    path,
                    f"dosing session {d.number}{who}: initial {dose.initial_mg:g} mg + "
                    f"supplemental {dose.supplemental_mg:g} mg = {total:g} mg is above the "
                    f"session maximum of {d.max_total_mg:g} mg",
                    "lower a dose or raise max_total_mg",
                )
        lo, hi = d.supplemental_offer_min
        if lo > hi or lo < 0:
            c.add(
                "P013",
                (*where, "supplemental_offer_min"),
                f"supplemental offer window [{lo}, {hi}] min of session {d.number} is "
                f"{'inverted' if lo > hi else 'negative'}",
                "give [earliest, latest] minutes after the initial dose, earliest ≥ 0 and ≤ "
                "latest, e.g. [90, 150]",
            )
        elif hi > d.duration_h * 60:
            c.add(
                "P013",
                (*where, "supplemental_offer_min"),
                f"supplemental offer window ends at {hi} min, after the {d.duration_h:g} h session",
                "end the offer window within the session",
            )
        vitals = d.vitals
        if vitals.until_min < vitals.every_min:
            c.add(
                "P022",
                (*where, "vitals", "until_min"),
                f"vital signs of session {d.number}: until_min {vitals.until_min} is below "
                f"every_min {vitals.every_min}, so no reading is scheduled after the dose",
                "give until_min ≥ every_min",
            )
    for i, v in enumerate(c.p.visits):
        if v.kind == "dosing" and v.code not in sessions_at:
            c.add(
                "P015",
                ("visits", i, "kind"),
                f"{v.code} is a dosing visit but no [[dosing]] session is held there",
                f'add a [[dosing]] session with visit = "{v.code}" or change its kind',
            )
    order = [d for d in c.p.dosing if d.visit in c.visits]
    order.sort(key=lambda d: c.visit_codes.index(d.visit))
    numbers = [d.number for d in order]
    if numbers and numbers != list(range(1, len(numbers) + 1)) and not duplicates(numbers):
        c.add(
            "P023",
            ("dosing",),
            f"dosing sessions in visit order are numbered {numbers}",
            f"number them {list(range(1, len(numbers) + 1))} in visit order",
        )


#: The checks of this module, in the order they report.
DOSING_CHECKS: tuple[Check, ...] = (_check_dosing,)
