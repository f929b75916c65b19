"""Randomisation: the concealed list, its consumption at enrolment, kits and the balance report.

The protocol's ``[randomisation]`` says how (method, block sizes, the arms' ratio) and by what
(``stratification``, each factor declared in ``[[randomisation.strata]]``). The unblinded
statistician generates the list once (:func:`generate_list`) from a recorded seed with
:mod:`remit.stats.randomisation`; every slot's arm (and block) is sealed with the allocation
key, which lives outside the database (:mod:`remit.store.allocation`). Each slot has a kit
number, in the clear: the kit says nothing about the arm.

The list is consumed when enrolment is confirmed
(:func:`remit.services.screening.confirm_enrolment`, the protocol's ``[enrolment] confirm_at``
visit; at enrolment when there is no confirmation step): the participant's stratum is derived
from the protocol's factors (the site, a value of a recorded form put into its band), and the
next unused slot of that stratum is allocated in the same transaction (:func:`allocate`). An
allocation is never changed or re-drawn (the tables refuse UPDATE and DELETE); a used-up
stratum refuses the confirmation and stores nothing.

The participant row keeps ``arm`` empty for a randomised protocol: the arm exists only sealed
in the list. Participant records show the kit; only the unblinded roles read arms
(:func:`list_allocations`, :func:`allocation_balance_report`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, exists, func, select
from sqlalchemy.orm import Session

from remit.errors import ConflictError, InputError
from remit.protocol import Protocol, RecordedForm
from remit.protocol.eligibility import COUNTED_FORM_STATUSES
from remit.protocol.model import CriterionSource, Randomisation, StratumFactor
from remit.services._common import protocol_in_force, serialise, site_code, username_of
from remit.services.records import _Record
from remit.services.unit import reading, writing
from remit.stats.randomisation import (
    AllocationBalanceResult,
    Minimiser,
    RandomisationListResult,
    allocation_balance,
    permuted_block_list,
    simple_list,
    stratum_label,
)
from remit.store import Actor, UnitOfWork
from remit.store.allocation import (
    SEED_PLACE,
    Allocation,
    AllocationKey,
    RandomisationList,
    RandomisationSlot,
    allocation_key_from_env,
    allocation_key_of,
    load_allocation_key,
    new_allocation_key_file,
    slot_place,
    with_allocation_key,
)
from remit.store.tables import Participant

__all__ = [
    "AllocationKey",
    "AllocationRecord",
    "GeneratedListRecord",
    "RandomisationStatus",
    "StratumCount",
    "allocate",
    "allocation_balance_report",
    "allocation_key_from_env",
    "factor_levels",
    "generate_list",
    "list_allocations",
    "load_allocation_key",
    "new_allocation_key_file",
    "participant_stratum",
    "randomisation_status",
    "with_allocation_key",
]

#: The one "stratum" of the slots of a minimisation's kit list.
KIT_STRATUM = "kits"

#: The stratum of an unstratified list.
UNSTRATIFIED = "all"


@dataclass(frozen=True)
class StratumCount(_Record):
    """One stratum of the list: its slots, how many are used and how many are left."""

    stratum: str
    slots: int
    used: int
    left: int


@dataclass(frozen=True)
class RandomisationStatus(_Record):
    """Whether a list exists, its specification (no arm, no seed) and its use by stratum.

    ``key_matches`` is whether the configured allocation key is the list's (``None``: no key
    is configured).
    """

    generated: bool
    method: str | None
    created_at: datetime | None
    created_by: str | None
    key_id: str | None
    key_matches: bool | None
    slots: int
    used: int
    strata: tuple[StratumCount, ...]
    spec: dict[str, Any] | None


@dataclass(frozen=True)
class GeneratedListRecord(_Record):
    """What :func:`generate_list` made: the list's status and its seed (for the unblinded
    statistician's records; it is stored sealed)."""

    status: RandomisationStatus
    seed: int


