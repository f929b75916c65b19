"""Fuzz battery: schemathesis against the JSON API of a live ``remit serve``.

Usage::

    python benchmarks/bench_fuzz_api.py [--engine sqlite|postgresql|both] [--examples 60]
                                        [--login-examples 10] [--roles investigator,admin]

For each engine it builds an Oslo trial (fresh SQLite file, or a throw-away PostgreSQL
database) with a few consented participants and one account per role in ``--roles`` (site OST
for site roles), starts ``remit serve`` and loads its OpenAPI description from
``/openapi.json``. For every identity (each role with its bearer token, then no token at all)
and every operation, it runs ``--examples`` schemathesis cases in positive mode (data valid by
the schema) and as many in negative mode (data the schema forbids), over real HTTP. The login
operation gets ``--login-examples`` only: failed logins from one address are slowed down on
purpose (up to 2 s each). ``POST /api/v1/auth/logout`` is left out for the token holders (it
would end the token the other cases use).

Each authenticated case runs schemathesis' checks (``call_and_validate``: no 5xx, status code,
content type and body as documented; ``positive_data_acceptance`` is left out, as in
``tests/web/test_schemathesis.py``: valid data may still name a participant that does not
exist). Each anonymous case must be refused (401, or 422 for a malformed request; login may
answer 401/422/429; any other refusal is printed as a failure, a success without a token
makes the exit code 1). It prints cases run, server errors (5xx) and other check failures per
identity, with the first few failures, the machine and its load; exit 1 if any case failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import battery

ROLE_SITES = {"admin": None, "statistician": None, "monitor": None}


@dataclass
class FuzzTally:
    """Cases and failures of one identity."""

    identity: str
    cases: int = 0
    server_errors: int = 0
    other_failures: int = 0
    no_negative_data: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def fail(self, label: str, check: str) -> None:
        """Count a failed ``check`` of the case ``label`` (server errors apart)."""
        if check.startswith("server error") or "Server error" in check:
            self.server_errors += 1
        else:
            self.other_failures += 1
        self.failures[check] += 1
        self.examples.setdefault(check, label)

    def line(self) -> str:
        shown = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (
            f"{self.identity:>14}: {self.cases} cases, {self.server_errors} server errors, "
            f"{self.other_failures} other failures; statuses {{{shown}}}; "
            f"{self.no_negative_data} operations without input to make invalid"
        )


def failed_checks(error: BaseException) -> list[str]:
    """The names of the checks a schemathesis failure (or group of them) reports.

    >>> failed_checks(ValueError("Undocumented status code\\n\\nReceived: 400"))
    ['Undocumented status code']
    >>> failed_checks(BaseExceptionGroup("2", [ValueError("a"), KeyError("b")]))
    ['a', "'b'"]
    """
    if isinstance(error, BaseExceptionGroup):
        return [name for inner in error.exceptions for name in failed_checks(inner)]
    title = getattr(error, "title", None)
    first = str(title or error).strip().splitlines()
    return [first[0] if first else type(error).__name__]


def anonymous_allowed(path: str) -> set[int]:
    """Statuses a request without a token may get.

    >>> sorted(anonymous_allowed("/api/v1/participants"))
    [401, 422]
    >>> sorted(anonymous_allowed("/api/v1/auth/login"))
    [200, 401, 422, 429]
    """
    return {200, 401, 422, 429} if path == "/api/v1/auth/login" else {401, 422}


def fuzz(
    operations: list[Any],
    tally: FuzzTally,
    token: str | None,
    examples: int,
    login_examples: int,
    base: str,
) -> None:
    """Run the cases of every operation in both modes as ``token`` (``None``: no token)."""
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    for operation in operations:
        if token and operation.path == "/api/v1/auth/logout":
            continue
        count = login_examples if operation.path == "/api/v1/auth/login" else examples
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                cases_of(operation, mode, count, tally, token, base)()
            except Unsatisfiable:  # nothing to make invalid (an operation without input)
                tally.no_negative_data += 1


def cases_of(
    operation: Any, mode: Any, count: int, tally: FuzzTally, token: str | None, base: str
) -> Any:
    """The hypothesis test running ``count`` cases of ``operation`` in ``mode``."""
    from hypothesis import HealthCheck, given, settings
    from schemathesis.specs.openapi import checks as openapi_checks

    headers = {"Authorization": f"Bearer {token}"} if token else {}

    @settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        tally.cases += 1
        label = f"{case.method.upper()} {case.formatted_path} ({mode.value})"
        try:
            if token:
                response = case.call_and_validate(
                    base_url=base,
                    headers=headers,
                    excluded_checks=[openapi_checks.positive_data_acceptance],
                )
            else:
                response = case.call(base_url=base)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # failed checks: counted, then the next case
            for name in failed_checks(error):
                tally.fail(label, name)
            return
        tally.statuses[response.status_code] += 1
        if response.status_code >= 500:
            tally.fail(label, f"server error {response.status_code}")
        elif not token and response.status_code not in anonymous_allowed(operation.path):
            kind = "SUCCESS" if response.status_code < 400 else "answered"
            tally.fail(label, f"{kind} {response.status_code} without a token")

    return check


def run_engine(engine_name: str, args: argparse.Namespace) -> list[FuzzTally]:
    import schemathesis

    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    staff = [(f"fuzz_{role}", role, ROLE_SITES.get(role, "OST")) for role in roles]
    folder = Path(tempfile.mkdtemp(prefix=f"remit-fuzz-{engine_name}-"))
    tallies: list[FuzzTally] = []
    with battery.ThrowAwayDatabase(engine_name, folder) as db:
        if engine_name == "postgresql":
            print(f"postgresql: {battery.postgres_version(db.url)}", flush=True)
        battery.seed(db, 1, 3, staff)
        with battery.RemitServer(db, folder / "server.log") as server:
            loaded = schemathesis.openapi.from_url(f"{server.base}/openapi.json")
            operations = [result.ok() for result in loaded.get_all_operations()]
            print(f"{engine_name}: {len(operations)} operations", flush=True)
            began = time.monotonic()
            for username, role, _site in staff:
                tally = FuzzTally(role)
                token = battery.api_token(server.base, username)
                fuzz(operations, tally, token, args.examples, args.login_examples, server.base)
                tallies.append(tally)
                print(f"{engine_name} {tally.line()}", flush=True)
            tally = FuzzTally("no token")
            fuzz(operations, tally, None, args.examples, args.login_examples, server.base)
            tallies.append(tally)
            print(f"{engine_name} {tally.line()}", flush=True)
            seconds = time.monotonic() - began
        verdict = battery.audit_verify(db)
    total = sum(t.cases for t in tallies)
    errors = sum(t.server_errors for t in tallies)
    other = sum(t.other_failures for t in tallies)
    print(f"{engine_name}: {total} cases in {seconds:.0f} s: {errors} server errors, "
          f"{other} other failures; audit verify {verdict.line()}", flush=True)  # fmt: skip
    for t in tallies:
        for check, n in t.failures.most_common():
            print(f"  {t.identity}: {n} × {check}; first: {t.examples[check]}")
    battery.keep_or_remove(folder, keep=False)
    if not verdict.ok:
        tallies.append(FuzzTally("audit verify", server_errors=1))
        print(f"audit verify failed: {verdict.line()}")
    return tallies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--examples", type=int, default=60, help="cases per operation and mode")
    parser.add_argument("--login-examples", type=int, default=10, help="cases of the login")
    parser.add_argument("--roles", default="investigator,admin", help="identities with a token")
    args = parser.parse_args()
    if not (1 <= args.examples <= 2000 and 1 <= args.login_examples <= 200):
        parser.error("keep --examples within 1..2000 and --login-examples within 1..200")
    battery.print_environment()
    print(f"sizes: {args.examples} cases per operation and mode (login {args.login_examples}), "
          f"roles {args.roles} and no token", flush=True)  # fmt: skip
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    tallies = [t for name in engines for t in run_engine(name, args)]
    print("load average after the run (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(
        *battery.os.getloadavg()))  # fmt: skip
    # exit 1 on a server error or an anonymous success; other check failures are printed
    anonymous = sum(n for t in tallies for c, n in t.failures.items() if c.startswith("SUCCESS"))
    return 0 if anonymous == 0 and all(t.server_errors == 0 for t in tallies) else 1


if __name__ == "__main__":
    sys.exit(main())
