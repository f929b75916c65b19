"""Every service opens its transaction with the one preamble (``remit.services.unit``): no
service authorises, checks an idempotency key or opens a unit of work or session itself."""

from __future__ import annotations

import ast
from pathlib import Path

import remit.services

SERVICES = Path(remit.services.__file__).parent

#: The preamble itself and the helpers it calls.
PREAMBLE_MODULES = {"unit.py", "_common.py"}

#: Functions that still open their own transaction, and why.
EXCEPTIONS = {
    # an identity read logs refusals too (in a fresh transaction): remit.store.read_identity
    "read_identity",
    # authentication: checks the actor's own password, reads no trial data
    "check_password",
    # authentication: the actor's own account flags (active, must change the password), read
    # on every web request; reads no trial data and must not fill the access log
    "account_standing",
    # the alert delivery loop (services/notify.py): Remit's own work, no person acts; each
    # delivery-log row is its own short transaction (the claim must commit before sending)
    "_insert",
    "_settle_step",
    # a refused unblinding of the analysis data is audited (read_refused) in a transaction of
    # its own, whatever the role: the refusal is what is recorded, so no access row applies
    "_unblinding_key",
}

#: Calls only the preamble makes.
PREAMBLE_CALLS = {"unit_of_work", "authorise", "replayed", "remember"}


def _called(node: ast.AST) -> str | None:
    """The name of a plain function call (``w.remember(...)`` is the preamble's own)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id
    return None


def test_services_open_their_transactions_with_the_preamble() -> None:
    offenders: list[str] = []
    for path in sorted(SERVICES.glob("*.py")):
        if path.name in PREAMBLE_MODULES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            if function.name in EXCEPTIONS:
                continue
            takes_actor = any(a.arg == "actor" for a in function.args.args)
            for node in ast.walk(function):
                name = _called(node)
                if name in PREAMBLE_CALLS or (takes_actor and name == "Session"):
                    offenders.append(f"{path.name}:{node.lineno} {function.name} calls {name}")
    assert offenders == [], "use remit.services.unit.writing/reading instead:\n" + "\n".join(
        offenders
    )