@dataclass(frozen=True)
class AllocationRecord(_Record):
    """One participant's allocation as the unblinded roles see it."""

    participant_id: str
    site: str
    stratum: str
    sequence: int
    block: int | None
    kit: int
    arm: str
    allocated_at: datetime
    allocated_by: str | None


# --------------------------------------------------------------------------- the protocol


def _plan(protocol: Protocol) -> Randomisation:
    plan = protocol.randomisation
    if plan is None:
        raise InputError(
            f"protocol {protocol.study.id} has no randomisation",
            expected="a [randomisation] section in the protocol",
            hint="a protocol without randomisation enrols participants in its one arm",
        )
    return plan


def _factor(plan: Randomisation, name: str, protocol: Protocol) -> StratumFactor:
    try:
        return plan.factor(name)
    except KeyError:
        raise InputError(
            f"stratification factor {name!r} of protocol {protocol.study.id} is not declared",
            expected="a [[randomisation.strata]] entry with factor, source and levels",
            hint="run `remit protocol check` (P021)",
        ) from None


def factor_levels(protocol: Protocol) -> dict[str, tuple[str, ...]]:
    """Each stratification factor and its levels (the site factor: the study's site codes)."""
    plan = _plan(protocol)
    levels: dict[str, tuple[str, ...]] = {}
    for name in plan.stratification:
        f = _factor(plan, name, protocol)
        if f.source == "site":
            levels[name] = tuple(s.code for s in protocol.study.sites)
        else:
            levels[name] = tuple(lv.code for lv in f.levels)
        if not levels[name]:
            raise InputError(
                f"stratification factor {name!r} has no levels",
                expected="levels in [[randomisation.strata]] (or sites in [study])",
            )
    return levels


def _form_level(
    f: StratumFactor, src: CriterionSource, forms: Mapping[tuple[str, str], RecordedForm]
) -> str:
    where = f"{src.scale} {src.value} at {src.visit}"
    form = forms.get((src.visit, src.scale))
    if form is None or form.status not in COUNTED_FORM_STATUSES:
        state = "not recorded" if form is None else f"{form.status}, not complete"
        raise InputError(
            f"stratification factor {f.factor!r} reads the {where}, which is {state}",
            expected=f"a completed {src.scale} form at {src.visit}",
            hint="record the form before randomising",
        )
    value = form.value(src.value)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InputError(
            f"stratification factor {f.factor!r}: the {where} is {value!r}",
            expected="a number",
        )
    for level in f.levels:
        if level.holds(float(value)):
            return level.code
    bands = ", ".join(f"{lv.code} [{lv.min}, {lv.max}]" for lv in f.levels)
    raise InputError(
        f"stratification factor {f.factor!r}: the {where} is {value}, in no level",
        expected=f"a value in one of the levels {bands}",
        hint="check the form; a value outside every band is not randomised",
    )


def participant_stratum(session: Session, protocol: Protocol, p: Participant) -> str:
    """The stratum label of ``p`` (:func:`remit.stats.stratum_label` of the factor levels)."""
    plan = _plan(protocol)
    if not plan.stratification:
        return UNSTRATIFIED
    from remit.services.screening import recorded_forms

    forms: Mapping[tuple[str, str], RecordedForm] | None = None
    levels: dict[str, str] = {}
    for name in plan.stratification:
        f = _factor(plan, name, protocol)
        if isinstance(f.source, str):  # "site"
            levels[name] = site_code(session, p.site_id)
        else:
            forms = recorded_forms(session, p) if forms is None else forms
            levels[name] = _form_level(f, f.source, forms)
    return stratum_label(levels)


# --------------------------------------------------------------------------- the list


def _the_list(session: Session) -> RandomisationList | None:
    return session.scalar(select(RandomisationList).order_by(RandomisationList.id).limit(1))


