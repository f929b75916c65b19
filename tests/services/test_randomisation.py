"""The randomisation service on the RCT example (SQLite and PostgreSQL): the list is generated
once by the unblinded statistician, sealed with a key outside the database (no arm code in any
stored row), consumed in order per stratum when enrolment is confirmed (in that transaction: a
refused confirmation consumes nothing), never re-drawn, refused when used up, audited; the
participant record shows the kit, never the arm."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from tests.support.db import assert_trail_agrees
from tests.support.forms import at
from tests.support.trial import (
    RCT_STAFF,
    OsloTrial,
    Participant,
    add_participant,
    build_trial,
    visit_date,
)

from remit import services as sv
from remit.errors import ConflictError, InputError, PermissionDeniedError, StoreError
from remit.protocol import Protocol, protocol_from_text, read_protocol_source
from remit.stats import Minimiser, permuted_block_list
from remit.store import Allocation, unit_of_work
from remit.store.allocation import SEALED_SIZE, slot_place

ARMS = ("MDMA", "PLACEBO")
#: The default staff with a study-wide investigator and rater (participants at both sites).
#: MADRS level of items 1–9 (item 10 at 1): 3 → total 28 (band 20-34), 4 → 37 (band 35+).
LOW, HIGH = 3, 4


def _rct(block_sizes: str | None = None, method: str | None = None) -> Protocol:
    text, source = read_protocol_source("mdma-mdd-rct-example")
    if block_sizes is not None:
        text = text.replace("block_sizes = [4, 6]", f"block_sizes = {block_sizes}")
    if method is not None:
        text = text.replace('method = "permuted_block"', f'method = "{method}"')
    return protocol_from_text(text, source)


@pytest.fixture
def key(tmp_path: Path) -> sv.AllocationKey:
    return sv.new_allocation_key_file(tmp_path / "allocation.key")


def _trial(engine: Engine, key: sv.AllocationKey | None, protocol: Protocol) -> OsloTrial:
    return build_trial(
        sv.with_allocation_key(engine, key), protocol=protocol, sites=None, staff=RCT_STAFF
    )


@pytest.fixture
def rct(engine: Engine, key: sv.AllocationKey, fast_password_hashing: None) -> OsloTrial:
    """The RCT example, both sites, its staff; the engine carries the allocation key."""
    return _trial(engine, key, _rct())


def _una(trial: OsloTrial) -> sv.Actor:
    return trial.actors["unblinded_statistician"]


def _to_v3(trial: OsloTrial, site: str, level: int) -> str:
    """A participant enrolled at V0 and taken through V3 with the baseline MADRS at ``level``."""
    return add_participant(trial, Participant(through="V3", madrs_at={"V3": level}, site=site))


def _v4(trial: OsloTrial, pid: str) -> datetime:
    """Noon on the target day of V4 (reading the visits is logged: read it before counting)."""
    return at(visit_date(trial, pid, "V4"), 12)


def _confirm(
    trial: OsloTrial, pid: str, engine: Engine | None = None, when: datetime | None = None
) -> sv.ParticipantRecord:
    at_v4 = when or _v4(trial, pid)
    return sv.confirm_enrolment(engine or trial.engine, trial.investigator, pid, confirmed_at=at_v4)


Rows = Callable[[], dict[str, int]]


# --------------------------------------------------------------------------- generation


def test_only_the_unblinded_statistician_generates_and_only_once(
    rct: OsloTrial, rows: Rows
) -> None:
    before = rows()
    for role in ("investigator", "statistician", "monitor", "data_manager", "admin"):
        with pytest.raises(PermissionDeniedError, match="may not generate randomisation list"):
            sv.generate_list(rct.engine, rct.actors[role], n_per_stratum=8, seed=1)
    assert rows() == before

    made = sv.generate_list(rct.engine, _una(rct), n_per_stratum=8, seed=2026)
    assert made.seed == 2026
    assert made.status.generated
    assert made.status.used == 0
    expected = permuted_block_list(
        ARMS,
        block_sizes=[4, 6],
        n_per_stratum=8,
        seed=2026,
        strata={"site": ["OST", "OUS"], "madrs_baseline_band": ["20-34", "35+"]},
    ).to_frame()
    assert made.status.slots == len(expected)
    assert {s.stratum: s.slots for s in made.status.strata} == (
        expected.groupby("stratum").size().to_dict()
    )

    after = rows()
    with pytest.raises(ConflictError, match="generated once and never replaced"):
        sv.generate_list(rct.engine, _una(rct), n_per_stratum=8, seed=7)
    assert rows() == after
    # the status (no arms) is for the investigators, monitors … too
    seen = sv.randomisation_status(rct.engine, rct.investigator)
    assert (seen.slots, seen.key_matches) == (made.status.slots, True)
    with pytest.raises(PermissionDeniedError):
        sv.randomisation_status(rct.engine, rct.therapist)


def test_without_a_key_nothing_is_generated_nor_allocated(
    engine: Engine, key: sv.AllocationKey, fast_password_hashing: None, rows: Rows
) -> None:
    trial = _trial(engine, None, _rct())
    before = rows()
    with pytest.raises(InputError, match="no allocation key") as refused:
        sv.generate_list(trial.engine, _una(trial), n_per_stratum=4, seed=1)
    assert "remit randomise keygen" in str(refused.value.hint)
    assert rows() == before
    assert sv.randomisation_status(trial.engine, trial.investigator).key_matches is None

    keyed = sv.with_allocation_key(engine, key)
    sv.generate_list(keyed, _una(trial), n_per_stratum=4, seed=1)
    pid = _to_v3(trial, "OST", LOW)
    when = _v4(trial, pid)
    before = rows()
    with pytest.raises(InputError, match="no allocation key"):
        _confirm(trial, pid, when=when)  # the trial's engine carries no key
    other = sv.AllocationKey(bytes(32), "a test")
    with pytest.raises(InputError, match="not the key the randomisation list was sealed with"):
        _confirm(trial, pid, sv.with_allocation_key(engine, other), when)
    assert rows() == before
    assert sv.get_participant(engine, trial.investigator, pid).enrolment_confirmed_at is None
    assert _confirm(trial, pid, keyed).kit is not None


# --------------------------------------------------------------------------- at rest


def _in_clear(code: str, row: str) -> bool:
    """Whether ``code`` is a word of ``row``; inside base64 ciphertext (letters, digits, + and
    / on both sides) it is a chance string, not an arm stored in the clear."""
    return re.search(rf"(?<![A-Za-z0-9+/]){code}(?![A-Za-z0-9+/])", row, re.IGNORECASE) is not None


def test_no_stored_row_holds_an_arm_code(rct: OsloTrial) -> None:
    sv.generate_list(rct.engine, _una(rct), n_per_stratum=6, seed=11)
    for site, level in (("OST", LOW), ("OUS", HIGH)):
        _confirm(rct, _to_v3(rct, site, level))
    with rct.engine.connect() as c:
        dumped = []
        for table in ("randomisation_list", "randomisation_slot", "allocation", "participant"):
            dumped += [repr(tuple(r)) for r in c.execute(sa.text(f"SELECT * FROM {table}"))]
        dumped += [
            repr(tuple(r))
            for r in c.execute(
                sa.text(
                    "SELECT * FROM audit_event WHERE table_name IN ('randomisation_list', "
                    "'randomisation_slot', 'allocation', 'participant', 'visit')"
                )
            )
        ]
        sealed = list(c.execute(sa.text("SELECT sealed FROM randomisation_slot")).scalars())
        arms = list(c.execute(sa.text("SELECT arm FROM participant")).scalars())
    assert len(dumped) > 100
    for code in ARMS:
        assert not [row for row in dumped if _in_clear(code, row)], code
    # the scan finds an arm stored in the clear, and not a chance string in ciphertext
    assert _in_clear("PLACEBO", repr((1, "placebo", "v1:x+/")))
    assert _in_clear("MDMA", '{"arm":"MDMA"}')
    assert not _in_clear("MDMA", repr((1, "v1:dPNmU+MDmA05E1/")))
    # every sealed arm has the same length: MDMA and PLACEBO do not differ in size
    assert len({len(s) for s in sealed}) == 1
    assert arms == [None, None]


def test_a_sealed_arm_opens_only_in_its_own_slot(key: sv.AllocationKey) -> None:
    sealed = key.seal({"arm": "MDMA"}, slot_place("site=OST", 1, 1001))
    assert key.open(sealed, slot_place("site=OST", 1, 1001)) == {"arm": "MDMA"}
    with pytest.raises(StoreError, match="does not open"):
        key.open(sealed, slot_place("site=OST", 2, 1002))  # moved to another slot
    with pytest.raises(StoreError, match="does not open"):
        sv.AllocationKey(bytes(32)).open(sealed, slot_place("site=OST", 1, 1001))
    assert SEALED_SIZE >= 64


# --------------------------------------------------------------------------- consumption


def test_slots_are_consumed_in_order_per_stratum_and_show_the_kit_not_the_arm(
    rct: OsloTrial,
) -> None:
    sv.generate_list(rct.engine, _una(rct), n_per_stratum=6, seed=2026)
    plan = [("OST", LOW), ("OUS", HIGH), ("OST", LOW), ("OST", HIGH), ("OST", LOW)]
    confirmed = [_confirm(rct, _to_v3(rct, site, level)) for site, level in plan]
    assert all(r.kit is not None and r.arm is None for r in confirmed)

    expected = permuted_block_list(
        ARMS,
        block_sizes=[4, 6],
        n_per_stratum=6,
        seed=2026,
        strata={"site": ["OST", "OUS"], "madrs_baseline_band": ["20-34", "35+"]},
    ).to_frame()
    got = sv.list_allocations(rct.engine, _una(rct))
    assert [a.participant_id for a in got] == [r.participant_id for r in confirmed]
    seen: dict[str, int] = {}
    for a, (site, level) in zip(got, plan, strict=True):
        band = "20-34" if level == LOW else "35+"
        assert a.stratum == f"madrs_baseline_band={band}|site={site}"
        seen[a.stratum] = seen.get(a.stratum, 0) + 1
        assert a.sequence == seen[a.stratum]  # the next unused slot of the stratum
        row = expected[(expected.stratum == a.stratum) & (expected.sequence == a.sequence)]
        assert (a.arm, a.kit) == (row.arm.item(), row.kit.item())

    # the kit, never the arm, for every role that reads participants
    for role in ("investigator", "therapist", "independent_rater", "monitor", "statistician"):
        shown = sv.get_participant(rct.engine, rct.actors[role], confirmed[0].participant_id)
        assert (shown.kit, shown.arm) == (confirmed[0].kit, None)
    for role in ("investigator", "statistician", "monitor"):
        with pytest.raises(PermissionDeniedError):
            sv.list_allocations(rct.engine, rct.actors[role])


def test_a_refused_confirmation_consumes_nothing(rct: OsloTrial, rows: Rows) -> None:
    sv.generate_list(rct.engine, _una(rct), n_per_stratum=4, seed=3)
    pid = add_participant(rct, Participant(through="V3", madrs_at={"V3": 2}, site="OST"))  # 19
    when = _v4(rct, pid)
    before = rows()
    with pytest.raises(InputError, match="madrs_entry unmet"):
        _confirm(rct, pid, when=when)
    assert rows() == before
    assert sv.randomisation_status(rct.engine, _una(rct)).used == 0


def _change_kit(trial: OsloTrial) -> None:
    with unit_of_work(trial.engine, trial.investigator, reason="re-draw") as uow:
        row = uow.session.scalars(sa.select(Allocation)).one()
        row.kit = row.kit + 1


def test_an_allocation_is_never_changed_or_redrawn(rct: OsloTrial, rows: Rows) -> None:
    sv.generate_list(rct.engine, _una(rct), n_per_stratum=4, seed=5)
    pid = _to_v3(rct, "OST", LOW)
    first = _confirm(rct, pid)
    when = _v4(rct, pid)
    before = rows()
    with pytest.raises(InputError, match="already confirmed"):
        _confirm(rct, pid, when=when)
    # the store refuses to change or remove an allocation or a slot, even bypassing services
    for statement in (
        "UPDATE allocation SET kit = kit + 1",
        "DELETE FROM allocation",
        "UPDATE randomisation_slot SET sequence = sequence + 100",
        "DELETE FROM randomisation_slot",
        "UPDATE randomisation_list SET key_id = 'x'",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), rct.engine.begin() as c:
            c.execute(sa.text(statement))
    # SQLite's abort is a StoreError of the unit of work; PostgreSQL's trigger raises as is
    with pytest.raises((StoreError, sa.exc.DBAPIError), match="append-only"):
        _change_kit(rct)
    assert rows() == before
    assert sv.get_participant(rct.engine, rct.investigator, pid).kit == first.kit


def test_a_used_up_stratum_refuses_and_stores_nothing(
    engine: Engine, key: sv.AllocationKey, fast_password_hashing: None, rows: Rows
) -> None:
    trial = _trial(engine, key, _rct(block_sizes="[2]"))
    made = sv.generate_list(trial.engine, _una(trial), n_per_stratum=1, seed=9)
    assert {s.slots for s in made.status.strata} == {2}  # one block of 2 per stratum
    for _ in range(2):
        _confirm(trial, _to_v3(trial, "OST", LOW))
    pid = _to_v3(trial, "OST", LOW)
    when = _v4(trial, pid)
    before = rows()
    with pytest.raises(InputError, match="is used up") as refused:
        _confirm(trial, pid, when=when)
    assert "never extended or re-drawn" in str(refused.value.hint)
    assert rows() == before
    # another stratum still has its slots
    assert _confirm(trial, _to_v3(trial, "OUS", LOW)).kit is not None
    status = sv.randomisation_status(trial.engine, _una(trial))
    left = {s.stratum: s.left for s in status.strata}
    assert left["madrs_baseline_band=20-34|site=OST"] == 0
    assert left["madrs_baseline_band=20-34|site=OUS"] == 1


def test_every_step_is_audited(rct: OsloTrial) -> None:
    made = sv.generate_list(rct.engine, _una(rct), n_per_stratum=4, seed=13)
    pid = _to_v3(rct, "OUS", HIGH)
    confirmed = _confirm(rct, pid)
    with rct.engine.connect() as c:

        def audited(table: str) -> list[tuple[str, str, str | None]]:
            return [
                (r.username, r.role, r.new_value)
                for r in c.execute(
                    sa.text(
                        "SELECT username, role, field, new_value FROM audit_event "
                        "WHERE table_name = :t AND action = 'insert'"
                    ),
                    {"t": table},
                )
            ]

        listed = audited("randomisation_list")
        slots = audited("randomisation_slot")
        allocated = audited("allocation")
        pid_key = c.execute(
            sa.text("SELECT id FROM participant WHERE study_id = :s"), {"s": pid}
        ).scalar_one()
        by_participant = c.execute(
            sa.text(
                "SELECT count(*) FROM audit_event WHERE table_name = 'allocation' "
                "AND participant_id = :p"
            ),
            {"p": pid_key},
        ).scalar_one()
    assert listed
    assert {(u, r) for u, r, _ in listed} == {("una", "unblinded_statistician")}
    assert len(slots) >= 4 * made.status.slots  # each field of each slot
    assert {(u, r) for u, r, _ in allocated} == {("kari", "investigator")}
    assert str(confirmed.kit) in {v for _, _, v in allocated}
    assert by_participant == len(allocated)
    assert_trail_agrees(rct.engine)  # the chain verifies and replays to the tables as they are


def test_enrolment_takes_no_arm_in_a_randomised_protocol(rct: OsloTrial) -> None:
    pid = add_participant(rct, Participant(through="SCR", enrol=False, site="OST"))
    with pytest.raises(InputError, match="randomises: the arm is allocated"):
        sv.enrol(rct.engine, rct.investigator, pid, arm="MDMA")


def test_the_balance_report_is_for_the_unblinded_statistician(rct: OsloTrial) -> None:
    sv.generate_list(rct.engine, _una(rct), n_per_stratum=6, seed=21)
    for site, level in (("OST", LOW), ("OST", LOW), ("OUS", HIGH)):
        _confirm(rct, _to_v3(rct, site, level))
    for role in ("investigator", "statistician", "monitor", "data_manager", "admin"):
        with pytest.raises(PermissionDeniedError, match="may not view allocation balance"):
            sv.allocation_balance_report(rct.engine, rct.actors[role])
    table = sv.allocation_balance_report(rct.engine, _una(rct)).to_frame()
    arms = [a.arm for a in sv.list_allocations(rct.engine, _una(rct))]
    overall = table[table.margin == "overall"].set_index("arm")["n"].to_dict()
    assert overall == {arm: arms.count(arm) for arm in ARMS}
    assert set(table.margin) == {"overall", "stratum", "site", "madrs_baseline_band"}
    by_site = table[table.margin == "site"].groupby("level")["n"].sum().to_dict()
    assert by_site == {"OST": 2, "OUS": 1}


# --------------------------------------------------------------------------- minimisation


def test_minimisation_allocates_as_the_minimiser_replayed_and_hands_out_kits(
    engine: Engine, key: sv.AllocationKey, fast_password_hashing: None, rows: Rows
) -> None:
    trial = _trial(engine, key, _rct(method="minimisation"))
    with pytest.raises(InputError, match="one number"):
        sv.generate_list(trial.engine, _una(trial), n_per_stratum={"kits": 3}, seed=4)
    made = sv.generate_list(trial.engine, _una(trial), n_per_stratum=2, seed=4)
    assert made.status.method == "minimisation"
    assert [(s.stratum, s.slots) for s in made.status.strata] == [("kits", 4)]  # 2 per arm

    plan = [("OST", LOW), ("OST", LOW), ("OUS", HIGH), ("OST", HIGH), ("OUS", LOW)]
    factors = {"site": ["OST", "OUS"], "madrs_baseline_band": ["20-34", "35+"]}
    expected = Minimiser(ARMS, factors, seed=4)
    arms = [
        expected.allocate({"site": site, "madrs_baseline_band": "20-34" if lv == LOW else "35+"})
        for site, lv in plan
    ]
    done = []
    for i, (site, level) in enumerate(plan):
        pid = _to_v3(trial, site, level)
        when = _v4(trial, pid)
        if arms[: i + 1].count(arms[i]) <= 2:
            done.append(_confirm(trial, pid, when=when))
            continue
        before = rows()  # the arm's 2 kits are used up: refused, nothing stored
        with pytest.raises(InputError, match="kits of the arm the minimiser chose are used up"):
            _confirm(trial, pid, when=when)
        assert rows() == before
        break
    got = sv.list_allocations(trial.engine, _una(trial))
    assert [a.arm for a in got] == arms[: len(got)]
    assert [a.kit for a in got] == [r.kit for r in done]
    assert len({a.kit for a in got}) == len(got) == 4  # seed 4: the fifth is a third MDMA
    # no arm in the clear here either
    with trial.engine.connect() as c:
        stored = [repr(tuple(r)) for r in c.execute(sa.text("SELECT * FROM randomisation_slot"))]
    assert not [r for r in stored for code in ARMS if _in_clear(code, r)]


def test_without_a_confirmation_step_the_participant_is_randomised_at_enrolment(
    engine: Engine, key: sv.AllocationKey, fast_password_hashing: None
) -> None:
    text, source = read_protocol_source("mdma-mdd-rct-example")

    def cut(start: str, end: str) -> str:  # ``text`` without the block from start to end
        i = text.index(start)
        return text[:i] + text[text.index(end, i + len(start)) :]

    # no confirmation step (and so no criterion checked at it), stratified by site alone
    text = cut('[[randomisation.strata]]\nfactor = "madrs_baseline_band"', "[[events]]")
    text = cut('[[eligibility.criteria]]\nid = "madrs_entry"', "[[eligibility.criteria]]")
    text = text.replace('confirm_at = "V4"\n', "").replace(
        'stratification = ["site", "madrs_baseline_band"]', 'stratification = ["site"]'
    )
    trial = _trial(engine, key, protocol_from_text(text, source))
    assert trial.protocol.enrolment is not None
    assert trial.protocol.enrolment.confirm_at is None
    sv.generate_list(trial.engine, _una(trial), n_per_stratum=4, seed=8)
    pid = add_participant(trial, Participant(through="V0", site="OUS"))
    shown = sv.get_participant(trial.engine, trial.investigator, pid)
    assert (shown.status, shown.arm) == ("enrolled", None)
    (allocated,) = sv.list_allocations(trial.engine, _una(trial))
    assert (allocated.participant_id, allocated.stratum, allocated.kit) == (
        pid,
        "site=OUS",
        shown.kit,
    )
