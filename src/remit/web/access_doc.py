"""The access rules of the web app as Markdown: the services' matrix, the web-only rules, and
which operation guards each route (``docs/web.md`` shows them; a test keeps it current)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute

from remit.services.access import ACCESS, ROLES
from remit.web.core import WEB_ACCESS


def access_markdown() -> str:
    """Operation × role, from :data:`remit.services.access.ACCESS` and the web-only rules."""
    head = "| operation | " + " | ".join(r.replace("_", " ") for r in ROLES) + " |"
    lines = [head, "|---|" + "---|" * len(ROLES)]
    rows = list(ACCESS.items()) + [(f"{op} (web)", who) for op, who in WEB_ACCESS.items()]
    for operation, who in rows:
        marks = ["✓" if role in who else "" for role in ROLES]
        lines.append(f"| `{operation}` | " + " | ".join(marks) + " |")
    return "\n".join(lines)


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI keeps included routers nested
            yield from _routes(route.original_router.routes)


def routes_markdown() -> str:
    """Every page and API route with the operation that guards it (``any``: logged in)."""
    from remit.web import api, api_consent, api_locks, api_screening, pages, pages_locks

    lines = ["| method | path | operation |", "|---|---|---|"]
    routers = (pages.router, pages_locks.router, api.router, api_consent.router)
    for router in (*routers, api_screening.router, api_locks.router):
        for route in _routes(router.routes):
            guards = [
                str(getattr(d.dependency, "operation", ""))
                for d in route.dependencies
                if hasattr(d.dependency, "operation")
            ]
            for method in sorted(route.methods or ()):
                operation = f"`{guards[0]}`" if guards else "(open)"
                lines.append(f"| {method} | `{route.path}` | {operation} |")
    return "\n".join(lines)