def _check_key(key: AllocationKey, stored: RandomisationList) -> None:
    if key.key_id != stored.key_id:
        raise InputError(
            f"the allocation key from {key.source or 'the configuration'} (id {key.key_id}) is "
            f"not the key the randomisation list was sealed with (id {stored.key_id})",
            expected="the key file made when the list was generated",
            hint="set REMIT_ALLOCATION_KEY_FILE to that file (restore it from its backup)",
        )


def _make_list(
    protocol: Protocol, n_per_stratum: int | Mapping[str, int], seed: int | None
) -> RandomisationListResult:
    plan = _plan(protocol)
    arms = [a.code for a in protocol.arms]
    ratio = [a.ratio for a in protocol.arms]
    strata: Mapping[str, tuple[str, ...]] | tuple[str, ...]
    strata = factor_levels(protocol) if plan.stratification else (UNSTRATIFIED,)
    if plan.method == "permuted_block":
        return permuted_block_list(
            arms,
            block_sizes=plan.block_sizes,
            n_per_stratum=n_per_stratum,
            seed=seed,
            ratio=ratio,
            strata=strata,
            first_kit=plan.first_kit,
        )
    if plan.method == "simple":
        return simple_list(
            arms,
            n_per_stratum=n_per_stratum,
            seed=seed,
            ratio=ratio,
            strata=strata,
            first_kit=plan.first_kit,
        )
    return _kit_list(protocol, n_per_stratum, seed)


def _kit_list(
    protocol: Protocol, n_per_stratum: int | Mapping[str, int], seed: int | None
) -> RandomisationListResult:
    """Minimisation: no arm is drawn in advance; the list is a kit list of ``n`` kits of each
    arm (``n`` the most participants the trial may randomise), in random kit order, and the
    seed of the minimiser. Each participant's arm is decided at allocation by
    :class:`remit.stats.Minimiser` replayed over the earlier allocations."""
    plan = _plan(protocol)
    if not plan.stratification:
        raise InputError(
            f"protocol {protocol.study.id} minimises without stratification factors",
            expected="the factors to balance in [randomisation] stratification",
        )
    if not isinstance(n_per_stratum, int) or isinstance(n_per_stratum, bool):
        raise InputError(
            f"n_per_stratum={n_per_stratum!r} for minimisation",
            expected="one number: the most participants the trial may randomise",
            hint="minimisation has no list per stratum; each arm gets that many kits",
        )
    arms = [a.code for a in protocol.arms]
    Minimiser(arms, factor_levels(protocol), seed=seed)  # refuses bad settings now
    # one "stratum" per arm, of n kits each; the kit numbers are a random permutation over
    # the whole list (remit.stats), so a kit number says nothing about its arm
    kits = simple_list(
        arms, n_per_stratum=n_per_stratum, seed=seed, strata=tuple(arms), first_kit=plan.first_kit
    )
    frame = kits.to_frame()
    frame["arm"] = frame["stratum"]
    frame["stratum"] = KIT_STRATUM
    frame = frame.sort_values("kit").reset_index(drop=True)
    frame["sequence"] = range(1, len(frame) + 1)
    return replace(
        kits,
        allocations=frame,
        method="minimisation",
        arms=tuple(arms),
        ratio=tuple(a.ratio for a in protocol.arms),
        strata=(KIT_STRATUM,),
        n_per_stratum={KIT_STRATUM: len(frame)},
    )


