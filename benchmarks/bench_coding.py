"""Wall time of loading MedDRA- and WHODrug-sized dictionaries, and of a term search.

Run:  .venv/bin/python benchmarks/bench_coding.py [--engine sqlite|postgresql]
      [--llts 80000] [--drugs 300000]

Writes a SYNTHETIC release in the MedDRA ASCII layout (made-up codes and names, the size of a
real release: ``--llts`` lowest level terms under a quarter as many PTs) and one in the
WHODrug B3 layout (``--drugs`` names), loads both through ``remit.services.coding`` (reading,
checking, storing) and times a search by term. Prints the machine and its load first.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from battery import ThrowAwayDatabase, print_environment

from remit import services as sv
from remit.protocol import load_protocol
from remit.services import coding

PASSWORD = "correct horse battery staple"


def write_meddra(folder: Path, llts: int) -> None:
    """A made-up release in the MedDRA ASCII layout (27 SOCs, 340 HLGTs, 1,700 HLTs)."""
    folder.mkdir()
    pts = max(1, llts // 4)
    soc = [(90_000_000 + i, f"Soc {i}") for i in range(27)]
    hlgt = [(91_000_000 + i, f"Hlgt {i}") for i in range(340)]
    hlt = [(92_000_000 + i, f"Hlt {i}") for i in range(1700)]
    (folder / "soc.asc").write_text("".join(f"{c}${n}$S{c % 100}$$$$$$$$\n" for c, n in soc))
    (folder / "hlgt.asc").write_text("".join(f"{c}${n}$$$$$$$$\n" for c, n in hlgt))
    (folder / "hlt.asc").write_text("".join(f"{c}${n}$$$$$$$$\n" for c, n in hlt))
    with (folder / "pt.asc").open("w") as pt, (folder / "mdhier.asc").open("w") as hier:
        for i in range(pts):
            code, s = 93_000_000 + i, soc[i % 27][0]
            pt.write(f"{code}$Pt term {i}$${s}$$$$$$$$\n")
            h, g = hlt[i % 1700], hlgt[i % 340]
            hier.write(f"{code}${h[0]}${g[0]}${s}$Pt term {i}${h[1]}${g[1]}$Soc {i % 27}$"
                       f"S{s % 100}$${s}$Y$\n")  # fmt: skip
    with (folder / "llt.asc").open("w") as llt:
        for i in range(llts):
            llt.write(f"{94_000_000 + i}$Llt term {i}${93_000_000 + i % pts}$$$$$$$Y$$\n")
    (folder / "meddra_release.asc").write_text("99.0$English$$$$\n")


def write_whodrug(folder: Path, drugs: int) -> None:
    """A made-up release in the WHODrug B3 layout (three names per drug record)."""
    folder.mkdir()
    with (folder / "DD.txt").open("w") as dd, (folder / "DDA.txt").open("w") as dda:
        for i in range(drugs):
            record, seq2 = 100_000 + i // 3, 1 + i % 3
            dd.write(f"{record:06d}01{seq2:03d}0{'T':<18}DRUG {i}\n")
            if seq2 == 1:
                dda.write(f"{record:06d}010010N06AB  243Y\n")
    (folder / "INA.txt").write_text("N06AB  4Made-up class\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--llts", type=int, default=80_000)
    parser.add_argument("--drugs", type=int, default=300_000)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        ThrowAwayDatabase(args.engine, Path(folder)) as db,
    ):
        print_environment(db.url)
        write_meddra(Path(folder) / "meddra", args.llts)
        write_whodrug(Path(folder) / "whodrug", args.drugs)
        engine = sv.create_database(db.url, audit_keys=sv.load_key_ring(db.key_file))
        try:
            sv.create_trial(engine, load_protocol("oslo-mdma-mdd"), admin_username="ada",
                            admin_password=PASSWORD)  # fmt: skip
            admin = sv.actor_for(engine, "ada", "admin")
            sv.add_user(engine, admin, "dag", PASSWORD, [("data_manager", None)],
                        must_change_password=False)  # fmt: skip
            dm = sv.actor_for(engine, "dag", "data_manager")
            for kind, load, folder_name in (
                ("meddra", lambda p: coding.load_meddra(engine, dm, p), "meddra"),
                ("whodrug", lambda p: coding.load_whodrug(engine, dm, p, version="SYN"), "whodrug"),
            ):
                started = time.perf_counter()
                loaded = load(Path(folder) / folder_name)
                took = time.perf_counter() - started
                print(f"load {kind} ({args.engine}): {loaded.term_count} terms in {took:.2f} s "
                      f"({1e6 * took / loaded.term_count:.1f} µs per term)")  # fmt: skip
            started = time.perf_counter()
            found = coding.search_terms(engine, dm, "meddra", "term 4711")
            print(f"search 'term 4711': {len(found)} hits in "
                  f"{1000 * (time.perf_counter() - started):.1f} ms")  # fmt: skip
        finally:
            sv.close_database(engine)


if __name__ == "__main__":
    main()
