"""Every route × every role against the access matrix (generated from the app's routes).

Each guarded route carries the operation it needs; a role the matrix refuses must get 403
from the guard, a role it allows must get past the guard. Page POSTs are sent without their
CSRF token, so an allowed role is stopped one step later by the CSRF check (nothing is
written) and a refused role by the guard.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.support.trial import PASSWORD, ROLE_USER
from tests.support.web import page_login

from remit.services.access import ROLES
from remit.web.core import web_allowed

#: Routes open without a session (or ending one).
OPEN = {("GET", "/login"), ("POST", "/login"), ("POST", "/api/v1/auth/login"), ("POST", "/logout")}
#: The participant's ePRO page: no account, the link's token is the authority
#: (tests/web/test_epro_web.py checks it).
OPEN |= {("GET", "/epro/{token}"), ("POST", "/epro/{token}")}

SAMPLES = {
    "pid": "OSL-001",
    "participant_id": "OSL-001",
    "visit": "V3",
    "visit_code": "V5",
    "scale": "sds",
    "table": "assessment",
    "name": "export-20260101T000000Z-abcdef.zip",
}


def _path(template: str) -> str:
    path = template
    if "/dosing/" in path:
        path = path.replace("{visit}", "V5")

    def fill(match: re.Match[str]) -> str:
        return SAMPLES.get(match.group(1), "1")

    return re.sub(r"\{(\w+)\}", fill, path)


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, looking inside included routers (FastAPI ≥ 0.120 keeps them nested;
    Remit includes them without a prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def guarded_routes(app: FastAPI) -> Iterator[tuple[str, str, str, str]]:
    """(method, path template, operation, surface) of every route of the app."""
    for route in api_routes(app.routes):
        guards = [d.dependency for d in route.dependencies if hasattr(d.dependency, "operation")]
        for method in sorted(route.methods):
            if (method, route.path) in OPEN:
                continue
            assert len(guards) == 1, f"{method} {route.path} has no access guard"
            guard = guards[0]
            yield method, route.path, guard.operation, guard.surface  # type: ignore[attr-defined]


def test_every_route_is_guarded_by_a_known_operation(app: FastAPI) -> None:
    from remit.services.access import ACCESS
    from remit.web.core import WEB_ACCESS

    found = list(guarded_routes(app))
    assert len(found) > 40
    for method, path, operation, _ in found:
        assert operation == "any" or operation in ACCESS or operation in WEB_ACCESS, (
            f"{method} {path} is guarded by unknown operation {operation!r}"
        )


@pytest.mark.parametrize("role", ROLES)
def test_every_route_for_role(app: FastAPI, role: str) -> None:
    pages = TestClient(app, follow_redirects=False)
    assert page_login(pages, ROLE_USER[role]).status_code == 303
    api = TestClient(app, follow_redirects=False)
    token = api.post(
        "/api/v1/auth/login", json={"username": ROLE_USER[role], "password": PASSWORD}
    ).json()["token"]
    api.headers["Authorization"] = f"Bearer {token}"
    checked = 0
    routes = sorted(guarded_routes(app), key=lambda r: r[1].endswith("/logout"))
    for method, template, operation, surface in routes:
        path = _path(template)
        may = web_allowed(operation, role)
        if surface == "api":
            body = {} if method in ("POST", "PUT") else None
            response = api.request(method, path, json=body)
            if may:
                assert response.status_code != 403 or "may not" not in response.text, (
                    f"{role} refused {method} {path} ({operation}): {response.text}"
                )
                assert response.status_code < 500, f"{method} {path}: {response.text}"
            else:
                assert response.status_code == 403, f"{role} was let through {method} {path}"
                assert "may not" in response.json()["message"]
        else:
            response = pages.request(method, path, data={} if method == "POST" else None)
            if may and method == "POST":
                assert response.status_code == 403, f"{method} {path}: {response.status_code}"
                assert "security token" in response.text, (
                    f"{role} refused {method} {path} ({operation}) before the CSRF check"
                )
            elif may:
                assert response.status_code in (200, 303, 404, 422), (
                    f"{role} got {response.status_code} on {method} {path} ({operation})"
                )
            else:
                assert response.status_code == 403, f"{role} was let through {method} {path}"
                assert "may not" in response.text
        checked += 1
    assert checked == len(routes)