def _status(session: Session, key: AllocationKey | None) -> RandomisationStatus:
    stored = _the_list(session)
    if stored is None:
        return RandomisationStatus(False, None, None, None, None, None, 0, 0, (), None)
    used_by = dict(
        session.execute(
            select(RandomisationSlot.stratum, func.count())
            .join(Allocation, Allocation.slot_id == RandomisationSlot.id)
            .group_by(RandomisationSlot.stratum)
        ).all()
    )
    slots_by = session.execute(
        select(RandomisationSlot.stratum, func.count())
        .where(RandomisationSlot.list_id == stored.id)
        .group_by(RandomisationSlot.stratum)
        .order_by(RandomisationSlot.stratum)
    ).all()
    counts = tuple(
        StratumCount(s, int(n), int(used_by.get(s, 0)), int(n) - int(used_by.get(s, 0)))
        for s, n in slots_by
    )
    return RandomisationStatus(
        generated=True,
        method=stored.method,
        created_at=stored.created_at,
        created_by=username_of(session, stored.created_by),
        key_id=stored.key_id,
        key_matches=None if key is None else key.key_id == stored.key_id,
        slots=stored.n_slots,
        used=sum(c.used for c in counts),
        strata=counts,
        spec=dict(stored.spec),
    )


def generate_list(
    engine: Engine,
    actor: Actor,
    *,
    n_per_stratum: int | Mapping[str, int],
    seed: int | None = None,
) -> GeneratedListRecord:
    """Generate the study's randomisation list (once) and store it sealed.

    ``n_per_stratum`` is the most participants a stratum may enrol (one number, or one per
    stratum label); each stratum's list is completed to a block end. For minimisation it is
    one number, the most participants the trial may randomise: the list is then ``n`` kits of
    each arm, and each arm is decided at allocation (:class:`remit.stats.Minimiser`, ``p``
    0.8, range imbalance, the protocol's factors and ratio, the sealed seed). ``seed`` is recorded
    (sealed) so the list can be regenerated to prove it; ``None`` draws one. Refused without
    the allocation key, for a protocol without randomisation, and when a list exists.
    """
    key = allocation_key_of(engine)
    with writing(engine, actor, "generate_randomisation_list") as w:
        session, protocol = w.session, w.protocol
        serialise(session, "randomisation")
        stored = _the_list(session)
        if stored is not None:
            raise ConflictError(
                f"the randomisation list was generated on {stored.created_at:%Y-%m-%d %H:%M} UTC "
                f"by {username_of(session, stored.created_by) or 'Remit'}",
                hint="a list is generated once and never replaced; see `remit randomise status`",
            )
        made = _make_list(protocol, n_per_stratum, seed)
        frame = made.to_frame()
        # no arm names here either: the rows of the list carry no arm code in the clear
        spec = {
            "method": made.method,
            "ratio": list(made.ratio),
            "block_sizes": list(made.block_sizes),
            "strata": list(made.strata),
            "n_per_stratum": dict(made.n_per_stratum),
            "first_kit": made.first_kit,
            "generator": made.generator,
        }
        row = RandomisationList(
            method=made.method,
            spec=spec,
            seed_sealed=key.seal({"seed": made.seed}, SEED_PLACE),
            key_id=key.key_id,
            n_slots=len(frame),
            protocol_version_id=w.protocol_and_id[1] if w.protocol_and_id else None,
            created_by=actor.user_id,
        )
        w.uow.add(row)
        w.uow.flush()
        rows: list[dict[str, Any]] = made.to_dict()["allocations"]
        for slot in rows:
            block = None if slot["block"] is None else int(slot["block"])
            size = None if slot["block_size"] is None else int(slot["block_size"])
            stratum, sequence, kit = str(slot["stratum"]), int(slot["sequence"]), int(slot["kit"])
            w.uow.add(
                RandomisationSlot(
                    list_id=row.id,
                    stratum=stratum,
                    sequence=sequence,
                    kit=kit,
                    sealed=key.seal(
                        {"arm": str(slot["arm"]), "block": block, "block_size": size},
                        slot_place(stratum, sequence, kit),
                    ),
                )
            )
        w.uow.flush()
        return GeneratedListRecord(_status(session, key), made.seed)


def randomisation_status(engine: Engine, actor: Actor) -> RandomisationStatus:
    """Whether the list exists, its specification and its use by stratum (no arms)."""
    key = _configured_key(engine)
    with reading(engine, actor, "view_randomisation_status", "randomisation_status") as r:
        return r.one(_status(r.session, key))


