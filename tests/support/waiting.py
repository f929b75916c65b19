"""Waiting for readiness: poll a condition until it holds, with a generous ceiling.

A loaded machine (two cores shared by many processes) can take far longer than usual to start
a server or a process; a test must not fail because of that. :func:`wait_until` polls instead
of sleeping a fixed time, and its ceiling (:data:`CEILING_S`, two minutes by default) is only
there so that a real hang ends with a message naming what was awaited.

>>> wait_until(lambda: 2, "two")
2
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: How long to wait for anything before calling it a hang (seconds).
CEILING_S = 120.0


class NotReadyError(AssertionError):
    """What was awaited did not happen within the ceiling."""


def wait_until(
    ready: Callable[[], T | None],
    what: str,
    *,
    ceiling_s: float = CEILING_S,
    interval_s: float = 0.05,
    alive: Callable[[], str | None] | None = None,
) -> T:
    """Call ``ready`` until it returns something other than ``None``/``False``; return that.

    ``what`` names what is awaited, for the message. ``alive`` (optional) is asked on each
    round whether the thing waited on is still running: a string it returns (say the log of a
    process that exited) ends the wait at once with that text. Raises :class:`NotReadyError` after
    ``ceiling_s`` seconds.
    """
    started = time.monotonic()
    while True:
        found = ready()
        if found is not None and found is not False:
            return found
        if alive is not None:
            death = alive()
            if death is not None:
                raise NotReadyError(f"gave up waiting for {what}: it stopped.\n{death}")
        waited = time.monotonic() - started
        if waited > ceiling_s:
            raise NotReadyError(
                f"{what} was not ready after {waited:.0f} s (ceiling {ceiling_s:.0f} s); "
                "the machine may be overloaded, or it hangs"
            )
        time.sleep(interval_s)
