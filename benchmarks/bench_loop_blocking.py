"""While one slow page POST runs, how long do the other requests of the same server wait?

Usage::

    python benchmarks/bench_loop_blocking.py [--db trial.db] [--rounds 2]

Makes the demo trial (``remit demo --no-exports``, in a temporary folder) unless ``--db``
names one, serves it with ``remit serve`` (one worker process, on 127.0.0.1), logs in as the
demo statistician and posts the report page's form (``POST /report``: the analysis dataset,
the analysis plan and the rendered report, seconds of work). Meanwhile a second client asks
for the login page again and again; the benchmark prints how long the report took and how
long those requests took (count, median, maximum).

A page handler that did its database work on the event loop made every other request of
the process wait for it: the maximum was the report's whole time, and a handful of requests
got through. Page handlers now run in worker threads
(``tests/web/test_pages_off_the_event_loop.py``): the other requests go on, slowed only by
sharing the CPU. Machine and load are printed first.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import battery
import httpx

STATISTICIAN = ("stine", "remit-demo-statistician")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _hidden(html: str, name: str) -> str:
    found = re.search(f'name="{name}" value="([^"]+)"', html)
    if found is None:
        raise SystemExit(f"no {name} on the page: is this a Remit server?")
    return found.group(1)


def _remit() -> str:
    return str(Path(sys.executable).with_name("remit"))


def run(db: Path, rounds: int) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [_remit(), "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        waited = time.monotonic()
        while True:  # a generous ceiling: a busy machine starts the server slowly
            try:
                httpx.get(base + "/login", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() - waited > 120 or server.poll() is not None:
                    raise SystemExit("remit serve did not answer within 120 s") from None
                time.sleep(0.2)
        client = httpx.Client(base_url=base, follow_redirects=True, timeout=600)
        token = _hidden(client.get("/login").text, "login_token")
        username, password = STATISTICIAN
        logged = client.post(
            "/login",
            data={"username": username, "password": password, "login_token": token, "next": "/"},
        )
        if logged.status_code != 200:
            raise SystemExit(f"login as {username} answered {logged.status_code}")
        csrf = _hidden(client.get("/report").text, "csrf_token")
        probe = httpx.Client(base_url=base, timeout=600)
        for n in range(1, rounds + 1):
            times: list[float] = []
            stop = threading.Event()

            def ask(out: list[float] = times, done: threading.Event = stop) -> None:
                while not done.is_set():
                    started = time.perf_counter()
                    probe.get("/login")
                    out.append(time.perf_counter() - started)

            prober = threading.Thread(target=ask)
            prober.start()
            started = time.perf_counter()
            built = client.post("/report", data={"csrf_token": csrf})
            took = time.perf_counter() - started
            stop.set()
            prober.join()
            times.sort()
            print(
                f"round {n}: POST /report answered {built.status_code} in {took:.2f} s; "
                f"meanwhile GET /login x{len(times)}: median {1000 * times[len(times) // 2]:.1f} "
                f"ms, max {1000 * times[-1]:.0f} ms",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    battery.print_environment()
    if args.db is not None:
        run(args.db, args.rounds)
        return
    with tempfile.TemporaryDirectory(prefix="remit-loop-") as folder:
        made = subprocess.run(
            [_remit(), "demo", "--out", folder, "--no-exports"],
            capture_output=True,
            text=True,
            env=dict(os.environ),
        )
        if made.returncode != 0:
            raise SystemExit(made.stdout + made.stderr)
        run(Path(folder) / "trial.db", args.rounds)


if __name__ == "__main__":
    main()