def _configured_key(engine: Engine) -> AllocationKey | None:
    try:
        return allocation_key_of(engine)
    except InputError:
        return None


# --------------------------------------------------------------------------- consumption


def allocate(
    engine: Engine, uow: UnitOfWork, protocol: Protocol, p: Participant, when: datetime
) -> Allocation:
    """Allocate ``p`` the next unused slot of their stratum, in the caller's transaction
    (the confirmation of enrolment). Refused, storing nothing, without the list's key, without
    a list, when the participant is allocated already, or when the stratum is used up."""
    session = uow.session
    key = allocation_key_of(engine)
    serialise(session, "randomisation")
    stored = _the_list(session)
    if stored is None:
        raise InputError(
            f"{p.study_id} cannot be randomised: no randomisation list is generated",
            expected="a list generated by the unblinded statistician",
            hint="ask the unblinded statistician to run `remit randomise generate`",
        )
    _check_key(key, stored)
    if session.scalar(select(Allocation.id).where(Allocation.participant_id == p.id)):
        raise ConflictError(
            f"{p.study_id} is randomised already; an allocation is never re-drawn",
        )
    stratum = participant_stratum(session, protocol, p)
    if stored.method == "minimisation":
        kit = _minimised_kit(session, key, protocol, stored, stratum, p)
        return _allocate_slot(uow, p, kit, stratum, when)
    used = exists().where(Allocation.slot_id == RandomisationSlot.id)
    slot = session.scalar(
        select(RandomisationSlot)
        .where(RandomisationSlot.list_id == stored.id, RandomisationSlot.stratum == stratum)
        .where(~used)
        .order_by(RandomisationSlot.sequence)
        .limit(1)
    )
    if slot is None:
        total = session.scalar(
            select(func.count()).where(
                RandomisationSlot.list_id == stored.id, RandomisationSlot.stratum == stratum
            )
        )
        raise InputError(
            f"{p.study_id} cannot be randomised: the list of stratum {stratum} is used up "
            f"({total} of {total} slots allocated)"
            if total
            else f"{p.study_id} cannot be randomised: stratum {stratum} is not in the list",
            expected="an unused slot in the participant's stratum",
            hint="no more participants can be randomised in this stratum; tell the unblinded "
            "statistician and the sponsor (the list is never extended or re-drawn)",
        )
    key.open(slot.sealed, slot_place(slot.stratum, slot.sequence, slot.kit))  # intact?
    return _allocate_slot(uow, p, slot, stratum, when)


def _allocate_slot(
    uow: UnitOfWork, p: Participant, slot: RandomisationSlot, stratum: str, when: datetime
) -> Allocation:
    row = Allocation(
        participant_id=p.id,
        slot_id=slot.id,
        stratum=stratum,
        kit=slot.kit,
        allocated_at=when,
        allocated_by=uow.actor.user_id,
    )
    uow.add(row)
    uow.flush()
    return row


def _levels(stratum: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in stratum.split("|"))


