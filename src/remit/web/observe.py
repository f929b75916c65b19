"""What requests arrive with, noted in the database for ``remit doctor``.

Behind a TLS proxy the server sees plain HTTP; uvicorn (``remit serve --https``, which turns on
its proxy headers) takes the scheme from the proxy's ``X-Forwarded-Proto`` when the proxy is a
trusted address. The app notes the scheme each request ended up with and the header sent
(``request_scheme``, ``forwarded_proto``), so that ``remit doctor`` can tell whether users reach
the server over HTTPS. Written when a value changes, else at most every
:data:`RECORD_EVERY_S` seconds per process: not a write per request.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import UTC, datetime

from remit.services import Engine
from remit.services.web_sessions import record_observations

_LOG = logging.getLogger(__name__)

#: Seconds between two notes of unchanged values (per process).
RECORD_EVERY_S = 300.0


class RequestObserver:
    """Notes the scheme and ``X-Forwarded-Proto`` of the requests one app serves."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.host = socket.gethostname()
        self._lock = threading.Lock()
        self._last: dict[str, str] = {}
        self._at = 0.0

    def due(self, scheme: str, forwarded_proto: str) -> dict[str, str]:
        """The values to note for a request that ended up with ``scheme`` and was sent with
        ``X-Forwarded-Proto: forwarded_proto`` (``""``: none), now (empty: nothing new to
        write)."""
        seen = {"request_scheme": scheme, "forwarded_proto": forwarded_proto or "(none)"}
        now = time.monotonic()
        with self._lock:
            if seen == self._last and now - self._at < RECORD_EVERY_S:
                return {}
            self._last, self._at = seen, now
        return seen

    def record(self, values: dict[str, str]) -> None:
        """Write ``values``; a failure is not the request's concern (the next one retries)."""
        try:
            record_observations(self.engine, values, host=self.host, now=datetime.now(UTC))
        except Exception as error:  # the database may be busy or full: the request goes on
            _LOG.warning("could not note what requests arrive with: %s", error)
            with self._lock:
                self._last = {}
