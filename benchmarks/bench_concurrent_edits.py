"""Concurrency battery: several API clients save the same form at the same version at once.

Usage::

    python benchmarks/bench_concurrent_edits.py [--engine sqlite|postgresql|both]
                                                [--rounds 100] [--clients 3] [--seed 1]

For each engine it builds an Oslo trial (fresh SQLite file, or a throw-away PostgreSQL
database) with one independent-rater account per client, starts ``remit serve`` and enters
one form per round. In each round every client (its own thread, HTTP connection and login)
reads the form (``GET``, its ``ETag``), waits at a barrier for the others, then saves new
answers with ``PUT /api/v1/assessments/{id}`` and ``If-Match`` of that version. Exactly one
save of a round must win (200); every other must get the conflict answer (412), nothing else.

Afterwards (server stopped) it checks in the database that every form is at version 2 and
holds the winner's answers, that the update audit rows of each form name the winner only, and
runs ``remit audit verify``. It prints the counts with the machine and its load; exit 1 if a
check failed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import battery
import httpx


@dataclass
class EditFigures:
    """What one run measured."""

    engine: str
    rounds: int
    clients: int
    rounds_one_winner: int = 0
    rounds_no_winner: int = 0
    rounds_several_winners: int = 0
    saves_won: int = 0
    saves_conflict_412: int = 0
    conflicts_found_in_transaction: int = 0
    other_answers: dict[str, int] = field(default_factory=dict)
    forms_at_version_2: int = 0
    forms_holding_winner_answers: int = 0
    forms_audited_to_winner_only: int = 0
    audit_verify: str = ""
    audit_ok: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.rounds_one_winner
            == self.rounds
            == self.forms_at_version_2
            == self.forms_holding_winner_answers
            == self.forms_audited_to_winner_only
            and self.saves_conflict_412 == self.rounds * (self.clients - 1)
            and not self.other_answers
            and self.audit_ok
        )

    def summary(self) -> str:
        return "\n".join(f"{k:>30}: {v}" for k, v in {**asdict(self), "ok": self.ok}.items())


def tally(statuses: list[int]) -> tuple[str, int, int]:
    """A round's verdict from its save statuses: ``one``/``none``/``several`` winners, the
    200s and the 412s.

    >>> tally([412, 200, 412])
    ('one', 1, 2)
    >>> tally([200, 200])
    ('several', 2, 0)
    >>> tally([412, 500])
    ('none', 0, 1)
    """
    won = statuses.count(200)
    verdict = "one" if won == 1 else "none" if won == 0 else "several"
    return verdict, won, statuses.count(412)


def one_round(
    base: str, tokens: list[str], form_id: int, round_no: int, scale: str, rng: random.Random
) -> tuple[list[int], list[dict[str, object]], list[str]]:
    """All clients read form ``form_id`` and save it at once; their statuses, answers, texts."""
    count = len(tokens)
    barrier = threading.Barrier(count)
    statuses: list[int] = [0] * count
    texts: list[str] = [""] * count
    sent = [battery.answers(scale, rng) for _ in range(count)]

    def client(i: int) -> None:
        headers = {"Authorization": f"Bearer {tokens[i]}"}
        with httpx.Client(base_url=base, timeout=120, headers=headers) as http:
            read = http.get(f"/api/v1/assessments/{form_id}")
            read.raise_for_status()
            etag = read.headers["ETag"]
            barrier.wait()
            saved = http.put(
                f"/api/v1/assessments/{form_id}",
                json={"answers": sent[i], "reason": f"battery round {round_no} client {i}"},
                headers={"If-Match": etag},
            )
            statuses[i], texts[i] = saved.status_code, saved.text[:200]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, sent, texts


def run_engine(engine_name: str, args: argparse.Namespace) -> EditFigures:
    folder = Path(tempfile.mkdtemp(prefix=f"remit-edits-{engine_name}-"))
    figures = EditFigures(engine=engine_name, rounds=args.rounds, clients=args.clients)
    rng = random.Random(args.seed)
    per_participant = len(battery.VISITS) * len(battery.SCALES)
    with battery.ThrowAwayDatabase(engine_name, folder) as db:
        if engine_name == "postgresql":
            print(f"postgresql: {battery.postgres_version(db.url)}", flush=True)
        ids = battery.seed(db, args.clients, -(-args.rounds // per_participant))
        slots = battery.form_slots(ids, rng)[: args.rounds]
        winners: dict[int, tuple[str, dict[str, object]]] = {}
        with battery.RemitServer(db, folder / "server.log") as server:
            tokens = [
                battery.api_token(server.base, battery.rater_name(i)) for i in range(args.clients)
            ]
            forms: list[tuple[int, str]] = []
            with httpx.Client(base_url=server.base, timeout=120) as http:
                http.headers["Authorization"] = f"Bearer {tokens[0]}"
                for pid, visit, scale in slots:
                    made = http.post(
                        "/api/v1/assessments",
                        json=battery.form_body(pid, visit, scale, battery.answers(scale, rng)),
                    )  # fmt: skip
                    made.raise_for_status()
                    forms.append((int(made.json()["id"]), scale))
            began = time.monotonic()
            for number, (form_id, scale) in enumerate(forms):
                statuses, sent, texts = one_round(server.base, tokens, form_id, number, scale, rng)
                verdict, won, conflicts = tally(statuses)
                figures.saves_won += won
                figures.saves_conflict_412 += conflicts
                # 412 either from the route's version check before the save (the winner had
                # committed already) or from inside the save's own transaction (both passed the
                # route's check: a real race, caught by the service's check or the versioned
                # UPDATE)
                figures.conflicts_found_in_transaction += sum(
                    status == 412 and "someone saved it after you read it" not in text
                    for status, text in zip(statuses, texts, strict=True)
                )
                if verdict == "one":
                    figures.rounds_one_winner += 1
                    winner = statuses.index(200)
                    winners[form_id] = (battery.rater_name(winner), sent[winner])
                elif verdict == "none":
                    figures.rounds_no_winner += 1
                else:
                    figures.rounds_several_winners += 1
                for status, text in zip(statuses, texts, strict=True):
                    if status not in (200, 412):
                        label = f"HTTP {status}: {text}"
                        figures.other_answers[label] = figures.other_answers.get(label, 0) + 1
            figures.seconds = round(time.monotonic() - began, 1)
        check_stored(db, winners, figures)
        verdict_ = battery.audit_verify(db)
        figures.audit_verify, figures.audit_ok = verdict_.line(), verdict_.ok
    print(figures.summary(), flush=True)
    battery.keep_or_remove(folder, keep=False)
    return figures


def check_stored(
    db: battery.ThrowAwayDatabase,
    winners: dict[int, tuple[str, dict[str, object]]],
    figures: EditFigures,
) -> None:
    from sqlalchemy import select

    from remit.store.tables import Assessment, AuditEvent

    engine = db.engine()
    try:
        with engine.connect() as connection:
            stored = {
                row.id: row
                for row in connection.execute(
                    select(Assessment.id, Assessment.version, Assessment.answers)
                )
            }
            editors: dict[int, Counter[str]] = {}
            for record_id, username in connection.execute(
                select(AuditEvent.record_id, AuditEvent.username).where(
                    AuditEvent.table_name == "assessment", AuditEvent.action == "update"
                )
            ):
                editors.setdefault(record_id, Counter())[username] += 1
    finally:
        engine.dispose()
    for form_id, (winner, answers) in winners.items():
        row = stored[form_id]
        figures.forms_at_version_2 += row.version == 2
        figures.forms_holding_winner_answers += all(
            row.answers.get(code) == value for code, value in answers.items()
        )
        figures.forms_audited_to_winner_only += set(editors.get(form_id, {})) == {winner}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=100, help="forms edited concurrently")
    parser.add_argument("--clients", type=int, default=3, help="clients saving each form")
    parser.add_argument("--seed", type=int, default=1, help="seed of the forms and answers")
    args = parser.parse_args()
    if not (2 <= args.clients <= 32 and 1 <= args.rounds <= 5000):
        parser.error("keep --clients within 2..32 and --rounds within 1..5000")
    battery.print_environment()
    print(f"sizes: {args.rounds} rounds, {args.clients} clients each, seed {args.seed}")
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    results = [run_engine(name, args) for name in engines]
    print("load average after the run (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(
        *battery.os.getloadavg()))  # fmt: skip
    return 0 if all(f.ok for f in results) else 1


if __name__ == "__main__":
    sys.exit(main())