def _minimised_kit(
    session: Session,
    key: AllocationKey,
    protocol: Protocol,
    stored: RandomisationList,
    stratum: str,
    p: Participant,
) -> RandomisationSlot:
    """The kit of the arm the minimiser gives ``p``: the minimiser (its seed sealed in the
    list) replays every earlier allocation in order, checked against their kits' arms, then
    allocates ``p``; the lowest unused kit of that arm is taken."""
    plan = _plan(protocol)
    seed = int(key.open(stored.seed_sealed, SEED_PLACE)["seed"])
    minimiser = Minimiser(
        [a.code for a in protocol.arms],
        factor_levels(protocol),
        seed=seed,
        ratio=[a.ratio for a in protocol.arms],
    )
    slots = {
        slot.id: (slot, key.open(slot.sealed, slot_place(slot.stratum, slot.sequence, slot.kit)))
        for slot in session.scalars(
            select(RandomisationSlot)
            .where(RandomisationSlot.list_id == stored.id)
            .order_by(RandomisationSlot.sequence)
        )
    }
    past = session.execute(select(Allocation.slot_id, Allocation.stratum).order_by(Allocation.id))
    history = [(_levels(s), str(slots[slot_id][1]["arm"])) for slot_id, s in past.all()]
    minimiser.replay([lv for lv, _ in history], expected=[arm for _, arm in history])
    arm = minimiser.allocate(_levels(stratum))
    taken = set(session.scalars(select(Allocation.slot_id)))
    for slot_id, (slot, sealed) in slots.items():
        if slot_id not in taken and sealed["arm"] == arm:
            return slot
    raise InputError(
        f"{p.study_id} cannot be randomised: the kits of the arm the minimiser chose are used up",
        expected="an unused kit of every arm",
        hint="no more participants can be randomised; tell the unblinded statistician and the "
        f"sponsor (the list of {plan.method} is never extended or re-drawn)",
    )


# --------------------------------------------------------------------------- unblinded reads


def sealed_arms(session: Session, key: AllocationKey) -> list[AllocationRecord]:
    """Every allocation with its arm opened with ``key``, in the caller's transaction (the
    caller has checked that its actor may read arms)."""
    return _allocations(session, key)


def _allocations(session: Session, key: AllocationKey) -> list[AllocationRecord]:
    stored = _the_list(session)
    if stored is None:
        return []
    _check_key(key, stored)
    rows = session.execute(
        select(Allocation, RandomisationSlot, Participant)
        .join(RandomisationSlot, Allocation.slot_id == RandomisationSlot.id)
        .join(Participant, Allocation.participant_id == Participant.id)
        .order_by(Allocation.id)
    ).all()
    out = []
    for a, slot, p in rows:
        sealed = key.open(slot.sealed, slot_place(slot.stratum, slot.sequence, slot.kit))
        out.append(
            AllocationRecord(
                participant_id=p.study_id,
                site=site_code(session, p.site_id),
                stratum=a.stratum,
                sequence=slot.sequence,
                block=sealed.get("block"),
                kit=a.kit,
                arm=str(sealed["arm"]),
                allocated_at=a.allocated_at,
                allocated_by=username_of(session, a.allocated_by),
            )
        )
    return out


def list_allocations(engine: Engine, actor: Actor) -> list[AllocationRecord]:
    """Every allocation with its arm, in order (the unblinded roles only; every read logged)."""
    key = allocation_key_of(engine)
    with reading(engine, actor, "view_allocations", "list_allocations") as r:
        return r.returning(_allocations(r.session, key))


def allocation_balance_report(engine: Engine, actor: Actor) -> AllocationBalanceResult:
    """Allocations per arm, overall and by stratum (and by each stratification factor), for
    the unblinded statistician or the DSMB: :func:`remit.stats.allocation_balance`."""
    key = allocation_key_of(engine)
    with reading(engine, actor, "view_allocation_balance", "allocation_balance") as r:
        protocol = _protocol(r.session)
        plan = _plan(protocol)
        found = _allocations(r.session, key)
        r.n_records = len(found)
        frame = pd.DataFrame(
            {"stratum": [a.stratum for a in found], "arm": [a.arm for a in found]},
            dtype=object,
        )
        margins = ["stratum"]
        if len(plan.stratification) > 1:
            for name in plan.stratification:
                frame[name] = [_level(a.stratum, name) for a in found]
                margins.append(name)
        return allocation_balance(frame, by=margins, arms=[a.code for a in protocol.arms])


def _protocol(session: Session) -> Protocol:
    return protocol_in_force(session)[0]


def _level(stratum: str, factor: str) -> str:
    for part in stratum.split("|"):
        name, _, level = part.partition("=")
        if name == factor:
            return level
    return stratum
