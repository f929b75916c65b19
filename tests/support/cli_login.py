"""Logging in for the CLI tests: commands that act as ``--user`` need a ``remit login`` token.

:func:`auto_cli_login` (an autouse fixture of ``tests/conftest.py``) points ``REMIT_TOKEN_FILE``
at the test's own folder and, the first time a command acts as a user with no token, logs that
user in for real — :func:`remit.services.security.cli_login` with the test password
(:data:`tests.support.trial.PASSWORD`, or a demo user's password of
:data:`remit.simulate.demo.DEMO_USERS`), the token kept in the file — before the command's own
check, which then runs unchanged. Tests of the login itself opt out with
``@pytest.mark.no_auto_login``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.trial import PASSWORD

import remit.cli.common as common
from remit.errors import PermissionDeniedError
from remit.simulate.demo import DEMO_USERS


def logging_in(original):  # type: ignore[no-untyped-def]
    """``_require_login`` that first logs ``user`` in with the test password if needed."""

    def require(engine, user):  # type: ignore[no-untyped-def]
        from remit.services import security

        if not common._Login.password_stdin and not common.stored_tokens(user):
            # the test password, or a demo user's printed one (a database made by
            # create_demo_database); neither: the command's own check refuses
            demo = DEMO_USERS.get(user)
            for password in (PASSWORD, *((demo[1],) if demo else ())):
                with contextlib.suppress(PermissionDeniedError):
                    common.save_token(user, security.cli_login(engine, user, password))
                    break
        original(engine, user)

    return require


@pytest.fixture(autouse=True)
def auto_cli_login(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("REMIT_TOKEN_FILE", str(tmp_path / "remit-tokens.json"))
    common.set_password_stdin(False)
    if request.node.get_closest_marker("no_auto_login") is None:
        monkeypatch.setattr(common, "_require_login", logging_in(common._require_login))
    yield
    common.set_password_stdin(False)
